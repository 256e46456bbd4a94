//! Keyspace notifications: the `notify-keyspace-events` flags and the events commands emit.
//! Publishing goes through pub/sub, to `__keyspace@<db>__:<key>` and `__keyevent@<db>__:<event>`.

use std::sync::atomic::{AtomicU32, Ordering::Relaxed};
use std::sync::Arc;

use crate::pubsub::PubSub;

/// Emits keyspace notifications, for commands and for the engine's own expirations.
pub struct Notifier {
    pub pubsub: Arc<PubSub>,
    flags: AtomicU32,
}

impl Notifier {
    pub fn new(pubsub: Arc<PubSub>) -> Self {
        Notifier {
            pubsub,
            flags: AtomicU32::new(0),
        }
    }

    pub fn set_flags(&self, flags: u32) {
        self.flags.store(flags, Relaxed);
    }

    /// Publishes `event` on `key` in database `db` if `notify-keyspace-events` selects it.
    pub fn emit(&self, db: usize, key: &[u8], class: Class, event: &str) {
        let flags = self.flags.load(Relaxed);
        if flags & class.bit() == 0 {
            return;
        }
        if flags & KEYSPACE != 0 {
            let mut channel = format!("__keyspace@{db}__:").into_bytes();
            channel.extend_from_slice(key);
            self.pubsub.publish(&channel, event.as_bytes());
        }
        if flags & KEYEVENT != 0 {
            let channel = format!("__keyevent@{db}__:{event}");
            self.pubsub.publish(channel.as_bytes(), key);
        }
    }
}

/// Event classes, with the flag letters of `notify-keyspace-events`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Class {
    Generic,
    String,
    List,
    Set,
    Hash,
    ZSet,
    Expired,
    Evicted,
    Stream,
    KeyMiss,
    Module,
    NewKey,
}

pub const KEYSPACE: u32 = 1 << 0;
pub const KEYEVENT: u32 = 1 << 1;

/// Class bits in the order Redis prints them.
const CLASSES: &[(Class, char)] = &[
    (Class::Generic, 'g'),
    (Class::String, '$'),
    (Class::List, 'l'),
    (Class::Set, 's'),
    (Class::Hash, 'h'),
    (Class::ZSet, 'z'),
    (Class::Expired, 'x'),
    (Class::Evicted, 'e'),
    (Class::Stream, 't'),
    (Class::KeyMiss, 'm'),
    (Class::Module, 'd'),
    (Class::NewKey, 'n'),
];

impl Class {
    pub fn bit(self) -> u32 {
        let index = CLASSES
            .iter()
            .position(|(c, _)| *c == self)
            .expect("every class is listed");
        1 << (2 + index)
    }
}

/// `A`: every class except key-miss and new-key, as in Redis.
fn all_bits() -> u32 {
    CLASSES
        .iter()
        .filter(|(c, _)| !matches!(c, Class::KeyMiss | Class::NewKey))
        .map(|(c, _)| c.bit())
        .sum()
}

/// Parses a `notify-keyspace-events` value.
pub fn parse_flags(text: &str) -> Result<u32, String> {
    let mut flags = 0;
    for ch in text.chars() {
        flags |= match ch {
            'A' => all_bits(),
            'K' => KEYSPACE,
            'E' => KEYEVENT,
            c => CLASSES
                .iter()
                .find(|(_, letter)| *letter == c)
                .map(|(class, _)| class.bit())
                .ok_or("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")?,
        };
    }
    Ok(flags)
}

/// Formats flags as Redis prints them: `A` when it applies, the remaining classes, then K and E.
pub fn format_flags(flags: u32) -> String {
    let mut out = String::new();
    let all = all_bits();
    let mut rest = flags;
    if flags & all == all {
        out.push('A');
        rest &= !all;
    }
    for (class, letter) in CLASSES {
        if rest & class.bit() != 0 {
            out.push(*letter);
        }
    }
    if flags & KEYSPACE != 0 {
        out.push('K');
    }
    if flags & KEYEVENT != 0 {
        out.push('E');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_in_redis_order() {
        assert_eq!(format_flags(parse_flags("KA").unwrap()), "AK");
        assert_eq!(format_flags(parse_flags("Elg").unwrap()), "glE");
        assert_eq!(format_flags(parse_flags("").unwrap()), "");
        assert_eq!(
            format_flags(parse_flags("Am").unwrap()),
            "AmK".replace('K', "")
        );
        assert_eq!(
            parse_flags("Q").unwrap_err(),
            "Invalid event class character. Use 'Ag$lshzxeKEtmdn'."
        );
    }
}
