//! Lua scripting: EVAL's script cache and FUNCTION's libraries, run on the
//! `redis-lite-scripting` runtime, and the server's side of its [`Host`] boundary.
//!
//! A script runs as one atomic unit, as EXEC does: its command takes every gate, so nothing
//! else runs on any thread meanwhile. Its `redis.call`s go through [`dispatch::call`] on the
//! calling client's own state, switched for the run to [`ExecMode::Nested`]: no gates to take
//! again, blocking commands answer at once, the clock stands at the script's start, and the
//! records of its writes are framed as one MULTI/EXEC unit in the AOF, as Redis propagates a
//! script's effects. What the client had (database, protocol, reply mode) is put back after.
//!
//! Past `busy-reply-threshold` the run is marked busy: other clients get `-BUSY` instead of
//! waiting on their gate (see `dispatch`), and SCRIPT KILL / FUNCTION KILL, which run without
//! a gate, ask it to stop; the runtime asks [`Host::interrupt`] every so many instructions.

pub mod debugger;
pub mod fiber;
pub mod scripting_family;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use redis_lite_protocol::{Protocol, ReplyWriter};
use redis_lite_scripting::{
    AclCheck, FunctionLibraries, Host, Interrupt, LogLevel, ReplFlags, ScriptCache,
};

use crate::client::{ExecMode, ReplyMode};
use crate::command::flags::{DENYOOM, MAY_REPLICATE, NOSCRIPT, STALE, WRITE};
use crate::command::CommandEntry;
use crate::context::Ctx;
use crate::dispatch::{self, check};
use crate::error::CommandError;

/// Scripting's state in the server.
pub struct Scripting {
    pub eval: Mutex<ScriptCache>,
    pub functions: Mutex<FunctionLibraries>,
    /// Library and function counts, for FUNCTION STATS, which may run while a function holds
    /// `functions`.
    pub library_count: AtomicUsize,
    pub function_count: AtomicUsize,
    pub running: Running,
    /// `DEBUG set-disable-deny-scripts 1`: scripts may call `noscript` commands (Redis's
    /// tests use it to reach CLIENT LIST and the like from a script).
    pub deny_scripts_disabled: AtomicBool,
}

impl Default for Scripting {
    fn default() -> Self {
        // One `math.random` state for both, as Redis has one per process.
        let random = Arc::new(AtomicU64::new(redis_lite_scripting::RANDOM_INITIAL_STATE));
        Scripting {
            eval: Mutex::new(ScriptCache::new(random.clone())),
            functions: Mutex::new(FunctionLibraries::new(random)),
            library_count: AtomicUsize::new(0),
            function_count: AtomicUsize::new(0),
            running: Running::default(),
            deny_scripts_disabled: AtomicBool::new(false),
        }
    }
}

/// The flags of a script or function that bear on its admission.
#[derive(Clone, Copy)]
struct DeclaredRun {
    no_writes: bool,
    allow_oom: bool,
    allow_stale: bool,
}

impl Scripting {
    /// Every library's code, as snapshots and AOF rewrites save them.
    pub fn library_codes(&self) -> Vec<Vec<u8>> {
        let libraries = self.functions.lock();
        libraries.libraries().map(|l| l.code.clone()).collect()
    }

    /// Whether running EVAL, EVALSHA, FCALL or a `_RO` form of them (`command`, lower case)
    /// may write, as Redis judges it before the run (paused writes hold such runs): by the
    /// flags the script or function declared; a script without a shebang may write unless a
    /// `_RO` form runs it; one not found (or with an invalid shebang) as its command's flags
    /// say. None for other commands.
    pub fn run_may_write(&self, command: &str, args: &[&[u8]]) -> Option<bool> {
        let read_only_form = command.ends_with("_ro");
        let declared = self.declared_run_flags(command, args)?;
        Some(!declared.map_or(read_only_form, |d| d.no_writes))
    }

    /// Whether the script or function a run names declared flags without `no-writes`: Redis
    /// then judges the run a write (a READONLY client of a cluster replica is redirected).
    pub fn run_declares_writes(&self, command: &str, args: &[&[u8]]) -> bool {
        matches!(self.declared_run_flags(command, args), Some(Some(d)) if !d.no_writes)
    }

    /// The command flags Redis admits a run by (`spec_flags` its command's): a script or
    /// function that declared flags replaces the command's `write`, `denyoom` and `stale`
    /// with its own (`write` without `no-writes`, `denyoom` without `no-writes` or
    /// `allow-oom`, `stale` with `allow-stale`) and drops `may_replicate`; other runs and
    /// other commands keep `spec_flags`. So a replica refuses a function that may write with
    /// -READONLY, and a stale one a function without `allow-stale` with -MASTERDOWN, before
    /// it starts.
    pub fn run_command_flags(&self, command: &str, spec_flags: u32, args: &[&[u8]]) -> u32 {
        let Some(Some(declared)) = self.declared_run_flags(command, args) else {
            return spec_flags;
        };
        let mut flags = spec_flags & !(STALE | DENYOOM | WRITE | MAY_REPLICATE);
        if !declared.no_writes {
            flags |= WRITE;
            if !declared.allow_oom {
                flags |= DENYOOM;
            }
        }
        if declared.allow_stale {
            flags |= STALE;
        }
        flags
    }

    /// The flags the script or function a run names declared: None for other commands,
    /// Some(None) when it declared none (no shebang) or was not found, or while a script
    /// runs (it holds the engine: the caller's event loop must not wait for it here; the run's
    /// own checks apply once it starts).
    fn declared_run_flags(&self, command: &str, args: &[&[u8]]) -> Option<Option<DeclaredRun>> {
        Some(match command {
            "eval" | "eval_ro" | "evalsha" | "evalsha_ro" => {
                let Some(cache) = self.eval.try_lock() else {
                    return Some(None);
                };
                // Read from the shebang, without compiling or caching the script.
                let flags = match command.starts_with("evalsha") {
                    true => cache.get(args[1]).map(|s| s.flags),
                    false => cache.declared_flags(args[1]),
                };
                flags.and_then(|flags| {
                    flags.declared.then_some(DeclaredRun {
                        no_writes: flags.no_writes,
                        allow_oom: flags.allow_oom,
                        allow_stale: flags.allow_stale,
                    })
                })
            }
            "fcall" | "fcall_ro" => {
                let name = String::from_utf8_lossy(args[1]);
                let Some(libraries) = self.functions.try_lock() else {
                    return Some(None);
                };
                libraries.function(&name).map(|f| DeclaredRun {
                    no_writes: f.flags.no_writes,
                    allow_oom: f.flags.allow_oom,
                    allow_stale: f.flags.allow_stale,
                })
            }
            _ => return None,
        })
    }

    /// Loads a library saved in an RDB file or an AOF base; one of the same name is replaced
    /// or, unless `replace`, an error.
    pub fn restore_library(&self, code: &[u8], replace: bool) -> Result<(), String> {
        let mut libraries = self.functions.lock();
        libraries.load(&mut scripting_family::LoadHost::restore(), code, replace)?;
        self.count(&libraries);
        Ok(())
    }

    /// Drops every library (a replica's full sync replaces them with its master's).
    pub fn clear_libraries(&self) {
        let mut libraries = self.functions.lock();
        libraries.flush();
        self.count(&libraries);
    }

    /// Records the library and function counts after FUNCTION changed them.
    pub fn count(&self, libraries: &FunctionLibraries) {
        self.library_count
            .store(libraries.libraries().count(), Relaxed);
        self.function_count.store(
            libraries.libraries().map(|l| l.functions.len()).sum(),
            Relaxed,
        );
    }
}

/// INFO memory's scripting fields, in Redis's order.
pub fn memory_fields(server: &crate::server::Server, field: &mut dyn FnMut(String)) {
    let scripting = &server.scripting;
    let (eval_vm, eval_bytes, scripts) = {
        let cache = scripting.eval.lock();
        (cache.used_memory(), cache.cached_bytes(), cache.len())
    };
    let (functions_vm, library_bytes) = {
        let libraries = scripting.functions.lock();
        (libraries.used_memory(), libraries.library_bytes())
    };
    let human = crate::admin::info::human;
    field(format!("used_memory_lua:{eval_vm}"));
    field(format!("used_memory_vm_eval:{eval_vm}"));
    field(format!("used_memory_lua_human:{}", human(eval_vm as u64)));
    field(format!("used_memory_scripts_eval:{eval_bytes}"));
    field(format!("number_of_cached_scripts:{scripts}"));
    field(format!(
        "number_of_functions:{}",
        scripting.function_count.load(Relaxed)
    ));
    field(format!(
        "number_of_libraries:{}",
        scripting.library_count.load(Relaxed)
    ));
    field(format!("used_memory_vm_functions:{functions_vm}"));
    let vm_total = (eval_vm + functions_vm) as u64;
    field(format!("used_memory_vm_total:{vm_total}"));
    field(format!("used_memory_vm_total_human:{}", human(vm_total)));
    field(format!("used_memory_functions:{library_bytes}"));
    let scripts_total = (eval_bytes + library_bytes) as u64;
    field(format!("used_memory_scripts:{scripts_total}"));
    field(format!(
        "used_memory_scripts_human:{}",
        human(scripts_total)
    ));
}

/// The script running now, as other clients see it: BUSY, SCRIPT KILL, FUNCTION KILL and
/// FUNCTION STATS.
#[derive(Default)]
pub struct Running {
    current: Mutex<Option<RunInfo>>,
    /// Past `busy-reply-threshold`: other clients get BUSY instead of waiting.
    busy: AtomicBool,
    /// SCRIPT KILL or FUNCTION KILL was accepted.
    kill: AtomicBool,
    /// A script runs now (what `current` says, without its lock): `is_running` and `ended`.
    in_progress: AtomicBool,
    /// Told when a run ends (see [`Running::ended`]).
    ended: tokio::sync::Notify,
}

#[derive(Clone)]
pub struct RunInfo {
    /// The function's name; empty for EVAL.
    pub name: String,
    /// The command that started it, as FUNCTION STATS shows it: copied only once the run is
    /// busy, as only then can another client look.
    pub command: Vec<Vec<u8>>,
    pub started: Instant,
    pub is_eval: bool,
    /// It ran a write command: it can no longer be killed, only SHUTDOWN NOSAVE ends it.
    pub wrote: bool,
}

impl Running {
    pub fn is_busy(&self) -> bool {
        self.busy.load(Relaxed)
    }

    /// Whether a script is running (a command that sees this runs inside it, since scripts
    /// hold every gate).
    pub fn is_running(&self) -> bool {
        self.in_progress.load(Relaxed)
    }

    pub fn current(&self) -> Option<RunInfo> {
        self.current.lock().clone()
    }

    /// The BUSY error other clients get while a script runs past the threshold.
    pub fn busy_error(&self) -> CommandError {
        busy_error(self.current.lock().as_ref().is_none_or(|r| r.is_eval))
    }

    /// SCRIPT KILL (`eval`) or FUNCTION KILL: asks the running script to stop, with Redis's
    /// refusals when there is none of that kind or it already wrote.
    pub fn kill(&self, eval: bool) -> Result<(), CommandError> {
        let current = self.current.lock();
        let Some(run) = current.as_ref() else {
            return Err(CommandError::coded(
                "NOTBUSY No scripts in execution right now.",
            ));
        };
        if run.wrote {
            return Err(CommandError::coded(
                "UNKILLABLE Sorry the script already executed write commands against the dataset. \
                 You can either wait the script termination or kill the server in a hard way using \
                 the SHUTDOWN NOSAVE command.",
            ));
        }
        if run.is_eval != eval {
            // SCRIPT KILL does not stop a function, nor FUNCTION KILL a script: the answer
            // names the command that would.
            return Err(busy_error(run.is_eval));
        }
        self.kill.store(true, Relaxed);
        Ok(())
    }

    fn start(&self, info: RunInfo) {
        self.kill.store(false, Relaxed);
        *self.current.lock() = Some(info);
        self.in_progress.store(true, Relaxed);
    }

    fn finish(&self) {
        *self.current.lock() = None;
        self.busy.store(false, Relaxed);
        self.kill.store(false, Relaxed);
        self.in_progress.store(false, Relaxed);
        self.ended.notify_waiters();
    }

    /// Returns once no script runs: a blocked client woken by a script's writes (or its
    /// timeout) while it runs is served after it, as in Redis, rather than waiting on a gate
    /// on its loop's thread and being refused BUSY if the script turns busy meanwhile.
    pub async fn ended(&self) {
        while self.in_progress.load(Relaxed) {
            let ended = self.ended.notified();
            let mut ended = std::pin::pin!(ended);
            // Registered before the check, so an end between the two is not missed.
            ended.as_mut().enable();
            if !self.in_progress.load(Relaxed) {
                return;
            }
            ended.await;
        }
    }
}

/// `redis.log`: the server's log, at the script's level.
fn write_log(level: LogLevel, message: &[u8]) {
    let level = match level {
        LogLevel::Debug => crate::config::LogLevel::Debug,
        LogLevel::Verbose => crate::config::LogLevel::Verbose,
        LogLevel::Notice => crate::config::LogLevel::Notice,
        LogLevel::Warning => crate::config::LogLevel::Warning,
    };
    if crate::log::enabled(level) {
        crate::log::write(level, format_args!("{}", String::from_utf8_lossy(message)));
    }
}

/// Redis's BUSY text, naming the command that stops the running script.
fn busy_error(is_eval: bool) -> CommandError {
    let command = match is_eval {
        true => "SCRIPT KILL",
        false => "FUNCTION KILL",
    };
    CommandError::coded(format!(
        "BUSY Redis is busy running a script. You can only call {command} or SHUTDOWN NOSAVE."
    ))
}

/// What a run may do, from its command and its declared flags.
#[derive(Clone, Copy, Default)]
pub struct RunRules {
    /// EVAL_RO, FCALL_RO, or `no-writes`: write commands are refused.
    pub read_only: bool,
    /// `allow-oom`: commands that may grow memory run even when over `maxmemory`.
    pub allow_oom: bool,
    /// No shebang, or `allow-cross-slot-keys`: in a cluster, the calls' keys may be in
    /// several slots (each still served here).
    pub allow_cross_slot: bool,
    /// The slot of the keys the run declared (EVAL's or FCALL's key arguments).
    pub declared_slot: Option<u16>,
}

/// The server's side of a running script: runs its `redis.call`s on the calling client,
/// switched to a nested run for the duration.
pub struct ScriptHost<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    rules: RunRules,
    /// Whether the server was over `maxmemory` when the script started: until its first write,
    /// `denyoom` commands are refused then, as in Redis.
    oom_at_start: bool,
    wrote: bool,
    /// In a cluster, the slot every key the calls use must be in, unless the rules allow
    /// cross-slot keys: the declared keys' slot (inside EXEC, the transaction's), or else the
    /// first call's keys'.
    slot: Option<u16>,
    started: Instant,
    /// `busy-reply-threshold`, read at the first interrupt check: most runs end before one.
    busy_after: Option<Duration>,
    /// What the caller had, put back when the run ends.
    saved: Saved,
    /// `end` ran; otherwise dropping the host (a panic unwinding through the run) still
    /// marks the run finished, so that no client waits for it or is refused BUSY for ever.
    ended: bool,
    /// The last `call` was refused before it ran (the Lua debugger logs refusals apart).
    refused: bool,
    /// A SCRIPT DEBUG YES session: the written keys as they were, put back at its end.
    before_images: Option<debugger::BeforeImages>,
}

struct Saved {
    db: usize,
    protocol: Protocol,
    reply_mode: ReplyMode,
    mode: ExecMode,
}

impl<'c, 'a> ScriptHost<'c, 'a> {
    /// Prepares a run for `ctx`'s client and marks it as the running script.
    pub fn begin(ctx: &'c mut Ctx<'a>, rules: RunRules, info: RunInfo, oom_at_start: bool) -> Self {
        let client = &mut *ctx.client;
        let saved = Saved {
            db: client.db,
            protocol: client.protocol,
            reply_mode: client.reply_mode,
            mode: std::mem::replace(
                &mut client.mode,
                ExecMode::Nested {
                    now_ms: ctx.now_ms,
                    journaled: Some(crate::journal::Readers::All),
                },
            ),
        };
        client.reply_mode = ReplyMode::On;
        let in_exec = matches!(saved.mode, ExecMode::Nested { .. });
        let slot = match in_exec {
            true => client.exec_slot,
            false => rules.declared_slot,
        };
        // Outside EXEC the run is a unit of its own (see `end`), from its first lookup on.
        if !in_exec {
            ctx.server.journal.open_unit();
        }
        let started = info.started;
        ctx.server.scripting.running.start(info);
        ScriptHost {
            ctx,
            rules,
            oom_at_start,
            wrote: false,
            slot,
            started,
            busy_after: None,
            saved,
            ended: false,
            refused: false,
            before_images: None,
        }
    }

    /// A SCRIPT DEBUG YES session: the run's writes are not journaled, and
    /// [`ScriptHost::undo_writes`] puts back what they changed (see `debugger`).
    pub fn discard_writes(&mut self) {
        self.before_images = Some(Default::default());
        if let ExecMode::Nested { journaled, .. } = &mut self.ctx.client.mode {
            *journaled = None;
        }
    }

    /// Puts back the keys a YES session's script wrote.
    pub fn undo_writes(&mut self) {
        if let Some(images) = self.before_images.take() {
            images.restore(self.ctx.server, self.ctx.client);
        }
    }

    /// The caller's protocol, which the script's reply is written in.
    pub fn caller_protocol(&self) -> Protocol {
        self.saved.protocol
    }

    /// Ends the run: the client gets back what it had, and outside EXEC the script's records
    /// are closed as one unit, which its reply waits for.
    pub fn end(mut self) {
        self.ended = true;
        let client = &mut *self.ctx.client;
        client.db = self.saved.db;
        client.protocol = self.saved.protocol;
        client.reply_mode = self.saved.reply_mode;
        let nested = matches!(self.saved.mode, ExecMode::Nested { .. });
        if nested {
            // A slot this run set holds the transaction's later scripts too.
            client.exec_slot = self.slot;
        }
        client.mode = std::mem::take(&mut self.saved.mode);
        // While nothing records no unit is open (see `Journal::stop_listening`): the journal's
        // lock is not taken.
        if !nested && self.ctx.server.journal.is_recording() {
            let offset = self.ctx.server.journal.close_unit();
            client.journal_offset = client.journal_offset.max(offset);
        }
        self.ctx.server.scripting.running.finish();
    }

    /// Redis's checks on a command called from a script, before it runs. A refusal names the
    /// command it refused, when there is one, for its rejected calls.
    fn admit(&mut self, args: &[&[u8]]) -> Result<&'static CommandEntry, Refusal> {
        let entry = check::lookup(args).map_err(|(entry, _)| match entry {
            Some(entry) if !entry.spec.arity_ok(args.len()) => (
                Some(entry.id),
                "ERR Wrong number of args calling Redis command from script".to_string(),
            ),
            _ => (
                None,
                "ERR Unknown Redis command called from script".to_string(),
            ),
        })?;
        self.admit_entry(entry, args)
            .map_err(|text| (Some(entry.id), text))?;
        Ok(entry)
    }

    /// [`Self::admit`]'s checks once the command is known.
    fn admit_entry(&mut self, entry: &'static CommandEntry, args: &[&[u8]]) -> Result<(), String> {
        let flags = entry.spec.flags;
        let (server, client) = (self.ctx.server, &*self.ctx.client);
        // `DEBUG set-disable-deny-scripts` lifts the refusal but for scripting's own commands
        // (EVAL, SCRIPT, FUNCTION): the running script holds their engines' locks, which they
        // would wait on forever.
        let deny_disabled = server.scripting.deny_scripts_disabled.load(Relaxed)
            && entry.spec.group != crate::command::Group::Scripting;
        if flags & NOSCRIPT != 0 && !deny_disabled {
            return Err("ERR This Redis command is not allowed from script".to_string());
        }
        // A script admitted on a stale replica (it declared `allow-stale`) may still call only
        // the commands marked `stale`.
        if flags & STALE == 0 && !client.kind.obeyed() && check::serving_no_stale_data(server) {
            return Err("ERR Can not execute the command on a stale replica".to_string());
        }
        crate::acl::check::permission(server, client, entry, args, crate::acl::log::Context::Lua)
            .map_err(|denied| denied.script_error().to_string())?;
        // PUBLISH and the like count as writes here, so a read-only script has no effect
        // anywhere.
        if self.rules.read_only && flags & (WRITE | MAY_REPLICATE) != 0 {
            return Err("ERR Write commands are not allowed from read-only scripts.".to_string());
        }
        // Once a script has written, it must be able to finish: state checks stop applying.
        if flags & WRITE != 0 && !self.wrote {
            if let Some(error) = check::read_only_replica_refusal(server)
                .filter(|_| !client.kind.obeyed())
                .or_else(|| crate::persistence::write_refusal(server, flags, false))
                .or_else(|| server.replication.master.write_refusal())
            {
                return Err(error.to_string());
            }
        }
        if flags & DENYOOM != 0 && !self.rules.allow_oom && !self.wrote && self.oom_at_start {
            return Err("OOM command not allowed when used memory > 'maxmemory'.".to_string());
        }
        let client = &*self.ctx.client;
        let slot = match self.rules.allow_cross_slot {
            true => None,
            false => Some(&mut self.slot),
        };
        if let Some(error) =
            crate::cluster::redirect::script_refusal(self.ctx.server, client, entry, args, slot)
        {
            return Err(error.to_string());
        }
        Ok(())
    }
}

/// A command a script called, refused before it ran: its table index when it was found,
/// and the error.
type Refusal = (Option<usize>, String);

impl Drop for ScriptHost<'_, '_> {
    fn drop(&mut self) {
        if !self.ended {
            self.ctx.server.scripting.running.finish();
        }
    }
}

impl Host for ScriptHost<'_, '_> {
    fn call(&mut self, args: &[&[u8]], protocol: Protocol, out: &mut Vec<u8>) {
        let mut admitted = self.admit(args);
        if let (Ok(entry), Some(images)) = (&admitted, self.before_images.as_mut()) {
            if entry.spec.has(WRITE) {
                let client = &mut *self.ctx.client;
                if let Err(text) = images.save(self.ctx.server, client, entry, args) {
                    admitted = Err((Some(entry.id), text));
                }
            }
        }
        self.refused = admitted.is_err();
        match admitted {
            Err((id, text)) => {
                // Counted here, as a refused command is at the pipeline's door; the script's
                // own error, if this one ends it, is not counted again.
                let stats = &self.ctx.client.stats;
                if let Some(id) = id {
                    stats.commands[id].rejected.fetch_add(1, Relaxed);
                }
                stats.count_error(&text);
                ReplyWriter::new(out, protocol).error(&text)
            }
            Ok(entry) => {
                if entry.spec.has(WRITE) && !self.wrote {
                    self.wrote = true;
                    if let Some(run) = self.ctx.server.scripting.running.current.lock().as_mut() {
                        run.wrote = true;
                    }
                }
                self.ctx.client.protocol = protocol;
                dispatch::call(self.ctx.server, self.ctx.client, entry, args, out);
            }
        }
    }

    fn last_call_refused(&self) -> bool {
        self.refused
    }

    fn log(&mut self, level: LogLevel, message: &[u8]) {
        write_log(level, message);
    }

    /// A script's writes are propagated as they ran (Redis 7.0 always replicates effects);
    /// `redis.set_repl` chooses which sinks the following ones reach: the AOF, the replicas
    /// (the backlog), both or neither.
    fn set_repl(&mut self, flags: ReplFlags) {
        if self.before_images.is_some() {
            // A YES session's writes are never propagated.
            return;
        }
        if let ExecMode::Nested { journaled, .. } = &mut self.ctx.client.mode {
            *journaled = crate::journal::Readers::of(flags.aof, flags.replica);
        }
    }

    /// Whether the script's user may run the command (refusals are not logged, as Redis's
    /// `redis.acl_check_cmd` does not log them); an unknown one is reported.
    fn acl_check(&mut self, args: &[&[u8]]) -> AclCheck {
        let Ok(entry) = check::lookup(args) else {
            return AclCheck::UnknownCommand;
        };
        let slot = crate::acl::check::user_of(self.ctx.server, self.ctx.client);
        if slot.unrestricted() || crate::acl::check::check(&slot.read(), entry, args).is_ok() {
            AclCheck::Allowed
        } else {
            AclCheck::Denied
        }
    }

    fn interrupt(&mut self) -> Interrupt {
        let running = &self.ctx.server.scripting.running;
        let config = &self.ctx.server.config;
        let busy_after = *self.busy_after.get_or_insert_with(|| {
            Duration::from_millis(config.read().busy_reply_threshold.max(0) as u64)
        });
        if !running.is_busy() && self.started.elapsed() >= busy_after {
            if let Some(run) = running.current.lock().as_mut() {
                run.command = self.ctx.args.iter().map(|a| a.to_vec()).collect();
                log_slow_script(run, self.started.elapsed());
            }
            running.busy.store(true, Relaxed);
        }
        if running.is_busy() && !running.kill.load(Relaxed) {
            // The event loop answers its other clients (BUSY, SCRIPT KILL...; LOADING when the
            // script is replayed by a load) before the script goes on, as Redis does between a
            // busy script's instructions.
            self.ctx.server.persistence.loading.serve_while_busy();
        }
        match running.kill.load(Relaxed) {
            true => Interrupt::Kill,
            false => Interrupt::Continue,
        }
    }
}

/// Redis's warning when a script turns busy, naming it as Redis does: a function by its name,
/// an EVAL script by its SHA1.
fn log_slow_script(run: &RunInfo, elapsed: Duration) {
    let (kill, name) = match run.is_eval {
        true => {
            let sha = match run.command.first() {
                Some(command)
                    if command.eq_ignore_ascii_case(b"evalsha")
                        || command.eq_ignore_ascii_case(b"evalsha_ro") =>
                {
                    String::from_utf8_lossy(&run.command[1]).to_ascii_lowercase()
                }
                _ => redis_lite_scripting::sha1_hex(run.command.get(1).map_or(&[][..], |b| b)),
            };
            ("SCRIPT KILL", sha)
        }
        false => ("FUNCTION KILL", run.name.clone()),
    };
    crate::log!(
        Warning,
        "Slow script detected: still in execution after {} milliseconds. You can try killing \
         the script using the {kill} command. Script name is: {name}.",
        elapsed.as_millis()
    );
}
