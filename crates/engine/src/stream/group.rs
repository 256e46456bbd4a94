//! Consumer groups: where a group has read up to, the entries delivered to its consumers and not
//! yet acknowledged (the pending entries list, PEL), and its consumers, each with its own view
//! of the PEL. Names are shared between a consumer and its pending entries, so a PEL of many
//! entries does not copy the name per entry.
//!
//! Also here: what Redis 7.0 derives from a stream's counters for groups (a group's read
//! counter, its lag) and the shape of the radix tree Redis would hold the stream's nodes in,
//! which XINFO STREAM reports.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{Stream, StreamId};

/// One consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerGroup {
    /// The last ID delivered to the group (`>` reads after it).
    pub last_id: StreamId,
    /// How many of the stream's entries the group has read, for 7.0's lag; None when it
    /// cannot be known (after XGROUP SETID to an arbitrary ID, say).
    pub entries_read: Option<u64>,
    /// Delivered, not yet acknowledged entries, by ID.
    pub pending: BTreeMap<StreamId, PendingEntry>,
    /// Consumers by name, in byte order (as XINFO CONSUMERS lists them).
    pub consumers: BTreeMap<Arc<[u8]>, Consumer>,
}

/// A pending entry: who has it, when it was last delivered, how many times.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingEntry {
    pub consumer: Arc<[u8]>,
    /// Unix milliseconds of the last delivery.
    pub delivery_time: u64,
    pub delivery_count: u64,
}

/// A consumer: when it was last seen and the IDs it holds in the group's PEL.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Consumer {
    /// Unix milliseconds of the consumer's last read or claim.
    pub seen_time: u64,
    pub pending: BTreeSet<StreamId>,
}

/// How a claim changes a pending entry's delivery count (XCLAIM's RETRYCOUNT and JUSTID).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeliveryCount {
    /// One more delivery.
    Increment,
    /// Left as it is (JUSTID).
    Keep,
    /// Set to this (RETRYCOUNT).
    Set(u64),
}

impl ConsumerGroup {
    pub fn new(last_id: StreamId, entries_read: Option<u64>) -> Self {
        ConsumerGroup {
            last_id,
            entries_read,
            pending: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// The consumer `name`, created (seen now) when missing; true when it was created.
    pub fn consumer_or_create(&mut self, name: &[u8], now_ms: u64) -> (&mut Consumer, bool) {
        let created = !self.consumers.contains_key(name);
        if created {
            self.consumers.insert(
                Arc::from(name),
                Consumer {
                    seen_time: now_ms,
                    pending: BTreeSet::new(),
                },
            );
        }
        (
            self.consumers.get_mut(name).expect("present or just added"),
            created,
        )
    }

    /// The name a consumer map holds, to share with pending entries.
    pub fn consumer_name(&self, name: &[u8]) -> Option<Arc<[u8]>> {
        self.consumers.get_key_value(name).map(|(k, _)| k.clone())
    }

    /// Removes the consumer `name` and its pending entries (from the group's PEL too); returns
    /// how many it had, None when there is no such consumer.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let consumer = self.consumers.remove(name)?;
        for id in &consumer.pending {
            self.pending.remove(id);
        }
        Some(consumer.pending.len())
    }

    /// Moves the group's last delivered ID to `id`, a new entry read past it, and keeps its
    /// read counter as Redis does: one more while it is valid and no deleted entry lies at or
    /// after `id`, otherwise estimated again from the stream's counters.
    pub fn advance_to(&mut self, id: StreamId, stream: &StreamCounters) {
        debug_assert!(id > self.last_id);
        match self.entries_read {
            Some(read) if !stream.has_tombstones_from(id) => {
                self.entries_read = Some(read.wrapping_add(1));
            }
            _ if stream.entries_added > 0 => {
                self.entries_read = stream.estimate_entries_read(id);
            }
            _ => {}
        }
        self.last_id = id;
    }

    /// Delivers `id` to `consumer` (which exists): a new pending entry delivered once, now; or,
    /// when the entry was already pending (XGROUP SETID moved the group back), the entry moves
    /// to `consumer` and its delivery restarts at one.
    pub fn deliver(&mut self, id: StreamId, consumer: &Arc<[u8]>, now_ms: u64) -> &PendingEntry {
        if let Some(previous) = self.pending.get(&id) {
            if let Some(owner) = self.consumers.get_mut(&previous.consumer) {
                owner.pending.remove(&id);
            }
        }
        self.pending.insert(
            id,
            PendingEntry {
                consumer: consumer.clone(),
                delivery_time: now_ms,
                delivery_count: 1,
            },
        );
        self.consumers
            .get_mut(consumer)
            .expect("the consumer exists")
            .pending
            .insert(id);
        &self.pending[&id]
    }

    /// Gives the pending entry `id` to `consumer` (which exists), with `delivery_time` and its
    /// count changed as `count` says. A missing entry is created first (XCLAIM's FORCE), as
    /// delivered once, so that a claim without JUSTID counts it delivered twice, as in Redis.
    pub fn claim(
        &mut self,
        id: StreamId,
        consumer: &Arc<[u8]>,
        delivery_time: u64,
        count: DeliveryCount,
    ) -> &PendingEntry {
        let entry = self.pending.entry(id).or_insert_with(|| PendingEntry {
            consumer: consumer.clone(),
            delivery_time,
            delivery_count: 1,
        });
        if entry.consumer != *consumer {
            if let Some(owner) = self.consumers.get_mut(&entry.consumer) {
                owner.pending.remove(&id);
            }
            entry.consumer = consumer.clone();
        }
        entry.delivery_time = delivery_time;
        match count {
            DeliveryCount::Increment => entry.delivery_count += 1,
            DeliveryCount::Keep => {}
            DeliveryCount::Set(n) => entry.delivery_count = n,
        }
        self.consumers
            .get_mut(consumer)
            .expect("the consumer exists")
            .pending
            .insert(id);
        &self.pending[&id]
    }

    /// Removes `id` from the PEL (acknowledged, or its entry deleted); returns what it was.
    pub fn remove_pending(&mut self, id: StreamId) -> Option<PendingEntry> {
        let entry = self.pending.remove(&id)?;
        if let Some(owner) = self.consumers.get_mut(&entry.consumer) {
            owner.pending.remove(&id);
        }
        Some(entry)
    }

    /// Heap bytes, roughly: tree entries and names.
    pub fn heap_size(&self) -> usize {
        const PEL_ENTRY: usize =
            std::mem::size_of::<StreamId>() + std::mem::size_of::<PendingEntry>() + 8;
        const CONSUMER_PEL_ENTRY: usize = std::mem::size_of::<StreamId>() + 8;
        self.pending.len() * PEL_ENTRY
            + self
                .consumers
                .iter()
                .map(|(name, c)| {
                    name.len()
                        + std::mem::size_of::<Consumer>()
                        + c.pending.len() * CONSUMER_PEL_ENTRY
                })
                .sum::<usize>()
    }
}

/// The counters of a stream that a group's read counter and lag derive from, copied out so a
/// group can be changed while they are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamCounters {
    pub length: u64,
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
}

impl StreamCounters {
    /// Whether a deleted entry may lie at or after `start`: the stream is not empty, its
    /// largest deleted ID is not below `start`, and not below its first live entry either (a
    /// deletion before the first entry fragments nothing).
    fn has_tombstones_from(&self, start: StreamId) -> bool {
        self.length > 0
            && !self.max_deleted_id.is_zero()
            && self.max_deleted_id >= self.first_id
            && self.max_deleted_id >= start
    }

    /// How many entries a reader has read once it read up to `id` (Redis's distance from the
    /// first entry ever added), when the counters can tell: exactly at the ends of the stream,
    /// by subtraction before the first entry while no deletion fragments the stream; None for a
    /// future ID or one among deleted entries.
    pub fn estimate_entries_read(&self, id: StreamId) -> Option<u64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if id >= self.last_id {
            // A future ID's counter is unknown; the last ID's is every entry added.
            return (id == self.last_id).then_some(self.entries_added);
        }
        if self.length == 0 {
            return Some(self.entries_added);
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            // No deleted entry lies among the live ones.
            let before_first = self.entries_added - self.length;
            if id < self.first_id {
                return Some(before_first);
            }
            if id == self.first_id {
                return Some(before_first + 1);
            }
        }
        None
    }

    /// A group's lag: the entries added that it has not read yet; None when it cannot be
    /// known (XINFO replies null). Negative when XGROUP SETID's ENTRIESREAD claimed more
    /// entries than were added, as Redis reports it.
    pub fn lag(&self, group: &ConsumerGroup) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let read = match group.entries_read {
            Some(read) if !self.has_tombstones_from(group.last_id) => read,
            _ => self.estimate_entries_read(group.last_id)?,
        };
        Some((self.entries_added as i64).wrapping_sub(read as i64))
    }
}

impl Stream {
    pub fn counters(&self) -> StreamCounters {
        StreamCounters {
            length: self.length,
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
        }
    }

    /// Whether `id` is a live entry.
    pub fn contains(&self, id: StreamId) -> bool {
        self.range(id, id, false).next().is_some()
    }

    /// How many nodes the stream has (XINFO's `radix-tree-keys`: Redis keys its radix tree by
    /// node).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// How many nodes Redis's radix tree would have for the nodes' master IDs (XINFO's
    /// `radix-tree-nodes`): the compressed trie of their 16-byte big-endian forms, where a run
    /// of single-child positions is one node, each branching position one node, each key's
    /// end one node, and the empty tree its root. Redis's tree had this shape in every case
    /// compared (appends, whole nodes removed by XDEL and trimming; see the tests); a removal
    /// that Redis's tree does not fully merge back would differ.
    pub fn radix_tree_nodes(&self) -> usize {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|id| id.to_be_bytes()).collect();
        if keys.is_empty() {
            return 1;
        }
        trie_nodes(&keys, 0)
    }
}

/// Nodes of the compressed trie holding `keys` (sorted, distinct, 16 bytes, sharing their
/// first `depth` bytes), counted from the node that starts at `depth`.
fn trie_nodes(keys: &[[u8; 16]], depth: usize) -> usize {
    let (first, last) = (&keys[0], &keys[keys.len() - 1]);
    if keys.len() == 1 {
        // A compressed node for the rest of the key, then the key's end; or the end alone.
        return if depth == 16 { 1 } else { 2 };
    }
    // Sorted keys share what the first and the last share.
    let common = (depth..16).take_while(|&i| first[i] == last[i]).count();
    let branch_at = depth + common;
    let compressed = usize::from(common > 0);
    let mut nodes = compressed + 1;
    let mut rest = keys;
    while let Some(head) = rest.first() {
        let byte = head[branch_at];
        let same = rest.iter().take_while(|k| k[branch_at] == byte).count();
        nodes += trie_nodes(&rest[..same], branch_at + 1);
        rest = &rest[same..];
    }
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::NodeLimits;

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    fn stream_with(ids: &[StreamId]) -> Stream {
        let mut s = Stream::new();
        for &i in ids {
            s.append(i, &[b"f", b"v"], NodeLimits::default());
        }
        s
    }

    fn group_with_consumers(names: &[&str]) -> ConsumerGroup {
        let mut g = ConsumerGroup::new(StreamId::MIN, Some(0));
        for name in names {
            g.consumer_or_create(name.as_bytes(), 0);
        }
        g
    }

    fn name(g: &ConsumerGroup, n: &str) -> Arc<[u8]> {
        g.consumer_name(n.as_bytes()).expect("consumer")
    }

    #[test]
    fn delivery_claim_ack_keep_both_pels_in_step() {
        let mut g = group_with_consumers(&["a", "b"]);
        let (a, b) = (name(&g, "a"), name(&g, "b"));
        g.deliver(id(1, 0), &a, 10);
        g.deliver(id(2, 0), &a, 10);
        // Delivered again (after SETID) to another consumer: it moves, counted from one.
        let again = g.deliver(id(1, 0), &b, 20).clone();
        assert_eq!((again.delivery_count, again.delivery_time), (1, 20));
        assert_eq!(g.consumers[&a].pending, BTreeSet::from([id(2, 0)]));
        assert_eq!(g.consumers[&b].pending, BTreeSet::from([id(1, 0)]));

        assert_eq!(
            g.claim(id(2, 0), &b, 30, DeliveryCount::Increment)
                .delivery_count,
            2
        );
        assert_eq!(
            g.claim(id(2, 0), &b, 31, DeliveryCount::Keep)
                .delivery_count,
            2
        );
        assert_eq!(
            g.claim(id(2, 0), &b, 32, DeliveryCount::Set(9))
                .delivery_count,
            9
        );
        assert!(g.consumers[&a].pending.is_empty());
        // FORCE: a claim creates the pending entry, delivered once before this claim.
        assert_eq!(
            g.claim(id(3, 0), &a, 40, DeliveryCount::Increment)
                .delivery_count,
            2
        );

        assert_eq!(
            g.remove_pending(id(2, 0)).map(|p| p.delivery_count),
            Some(9)
        );
        assert_eq!(g.remove_pending(id(2, 0)), None);
        assert_eq!(g.delete_consumer(b"b"), Some(1));
        assert_eq!(g.delete_consumer(b"b"), None);
        assert_eq!(g.pending.keys().copied().collect::<Vec<_>>(), [id(3, 0)]);
    }

    #[test]
    fn read_counter_and_lag_follow_redis_rules() {
        // Entries 2-1, 3-1, 4-1 after 1-1 was added and deleted.
        let mut s = stream_with(&[id(1, 1), id(2, 1), id(3, 1), id(4, 1)]);
        s.delete(id(1, 1));
        let mut g = ConsumerGroup::new(StreamId::MIN, None);
        let c = s.counters();
        // Before the first entry, no fragmentation after it: 4 added - 3 live.
        assert_eq!(c.estimate_entries_read(StreamId::MIN), Some(1));
        assert_eq!(c.lag(&g), Some(3));
        g.advance_to(id(2, 1), &c);
        assert_eq!((g.entries_read, c.lag(&g)), (Some(2), Some(2)));
        // A deletion after the group's position makes the lag unknown...
        s.delete(id(3, 1));
        let c = s.counters();
        assert_eq!(c.lag(&g), None);
        // ...until the group reads past it.
        g.advance_to(id(4, 1), &c);
        assert_eq!((g.entries_read, c.lag(&g)), (Some(3), Some(1)));
        // A future ID's counter is unknown; the last ID's is everything added.
        assert_eq!(c.estimate_entries_read(id(9, 0)), None);
        assert_eq!(c.estimate_entries_read(id(4, 1)), Some(4));
    }

    #[test]
    fn an_emptied_stream_counts_everything_read_up_to_its_last_id() {
        let mut s = stream_with(&[id(1, 1), id(2, 1)]);
        s.delete(id(1, 1));
        s.delete(id(2, 1));
        let c = s.counters();
        assert_eq!(c.lag(&ConsumerGroup::new(StreamId::MIN, None)), Some(0));
        assert_eq!(c.lag(&ConsumerGroup::new(id(3, 1), None)), None);
        assert_eq!(Stream::new().counters().lag(&g_at(id(5, 0))), Some(0));
    }

    fn g_at(last: StreamId) -> ConsumerGroup {
        ConsumerGroup::new(last, None)
    }

    #[test]
    fn radix_tree_nodes_match_redis_shapes() {
        // Counts read from Redis 7.0.15's XINFO STREAM for the same master IDs.
        assert_eq!(Stream::new().radix_tree_nodes(), 1);
        assert_eq!(stream_with(&[id(1, 1)]).radix_tree_nodes(), 2);
        let limits = NodeLimits {
            max_bytes: 4096,
            max_entries: 1,
        };
        let mut s = Stream::new();
        let mut shapes = Vec::new();
        for ms in [1, 2, 3, 256, 257, 65536] {
            s.append(id(ms, u64::from(ms < 4)), &[b"f", b"v"], limits);
            shapes.push(s.radix_tree_nodes());
        }
        assert_eq!(s.node_count(), 6);
        assert_eq!(shapes[2], 8);
        assert_eq!(shapes[5], 17);
        // Removals (XDEL of a node's only entry, trimming) as Redis's tree merges back.
        s.delete(id(2, 1));
        assert_eq!(s.radix_tree_nodes(), 15);
        s.delete(id(1, 1));
        s.delete(id(3, 1));
        assert_eq!(s.radix_tree_nodes(), 10);
        s.trim(crate::stream::TrimTo::MaxLen(2), false, 0);
        assert_eq!((s.node_count(), s.radix_tree_nodes()), (2, 6));
    }
}
