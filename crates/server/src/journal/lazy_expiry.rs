//! The DELs of keys a client's command finds expired, held back on the command's thread so
//! that they join the command's unit, as Redis 7 propagates them (`alsoPropagate`): a write on
//! its own expired key streams `MULTI`, `DEL k`, the write, `EXEC`; a read that expired two keys
//! streams both DELs in one MULTI/EXEC, one bare. The command's record takes them
//! (`Ctx::record`); those left are appended when the shards they were found under are about to
//! be released (`KeyEvents::expiries_unlocking`), so per key the stream's order stays the
//! order of the changes. SCAN and RANDOMKEY stream each DEL bare instead ([`unframed`]), as
//! Redis 7.0 does. Outside a client's command (active expiry, EXEC and scripts, whose unit is
//! open already) nothing is held.

use std::cell::RefCell;

use super::Journal;

/// A key found expired: its database and name.
pub type ExpiredKey = (usize, Vec<u8>);

#[derive(Default)]
pub struct Held {
    keys: Vec<ExpiredKey>,
    /// The offset the command's reply waits for, from DELs appended on their own.
    offset: u64,
    /// Each DEL is appended as a unit of its own (see [`unframed`]).
    unframed: bool,
}

thread_local! {
    /// Set while a client's command runs on this thread (see [`begin`]).
    static HELD: RefCell<Option<Held>> = const { RefCell::new(None) };
}

/// A client's command starts on this thread: keys it finds expired are held from now on.
/// Returns what was held before, for [`end`] to put back: a busy script's command suspended on
/// this thread while another client's command runs.
pub fn begin() -> Option<Held> {
    HELD.replace(Some(Held::default()))
}

/// The command ended: appends what is still held (nothing, when its lock released them) and
/// puts `before` back. Returns the offset its reply waits for because of those DELs.
pub fn end(journal: &Journal, before: Option<Held>) -> u64 {
    // Looked at before anything is taken: most commands find no key expired.
    if HELD.with_borrow(|held| held.as_ref().is_some_and(|h| !h.keys.is_empty())) {
        release(journal);
    }
    HELD.replace(before).map_or(0, |held| held.offset)
}

/// Holds the DEL of `key` in `db` for the running command. False when no command of a client
/// runs here: the caller appends it at once.
pub fn hold(db: usize, key: &[u8]) -> bool {
    HELD.with_borrow_mut(|held| match held {
        Some(held) => {
            held.keys.push((db, key.to_vec()));
            true
        }
        None => false,
    })
}

/// The running command streams the DELs of the keys it finds expired one by one, each bare,
/// instead of in one MULTI/EXEC: Redis 7.0's SCAN and RANDOMKEY do (its suite's "Lazy-expire
/// should not be wrapped in MULTI/EXEC").
pub fn unframed() {
    HELD.with_borrow_mut(|held| {
        if let Some(held) = held {
            held.unframed = true;
        }
    });
}

/// The DELs held so far, for the command's record to put before itself.
pub fn take() -> Vec<ExpiredKey> {
    HELD.with_borrow_mut(|held| held.as_mut().map(|h| std::mem::take(&mut h.keys)))
        .unwrap_or_default()
}

/// Appends the DELs held so far on their own (framed as one unit when several).
pub fn release(journal: &Journal) {
    let keys = take();
    if keys.is_empty() {
        return;
    }
    let unframed = HELD.with_borrow(|held| held.as_ref().is_some_and(|h| h.unframed));
    let offset = match unframed {
        true => keys
            .chunks(1)
            .map(|key| journal.record_expired(key))
            .max()
            .unwrap_or_default(),
        false => journal.record_expired(&keys),
    };
    HELD.with_borrow_mut(|held| {
        if let Some(held) = held {
            held.offset = held.offset.max(offset);
        }
    });
}
