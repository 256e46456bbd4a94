//! A stream: entries ordered by ID (`ms-seq`), each a list of field/value pairs, stored as Redis
//! 7.0 stores them so that memory per entry and the RDB form match Redis's.
//!
//! Entries live in nodes, kept in an ordered map from each node's *master ID* (the ID of the
//! first entry ever put in it) to its bytes. A node is a run of listpack entries (the format in
//! [`crate::listpack`], without the listpack header and terminator, which RDB adds): first the
//! master entry, then the stream entries.
//!
//! - Master entry: `count` (live entries), `deleted` (entries flagged deleted), `num-fields`,
//!   the master fields (those of the node's first entry), then `0`.
//! - Each entry: `flags`, `ms-diff`, `seq-diff` (against the master ID), then either the values
//!   alone (flag `SAMEFIELDS`: its fields are the master fields, in order) or `num-fields` and
//!   the field/value pairs; then `lp-count`, how many listpack elements the entry used before
//!   it, so the node can be walked from either end.
//!
//! Deleting an entry only sets its `DELETED` flag and moves one from `count` to `deleted`; a
//! node whose entries are all deleted is dropped. A new node starts when the last one reaches
//! `stream-node-max-bytes` or `stream-node-max-entries` (deleted entries count too).
//!
//! Consumer groups are in [`group`].

pub mod group;

use std::collections::BTreeMap;
use std::fmt;

use crate::list::{Elem, Needle};
use crate::listpack::{elem_at, entry_len, entry_start_before, Encoded, LISTPACK_OVERHEAD};

pub use group::{Consumer, ConsumerGroup, PendingEntry};

/// An entry ID: milliseconds, then a sequence number within the millisecond.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The smallest ID above this one; None for the largest.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The largest ID below this one; None for 0-0.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// The 16-byte big-endian form, as RDB names a node.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[..8].copy_from_slice(&self.ms.to_be_bytes());
        out[8..].copy_from_slice(&self.seq.to_be_bytes());
        out
    }

    pub fn from_be_bytes(bytes: &[u8]) -> Option<StreamId> {
        let bytes: &[u8; 16] = bytes.try_into().ok()?;
        Some(StreamId::new(
            u64::from_be_bytes(bytes[..8].try_into().expect("8 bytes")),
            u64::from_be_bytes(bytes[8..].try_into().expect("8 bytes")),
        ))
    }

    /// Appends the `ms-seq` text.
    pub fn write_text(self, out: &mut Vec<u8>) {
        let mut digits = itoa::Buffer::new();
        out.extend_from_slice(digits.format(self.ms).as_bytes());
        out.push(b'-');
        out.extend_from_slice(digits.format(self.seq).as_bytes());
    }

    pub fn to_text(self) -> Vec<u8> {
        let mut out = Vec::with_capacity(24);
        self.write_text(&mut out);
        out
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// `stream-node-max-bytes` and `stream-node-max-entries` (0 = no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_bytes: usize,
    pub max_entries: usize,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }
}

/// A node never grows past this many bytes, whatever `stream-node-max-bytes` says.
const NODE_MAX_BYTES_CAP: usize = 1 << 30;

const FLAG_DELETED: i64 = 1;
const FLAG_SAME_FIELDS: i64 = 2;

/// What trimming keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimTo {
    /// At most this many entries.
    MaxLen(u64),
    /// No entry below this ID.
    MinId(StreamId),
}

/// A stream's data and metadata; consumer groups by name, in byte order (as XINFO GROUPS lists
/// them).
#[derive(Clone, Debug, Default)]
pub struct Stream {
    nodes: BTreeMap<StreamId, Node>,
    length: u64,
    last_id: StreamId,
    first_id: StreamId,
    max_deleted_id: StreamId,
    entries_added: u64,
    pub groups: BTreeMap<Vec<u8>, ConsumerGroup>,
}

/// Equal when the entries, metadata and groups are equal (node boundaries are not part of the
/// value).
impl PartialEq for Stream {
    fn eq(&self, other: &Self) -> bool {
        self.length == other.length
            && self.last_id == other.last_id
            && self.first_id == other.first_id
            && self.max_deleted_id == other.max_deleted_id
            && self.entries_added == other.entries_added
            && self.groups == other.groups
            && self
                .range(StreamId::MIN, StreamId::MAX, false)
                .zip(other.range(StreamId::MIN, StreamId::MAX, false))
                .all(|(a, b)| a.id == b.id && a.fields().eq(b.fields()))
    }
}

impl Stream {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn len(&self) -> u64 {
        self.length
    }

    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The largest ID ever added (or set by XSETID).
    pub fn last_id(&self) -> StreamId {
        self.last_id
    }

    /// The first live entry's ID, 0-0 when empty.
    pub fn first_id(&self) -> StreamId {
        self.first_id
    }

    pub fn max_deleted_id(&self) -> StreamId {
        self.max_deleted_id
    }

    /// Entries ever added, counting those since deleted.
    pub fn entries_added(&self) -> u64 {
        self.entries_added
    }

    /// XSETID's changes; the caller has checked them against the stream.
    pub fn set_last_id(&mut self, id: StreamId) {
        self.last_id = id;
    }

    pub fn set_entries_added(&mut self, n: u64) {
        self.entries_added = n;
    }

    pub fn set_max_deleted_id(&mut self, id: StreamId) {
        self.max_deleted_id = id;
    }

    /// Heap bytes held, for MEMORY USAGE and eviction estimates.
    pub fn heap_size(&self) -> usize {
        // A B-tree entry costs about its key and value plus a share of the node's edges.
        const TREE_ENTRY: usize = std::mem::size_of::<StreamId>() + std::mem::size_of::<Node>() + 8;
        self.nodes
            .values()
            .map(|n| TREE_ENTRY + n.data.capacity())
            .sum::<usize>()
            + self
                .groups
                .iter()
                .map(|(name, g)| name.capacity() + g.heap_size())
                .sum::<usize>()
    }

    /// Adds an entry. `id` must be above [`Stream::last_id`] (checked by the caller, which owns
    /// the error texts); `fields` alternates field and value and is not empty.
    pub fn append(&mut self, id: StreamId, fields: &[&[u8]], limits: NodeLimits) {
        debug_assert!(
            id > self.last_id || (self.length == 0 && id == self.last_id && id.is_zero())
        );
        debug_assert!(!fields.is_empty() && fields.len().is_multiple_of(2));
        let content: usize = fields.iter().map(|f| f.len()).sum();
        let fits = self.nodes.last_key_value().is_some_and(|(_, node)| {
            let max_bytes = match limits.max_bytes {
                0 => NODE_MAX_BYTES_CAP,
                n => n.min(NODE_MAX_BYTES_CAP),
            };
            let (live, deleted) = node.counts();
            node.bytes() + content < max_bytes
                && (limits.max_entries == 0 || ((live + deleted) as usize) < limits.max_entries)
        });
        if !fits {
            if let Some((_, full)) = self.nodes.iter_mut().next_back() {
                full.data.shrink_to_fit();
            }
            self.nodes.insert(id, Node::with_master(fields));
        }
        let (&master, node) = self.nodes.iter_mut().next_back().expect("a node");
        node.push_entry(master, id, fields);
        if self.length == 0 {
            self.first_id = id;
        }
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
    }

    /// Entries with IDs in `start..=end`, in ID order or (rev) reverse order; deleted entries
    /// are skipped.
    pub fn range(&self, start: StreamId, end: StreamId, rev: bool) -> Range<'_> {
        let nodes = if start > end {
            // An empty range of the map, whatever the keys.
            self.nodes.range(StreamId::MAX..StreamId::MAX)
        } else if rev {
            self.nodes.range(..=end)
        } else {
            // The node holding `start` is the last one whose master ID is at most `start`.
            let first = self
                .nodes
                .range(..=start)
                .next_back()
                .map_or(start, |(k, _)| *k);
            self.nodes.range(first..=end)
        };
        Range {
            nodes,
            current: None,
            start,
            end,
            rev,
            done: false,
        }
    }

    /// The first (or, `last`, the last) live entry's ID.
    pub fn edge_id(&self, last: bool) -> Option<StreamId> {
        self.range(StreamId::MIN, StreamId::MAX, last)
            .next()
            .map(|e| e.id)
    }

    /// The ID of the first entry still in a node, deleted or not: what Redis rewrites an
    /// approximate MINID to when it propagates a trim. None when no node is left.
    pub fn first_entry_id_with_deleted(&self) -> Option<StreamId> {
        self.nodes.iter().find_map(|(&master, node)| {
            let first = node.first_entry_at();
            (first < node.data.len()).then(|| node.entry_at(master, first).id)
        })
    }

    /// Deletes the live entry `id`; false when there is none. Keeps the first ID and the largest
    /// deleted ID up to date, as XDEL does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some(flags_at) = node.find_live(master, id) else {
            return false;
        };
        if node.mark_deleted(flags_at) == 0 {
            self.nodes.remove(&master);
        }
        self.length -= 1;
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        if self.length == 0 {
            self.first_id = StreamId::MIN;
        } else if id == self.first_id {
            self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        }
        true
    }

    /// Removes entries from the head, as XTRIM and XADD's trimming do; returns how many.
    /// `approx` removes whole nodes only; `limit` (0 = none) bounds the entries removed, and a
    /// node that would pass it is left alone.
    pub fn trim(&mut self, to: TrimTo, approx: bool, limit: u64) -> u64 {
        let mut removed = 0u64;
        while let Some((&master, node)) = self.nodes.first_key_value() {
            if let TrimTo::MaxLen(max) = to {
                if self.length <= max {
                    break;
                }
            }
            let (live, _) = node.counts();
            if limit != 0 && removed + live > limit {
                break;
            }
            let whole_node = match to {
                TrimTo::MaxLen(max) => self.length - live >= max,
                TrimTo::MinId(min) => node.last_entry_id(master) < min,
            };
            if whole_node {
                self.nodes.remove(&master);
                self.length -= live;
                removed += live;
                continue;
            }
            if approx {
                break;
            }
            // Part of this node goes; the entries after it stay, so trimming ends here.
            let node = self.nodes.get_mut(&master).expect("the first node");
            let mut pos = node.first_entry_at();
            while pos < node.data.len() {
                let entry = node.entry_at(master, pos);
                let next = entry.end;
                if entry.flags & FLAG_DELETED == 0 {
                    let stop = match to {
                        TrimTo::MaxLen(max) => self.length <= max,
                        TrimTo::MinId(min) => entry.id >= min,
                    };
                    if stop {
                        break;
                    }
                    let live_left = node.mark_deleted(pos);
                    self.length -= 1;
                    removed += 1;
                    if live_left == 0 {
                        // Only deleted entries remain (the node's last one was deleted before).
                        self.nodes.remove(&master);
                        break;
                    }
                }
                pos = next;
            }
            break;
        }
        if removed > 0 {
            self.first_id = self.edge_id(false).unwrap_or(StreamId::MIN);
        }
        removed
    }

    /// The nodes as RDB writes them: master ID and a complete listpack (header, entries,
    /// terminator).
    pub fn nodes(&self) -> impl Iterator<Item = (StreamId, Vec<u8>)> + '_ {
        self.nodes
            .iter()
            .map(|(id, node)| (*id, node.to_listpack()))
    }

    /// Adds a node read from a file, after checking it is a well-formed stream node whose entries
    /// come after every entry already present; the metadata is set separately with
    /// [`Stream::restore_metadata`].
    pub fn push_node(&mut self, master: StreamId, listpack: &[u8]) -> Result<(), &'static str> {
        let entries = crate::listpack::decode(listpack)?;
        if entries.is_empty() {
            return Err("empty stream node");
        }
        let data = listpack[6..listpack.len() - 1].to_vec();
        let node = Node { data };
        // Redis may write a node whose entries are all deleted (trimming can leave one).
        let live = node.validate(master, self.last_entry_id())?;
        self.length += live;
        self.nodes.insert(master, node);
        Ok(())
    }

    /// The metadata RDB carries beside the nodes. The length must match the nodes read.
    pub fn restore_metadata(
        &mut self,
        length: u64,
        last_id: StreamId,
        first_id: StreamId,
        max_deleted_id: StreamId,
        entries_added: u64,
    ) -> Result<(), &'static str> {
        if length != self.length {
            return Err("stream length does not match its nodes");
        }
        if self.last_entry_id().is_some_and(|last| last > last_id) {
            return Err("stream last ID below its last entry");
        }
        self.last_id = last_id;
        self.first_id = first_id;
        self.max_deleted_id = max_deleted_id;
        self.entries_added = entries_added;
        Ok(())
    }

    /// How many entries a reader that has read up to `id` has read, when the stream's counters
    /// say it for certain (Redis's estimate of an ID's distance from the first entry ever
    /// added): 7.0's lag, and the entries-read a group loaded from a pre-7.0 file gets. None
    /// when deletions in between or an ID past the last one make it unknowable.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if self.length == 0 && id <= self.last_id {
            return Some(self.entries_added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(self.entries_added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        // Only with no deleted entry at or after the first one is the count before it known.
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            let before_first = self.entries_added - self.length;
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(before_first),
                std::cmp::Ordering::Equal => return Some(before_first + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// The ID of the last entry present, deleted or not.
    fn last_entry_id(&self) -> Option<StreamId> {
        self.nodes
            .last_key_value()
            .map(|(master, node)| node.last_entry_id(*master))
    }
}

/// One stream node's entries.
#[derive(Clone, Debug)]
struct Node {
    data: Vec<u8>,
}

/// Where an entry is inside its node, and what it holds.
struct Located<'a> {
    id: StreamId,
    flags: i64,
    entry: EntryRef<'a>,
    /// Where the next entry starts.
    end: usize,
}

fn int_at(data: &[u8], pos: usize) -> i64 {
    match elem_at(data, pos) {
        Elem::Int(n) => n,
        Elem::Str(s) => unreachable!("stream node counter stored as a string: {s:?}"),
    }
}

impl Node {
    /// A node whose master fields are `fields`' field names, holding no entry yet.
    fn with_master(fields: &[&[u8]]) -> Node {
        let mut data = Vec::new();
        Encoded::int(0).write_to(&mut data);
        Encoded::int(0).write_to(&mut data);
        Encoded::int((fields.len() / 2) as i64).write_to(&mut data);
        for field in fields.iter().step_by(2) {
            Encoded::new(field).write_to(&mut data);
        }
        Encoded::int(0).write_to(&mut data);
        Node { data }
    }

    /// Bytes as Redis counts a listpack's size.
    fn bytes(&self) -> usize {
        self.data.len() + LISTPACK_OVERHEAD
    }

    /// (live entries, deleted entries), from the master entry.
    fn counts(&self) -> (u64, u64) {
        let live = int_at(&self.data, 0);
        let deleted = int_at(&self.data, entry_len(&self.data, 0));
        (live as u64, deleted as u64)
    }

    /// Rewrites the integer element at `pos` (in place when its width does not change).
    fn replace_int(&mut self, pos: usize, n: i64) {
        let old = entry_len(&self.data, pos);
        let new = Encoded::int(n);
        if new.size() == old {
            let mut bytes = Vec::with_capacity(old);
            new.write_to(&mut bytes);
            self.data[pos..pos + old].copy_from_slice(&bytes);
        } else {
            self.data.splice(pos..pos + old, new.to_vec());
        }
    }

    fn set_counts(&mut self, live: u64, deleted: u64) {
        // `deleted` first: rewriting `count` may move it.
        let deleted_at = entry_len(&self.data, 0);
        self.replace_int(deleted_at, deleted as i64);
        self.replace_int(0, live as i64);
    }

    /// The master entry's field count and where its field names start.
    fn master_fields(&self) -> (usize, usize) {
        let mut pos = entry_len(&self.data, 0);
        pos += entry_len(&self.data, pos);
        let count = int_at(&self.data, pos) as usize;
        (count, pos + entry_len(&self.data, pos))
    }

    /// Where the first entry after the master entry starts.
    fn first_entry_at(&self) -> usize {
        let (count, mut pos) = self.master_fields();
        for _ in 0..count {
            pos += entry_len(&self.data, pos);
        }
        // The master entry's closing 0.
        pos + entry_len(&self.data, pos)
    }

    fn push_entry(&mut self, master: StreamId, id: StreamId, fields: &[&[u8]]) {
        let pairs = fields.len() / 2;
        let same_fields = {
            let (count, mut pos) = self.master_fields();
            count == pairs
                && fields.iter().step_by(2).all(|field| {
                    let matches = elem_at(&self.data, pos).matches(&Needle::new(field));
                    pos += entry_len(&self.data, pos);
                    matches
                })
        };
        let flags = if same_fields { FLAG_SAME_FIELDS } else { 0 };
        let data = &mut self.data;
        Encoded::int(flags).write_to(data);
        Encoded::int(id.ms.wrapping_sub(master.ms) as i64).write_to(data);
        Encoded::int(id.seq.wrapping_sub(master.seq) as i64).write_to(data);
        if same_fields {
            for value in fields.iter().skip(1).step_by(2) {
                Encoded::new(value).write_to(data);
            }
            Encoded::int(pairs as i64 + 3).write_to(data);
        } else {
            Encoded::int(pairs as i64).write_to(data);
            for item in fields {
                Encoded::new(item).write_to(data);
            }
            Encoded::int(2 * pairs as i64 + 4).write_to(data);
        }
        let (live, deleted) = self.counts();
        self.set_counts(live + 1, deleted);
    }

    /// Reads the entry whose flags are at `pos`.
    fn entry_at(&self, master: StreamId, pos: usize) -> Located<'_> {
        let data = &self.data[..];
        let flags = int_at(data, pos);
        let mut p = pos + entry_len(data, pos);
        let ms_diff = int_at(data, p);
        p += entry_len(data, p);
        let seq_diff = int_at(data, p);
        p += entry_len(data, p);
        let id = StreamId::new(
            master.ms.wrapping_add(ms_diff as u64),
            master.seq.wrapping_add(seq_diff as u64),
        );
        let (num_fields, names_at, values_at, per_field) = if flags & FLAG_SAME_FIELDS != 0 {
            let (count, names_at) = self.master_fields();
            (count, Some(names_at), p, 1)
        } else {
            let count = int_at(data, p) as usize;
            p += entry_len(data, p);
            (count, None, p, 2)
        };
        let mut end = values_at;
        for _ in 0..num_fields * per_field {
            end += entry_len(data, end);
        }
        // Past lp-count.
        end += entry_len(data, end);
        Located {
            id,
            flags,
            entry: EntryRef {
                id,
                data,
                num_fields,
                names_at,
                values_at,
            },
            end,
        }
    }

    /// Where the entry ending at `end` starts, read back through its lp-count.
    fn entry_start_before(&self, end: usize) -> usize {
        let count_at = entry_start_before(&self.data, end);
        let mut pos = count_at;
        for _ in 0..int_at(&self.data, count_at) {
            pos = entry_start_before(&self.data, pos);
        }
        pos
    }

    /// The last entry's ID, deleted or not.
    fn last_entry_id(&self, master: StreamId) -> StreamId {
        let at = self.entry_start_before(self.data.len());
        self.entry_at(master, at).id
    }

    /// Where the live entry `id` is, if it is in this node.
    fn find_live(&self, master: StreamId, id: StreamId) -> Option<usize> {
        let mut pos = self.first_entry_at();
        while pos < self.data.len() {
            let entry = self.entry_at(master, pos);
            if entry.id == id {
                return (entry.flags & FLAG_DELETED == 0).then_some(pos);
            }
            if entry.id > id {
                return None;
            }
            pos = entry.end;
        }
        None
    }

    /// Flags the entry at `pos` deleted; returns the live entries left.
    fn mark_deleted(&mut self, pos: usize) -> u64 {
        let flags = int_at(&self.data, pos);
        // Flags stay below 128, so this is a one-byte rewrite.
        self.replace_int(pos, flags | FLAG_DELETED);
        let (live, deleted) = self.counts();
        self.set_counts(live - 1, deleted + 1);
        live - 1
    }

    fn to_listpack(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes());
        let total = self.bytes() as u32;
        out.extend_from_slice(&total.to_le_bytes());
        // The element count, or 65535 ("count them") when it does not fit.
        let mut count = 0usize;
        let mut pos = 0;
        while pos < self.data.len() {
            pos += entry_len(&self.data, pos);
            count += 1;
        }
        out.extend_from_slice(&(count.min(65535) as u16).to_le_bytes());
        out.extend_from_slice(&self.data);
        out.push(0xFF);
        out
    }

    /// Checks a node read from a file entry by entry (the listpack itself is already valid):
    /// the master entry's shape and counts, every entry's shape, lp-count and flags, and IDs
    /// rising from `after`. Returns the live entries.
    fn validate(&self, master: StreamId, after: Option<StreamId>) -> Result<u64, &'static str> {
        let data = &self.data[..];
        // Walks one element, failing at the end of the node.
        let step = |pos: &mut usize| -> Result<Elem<'_>, &'static str> {
            if *pos >= data.len() {
                return Err("stream node truncated");
            }
            let elem = elem_at(data, *pos);
            *pos += entry_len(data, *pos);
            Ok(elem)
        };
        let int = |pos: &mut usize| -> Result<i64, &'static str> {
            match step(pos)? {
                Elem::Int(n) => Ok(n),
                Elem::Str(_) => Err("stream node integer expected"),
            }
        };
        let mut pos = 0;
        let live = int(&mut pos)?;
        let deleted = int(&mut pos)?;
        let master_fields = int(&mut pos)?;
        if live < 0 || deleted < 0 || master_fields < 0 {
            return Err("stream node negative count");
        }
        for _ in 0..master_fields {
            step(&mut pos)?;
        }
        if int(&mut pos)? != 0 {
            return Err("stream master entry not terminated");
        }
        if after.is_some_and(|last| master <= last) {
            return Err("stream node IDs out of order");
        }
        let (mut seen_live, mut seen_deleted) = (0i64, 0i64);
        let mut previous: Option<StreamId> = None;
        while pos < data.len() {
            let flags = int(&mut pos)?;
            if !(0..=3).contains(&flags) {
                return Err("stream entry flags invalid");
            }
            let ms = int(&mut pos)?;
            let seq = int(&mut pos)?;
            let id = StreamId::new(
                master.ms.wrapping_add(ms as u64),
                master.seq.wrapping_add(seq as u64),
            );
            if previous.is_some_and(|p| id <= p) || id < master {
                return Err("stream entry IDs out of order");
            }
            previous = Some(id);
            let elements = if flags & FLAG_SAME_FIELDS != 0 {
                for _ in 0..master_fields {
                    step(&mut pos)?;
                }
                master_fields + 3
            } else {
                let fields = int(&mut pos)?;
                if fields < 0 {
                    return Err("stream entry negative field count");
                }
                for _ in 0..2 * fields {
                    step(&mut pos)?;
                }
                2 * fields + 4
            };
            // The walk above read exactly `elements` elements; lp-count must say so.
            if int(&mut pos)? != elements {
                return Err("stream entry lp-count mismatch");
            }
            if flags & FLAG_DELETED != 0 {
                seen_deleted += 1;
            } else {
                seen_live += 1;
            }
        }
        if seen_live != live || seen_deleted != deleted {
            return Err("stream node counts do not match its entries");
        }
        Ok(live as u64)
    }
}

/// One entry, read in place.
#[derive(Clone, Copy, Debug)]
pub struct EntryRef<'a> {
    pub id: StreamId,
    data: &'a [u8],
    num_fields: usize,
    /// For an entry with the master's fields, where the master entry's field names start.
    names_at: Option<usize>,
    /// Where the values (same fields) or the field/value pairs start.
    values_at: usize,
}

impl<'a> EntryRef<'a> {
    pub fn num_fields(&self) -> usize {
        self.num_fields
    }

    /// The field/value pairs, in order.
    pub fn fields(&self) -> Fields<'a> {
        Fields {
            data: self.data,
            names_at: self.names_at,
            at: self.values_at,
            left: self.num_fields,
        }
    }
}

/// An entry's field/value pairs.
pub struct Fields<'a> {
    data: &'a [u8],
    names_at: Option<usize>,
    at: usize,
    left: usize,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (Elem<'a>, Elem<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let data = self.data;
        let field = match &mut self.names_at {
            Some(name) => {
                let field = elem_at(data, *name);
                *name += entry_len(data, *name);
                field
            }
            None => {
                let field = elem_at(data, self.at);
                self.at += entry_len(data, self.at);
                field
            }
        };
        let value = elem_at(data, self.at);
        self.at += entry_len(data, self.at);
        Some((field, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Entries in an ID range, from [`Stream::range`].
pub struct Range<'a> {
    nodes: std::collections::btree_map::Range<'a, StreamId, Node>,
    /// The node being read and the position of its next entry (forward: where it starts;
    /// reverse: where it ends), with where its entries begin.
    current: Option<(StreamId, &'a Node, usize, usize)>,
    start: StreamId,
    end: StreamId,
    rev: bool,
    /// Set once an entry past the range's far end was seen.
    done: bool,
}

impl<'a> Iterator for Range<'a> {
    type Item = EntryRef<'a>;

    fn next(&mut self) -> Option<EntryRef<'a>> {
        while !self.done {
            let Some((master, node, pos, first)) = self.current else {
                let (master, node) = if self.rev {
                    self.nodes.next_back()?
                } else {
                    self.nodes.next()?
                };
                let first = node.first_entry_at();
                let pos = if self.rev { node.data.len() } else { first };
                self.current = Some((*master, node, pos, first));
                continue;
            };
            if self.rev {
                if pos <= first {
                    self.current = None;
                    continue;
                }
                let at = node.entry_start_before(pos);
                self.current = Some((master, node, at, first));
                let found = node.entry_at(master, at);
                if found.id < self.start {
                    self.done = true;
                    return None;
                }
                if found.flags & FLAG_DELETED != 0 || found.id > self.end {
                    continue;
                }
                return Some(found.entry);
            }
            if pos >= node.data.len() {
                self.current = None;
                continue;
            }
            let found = node.entry_at(master, pos);
            self.current = Some((master, node, found.end, first));
            if found.id > self.end {
                self.done = true;
                return None;
            }
            if found.flags & FLAG_DELETED != 0 || found.id < self.start {
                continue;
            }
            return Some(found.entry);
        }
        None
    }
}

#[cfg(test)]
mod tests;
