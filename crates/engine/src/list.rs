//! A list, stored as Redis 7.0 stores every list: a quicklist, a deque of nodes that each hold a
//! run of elements packed into one contiguous buffer in the listpack entry format. Redis 7.0
//! reports `quicklist` for every list, however small (the `listpack` list encoding arrived in
//! 7.2); a short list is simply a quicklist with one small node, which is as frugal.
//!
//! Entry layout, as in listpack: a header byte that says whether an integer or a string follows
//! and how wide it is, the payload, then the entry's own length ("backlen") in 1-5 bytes written
//! so it can be read from the right, which lets a node be walked in both directions. Strings that
//! are canonical integers are stored as integers of the smallest width, so small numbers cost two
//! bytes. Node sizes are measured as Redis measures a listpack (entries plus 7 bytes of header
//! and terminator), so `list-max-listpack-size` splits nodes where Redis does.
//!
//! Costs: push and pop at either end are O(1) amortised (at worst a memmove inside one bounded
//! node); access by index walks node counts from the nearer end, then entries within one node.

use std::collections::VecDeque;

use crate::listpack::{as_int, elem_at, entry_len, entry_start_before, Encoded, LISTPACK_OVERHEAD};

/// Which end of a list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Left,
    Right,
}

/// One element as stored: an integer when its text was a canonical `i64`, otherwise bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Elem<'a> {
    Int(i64),
    Str(&'a [u8]),
}

impl Elem<'_> {
    /// The element's text.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Int(n) => n.to_string().into_bytes(),
            Elem::Str(s) => s.to_vec(),
        }
    }

    /// Appends the element's text to `out`.
    pub fn write_text(self, out: &mut Vec<u8>) {
        match self {
            Elem::Int(n) => out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
            Elem::Str(s) => out.extend_from_slice(s),
        }
    }

    /// Whether the element's text equals the needle's.
    pub fn matches(self, needle: &Needle<'_>) -> bool {
        match self {
            // A stored integer can only equal text that is that integer's canonical form.
            Elem::Int(n) => needle.int == Some(n),
            Elem::Str(s) => needle.int.is_none() && s == needle.bytes,
        }
    }
}

/// A value elements are compared against (LREM, LPOS, LINSERT's pivot), with its integer form
/// worked out once rather than per element.
pub struct Needle<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        Needle {
            bytes,
            int: as_int(bytes),
        }
    }
}

/// Node byte limits for `list-max-listpack-size` -1..-5.
const NODE_SIZE_LIMITS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// With a count limit (positive fill), a node still never grows past this many bytes.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis overestimates what an entry adds to a node by this much when deciding whether it fits.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

/// A run of elements in one buffer.
#[derive(Clone, Debug, Default)]
struct Node {
    data: Vec<u8>,
    count: usize,
}

impl Node {
    fn with(value: &[u8]) -> Node {
        Node {
            data: Encoded::new(value).to_vec(),
            count: 1,
        }
    }

    /// Appends an element, growing the buffer only by what it needs.
    fn append(&mut self, value: &[u8]) {
        let entry = Encoded::new(value);
        self.data.reserve_exact(entry.size());
        entry.write_to(&mut self.data);
        self.count += 1;
    }

    /// Gives memory back once the buffer is less than half used, so a node that shrank (pops,
    /// removals) does not keep its peak size; halving keeps this amortised O(1).
    fn shrink(&mut self) {
        if self.data.capacity() > 2 * self.data.len() + 64 {
            self.data.shrink_to_fit();
        }
    }

    /// The node's size as Redis counts a listpack's bytes.
    fn bytes(&self) -> usize {
        self.data.len() + LISTPACK_OVERHEAD
    }

    /// Byte offset of entry `index` (`count` gives the end), walking from the nearer end.
    fn offset(&self, index: usize) -> usize {
        if index <= self.count / 2 {
            let mut pos = 0;
            for _ in 0..index {
                pos += entry_len(&self.data, pos);
            }
            pos
        } else {
            let mut pos = self.data.len();
            for _ in index..self.count {
                pos = entry_start_before(&self.data, pos);
            }
            pos
        }
    }

    /// Byte range of entries `index..index + n`.
    fn span(&self, index: usize, n: usize) -> std::ops::Range<usize> {
        let start = self.offset(index);
        let mut end = start;
        for _ in 0..n {
            end += entry_len(&self.data, end);
        }
        start..end
    }

    fn insert(&mut self, index: usize, value: &[u8]) {
        let pos = self.offset(index);
        let encoded = Encoded::new(value).to_vec();
        self.data.reserve_exact(encoded.len());
        self.data.splice(pos..pos, encoded);
        self.count += 1;
    }

    fn remove(&mut self, index: usize, n: usize) {
        let span = self.span(index, n);
        self.data.drain(span);
        self.count -= n;
        self.shrink();
    }

    /// Splits off entries `index..` into a new node.
    fn split_off(&mut self, index: usize) -> Node {
        let pos = self.offset(index);
        let tail = Node {
            data: self.data[pos..].to_vec(),
            count: self.count - index,
        };
        self.data.truncate(pos);
        self.data.shrink_to_fit();
        self.count = index;
        tail
    }
}

/// A list. See the module docs.
#[derive(Clone, Debug)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// `list-max-listpack-size` when the list was created, which a list keeps, as in Redis.
    fill: i32,
}

impl Default for List {
    fn default() -> Self {
        List::new(-2)
    }
}

impl PartialEq for List {
    /// Lists are equal when their elements are, however they are split into nodes.
    fn eq(&self, other: &Self) -> bool {
        self.len == other.len && self.iter().eq(other.iter())
    }
}

impl List {
    /// An empty list whose nodes follow `list-max-listpack-size` = `fill`.
    pub fn new(fill: i64) -> List {
        List {
            nodes: VecDeque::new(),
            len: 0,
            fill: fill.clamp(i32::MIN as i64, i32::MAX as i64) as i32,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// OBJECT ENCODING: Redis 7.0 reports every list as a quicklist.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// `list-max-listpack-size` as the list keeps it (DEBUG OBJECT's `ql_listpack_max`).
    pub fn fill(&self) -> i64 {
        self.fill as i64
    }

    /// Each node's size as Redis measures its listpack (DEBUG OBJECT's quicklist figures).
    pub fn node_sizes(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes.iter().map(Node::bytes)
    }

    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(|n| n.data.capacity()).sum::<usize>()
    }

    /// The node byte limit of negative fills -1..-5. Other fills limit entries per node (and
    /// below -5, as in Redis, every element gets a node of its own).
    fn size_limit(&self) -> Option<usize> {
        if self.fill >= 0 {
            return None;
        }
        NODE_SIZE_LIMITS
            .get((-(self.fill as i64) - 1) as usize)
            .copied()
    }

    /// Whether a node of `bytes` bytes and `count` entries is within the fill limits.
    fn fits(&self, bytes: usize, count: usize) -> bool {
        match self.size_limit() {
            Some(limit) => bytes <= limit,
            None => bytes <= SIZE_SAFETY_LIMIT && count as i64 <= self.fill as i64,
        }
    }

    /// Whether `node` may take one more element of `size` bytes (as Redis decides it: the
    /// element's length plus an estimate of the entry overhead).
    fn allows_insert(&self, node: &Node, size: usize) -> bool {
        self.fits(node.bytes() + size + SIZE_ESTIMATE_OVERHEAD, node.count + 1)
    }

    /// Adds `value` at `end`.
    pub fn push(&mut self, end: End, value: &[u8]) {
        let node = match end {
            End::Left => self.nodes.front(),
            End::Right => self.nodes.back(),
        };
        match node {
            Some(node) if self.allows_insert(node, value.len()) => match end {
                End::Left => self.nodes[0].insert(0, value),
                End::Right => self.nodes.back_mut().expect("checked above").append(value),
            },
            _ => {
                // Most lists are small: room for exactly one node, rather than VecDeque's
                // default of four, until a second is needed.
                if self.nodes.capacity() == 0 {
                    self.nodes.reserve_exact(1);
                }
                match end {
                    End::Left => self.nodes.push_front(Node::with(value)),
                    End::Right => self.nodes.push_back(Node::with(value)),
                }
            }
        }
        self.len += 1;
    }

    /// Removes and returns the element at `end`.
    pub fn pop(&mut self, end: End) -> Option<Vec<u8>> {
        let (i, index) = match end {
            _ if self.is_empty() => return None,
            End::Left => (0, 0),
            End::Right => (
                self.nodes.len() - 1,
                self.nodes[self.nodes.len() - 1].count - 1,
            ),
        };
        let value = self.get_in(i, index).to_vec();
        // No merging at the ends: the end node just shrinks until it empties, as in Redis.
        self.remove_entries(i, index, 1);
        Some(value)
    }

    /// The node holding element `index`, and the element's index within it. Walks node counts
    /// from the nearer end of the list.
    fn locate(&self, index: usize) -> (usize, usize) {
        debug_assert!(index < self.len);
        if index < self.len / 2 {
            let mut rest = index;
            for (i, node) in self.nodes.iter().enumerate() {
                if rest < node.count {
                    return (i, rest);
                }
                rest -= node.count;
            }
        } else {
            let mut after = self.len - index;
            for (i, node) in self.nodes.iter().enumerate().rev() {
                if after <= node.count {
                    return (i, node.count - after);
                }
                after -= node.count;
            }
        }
        unreachable!("index {index} within length {}", self.len)
    }

    fn get_in(&self, node: usize, index: usize) -> Elem<'_> {
        let node = &self.nodes[node];
        elem_at(&node.data, node.offset(index))
    }

    /// The element at `index` from the left.
    pub fn get(&self, index: usize) -> Option<Elem<'_>> {
        (index < self.len).then(|| {
            let (node, i) = self.locate(index);
            self.get_in(node, i)
        })
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: usize, value: &[u8]) -> bool {
        if index >= self.len {
            return false;
        }
        let (node, i) = self.locate(index);
        self.nodes[node].remove(i, 1);
        self.nodes[node].insert(i, value);
        self.split_if_oversized(node);
        true
    }

    /// Inserts `value` so that it becomes element `index` (`len` appends).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        if index == 0 || index == self.len {
            let end = if index == 0 { End::Left } else { End::Right };
            return self.push(end, value);
        }
        let (node, i) = self.locate(index);
        self.nodes[node].insert(i, value);
        self.len += 1;
        self.split_if_oversized(node);
    }

    /// Halves node `i` (repeatedly) while it exceeds the fill limits, after it grew in place.
    fn split_if_oversized(&mut self, i: usize) {
        let (bytes, count) = (self.nodes[i].bytes(), self.nodes[i].count);
        if count <= 1 || self.fits(bytes, count) {
            return;
        }
        let tail = self.nodes[i].split_off(count / 2);
        self.nodes.insert(i + 1, tail);
        self.split_if_oversized(i + 1);
        self.split_if_oversized(i);
    }

    /// Removes `n` elements of node `i` from its element `index` on, dropping the node if that
    /// empties it.
    fn remove_entries(&mut self, i: usize, index: usize, n: usize) {
        self.len -= n;
        if n == self.nodes[i].count {
            self.nodes.remove(i);
        } else {
            self.nodes[i].remove(index, n);
        }
    }

    /// Merges node `i + 1` into node `i` when the result is within the limits.
    fn merge_if_fits(&mut self, i: usize) {
        let (Some(a), Some(b)) = (self.nodes.get(i), self.nodes.get(i + 1)) else {
            return;
        };
        if !self.fits(a.bytes() + b.data.len(), a.count + b.count) {
            return;
        }
        let b = self.nodes.remove(i + 1).expect("checked above");
        let a = &mut self.nodes[i];
        a.data.reserve_exact(b.data.len());
        a.data.extend_from_slice(&b.data);
        a.count += b.count;
    }

    /// Removes elements `start..start + n` (clamped to the list): whole nodes are dropped in one
    /// go, partial ones edited, and the nodes left on either side of the gap merged if they fit.
    pub fn remove_range(&mut self, start: usize, n: usize) {
        let mut n = n.min(self.len.saturating_sub(start));
        if n == 0 {
            return;
        }
        let (mut first, index) = self.locate(start);
        if index > 0 {
            let take = n.min(self.nodes[first].count - index);
            self.remove_entries(first, index, take);
            n -= take;
            first += 1;
        }
        let mut last = first;
        while last < self.nodes.len() && self.nodes[last].count <= n {
            n -= self.nodes[last].count;
            self.len -= self.nodes[last].count;
            last += 1;
        }
        self.nodes.drain(first..last);
        if n > 0 {
            self.remove_entries(first, 0, n);
        }
        self.merge_if_fits(first);
        if first > 0 {
            self.merge_if_fits(first - 1);
        }
    }

    /// Keeps only elements `start..=stop` (both within the list, start <= stop).
    pub fn trim(&mut self, start: usize, stop: usize) {
        self.remove_range(stop + 1, self.len);
        self.remove_range(0, start);
    }

    /// Removes up to `limit` elements equal to `needle` (0 = all), scanning from `from`.
    /// Returns how many were removed.
    pub fn remove_matching(&mut self, needle: &Needle<'_>, limit: usize, from: End) -> usize {
        let mut removed = 0;
        let order: Vec<usize> = match from {
            End::Left => (0..self.nodes.len()).collect(),
            End::Right => (0..self.nodes.len()).rev().collect(),
        };
        for i in order {
            if limit != 0 && removed == limit {
                break;
            }
            let node = &mut self.nodes[i];
            let mut spans = Vec::new();
            let mut pos = 0;
            while pos < node.data.len() {
                let len = entry_len(&node.data, pos);
                if elem_at(&node.data, pos).matches(needle) {
                    spans.push(pos..pos + len);
                }
                pos += len;
            }
            if limit != 0 {
                let room = limit - removed;
                if spans.len() > room {
                    // Keep the matches nearest the end the scan starts from.
                    match from {
                        End::Left => spans.truncate(room),
                        End::Right => {
                            spans.drain(..spans.len() - room);
                        }
                    }
                }
            }
            if spans.is_empty() {
                continue;
            }
            let mut kept = Vec::with_capacity(node.data.len());
            let mut last = 0;
            for span in &spans {
                kept.extend_from_slice(&node.data[last..span.start]);
                last = span.end;
            }
            kept.extend_from_slice(&node.data[last..]);
            node.data = kept;
            node.shrink();
            node.count -= spans.len();
            removed += spans.len();
        }
        self.len -= removed;
        if removed > 0 {
            self.nodes.retain(|n| n.count > 0);
            let mut i = 0;
            while i + 1 < self.nodes.len() {
                let before = self.nodes.len();
                self.merge_if_fits(i);
                if self.nodes.len() == before {
                    i += 1;
                }
            }
        }
        removed
    }

    /// The elements from the left.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from index `start` rightwards.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        let (node, pos) = if start < self.len {
            let (node, index) = self.locate(start);
            (node, self.nodes[node].offset(index))
        } else {
            (self.nodes.len(), 0)
        };
        Iter {
            list: self,
            node,
            pos,
        }
    }

    /// The elements from index `start` leftwards.
    pub fn iter_rev_from(&self, start: usize) -> RevIter<'_> {
        let (node, end) = if start < self.len {
            let (node, index) = self.locate(start);
            let data = &self.nodes[node].data;
            let pos = self.nodes[node].offset(index);
            (node + 1, pos + entry_len(data, pos))
        } else {
            (0, 0)
        };
        RevIter {
            list: self,
            node,
            end,
        }
    }

    /// The elements from the right.
    pub fn iter_rev(&self) -> RevIter<'_> {
        self.iter_rev_from(self.len.saturating_sub(1))
    }

    /// Builds a list of `values`, left to right (for commands that store a whole list at once).
    pub fn from_values<'v>(fill: i64, values: impl IntoIterator<Item = &'v [u8]>) -> List {
        let mut list = List::new(fill);
        for v in values {
            list.push(End::Right, v);
        }
        list
    }
}

/// Left-to-right iterator; see [`List::iter_from`].
pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        let mut node = self.list.nodes.get(self.node)?;
        if self.pos == node.data.len() {
            self.node += 1;
            self.pos = 0;
            node = self.list.nodes.get(self.node)?;
        }
        let elem = elem_at(&node.data, self.pos);
        self.pos += entry_len(&node.data, self.pos);
        Some(elem)
    }
}

/// Right-to-left iterator; see [`List::iter_rev_from`]. `node` is one past the current node.
pub struct RevIter<'a> {
    list: &'a List,
    node: usize,
    end: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.end == 0 {
            self.node = self.node.checked_sub(1)?;
            self.end = self.list.nodes.get(self.node.checked_sub(1)?)?.data.len();
        }
        let data = &self.list.nodes[self.node - 1].data;
        self.end = entry_start_before(data, self.end);
        Some(elem_at(data, self.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn texts(list: &List) -> Vec<Vec<u8>> {
        list.iter().map(Elem::to_vec).collect()
    }

    /// Checks the bookkeeping: counts add up, no empty nodes, nodes within limits.
    fn check(list: &List) {
        let total: usize = list.nodes.iter().map(|n| n.count).sum();
        assert_eq!(total, list.len);
        for node in &list.nodes {
            assert!(node.count > 0);
            let mut pos = 0;
            let mut n = 0;
            while pos < node.data.len() {
                pos += entry_len(&node.data, pos);
                n += 1;
            }
            assert_eq!((pos, n), (node.data.len(), node.count));
            assert!(node.count == 1 || list.fits(node.bytes(), node.count));
        }
        let rev: Vec<Vec<u8>> = list.iter_rev().map(Elem::to_vec).collect();
        let mut fwd = texts(list);
        fwd.reverse();
        assert_eq!(rev, fwd);
    }

    #[test]
    fn entries_round_trip_with_listpack_sizes() {
        let cases: &[(&[u8], usize)] = &[
            (b"0", 2),
            (b"127", 2),
            (b"128", 3),
            (b"-1", 3),
            (b"-4096", 3),
            (b"4095", 3),
            (b"4096", 4),
            (b"-32768", 4),
            (b"32768", 5),
            (b"-8388608", 5),
            (b"8388608", 6),
            (b"2147483647", 6),
            (b"2147483648", 10),
            (b"-9223372036854775808", 10),
            (b"9223372036854775807", 10),
            (b"", 2),
            (b"007", 5),
            (b"-0", 4),
            (b"+1", 4),
            (b"abc", 5),
            (&[b'x'; 63], 65),
            (&[b'x'; 64], 67),
            (&[b'x'; 125], 128),
            (&[b'x'; 126], 130),
            (&[b'x'; 4095], 4099),
            (&[b'x'; 4096], 4103),
        ];
        for (value, size) in cases {
            let out = Encoded::new(value).to_vec();
            assert_eq!(Encoded::new(value).size(), *size);
            assert_eq!(
                out.len(),
                *size,
                "size of {:?}",
                String::from_utf8_lossy(value)
            );
            assert_eq!(entry_len(&out, 0), out.len());
            assert_eq!(entry_start_before(&out, out.len()), 0);
            assert_eq!(elem_at(&out, 0).to_vec(), *value);
        }
        let big = vec![b'y'; 300_000];
        let out = Encoded::new(&big).to_vec();
        assert_eq!(entry_start_before(&out, out.len()), 0);
        assert_eq!(elem_at(&out, 0).to_vec(), big);
    }

    #[test]
    fn needles_match_by_text() {
        let mut list = List::default();
        for v in ["1", "01", "a", "-5", "1"] {
            list.push(End::Right, v.as_bytes());
        }
        let count = |s: &str| {
            list.iter()
                .filter(|e| e.matches(&Needle::new(s.as_bytes())))
                .count()
        };
        assert_eq!(
            (count("1"), count("01"), count("a"), count("-5"), count("b")),
            (2, 1, 1, 1, 0)
        );
    }

    #[test]
    fn nodes_split_at_the_fill_limits() {
        // 4 entries per node.
        let list = List::from_values(4, (0..10).map(|_| &b"a"[..]));
        assert_eq!(
            list.nodes.iter().map(|n| n.count).collect::<Vec<_>>(),
            [4, 4, 2]
        );
        // -2: 8 KiB per node; small integers take 2 bytes each.
        let list = List::from_values(-2, (0..10_000).map(|_| &b"1"[..]));
        assert!(list.nodes.len() > 2 && list.nodes.iter().all(|n| n.bytes() <= 8192));
        // A value bigger than the limit gets a node of its own.
        let big = vec![b'x'; 10_000];
        let list = List::from_values(-1, [&b"a"[..], &big, b"b"]);
        assert_eq!(list.nodes.len(), 3);
        // Positive fills are still capped at 8 KiB per node.
        let v = vec![b'x'; 3000];
        let list = List::from_values(100, (0..5).map(|_| &v[..]));
        assert_eq!(
            list.nodes.iter().map(|n| n.count).collect::<Vec<_>>(),
            [2, 2, 1]
        );
        check(&list);
    }

    /// Random operations against a VecDeque model, for several fills.
    #[test]
    fn random_operations_match_a_model() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for fill in [1, 2, 3, 5, 0, -1, -2, -5, -7] {
            let mut list = List::new(fill);
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..3000 {
                let value: Vec<u8> = match rng.gen_range(0..4) {
                    0 => rng.gen_range(-10..10i64).to_string().into_bytes(),
                    1 => rng.gen_range(i64::MIN..i64::MAX).to_string().into_bytes(),
                    2 => vec![b'a' + rng.gen_range(0..3u8); rng.gen_range(0..5)],
                    _ => vec![b'z'; rng.gen_range(0..3000)],
                };
                let index = if model.is_empty() {
                    0
                } else {
                    rng.gen_range(0..model.len())
                };
                match rng.gen_range(0..10) {
                    0 | 1 => {
                        list.push(End::Left, &value);
                        model.push_front(value);
                    }
                    2 | 3 => {
                        list.push(End::Right, &value);
                        model.push_back(value);
                    }
                    4 => assert_eq!(list.pop(End::Left), model.pop_front()),
                    5 => assert_eq!(list.pop(End::Right), model.pop_back()),
                    6 => {
                        let at = rng.gen_range(0..=model.len());
                        list.insert(at, &value);
                        model.insert(at, value);
                    }
                    7 if !model.is_empty() => {
                        assert!(list.set(index, &value));
                        model[index] = value;
                    }
                    8 => {
                        let n = rng.gen_range(0..4);
                        list.remove_range(index, n);
                        for _ in 0..n.min(model.len().saturating_sub(index)) {
                            model.remove(index);
                        }
                    }
                    _ => {
                        let needle = model.get(index).cloned().unwrap_or_default();
                        let limit = rng.gen_range(0..3);
                        let from = if rng.gen_bool(0.5) {
                            End::Left
                        } else {
                            End::Right
                        };
                        let removed = list.remove_matching(&Needle::new(&needle), limit, from);
                        let mut positions: Vec<usize> =
                            (0..model.len()).filter(|&i| model[i] == needle).collect();
                        if from == End::Right {
                            positions.reverse();
                        }
                        if limit != 0 {
                            positions.truncate(limit);
                        }
                        positions.sort_unstable();
                        for &i in positions.iter().rev() {
                            model.remove(i);
                        }
                        assert_eq!(removed, positions.len());
                    }
                }
                assert_eq!(list.len(), model.len());
                if step % 50 == 0 || fill == -7 {
                    check(&list);
                    assert_eq!(texts(&list), Vec::from(model.clone()), "fill {fill}");
                    if !model.is_empty() {
                        let i = rng.gen_range(0..model.len());
                        assert_eq!(list.get(i).unwrap().to_vec(), model[i]);
                        let fwd: Vec<_> = list.iter_from(i).map(Elem::to_vec).collect();
                        assert_eq!(fwd, model.range(i..).cloned().collect::<Vec<_>>());
                        let back: Vec<_> = list.iter_rev_from(i).map(Elem::to_vec).collect();
                        assert_eq!(back, model.range(..=i).rev().cloned().collect::<Vec<_>>());
                    }
                }
            }
        }
    }

    #[test]
    fn trim_and_equality_ignore_node_layout() {
        let values: Vec<Vec<u8>> = (0..1000).map(|i| i.to_string().into_bytes()).collect();
        let mut a = List::from_values(4, values.iter().map(|v| &v[..]));
        let b = List::from_values(-5, values[100..=900].iter().map(|v| &v[..]));
        assert!(a != b);
        a.trim(100, 900);
        check(&a);
        assert!(a == b);
        assert_eq!(a.clone(), b);
        a.trim(0, 0);
        assert_eq!(texts(&a), [b"100".to_vec()]);
    }
}
