//! Pub/sub: which clients are subscribed to which channels and patterns, delivery of messages
//! to them from any thread, and its commands ([`pubsub_family`]). Each client has a push queue that
//! its connection drains; the bytes waiting in it and in its output are bounded by
//! `client-output-buffer-limit pubsub`, and a subscriber that falls too far behind is
//! disconnected.

pub mod pubsub_family;

use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use parking_lot::RwLock;
use redis_lite_engine::glob::glob_match;

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
}

impl Push {
    /// Bytes this message occupies while queued, for the output buffer limit.
    pub fn size(&self) -> usize {
        match self {
            Push::Message { channel, message } => channel.len() + message.len() + 32,
            Push::PMessage {
                pattern,
                channel,
                message,
            } => pattern.len() + channel.len() + message.len() + 48,
        }
    }
}

/// A channel or pattern name, shared by every message sent on it.
type Name = Arc<[u8]>;
type Subscribers = Vec<Arc<ClientHandle>>;

#[derive(Default)]
pub struct PubSub {
    channels: RwLock<HashMap<Name, Subscribers>>,
    /// Patterns in subscription order, as Redis delivers them.
    patterns: RwLock<Vec<(Name, Arc<ClientHandle>)>>,
    limit: RwLock<BufferLimit>,
}

impl PubSub {
    pub fn set_limit(&self, limit: BufferLimit) {
        *self.limit.write() = limit;
    }

    /// Adds a subscription; false if the client already had it.
    pub fn subscribe(&self, client: &Arc<ClientHandle>, channel: &[u8]) -> bool {
        let mut channels = self.channels.write();
        let subscribers = channels.entry(channel.into()).or_default();
        if subscribers.iter().any(|c| c.id == client.id) {
            return false;
        }
        subscribers.push(client.clone());
        true
    }

    pub fn unsubscribe(&self, client_id: u64, channel: &[u8]) -> bool {
        let mut channels = self.channels.write();
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
        let mut receivers = 0;
        if let Some(subscribers) = self.channels.read().get(&channel) {
            for client in subscribers {
                let push = Push::Message {
                    channel: channel.clone(),
                    message: message.clone(),
                };
                receivers += usize::from(deliver(client, push, limit));
            }
        }
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

    /// PUBSUB CHANNELS: active channels matching `pattern` (all when None).
    pub fn channels(&self, pattern: Option<&[u8]>) -> Vec<Arc<[u8]>> {
        self.channels
            .read()
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    }

    pub fn subscriber_count(&self, channel: &[u8]) -> usize {
        self.channels.read().get(channel).map_or(0, Vec::len)
    }

    /// PUBSUB NUMPAT: patterns subscribed to, counting each distinct pattern once.
    pub fn pattern_count(&self) -> usize {
        let patterns = self.patterns.read();
        let mut distinct: Vec<&[u8]> = patterns.iter().map(|(p, _)| &**p).collect();
        distinct.sort_unstable();
        distinct.dedup();
        distinct.len()
    }

    /// Drops every subscription of a client that is going away.
    pub fn remove_client(&self, client_id: u64) {
        self.channels.write().retain(|_, subscribers| {
            subscribers.retain(|c| c.id != client_id);
            !subscribers.is_empty()
        });
        self.patterns.write().retain(|(_, c)| c.id != client_id);
    }
}

/// Queues a message for a subscriber, disconnecting it when its pending output passes the
/// limit. Returns whether the client received it.
fn deliver(client: &ClientHandle, push: Push, limit: BufferLimit) -> bool {
    if client.is_killed() {
        return false;
    }
    client.pending_push_bytes.fetch_add(push.size(), Relaxed);
    if client.check_output(client.pending_output(), limit) == OutputCheck::Exceeded {
        client.close_for_output_limit();
        return false;
    }
    client.send_push(push);
    true
}
