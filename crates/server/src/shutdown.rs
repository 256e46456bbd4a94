//! Shutting down (SHUTDOWN, SIGTERM, SIGINT) as Redis 7.0 does: a master whose replicas have
//! not all acknowledged its whole stream first pauses writes, asks them for an ACK and waits,
//! up to `shutdown-timeout` seconds, so that a replica that lagged does not lose the last
//! writes; the cron finishes the shutdown once they caught up or the time is up. SHUTDOWN's
//! clients wait blocked meanwhile. SHUTDOWN ABORT, or a shutdown that fails (the final save, an
//! initial AOF still being written), answers them with an error and writes resume. A signal
//! only schedules a shutdown, which the cron starts (Redis's `shutdown_asap`): SHUTDOWN ABORT
//! can cancel it before that too.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::blocking::{Waiter, Wake};
use crate::dispatch::pause::{PauseKind, Purpose};
use crate::log;
use crate::server::Server;

/// What a shutdown does once the replicas are done with: SHUTDOWN's flags, or those of
/// `shutdown-on-sigterm` / `shutdown-on-sigint`, resolved.
#[derive(Clone, Copy)]
pub struct Plan {
    /// Save a snapshot first.
    pub save: bool,
    /// Exit even when that save, or the initial AOF, fails.
    pub force: bool,
}

struct Waiting {
    plan: Plan,
    deadline: Instant,
    /// The SHUTDOWN clients blocked until it ends (they are answered only when it fails).
    clients: Vec<Arc<Waiter>>,
}

/// The shutdown waiting for the replicas, if one is, and one a signal scheduled.
#[derive(Default)]
pub struct Shutdown {
    waiting: Mutex<Option<Waiting>>,
    /// A signal's shutdown (its plan, and whether `now`) that the cron has yet to start.
    signalled: Mutex<Option<(Plan, bool)>>,
    /// The final steps (save, exit) run now.
    finishing: std::sync::atomic::AtomicBool,
}

impl Shutdown {
    /// INFO's `shutdown_in_milliseconds`, while a shutdown waits for the replicas.
    pub fn remaining_ms(&self) -> Option<u128> {
        let waiting = self.waiting.lock();
        let left = waiting
            .as_ref()?
            .deadline
            .saturating_duration_since(Instant::now());
        Some(left.as_millis())
    }

    /// Starts a shutdown: the process exits here unless it waits for the replicas (true; also
    /// when one already waits) or failed (false, logged). When it waits, `block` blocks the
    /// SHUTDOWN client, if there is one, until the shutdown ends without exiting.
    pub fn begin(
        &self,
        server: &Server,
        plan: Plan,
        now: bool,
        block: impl FnOnce() -> Option<Arc<Waiter>>,
    ) -> bool {
        let mut waiting = self.waiting.lock();
        if let Some(waiting) = waiting.as_mut() {
            waiting.clients.extend(block());
            return true;
        }
        log!(Warning, "User requested shutdown...");
        let timeout_secs = server.config.read().process.shutdown_timeout;
        let offset = server.replication.backlog.pull();
        if !now && timeout_secs != 0 && !server.replication.master.all_acknowledged(offset) {
            *waiting = Some(Waiting {
                plan,
                deadline: Instant::now() + Duration::from_secs(timeout_secs as u64),
                clients: block().into_iter().collect(),
            });
            server.replication.master.request_ack(server);
            server
                .pause
                .pause(server, Purpose::Shutdown, PauseKind::Write, i64::MAX);
            log!(Notice, "Waiting for replicas before shutting down.");
            return true;
        }
        drop(waiting);
        self.finish(server, plan);
        false
    }

    /// A signal's shutdown, started by the cron's next round.
    pub fn schedule(&self, plan: Plan, now: bool) {
        *self.signalled.lock() = Some((plan, now));
    }

    /// Whether a shutdown is scheduled by a signal, waits for the replicas or saves (a second
    /// SIGINT then ends the process at once).
    pub fn in_progress(&self) -> bool {
        self.signalled.lock().is_some()
            || self.waiting.lock().is_some()
            || self.finishing.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// SHUTDOWN ABORT: how many waiting SHUTDOWN clients it answered with an error, or None
    /// when no shutdown is scheduled or waits.
    pub fn abort(&self, server: &Server) -> Option<usize> {
        let scheduled = self.signalled.lock().take().is_some();
        let answered = self.cancel(server);
        if answered.is_none() && !scheduled {
            return None;
        }
        log!(Notice, "Shutdown manually aborted.");
        Some(answered.unwrap_or(0))
    }

    /// The cron's part: starts a signal's shutdown; finishes a waiting shutdown once every
    /// replica acknowledged the whole stream, or its time is up.
    pub fn cron(&self, server: &Server) {
        let signalled = self.signalled.lock().take();
        if let Some((plan, now)) = signalled {
            self.begin(server, plan, now, || None);
            return;
        }
        let plan = match self.waiting.lock().as_ref() {
            Some(waiting) => {
                let offset = server.replication.backlog.pull();
                let due = Instant::now() >= waiting.deadline
                    || server.replication.master.all_acknowledged(offset);
                match due {
                    true => waiting.plan,
                    false => return,
                }
            }
            None => return,
        };
        self.finish(server, plan);
        self.cancel(server);
    }

    /// Reports the replicas, then stops the process (see [`Server::exit`]); returns, logged,
    /// when that failed.
    fn finish(&self, server: &Server, plan: Plan) {
        use std::sync::atomic::Ordering::Relaxed;
        self.finishing.store(true, Relaxed);
        let offset = server.replication.backlog.pull();
        let (replicas, lagging) = server.replication.master.lagging_behind(offset);
        for replica in &lagging {
            log!(Warning, "Lagging replica {replica}.");
        }
        if replicas > 0 {
            log!(
                Notice,
                "{} of {replicas} replicas are in sync when shutting down.",
                replicas - lagging.len()
            );
        }
        server.exit(plan.save, plan.force);
        self.finishing.store(false, Relaxed);
        log!(
            Warning,
            "Errors trying to shut down the server. Check the logs for more information."
        );
    }

    /// Ends a waiting shutdown without exiting: its clients get an error, writes resume.
    /// Returns how many clients it answered, None when no shutdown waited.
    fn cancel(&self, server: &Server) -> Option<usize> {
        let waiting = self.waiting.lock().take()?;
        for client in &waiting.clients {
            client.wake(Wake::Timeout);
        }
        server.pause.unpause(server, Purpose::Shutdown);
        Some(waiting.clients.len())
    }
}

/// The error a SHUTDOWN that did not end the process answers.
pub const FAILED: &str = "Errors trying to SHUTDOWN. Check logs.";
