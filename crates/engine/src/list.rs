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
//!
//! Compression (`list-compress-depth` N > 0, kept by each list from its creation, as in Redis):
//! every node but the N at each end holds its entries LZF-compressed, when the node is at least
//! 48 bytes and compression saves at least 8. Reading an inner node decompresses a copy; a node
//! edited in the middle is decompressed for the edit and compressed again afterwards.
//!
//! Plain nodes (Redis 7.0's): an element at least as long as the packed threshold (1 GB unless
//! DEBUG QUICKLIST-PACKED-THRESHOLD says otherwise) gets a node of its own that nothing else
//! ever joins: no push or insert adds to it, and it is measured, compressed and saved
//! as the bare element. It still holds its element in the entry format, so every walk over a
//! node's entries reads it like any other node.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use crate::listpack::{as_int, elem_at, entry_len, entry_start_before, Encoded, LISTPACK_OVERHEAD};
use crate::lzf;

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

    /// Whether the element's text equals the needle's.
    pub fn matches(self, needle: &Needle<'_>) -> bool {
        match self {
            // A stored integer can only equal text that is that integer's canonical form.
            Elem::Int(n) => needle.int == Some(n),
            Elem::Str(s) => needle.int.is_none() && s == needle.bytes,
        }
    }
}

/// An element read from a list: borrowed from a node's entries, or copied out of a compressed
/// node's decompressed entries (which do not outlive the read).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Int(i64),
    Str(Cow<'a, [u8]>),
}

impl<'a> From<Elem<'a>> for Item<'a> {
    fn from(elem: Elem<'a>) -> Self {
        match elem {
            Elem::Int(n) => Item::Int(n),
            Elem::Str(s) => Item::Str(Cow::Borrowed(s)),
        }
    }
}

impl<'a> Item<'a> {
    /// The element as stored, borrowed from this item.
    pub fn elem(&self) -> Elem<'_> {
        match self {
            Item::Int(n) => Elem::Int(*n),
            Item::Str(s) => Elem::Str(s),
        }
    }

    /// The element at `pos` of `entries`, borrowed when the entries are, copied otherwise.
    fn at(entries: &Cow<'a, [u8]>, pos: usize) -> Item<'a> {
        match entries {
            Cow::Borrowed(data) => Item::from(elem_at(data, pos)),
            Cow::Owned(data) => match elem_at(data, pos) {
                Elem::Int(n) => Item::Int(n),
                Elem::Str(s) => Item::Str(Cow::Owned(s.to_vec())),
            },
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.elem().to_vec()
    }

    pub fn matches(&self, needle: &Needle<'_>) -> bool {
        self.elem().matches(needle)
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

/// Redis's default packed threshold: elements of 1 GB and more get plain nodes.
const DEFAULT_PACKED_THRESHOLD: usize = 1 << 30;
/// The highest packed threshold Redis accepts: 4 GB less 1 MB.
const MAX_PACKED_THRESHOLD: u64 = (1 << 32) - (1 << 20);

/// The packed threshold, process-wide as Redis's is: it applies to every list's next insert.
static PACKED_THRESHOLD: AtomicUsize = AtomicUsize::new(DEFAULT_PACKED_THRESHOLD);

/// DEBUG QUICKLIST-PACKED-THRESHOLD: sets the length from which new elements get plain nodes
/// (0 restores the default); false, changing nothing, above 4 GB less 1 MB.
pub fn set_packed_threshold(bytes: u64) -> bool {
    if bytes > MAX_PACKED_THRESHOLD {
        return false;
    }
    let bytes = match bytes {
        0 => DEFAULT_PACKED_THRESHOLD,
        n => n as usize,
    };
    PACKED_THRESHOLD.store(bytes, Relaxed);
    true
}

/// What holds a node's elements, as Redis's quicklist says (and its RDB writes, 1 and 2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    /// One element alone.
    Plain,
    /// A run of elements packed as a listpack.
    Packed,
}

impl Container {
    /// Where a new element of `len` bytes goes under the current packed threshold.
    pub fn for_len(len: usize) -> Container {
        Container::by_threshold(len, PACKED_THRESHOLD.load(Relaxed))
    }

    fn by_threshold(len: usize, threshold: usize) -> Container {
        if len >= threshold {
            Container::Plain
        } else {
            Container::Packed
        }
    }
}

/// Node byte limits for `list-max-listpack-size` -1..-5.
const NODE_SIZE_LIMITS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// With a count limit (positive fill), a node still never grows past this many bytes.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Redis overestimates what an entry adds to a node by this much when deciding whether it fits.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;
/// Redis leaves nodes smaller than this uncompressed: too little to gain.
const MIN_COMPRESS_BYTES: usize = 48;
/// ... and keeps a compressed node only when compression saves at least this many bytes.
const MIN_COMPRESS_IMPROVE: usize = 8;

/// `data` LZF-compressed, when Redis would hold a node of `node_bytes` bytes (as a listpack)
/// with these contents compressed: a node of at least 48 bytes, shrinking by at least 8. The
/// RDB writer applies the same rule to the listpacks it writes.
pub fn compress_node_data(data: &[u8], node_bytes: usize) -> Option<Vec<u8>> {
    if node_bytes < MIN_COMPRESS_BYTES {
        return None;
    }
    let mut packed = lzf::compress(data);
    if packed.len() + MIN_COMPRESS_IMPROVE > data.len() {
        return None;
    }
    packed.shrink_to_fit();
    Some(packed)
}

/// A run of elements in one buffer.
#[derive(Clone, Debug, Default)]
struct Node {
    /// The entries, LZF-compressed while `raw_len` is set.
    data: Vec<u8>,
    count: usize,
    /// The entries' uncompressed length, while `data` holds them compressed.
    raw_len: Option<NonZeroUsize>,
    /// For a plain node, the length of its one element: Redis's measure of the node.
    plain_len: Option<usize>,
}

impl Node {
    fn with(value: &[u8], container: Container) -> Node {
        Node {
            data: Encoded::new(value).to_vec(),
            count: 1,
            raw_len: None,
            plain_len: (container == Container::Plain).then_some(value.len()),
        }
    }

    fn container(&self) -> Container {
        match self.plain_len {
            Some(_) => Container::Plain,
            None => Container::Packed,
        }
    }

    /// The entries, decompressed into a copy when the node is compressed.
    fn entries(&self) -> Cow<'_, [u8]> {
        match self.raw_len {
            None => Cow::Borrowed(&self.data),
            Some(len) => Cow::Owned(
                lzf::decompress(&self.data, len.get()).expect("a node's own compressed entries"),
            ),
        }
    }

    /// Makes the entries plain for an edit.
    fn decompress(&mut self) {
        if self.raw_len.is_some() {
            self.data = self.entries().into_owned();
            self.raw_len = None;
        }
    }

    /// Compresses the entries when Redis would (see [`compress_node_data`]).
    fn compress(&mut self) {
        if self.raw_len.is_some() {
            return;
        }
        if let Some(packed) = compress_node_data(&self.data, self.bytes()) {
            self.raw_len = NonZeroUsize::new(self.data.len());
            self.data = packed;
        }
    }

    /// Appends an element.
    fn append(&mut self, value: &[u8]) {
        let entry = Encoded::new(value);
        self.reserve(entry.size());
        entry.write_to(&mut self.data);
        self.count += 1;
    }

    /// Makes room for `extra` more bytes of entries. The buffer grows to the allocator's size
    /// class of what it needs ([`allocation_class`]), which is what the allocator reserves for
    /// it anyway: no more memory than growing it exactly, but one reallocation every few
    /// dozen small elements instead of one per element (an LPUSH spent some 400 instructions
    /// in jemalloc's in-place realloc).
    fn reserve(&mut self, extra: usize) {
        let needed = self.data.len() + extra;
        if needed > self.data.capacity() {
            self.data
                .reserve_exact(allocation_class(needed) - self.data.len());
        }
    }

    /// Gives memory back once the buffer is less than half used, so a node that shrank (pops,
    /// removals) does not keep its peak size; halving keeps this amortised O(1).
    fn shrink(&mut self) {
        if self.data.capacity() > 2 * self.data.len() + 64 {
            self.data.shrink_to_fit();
        }
    }

    /// The node's size as Redis counts it (uncompressed): a listpack's bytes, or a plain node's
    /// element.
    fn bytes(&self) -> usize {
        match self.plain_len {
            Some(len) => len,
            None => self.raw_len.map_or(self.data.len(), NonZeroUsize::get) + LISTPACK_OVERHEAD,
        }
    }

    /// Byte offset of entry `index` (`count` gives the end) of a plain node.
    fn offset(&self, index: usize) -> usize {
        offset_in(&self.data, self.count, index)
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

    /// Inserts an element before entry `index`: the entries after it move up by its size and
    /// it is written into the gap (a `splice` of an encoded copy cost an allocation and a
    /// byte-by-byte fill).
    fn insert(&mut self, index: usize, value: &[u8]) {
        let pos = self.offset(index);
        let entry = Encoded::new(value);
        let size = entry.size();
        self.reserve(size);
        let end = self.data.len();
        self.data.resize(end + size, 0);
        self.data.copy_within(pos..end, pos + size);
        entry.write_into(&mut self.data[pos..pos + size]);
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
            raw_len: None,
            plain_len: None,
        };
        self.data.truncate(pos);
        self.data.shrink_to_fit();
        self.count = index;
        tail
    }
}

/// One node as DEBUG QUICKLIST describes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeShape {
    pub container: Container,
    /// Whether it is held LZF-compressed now.
    pub compressed: bool,
    /// Its size as Redis counts it, uncompressed: a listpack's bytes, a plain element's length.
    pub bytes: usize,
    pub count: usize,
}

/// A list. See the module docs.
#[derive(Clone, Debug)]
pub struct List {
    nodes: VecDeque<Node>,
    len: usize,
    /// `list-max-listpack-size` when the list was created, which a list keeps, as in Redis.
    fill: i32,
    /// `list-compress-depth`, kept likewise: how many nodes at each end stay uncompressed
    /// (0 = none is compressed).
    depth: u32,
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
            depth: 0,
        }
    }

    /// An empty list that follows the current `list-max-listpack-size` and
    /// `list-compress-depth`, as Redis creates every list.
    pub fn with_limits(limits: &crate::EncodingLimits) -> List {
        List::new(limits.list_max_listpack_size).with_compress_depth(limits.list_compress_depth)
    }

    /// The list with its inner nodes compressed per `list-compress-depth` = `depth` from now
    /// on (lists take the setting when they are created).
    pub fn with_compress_depth(mut self, depth: i64) -> List {
        self.depth = depth.clamp(0, u32::MAX as i64) as u32;
        self.settle(0..self.nodes.len(), 0);
        self
    }

    /// `list-compress-depth` as the list keeps it.
    pub fn compress_depth(&self) -> i64 {
        self.depth as i64
    }

    /// Whether node `i`, of `nodes`, stays plain under `list-compress-depth` = `depth`: always
    /// at depth 0, else within `depth` nodes of either end.
    pub fn node_stays_plain(i: usize, nodes: usize, depth: i64) -> bool {
        let depth = depth.max(0) as usize;
        depth == 0 || i < depth || i + depth >= nodes
    }

    /// Restores the compression rule after an edit: nodes within `depth` of an end plain, the
    /// others compressed. Checks the `touched` nodes, and when nodes were added or removed
    /// (which moves others relative to the ends by up to `shift` places: nodes added, or 1
    /// for removals) the nodes that may have crossed the edges of the end windows too; every
    /// other node kept its place and state.
    fn settle(&mut self, touched: std::ops::Range<usize>, shift: usize) {
        if self.depth == 0 {
            return;
        }
        let n = self.nodes.len();
        let window = (self.depth as usize + shift).min(n);
        let ends = if shift > 0 {
            (0..window).chain(n - window..n)
        } else {
            (0..0).chain(0..0)
        };
        for i in ends.chain(touched.start.min(n)..touched.end.min(n)) {
            if List::node_stays_plain(i, n, self.depth as i64) {
                self.nodes[i].decompress();
            } else {
                self.nodes[i].compress();
            }
        }
    }

    /// Node `i`, made plain for an edit.
    fn node_mut(&mut self, i: usize) -> &mut Node {
        let node = &mut self.nodes[i];
        node.decompress();
        node
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

    /// Each node's shape, left to right (DEBUG OBJECT's and DEBUG QUICKLIST's figures, the
    /// RDB writer's containers).
    pub fn node_shapes(&self) -> impl Iterator<Item = NodeShape> + '_ {
        self.nodes.iter().map(|node| NodeShape {
            container: node.container(),
            compressed: node.raw_len.is_some(),
            bytes: node.bytes(),
            count: node.count,
        })
    }

    /// Bytes held, compressed nodes counted at their compressed size.
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
    /// A plain node takes nothing more.
    fn allows_insert(&self, node: &Node, size: usize) -> bool {
        node.plain_len.is_none()
            && self.fits(node.bytes() + size + SIZE_ESTIMATE_OVERHEAD, node.count + 1)
    }

    /// Adds `value` at `end`.
    pub fn push(&mut self, end: End, value: &[u8]) {
        self.push_as(end, value, Container::for_len(value.len()));
    }

    /// Adds `value` at `end`, as a plain node of its own or into a packed node (the end node
    /// when it has room). RDB loading keeps the containers the file says.
    pub fn push_as(&mut self, end: End, value: &[u8], container: Container) {
        let node = match end {
            End::Left => self.nodes.front(),
            End::Right => self.nodes.back(),
        };
        match node {
            Some(node)
                if container == Container::Packed && self.allows_insert(node, value.len()) =>
            {
                let last = self.nodes.len() - 1;
                match end {
                    End::Left => self.node_mut(0).insert(0, value),
                    End::Right => self.node_mut(last).append(value),
                }
                // With depth 0 nothing is compressed; otherwise an end node stays plain.
            }
            _ => {
                // Most lists are small: room for exactly one node, rather than VecDeque's
                // default of four, until a second is needed.
                if self.nodes.capacity() == 0 {
                    self.nodes.reserve_exact(1);
                }
                match end {
                    End::Left => self.nodes.push_front(Node::with(value, container)),
                    End::Right => self.nodes.push_back(Node::with(value, container)),
                }
                self.settle(0..0, 1);
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

    fn get_in(&self, node: usize, index: usize) -> Item<'_> {
        let entries = self.nodes[node].entries();
        let pos = offset_in(&entries, self.nodes[node].count, index);
        Item::at(&entries, pos)
    }

    /// The element at `index` from the left.
    pub fn get(&self, index: usize) -> Option<Item<'_>> {
        (index < self.len).then(|| {
            let (node, i) = self.locate(index);
            self.get_in(node, i)
        })
    }

    /// Replaces the element at `index`; false when out of range.
    pub fn set(&mut self, index: usize, value: &[u8]) -> bool {
        self.set_as(index, value, Container::for_len(value.len()))
    }

    /// [`List::set`] with the new element's container decided. The node changes as Redis's
    /// does: a plain element replaced by a small one moves into the next node's head when that
    /// has room, else becomes a packed node of its own; a packed element replaced by a large
    /// one leaves its node (split around it) for a plain node.
    fn set_as(&mut self, index: usize, value: &[u8], container: Container) -> bool {
        if index >= self.len {
            return false;
        }
        let (node, i) = self.locate(index);
        match (self.nodes[node].container(), container) {
            (Container::Packed, Container::Packed) => {
                self.node_mut(node).remove(i, 1);
                self.nodes[node].insert(i, value);
                self.split_and_settle(node);
            }
            (Container::Plain, Container::Packed)
                if self
                    .nodes
                    .get(node + 1)
                    .is_some_and(|next| self.allows_insert(next, value.len())) =>
            {
                self.nodes.remove(node);
                self.node_mut(node).insert(0, value);
                self.settle(node..node + 1, 1);
            }
            (Container::Plain, _) => {
                self.nodes[node] = Node::with(value, container);
                self.settle(node..node + 1, 0);
            }
            (Container::Packed, Container::Plain) if self.nodes[node].count == 1 => {
                self.nodes[node] = Node::with(value, container);
                self.settle(node..node + 1, 0);
            }
            (Container::Packed, Container::Plain) => {
                let (count, before) = (self.nodes[node].count, self.nodes.len());
                self.node_mut(node).remove(i, 1);
                let at = match i {
                    0 => node,
                    _ if i == count - 1 => node + 1,
                    _ => self.split_node(node, i),
                };
                self.nodes.insert(at, Node::with(value, container));
                self.settle(node..at + 2, self.nodes.len() - before);
            }
        }
        true
    }

    /// Inserts `value` so that it becomes element `index` (`len` appends).
    pub fn insert(&mut self, index: usize, value: &[u8]) {
        self.insert_as(index, value, Container::for_len(value.len()));
    }

    /// [`List::insert`] with the new element's container decided. A plain node goes between
    /// two nodes, splitting the node the index falls inside; a small element at a boundary
    /// goes into the node on the right when it has room, else the one on the left, else (next
    /// to a plain node) into a node of its own.
    fn insert_as(&mut self, index: usize, value: &[u8], container: Container) {
        if index == 0 || index == self.len {
            let end = if index == 0 { End::Left } else { End::Right };
            return self.push_as(end, value, container);
        }
        let (node, i) = self.locate(index);
        self.len += 1;
        let before = self.nodes.len();
        let at = match container {
            Container::Plain if i == 0 => node,
            Container::Plain => self.split_node(node, i),
            Container::Packed => {
                let boundary_full = i == 0 && !self.allows_insert(&self.nodes[node], value.len());
                if boundary_full && self.allows_insert(&self.nodes[node - 1], value.len()) {
                    self.node_mut(node - 1).append(value);
                    self.settle(node - 1..node, 0);
                    return;
                }
                if !(boundary_full && self.nodes[node].plain_len.is_some()) {
                    self.node_mut(node).insert(i, value);
                    return self.split_and_settle(node);
                }
                node
            }
        };
        self.nodes.insert(at, Node::with(value, container));
        self.settle(at.saturating_sub(1)..at + 2, self.nodes.len() - before);
    }

    /// Splits packed node `i` before its element `index` (inside it); returns where the second
    /// part went.
    fn split_node(&mut self, i: usize, index: usize) -> usize {
        let tail = self.node_mut(i).split_off(index);
        self.nodes.insert(i + 1, tail);
        i + 1
    }

    /// After node `i` was edited: splits it if it outgrew the limits, then compresses what
    /// the edit left plain in the middle.
    fn split_and_settle(&mut self, i: usize) {
        let before = self.nodes.len();
        self.split_if_oversized(i);
        let added = self.nodes.len() - before;
        self.settle(i..i + added + 1, added);
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
            self.settle(0..0, 1);
        } else {
            self.node_mut(i).remove(index, n);
            self.settle(i..i + 1, 0);
        }
    }

    /// Removes elements `start..start + n` (clamped to the list): whole nodes are dropped in one
    /// go, partial ones edited. As in Redis, the nodes left on either side of the gap stay
    /// apart, even where they would fit in one.
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
        self.settle(first.saturating_sub(1)..first + 1, 1);
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
            let node = self.node_mut(i);
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
        // Emptied nodes go; as in Redis, their neighbours are not merged.
        self.nodes.retain(|n| n.count > 0);
        // Every node was decompressed for the scan.
        self.settle(0..self.nodes.len(), 0);
        removed
    }

    /// The elements from the left.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// The elements from index `start` rightwards.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        if start >= self.len {
            return Iter {
                list: self,
                node: self.nodes.len(),
                entries: Cow::Borrowed(&[]),
                pos: 0,
            };
        }
        let (node, index) = self.locate(start);
        let entries = self.nodes[node].entries();
        let pos = offset_in(&entries, self.nodes[node].count, index);
        Iter {
            list: self,
            node,
            entries,
            pos,
        }
    }

    /// The elements from index `start` leftwards.
    pub fn iter_rev_from(&self, start: usize) -> RevIter<'_> {
        if start >= self.len {
            return RevIter {
                list: self,
                node: 0,
                entries: Cow::Borrowed(&[]),
                end: 0,
            };
        }
        let (node, index) = self.locate(start);
        let entries = self.nodes[node].entries();
        let pos = offset_in(&entries, self.nodes[node].count, index);
        let end = pos + entry_len(&entries, pos);
        RevIter {
            list: self,
            node: node + 1,
            entries,
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

/// The size an allocation of `bytes` really gets from jemalloc (the server's allocator): 16-byte
/// steps up to 128, then four size classes per doubling (160, 192, 224, 256, 320...).
fn allocation_class(bytes: usize) -> usize {
    if bytes <= 128 {
        return bytes.next_multiple_of(16);
    }
    let step = 1 << ((bytes - 1).ilog2() - 2);
    bytes.next_multiple_of(step)
}

/// Byte offset of entry `index` of `count` in a node's plain `entries`, walking from the nearer
/// end.
fn offset_in(entries: &[u8], count: usize, index: usize) -> usize {
    if index <= count / 2 {
        let mut pos = 0;
        for _ in 0..index {
            pos += entry_len(entries, pos);
        }
        pos
    } else {
        let mut pos = entries.len();
        for _ in index..count {
            pos = entry_start_before(entries, pos);
        }
        pos
    }
}

/// Left-to-right iterator; see [`List::iter_from`]. Holds the current node's entries
/// (decompressed once per node when it is compressed).
pub struct Iter<'a> {
    list: &'a List,
    node: usize,
    entries: Cow<'a, [u8]>,
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if self.pos == self.entries.len() {
            self.node += 1;
            self.entries = self.list.nodes.get(self.node)?.entries();
            self.pos = 0;
        }
        let item = Item::at(&self.entries, self.pos);
        self.pos += entry_len(&self.entries, self.pos);
        Some(item)
    }
}

/// Right-to-left iterator; see [`List::iter_rev_from`]. `node` is one past the current node.
pub struct RevIter<'a> {
    list: &'a List,
    node: usize,
    entries: Cow<'a, [u8]>,
    end: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = Item<'a>;

    fn next(&mut self) -> Option<Item<'a>> {
        if self.end == 0 {
            self.node = self.node.checked_sub(1)?;
            self.entries = self.list.nodes.get(self.node.checked_sub(1)?)?.entries();
            self.end = self.entries.len();
        }
        self.end = entry_start_before(&self.entries, self.end);
        Some(Item::at(&self.entries, self.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn texts(list: &List) -> Vec<Vec<u8>> {
        list.iter().map(|e| e.to_vec()).collect()
    }

    /// Checks the bookkeeping: counts add up, no empty nodes, nodes within limits, and nodes
    /// compressed exactly where the depth says and compression pays.
    fn check(list: &List) {
        check_with(list, DEFAULT_PACKED_THRESHOLD);
    }

    /// [`check`] for a list whose every element was added under packed threshold `threshold`:
    /// exactly the elements that long sit alone in plain nodes.
    fn check_with(list: &List, threshold: usize) {
        let mut items = list.iter();
        for node in &list.nodes {
            for item in items.by_ref().take(node.count) {
                let len = item.to_vec().len();
                let container = Container::by_threshold(len, threshold);
                assert_eq!(node.container(), container, "element of {len} bytes");
                if container == Container::Plain {
                    assert_eq!((node.count, node.bytes()), (1, len));
                }
            }
        }
        let total: usize = list.nodes.iter().map(|n| n.count).sum();
        assert_eq!(total, list.len);
        let nodes = list.nodes.len();
        for (i, node) in list.nodes.iter().enumerate() {
            assert!(node.count > 0);
            let entries = node.entries();
            let mut pos = 0;
            let mut n = 0;
            while pos < entries.len() {
                pos += entry_len(&entries, pos);
                n += 1;
            }
            assert_eq!((pos, n), (entries.len(), node.count));
            assert!(node.count == 1 || list.fits(node.bytes(), node.count));
            let should_compress = !List::node_stays_plain(i, nodes, list.compress_depth())
                && compress_node_data(&entries, node.bytes()).is_some();
            assert_eq!(
                node.raw_len.is_some(),
                should_compress,
                "node {i} of {nodes}, depth {}",
                list.depth
            );
        }
        let rev: Vec<Vec<u8>> = list.iter_rev().map(|e| e.to_vec()).collect();
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
            assert_eq!(written_in_place(value), out);
        }
        let big = vec![b'y'; 300_000];
        let out = Encoded::new(&big).to_vec();
        assert_eq!(entry_start_before(&out, out.len()), 0);
        assert_eq!(elem_at(&out, 0).to_vec(), big);
        assert_eq!(written_in_place(&big), out);
    }

    /// An entry as an insert writes it into the gap it opened.
    fn written_in_place(value: &[u8]) -> Vec<u8> {
        let entry = Encoded::new(value);
        let mut out = vec![0; entry.size()];
        entry.write_into(&mut out);
        out
    }

    #[test]
    fn allocation_classes_follow_jemalloc() {
        let classes = [
            (1, 16),
            (16, 16),
            (17, 32),
            (128, 128),
            (129, 160),
            (256, 256),
            (257, 320),
            (4096, 4096),
            (4097, 5120),
            (8193, 10240),
            (70_000, 81_920),
        ];
        for (bytes, class) in classes {
            assert_eq!(allocation_class(bytes), class, "{bytes} bytes");
        }
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

    /// Random operations against a VecDeque model, for several fills and compression depths.
    #[test]
    fn random_operations_match_a_model() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let shapes = [1, 2, 3, 5, 0, -1, -2, -5, -7]
            .into_iter()
            .flat_map(|fill| [(fill, 0), (fill, 1), (fill, 3)]);
        for (fill, depth) in shapes {
            // Some runs with plain nodes for anything from a few bytes to a few hundred.
            let threshold = match rng.gen_range(0..3) {
                0 => DEFAULT_PACKED_THRESHOLD,
                _ => rng.gen_range(1..400),
            };
            let container = |value: &[u8]| Container::by_threshold(value.len(), threshold);
            let mut list = List::new(fill).with_compress_depth(depth);
            let mut model: VecDeque<Vec<u8>> = VecDeque::new();
            for step in 0..3000 {
                let value: Vec<u8> = match rng.gen_range(0..5) {
                    0 => rng.gen_range(-10..10i64).to_string().into_bytes(),
                    1 => rng.gen_range(i64::MIN..i64::MAX).to_string().into_bytes(),
                    2 => vec![b'a' + rng.gen_range(0..3u8); rng.gen_range(0..5)],
                    // Incompressible: nodes of these stay plain even in the middle.
                    3 => (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect(),
                    _ => vec![b'z'; rng.gen_range(0..3000)],
                };
                let index = if model.is_empty() {
                    0
                } else {
                    rng.gen_range(0..model.len())
                };
                match rng.gen_range(0..10) {
                    0 | 1 => {
                        list.push_as(End::Left, &value, container(&value));
                        model.push_front(value);
                    }
                    2 | 3 => {
                        list.push_as(End::Right, &value, container(&value));
                        model.push_back(value);
                    }
                    4 => assert_eq!(list.pop(End::Left), model.pop_front()),
                    5 => assert_eq!(list.pop(End::Right), model.pop_back()),
                    6 => {
                        let at = rng.gen_range(0..=model.len());
                        list.insert_as(at, &value, container(&value));
                        model.insert(at, value);
                    }
                    7 if !model.is_empty() => {
                        assert!(list.set_as(index, &value, container(&value)));
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
                    check_with(&list, threshold);
                    assert_eq!(
                        texts(&list),
                        Vec::from(model.clone()),
                        "fill {fill} depth {depth} threshold {threshold}"
                    );
                    if !model.is_empty() {
                        let i = rng.gen_range(0..model.len());
                        assert_eq!(list.get(i).unwrap().to_vec(), model[i]);
                        let fwd: Vec<_> = list.iter_from(i).map(|e| e.to_vec()).collect();
                        assert_eq!(fwd, model.range(i..).cloned().collect::<Vec<_>>());
                        let back: Vec<_> = list.iter_rev_from(i).map(|e| e.to_vec()).collect();
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

    /// One list operation, for the property test below.
    #[derive(Clone, Debug)]
    enum Op {
        Push(End, Vec<u8>),
        Pop(End),
        Insert(usize, Vec<u8>),
        Set(usize, Vec<u8>),
        RemoveRange(usize, usize),
        RemoveMatching(Vec<u8>, usize, End),
        Trim(usize, usize),
    }

    fn end() -> impl proptest::strategy::Strategy<Value = End> {
        proptest::prop_oneof![
            proptest::strategy::Just(End::Left),
            proptest::strategy::Just(End::Right)
        ]
    }

    fn value() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        prop_oneof![
            (0..300i64).prop_map(|n| n.to_string().into_bytes()),
            // Repetitive text compresses; a few distinct values make LREM find matches.
            (0..4u8, 0..400usize).prop_map(|(c, n)| vec![b'a' + c; n]),
            proptest::collection::vec(any::<u8>(), 0..100),
        ]
    }

    fn op() -> impl proptest::strategy::Strategy<Value = Op> {
        use proptest::prelude::*;
        prop_oneof![
            4 => (end(), value()).prop_map(|(e, v)| Op::Push(e, v)),
            1 => end().prop_map(Op::Pop),
            1 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => (any::<usize>(), 0..50usize).prop_map(|(i, n)| Op::RemoveRange(i, n)),
            1 => (value(), 0..3usize, end()).prop_map(|(v, l, e)| Op::RemoveMatching(v, l, e)),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Trim(a, b)),
        ]
    }

    /// Applies `op`, giving plain nodes to elements of `threshold` bytes and more.
    fn apply(list: &mut List, op: &Op, threshold: usize) {
        let len = list.len();
        let container = |v: &[u8]| Container::by_threshold(v.len(), threshold);
        match op {
            Op::Push(end, v) => list.push_as(*end, v, container(v)),
            Op::Pop(end) => {
                list.pop(*end);
            }
            Op::Insert(i, v) => list.insert_as(i % (len + 1), v, container(v)),
            Op::Set(i, v) if len > 0 => {
                list.set_as(i % len, v, container(v));
            }
            Op::Set(..) => {}
            Op::RemoveRange(i, n) => list.remove_range(i % (len + 1), *n),
            Op::RemoveMatching(v, limit, from) => {
                list.remove_matching(&Needle::new(v), *limit, *from);
            }
            Op::Trim(a, b) if len > 0 => {
                let (a, b) = (a % len, b % len);
                list.trim(a.min(b), a.max(b));
            }
            Op::Trim(..) => {}
        }
    }

    proptest::proptest! {
        /// Every operation on a compressed list leaves the same elements as on an
        /// uncompressed one, read forwards, backwards and by index, with or without plain
        /// nodes (small packed thresholds) in the compressed one.
        #[test]
        fn compressed_lists_hold_what_plain_ones_do(
            fill in proptest::prop_oneof![proptest::strategy::Just(-1i64), 1..6i64],
            depth in 1..4i64,
            threshold in proptest::prop_oneof![
                proptest::strategy::Just(DEFAULT_PACKED_THRESHOLD),
                1..500usize,
            ],
            ops in proptest::collection::vec(op(), 1..200),
        ) {
            let mut plain = List::new(fill);
            let mut packed = List::new(fill).with_compress_depth(depth);
            for op in &ops {
                apply(&mut plain, op, DEFAULT_PACKED_THRESHOLD);
                apply(&mut packed, op, threshold);
                check_with(&packed, threshold);
                proptest::prop_assert_eq!(texts(&packed), texts(&plain));
            }
            let back: Vec<_> = packed.iter_rev().map(|e| e.to_vec()).collect();
            let plain_back: Vec<_> = plain.iter_rev().map(|e| e.to_vec()).collect();
            proptest::prop_assert_eq!(back, plain_back);
            for i in 0..plain.len() {
                proptest::prop_assert_eq!(packed.get(i), plain.get(i));
            }
        }
    }

    #[test]
    fn inner_nodes_compress_and_save_memory() {
        let values: Vec<Vec<u8>> = (0..20_000)
            .map(|i| format!("value-{:03}-{}", i % 10, "a".repeat(32)).into_bytes())
            .collect();
        let plain = List::from_values(-2, values.iter().map(|v| &v[..]));
        let mut packed = List::new(-2).with_compress_depth(1);
        for v in &values {
            packed.push(End::Right, v);
        }
        check(&packed);
        let nodes = packed.nodes.len();
        assert!(nodes > 50);
        assert!(packed.nodes[0].raw_len.is_none() && packed.nodes[nodes - 1].raw_len.is_none());
        assert!((1..nodes - 1).all(|i| packed.nodes[i].raw_len.is_some()));
        assert!(
            packed.heap_size() * 5 < plain.heap_size(),
            "{} vs {}",
            packed.heap_size(),
            plain.heap_size()
        );
        assert!(packed == plain);
        // Reading leaves nodes compressed; editing one in the middle compresses it again.
        assert_eq!(packed.get(10_000).unwrap().to_vec(), values[10_000]);
        packed.set(10_000, b"changed");
        packed.insert(5_000, b"inserted");
        check(&packed);
        assert_eq!(packed.get(5_000).unwrap().to_vec(), b"inserted");
        // A depth set on a built list applies to every node.
        let later = List::from_values(-2, values.iter().map(|v| &v[..])).with_compress_depth(2);
        check(&later);
        assert!(later.nodes[2].raw_len.is_some() && later.nodes[1].raw_len.is_none());
    }
}
