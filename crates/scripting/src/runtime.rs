//! One Lua state with Redis's sandbox (`sandbox.lua`), the libraries, the `redis` API, and
//! the machinery to run a function against a [`Host`]: the pointer to the run in progress
//! that the API's Rust functions reach it through, the error handler that records where an
//! error happened, and the interrupt hook.
//! EVAL and FUNCTION each own one, as in Redis, where flushing one does not touch the other.

use std::any::Any;
use std::cell::RefCell;
use std::ffi::c_int;
use std::panic::AssertUnwindSafe;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;

use mlua::{
    ffi, FromLuaMulti, Function, HookTriggers, LightUserData, Lua, LuaOptions, MultiValue, Result,
    StdLib, Table, Value, VmState,
};
use redis_lite_protocol::{parse_response, Protocol, ReplyWriter};
use smallvec::SmallVec;

use crate::convert::{push_simple_reply, reply_to_lua, write_value, STATS_COUNTED};
use crate::host::{AclCheck, Host, Interrupt, LogLevel, ReplFlags};
use crate::ldb::{self, Session};
use crate::libs;
use crate::{INTERRUPT_CHECK_INSTRUCTIONS, REDIS_VERSION, REDIS_VERSION_NUM};

/// The interrupt hook's triggers while a run goes on normally.
const INTERRUPT_CHECKS: HookTriggers =
    HookTriggers::new().every_nth_instruction(INTERRUPT_CHECK_INSTRUCTIONS);

/// Asks the host at `triggers` whether the run goes on (global, so coroutines a script creates
/// are checked too). Once it is stopped (killed, or a load past its time), the hook fires at
/// every new line and every jump back, as Redis's does: a `pcall` may catch the error, but a
/// loop around it raises it again, so no script can keep going by catching it.
fn set_interrupt_hook(
    lua: &Lua,
    active: &Arc<ActiveRun>,
    killed: &Arc<AtomicBool>,
    triggers: HookTriggers,
) -> Result<()> {
    let (interrupted, killed) = (active.clone(), killed.clone());
    lua.set_global_hook(triggers, move |lua, debug| {
        // Once killed, only the script's own lines raise it again: the sandbox's code that
        // runs around a script (its wrappers, the error handler) is not the script's.
        if killed.load(Ordering::Relaxed) && debug.source().source.as_deref() == Some(SANDBOX_CHUNK)
        {
            return Ok(VmState::Continue);
        }
        let message = match interrupted.with(ask_host_to_interrupt) {
            Ok(Interrupt::Kill) => KILLED,
            Ok(Interrupt::LoadTimedOut) => LOAD_TIMED_OUT,
            _ => return Ok(VmState::Continue),
        };
        if !killed.swap(true, Ordering::Relaxed) {
            set_interrupt_hook(lua, &interrupted, &killed, HookTriggers::EVERY_LINE)?;
        }
        Err(mlua::Error::RuntimeError(message.to_string()))
    })
}

/// Under the debugger, the hook stops the script at lines (and checks for an infinite loop at
/// Redis's interrupt rate) instead of asking the host whether to go on, as Redis's does.
fn set_debugger_hook(lua: &Lua, active: &Arc<ActiveRun>) -> Result<()> {
    let active = active.clone();
    let triggers = HookTriggers::EVERY_LINE.every_nth_instruction(INTERRUPT_CHECK_INSTRUCTIONS);
    lua.set_global_hook(triggers, move |lua, debug| {
        let Some(session) = active.debugger() else {
            return Ok(VmState::Continue);
        };
        // SAFETY: see `ActiveRun::debugger`.
        ldb::hook(lua, debug, unsafe { &*session })
    })
}

/// The host's answer to the interrupt hook. A panic out of the host (the unwind of a fiber's
/// stack while the script is suspended in `interrupt`, when its event loop goes away) is kept
/// and the run stopped: Lua's C frames cannot be unwound through, and mlua would turn it into a
/// script error that a `pcall` could swallow, after which the script and the rest of its
/// fiber's work would go on. The panic goes on once the run has left Lua; meanwhile the host is
/// not asked again (it could not suspend an unwinding fiber) and serves no command.
fn ask_host_to_interrupt(state: &mut RunState<'_>) -> Interrupt {
    if state.panic.is_some() {
        return Interrupt::Kill;
    }
    let host = &mut *state.host;
    match std::panic::catch_unwind(AssertUnwindSafe(|| host.interrupt())) {
        Ok(interrupt) => interrupt,
        Err(panic) => {
            state.panic = Some(panic);
            Interrupt::Kill
        }
    }
}

/// The chunk name of the sandbox code: the error handler skips its frames, so errors point
/// at the script's own line.
const SANDBOX_CHUNK: &str = "=redis_lite_sandbox";
const KILLED: &str = "Script killed by user with SCRIPT KILL...";
const LOAD_TIMED_OUT: &str = "FUNCTION LOAD timeout";
const NO_RUN: &str = "ERR the redis API is only available while a script runs";

/// Which API a state gets: EVAL's has `breakpoint`/`debug`/`replicate_commands`, `KEYS` and
/// `ARGV`; a function library's has `register_function` while it loads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Eval,
    Function,
}

pub(crate) struct Runtime {
    pub(crate) lua: Lua,
    /// The real global table, behind the readonly proxy scripts see; KEYS and ARGV are set
    /// here directly.
    pub(crate) globals: Table,
    /// The protected view of the globals, the environment of every script.
    pub(crate) sandboxed_globals: Table,
    /// The run in progress, which the API's Rust functions reach.
    active: Arc<ActiveRun>,
    /// The error handler every run goes through ([`error_handler`]).
    handler: Function,
    /// `new_library_env()` for function states.
    pub(crate) new_library_env: Option<Function>,
    /// A run was stopped: the interrupt hook fires at every line until the run ends.
    killed: Arc<AtomicBool>,
    /// Runs since the last garbage collection step ([`GC_STEP_PERIOD`]).
    runs_since_gc_step: AtomicU32,
}

/// As Redis does, every this many runs the collector takes a step of this size (in Lua's
/// units, about kilobytes): the garbage of many small runs (their KEYS and ARGV tables) is
/// collected as it comes instead of in one long cycle.
const GC_STEP_PERIOD: u32 = 50;

/// What a run may change besides the reply: the protocol chosen with `redis.setresp`, and
/// the functions a library registers while it loads.
pub(crate) struct RunState<'h> {
    host: &'h mut dyn Host,
    resp: Protocol,
    pub(crate) registrations: Option<&'h mut Vec<Registration>>,
    /// A panic inside the host during `redis.call`: the script fails, then the panic goes on
    /// once the run has left Lua (unwinding through Lua's C frames is not possible).
    panic: Option<Box<dyn Any + Send>>,
    /// The debugging session of a run under the Lua debugger.
    debugger: Option<&'h RefCell<Session>>,
}

/// One `redis.register_function` call, checked except for name clashes across libraries.
pub(crate) struct Registration {
    pub(crate) name: String,
    pub(crate) callback: Function,
    pub(crate) description: Option<String>,
    pub(crate) flags: crate::FunctionFlags,
}

/// How a run ended, before it becomes the reply.
pub(crate) enum Outcome {
    Value(Value),
    /// The handler's table: `err`, and `source`/`line` where the error happened.
    Error(Table),
}

impl Runtime {
    pub(crate) fn new(kind: Kind, random: Arc<AtomicU64>) -> Result<Runtime> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let globals = lua.globals();
        let mut library_names = Vec::new();
        for (name, library) in libs::load(&lua)? {
            globals.raw_set(name, library)?;
            library_names.push(name);
        }
        let rust = lua.create_table()?;
        rust.raw_set("libraries", library_names)?;
        let handler = lua.create_function(error_handler)?;
        rust.raw_set("handler", &handler)?;
        rust.raw_set(
            "error_text",
            lua.create_function(|lua, text: mlua::LuaString| {
                lua.create_string(error_text(&text.as_bytes()))
            })?,
        )?;
        rust.raw_set("sha1hex", lua.create_function(sha1hex)?)?;
        rust.raw_set(
            "guard",
            lua.create_function(
                |lua, (name, original, writes, protected): (String, Function, bool, Table)| {
                    guard(lua, name, original, writes, protected)
                },
            )?,
        )?;
        rust.raw_set(
            "unpack",
            lua.create_function(|lua, protected: Table| {
                // SAFETY: pushing a C closure only allocates; `unpack` reads its upvalue as
                // the proxies' table.
                unsafe {
                    lua.exec_raw::<Function>(protected, |state| {
                        ffi::lua_pushcclosure(state, unpack, 1)
                    })
                }
            })?,
        )?;
        rust.raw_set(
            "error_message",
            lua.create_function(|lua, error: Value| {
                lua.create_string(match &error {
                    Value::Error(e) => pcall_message(e),
                    _ => Vec::new(),
                })
            })?,
        )?;
        let active = Arc::new(ActiveRun(AtomicPtr::new(ptr::null_mut())));
        let finish = lua.create_function(finish_call)?;
        for (name, api) in [
            ("call", redis_call as ffi::lua_CFunction),
            ("pcall", redis_pcall),
            ("debug", redis_debug),
            ("breakpoint", redis_breakpoint),
        ] {
            // SAFETY: the closure's upvalues are the run pointer, which stays valid as long as
            // the state (the interrupt hook, set below, keeps a reference to it), and
            // `finish_call`; pushing a C closure only allocates.
            let function: Function = unsafe {
                lua.exec_raw(
                    (
                        LightUserData(Arc::as_ptr(&active).cast_mut().cast()),
                        &finish,
                    ),
                    |state| ffi::lua_pushcclosure(state, api, 2),
                )?
            };
            rust.raw_set(name, function)?;
        }
        for (name, op) in [
            ("log", ApiOp::Log),
            ("setresp", ApiOp::SetResp),
            ("set_repl", ApiOp::SetRepl),
            ("acl_check_cmd", ApiOp::AclCheckCmd),
            ("register_function", ApiOp::RegisterFunction),
        ] {
            let run = active.clone();
            rust.raw_set(
                name,
                lua.create_function(move |lua, args: MultiValue| {
                    let (answer, failed): (Value, bool) =
                        run.with(|state| host_op(lua, state, op, args))??;
                    if failed {
                        let text = match answer {
                            Value::String(s) => s.as_bytes().to_vec(),
                            _ => Vec::new(),
                        };
                        return Err(mlua::Error::external(ErrorReply(text)));
                    }
                    Ok(answer)
                })?,
            )?;
        }
        let constants = lua.create_table()?;
        for (name, value) in [
            ("LOG_DEBUG", 0),
            ("LOG_VERBOSE", 1),
            ("LOG_NOTICE", 2),
            ("LOG_WARNING", 3),
            ("REPL_NONE", 0),
            ("REPL_AOF", ReplFlags::AOF),
            ("REPL_SLAVE", ReplFlags::REPLICA),
            ("REPL_REPLICA", ReplFlags::REPLICA),
            ("REPL_ALL", ReplFlags::AOF | ReplFlags::REPLICA),
        ] {
            constants.raw_set(name, value)?;
        }
        constants.raw_set("REDIS_VERSION", REDIS_VERSION)?;
        constants.raw_set("REDIS_VERSION_NUM", REDIS_VERSION_NUM)?;
        rust.raw_set("constants", constants)?;
        libs::random::install(&lua, &rust, random)?;

        let kind_name = match kind {
            Kind::Eval => "eval",
            Kind::Function => "function",
        };
        let (sandboxed_globals, new_library_env): (Table, Option<Function>) = lua
            .load(include_str!("sandbox.lua"))
            .set_name(SANDBOX_CHUNK)
            .call((globals.clone(), rust, kind_name))?;

        let killed = Arc::new(AtomicBool::new(false));
        set_interrupt_hook(&lua, &active, &killed, INTERRUPT_CHECKS)?;
        Ok(Runtime {
            lua,
            globals,
            sandboxed_globals,
            active,
            handler,
            new_library_env,
            killed,
            runs_since_gc_step: AtomicU32::new(0),
        })
    }

    /// Runs `f` with the redis API bound to `host` and its `arguments`, then hands the outcome
    /// and the script's final protocol to `finish`.
    /// Under the debugger (`debugger`), the debugger's hook replaces the interrupt hook for
    /// the run.
    pub(crate) fn execute<R>(
        &self,
        host: &mut dyn Host,
        registrations: Option<&mut Vec<Registration>>,
        f: &Function,
        arguments: Arguments<'_>,
        debugger: Option<&RefCell<Session>>,
        finish: impl FnOnce(&Lua, Outcome, Protocol) -> Result<R>,
    ) -> Result<R> {
        if let Some(session) = debugger {
            session.borrow_mut().environment = Some(self.sandboxed_globals.clone());
            set_debugger_hook(&self.lua, &self.active)?;
        }
        let mut state = RunState {
            host,
            resp: Protocol::Resp2,
            registrations,
            panic: None,
            debugger,
        };
        let outcome = self.active.install(&mut state, || -> Result<Outcome> {
            let (ok, value): (bool, Value) = self.call_with_arguments(f, arguments)?;
            Ok(match (ok, value) {
                (true, value) => Outcome::Value(value),
                (false, Value::Table(error)) => Outcome::Error(error),
                // The handler itself failed (out of memory): Lua's own message.
                (false, other) => {
                    let error = self.lua.create_table()?;
                    let text = self.lua.coerce_string(other)?;
                    let mut err = b"ERR ".to_vec();
                    err.extend_from_slice(&text.map(|t| t.as_bytes().to_vec()).unwrap_or_default());
                    error.raw_set("err", self.lua.create_string(err)?)?;
                    Outcome::Error(error)
                }
            })
        });
        if self.killed.swap(false, Ordering::Relaxed) || debugger.is_some() {
            set_interrupt_hook(&self.lua, &self.active, &self.killed, INTERRUPT_CHECKS)?;
        }
        if let Some(panic) = state.panic.take() {
            std::panic::resume_unwind(panic);
        }
        let result = finish(&self.lua, outcome?, state.resp);
        if self.runs_since_gc_step.fetch_add(1, Ordering::Relaxed) + 1 >= GC_STEP_PERIOD {
            self.runs_since_gc_step.store(0, Ordering::Relaxed);
            // SAFETY: a collection step runs no script code (Lua 5.1 has no finalizers for
            // tables, and mlua's userdata finalizers raise nothing).
            unsafe {
                self.lua.exec_raw::<()>((), |state| {
                    ffi::lua_gc(state, ffi::LUA_GCSTEP, GC_STEP_PERIOD as c_int);
                })?;
            }
        }
        result
    }

    /// Builds KEYS and ARGV and runs `f` under the error handler, returning whether it
    /// succeeded and its first result or the handler's error table. All of it is done on Lua's
    /// raw stack, with one `lua_pcall`: through mlua's API, each table, string and field was a
    /// call of its own, with its lock and its reference slot, and `exec_raw` and a Lua
    /// wrapper calling `xpcall` added a protected call and a closure per run.
    fn call_with_arguments(&self, f: &Function, arguments: Arguments<'_>) -> Result<(bool, Value)> {
        self.lua.exec_raw_lua(|lua| {
            // SAFETY: five slots are checked for (the handler, the function, the globals table
            // then a name and an array, or the two arrays), and the stack is put back as it
            // was. The pushes outside `lua_pcall` raise no Lua error: they only allocate, and
            // the state has no memory limit (an allocation failure aborts), as mlua's own
            // pushes assume.
            unsafe {
                let state = lua.state();
                let top = ffi::lua_gettop(state);
                if ffi::lua_checkstack(state, 5) == 0 {
                    return Err(mlua::Error::StackError);
                }
                let result = (|| {
                    lua.push(&self.handler)?;
                    lua.push(f)?;
                    let count = match arguments {
                        Arguments::None => 0,
                        Arguments::Globals { keys, argv } => {
                            lua.push(&self.globals)?;
                            for (name, items) in [(c"KEYS", keys), (c"ARGV", argv)] {
                                ffi::lua_pushstring(state, name.as_ptr());
                                push_string_array(state, items);
                                ffi::lua_rawset(state, -3);
                            }
                            ffi::lua_pop(state, 1);
                            0
                        }
                        Arguments::Parameters { keys, argv } => {
                            push_string_array(state, keys);
                            push_string_array(state, argv);
                            2
                        }
                    };
                    // Only the first result counts, as in Redis.
                    let status = ffi::lua_pcall(state, count, 1, top + 1);
                    Ok((status == ffi::LUA_OK, lua.pop_value()))
                })();
                ffi::lua_settop(state, top);
                result
            }
        })
    }
}

/// What a run gets besides the redis API.
#[derive(Clone, Copy)]
pub(crate) enum Arguments<'a> {
    /// A library's body while it loads.
    None,
    /// An EVAL script: `KEYS` and `ARGV` as globals.
    Globals {
        keys: &'a [&'a [u8]],
        argv: &'a [&'a [u8]],
    },
    /// A function: KEYS and ARGV as its two parameters.
    Parameters {
        keys: &'a [&'a [u8]],
        argv: &'a [&'a [u8]],
    },
}

/// Pushes a new array of `items` as strings, created at its final size as Redis creates KEYS
/// and ARGV.
///
/// # Safety
/// `state` is a Lua state with room for two more values, inside a protected call.
unsafe fn push_string_array(state: *mut ffi::lua_State, items: &[&[u8]]) {
    let size = c_int::try_from(items.len()).unwrap_or(c_int::MAX);
    ffi::lua_createtable(state, size, 0);
    for (index, item) in (1..).zip(items) {
        ffi::lua_pushlstring(state, item.as_ptr().cast(), item.len());
        ffi::lua_rawseti(state, -2, index);
    }
}

/// Where the API's Rust functions find the run in progress: a pointer to its [`RunState`],
/// set for exactly the length of [`ActiveRun::install`]. Binding the host this way instead
/// of with an `mlua` scope (two scoped functions per run, and a Lua call per `redis.call`
/// to reach them) cuts the cost of a one-command script from 7.4µs to 2.9µs (a release
/// build running `return redis.call('get', KEYS[1])` against a host that answers at once).
struct ActiveRun(AtomicPtr<RunState<'static>>);

impl ActiveRun {
    fn install<'h, R>(&self, state: &mut RunState<'h>, run: impl FnOnce() -> R) -> R {
        /// Puts back the previous run (none, except while a library loads from inside a run,
        /// which does not happen) even if `run` unwinds.
        struct Restore<'a>(&'a AtomicPtr<RunState<'static>>, *mut RunState<'static>);
        impl Drop for Restore<'_> {
            fn drop(&mut self) {
                self.0.store(self.1, Ordering::Release);
            }
        }
        // The lifetime is erased only to store the pointer; `with` dereferences it only
        // while this call, which borrows `state` mutably, is still running.
        let erased = (state as *mut RunState<'h>).cast::<RunState<'static>>();
        let previous = self.0.swap(erased, Ordering::AcqRel);
        let _restore = Restore(&self.0, previous);
        run()
    }

    /// The debugging session of the run in progress, if it runs under the debugger. The
    /// session outlives the run (`install`'s caller borrows it for the whole call), so the
    /// pointer is valid while the run goes on; it is a `RefCell`, so the hook, `redis.call` and
    /// `redis.debug` each borrow it only for their own short steps.
    fn debugger(&self) -> Option<*const RefCell<Session>> {
        self.with(|state| state.debugger.map(|d| d as *const RefCell<Session>))
            .ok()
            .flatten()
    }

    /// Runs `f` on the run in progress; an error outside one.
    fn with<R>(&self, f: impl FnOnce(&mut RunState<'_>) -> R) -> Result<R> {
        let state = self.0.load(Ordering::Acquire);
        if state.is_null() {
            return Err(mlua::Error::external(ErrorReply(
                NO_RUN.as_bytes().to_vec(),
            )));
        }
        // SAFETY: `install` set this pointer from a `&mut RunState` that outlives its call and
        // resets it before returning, so the state is alive. No other reference to it is in
        // use meanwhile: the caller of `install` does not touch `state` until it returns, Lua
        // runs one callback at a time on the thread that holds its lock, and `f` never calls
        // back into Lua code that could reach this function again (the host only serves
        // commands; Lua API calls made by `f` do not run scripts, hooks or finalizers).
        Ok(f(unsafe { &mut *state }))
    }
}

/// The reply for an outcome: the value converted for the client, or the error with Redis's
/// "script: NAME, on SOURCE:LINE." suffix.
/// Returns whether the reply is a command's error that the command already counted in the
/// error stats (returned from `redis.pcall` or raised by `redis.call`), which the server must
/// not count again.
pub(crate) fn write_outcome(
    out: &mut Vec<u8>,
    client: Protocol,
    outcome: &Outcome,
    script_resp: Protocol,
    name: &str,
) -> Result<bool> {
    let mut writer = ReplyWriter::new(out, client);
    let table = match outcome {
        Outcome::Value(value) => {
            write_value(&mut writer, value, script_resp)?;
            match value {
                Value::Table(t) if matches!(t.raw_get::<Value>("err")?, Value::String(_)) => t,
                _ => return Ok(false),
            }
        }
        Outcome::Error(error) => {
            writer.error_bytes(&error_reply_text(error, name)?);
            error
        }
    };
    table.raw_get::<bool>(STATS_COUNTED)
}

pub(crate) fn error_reply_text(error: &Table, name: &str) -> Result<Vec<u8>> {
    let mut text = match error.raw_get::<Value>("err")? {
        Value::String(s) => s.as_bytes().to_vec(),
        // Redis 7.0 crashes on an error table without `err` (`error({})`); a generic text
        // is the sane answer.
        _ => b"ERR unknown error".to_vec(),
    };
    if let (Value::String(source), Some(line)) = (
        error.raw_get::<Value>("source")?,
        error.raw_get::<Option<i64>>("line")?,
    ) {
        text.extend_from_slice(b" script: ");
        text.extend_from_slice(name.as_bytes());
        text.extend_from_slice(b", on ");
        text.extend_from_slice(&source.as_bytes());
        text.extend_from_slice(format!(":{line}.").as_bytes());
    }
    Ok(text)
}

/// The error handler every run goes through (Redis's `__redis__err__handler`): it turns the
/// error into a table with an `err` text and records the source and line of the innermost
/// frame of the script itself, skipping C functions and the sandbox's own Lua.
fn error_handler(lua: &Lua, error: Value) -> Result<Table> {
    let text: Vec<u8> = match &error {
        Value::Table(table) => match table.raw_get::<Value>("err")? {
            Value::String(s) => s.as_bytes().to_vec(),
            _ => Vec::new(),
        },
        Value::Error(e) => error_value_text(e),
        other => {
            let mut text = b"ERR ".to_vec();
            let tostring: Function = lua.globals().get("tostring")?;
            let s: mlua::LuaString = tostring.call(other.clone())?;
            text.extend_from_slice(&s.as_bytes());
            text
        }
    };
    let result = lua.create_table()?;
    if !(text.is_empty() && matches!(error, Value::Table(_))) {
        result.raw_set("err", lua.create_string(&text)?)?;
    }
    let counted = match &error {
        Value::Table(table) => table.raw_get::<bool>(STATS_COUNTED)?,
        Value::Error(e) => is_command_error(e),
        _ => false,
    };
    if counted {
        result.raw_set(STATS_COUNTED, true)?;
    }
    for level in 1.. {
        let Some((what, source, line)) = lua.inspect_stack(level, |debug| {
            let source = debug.source();
            (
                source.what,
                source.source.map(|s| s.into_owned()),
                debug.current_line(),
            )
        }) else {
            break;
        };
        if what == "C" || source.as_deref() == Some(SANDBOX_CHUNK) {
            continue;
        }
        if let (Some(source), Some(line)) = (source, line) {
            result.raw_set("source", source)?;
            result.raw_set("line", line)?;
        }
        break;
    }
    Ok(result)
}

/// An error reply raised from Rust: the script fails with exactly this text, as when Redis
/// raises an error table.
#[derive(Debug)]
pub(crate) struct ErrorReply(pub(crate) Vec<u8>);

/// A command's error reply that `redis.call` raises: as [`ErrorReply`], and already counted in
/// the error stats by the command itself.
#[derive(Debug)]
pub(crate) struct CommandErrorReply(pub(crate) Vec<u8>);

impl std::fmt::Display for CommandErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for CommandErrorReply {}

/// Whether an error raised from Rust is a command's error reply (see [`CommandErrorReply`]).
fn is_command_error(error: &mlua::Error) -> bool {
    match error {
        mlua::Error::CallbackError { cause, .. } => is_command_error(cause),
        mlua::Error::ExternalError(e) => e.downcast_ref::<CommandErrorReply>().is_some(),
        _ => false,
    }
}

impl std::fmt::Display for ErrorReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

impl std::error::Error for ErrorReply {}

/// The text of an error raised from Rust, without mlua's wrapping: an [`ErrorReply`] as it
/// is, a Lua error message with `ERR ` before it.
fn error_value_text(error: &mlua::Error) -> Vec<u8> {
    match error {
        mlua::Error::CallbackError { cause, .. } => error_value_text(cause),
        mlua::Error::ExternalError(e) => match (
            e.downcast_ref::<ErrorReply>(),
            e.downcast_ref::<CommandErrorReply>(),
        ) {
            (Some(ErrorReply(text)), _) | (_, Some(CommandErrorReply(text))) => text.clone(),
            _ => format!("ERR {e}").into_bytes(),
        },
        mlua::Error::RuntimeError(message) => format!("ERR {message}").into_bytes(),
        other => format!("ERR {other}").into_bytes(),
    }
}

/// What `pcall` returns for an error raised from Rust: the reply text of an [`ErrorReply`],
/// the bare message of a Lua error.
fn pcall_message(error: &mlua::Error) -> Vec<u8> {
    match error {
        mlua::Error::CallbackError { cause, .. } => pcall_message(cause),
        mlua::Error::RuntimeError(message) => message.clone().into_bytes(),
        other => error_value_text(other),
    }
}

fn innermost(error: &mlua::Error) -> &mlua::Error {
    match error {
        mlua::Error::CallbackError { cause, .. } => innermost(cause),
        other => other,
    }
}

/// A Lua error as `luaL_error` raises it: the message after the calling line's position.
pub(crate) fn lua_error(lua: &Lua, message: &str) -> mlua::Error {
    let position = lua
        .inspect_stack(1, |debug| {
            let line = debug.current_line()?;
            let source = debug.source().short_src?.into_owned();
            Some(format!("{source}:{line}: "))
        })
        .flatten()
        .unwrap_or_default();
    mlua::Error::RuntimeError(format!("{position}{message}"))
}

/// The error an error table from a command raises.
fn error_reply(reply: &Value) -> Result<mlua::Error> {
    if let Value::Table(t) = reply {
        if t.raw_get::<bool>(STATS_COUNTED)? {
            let text = match t.raw_get::<Value>("err")? {
                Value::String(s) => s.as_bytes().to_vec(),
                _ => Vec::new(),
            };
            return Ok(mlua::Error::external(CommandErrorReply(text)));
        }
    }
    let text = match reply {
        Value::Table(t) => match t.raw_get::<Value>("err")? {
            Value::String(s) => s.as_bytes().to_vec(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    Ok(mlua::Error::external(ErrorReply(text)))
}

/// A base or table library function that bypasses metatables, made aware of readonly
/// proxies (`protected` maps each proxy to its table): one that writes refuses them with
/// Redis's error, one that reads is given the table behind. Argument errors keep Lua's text
/// ("bad argument #1 to 'pairs' (table expected, got nil)") with the caller's line.
fn guard(
    lua: &Lua,
    name: String,
    original: Function,
    writes: bool,
    protected: Table,
) -> Result<Function> {
    lua.create_function(move |lua, mut args: MultiValue| {
        let real = match args.front() {
            Some(Value::Table(t)) => protected.raw_get::<Option<Table>>(t)?,
            other => {
                let got = other.map(crate::libs::type_name).unwrap_or("no value");
                return Err(lua_error(
                    lua,
                    &format!("bad argument #1 to '{name}' (table expected, got {got})"),
                ));
            }
        };
        if let Some(real) = real {
            if writes {
                // Redis refuses the write itself, so removing from or sorting a table with
                // nothing to move succeeds (every protected table has an empty array part).
                let writes_nothing = match name.as_str() {
                    "remove" => real.raw_len() == 0,
                    "sort" => real.raw_len() <= 1,
                    _ => false,
                };
                if writes_nothing {
                    return Ok(MultiValue::new());
                }
                // Redis's check is in C: no position.
                return Err(mlua::Error::RuntimeError(
                    "Attempt to modify a readonly table".to_string(),
                ));
            }
            args[0] = Value::Table(real);
        }
        original.call::<MultiValue>(args).map_err(|e| {
            let message = pcall_message(&e);
            let message = String::from_utf8_lossy(&message);
            // mlua appends a traceback to errors of functions it calls.
            let message = match message.find("\nstack traceback:") {
                Some(end) => &message[..end],
                None => &message[..],
            };
            // Called from here, the original names itself '?' and its luaL_error messages
            // lack the caller's line; what else failed (a sort comparator, a kill, a table
            // index error that has no position in Redis either) passes through.
            if message.starts_with("bad argument") {
                lua_error(lua, &message.replacen("to '?'", &format!("to '{name}'"), 1))
            } else if [
                "invalid value",
                "wrong number of arguments",
                "invalid order function",
            ]
            .iter()
            .any(|prefix| message.starts_with(prefix))
            {
                lua_error(lua, message)
            } else if matches!(innermost(&e), mlua::Error::RuntimeError(_)) {
                mlua::Error::RuntimeError(message.to_string())
            } else {
                e
            }
        })
    })
}

/// `unpack` as Lua 5.1's base library has it, reading the table behind a readonly proxy
/// (upvalue 1 maps each proxy to its table). A C function rather than a [`guard`] around the
/// original, so that its values go straight onto the caller's stack: Lua's limit applies (7999
/// values, "too many results to unpack" beyond), where an mlua callback held each value in a
/// reference slot of its own and failed sooner with mlua's message.
///
/// # Safety
/// Called by Lua as a C function with that upvalue. Its errors longjmp: it owns nothing.
unsafe extern "C-unwind" fn unpack(state: *mut ffi::lua_State) -> c_int {
    ffi::luaL_checktype(state, 1, ffi::LUA_TTABLE);
    ffi::lua_pushvalue(state, 1);
    ffi::lua_rawget(state, ffi::lua_upvalueindex(1));
    if ffi::lua_type(state, -1) == ffi::LUA_TTABLE {
        ffi::lua_replace(state, 1);
    } else {
        ffi::lua_pop(state, 1);
    }
    // `luaL_optint` and `luaL_checkint` are these, cast to C's `int`.
    let first = ffi::luaL_optinteger(state, 2, 1) as c_int;
    let last = match ffi::lua_isnoneornil(state, 3) {
        0 => ffi::luaL_checkinteger(state, 3) as c_int,
        _ => ffi::lua_objlen(state, 1) as c_int,
    };
    if first > last {
        return 0;
    }
    let count = last.wrapping_sub(first).wrapping_add(1);
    if count <= 0 || ffi::lua_checkstack(state, count) == 0 {
        return ffi::luaL_error(state, c"too many results to unpack".as_ptr());
    }
    for i in first..=last {
        ffi::lua_rawgeti(state, 1, i.into());
    }
    count
}

/// Redis's reading of an error string: `-CODE message` keeps its code, anything else gets
/// `ERR` (so `redis.error_reply("x")` is `ERR x` and `redis.error_reply("MY x")` is `MY x`).
pub(crate) fn error_text(text: &[u8]) -> Vec<u8> {
    let with_dash: Vec<u8> = if text.first() == Some(&b'-') {
        text.to_vec()
    } else {
        [b"-", text].concat()
    };
    match with_dash.iter().position(|&b| b == b' ') {
        None => [b"ERR ", &with_dash[1..]].concat(),
        Some(space) => [&with_dash[1..space], b" ", &with_dash[space + 1..]].concat(),
    }
}

fn sha1hex(lua: &Lua, args: MultiValue) -> Result<Value> {
    if args.len() != 1 {
        return Err(mlua::Error::external(ErrorReply(
            b"ERR wrong number of arguments".to_vec(),
        )));
    }
    let bytes = match lua.coerce_string(args[0].clone())? {
        Some(s) => s.as_bytes().to_vec(),
        None => Vec::new(),
    };
    Ok(Value::String(lua.create_string(crate::sha1_hex(&bytes))?))
}

/// A command's arguments for `redis.call`, `redis.pcall` or `redis.acl_check_cmd`, in one
/// buffer: strings as they are, numbers as Redis formats them (`%.17g`). Strings, nearly every
/// argument, are copied straight off Lua's stack: as [`Value`]s each took a reference slot,
/// twice (the value, then its borrowed bytes), and an allocation of its own.
#[derive(Default)]
struct CommandArguments {
    bytes: Vec<u8>,
    /// Where each argument ends in `bytes`.
    ends: SmallVec<[usize; 8]>,
    /// Some argument is neither a string nor a number.
    invalid: bool,
}

impl CommandArguments {
    fn push(&mut self, value: &Value) {
        match value {
            Value::String(s) => self.push_bytes(&s.as_bytes()),
            // Lua 5.1 has only doubles; mlua calls the integral ones integers, but Redis
            // formats every number alike, so 1e17 is `1e+17`, not `100000000000000000`.
            Value::Integer(n) => self.push_number(*n as f64),
            Value::Number(n) => self.push_number(*n),
            _ => self.invalid = true,
        }
    }

    fn push_number(&mut self, number: f64) {
        redis_lite_protocol::number::format_f64(number, &mut self.bytes);
        self.ends.push(self.bytes.len());
    }

    fn push_bytes(&mut self, bytes: &[u8]) {
        self.bytes.extend_from_slice(bytes);
        self.ends.push(self.bytes.len());
    }

    /// The arguments, or Redis's error for a call without any or with one it cannot take.
    fn slices(&self) -> std::result::Result<SmallVec<[&[u8]; 8]>, &'static str> {
        if self.ends.is_empty() && !self.invalid {
            return Err("ERR Please specify at least one argument for this redis lib call");
        }
        if self.invalid {
            return Err("ERR Lua redis lib command arguments must be strings or integers");
        }
        let starts = std::iter::once(0).chain(self.ends.iter().copied());
        Ok(starts
            .zip(&self.ends)
            .map(|(start, &end)| &self.bytes[start..end])
            .collect())
    }
}

impl FromLuaMulti for CommandArguments {
    fn from_lua_multi(values: MultiValue, _: &Lua) -> Result<Self> {
        let mut arguments = CommandArguments::default();
        for value in &values {
            arguments.push(value);
        }
        Ok(arguments)
    }
}

impl CommandArguments {
    /// Replaces the arguments with the `count` values on top of Lua's stack, strings copied
    /// straight off it.
    ///
    /// # Safety
    /// `state` has at least `count` values on its stack.
    unsafe fn read_stack(&mut self, state: *mut ffi::lua_State, count: c_int) {
        self.bytes.clear();
        self.ends.clear();
        self.invalid = false;
        for index in -count..0 {
            match ffi::lua_type(state, index) {
                ffi::LUA_TSTRING => {
                    let mut len = 0;
                    let data = ffi::lua_tolstring(state, index, &mut len);
                    // SAFETY: a Lua string's bytes stay valid while it is on the stack.
                    self.push_bytes(std::slice::from_raw_parts(data.cast(), len));
                }
                ffi::LUA_TNUMBER => self.push_number(ffi::lua_tonumber(state, index)),
                _ => self.invalid = true,
            }
        }
    }
}

/// `redis.call` and `redis.pcall` are C functions of their own rather than mlua callbacks:
/// their arguments are read off Lua's stack and the usual replies (bulk strings, integers,
/// nulls, status replies, arrays of them) pushed straight onto it, without mlua's callback
/// frame and the reference slot every value it returns takes. Anything else (errors, RESP3
/// types, the library's own errors) goes through [`finish_call`], an mlua function. Their
/// upvalues: the [`ActiveRun`], then `finish_call`. With the run's entry on the raw stack
/// too, a one-GET script went from about 2.1 to 1.55µs of server CPU per EVALSHA
/// (-c 50 -P 16, one event loop).
unsafe extern "C-unwind" fn redis_call(state: *mut ffi::lua_State) -> c_int {
    api_call(state, true)
}

unsafe extern "C-unwind" fn redis_pcall(state: *mut ffi::lua_State) -> c_int {
    api_call(state, false)
}

/// The debugging session of the run whose API function is running.
///
/// # Safety
/// Called from a C function of the redis API (its first upvalue is the run pointer).
unsafe fn api_debugger<'a>(state: *mut ffi::lua_State) -> Option<&'a RefCell<Session>> {
    // SAFETY: as in `run_command`.
    let active = &*(ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *const ActiveRun);
    // SAFETY: see `ActiveRun::debugger`.
    active.debugger().map(|session| &*session)
}

/// `redis.debug(...)`: a log line in the debugger console; nothing outside the debugger.
unsafe extern "C-unwind" fn redis_debug(state: *mut ffi::lua_State) -> c_int {
    if let Some(session) = api_debugger(state) {
        ldb::log_debug_call(state, session);
    }
    0
}

/// `redis.breakpoint()`: under the debugger, stops at the next line and returns true.
unsafe extern "C-unwind" fn redis_breakpoint(state: *mut ffi::lua_State) -> c_int {
    let session = api_debugger(state);
    if let Some(session) = session {
        ldb::request_breakpoint(session);
    }
    ffi::lua_pushboolean(state, session.is_some() as c_int);
    1
}

/// Runs the command; `raise` for `redis.call`, whose failures are Lua errors.
///
/// # Safety
/// Called by Lua as a C function with the upvalues above. Nothing in this frame owns memory:
/// `finish_call` may raise a Lua error, which longjmps over it. Everything that does lives in
/// [`run_command`], which has returned by then.
unsafe fn api_call(state: *mut ffi::lua_State, raise: bool) -> c_int {
    if run_command(state, raise) == Pushed::Finish {
        ffi::lua_call(state, 4, 1);
    }
    1
}

/// What [`run_command`] left on top of the stack.
#[derive(PartialEq, Eq)]
enum Pushed {
    /// The reply, converted.
    Value,
    /// `finish_call` and its four arguments.
    Finish,
}

thread_local! {
    /// `redis.call`'s argument and reply buffers, reused from call to call (scripts run on the
    /// event loops' threads, one call at a time).
    static CALL_BUFFERS: RefCell<(CommandArguments, Vec<u8>)> = RefCell::default();
}

/// A buffer that grew past this is freed after the call rather than kept for the next.
const KEPT_BUFFER: usize = 64 * 1024;

/// Reads the arguments, runs the command through the host, and pushes its reply, or what
/// `finish_call` needs to make it.
///
/// # Safety
/// As [`api_call`]. The pushes here only allocate, and the states have no memory limit, so
/// they raise no Lua error (an allocation failure aborts), as with mlua's own pushes.
unsafe fn run_command(state: *mut ffi::lua_State, raise: bool) -> Pushed {
    let count = ffi::lua_gettop(state);
    // SAFETY: the upvalue was set from `Arc::as_ptr` of the run pointer, alive as long as the
    // state (see `Runtime::new`).
    let active = &*(ffi::lua_touserdata(state, ffi::lua_upvalueindex(1)) as *const ActiveRun);
    CALL_BUFFERS.with(|buffers| {
        // A call made while another is in progress on this thread (which the server never
        // does) gets buffers of its own.
        let mut own = Default::default();
        let mut shared = buffers.try_borrow_mut();
        let (arguments, reply) = match shared.as_deref_mut() {
            Ok(buffers) => buffers,
            Err(_) => &mut own,
        };
        arguments.read_stack(state, count);
        let debugger = api_debugger(state).filter(|session| session.borrow().logging());
        let argv = match arguments.slices() {
            Ok(argv) => argv,
            Err(text) => {
                if let Some(session) = debugger {
                    session.borrow_mut().log_error(&strip_err(text.as_bytes()));
                }
                return push_finish(state, text.as_bytes(), Protocol::Resp2, raise, false);
            }
        };
        if let Some(session) = debugger {
            session.borrow_mut().log_command(&argv);
        }
        reply.clear();
        let protocol = active.with(|run| {
            if run.panic.is_some() {
                return None;
            }
            let host = &mut *run.host;
            let call =
                std::panic::catch_unwind(AssertUnwindSafe(|| host.call(&argv, run.resp, reply)));
            if let Err(panic) = call {
                run.panic = Some(panic);
                return None;
            }
            Some(run.resp)
        });
        if let (Some(session), Ok(Some(_))) = (debugger, &protocol) {
            let refused = active
                .with(|run| run.host.last_call_refused())
                .unwrap_or(false);
            let mut session = session.borrow_mut();
            match refused {
                true => {
                    let text = reply.strip_prefix(b"-").unwrap_or(reply);
                    session.log_error(&strip_err(text.strip_suffix(b"\r\n").unwrap_or(text)));
                }
                false => session.log_reply(reply),
            }
        }
        let pushed = match protocol {
            Ok(Some(protocol)) => {
                if reply.first() != Some(&b'-') && push_simple_reply(state, reply, protocol) {
                    Pushed::Value
                } else {
                    push_finish(state, reply, protocol, raise, true)
                }
            }
            Ok(None) => push_finish(
                state,
                b"ERR the command panicked",
                Protocol::Resp2,
                true,
                false,
            ),
            Err(_) => push_finish(state, NO_RUN.as_bytes(), Protocol::Resp2, true, false),
        };
        drop(argv);
        if reply.capacity() > KEPT_BUFFER {
            *reply = Vec::new();
        }
        if arguments.bytes.capacity() > KEPT_BUFFER {
            *arguments = CommandArguments::default();
        }
        pushed
    })
}

/// A refusal's text as Redis's debugger logs it: Redis makes these without the `ERR` code
/// (which it adds when it raises them); other codes keep their `-`.
fn strip_err(text: &[u8]) -> Vec<u8> {
    match text.strip_prefix(b"ERR ") {
        Some(rest) => rest.to_vec(),
        None => [b"-", text].concat(),
    }
}

/// Pushes `finish_call` and its arguments: `outcome` is the command's reply when `is_reply`,
/// else the text of the library's own error.
///
/// # Safety
/// As [`run_command`].
unsafe fn push_finish(
    state: *mut ffi::lua_State,
    outcome: &[u8],
    protocol: Protocol,
    raise: bool,
    is_reply: bool,
) -> Pushed {
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(2));
    ffi::lua_pushlstring(state, outcome.as_ptr().cast(), outcome.len());
    ffi::lua_pushinteger(state, protocol_number(protocol));
    ffi::lua_pushboolean(state, raise as c_int);
    ffi::lua_pushboolean(state, is_reply as c_int);
    Pushed::Finish
}

fn protocol_number(protocol: Protocol) -> ffi::lua_Integer {
    match protocol {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    }
}

/// The general end of `redis.call`/`redis.pcall` (see [`redis_call`]): the reply as a Lua
/// value, or the error it raises.
fn finish_call(
    lua: &Lua,
    (outcome, resp, raise, is_reply): (mlua::LuaString, i64, bool, bool),
) -> Result<Value> {
    let protocol = match resp {
        3 => Protocol::Resp3,
        _ => Protocol::Resp2,
    };
    let outcome = outcome.as_bytes();
    let (value, failed) = if is_reply {
        match parse_response(&outcome) {
            Ok(Some((response, _))) => {
                let failed = matches!(response, redis_lite_protocol::Response::Error(_));
                (reply_to_lua(lua, &response, protocol)?, failed)
            }
            _ => (
                field_error(lua, b"ERR the command's reply could not be read")?,
                true,
            ),
        }
    } else {
        (field_error(lua, &outcome)?, true)
    };
    if failed && raise {
        return Err(error_reply(&value)?);
    }
    Ok(value)
}

fn field_error(lua: &Lua, text: &[u8]) -> Result<Value> {
    let table = lua.create_table()?;
    table.raw_set("err", lua.create_string(text)?)?;
    Ok(Value::Table(table))
}

/// `host.op(name, ...)`: the API functions that need the run's state. They answer
/// `(result, false)` or `(error text, true)`.
fn host_op(
    lua: &Lua,
    state: &mut RunState<'_>,
    op: ApiOp,
    args: MultiValue,
) -> Result<(Value, bool)> {
    let fail = |text: &str| -> Result<(Value, bool)> {
        Ok((Value::String(lua.create_string(text)?), true))
    };
    match op {
        ApiOp::Log => {
            if args.len() < 2 {
                return fail("ERR redis.log() requires two arguments or more.");
            }
            let level = match number_argument(&args[0]) {
                Some(n) => n,
                None => return fail("ERR First argument must be a number (log level)."),
            };
            let Some(level) = LogLevel::from_number(level) else {
                return fail("ERR Invalid debug level.");
            };
            let mut message = Vec::new();
            for (i, arg) in args.iter().skip(1).enumerate() {
                if let Some(s) = lua.coerce_string(arg.clone())? {
                    if i > 0 {
                        message.push(b' ');
                    }
                    message.extend_from_slice(&s.as_bytes());
                }
            }
            state.host.log(level, &message);
            Ok((Value::Nil, false))
        }
        ApiOp::SetResp => {
            if args.len() != 1 {
                return fail("ERR redis.setresp() requires one argument.");
            }
            state.resp = match number_argument(&args[0]) {
                Some(2) => Protocol::Resp2,
                Some(3) => Protocol::Resp3,
                _ => return fail("ERR RESP version must be 2 or 3."),
            };
            Ok((Value::Nil, false))
        }
        ApiOp::SetRepl => {
            if args.len() != 1 {
                return fail("ERR redis.set_repl() requires two arguments.");
            }
            match number_argument(&args[0]).and_then(ReplFlags::from_bits) {
                Some(flags) => state.host.set_repl(flags),
                None => {
                    return fail("ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
                }
            }
            Ok((Value::Nil, false))
        }
        ApiOp::AclCheckCmd => {
            let args = CommandArguments::from_lua_multi(args, lua)?;
            let argv = match args.slices() {
                Ok(argv) => argv,
                Err(text) => return fail(text),
            };
            match state.host.acl_check(&argv) {
                AclCheck::Allowed => Ok((Value::Boolean(true), false)),
                AclCheck::Denied => Ok((Value::Boolean(false), false)),
                AclCheck::UnknownCommand => {
                    fail("ERR Invalid command passed to redis.acl_check_cmd()")
                }
            }
        }
        ApiOp::RegisterFunction => match state.registrations.as_deref_mut() {
            Some(registrations) => match crate::functions::register(lua, registrations, args)? {
                Ok(()) => Ok((Value::Nil, false)),
                Err(text) => fail(&text),
            },
            None => fail("ERR redis.register_function can only be called on FUNCTION LOAD command"),
        },
    }
}

/// The redis API functions that need the run's state besides `call`/`pcall`.
#[derive(Clone, Copy)]
enum ApiOp {
    Log,
    SetResp,
    SetRepl,
    AclCheckCmd,
    RegisterFunction,
}

/// A Lua number argument as an integer, the way `lua_tonumber` then a C cast reads it
/// (strings that look like numbers count).
fn number_argument(value: &Value) -> Option<i64> {
    match value {
        Value::Integer(n) => Some(*n),
        Value::Number(n) => Some(*n as i64),
        Value::String(s) => std::str::from_utf8(&s.as_bytes())
            .ok()
            .and_then(|t| t.trim().parse::<f64>().ok())
            .map(|n| n as i64),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_text_keeps_a_dash_code_and_defaults_to_err() {
        assert_eq!(error_text(b"x"), b"ERR x");
        assert_eq!(error_text(b"MY x"), b"MY x");
        assert_eq!(error_text(b"-MY x"), b"MY x");
        assert_eq!(error_text(b""), b"ERR ");
        assert_eq!(error_text(b"-"), b"ERR ");
        assert_eq!(error_text(b"- x"), b" x");
    }
}
