//! Pub/sub: which clients are subscribed to which channels, patterns and shard channels,
//! delivery of messages to them from any thread, and its commands ([`pubsub_family`]). Shard
//! channels (SSUBSCRIBE, SPUBLISH) are a name space of their own: a message published on one
//! reaches only that space's subscribers, never a pattern. Each client has a push queue that
//! its connection drains; the bytes waiting in it and in its output are bounded by
//! `client-output-buffer-limit pubsub`, and a subscriber that falls too far behind is
//! disconnected.

pub mod pubsub_family;

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use redis_lite_engine::glob::glob_match;
use redis_lite_protocol::ReplyWriter;

use crate::client::{BufferLimit, ClientHandle, OutputCheck};

/// A message on its way to a subscriber.
#[derive(Debug, Clone)]
pub enum Push {
    Message {
        channel: Arc<[u8]>,
        message: Arc<[u8]>,
    },
    PMessage {
        pattern: Arc<[u8]>,
        channel: Arc<[u8]>,
        message: Arc<[u8]>,
    },
    /// A message published on a shard channel (SPUBLISH).
    SMessage {
        channel: Arc<[u8]>,
        message: Arc<[u8]>,
    },
    /// This node no longer serves the shard channel's slot: the subscription is gone, and
    /// `remaining` is how many shard channels the client still has, as SUNSUBSCRIBE says.
    ShardUnsubscribed {
        channel: Arc<[u8]>,
        remaining: usize,
    },
    /// A message already encoded for its receiver: client tracking's invalidations, and
    /// MONITOR's lines (a status reply in either protocol, shared by every monitor).
    Encoded(Arc<[u8]>),
}

impl Push {
    /// Encodes the message; returns the bytes it had counted against the buffer limit.
    pub fn write(&self, out: &mut ReplyWriter<'_>) -> usize {
        match self {
            Push::Message { channel, message } | Push::SMessage { channel, message } => {
                let kind: &[u8] = match self {
                    Push::SMessage { .. } => b"smessage",
                    _ => b"message",
                };
                out.push(3);
                out.bulk(kind);
                out.bulk(channel);
                out.bulk(message);
            }
            Push::PMessage {
                pattern,
                channel,
                message,
            } => {
                out.push(4);
                out.bulk(b"pmessage");
                out.bulk(pattern);
                out.bulk(channel);
                out.bulk(message);
            }
            Push::ShardUnsubscribed { channel, remaining } => {
                out.push(3);
                out.bulk(b"sunsubscribe");
                out.bulk(channel);
                out.integer(*remaining as i64);
            }
            Push::Encoded(frame) => out.raw(frame),
        }
        self.size()
    }

    /// Bytes this message occupies while queued, for the output buffer limit.
    pub fn size(&self) -> usize {
        match self {
            Push::Message { channel, message } | Push::SMessage { channel, message } => {
                channel.len() + message.len() + 32
            }
            Push::PMessage {
                pattern,
                channel,
                message,
            } => pattern.len() + channel.len() + message.len() + 48,
            Push::ShardUnsubscribed { channel, .. } => channel.len() + 32,
            Push::Encoded(frame) => frame.len(),
        }
    }

    /// What the push changes in its receiver's own state, as its connection writes it: a
    /// shard channel dropped by the node leaves the client's list.
    pub fn received_by(&self, client: &mut crate::client::ClientState) {
        if let Push::ShardUnsubscribed { channel, .. } = self {
            client.shard_channels.retain(|c| **c != **channel);
        }
    }
}

/// A channel or pattern name, shared by every message sent on it.
type Name = Arc<[u8]>;
type Subscribers = Vec<Arc<ClientHandle>>;

/// The two channel spaces: classic channels (SUBSCRIBE, PUBLISH) and shard channels
/// (SSUBSCRIBE, SPUBLISH).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Space {
    Classic,
    Shard,
}

/// One channel space: each channel with its subscribers, in subscription order.
#[derive(Default)]
struct ChannelTable(RwLock<HashMap<Name, Subscribers>>);

impl ChannelTable {
    fn subscribe(&self, client: &Arc<ClientHandle>, channel: &[u8]) -> bool {
        let mut channels = self.0.write();
        let subscribers = channels.entry(channel.into()).or_default();
        if subscribers.iter().any(|c| c.id == client.id) {
            return false;
        }
        subscribers.push(client.clone());
        true
    }

    fn unsubscribe(&self, client_id: u64, channel: &[u8]) -> bool {
        let mut channels = self.0.write();
        let Some(subscribers) = channels.get_mut(channel) else {
            return false;
        };
        let before = subscribers.len();
        subscribers.retain(|c| c.id != client_id);
        let removed = subscribers.len() != before;
        if subscribers.is_empty() {
            channels.remove(channel);
        }
        removed
    }

    /// Queues a `push()` for every subscriber of `channel`; returns how many received it.
    fn deliver(&self, channel: &Name, push: impl Fn() -> Push, limit: BufferLimit) -> usize {
        self.0.read().get(channel).map_or(0, |subscribers| {
            subscribers
                .iter()
                .map(|client| usize::from(deliver(client, push(), limit)))
                .sum()
        })
    }

    fn names(&self, pattern: Option<&[u8]>) -> Vec<Name> {
        self.0
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    fn subscriber_count(&self, channel: &[u8]) -> usize {
        self.0.read().get(channel).map_or(0, Vec::len)
    }

    fn len(&self) -> usize {
        self.0.read().len()
    }

    fn remove_client(&self, client_id: u64) {
        self.0.write().retain(|_, subscribers| {
            subscribers.retain(|c| c.id != client_id);
            !subscribers.is_empty()
        });
    }
}

#[derive(Default)]
pub struct PubSub {
    channels: ChannelTable,
    shard_channels: ChannelTable,
    /// Patterns in subscription order, as Redis delivers them.
    patterns: RwLock<Vec<(Name, Arc<ClientHandle>)>>,
    limit: RwLock<BufferLimit>,
}

impl PubSub {
    pub fn set_limit(&self, limit: BufferLimit) {
        *self.limit.write() = limit;
    }

    fn table(&self, space: Space) -> &ChannelTable {
        match space {
            Space::Classic => &self.channels,
            Space::Shard => &self.shard_channels,
        }
    }

    /// Adds a subscription; false if the client already had it.
    pub fn subscribe(&self, space: Space, client: &Arc<ClientHandle>, channel: &[u8]) -> bool {
        self.table(space).subscribe(client, channel)
    }

    pub fn unsubscribe(&self, space: Space, client_id: u64, channel: &[u8]) -> bool {
        self.table(space).unsubscribe(client_id, channel)
    }

    pub fn psubscribe(&self, client: &Arc<ClientHandle>, pattern: &[u8]) -> bool {
        let mut patterns = self.patterns.write();
        if patterns
            .iter()
            .any(|(p, c)| c.id == client.id && **p == *pattern)
        {
            return false;
        }
        patterns.push((pattern.into(), client.clone()));
        true
    }

    pub fn punsubscribe(&self, client_id: u64, pattern: &[u8]) -> bool {
        let mut patterns = self.patterns.write();
        let before = patterns.len();
        patterns.retain(|(p, c)| !(c.id == client_id && **p == *pattern));
        patterns.len() != before
    }

    /// Delivers `message` to every subscriber of `channel` and every matching pattern, and
    /// returns how many received it.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let limit = *self.limit.read();
        let channel: Arc<[u8]> = channel.into();
        let message: Arc<[u8]> = message.into();
        let push = || Push::Message {
            channel: channel.clone(),
            message: message.clone(),
        };
        let mut receivers = self.channels.deliver(&channel, push, limit);
        for (pattern, client) in self.patterns.read().iter() {
            if glob_match(pattern, &channel, false) {
                let push = Push::PMessage {
                    pattern: pattern.clone(),
                    channel: channel.clone(),
                    message: message.clone(),
                };
                receivers += usize::from(deliver(client, push, limit));
            }
        }
        receivers
    }

    /// SPUBLISH: delivers `message` to the subscribers of the shard channel `channel` only.
    pub fn spublish(&self, channel: &[u8], message: &[u8]) -> usize {
        let limit = *self.limit.read();
        let channel: Arc<[u8]> = channel.into();
        let message: Arc<[u8]> = message.into();
        let push = || Push::SMessage {
            channel: channel.clone(),
            message: message.clone(),
        };
        self.shard_channels.deliver(&channel, push, limit)
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: active channels matching `pattern` (all when None).
    pub fn channels(&self, space: Space, pattern: Option<&[u8]>) -> Vec<Arc<[u8]>> {
        self.table(space).names(pattern)
    }

    pub fn subscriber_count(&self, space: Space, channel: &[u8]) -> usize {
        self.table(space).subscriber_count(channel)
    }

    /// Channels with at least one subscriber (INFO's `pubsub_channels`,
    /// `pubsubshard_channels`).
    pub fn channel_count(&self, space: Space) -> usize {
        self.table(space).len()
    }

    /// PUBSUB NUMPAT: patterns subscribed to, counting each distinct pattern once.
    pub fn pattern_count(&self) -> usize {
        let patterns = self.patterns.read();
        let mut distinct: Vec<&[u8]> = patterns.iter().map(|(p, _)| &**p).collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len()
    }

    /// Queues a message for `client` as subscribers' messages are, under the same output
    /// limit; false when it did not take it.
    pub fn deliver_push(&self, client: &ClientHandle, push: Push) -> bool {
        deliver(client, push, *self.limit.read())
    }

    /// Every subscription of the clients `of` selects, as (client, name, whether it is a
    /// pattern): ACL SETUSER disconnects those a user's new rules no longer allow.
    pub fn subscriptions(
        &self,
        of: impl Fn(&ClientHandle) -> bool,
    ) -> Vec<(Arc<ClientHandle>, Name, bool)> {
        let mut found = Vec::new();
        for table in [&self.channels, &self.shard_channels] {
            for (name, subscribers) in table.0.read().iter() {
                for client in subscribers.iter().filter(|c| of(c)) {
                    found.push((client.clone(), name.clone(), false));
                }
            }
        }
        for (pattern, client) in self.patterns.read().iter().filter(|(_, c)| of(c)) {
            found.push((client.clone(), pattern.clone(), true));
        }
        found
    }

    /// Drops the shard channels `lost` selects (those in slots this node's shard stopped
    /// serving), each subscriber told with an `sunsubscribe`, as Redis's `clusterDelSlot` does.
    pub fn drop_shard_channels(&self, lost: impl Fn(&[u8]) -> bool) {
        let mut pushes = Vec::new();
        {
            let mut table = self.shard_channels.0.write();
            let names: Vec<Name> = table.keys().filter(|c| lost(c)).cloned().collect();
            for name in names {
                for client in table.remove(&name).unwrap_or_default() {
                    let remaining = table
                        .values()
                        .filter(|subscribers| subscribers.iter().any(|c| c.id == client.id))
                        .count();
                    let channel = name.clone();
                    pushes.push((client, Push::ShardUnsubscribed { channel, remaining }));
                }
            }
        }
        // Delivered without the table's lock: a client past its output limit leaves the
        // tables as it closes.
        let limit = *self.limit.read();
        for (client, push) in pushes {
            deliver(&client, push, limit);
        }
    }

    /// Drops every subscription of a client that is going away.
    pub fn remove_client(&self, client_id: u64) {
        self.channels.remove_client(client_id);
        self.shard_channels.remove_client(client_id);
        self.patterns.write().retain(|(_, c)| c.id != client_id);
    }
}

/// Queues a message for a client (a subscriber, or a tracking client's invalidation),
/// disconnecting it when its pending output passes the limit. Returns whether the client
/// received it.
pub(crate) fn deliver(client: &ClientHandle, push: Push, limit: BufferLimit) -> bool {
    if client.is_killed() {
        return false;
    }
    let pending = client.pending_output() + push.size() as u64;
    if client.check_output(pending, limit) == OutputCheck::Exceeded {
        client.close_for_output_limit();
        return false;
    }
    client.send_push(push);
    // Counted at once, so client eviction before the publisher's next command sees it.
    client.recount_memory();
    true
}
