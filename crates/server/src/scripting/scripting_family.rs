//! The scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT, FCALL, FCALL_RO and
//! FUNCTION.

use std::cell::RefCell;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use redis_lite_engine::glob::glob_match;
use redis_lite_scripting::ldb::Session;
use redis_lite_scripting::{
    FunctionFlags, FunctionLibraries, Host, Interrupt, LogLevel, Protocol, ReplFlags,
    RestorePolicy, ScriptReply,
};

use super::debugger::{DebugMode, SocketIo};
use super::{RunInfo, RunRules, ScriptHost};
use crate::args::reply_help;
use crate::client::ExecMode;
use crate::command::flags::*;
use crate::command::key_flags::{ACCESS, RO, RW, UPDATE};
use crate::command::{CommandSpec, Group, KeySpec};
use crate::context::Ctx;
use crate::dispatch::check;
use crate::error::{CmdResult, CommandError};
use crate::log;

const RUN_FLAGS: u32 = NOSCRIPT | STALE | SKIP_MONITOR | NO_MANDATORY_KEYS;
const WRITE_KEYS: &str =
    "We cannot tell how the keys will be used so we assume the worst, RW and UPDATE";
const READ_KEYS: &str =
    "We cannot tell how the keys will be used so we assume the worst, RO and ACCESS";

// Scripts and functions run exclusively (every gate), as one unit. So do FUNCTION's changes:
// a snapshot or AOF rewrite cut then never falls between a library change and its record.
pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, RUN_FLAGS, eval)
        .exclusive()
        .runs_scripts()
        .key_specs(&[KeySpec::index(2)
            .keynum(0, 1, 1)
            .flags(RW | ACCESS | UPDATE)
            .notes(WRITE_KEYS)])
        .doc(
            Group::Scripting,
            "2.6.0",
            "Execute a Lua script server side",
        )
        .complexity("Depends on the script that is executed.")
        .syntax("script numkeys:integer [key...] [arg...]"),
    CommandSpec::new("evalsha", -3, RUN_FLAGS, evalsha)
        .exclusive()
        .runs_scripts()
        .key_specs(&[KeySpec::index(2)
            .keynum(0, 1, 1)
            .flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::Scripting,
            "2.6.0",
            "Execute a Lua script server side",
        )
        .complexity("Depends on the script that is executed.")
        .syntax("sha1 numkeys:integer [key...] [arg...]"),
    CommandSpec::new("eval_ro", -3, READONLY | RUN_FLAGS, eval_ro)
        .exclusive()
        .runs_scripts()
        .key_specs(&[KeySpec::index(2)
            .keynum(0, 1, 1)
            .flags(RO | ACCESS)
            .notes(READ_KEYS)])
        .doc(
            Group::Scripting,
            "7.0.0",
            "Execute a read-only Lua script server side",
        )
        .complexity("Depends on the script that is executed.")
        .syntax("script numkeys:integer [key...] [arg...]"),
    CommandSpec::new("evalsha_ro", -3, READONLY | RUN_FLAGS, evalsha_ro)
        .exclusive()
        .runs_scripts()
        .key_specs(&[KeySpec::index(2).keynum(0, 1, 1).flags(RO | ACCESS)])
        .doc(
            Group::Scripting,
            "7.0.0",
            "Execute a read-only Lua script server side",
        )
        .complexity("Depends on the script that is executed.")
        .syntax("sha1 numkeys:integer [key...] [arg...]"),
    CommandSpec::new("fcall", -3, RUN_FLAGS, fcall)
        .exclusive()
        .runs_scripts()
        .key_specs(&[KeySpec::index(2)
            .keynum(0, 1, 1)
            .flags(RW | ACCESS | UPDATE)
            .notes(WRITE_KEYS)])
        .doc(Group::Scripting, "7.0.0", "Invoke a function")
        .complexity("Depends on the function that is executed.")
        .syntax("function numkeys:integer [key...] [arg...]"),
    CommandSpec::new("fcall_ro", -3, READONLY | RUN_FLAGS, fcall_ro)
        .exclusive()
        .runs_scripts()
        .key_specs(&[KeySpec::index(2)
            .keynum(0, 1, 1)
            .flags(RO | ACCESS)
            .notes(READ_KEYS)])
        .doc(Group::Scripting, "7.0.0", "Invoke a read-only function")
        .complexity("Depends on the function that is executed.")
        .syntax("function numkeys:integer [key...] [arg...]"),
    CommandSpec::container("script", SCRIPT_SUBCOMMANDS)
        .doc(
            Group::Scripting,
            "2.6.0",
            "A container for Lua scripts management commands",
        )
        .complexity("Depends on subcommand."),
    CommandSpec::container("function", FUNCTION_SUBCOMMANDS)
        .doc(
            Group::Scripting,
            "7.0.0",
            "A container for function commands",
        )
        .complexity("Depends on subcommand."),
];

static SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("exists", -3, NOSCRIPT, script_exists)
        .tips(&["request_policy:all_shards", "response_policy:agg_logical_and"])
        .doc(Group::Scripting, "2.6.0", "Check existence of scripts in the script cache.")
        .complexity("O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).")
        .syntax("sha1..."),
    CommandSpec::new("flush", -2, NOSCRIPT, script_flush)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "2.6.0", "Remove all the scripts from the script cache.")
        .complexity("O(N) with N being the number of scripts in cache")
        .syntax("async=[ASYNC | SYNC]{s=6.2.0}")
        .history(&[
            ("6.2.0", "Added the `ASYNC` and `SYNC` flushing mode modifiers."),
        ]),
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY, script_kill)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc(Group::Scripting, "2.6.0", "Kill the script currently in execution.")
        .complexity("O(1)"),
    CommandSpec::new("load", 3, NOSCRIPT | STALE, script_load)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "2.6.0", "Load the specified Lua script into the script cache.")
        .complexity("O(N) with N being the length in bytes of the script body.")
        .syntax("script"),
    CommandSpec::new("debug", 3, NOSCRIPT, script_debug)
        .doc(Group::Scripting, "3.2.0", "Set the debug mode for executed scripts.")
        .complexity("O(1)")
        .syntax("mode=(YES | SYNC | NO)"),
    CommandSpec::new("help", 2, LOADING | STALE, script_help)
        .doc(Group::Scripting, "5.0.0", "Show helpful text about the different subcommands")
        .complexity("O(1)"),
];

static FUNCTION_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("kill", 2, NOSCRIPT | ALLOW_BUSY, function_kill)
        .tips(&["request_policy:all_shards", "response_policy:one_succeeded"])
        .doc(
            Group::Scripting,
            "7.0.0",
            "Kill the function currently in execution.",
        )
        .complexity("O(1)"),
    CommandSpec::new("flush", -2, WRITE | NOSCRIPT, function_flush)
        .exclusive()
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "7.0.0", "Deleting all functions")
        .complexity("O(N) where N is the number of functions deleted")
        .syntax("[async=(ASYNC | SYNC)]"),
    CommandSpec::new("load", -3, WRITE | DENYOOM | NOSCRIPT, function_load)
        .exclusive()
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            Group::Scripting,
            "7.0.0",
            "Create a function with the given arguments (name, code, description)",
        )
        .complexity("O(1) (considering compilation time is redundant)")
        .syntax("[REPLACE] function-code"),
    CommandSpec::new("help", 2, LOADING | STALE, function_help)
        .doc(
            Group::Scripting,
            "7.0.0",
            "Show helpful text about the different subcommands",
        )
        .complexity("O(1)"),
    CommandSpec::new("delete", 3, WRITE | NOSCRIPT, function_delete)
        .exclusive()
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Scripting, "7.0.0", "Delete a function by name")
        .complexity("O(1)")
        .syntax("library-name"),
    CommandSpec::new("dump", 2, NOSCRIPT, function_dump)
        .doc(
            Group::Scripting,
            "7.0.0",
            "Dump all functions into a serialized binary payload",
        )
        .complexity("O(N) where N is the number of functions"),
    CommandSpec::new("list", -2, NOSCRIPT, function_list)
        .tips(&["nondeterministic_output_order"])
        .doc(
            Group::Scripting,
            "7.0.0",
            "List information about all the functions",
        )
        .complexity("O(N) where N is the number of functions")
        .syntax("[LIBRARYNAME library-name-pattern] [WITHCODE]"),
    CommandSpec::new("restore", -3, WRITE | DENYOOM | NOSCRIPT, function_restore)
        .exclusive()
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(
            Group::Scripting,
            "7.0.0",
            "Restore all the functions on the given payload",
        )
        .complexity("O(N) where N is the number of functions on the payload")
        .syntax("serialized-value [policy=(FLUSH | APPEND | REPLACE)]"),
    CommandSpec::new("stats", 2, NOSCRIPT | ALLOW_BUSY, function_stats)
        .tips(&[
            "nondeterministic_output",
            "request_policy:all_shards",
            "response_policy:special",
        ])
        .doc(
            Group::Scripting,
            "7.0.0",
            "Return information about the function currently running (name, description, duration)",
        )
        .complexity("O(1)"),
];

/// Some of a command's arguments.
type Args<'a> = &'a [&'a [u8]];

/// EVAL and FCALL's `numkeys key... arg...`, after the script or function name;
/// `not_a_number` is the error when `numkeys` is not an integer.
fn keys_and_args<'a>(
    ctx: &Ctx<'a>,
    not_a_number: CommandError,
) -> Result<(Args<'a>, Args<'a>), CommandError> {
    let args: Args<'a> = ctx.args;
    let numkeys = ctx.arg_i64(2).map_err(|_| not_a_number)?;
    if numkeys < 0 {
        return Err(CommandError::err("Number of keys can't be negative"));
    }
    if numkeys as u64 > (args.len() - 3) as u64 {
        return Err(CommandError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let (keys, argv) = args[3..].split_at(numkeys as usize);
    Ok((keys, argv))
}

/// The rules a run follows, and the refusals Redis gives before a flagged script (one with a
/// shebang, or a function: `flags` is Some) starts.
fn prepare(
    ctx: &Ctx<'_>,
    flags: Option<FunctionFlags>,
    read_only_command: bool,
    keys: Args<'_>,
) -> Result<(RunRules, bool), CommandError> {
    let oom =
        ctx.server.limits.maxmemory_set() && !crate::eviction::make_room_before_command(ctx.server);
    // A script without a shebang is admitted as EVAL, which may run on a stale replica; it
    // is refused here instead, as Redis does (a flagged one was judged by its `allow-stale`).
    if flags.is_none() && !ctx.client.kind.obeyed() && check::serving_no_stale_data(ctx.server) {
        return Err(check::stale_replica_error());
    }
    if let Some(flags) = flags {
        if flags.no_cluster && ctx.server.cluster.enabled() {
            return Err(CommandError::err(
                "Can not run script on cluster, 'no-cluster' flag is set.",
            ));
        }
        if !flags.allow_oom && !flags.no_writes && oom {
            return Err(CommandError::coded(
                "OOM command not allowed when used memory > 'maxmemory'.",
            ));
        }
        if !flags.no_writes {
            if let Some(error) = crate::persistence::disk_error(ctx.server) {
                return Err(error.refusal());
            }
            if read_only_command {
                return Err(CommandError::err(
                    "Can not execute a script with write flag using *_ro command.",
                ));
            }
            if let Some(error) = ctx.server.replication.master.write_refusal() {
                return Err(error);
            }
        }
    }
    let rules = RunRules {
        read_only: read_only_command || flags.is_some_and(|f| f.no_writes),
        allow_oom: flags.is_some_and(|f| f.allow_oom),
        allow_cross_slot: flags.is_none_or(|f| f.allow_cross_slot_keys),
        declared_slot: keys
            .first()
            .map(|key| redis_lite_engine::slot::key_slot(key)),
    };
    Ok((rules, oom))
}

/// A script's reply, written as the command's own: an error reply is the command's error.
fn finish(ctx: &mut Ctx<'_>, reply: ScriptReply) -> CmdResult {
    let Some(text) = reply.bytes.strip_prefix(b"-") else {
        ctx.out.buffer().extend_from_slice(&reply.bytes);
        return Ok(());
    };
    let text = text.strip_suffix(b"\r\n").unwrap_or(text);
    // Redis formats a script's error as a C string: it ends at a NUL.
    let text = crate::error::truncated_bytes(text, usize::MAX).to_vec();
    Err(match reply.error_already_counted {
        true => CommandError::AlreadyCounted(text),
        false => CommandError::Raw(text),
    })
}

fn eval(ctx: &mut Ctx<'_>) -> CmdResult {
    run_script(ctx, false, false)
}

fn evalsha(ctx: &mut Ctx<'_>) -> CmdResult {
    run_script(ctx, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_>) -> CmdResult {
    run_script(ctx, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>) -> CmdResult {
    run_script(ctx, true, true)
}

fn run_script(ctx: &mut Ctx<'_>, by_sha: bool, read_only_command: bool) -> CmdResult {
    // A digest that is not 40 characters long matches nothing: Redis says so before it reads
    // the number of keys.
    if by_sha && ctx.arg(1).len() != 40 {
        return Err(no_script());
    }
    let Some(mode) = ctx.client.script_debug else {
        return run_cached_script(ctx, by_sha, read_only_command, None);
    };
    if by_sha {
        return Err(CommandError::err(
            "Please use EVAL instead of EVALSHA for debugging",
        ));
    }
    // The session starts before anything is checked, so even an EVAL that fails (a compile
    // error, a bad number of keys) ends one, as in Redis.
    let session = debug_session(ctx, mode)?;
    let result = run_cached_script(ctx, false, read_only_command, Some((mode, &session)));
    session.borrow_mut().end();
    // The end of the session closes the connection once the reply is written, as Redis
    // signals the end of a debugging session.
    ctx.client.close_after_reply = true;
    log!(Warning, "{}", mode.log_lines().1);
    result
}

fn no_script() -> CommandError {
    CommandError::coded("NOSCRIPT No matching script. Please use EVAL.")
}

/// EVAL's or EVALSHA's script, compiled and cached first for EVAL, run under the debugger
/// when `debug` has a session.
fn run_cached_script(
    ctx: &mut Ctx<'_>,
    by_sha: bool,
    read_only_command: bool,
    debug: Option<(DebugMode, &RefCell<Session>)>,
) -> CmdResult {
    let (keys, argv) = keys_and_args(ctx, CommandError::NotInteger)?;
    let server = ctx.server;
    let mut cache = server.scripting.eval.lock();
    let loaded;
    let sha = if by_sha {
        ctx.arg(1)
    } else {
        loaded = cache.load(ctx.arg(1)).map_err(CommandError::coded)?;
        loaded.as_bytes()
    };
    let Some(script) = cache.get(sha) else {
        return Err(no_script());
    };
    let (rules, oom) = prepare(ctx, script.flags.declared(), read_only_command, keys)?;
    let reply = run_unit(ctx, rules, oom, String::new(), |host, protocol| {
        let Some((mode, session)) = debug else {
            return cache.run(host, sha, keys, argv, protocol);
        };
        if mode == DebugMode::Discard {
            host.discard_writes();
        }
        let reply = cache.run_debugged(host, sha, keys, argv, protocol, Some(session));
        host.undo_writes();
        reply
    });
    drop(cache);
    finish(ctx, reply.expect("cached above"))
}

/// A debugging session for this EVAL (its client ran SCRIPT DEBUG YES or SYNC), on the
/// client's socket.
fn debug_session(ctx: &mut Ctx<'_>, mode: DebugMode) -> Result<RefCell<Session>, CommandError> {
    let Some(fd) = ctx.client.socket_fd else {
        return Err(CommandError::err(
            "the Lua debugger needs a TCP or unix socket connection",
        ));
    };
    let threshold = ctx.server.config.read().busy_reply_threshold.max(0) as u64;
    log!(Warning, "{}", mode.log_lines().0);
    Ok(RefCell::new(Session::new(
        ctx.arg(1),
        Box::new(SocketIo::new(fd, ctx.server.clone())),
        Duration::from_millis(threshold),
    )))
}

/// Runs a script (`name` empty) or a function as one unit on `ctx`'s client: `run` gets the
/// host and the caller's protocol, and returns the reply.
fn run_unit(
    ctx: &mut Ctx<'_>,
    rules: RunRules,
    oom_at_start: bool,
    name: String,
    run: impl FnOnce(&mut ScriptHost<'_, '_>, Protocol) -> Option<ScriptReply>,
) -> Option<ScriptReply> {
    let info = RunInfo {
        is_eval: name.is_empty(),
        name,
        command: Vec::new(),
        started: ctx.started,
        wrote: false,
    };
    let mut host = ScriptHost::begin(ctx, rules, info, oom_at_start);
    let protocol = host.caller_protocol();
    let reply = run(&mut host, protocol);
    host.end();
    reply
}

fn fcall(ctx: &mut Ctx<'_>) -> CmdResult {
    run_function(ctx, false)
}

fn fcall_ro(ctx: &mut Ctx<'_>) -> CmdResult {
    run_function(ctx, true)
}

fn run_function(ctx: &mut Ctx<'_>, read_only_command: bool) -> CmdResult {
    let server = ctx.server;
    let libraries = server.scripting.functions.lock();
    let name = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    let Some(function) = libraries.function(&name) else {
        return Err(CommandError::err("Function not found"));
    };
    let flags = function.flags;
    let (keys, argv) = keys_and_args(ctx, CommandError::err("Bad number of keys provided"))?;
    let (rules, oom) = prepare(ctx, Some(flags), read_only_command, keys)?;
    let reply = run_unit(ctx, rules, oom, name.clone(), |host, protocol| {
        libraries.call(host, &name, keys, argv, protocol)
    });
    drop(libraries);
    finish(ctx, reply.expect("looked up above"))
}

/// SCRIPT EXISTS sha1 [sha1 ...]
fn script_exists(ctx: &mut Ctx<'_>) -> CmdResult {
    let cache = ctx.server.scripting.eval.lock();
    let found: Vec<bool> = ctx.args[2..]
        .iter()
        .map(|sha| cache.get(sha).is_some())
        .collect();
    drop(cache);
    ctx.out.array(found.len());
    for exists in found {
        ctx.out.integer(exists as i64);
    }
    Ok(())
}

/// `[ASYNC | SYNC]` of SCRIPT FLUSH and FUNCTION FLUSH: both flush at once here, as a fresh
/// Lua state is cheap to make and the old one is freed when dropped.
fn flush_mode(ctx: &Ctx<'_>) -> CmdResult {
    match ctx.arg_count() {
        2 => Ok(()),
        3 if ctx.arg_is(2, "async") || ctx.arg_is(2, "sync") => Ok(()),
        _ => Err(CommandError::err(
            "SCRIPT FLUSH only support SYNC|ASYNC option",
        )),
    }
}

/// SCRIPT FLUSH [ASYNC | SYNC]
fn script_flush(ctx: &mut Ctx<'_>) -> CmdResult {
    flush_mode(ctx)?;
    ctx.server.scripting.eval.lock().flush();
    ctx.out.ok();
    Ok(())
}

/// SCRIPT KILL
fn script_kill(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.server.scripting.running.kill(true)?;
    ctx.out.ok();
    Ok(())
}

/// SCRIPT LOAD script
fn script_load(ctx: &mut Ctx<'_>) -> CmdResult {
    let sha = ctx
        .server
        .scripting
        .eval
        .lock()
        .load(ctx.arg(2))
        .map_err(CommandError::coded)?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

/// SCRIPT DEBUG YES|SYNC|NO: the client's next EVAL runs under the Lua debugger (see
/// `debugger`).
fn script_debug(ctx: &mut Ctx<'_>) -> CmdResult {
    if matches!(ctx.client.mode, ExecMode::Nested { .. }) {
        return Err(CommandError::err(
            "SCRIPT DEBUG must be called outside a pipeline",
        ));
    }
    ctx.client.script_debug = if ctx.arg_is(2, "no") {
        None
    } else if ctx.arg_is(2, "yes") {
        Some(DebugMode::Discard)
    } else if ctx.arg_is(2, "sync") {
        Some(DebugMode::Keep)
    } else {
        return Err(CommandError::err("Use SCRIPT DEBUG YES/SYNC/NO"));
    };
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "SCRIPT",
        &[
            "DEBUG (YES|SYNC|NO)",
            "    Set the debug mode for subsequent scripts executed.",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache. Very dangerous on replicas.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the scripts cache.",
            "    * SYNC: Synchronously flush the scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
        ],
    );
    Ok(())
}

/// FUNCTION KILL
fn function_kill(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.server.scripting.running.kill(false)?;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION FLUSH [ASYNC | SYNC]
fn function_flush(ctx: &mut Ctx<'_>) -> CmdResult {
    match ctx.arg_count() {
        2 => {}
        3 if ctx.arg_is(2, "async") || ctx.arg_is(2, "sync") => {}
        // More than one option is Redis's subcommand syntax error, one it does not know its
        // own.
        4.. => return Err(CommandError::subcommand_syntax("FUNCTION", ctx.arg(1))),
        _ => {
            return Err(CommandError::err(
                "FUNCTION FLUSH only supports SYNC|ASYNC option",
            ))
        }
    }
    change_libraries(ctx, |libraries| {
        libraries.flush();
        Ok(())
    })?;
    ctx.out.ok();
    Ok(())
}

/// A FUNCTION change (LOAD, DELETE, FLUSH, RESTORE): applied under the libraries' lock, then
/// the counts FUNCTION STATS reads are updated, the command is logged, and it counts as a
/// change to the dataset.
fn change_libraries<T>(
    ctx: &mut Ctx<'_>,
    change: impl FnOnce(&mut FunctionLibraries) -> Result<T, String>,
) -> Result<T, CommandError> {
    let scripting = &ctx.server.scripting;
    let mut libraries = scripting.functions.lock();
    let changed = change(&mut libraries).map_err(CommandError::coded)?;
    scripting.count(&libraries);
    drop(libraries);
    ctx.propagate();
    ctx.dirty(1);
    Ok(changed)
}

/// What a library sees while it loads: it may log, and FUNCTION LOAD's time limit applies, but
/// it may not call commands (the runtime refuses that before asking the host).
pub(super) struct LoadHost {
    /// When FUNCTION LOAD gives up (Redis's 500 ms); libraries restored from a snapshot, an AOF
    /// or FUNCTION RESTORE load without a limit, as in Redis.
    deadline: Option<Instant>,
}

impl LoadHost {
    const FUNCTION_LOAD_LIMIT: Duration = Duration::from_millis(500);

    pub(super) fn function_load() -> Self {
        LoadHost {
            deadline: Some(Instant::now() + Self::FUNCTION_LOAD_LIMIT),
        }
    }

    pub(super) fn restore() -> Self {
        LoadHost { deadline: None }
    }
}

impl Host for LoadHost {
    fn call(&mut self, _: &[&[u8]], _: redis_lite_protocol::Protocol, reply: &mut Vec<u8>) {
        reply.extend_from_slice(b"-ERR redis.call is not available while a library loads\r\n");
    }

    fn log(&mut self, level: LogLevel, message: &[u8]) {
        super::write_log(level, message);
    }

    fn set_repl(&mut self, _: ReplFlags) {}

    fn acl_check(&mut self, _: &[&[u8]]) -> redis_lite_scripting::AclCheck {
        redis_lite_scripting::AclCheck::Allowed
    }

    fn interrupt(&mut self) -> Interrupt {
        match self.deadline {
            Some(deadline) if Instant::now() > deadline => Interrupt::LoadTimedOut,
            _ => Interrupt::Continue,
        }
    }
}

/// FUNCTION LOAD [REPLACE] function-code: every argument before the last is an option, and
/// REPLACE may come more than once, as Redis reads them.
fn function_load(ctx: &mut Ctx<'_>) -> CmdResult {
    let last = ctx.arg_count() - 1;
    let mut replace = false;
    for i in 2..last {
        if !ctx.arg_is(i, "replace") {
            return Err(CommandError::err_quoting(
                "Unknown option given: ",
                ctx.arg(i),
                "",
            ));
        }
        replace = true;
    }
    let code = ctx.arg(last);
    let name = change_libraries(ctx, |libraries| {
        libraries.load(&mut LoadHost::function_load(), code, replace)
    })?;
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

/// FUNCTION DELETE library-name
fn function_delete(ctx: &mut Ctx<'_>) -> CmdResult {
    let name = String::from_utf8_lossy(ctx.arg(2)).into_owned();
    change_libraries(ctx, |libraries| libraries.delete(&name))?;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION DUMP: every library as an RDB function record, with DUMP's version and
/// checksum footer.
fn function_dump(ctx: &mut Ctx<'_>) -> CmdResult {
    let libraries = ctx.server.scripting.functions.lock();
    let codes: Vec<&[u8]> = libraries.libraries().map(|l| l.code.as_slice()).collect();
    let payload = redis_lite_persist::rdb::dump_functions(&codes);
    drop(libraries);
    ctx.out.bulk(&payload);
    Ok(())
}

/// FUNCTION RESTORE serialized-value [FLUSH | APPEND | REPLACE]
fn function_restore(ctx: &mut Ctx<'_>) -> CmdResult {
    let policy = match ctx.arg_count() {
        3 => RestorePolicy::Append,
        4 if ctx.arg_is(3, "flush") => RestorePolicy::Flush,
        4 if ctx.arg_is(3, "append") => RestorePolicy::Append,
        4 if ctx.arg_is(3, "replace") => RestorePolicy::Replace,
        4 => {
            return Err(CommandError::err(
                "Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ))
        }
        _ => return Err(CommandError::subcommand_syntax("FUNCTION", ctx.arg(1))),
    };
    let codes = redis_lite_persist::rdb::restore_functions(ctx.arg(2))
        .map_err(|_| CommandError::err("DUMP payload version or checksum are wrong"))?;
    change_libraries(ctx, |libraries| {
        libraries.restore(&mut LoadHost::restore(), &codes, policy)
    })?;
    ctx.out.ok();
    Ok(())
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE]
fn function_list(ctx: &mut Ctx<'_>) -> CmdResult {
    let mut with_code = false;
    let mut pattern: Option<&[u8]> = None;
    let mut i = 2;
    while i < ctx.arg_count() {
        if ctx.arg_is(i, "withcode") && !with_code {
            with_code = true;
            i += 1;
        } else if ctx.arg_is(i, "libraryname") && pattern.is_none() {
            if i + 1 >= ctx.arg_count() {
                return Err(CommandError::err("library name argument was not given"));
            }
            pattern = Some(ctx.arg(i + 1));
            i += 2;
        } else {
            return Err(CommandError::err_quoting(
                "Unknown argument ",
                ctx.arg(i),
                "",
            ));
        }
    }
    let libraries = ctx.server.scripting.functions.lock();
    let chosen: Vec<_> = libraries
        .libraries()
        .filter(|l| pattern.is_none_or(|p| glob_match(p, l.name.as_bytes(), true)))
        .collect();
    let out = &mut ctx.out;
    out.array(chosen.len());
    for library in chosen {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(library.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(library.functions.len());
        for function in library.functions.values() {
            out.map(3);
            out.bulk(b"name");
            out.bulk(function.name.as_bytes());
            out.bulk(b"description");
            match &function.description {
                Some(text) => out.bulk(text.as_bytes()),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names = function.flags.names();
            out.set(names.len());
            for name in names {
                out.simple(name);
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&library.code);
        }
    }
    Ok(())
}

/// FUNCTION STATS: the running function, if any, and the library and function counts. Runs
/// while a function is busy, so it reads only what is kept outside the libraries' lock.
fn function_stats(ctx: &mut Ctx<'_>) -> CmdResult {
    let scripting = &ctx.server.scripting;
    let running = scripting.running.current().filter(|r| !r.is_eval);
    let out = &mut ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    match running {
        None => out.null(),
        Some(run) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(run.name.as_bytes());
            out.bulk(b"command");
            out.array(run.command.len());
            for arg in &run.command {
                out.bulk(arg);
            }
            out.bulk(b"duration_ms");
            out.integer(run.started.elapsed().as_millis() as i64);
        }
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.integer(scripting.library_count.load(Relaxed) as i64);
    out.bulk(b"functions_count");
    out.integer(scripting.function_count.load(Relaxed) as i64);
    Ok(())
}

fn function_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "FUNCTION",
        &[
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
        ],
    );
    Ok(())
}
