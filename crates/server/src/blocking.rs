//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN...). A blocking command that finds
//! nothing registers a waiter on each of its keys while still holding their shard locks, so no
//! push can slip between its check and its registration. A command that makes a key non-empty
//! wakes the first waiter on it; the waiter's connection re-runs its command while still first
//! in line (further pushes wake only it), and once served leaves the queue and wakes the next.
//! So waiters are served first-come, first-served per key, as in single-threaded Redis.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use redis_lite_protocol::ReplyWriter;

/// Why a blocked client was woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// A key it waits on may have data: re-run the command.
    Ready,
    /// CLIENT UNBLOCK ... TIMEOUT: reply as if the timeout passed.
    Timeout,
    /// CLIENT UNBLOCK ... ERROR.
    Error,
}

/// One blocked client's place in the key queues.
pub struct Waiter {
    wake: Mutex<Option<Wake>>,
    notify: tokio::sync::Notify,
}

impl Waiter {
    pub fn new() -> Arc<Waiter> {
        Arc::new(Waiter {
            wake: Mutex::new(None),
            notify: tokio::sync::Notify::new(),
        })
    }

    /// Wakes the client; the first reason given wins.
    pub fn wake(&self, reason: Wake) {
        let mut wake = self.wake.lock();
        if wake.is_none() {
            *wake = Some(reason);
            self.notify.notify_one();
        }
    }

    /// Why the waiter was woken, if it was; resets it for another round.
    pub fn take_wake(&self) -> Option<Wake> {
        self.wake.lock().take()
    }

    /// Waits until woken and returns why, resetting the waiter for another round.
    pub async fn woken(&self) -> Wake {
        loop {
            if let Some(reason) = self.take_wake() {
                return reason;
            }
            self.notify.notified().await;
        }
    }
}

/// What a blocked client is waiting to do.
pub struct BlockedCommand {
    pub waiter: Arc<Waiter>,
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    /// The command, re-run when a key becomes ready.
    pub args: Vec<Vec<u8>>,
    /// Its id in the command table, for INFO commandstats when it times out.
    pub command: usize,
    /// None: wait forever.
    pub deadline: Option<Instant>,
    /// The reply when the timeout passes (a null of the command's shape).
    pub on_timeout: fn(&mut ReplyWriter<'_>),
}

type Queues = HashMap<(usize, Vec<u8>), VecDeque<Arc<Waiter>>>;

#[derive(Default)]
pub struct Blocking {
    queues: Mutex<Queues>,
    /// Clients blocked right now (INFO `blocked_clients`), and a cheap "anyone waiting?" test
    /// for writes.
    blocked: AtomicUsize,
}

impl Blocking {
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Relaxed)
    }

    /// Queues `waiter` at the back of every key's line.
    pub fn register(&self, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
        let mut queues = self.queues.lock();
        for key in keys {
            queues
                .entry((db, key.clone()))
                .or_default()
                .push_back(waiter.clone());
        }
        self.blocked.fetch_add(1, Relaxed);
    }

    /// Removes `waiter` from every key's queue (served, timed out, or disconnected).
    pub fn deregister(&self, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
        let mut queues = self.queues.lock();
        for key in keys {
            let slot = (db, key.clone());
            if let Some(queue) = queues.get_mut(&slot) {
                queue.retain(|w| !Arc::ptr_eq(w, waiter));
                if queue.is_empty() {
                    queues.remove(&slot);
                }
            }
        }
        self.blocked.fetch_sub(1, Relaxed);
    }

    /// A key may have become non-empty: wake the first client waiting on it.
    pub fn signal(&self, db: usize, key: &[u8]) {
        let queues = self.queues.lock();
        if let Some(first) = queues.get(&(db, key.to_vec())).and_then(|q| q.front()) {
            first.wake(Wake::Ready);
        }
    }
}

/// Parses a blocking command's timeout in seconds as Redis does: a float, where 0 means
/// forever. Returns milliseconds.
pub fn parse_timeout(arg: &[u8]) -> Result<u64, crate::error::CommandError> {
    use crate::error::CommandError;
    let secs = redis_lite_protocol::number::parse_f64(arg)
        .filter(|s| s.is_finite())
        .ok_or(CommandError::err("timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // Redis converts to a C long long; a value beyond it comes out negative there.
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CommandError::err("timeout is negative"));
    }
    Ok(ms as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_come_first_served_and_the_woken_keep_their_turn() {
        let blocking = Blocking::default();
        let (a, b) = (Waiter::new(), Waiter::new());
        let keys = vec![b"k".to_vec()];
        blocking.register(0, &keys, &a);
        blocking.register(0, &keys, &b);
        blocking.signal(0, b"k");
        assert_eq!(a.take_wake(), Some(Wake::Ready));
        // While `a` re-runs its command, more pushes still wake only `a`.
        blocking.signal(0, b"k");
        assert_eq!(*b.wake.lock(), None);
        assert_eq!(a.take_wake(), Some(Wake::Ready));
        // Served, `a` leaves; the next push wakes `b`.
        blocking.deregister(0, &keys, &a);
        blocking.signal(0, b"k");
        assert_eq!(*b.wake.lock(), Some(Wake::Ready));
        assert_eq!(blocking.blocked_clients(), 1);
    }

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(parse_timeout(b"1.5").unwrap(), 1500);
        assert_eq!(parse_timeout(b"0").unwrap(), 0);
        assert_eq!(
            parse_timeout(b"x").unwrap_err().to_string(),
            "ERR timeout is not a float or out of range"
        );
        assert_eq!(
            parse_timeout(b"-1").unwrap_err().to_string(),
            "ERR timeout is negative"
        );
        assert_eq!(
            parse_timeout(b"1e100").unwrap_err().to_string(),
            "ERR timeout is negative"
        );
    }
}
