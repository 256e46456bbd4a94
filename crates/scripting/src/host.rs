//! The boundary between a running script and the server: everything a script asks of the
//! outside world goes through [`Host`], which the server implements for its script client.

use redis_lite_protocol::Protocol;

/// What the server provides to a running script or function.
///
/// The crate checks what needs no server knowledge (argument types for `redis.call`, the
/// `redis.log` level, the `redis.set_repl` flags...) and converts values; the host decides
/// everything that needs the server: whether a command exists and may run from a script
/// (`noscript`, write commands in a read-only script or after a non-deterministic one, OOM,
/// cluster slots, ACL), how it runs, how long the script may go on.
pub trait Host {
    /// Runs one command for `redis.call`/`redis.pcall` and writes its complete reply, encoded
    /// in `protocol` (the script's `redis.setresp` choice), into `reply` (empty, a buffer
    /// reused from call to call). Refusals are error replies with Redis's text, e.g.
    /// `-ERR Unknown Redis command called from script\r\n` or
    /// `-ERR Write commands are not allowed from read-only scripts.\r\n`; the crate turns them
    /// into Lua errors (`redis.call`) or error tables (`redis.pcall`).
    fn call(&mut self, argv: &[&[u8]], protocol: Protocol, reply: &mut Vec<u8>);

    /// Whether the reply of the last [`Host::call`] is the host's refusal to run the command
    /// (unknown, wrong arity, not allowed from scripts...) rather than the command's own reply:
    /// the Lua debugger logs the two differently.
    fn last_call_refused(&self) -> bool {
        false
    }

    /// `redis.log(level, ...)`: the message is the arguments joined by spaces.
    fn log(&mut self, level: LogLevel, message: &[u8]);

    /// `redis.set_repl(flags)`, already validated: where the script's following writes are
    /// propagated.
    fn set_repl(&mut self, flags: ReplFlags);

    /// `redis.acl_check_cmd(...)`: whether the calling user may run this command.
    fn acl_check(&mut self, argv: &[&[u8]]) -> AclCheck;

    /// Called every [`INTERRUPT_CHECK_INSTRUCTIONS`](crate::INTERRUPT_CHECK_INSTRUCTIONS) Lua
    /// instructions while a script runs: the host measures the elapsed time, serves other
    /// clients `BUSY` past `busy-reply-threshold`, and answers [`Interrupt::Kill`] once SCRIPT
    /// KILL or FUNCTION KILL has been accepted. The script then fails with Redis's "Script
    /// killed by user with SCRIPT KILL..." error.
    fn interrupt(&mut self) -> Interrupt;
}

/// `redis.LOG_DEBUG` .. `redis.LOG_WARNING`, in Redis's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

impl LogLevel {
    pub(crate) fn from_number(n: i64) -> Option<LogLevel> {
        Some(match n {
            0 => LogLevel::Debug,
            1 => LogLevel::Verbose,
            2 => LogLevel::Notice,
            3 => LogLevel::Warning,
            _ => return None,
        })
    }
}

/// The flags of `redis.set_repl`: `REPL_NONE` is neither, `REPL_ALL` both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReplFlags {
    pub aof: bool,
    pub replica: bool,
}

impl ReplFlags {
    pub(crate) const AOF: i64 = 1;
    pub(crate) const REPLICA: i64 = 2;

    pub(crate) fn from_bits(bits: i64) -> Option<ReplFlags> {
        if bits & !(Self::AOF | Self::REPLICA) != 0 {
            return None;
        }
        Some(ReplFlags {
            aof: bits & Self::AOF != 0,
            replica: bits & Self::REPLICA != 0,
        })
    }
}

/// The answer to `redis.acl_check_cmd`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AclCheck {
    Allowed,
    Denied,
    /// No such command: the script gets "Invalid command passed to redis.acl_check_cmd()".
    UnknownCommand,
}

/// The host's answer to [`Host::interrupt`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interrupt {
    Continue,
    /// SCRIPT KILL or FUNCTION KILL.
    Kill,
    /// FUNCTION LOAD ran past its time limit.
    LoadTimedOut,
}
