//! A sorted set: members ordered by (score, member bytes).
//!
//! Two encodings, as in Redis 7.0:
//! - `listpack`: one contiguous byte buffer of entries in order, each `varint(len) member
//!   score`, the score as a zigzag varint when it is a small integer and as 8 raw bytes
//!   otherwise, and the buffer sized exactly, as Redis's listpack is. Every operation is a linear walk, which is what Redis does too; it only
//!   holds up to `zset-max-listpack-entries` members of at most `zset-max-listpack-value` bytes.
//! - `skiplist`: past those limits. Members live once, in a slab of slots; a chained hash table
//!   (member → slot, scanned with SCAN's reverse-binary cursor) answers lookups, and a B+tree of
//!   slot ids with subtree counts keeps the order, so rank queries, rank ranges and inserts are
//!   O(log n), as Redis's skiplist with spans is. The name is Redis's: OBJECT ENCODING reports
//!   `skiplist` for it.
//!
//! A set converts to the big encoding when an insert would pass a limit, and never converts
//! back, as in Redis.

use std::cmp::Ordering;
use std::hash::BuildHasher;

use crate::bytes::SmallBytes;
use crate::encoding::EncodingLimits;

/// Total order of entries: by score, then by member bytes (memcmp order).
fn cmp_entry(a_score: f64, a_member: &[u8], b_score: f64, b_member: &[u8]) -> Ordering {
    a_score
        .partial_cmp(&b_score)
        .unwrap_or(Ordering::Equal)
        .then_with(|| a_member.cmp(b_member))
}

// ---------------------------------------------------------------------------------------------
// The compact encoding.
// ---------------------------------------------------------------------------------------------

/// Entries in order in one buffer. See the module docs.
#[derive(Clone, Debug, Default, PartialEq)]
struct Listpack {
    buf: Vec<u8>,
    /// u32 keeps the whole `ZSet` at 32 bytes; a listpack never nears 4 billion entries.
    len: u32,
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        out.push((n as u8) | 0x80);
        n >>= 7;
    }
    out.push(n as u8);
}

fn read_varint(buf: &[u8], pos: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

/// Score tags in the compact encoding: an integer as a zigzag varint, or the f64's 8 bytes.
const SCORE_INT: u8 = 0;
const SCORE_F64: u8 = 1;

fn write_score(out: &mut Vec<u8>, score: f64) {
    // Integers up to 2^53 are exact in both forms; most real scores (counters, timestamps) are.
    if score.fract() == 0.0 && score.abs() < (1u64 << 53) as f64 {
        let n = score as i64;
        out.push(SCORE_INT);
        write_varint(out, ((n << 1) ^ (n >> 63)) as u64 as usize);
    } else {
        out.push(SCORE_F64);
        out.extend_from_slice(&score.to_le_bytes());
    }
}

fn read_score(buf: &[u8], pos: &mut usize) -> f64 {
    let tag = buf[*pos];
    *pos += 1;
    if tag == SCORE_INT {
        let z = read_varint(buf, pos) as u64;
        (((z >> 1) as i64) ^ -((z & 1) as i64)) as f64
    } else {
        let score = f64::from_le_bytes(buf[*pos..*pos + 8].try_into().expect("8 bytes"));
        *pos += 8;
        score
    }
}

/// One decoded listpack entry and where it lies in the buffer.
struct LpEntry<'a> {
    member: &'a [u8],
    score: f64,
    start: usize,
    end: usize,
}

impl Listpack {
    fn iter(&self) -> impl Iterator<Item = LpEntry<'_>> {
        let buf = &self.buf;
        let mut pos = 0;
        std::iter::from_fn(move || {
            if pos >= buf.len() {
                return None;
            }
            let start = pos;
            let len = read_varint(buf, &mut pos);
            let member = &buf[pos..pos + len];
            pos += len;
            let score = read_score(buf, &mut pos);
            Some(LpEntry {
                member,
                score,
                start,
                end: pos,
            })
        })
    }

    fn find(&self, member: &[u8]) -> Option<LpEntry<'_>> {
        self.iter().find(|e| e.member == member)
    }

    /// Inserts an entry whose member is absent, at its place in the order.
    fn insert(&mut self, member: &[u8], score: f64) {
        // Redis's listpack stores scores as text, where -0 reads back as 0.
        let score = if score == 0.0 { 0.0 } else { score };
        let at = self
            .iter()
            .find(|e| cmp_entry(e.score, e.member, score, member) == Ordering::Greater)
            .map_or(self.buf.len(), |e| e.start);
        let mut bytes = Vec::with_capacity(member.len() + 20);
        write_varint(&mut bytes, member.len());
        bytes.extend_from_slice(member);
        write_score(&mut bytes, score);
        // Exact growth: a small set is stored at its size, not at a doubling's slack.
        self.buf.reserve_exact(bytes.len());
        self.buf.splice(at..at, bytes);
        self.len += 1;
    }

    fn remove_bytes(&mut self, start: usize, end: usize, count: usize) {
        self.buf.drain(start..end);
        if self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to_fit();
        }
        self.len -= count as u32;
    }
}

// ---------------------------------------------------------------------------------------------
// The order-statistics tree: a B+tree of slot ids with subtree counts.
// ---------------------------------------------------------------------------------------------

/// Most entries in a leaf, and most children of an inner node. Unit tests use tiny nodes, so
/// small sets already build deep trees and exercise every split and merge.
#[cfg(not(test))]
const NODE_MAX: usize = 64;
#[cfg(test)]
const NODE_MAX: usize = 4;
/// Below this a node is merged with or refilled from a neighbour. At least 2, so no node but
/// the root is ever empty, and at most half of `NODE_MAX`, so both halves of a split qualify.
const NODE_MIN: usize = if NODE_MAX >= 8 { NODE_MAX / 4 } else { 2 };

#[derive(Clone, Debug)]
enum Node {
    Leaf(Vec<u32>),
    Inner(Box<Inner>),
}

/// An inner node: children with their element counts and their first (smallest) ids, which
/// route key searches.
#[derive(Clone, Debug)]
struct Inner {
    children: Vec<Node>,
    counts: Vec<usize>,
    mins: Vec<u32>,
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.counts.iter().sum(),
        }
    }

    /// Entries in a leaf, children in an inner node: what the fill limits apply to.
    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(n) => n.children.len(),
        }
    }

    fn first(&self) -> u32 {
        match self {
            Node::Leaf(v) => v[0],
            Node::Inner(n) => n.mins[0],
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Node::Leaf(v) => v.capacity() * 4,
            Node::Inner(n) => {
                std::mem::size_of::<Inner>()
                    + n.children.capacity() * std::mem::size_of::<Node>()
                    + n.counts.capacity() * 8
                    + n.mins.capacity() * 4
                    + n.children.iter().map(Node::heap_size).sum::<usize>()
            }
        }
    }

    /// Splits off the upper half when over-full.
    fn split_if_full(&mut self) -> Option<Node> {
        if self.width() <= NODE_MAX {
            return None;
        }
        let half = self.width() / 2;
        Some(match self {
            Node::Leaf(v) => Node::Leaf(v.split_off(half)),
            Node::Inner(n) => Node::Inner(Box::new(Inner {
                children: n.children.split_off(half),
                counts: n.counts.split_off(half),
                mins: n.mins.split_off(half),
            })),
        })
    }

    /// Appends `other` (a node of the same kind, ordered after this one).
    fn absorb(&mut self, other: Node) {
        match (self, other) {
            (Node::Leaf(a), Node::Leaf(b)) => a.extend(b),
            (Node::Inner(a), Node::Inner(b)) => {
                let b = *b;
                a.children.extend(b.children);
                a.counts.extend(b.counts);
                a.mins.extend(b.mins);
            }
            _ => unreachable!("siblings are at the same height"),
        }
    }

    fn partition_point(&self, pred: &impl Fn(u32) -> bool) -> usize {
        match self {
            Node::Leaf(v) => v.partition_point(|&id| pred(id)),
            Node::Inner(n) => {
                let j = n.mins.partition_point(|&id| pred(id));
                if j == 0 {
                    return 0;
                }
                n.counts[..j - 1].iter().sum::<usize>() + n.children[j - 1].partition_point(pred)
            }
        }
    }

    fn get(&self, mut rank: usize) -> u32 {
        match self {
            Node::Leaf(v) => v[rank],
            Node::Inner(n) => {
                for (child, &count) in n.children.iter().zip(&n.counts) {
                    if rank < count {
                        return child.get(rank);
                    }
                    rank -= count;
                }
                unreachable!("rank within the tree")
            }
        }
    }

    /// Inserts `id` at `rank`; returns a new right sibling when this node split.
    fn insert_at(&mut self, rank: usize, id: u32) -> Option<Node> {
        match self {
            Node::Leaf(v) => v.insert(rank, id),
            Node::Inner(n) => {
                let (i, rank) = child_for_insert(&n.counts, rank);
                let split = n.children[i].insert_at(rank, id);
                n.counts[i] += 1;
                n.mins[i] = n.children[i].first();
                if let Some(sibling) = split {
                    n.counts[i] = n.children[i].len();
                    n.counts.insert(i + 1, sibling.len());
                    n.mins.insert(i + 1, sibling.first());
                    n.children.insert(i + 1, sibling);
                }
            }
        }
        self.split_if_full()
    }

    /// Removes and returns the id at `rank`. Children left under-full are merged or refilled.
    fn remove_at(&mut self, mut rank: usize) -> u32 {
        let n = match self {
            Node::Leaf(v) => return v.remove(rank),
            Node::Inner(n) => n,
        };
        let mut i = 0;
        while rank >= n.counts[i] {
            rank -= n.counts[i];
            i += 1;
        }
        let id = n.children[i].remove_at(rank);
        n.counts[i] -= 1;
        if n.children[i].width() < NODE_MIN && n.children.len() > 1 {
            // Join with a neighbour, then split again if the two together are too many.
            let left = if i > 0 { i - 1 } else { i };
            let right = n.children.remove(left + 1);
            n.counts.remove(left + 1);
            n.mins.remove(left + 1);
            n.children[left].absorb(right);
            if let Some(sibling) = n.children[left].split_if_full() {
                n.counts.insert(left + 1, sibling.len());
                n.mins.insert(left + 1, sibling.first());
                n.children.insert(left + 1, sibling);
            }
            n.counts[left] = n.children[left].len();
            n.mins[left] = n.children[left].first();
        } else if n.counts[i] > 0 {
            n.mins[i] = n.children[i].first();
        }
        id
    }

    /// Calls `f` on the ids at ranks `start..end`, backwards with `rev`.
    fn visit(&self, start: usize, end: usize, rev: bool, f: &mut impl FnMut(u32)) {
        match self {
            Node::Leaf(v) => {
                if rev {
                    v[start..end].iter().rev().for_each(|&id| f(id));
                } else {
                    v[start..end].iter().for_each(|&id| f(id));
                }
            }
            Node::Inner(n) => {
                let mut offsets = Vec::with_capacity(n.counts.len());
                let mut at = 0;
                for &c in &n.counts {
                    offsets.push(at);
                    at += c;
                }
                let mut visit_child = |i: usize| {
                    let (lo, hi) = (offsets[i], offsets[i] + n.counts[i]);
                    if hi > start && lo < end {
                        let s = start.max(lo) - lo;
                        let e = end.min(hi) - lo;
                        n.children[i].visit(s, e, rev, f);
                    }
                };
                if rev {
                    (0..n.children.len()).rev().for_each(&mut visit_child);
                } else {
                    (0..n.children.len()).for_each(&mut visit_child);
                }
            }
        }
    }
}

/// The child an insert at `rank` goes to, and the rank within it; an insert at a child's end
/// goes to that child rather than the next one's start.
fn child_for_insert(counts: &[usize], mut rank: usize) -> (usize, usize) {
    for (i, &c) in counts.iter().enumerate() {
        if rank <= c {
            return (i, rank);
        }
        rank -= c;
    }
    unreachable!("rank within the tree")
}

/// The order-statistics tree. Ids are compared through callers' closures, so the tree itself
/// never needs the members.
#[derive(Clone, Debug)]
struct Tree {
    root: Node,
    len: usize,
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            root: Node::Leaf(Vec::new()),
            len: 0,
        }
    }
}

impl Tree {
    /// How many leading ids satisfy `pred` (which must hold for a prefix of the order).
    fn partition_point(&self, pred: impl Fn(u32) -> bool) -> usize {
        if self.len == 0 {
            return 0;
        }
        self.root.partition_point(&pred)
    }

    fn get(&self, rank: usize) -> u32 {
        self.root.get(rank)
    }

    fn insert_at(&mut self, rank: usize, id: u32) {
        if let Some(sibling) = self.root.insert_at(rank, id) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            self.root = Node::Inner(Box::new(Inner {
                counts: vec![left.len(), sibling.len()],
                mins: vec![left.first(), sibling.first()],
                children: vec![left, sibling],
            }));
        }
        self.len += 1;
    }

    fn remove_at(&mut self, rank: usize) -> u32 {
        let id = self.root.remove_at(rank);
        self.len -= 1;
        // A root with a single child gives way to it, so the height shrinks as the set does.
        loop {
            match &mut self.root {
                Node::Inner(n) if n.children.len() == 1 => {
                    self.root = n.children.pop().expect("one child");
                }
                _ => break,
            }
        }
        id
    }

    fn visit(&self, start: usize, end: usize, rev: bool, mut f: impl FnMut(u32)) {
        if start < end {
            self.root.visit(start, end, rev, &mut f);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The big encoding: slab + hash table + tree.
// ---------------------------------------------------------------------------------------------

const NIL: u32 = u32::MAX;

/// A member and its score; a free slot holds an empty member and is listed in `free`.
#[derive(Clone, Debug)]
struct Slot {
    member: SmallBytes,
    score: f64,
}

type MemberHasher = foldhash::fast::FixedState;

/// A seed chosen once per process, so members cannot be crafted to collide.
fn member_hasher() -> MemberHasher {
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    MemberHasher::with_seed(*SEED.get_or_init(rand::random))
}

#[derive(Clone, Debug)]
struct Big {
    slots: Vec<Slot>,
    /// Hash chain links, parallel to `slots`.
    next: Vec<u32>,
    free: Vec<u32>,
    /// Heads of the hash chains; a power of two in length (or empty).
    buckets: Vec<u32>,
    tree: Tree,
    hasher: MemberHasher,
}

impl Big {
    fn new() -> Self {
        Big {
            slots: Vec::new(),
            next: Vec::new(),
            free: Vec::new(),
            buckets: Vec::new(),
            tree: Tree::default(),
            hasher: member_hasher(),
        }
    }

    fn len(&self) -> usize {
        self.tree.len
    }

    fn bucket_of(&self, member: &[u8]) -> usize {
        (self.hasher.hash_one(member) as usize) & (self.buckets.len() - 1)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let mut id = self.buckets[self.bucket_of(member)];
        while id != NIL {
            if *self.slots[id as usize].member == *member {
                return Some(id);
            }
            id = self.next[id as usize];
        }
        None
    }

    fn link(&mut self, id: u32) {
        let b = self.bucket_of(&self.slots[id as usize].member);
        self.next[id as usize] = self.buckets[b];
        self.buckets[b] = id;
    }

    fn unlink(&mut self, id: u32) {
        let b = self.bucket_of(&self.slots[id as usize].member);
        if self.buckets[b] == id {
            self.buckets[b] = self.next[id as usize];
            return;
        }
        let mut at = self.buckets[b];
        while self.next[at as usize] != id {
            at = self.next[at as usize];
        }
        self.next[at as usize] = self.next[id as usize];
    }

    /// Grows the table to keep at most one member per bucket on average, and shrinks it below
    /// 1/8 full, as Redis's dict does.
    fn resize_if_needed(&mut self) {
        let len = self.len();
        let size = self.buckets.len();
        let grow = len > size || size == 0;
        let shrink = len * 8 < size && size > 4;
        if !grow && !shrink {
            return;
        }
        let target = len.next_power_of_two().max(4);
        self.buckets = vec![NIL; target];
        let mut live = Vec::with_capacity(len);
        self.tree.visit(0, len, false, |id| live.push(id));
        for id in live {
            self.link(id);
        }
    }

    /// The rank an entry (score, member) has or would have.
    fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        self.tree.partition_point(|id| {
            let s = &self.slots[id as usize];
            // Scores decide almost always: the member (behind SmallBytes's inline-or-heap
            // branch) is read only on a tie, which saves a fifth of ZADD's ordering work.
            match s.score.partial_cmp(&score) {
                Some(Ordering::Less) => true,
                Some(Ordering::Greater) => false,
                _ => *s.member < *member,
            }
        })
    }

    fn insert(&mut self, member: &[u8], score: f64) {
        let slot = Slot {
            member: SmallBytes::new(member),
            score,
        };
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                self.next.push(NIL);
                (self.slots.len() - 1) as u32
            }
        };
        let rank = self.rank_of(score, member);
        self.tree.insert_at(rank, id);
        if self.len() > self.buckets.len() {
            self.resize_if_needed();
        } else {
            self.link(id);
        }
    }

    /// Removes the member in slot `id` from the table and the tree, and frees the slot.
    fn remove_id(&mut self, id: u32) -> (SmallBytes, f64) {
        let (score, rank) = {
            let s = &self.slots[id as usize];
            (s.score, self.rank_of(s.score, &s.member))
        };
        self.unlink(id);
        self.tree.remove_at(rank);
        let slot = std::mem::replace(
            &mut self.slots[id as usize],
            Slot {
                member: SmallBytes::new(b""),
                score: 0.0,
            },
        );
        self.free.push(id);
        self.compact_if_sparse();
        (slot.member, score)
    }

    /// Rebuilds the slab when most of it is free, so a set that shrank gives memory back.
    fn compact_if_sparse(&mut self) {
        if self.free.len() < 64 || self.free.len() < self.len() {
            self.resize_if_needed();
            return;
        }
        let mut fresh = Big::new();
        fresh.hasher = self.hasher;
        let len = self.len();
        let mut ids = Vec::with_capacity(len);
        self.tree.visit(0, len, false, |id| ids.push(id));
        for id in ids {
            let s = &self.slots[id as usize];
            fresh.slots.push(s.clone());
            fresh.next.push(NIL);
            let new_id = (fresh.slots.len() - 1) as u32;
            fresh.tree.insert_at(fresh.tree.len, new_id);
        }
        fresh.resize_if_needed();
        *self = fresh;
    }

    fn heap_size(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self
                .slots
                .iter()
                .map(|s| s.member.heap_size())
                .sum::<usize>()
            + self.next.capacity() * 4
            + self.free.capacity() * 4
            + self.buckets.capacity() * 4
            + self.tree.root.heap_size()
    }

    /// One step of a SCAN over the hash table; see `Dict::scan` for the cursor.
    fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut id = self.buckets[(cursor & mask) as usize];
        while id != NIL {
            let s = &self.slots[id as usize];
            visit(&s.member, s.score);
            id = self.next[id as usize];
        }
        (cursor | !mask)
            .reverse_bits()
            .wrapping_add(1)
            .reverse_bits()
    }
}

// ---------------------------------------------------------------------------------------------
// The public type.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
enum Repr {
    Listpack(Listpack),
    Skiplist(Box<Big>),
}

/// A sorted set. See the module docs.
#[derive(Clone, Debug)]
pub struct ZSet {
    repr: Repr,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::new()
    }
}

impl PartialEq for ZSet {
    /// Same members with the same scores (the encodings may differ).
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let mut a = Vec::with_capacity(self.len());
        self.range(0, self.len(), false, |m, s| a.push((m.to_vec(), s)));
        let mut i = 0;
        let mut same = true;
        other.range(0, other.len(), false, |m, s| {
            same &= a[i].0 == m && a[i].1 == s;
            i += 1;
        });
        same
    }
}

impl ZSet {
    /// An empty set in the compact encoding.
    pub fn new() -> Self {
        ZSet {
            repr: Repr::Listpack(Listpack::default()),
        }
    }

    /// An empty set in the encoding a set of `len` members at most `max_member` bytes long
    /// would have.
    pub fn with_hint(len: usize, max_member: usize, limits: &EncodingLimits) -> Self {
        let mut z = ZSet::new();
        if !fits_listpack(len, max_member, limits) {
            z.convert();
        }
        z
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(lp) => lp.len as usize,
            Repr::Skiplist(big) => big.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Skiplist(_) => "skiplist",
        }
    }

    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Listpack(lp) => lp.buf.capacity(),
            Repr::Skiplist(big) => std::mem::size_of::<Big>() + big.heap_size(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Listpack(lp) => lp.find(member).map(|e| e.score),
            Repr::Skiplist(big) => big.find(member).map(|id| big.slots[id as usize].score),
        }
    }

    /// The member's 0-based rank in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match &self.repr {
            Repr::Listpack(lp) => lp.iter().position(|e| e.member == member),
            Repr::Skiplist(big) => big
                .find(member)
                .map(|id| big.rank_of(big.slots[id as usize].score, member)),
        }
    }

    /// How many entries, from the lowest, satisfy `pred(score, member)`; `pred` must hold for a
    /// prefix of the order (as "score < min" does). Score and lex ranges become rank ranges
    /// with this.
    pub fn count_while(&self, pred: impl Fn(f64, &[u8]) -> bool) -> usize {
        match &self.repr {
            Repr::Listpack(lp) => lp.iter().take_while(|e| pred(e.score, e.member)).count(),
            Repr::Skiplist(big) => big.tree.partition_point(|id| {
                let s = &big.slots[id as usize];
                pred(s.score, &s.member)
            }),
        }
    }

    /// The entry at ascending `rank` (which must be below `len`).
    pub fn get(&self, rank: usize) -> (&[u8], f64) {
        match &self.repr {
            Repr::Listpack(lp) => {
                let e = lp.iter().nth(rank).expect("rank below len");
                (e.member, e.score)
            }
            Repr::Skiplist(big) => {
                let s = &big.slots[big.tree.get(rank) as usize];
                (&s.member, s.score)
            }
        }
    }

    /// Calls `f(member, score)` for the entries at ascending ranks `start..end`, from the
    /// highest rank down with `rev`.
    pub fn range<'s>(
        &'s self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(&'s [u8], f64),
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match &self.repr {
            Repr::Listpack(lp) => {
                let entries = lp.iter().skip(start).take(end - start);
                if rev {
                    let all: Vec<LpEntry<'_>> = entries.collect();
                    all.iter().rev().for_each(|e| f(e.member, e.score));
                } else {
                    entries.for_each(|e| f(e.member, e.score));
                }
            }
            Repr::Skiplist(big) => big.tree.visit(start, end, rev, |id| {
                let s = &big.slots[id as usize];
                f(&s.member, s.score)
            }),
        }
    }

    /// Sets `member`'s score, adding it if absent; returns the previous score. Converts to the
    /// big encoding first when a new member would pass `limits`.
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &EncodingLimits) -> Option<f64> {
        let old = self.remove(member);
        if old.is_none() {
            if let Repr::Listpack(lp) = &self.repr {
                if !fits_listpack(lp.len as usize + 1, member.len(), limits) {
                    self.convert();
                }
            }
        }
        match &mut self.repr {
            Repr::Listpack(lp) => lp.insert(member, score),
            Repr::Skiplist(big) => big.insert(member, score),
        }
        old
    }

    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Listpack(lp) => {
                let (start, end, score) = lp.find(member).map(|e| (e.start, e.end, e.score))?;
                lp.remove_bytes(start, end, 1);
                Some(score)
            }
            Repr::Skiplist(big) => {
                let id = big.find(member)?;
                Some(big.remove_id(id).1)
            }
        }
    }

    /// Removes the entries at ascending ranks `start..end` and returns them in ascending order.
    pub fn remove_range(&mut self, start: usize, end: usize) -> Vec<(SmallBytes, f64)> {
        let end = end.min(self.len());
        if start >= end {
            return Vec::new();
        }
        match &mut self.repr {
            Repr::Listpack(lp) => {
                let mut removed = Vec::with_capacity(end - start);
                let (mut from, mut to) = (0, 0);
                for (i, e) in lp.iter().enumerate().skip(start).take(end - start) {
                    if i == start {
                        from = e.start;
                    }
                    to = e.end;
                    removed.push((SmallBytes::new(e.member), e.score));
                }
                lp.remove_bytes(from, to, end - start);
                removed
            }
            Repr::Skiplist(big) => (start..end)
                .map(|_| {
                    let id = big.tree.get(start);
                    big.remove_id(id)
                })
                .collect(),
        }
    }

    /// One SCAN step: the big encoding walks its hash table with `cursor`; the compact one
    /// returns everything at once with cursor 0, as Redis does.
    pub fn scan(&self, cursor: u64, mut visit: impl FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Listpack(_) => {
                self.range(0, self.len(), false, visit);
                0
            }
            Repr::Skiplist(big) => big.scan(cursor, &mut visit),
        }
    }

    /// Converts a listpack to the skiplist encoding, whatever its size (SORT does, as Redis's
    /// SORT converts any sorted set it reads).
    pub fn convert(&mut self) {
        let Repr::Listpack(lp) = &self.repr else {
            return;
        };
        let mut big = Big::new();
        for e in lp.iter() {
            big.insert(e.member, e.score);
        }
        self.repr = Repr::Skiplist(Box::new(big));
    }
}

/// Whether a set of `len` members, the longest `max_member` bytes, stays in the compact
/// encoding.
fn fits_listpack(len: usize, max_member: usize, limits: &EncodingLimits) -> bool {
    len as i64 <= limits.zset_max_listpack_entries
        && max_member as i64 <= limits.zset_max_listpack_value
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn limits(entries: i64, value: i64) -> EncodingLimits {
        EncodingLimits {
            zset_max_listpack_entries: entries,
            zset_max_listpack_value: value,
            ..EncodingLimits::default()
        }
    }

    /// Asserts the tree's bookkeeping: counts and first ids match the children, and no node but
    /// the root is under-full.
    fn check_node(node: &Node, root: bool) {
        assert!(root || node.width() >= NODE_MIN, "under-full node");
        assert!(node.width() <= NODE_MAX, "over-full node");
        if let Node::Inner(n) = node {
            for (i, child) in n.children.iter().enumerate() {
                assert_eq!(n.counts[i], child.len());
                assert_eq!(n.mins[i], child.first());
                check_node(child, false);
            }
        }
    }

    fn check(z: &ZSet) {
        if let Repr::Skiplist(big) = &z.repr {
            check_node(&big.tree.root, true);
            assert_eq!(big.tree.root.len(), big.len());
        }
    }

    fn contents(z: &ZSet) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::new();
        z.range(0, z.len(), false, |m, s| out.push((m.to_vec(), s)));
        out
    }

    #[test]
    fn converts_past_entry_and_value_limits() {
        let l = limits(3, 5);
        let mut z = ZSet::new();
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            z.insert(m.as_bytes(), i as f64, &l);
        }
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"a", 10.0, &l);
        assert_eq!(z.encoding(), "listpack");
        z.insert(b"d", 1.5, &l);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(
            contents(&z),
            vec![
                (b"b".to_vec(), 1.0),
                (b"d".to_vec(), 1.5),
                (b"c".to_vec(), 2.0),
                (b"a".to_vec(), 10.0)
            ]
        );
        let mut long = ZSet::new();
        long.insert(b"123456", 1.0, &l);
        assert_eq!(long.encoding(), "skiplist");
        // Never back.
        long.remove(b"123456");
        assert_eq!(long.encoding(), "skiplist");
    }

    #[test]
    fn listpack_scores_round_trip() {
        let mut z = ZSet::new();
        let l = EncodingLimits::default();
        let scores = [
            0.0,
            1.0,
            -1.0,
            1e15,
            -9007199254740991.0,
            9007199254740992.0,
            0.1,
            1e300,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            -2.5,
        ];
        for (i, s) in scores.iter().enumerate() {
            z.insert(format!("m{i}").as_bytes(), *s, &l);
        }
        for (i, s) in scores.iter().enumerate() {
            assert_eq!(z.score(format!("m{i}").as_bytes()), Some(*s));
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(std::mem::size_of::<ZSet>(), 32);
    }

    #[test]
    fn listpack_turns_negative_zero_into_zero() {
        let mut z = ZSet::new();
        z.insert(b"a", -0.0, &EncodingLimits::default());
        assert!(z.score(b"a").unwrap().is_sign_positive());
    }

    #[test]
    fn big_tree_handles_many_members() {
        let l = limits(0, 0);
        let mut z = ZSet::new();
        let n = 20_000;
        for i in 0..n {
            let m = format!("m{}", (i * 7919) % n);
            z.insert(m.as_bytes(), ((i * 7919) % n) as f64, &l);
        }
        assert_eq!(z.len(), n);
        for r in [0, 1, 4999, 12345, n - 1] {
            let (m, s) = z.get(r);
            assert_eq!(s, r as f64);
            assert_eq!(m, format!("m{r}").as_bytes());
            assert_eq!(z.rank(m), Some(r));
        }
        let removed = z.remove_range(100, 19_900);
        assert_eq!(removed.len(), 19_800);
        assert_eq!(z.len(), 200);
        assert_eq!(z.get(100).1, 19_900.0);
        let mut seen = 0u64;
        let mut cursor = 0;
        loop {
            cursor = z.scan(cursor, |_, _| seen += 1);
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 200);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(u8, i8),
        Remove(u8),
        RemoveRange(u8, u8),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<u8>(), any::<i8>()).prop_map(|(m, s)| Op::Insert(m, s)),
            2 => any::<u8>().prop_map(Op::Remove),
            1 => (any::<u8>(), 0u8..8).prop_map(|(a, n)| Op::RemoveRange(a, n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]
        /// Both encodings behave as a sorted Vec of (score, member).
        #[test]
        fn matches_sorted_vec_model(ops in proptest::collection::vec(op(), 1..600), entries in 0i64..40) {
            let l = limits(entries, 64);
            let mut z = ZSet::new();
            let mut model: Vec<(f64, Vec<u8>)> = Vec::new();
            for op in ops {
                match op {
                    Op::Insert(m, s) => {
                        let member = format!("member-{m}").into_bytes();
                        let score = f64::from(s) / 4.0;
                        let old_model = model.iter().position(|e| e.1 == member).map(|i| model.remove(i).0);
                        let at = model.partition_point(|e| cmp_entry(e.0, &e.1, score, &member) == Ordering::Less);
                        model.insert(at, (score, member.clone()));
                        prop_assert_eq!(z.insert(&member, score, &l), old_model);
                    }
                    Op::Remove(m) => {
                        let member = format!("member-{m}").into_bytes();
                        let old_model = model.iter().position(|e| e.1 == member).map(|i| model.remove(i).0);
                        prop_assert_eq!(z.remove(&member), old_model);
                    }
                    Op::RemoveRange(a, n) => {
                        let start = (a as usize).min(model.len());
                        let end = (start + n as usize).min(model.len());
                        let expected: Vec<(Vec<u8>, f64)> = model.drain(start..end).map(|(s, m)| (m, s)).collect();
                        let got: Vec<(Vec<u8>, f64)> = z.remove_range(start, end).into_iter().map(|(m, s)| (m.to_vec(), s)).collect();
                        prop_assert_eq!(got, expected);
                    }
                }
                prop_assert_eq!(z.len(), model.len());
                check(&z);
            }
            let flat: Vec<(Vec<u8>, f64)> = model.iter().map(|(s, m)| (m.clone(), *s)).collect();
            prop_assert_eq!(contents(&z), flat.clone());
            for (r, (m, s)) in flat.iter().enumerate() {
                prop_assert_eq!(z.rank(m), Some(r));
                prop_assert_eq!(z.score(m), Some(*s));
                prop_assert_eq!(z.get(r), (&m[..], *s));
                prop_assert_eq!(z.count_while(|sc, mm| cmp_entry(sc, mm, *s, m) == Ordering::Less), r);
            }
            let mut rev = Vec::new();
            z.range(1, flat.len(), true, |m, s| rev.push((m.to_vec(), s)));
            let mut expected_rev: Vec<_> = flat.iter().skip(1).cloned().collect();
            expected_rev.reverse();
            prop_assert_eq!(rev, expected_rev);
            let mut scanned = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = z.scan(cursor, |m, _| scanned.push(m.to_vec()));
                if cursor == 0 { break; }
            }
            scanned.sort();
            let mut members: Vec<Vec<u8>> = flat.iter().map(|e| e.0.clone()).collect();
            members.sort();
            prop_assert_eq!(scanned, members);
        }
    }
}
