//! The command pipeline every command runs through, whoever runs it (a client's connection,
//! EXEC, the AOF loader): look it up, admit it ([`check`]: an ordered list of rules, or queue it
//! inside MULTI), then call it inside its gate with the bookkeeping every command needs
//! (statistics, eviction after writes, the AOF sequence its reply waits for, blocked clients to
//! wake) and CLIENT REPLY's filtering of the reply.

pub mod check;
pub mod pause;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use redis_lite_protocol::ReplyWriter;

use crate::blocking::{BlockedCommand, Waiter, WakeOrder};
use crate::client::{ClientKind, ClientState, ExecMode, ReplyMode};
use crate::command::{self, CommandEntry};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::journal::lazy_expiry;
use crate::persistence::loading;
use crate::scripting::fiber;
use crate::server::Server;

use check::Admission;

/// Runs one command and writes its reply. Returns the command's full name for CLIENT LIST.
/// A script it runs keeps the thread until it ends (the AOF loader, a master link).
pub fn execute(
    server: &Arc<Server>,
    client: &mut ClientState,
    args: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<&'static str> {
    let Ok(name) = execute_held(server, client, args, out, &mut HeldGates::default()) else {
        unreachable!("scripts run on this stack by default");
    };
    name
}

/// A command that may run a script, handed back untouched by [`execute_held`] for a batch of
/// an event loop that does not run on a fiber: the connection runs it again on one (see
/// [`crate::scripting::fiber`]), so that a busy script lets its event loop serve the others.
pub struct NeedsFiber;

/// Where a command that may run a script can run.
#[derive(Clone, Copy, PartialEq, Default)]
enum ScriptsOn {
    /// Wherever the caller runs: a thread of its own.
    #[default]
    ThisStack,
    /// Only on a fiber: an event loop's connection.
    Fiber,
}

/// [`execute`] for a connection running the commands of one read: the gates an exclusive
/// command took stay in `held` for the batch's next exclusive command, so a pipeline of
/// scripts or transactions closes the other event loops' gates once, not once per command (as
/// Redis runs a client's whole read before turning to another).
pub fn execute_held<'s>(
    server: &'s Arc<Server>,
    client: &mut ClientState,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    held: &mut HeldGates<'s>,
) -> Result<Option<&'static str>, NeedsFiber> {
    let name = execute_admitted(server, client, args, out, held)?;
    // ASKING holds for the next command only (for a whole transaction, until EXEC ends it).
    if client.asking
        && client.multi.is_none()
        && !client.mode.nested()
        && !args[0].eq_ignore_ascii_case(b"asking")
    {
        client.asking = false;
    }
    Ok(name)
}

fn execute_admitted<'s>(
    server: &'s Arc<Server>,
    client: &mut ClientState,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    held: &mut HeldGates<'s>,
) -> Result<Option<&'static str>, NeedsFiber> {
    let start = out.len();
    let looked_up = check::lookup_remembering(args, &mut client.last_command);
    if let Ok(entry) = looked_up {
        if entry.spec.runs_scripts
            && held.scripts_on == ScriptsOn::Fiber
            && !fiber::scripts_may_run_here()
        {
            return Err(NeedsFiber);
        }
    }
    // A load holds the command before anything else looks at it, as Redis reads nothing
    // from its clients between two serving points.
    if let Ok(entry) = looked_up {
        if loading::hold(&server.persistence.loading, client, entry, args) {
            return Ok(None);
        }
    }
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skip;
    }
    let entry = match looked_up {
        Ok(entry) => entry,
        Err((entry, error)) => {
            let error = match entry {
                Some(entry) => exec_abort(server, client, entry, error),
                None => error,
            };
            reject(client, entry.map(|e| e.id), error, out, start);
            return Ok(None);
        }
    };
    // Admission may evict keys under maxmemory: their invalidations for this client come
    // before its reply, as Redis sends them before the command runs.
    crate::tracking::before_command(client);
    let admission = check::admit(server, client, entry, args);
    crate::tracking::after_admission(client, out);
    let start = out.len();
    match admission {
        Admission::Run => {}
        Admission::Evicted => return Ok(None),
        Admission::Redirect(error) => {
            redirect(server, client, entry, error, out, start);
            return Ok(None);
        }
        Admission::Reject(error) => {
            let error = exec_abort(server, client, entry, error);
            // A queued command whose permissions EXEC finds revoked is not counted as refused:
            // Redis counts its error against EXEC (see `txn::exec`).
            let counted = (!client.mode.nested()).then_some(entry.id);
            reject(client, counted, error, out, start);
            return Ok(None);
        }
        Admission::Queue => {
            match held_by_pause(server, client, entry, args) {
                Paused::No => {}
                Paused::Postponed => return Ok(None),
                Paused::Retry => return retry_after_pause(server, client, args, out, held),
            }
            let watched_key_changed = client.watch_flag.load(Relaxed);
            let flags = pause::queued_flags(server, entry, args);
            let multi = client.multi.as_mut().expect("queued only inside MULTI");
            multi.queue(args, flags, watched_key_changed);
            ReplyWriter::new(out, client.protocol).simple("QUEUED");
            finish_reply(client, out, start);
            return Ok(Some(entry.full_name.as_str()));
        }
    }
    crate::faults::after_admission();
    let gates = match held.enter(server, client, entry, args) {
        Ok(gates) => gates,
        Err(NoGates::Refused(error)) => {
            reject(client, Some(entry.id), error, out, start);
            return Ok(None);
        }
        // A load began while the command waited (DEBUG RELOAD holds the gates it loads
        // under): it waits for the load's next serving point instead, or runs again now that
        // the load is over.
        Err(NoGates::Loading) => {
            if loading::hold_past_this_round(&server.persistence.loading, client, entry, args) {
                return Ok(None);
            }
            return execute_held(server, client, args, out, held);
        }
    };
    // Checked inside the gates: FAILOVER and CLIENT PAUSE pause holding every gate, so a
    // command either ran before or sees the pause.
    match held_by_pause(server, client, entry, args) {
        Paused::No => {}
        Paused::Postponed => return Ok(None),
        Paused::Retry => {
            // Its gate is let go first: commands that take every gate (CLIENT PAUSE, REPLICAOF)
            // must not wait for the pause this one waits for.
            drop(gates);
            return retry_after_pause(server, client, args, out, held);
        }
    }
    if let Some(error) = crate::cluster::redirect::recheck(server, client, entry, args) {
        redirect(server, client, entry, error, out, start);
        return Ok(None);
    }
    // A master link's command is checked and counted into the replication offset inside its
    // gates, so REPLICAOF (which takes every gate) sees each command applied and counted, or
    // neither.
    let from_master = client.kind == ClientKind::Master && !client.mode.nested();
    if from_master && !crate::replication::replica::applies(server, client) {
        return Ok(None);
    }
    crate::tracking::before_command(client);
    call(server, client, entry, args, out);
    if from_master {
        crate::replication::replica::applied(server, client);
    }
    held.keep(gates);
    finish_reply(client, out, start);
    crate::tracking::after_command(client, entry, out);
    Ok(Some(entry.full_name.as_str()))
}

/// Refuses a command the cluster rule sends elsewhere.
fn redirect(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
    error: CommandError,
    out: &mut Vec<u8>,
    start: usize,
) {
    check::refused_exec(server, client, entry);
    reject(client, Some(entry.id), error, out, start);
}

/// What a pause did to a command.
enum Paused {
    /// Nothing: it runs.
    No,
    /// Held: the client runs it again once the pause lifts.
    Postponed,
    /// Run again from the top ([`retry_after_pause`]): a replica's master link, which has no
    /// connection to hold it for it, or a command whose pause lifted between the check and the
    /// hold.
    Retry,
}

/// Runs a command again after the pause let it go; a master link's thread first waits until
/// the pause changes.
fn retry_after_pause<'s>(
    server: &'s Arc<Server>,
    client: &mut ClientState,
    args: &[&[u8]],
    out: &mut Vec<u8>,
    held: &mut HeldGates<'s>,
) -> Result<Option<&'static str>, NeedsFiber> {
    if client.kind == ClientKind::Master {
        server.pause.wait_for_change(server);
    }
    execute_held(server, client, args, out, held)
}

/// Holds the command if a pause holds it (see [`pause`]).
fn held_by_pause(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Paused {
    if !pause::holds(server, client, entry, args) {
        return Paused::No;
    }
    if client.kind != ClientKind::Master && postpone(server, client, entry, args) {
        return Paused::Postponed;
    }
    Paused::Retry
}

/// Holds the client's command until the pause lifts (see [`pause`]), or until a timed pause
/// ends at the latest; false when it already has, and the command runs now.
fn postpone(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> bool {
    let waiter = Waiter::new(WakeOrder::Fifo);
    let Some(deadline) = server.pause.hold(&waiter) else {
        return false;
    };
    client.blocked = Some(BlockedCommand::postponed(
        waiter,
        client.db,
        entry.id,
        args,
        Some(deadline),
    ));
    true
}

/// The gates a command holds while it runs, released when dropped (see `Server::gates`): its
/// event loop's own, shared, or every gate for EXEC, scripts and the other exclusive commands.
/// None when run by EXEC or a script, which hold them all already, or when allowed while a
/// script is busy (SCRIPT KILL, SHUTDOWN NOSAVE...), which must not wait for it.
#[derive(Default)]
struct Gates<'s> {
    _own: Option<RwLockReadGuard<'s, ()>>,
    all: Vec<RwLockWriteGuard<'s, ()>>,
}

/// What a batch of commands carries from one to the next: every gate, kept from one exclusive
/// command of a connection's batch to the next (see [`execute_held`]) and released when
/// dropped, at the end of the batch; and where its scripts may run.
#[derive(Default)]
pub struct HeldGates<'s> {
    all: Vec<RwLockWriteGuard<'s, ()>>,
    scripts_on: ScriptsOn,
}

impl HeldGates<'_> {
    /// For a batch of an event loop's connection, whose scripts run on a fiber.
    pub fn on_event_loop() -> Self {
        HeldGates {
            all: Vec::new(),
            scripts_on: ScriptsOn::Fiber,
        }
    }
}

impl<'s> HeldGates<'s> {
    fn enter(
        &mut self,
        server: &'s Server,
        client: &ClientState,
        entry: &CommandEntry,
        args: &[&[u8]],
    ) -> Result<Gates<'s>, NoGates> {
        let exclusive = entry.spec.takes_every_gate(server, args);
        if !self.all.is_empty() {
            if exclusive && !client.mode.nested() {
                return Ok(Gates::default());
            }
            // A command that needs only its own gate lets the other loops go first, so it
            // runs as it would have alone.
            self.all.clear();
        }
        enter_gates(server, client, entry, exclusive)
    }

    fn keep(&mut self, gates: Gates<'s>) {
        if !gates.all.is_empty() {
            self.all = gates.all;
        }
    }
}

/// Why a command got no gates.
enum NoGates {
    /// BUSY: a script holding every gate is busy.
    Refused(CommandError),
    /// A load began meanwhile, which the command is to wait for as a load holds commands.
    Loading,
}

/// How long a command waits on a gate before it looks again whether the script holding every
/// gate has run past `busy-reply-threshold`, or a load has begun.
const GATE_SLICE: Duration = Duration::from_millis(10);

/// Takes a gate, waiting for it a slice at a time, or gives up (None) once a script is busy
/// (its holder may then be suspended on this very thread, and nothing is gained by waiting)
/// or a load holds the command.
fn take_gate<G>(
    busy: impl Fn() -> bool,
    try_now: impl Fn() -> Option<G>,
    try_for_a_slice: impl Fn() -> Option<G>,
) -> Option<G> {
    loop {
        let guard = match busy() {
            true => try_now(),
            false => try_for_a_slice(),
        };
        if guard.is_some() || busy() {
            return guard;
        }
    }
}

/// Takes the gates `entry` needs: every one when `exclusive`. While a script holding every
/// gate is busy, the command is refused with BUSY instead of waiting, or, if Redis allows it
/// then, runs without a gate. While a load that holds this client's commands runs, it gets
/// none unless they are free: it waits for the load's next serving point, or, allowed while
/// loading, runs without them.
fn enter_gates<'s>(
    server: &'s Server,
    client: &ClientState,
    entry: &CommandEntry,
    exclusive: bool,
) -> Result<Gates<'s>, NoGates> {
    if client.mode.nested() {
        return Ok(Gates::default());
    }
    // A master's commands wait for a busy script to end: they must not be refused.
    let running = &server.scripting.running;
    let script_busy = || running.is_busy() && !client.kind.obeyed();
    let load_holds = || server.persistence.is_loading() && loading::may_hold(client);
    let busy = || script_busy() || load_holds();
    let while_busy = || {
        if load_holds() {
            // Allowed while loading and needing only its own loop's gate: it runs beside the
            // load, as beside a start-up load (INFO shows `loading:1`).
            match entry.spec.has(command::flags::LOADING) && !exclusive {
                true => Ok(Gates::default()),
                false => Err(NoGates::Loading),
            }
        } else if entry.spec.has(command::flags::ALLOW_BUSY) {
            Ok(Gates::default())
        } else {
            Err(NoGates::Refused(running.busy_error()))
        }
    };
    // A busy script holding the gates may be suspended on this very thread (see
    // `scripting::fiber`): once it is busy, waiting on a gate is pointless.
    if !exclusive {
        let gate = &server.gates[client.worker];
        return match take_gate(busy, || gate.try_read(), || gate.try_read_for(GATE_SLICE)) {
            Some(guard) => Ok(Gates {
                _own: Some(guard),
                all: Vec::new(),
            }),
            None => while_busy(),
        };
    }
    let mut held = Vec::with_capacity(server.gates.len());
    for gate in &server.gates {
        // A script past `busy-reply-threshold` will not let go soon: straight to BUSY.
        if !busy() {
            if let Some(guard) = yield_for_write(gate) {
                held.push(guard);
                continue;
            }
        }
        match take_gate(busy, || gate.try_write(), || gate.try_write_for(GATE_SLICE)) {
            Some(guard) => held.push(guard),
            None => return while_busy(),
        }
    }
    Ok(Gates {
        _own: None,
        all: held,
    })
}

/// How long an exclusive command keeps trying for a gate, yielding its CPU between tries,
/// before it parks: about one pipelined batch of scripts that another event loop runs holding
/// every gate (16 one-command scripts take some 40µs). Parked at once, each handoff of the
/// gates between two loops running scripts cost a futex wake and a context switch on both
/// sides: with two event loops, EVALSHA at -c 50 -P 16 (bench/scripting.sh, 2 cores) went from
/// 360k to 458k requests/s for a one-GET script and from 255k to 273k for a read-modify-write
/// one. Spinning on the CPU instead of yielding it did as well there, but cost -c 50 a tenth
/// of its throughput, as the waiting loop kept the clients' CPU.
const GATE_YIELDING: Duration = Duration::from_micros(200);

/// Takes `gate` exclusively if it comes free within [`GATE_YIELDING`], without parking.
fn yield_for_write(gate: &RwLock<()>) -> Option<RwLockWriteGuard<'_, ()>> {
    if let Some(guard) = gate.try_write() {
        return Some(guard);
    }
    let started = Instant::now();
    while started.elapsed() < GATE_YIELDING {
        std::thread::yield_now();
        if let Some(guard) = gate.try_write() {
            return Some(guard);
        }
    }
    None
}

/// Runs an admitted command's handler inside its gate, with the bookkeeping around it. A
/// script's `redis.call` comes here directly, after the script's own checks.
pub(crate) fn call(
    server: &Arc<Server>,
    client: &mut ClientState,
    entry: &'static CommandEntry,
    args: &[&[u8]],
    out: &mut Vec<u8>,
) {
    let handler = entry
        .spec
        .handler
        .expect("lookup resolves containers to subcommands");
    let started = Instant::now();
    let protocol = client.protocol;
    // The AOF loader's clock stands still, so nothing expires mid-replay.
    let now_ms = match (client.kind, &client.mode) {
        (ClientKind::AofLoader, _) => 0,
        (_, ExecMode::Nested { now_ms, .. }) => *now_ms,
        _ => unix_ms_at(started),
    };
    let mut ctx = Ctx {
        server,
        client: &mut *client,
        args,
        out: ReplyWriter::new(&mut *out, protocol),
        command: entry,
        now_ms,
        started,
        rewritten: Default::default(),
        also_propagated: Default::default(),
        logged: Default::default(),
    };
    crate::monitor::before_call(server, ctx.client, entry, args);
    // A client's own command holds the DELs of the keys it finds expired for its unit; EXEC's
    // and a script's commands append theirs to the unit those opened.
    let held_before = (!ctx.client.mode.nested()).then(lazy_expiry::begin);
    let result = (handler)(&mut ctx);
    if let Some(before) = held_before {
        let offset = lazy_expiry::end(&server.journal, before);
        ctx.client.journal_offset = ctx.client.journal_offset.max(offset);
    }
    crate::monitor::after_call(server, ctx.client, entry, args);
    if entry.spec.has(command::flags::WRITE) {
        crate::eviction::after_write(server, entry.spec, args, ctx.client.db);
    }
    let logged = ctx.logged.get();
    if let Err(error) = result {
        let stats = &ctx.client.stats;
        stats.commands[entry.id].failed.fetch_add(1, Relaxed);
        if !matches!(error, CommandError::AlreadyCounted(_)) {
            stats.count_error(&error.to_string());
        }
        ctx.out.error_bytes(&error.reply_text());
    }
    if let Some(offset) = logged {
        client.journal_offset = client.journal_offset.max(offset);
    }
    crate::tracking::after_call(server, client, entry, args);
    for (db, key) in std::mem::take(&mut client.ready_keys) {
        server.blocking.signal(db, &key, &mut client.woken);
    }
    // Only a connection waits for the clients it woke; the AOF loader and a master's stream
    // go on.
    if client.kind != crate::client::ClientKind::Normal {
        client.woken.clear();
    }
    let stats = &client.stats;
    let counters = &stats.commands[entry.id];
    // A command that blocked is counted once, when it completes, as Redis does.
    if client.blocked.is_none() {
        counters.calls.fetch_add(1, Relaxed);
    }
    let micros = started.elapsed().as_micros() as u64;
    counters.usec.fetch_add(micros, Relaxed);
    stats.total_commands.fetch_add(1, Relaxed);
    crate::observability::after_call(server, client, entry, args, micros);
}

/// The Unix time in milliseconds at `instant`, from this thread's pairing of the monotonic
/// clock and the engine's clock ([`redis_lite_engine::now_us`], which never goes back), taken
/// again once a second: the command's start time is read once for both its duration and its
/// clock (reading the clock was a tenth of a pipelined load's CPU here). Paired to the
/// microsecond, counted in nanoseconds and floored once, it lags the wall clock by less than
/// a millisecond, as Redis's own clock does: a client's `GETEX k PXAT <its now + 10000>` then
/// reads a PTTL of 10000 at most (paired and counted in whole milliseconds, floored twice, it
/// lagged by up to two and read 10001).
fn unix_ms_at(instant: Instant) -> u64 {
    CLOCK_PAIRING.with(|paired| {
        if let Some((base, base_ns)) = paired.get() {
            let since = instant.checked_duration_since(base);
            if let Some(since) = since.filter(|d| d.as_secs() == 0) {
                return (base_ns + u64::from(since.subsec_nanos())) / 1_000_000;
            }
        }
        let now_us = redis_lite_engine::now_us();
        paired.set(Some((instant, now_us * 1000)));
        now_us / 1000
    })
}

thread_local! {
    /// An instant and the engine's time at it, in nanoseconds (to the microsecond), for
    /// [`unix_ms_at`].
    static CLOCK_PAIRING: std::cell::Cell<Option<(Instant, u64)>> = const { std::cell::Cell::new(None) };
}

/// Makes this thread's next command read the engine's clock afresh (`DEBUG FAULT clock-step`,
/// so the step shows at once).
#[cfg(debug_assertions)]
pub(crate) fn forget_clock_pairing() {
    CLOCK_PAIRING.with(|paired| paired.set(None));
}

/// Runs a command queued by MULTI, from EXEC, appending its reply to EXEC's. Returns whether
/// it ran (not refused by its ACL permissions, the one rule checked again).
pub fn execute_queued(ctx: &mut Ctx<'_>, args: &[&[u8]]) -> bool {
    execute(ctx.server, ctx.client, args, ctx.out.buffer()).is_some()
}

/// A command refused before it ran: counted as rejected, as Redis does.
/// A refused EXEC (its arity too) discards its transaction and answers EXECABORT with the
/// refusal as its reason; another command's refusal is returned as it is.
fn exec_abort(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
    error: CommandError,
) -> CommandError {
    if !check::refused_exec(server, client, entry) {
        return error;
    }
    // Redis quotes the refusal as it built it: its own texts have no ERR code, the shared ones
    // (OOM, MISCONF, NOAUTH...) keep theirs.
    let refusal = error.to_string();
    let reason = refusal.strip_prefix("ERR ").unwrap_or(&refusal);
    CommandError::coded(format!(
        "EXECABORT Transaction discarded because of: {reason}"
    ))
}

fn reject(
    client: &mut ClientState,
    id: Option<usize>,
    error: CommandError,
    out: &mut Vec<u8>,
    start: usize,
) {
    // Inside MULTI, a refused command dooms the transaction, as in Redis.
    if let Some(multi) = client.multi.as_mut() {
        multi.failed = true;
    }
    if let Some(id) = id {
        client.stats.commands[id].rejected.fetch_add(1, Relaxed);
    }
    client.stats.count_error(&error.to_string());
    ReplyWriter::new(out, client.protocol).error_bytes(&error.reply_text());
    finish_reply(client, out, start);
}

/// Drops the reply when CLIENT REPLY OFF or SKIP says so; pushes stay.
fn finish_reply(client: &mut ClientState, out: &mut Vec<u8>, start: usize) {
    let reply = !std::mem::take(&mut client.output_is_push);
    match client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off | ReplyMode::SkipNext if reply => out.truncate(start),
        ReplyMode::Off | ReplyMode::SkipNext => {}
        ReplyMode::Skip => {
            if reply {
                out.truncate(start);
            }
            client.reply_mode = ReplyMode::On;
        }
    }
}
