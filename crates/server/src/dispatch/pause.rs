//! Paused clients, as Redis 7.0 pauses them: `CLIENT PAUSE timeout [WRITE|ALL]` for a time, and
//! FAILOVER and a shutdown, which pause writes until their replicas caught up. Each purpose
//! keeps its own pause (a later one for the same purpose only lengthens it or widens it from
//! WRITE to ALL; CLIENT UNPAUSE lifts the command's, not FAILOVER's), and the strongest in force
//! applies.
//!
//! A held command waits, its connection reading nothing further, until the pause lifts; it then
//! runs from the start of the pipeline, so a server that became a replica meanwhile answers it
//! with READONLY. Under WRITE a command is held when it may change the dataset or feed the
//! replication stream (a write, one marked `may_replicate` such as PUBLISH or PFCOUNT, a script
//! that may write, a write queued in MULTI, an EXEC that queued one); under ALL every command
//! is, the pausing client's own and CLIENT UNPAUSE included. Replicas and MONITOR clients are
//! never held, nor the AOF loader, nor the commands inside EXEC or a script (admitted as a
//! whole). A replica's master link is held like a client (its thread waits), as in Redis.
//!
//! While paused the keyspace also keeps expired keys (hidden from reads, deleted by nobody, as
//! on a replica) and nothing is evicted: a deletion would add to the stream and move the offset
//! the replicas must reach.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};

use crate::blocking::{Waiter, Wake};
use crate::client::{ClientKind, ClientState, ExecMode};
use crate::command::{flags, CommandEntry};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::server::Server;

/// What a pause holds; the stronger wins when two are in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum PauseKind {
    Write = 1,
    All = 2,
}

/// Who paused: each purpose's pause is set and lifted on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    ClientCommand = 0,
    Failover = 1,
    /// A shutdown waiting for the replicas to catch up.
    Shutdown = 2,
}

#[derive(Default)]
pub struct ClientPause {
    /// The strongest pause in force (0 none, else a [`PauseKind`]): the one atomic a command
    /// reads when nothing is paused.
    kind: AtomicU8,
    state: Mutex<State>,
    /// Wakes a master link's thread waiting for the pause to lift.
    lifted: Condvar,
}

#[derive(Default)]
struct State {
    /// Each purpose's pause: its kind and its end (Unix ms).
    purposes: [Option<(PauseKind, i64)>; 3],
    /// The clients whose command waits for the pause to lift; registered and woken under this
    /// lock, so none can register after the wake-up it would have needed.
    held: Vec<Weak<Waiter>>,
}

impl State {
    fn strongest(&self) -> Option<(PauseKind, i64)> {
        let kind = self
            .purposes
            .iter()
            .flatten()
            .map(|&(kind, _)| kind)
            .max()?;
        let end = self.purposes.iter().flatten().map(|&(_, end)| end).max()?;
        Some((kind, end))
    }
}

impl ClientPause {
    /// Whether writes are paused (by either kind).
    pub fn is_paused(&self) -> bool {
        self.kind.load(Relaxed) != 0
    }

    /// Pauses `kind` until `end_ms` (Unix ms) for `purpose`, keeping the longer end and the
    /// stronger kind of a pause it already had. The caller holds every gate, so no command is
    /// halfway through.
    pub fn pause(&self, server: &Server, purpose: Purpose, kind: PauseKind, end_ms: i64) {
        let mut state = self.state.lock();
        let slot = &mut state.purposes[purpose as usize];
        *slot = Some(match *slot {
            Some((old_kind, old_end)) => (old_kind.max(kind), old_end.max(end_ms)),
            None => (kind, end_ms),
        });
        self.update(server, &mut state);
    }

    /// Lifts `purpose`'s pause; the other purpose's stays.
    pub fn unpause(&self, server: &Server, purpose: Purpose) {
        let mut state = self.state.lock();
        state.purposes[purpose as usize] = None;
        self.update(server, &mut state);
    }

    /// Lifts the pauses whose time is up (the cron's check, and a held command's).
    pub fn expire(&self, server: &Server) {
        if self.is_paused() {
            self.update(server, &mut self.state.lock());
        }
    }

    /// Drops the pauses whose end passed and publishes the strongest left. When that is weaker
    /// than before, every held command runs again (and is held again if it still must be); when
    /// nothing is paused any more, the keyspace deletes expired keys again unless the server is
    /// a replica.
    fn update(&self, server: &Server, state: &mut State) {
        let now = redis_lite_engine::now_ms() as i64;
        for slot in &mut state.purposes {
            if slot.is_some_and(|(_, end)| end <= now) {
                *slot = None;
            }
        }
        let before = self.kind.load(Relaxed);
        let after = state.strongest().map_or(0, |(kind, _)| kind as u8);
        self.kind.store(after, Relaxed);
        match (before, after) {
            (0, 0) => {}
            (0, _) => server.keyspace.set_replica(true),
            (_, 0) => server
                .keyspace
                .set_replica(server.replication.replica.is_replica()),
            _ => {}
        }
        if after < before {
            for waiter in state.held.drain(..).filter_map(|w| w.upgrade()) {
                waiter.wake(Wake::Ready);
            }
            self.lifted.notify_all();
        }
    }

    /// Holds `waiter`'s command until the pause lifts. Returns when a timed pause ends at the
    /// latest (the client then runs its command again), or None when nothing is paused now.
    pub fn hold(&self, waiter: &Arc<Waiter>) -> Option<Instant> {
        let mut state = self.state.lock();
        let (_, end) = state.strongest()?;
        state.held.retain(|w| w.strong_count() > 0);
        state.held.push(Arc::downgrade(waiter));
        Some(deadline_at(end))
    }

    /// Clients whose command is held now (INFO's `blocked_clients` counts them, as Redis does).
    pub fn held_clients(&self) -> usize {
        if !self.is_paused() {
            return 0;
        }
        let state = self.state.lock();
        state.held.iter().filter(|w| w.strong_count() > 0).count()
    }

    /// Blocks the calling thread (a replica's master link) until the pause changes or ends.
    pub fn wait_for_change(&self, server: &Server) {
        let mut state = self.state.lock();
        if let Some((_, end)) = state.strongest() {
            self.lifted.wait_until(&mut state, deadline_at(end));
        }
        self.update(server, &mut state);
    }
}

/// The instant of a pause's end (Unix ms), capped at a day from now for ends that never come.
fn deadline_at(end_ms: i64) -> Instant {
    let now = redis_lite_engine::now_ms() as i64;
    let wait = end_ms.saturating_sub(now).clamp(0, 86_400_000);
    Instant::now() + Duration::from_millis(wait as u64)
}

/// Whether the pause holds this command of `client` (Redis's test: ALL holds everything; WRITE
/// a write or `may_replicate` command, EXEC judged by what it queued, a script by the flags it
/// declared).
pub fn holds(server: &Server, client: &ClientState, entry: &CommandEntry, args: &[&[u8]]) -> bool {
    if !server.pause.is_paused()
        || client.kind == ClientKind::AofLoader
        || !matches!(client.mode, ExecMode::Direct)
        || client.replica.as_ref().is_some_and(|r| r.link.is_some())
        || client.handle.is_monitor()
    {
        return false;
    }
    server.pause.expire(server);
    match server.pause.kind.load(Relaxed) {
        0 => false,
        kind if kind == PauseKind::All as u8 => true,
        _ => {
            if let Some(may_write) = server.scripting.run_may_write(&entry.full_name, args) {
                return may_write;
            }
            super::check::admitted_flags(client, entry) & (flags::WRITE | flags::MAY_REPLICATE) != 0
        }
    }
}

/// The flags a command queued in MULTI adds to its EXEC's: a script's are those it declared
/// (`Scripting::run_command_flags`), so that a WRITE pause, a read-only or a stale replica
/// judge its EXEC as they would judge the script alone, and one that may write counts as
/// `may_replicate` (Redis folds a queued command's flags, a script's declared ones included,
/// into the transaction's).
pub fn queued_flags(server: &Server, entry: &CommandEntry, args: &[&[u8]]) -> u32 {
    let scripting = &server.scripting;
    let flags = scripting.run_command_flags(&entry.full_name, entry.spec.flags, args);
    match scripting.run_may_write(&entry.full_name, args) {
        Some(true) => flags | flags::MAY_REPLICATE,
        _ => flags,
    }
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub fn client_pause(ctx: &mut Ctx<'_>) -> CmdResult {
    let kind = match ctx.arg_count() {
        3 => PauseKind::All,
        4 if ctx.arg_is(3, "WRITE") => PauseKind::Write,
        4 if ctx.arg_is(3, "ALL") => PauseKind::All,
        4 => return Err(CommandError::err("CLIENT PAUSE mode must be WRITE or ALL")),
        _ => return Err(CommandError::subcommand_syntax("CLIENT", ctx.arg(1))),
    };
    let timeout = ctx
        .arg_i64(2)
        .map_err(|_| CommandError::err("timeout is not an integer or out of range"))?;
    if timeout < 0 {
        return Err(CommandError::err("timeout is negative"));
    }
    // Redis adds the time without a check: an end past the largest time wraps into the past,
    // which ends the pause at once.
    let end = timeout.wrapping_add(ctx.now_ms as i64);
    ctx.server
        .pause
        .pause(ctx.server, Purpose::ClientCommand, kind, end);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
pub fn client_unpause(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.server.pause.unpause(ctx.server, Purpose::ClientCommand);
    ctx.out.ok();
    Ok(())
}
