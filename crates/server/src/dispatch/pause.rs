//! Paused writes (Redis's `CLIENT PAUSE WRITE`, which FAILOVER takes while its replicas catch
//! up): a client's command that may change the dataset or feed the replication stream (a
//! write, one marked `may_replicate` such as PUBLISH or EVAL, a write queued in MULTI, an EXEC
//! that queued one) waits, its connection reading nothing further, until writes resume; it then
//! runs from the start of the pipeline, so a server that became a replica meanwhile answers it
//! with READONLY. Reads go on. Commands a server obeys (its master's, the AOF loader's) and
//! those inside EXEC or a script, admitted as a whole, are never held.
//!
//! While paused the keyspace also keeps expired keys (hidden from reads, deleted by nobody, as
//! on a replica): a deletion would add to the stream and move the offset the replicas must
//! reach.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::blocking::{Waiter, Wake};
use crate::client::{ClientState, ExecMode};
use crate::command::{flags, CommandEntry};
use crate::server::Server;

#[derive(Default)]
pub struct WritePause {
    paused: AtomicBool,
    /// The clients whose command waits for writes to resume; registered and woken under this
    /// lock, so none can register after the wake-up it would have needed.
    held: Mutex<Vec<Weak<Waiter>>>,
}

impl WritePause {
    pub fn is_paused(&self) -> bool {
        self.paused.load(Relaxed)
    }

    /// Pauses writes. The caller holds every gate, so no write is halfway through.
    pub fn pause(&self, server: &Server) {
        let _held = self.held.lock();
        self.paused.store(true, Relaxed);
        server.keyspace.set_replica(true);
    }

    /// Resumes writes: every held command runs again. The keyspace deletes expired keys again
    /// unless the server became a replica meanwhile.
    pub fn resume(&self, server: &Server) {
        let mut held = self.held.lock();
        if !self.paused.swap(false, Relaxed) {
            return;
        }
        server
            .keyspace
            .set_replica(server.replication.replica.is_replica());
        for waiter in held.drain(..).filter_map(|w| w.upgrade()) {
            waiter.wake(Wake::Ready);
        }
    }

    /// Holds `waiter`'s command until writes resume; false when they already have.
    pub fn hold(&self, waiter: &Arc<Waiter>) -> bool {
        let mut held = self.held.lock();
        if !self.is_paused() {
            return false;
        }
        held.retain(|w| w.strong_count() > 0);
        held.push(Arc::downgrade(waiter));
        true
    }
}

/// Whether the pause holds this command of `client` (Redis's test: write or `may_replicate`,
/// EXEC judged by what it queued, a script by the flags it declared).
pub fn holds(server: &Server, client: &ClientState, entry: &CommandEntry, args: &[&[u8]]) -> bool {
    if !server.pause.is_paused()
        || client.kind.obeyed()
        || !matches!(client.mode, ExecMode::Direct)
        || client.replica.as_ref().is_some_and(|r| r.link.is_some())
    {
        return false;
    }
    if let Some(may_write) = server.scripting.run_may_write(&entry.full_name, args) {
        return may_write;
    }
    super::check::admitted_flags(client, entry) & (flags::WRITE | flags::MAY_REPLICATE) != 0
}
