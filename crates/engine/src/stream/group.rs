//! Consumer groups: where a group has read up to, the entries delivered to its consumers and not
//! yet acknowledged (the pending entries list, PEL), and its consumers, each with its own view
//! of the PEL. Names are shared between a consumer and its pending entries, so a PEL of many
//! entries does not copy the name per entry.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::StreamId;

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
