//! The Lua scripting runtime behind EVAL and FUNCTION, as Redis 7.0 has it, kept below the
//! server: the server implements [`Host`] and owns the commands, this crate owns Lua.
//!
//! # The host boundary
//! A script reaches the server only through [`Host`]: `redis.call`/`redis.pcall` hand the
//! host the command's arguments and get back its raw RESP reply, `redis.log`, `set_repl` and
//! `acl_check_cmd` pass through, and the interrupt hook asks the host every
//! [`INTERRUPT_CHECK_INSTRUCTIONS`] instructions whether to go on. On this side: the Lua
//! state and its sandbox, the libraries, converting replies to Lua values and return values
//! to replies (RESP2 and RESP3), argument checks that need no server knowledge, compiling
//! and caching scripts, loading function libraries and their flags, and every error text
//! that comes from Lua. On the host's side: whether a command may run from this script
//! (unknown command, `noscript`, `no-writes`/EVAL_RO refusing writes, deny-OOM, cluster
//! slots, ACL), running it, propagation, `BUSY` and `SCRIPT KILL`, numkeys parsing, and the
//! atomicity of the whole run.
//!
//! # Layout
//! - [`host`]: the [`Host`] trait and the values it exchanges.
//! - [`eval`]: [`ScriptCache`], EVAL's Lua state and its scripts (compile `f_<sha1>`,
//!   shebang flags, run with KEYS/ARGV).
//! - [`functions`]: [`FunctionLibraries`], FUNCTION's Lua state, libraries and
//!   `redis.register_function`.
//! - [`ldb`]: the Lua debugger (SCRIPT DEBUG): a session's state, its line hook and REPL.
//! - `runtime`: one sandboxed Lua state, the redis API and the error handler (with
//!   `sandbox.lua`, the sandbox itself).
//! - `convert`: RESP ↔ Lua.
//! - `libs`: the libraries Redis adds (bit, cjson, struct, cmsgpack) and its
//!   deterministic `math.random`.
//!
//! Lua 5.1 comes from `mlua` (features `lua51`, `vendored`, `send`): Redis embeds 5.1, so
//! scripts see the same language, library and error messages; `vendored` builds it from
//! source with no system Lua; `send` lets the server keep a state behind a lock shared by
//! its event loops. The hot path (a run's entry, `redis.call` and `redis.pcall`) is written
//! against Lua's C API instead of mlua's general machinery: see `runtime`.

pub mod eval;
pub mod functions;
pub mod host;
pub mod ldb;

mod convert;
mod libs;

pub use libs::random::INITIAL_STATE as RANDOM_INITIAL_STATE;
mod runtime;

pub use eval::{Script, ScriptCache, ScriptFlags};
pub use functions::{FunctionFlags, FunctionInfo, FunctionLibraries, Library, RestorePolicy};
pub use host::{AclCheck, Host, Interrupt, LogLevel, ReplFlags};
pub use redis_lite_protocol::Protocol;

/// What `redis.REDIS_VERSION` and `redis.REDIS_VERSION_NUM` report: the version redis-lite
/// is compatible with.
pub const REDIS_VERSION: &str = "7.0.15";
pub const REDIS_VERSION_NUM: i64 = (7 << 16) | 15;

/// How often a running script asks the host whether to go on, in Lua instructions (Redis
/// checks at the same rate).
pub const INTERRUPT_CHECK_INSTRUCTIONS: u32 = 100_000;

/// What a script or function run answers: the reply, encoded for the client, and whether it
/// is a command's error that the command already counted in the error stats (raised by
/// `redis.call` or returned from `redis.pcall`), which the server must not count again.
pub struct ScriptReply {
    pub bytes: Vec<u8>,
    pub error_already_counted: bool,
}

impl ScriptReply {
    /// The reply `out` holds once a run ended with `result`; a failure of the runtime itself
    /// becomes an ERR reply.
    fn new(mut out: Vec<u8>, client: Protocol, result: mlua::Result<bool>) -> ScriptReply {
        let error_already_counted = match result {
            Ok(counted) => counted,
            Err(error) => {
                out.clear();
                redis_lite_protocol::ReplyWriter::new(&mut out, client)
                    .error(&format!("ERR {error}"));
                false
            }
        };
        ScriptReply {
            bytes: out,
            error_already_counted,
        }
    }
}

/// The lower-case hex SHA1 of a script body, its name in the script cache.
pub fn sha1_hex(data: &[u8]) -> String {
    use sha1::{Digest, Sha1};
    let digest = Sha1::digest(data);
    let mut text = String::with_capacity(40);
    for byte in digest {
        text.push_str(&format!("{byte:02x}"));
    }
    text
}

/// A command's reply (encoded in `protocol`) through `redis.call`'s conversion to a Lua value
/// and back out as a script's return value under the same protocol: the RESP ↔ Lua
/// conversions without a server, for the fuzz targets (`fuzz/`), which cannot reach the
/// private `convert` module otherwise.
#[doc(hidden)]
pub fn reply_through_lua_for_fuzzing(
    lua: &mlua::Lua,
    reply: &redis_lite_protocol::Response,
    protocol: redis_lite_protocol::Protocol,
) -> mlua::Result<Vec<u8>> {
    let value = convert::reply_to_lua(lua, reply, protocol)?;
    let mut out = Vec::new();
    let mut writer = redis_lite_protocol::ReplyWriter::new(&mut out, protocol);
    convert::write_value(&mut writer, &value, protocol)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    /// The server keeps both engines behind a lock its event loops share.
    #[test]
    fn engines_can_move_between_threads() {
        fn send_and_sync<T: Send + Sync>() {}
        send_and_sync::<crate::ScriptCache>();
        send_and_sync::<crate::FunctionLibraries>();
    }

    #[test]
    fn sha1_is_lower_case_hex() {
        assert_eq!(
            super::sha1_hex(b""),
            "da39a3ee5e6b4b0d3255bfef95601890afd80709"
        );
    }
}
