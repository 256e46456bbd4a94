//! FAILOVER: a master hands its role to one of its replicas without losing a write, as Redis
//! 6.2+ does it. The master pauses writes (`dispatch::pause`) and waits (`waiting-for-sync`)
//! until the target replica, or with no TO the first replica to do so, acknowledged the
//! master's whole stream; it then becomes a replica of the target (`failover-in-progress`),
//! whose PSYNC carries a `FAILOVER` argument: the target, seeing its own replication ID in it,
//! promotes itself and continues the old master's stream. Once the target accepted the PSYNC
//! writes resume (a replica's clients now get READONLY); if it refused it, the old master is a
//! master again. A TIMEOUT that passes while waiting aborts, or with FORCE fails over anyway.
//!
//! Other replicas are not moved: the old master drops them, they reconnect to it and follow
//! the new master through it, as chained replicas.

use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::dispatch::pause::{PauseKind, Purpose};
use crate::log;
use crate::server::Server;

/// Where a failover stands, as INFO's `master_failover_state` names it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Phase {
    #[default]
    NoFailover,
    /// Writes are paused until the target acknowledged the master's offset.
    WaitingForSync,
    /// This server is a replica of the target, whose answer to `PSYNC ... FAILOVER` is awaited.
    InProgress,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::NoFailover => "no-failover",
            Phase::WaitingForSync => "waiting-for-sync",
            Phase::InProgress => "failover-in-progress",
        }
    }
}

#[derive(Default)]
struct State {
    phase: Phase,
    /// The replica taken over by, once chosen: given with TO, or the first to catch up.
    target: Option<(String, i64)>,
    deadline: Option<Instant>,
    force: bool,
}

/// A failover's state. Its lock is taken before any other replication lock, and transitions
/// happen under it, so FAILOVER ABORT, the cron and the master link never cross.
#[derive(Default)]
pub struct Failover {
    state: Mutex<State>,
}

/// What FAILOVER asked, once its arguments were checked.
pub struct Request {
    pub target: Option<(String, i64)>,
    pub timeout_ms: Option<u64>,
    pub force: bool,
}

impl Failover {
    pub fn phase(&self) -> Phase {
        self.state.lock().phase
    }

    /// Starts a failover: writes pause and the cron watches the replicas' acknowledgements.
    /// The caller (FAILOVER, an exclusive command) holds every gate and checked the request.
    pub fn start(&self, server: &Server, request: Request) {
        let mut state = self.state.lock();
        match &request.target {
            Some((host, port)) => log!(Notice, "FAILOVER requested to {host}:{port}."),
            None => log!(Notice, "FAILOVER requested to any replica."),
        }
        *state = State {
            phase: Phase::WaitingForSync,
            target: request.target,
            deadline: request
                .timeout_ms
                .map(|ms| Instant::now() + Duration::from_millis(ms)),
            force: request.force,
        };
        server
            .pause
            .pause(server, Purpose::Failover, PauseKind::Write, i64::MAX);
    }

    /// FAILOVER ABORT, a timeout, or a target that refused: back to a master (if this server
    /// became a replica already) with writes resumed. Nothing when no failover is in progress.
    pub fn abort(&self, server: &Server, why: &str) {
        let mut state = self.state.lock();
        if state.phase == Phase::NoFailover {
            return;
        }
        match &state.target {
            Some((host, port)) => log!(Notice, "FAILOVER to {host}:{port} aborted: {why}"),
            None => log!(Notice, "FAILOVER to any replica aborted: {why}"),
        }
        if state.phase == Phase::InProgress {
            super::replica::unset_master(server);
        }
        Self::clear(server, &mut state);
    }

    /// The target answered `PSYNC ... FAILOVER`: accepted (`+CONTINUE` or `+FULLRESYNC`), the
    /// failover is done; refused, it is aborted. Called by the master link; nothing unless a
    /// failover is in progress.
    pub fn target_answered(&self, server: &Server, accepted: bool) {
        if self.phase() != Phase::InProgress {
            return;
        }
        match accepted {
            true => Self::clear(server, &mut self.state.lock()),
            false => self.abort(server, "Failover target rejected psync request"),
        }
    }

    /// Becomes a replica of the target, whose link's `PSYNC ... FAILOVER` asks it to take over.
    fn hand_over(server: &Arc<Server>, state: &mut State, host: String, port: i64, why: &str) {
        log!(Notice, "{why}");
        state.phase = Phase::InProgress;
        super::replica::follow(server, host, port as u16);
    }

    fn clear(server: &Server, state: &mut State) {
        *state = State::default();
        server.pause.unpause(server, Purpose::Failover);
    }

    /// The cron's part, each tick: while waiting for the target to catch up, fail over once it
    /// acknowledged the master's offset, or when the timeout passes abort (or with FORCE fail
    /// over all the same).
    pub fn cron(&self, server: &Arc<Server>) {
        let mut state = self.state.lock();
        if state.phase != Phase::WaitingForSync {
            return;
        }
        if state.deadline.is_some_and(|at| Instant::now() >= at) {
            if !state.force {
                drop(state);
                self.abort(server, "Replica never caught up before timeout");
                return;
            }
            let (host, port) = state.target.clone().expect("FORCE requires a target");
            let why = format!("FAILOVER to {host}:{port} time out exceeded, failing over.");
            Self::hand_over(server, &mut state, host, port, &why);
            return;
        }
        let replication = &server.replication;
        let offset = replication.backlog.pull();
        let replicas = replication.master.acknowledgements();
        let synced = match &state.target {
            Some((host, port)) => replicas
                .iter()
                .any(|r| r.ip.eq_ignore_ascii_case(host) && r.port == *port && r.acked == offset),
            None => match replicas.iter().find(|r| r.acked == offset) {
                Some(replica) => {
                    state.target = Some((replica.ip.clone(), replica.port));
                    true
                }
                None => false,
            },
        };
        if synced {
            let (host, port) = state.target.clone().expect("chosen above");
            let why = format!("Failover target {host}:{port} is synced, failing over.");
            Self::hand_over(server, &mut state, host, port, &why);
        }
    }
}
