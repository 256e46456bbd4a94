//! ACL LOG: the latest refusals (a denied command, key or channel, a failed AUTH), newest
//! first, at most `acllog-max-len`. A refusal like one of the ten newest entries (same reason,
//! context, object and user) within 60 seconds of it counts into that entry, which moves to
//! the front, as Redis 7.0 groups them.

use std::collections::VecDeque;
use std::time::{SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;

/// How far back a refusal is grouped with an earlier one.
const GROUPING_MS: u64 = 60_000;
/// How many of the newest entries a refusal is compared with.
const GROUPING_SCAN: usize = 10;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reason {
    Command,
    Key,
    Channel,
    Auth,
}

impl Reason {
    fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

/// Where the refused command was run from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    Toplevel,
    Multi,
    Lua,
}

impl Context {
    fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

pub struct Entry {
    pub count: u64,
    pub reason: Reason,
    pub context: Context,
    /// The command's name, the key or channel, or `auth`.
    pub object: Vec<u8>,
    pub username: Vec<u8>,
    /// When it last happened (Unix ms).
    pub updated_ms: u64,
    /// The client's CLIENT LIST line when it last happened.
    pub client_info: String,
}

impl Entry {
    /// The entry as ACL LOG shows it: seven fields, in Redis 7.0's order.
    pub fn fields(&self, now_ms: u64) -> [(&'static str, Field<'_>); 7] {
        [
            ("count", Field::Integer(self.count as i64)),
            ("reason", Field::Text(self.reason.name().as_bytes())),
            ("context", Field::Text(self.context.name().as_bytes())),
            ("object", Field::Text(&self.object)),
            ("username", Field::Text(&self.username)),
            (
                "age-seconds",
                Field::Double(now_ms.saturating_sub(self.updated_ms) as f64 / 1000.0),
            ),
            (
                "client-info",
                Field::Text(self.client_info.trim_end().as_bytes()),
            ),
        ]
    }
}

pub enum Field<'a> {
    Integer(i64),
    Text(&'a [u8]),
    Double(f64),
}

#[derive(Default)]
pub struct AclLog {
    entries: Mutex<VecDeque<Entry>>,
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl AclLog {
    /// Records a refusal, grouping it with a recent one like it.
    pub fn add(&self, mut entry: Entry, max_len: usize) {
        let mut entries = self.entries.lock();
        let like = entries.iter().take(GROUPING_SCAN).position(|e| {
            e.reason == entry.reason
                && e.context == entry.context
                && e.object == entry.object
                && e.username == entry.username
                && entry.updated_ms.saturating_sub(e.updated_ms) <= GROUPING_MS
        });
        if let Some(index) = like {
            let mut earlier = entries.remove(index).expect("found above");
            earlier.count += 1;
            earlier.updated_ms = entry.updated_ms;
            earlier.client_info = std::mem::take(&mut entry.client_info);
            entries.push_front(earlier);
            return;
        }
        entries.push_front(entry);
        entries.truncate(max_len);
    }

    /// Runs `f` over the newest `count` entries.
    pub fn newest<R>(
        &self,
        count: usize,
        f: impl FnOnce(&mut dyn Iterator<Item = &Entry>) -> R,
    ) -> R {
        let entries = self.entries.lock();
        f(&mut entries.iter().take(count))
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}
