//! EVAL's side: the script cache (SCRIPT LOAD/EXISTS/FLUSH), compiling a body into its
//! `f_<sha1>` function with Redis's error texts, shebang flags, and running a script with
//! KEYS and ARGV.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use mlua::Function;
use redis_lite_protocol::Protocol;

use crate::functions::FunctionFlags;
use crate::host::Host;
use crate::ldb::Session;
use crate::runtime::{write_outcome, Arguments, Kind, Runtime};
use crate::ScriptReply;

/// The flags a script declared in its `#!lua flags=...` line. A script without a shebang
/// has `declared == false`: Redis then applies its pre-7.0 rules (writes allowed, checked
/// per command) instead of these flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    pub declared: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl ScriptFlags {
    /// The flags a script with a shebang declared, as a function's; None without one (the
    /// pre-7.0 rules apply).
    pub fn declared(&self) -> Option<FunctionFlags> {
        self.declared.then_some(FunctionFlags {
            no_writes: self.no_writes,
            allow_oom: self.allow_oom,
            allow_stale: self.allow_stale,
            no_cluster: self.no_cluster,
            allow_cross_slot_keys: self.allow_cross_slot_keys,
        })
    }
}

/// A compiled script.
pub struct Script {
    pub sha: String,
    pub body: Vec<u8>,
    pub flags: ScriptFlags,
    function: Function,
}

/// EVAL's Lua state and the scripts compiled in it, by SHA1.
pub struct ScriptCache {
    runtime: Runtime,
    random: Arc<AtomicU64>,
    /// By lower-case hex SHA1: looked up on every EVALSHA, so fixed-size keys (no
    /// allocation to lower-case one) with a fast hash.
    scripts: HashMap<ShaKey, Script, foldhash::fast::RandomState>,
}

impl ScriptCache {
    /// `random` is the `math.random` state, shared with [`FunctionLibraries`] as Redis's
    /// PRNG is one per process.
    ///
    /// [`FunctionLibraries`]: crate::FunctionLibraries
    pub fn new(random: Arc<AtomicU64>) -> ScriptCache {
        ScriptCache {
            runtime: Runtime::new(Kind::Eval, random.clone()).expect("the Lua sandbox loads"),
            random,
            scripts: HashMap::default(),
        }
    }

    /// Compiles and caches a body (SCRIPT LOAD, and EVAL before it runs), returning its SHA1.
    /// A cached body is not compiled again. Errors are the reply text, e.g.
    /// `ERR Error compiling script (new function): user_script:1: ...`.
    pub fn load(&mut self, body: &[u8]) -> Result<String, String> {
        let sha = crate::sha1_hex(body);
        let key = sha_key(sha.as_bytes()).expect("a SHA1 in hex is 40 characters");
        if self.scripts.contains_key(&key) {
            return Ok(sha);
        }
        let (flags, source) = parse_shebang(body)?;
        let function = self
            .runtime
            .lua
            .load(&source[..])
            .set_name("@user_script")
            .set_environment(self.runtime.sandboxed_globals.clone())
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => {
                    format!("ERR Error compiling script (new function): {message}")
                }
                other => format!("ERR Error compiling script (new function): {other}"),
            })?;
        self.scripts.insert(
            key,
            Script {
                sha: sha.clone(),
                body: body.to_vec(),
                flags,
                function,
            },
        );
        Ok(sha)
    }

    /// The flags `body` declares, from the cache or else its shebang, without compiling or
    /// caching it (how Redis judges an EVAL it has not run yet: paused, or queued in MULTI).
    /// None when the shebang is invalid.
    pub fn declared_flags(&self, body: &[u8]) -> Option<ScriptFlags> {
        match self.get(crate::sha1_hex(body).as_bytes()) {
            Some(script) => Some(script.flags),
            None => parse_shebang(body).ok().map(|(flags, _)| flags),
        }
    }

    /// The script named `sha` (any case), if cached.
    pub fn get(&self, sha: &[u8]) -> Option<&Script> {
        self.scripts.get(&sha_key(sha)?)
    }

    /// The cached scripts, for INFO (`number_of_cached_scripts`, `used_memory_scripts_eval`).
    pub fn scripts(&self) -> impl Iterator<Item = &Script> {
        self.scripts.values()
    }

    pub fn len(&self) -> usize {
        self.scripts.len()
    }

    pub fn is_empty(&self) -> bool {
        self.scripts.is_empty()
    }

    /// SCRIPT FLUSH: a fresh Lua state, as Redis does, so nothing a script left behind stays.
    pub fn flush(&mut self) {
        *self = ScriptCache::new(self.random.clone());
    }

    /// Bytes the Lua state holds (`used_memory_lua`).
    pub fn used_memory(&self) -> usize {
        self.runtime.lua.used_memory()
    }

    /// Bytes the cache keeps outside Lua: each script's body and name
    /// (`used_memory_scripts_eval`).
    pub fn cached_bytes(&self) -> usize {
        self.scripts
            .values()
            .map(|s| s.body.len() + s.sha.len() + std::mem::size_of::<Script>())
            .sum()
    }

    /// Runs a cached script and returns its reply encoded for the client's protocol.
    /// The host has already checked everything that needs the server (flags against the
    /// server's state, keys); `None` if `sha` is not cached (the server replies NOSCRIPT).
    pub fn run(
        &self,
        host: &mut dyn Host,
        sha: &[u8],
        keys: &[&[u8]],
        argv: &[&[u8]],
        client: Protocol,
    ) -> Option<ScriptReply> {
        self.run_debugged(host, sha, keys, argv, client, None)
    }

    /// [`ScriptCache::run`] under the Lua debugger when `debugger` is given: the script stops
    /// at its first line and the session's client drives it (see [`crate::ldb`]).
    pub fn run_debugged(
        &self,
        host: &mut dyn Host,
        sha: &[u8],
        keys: &[&[u8]],
        argv: &[&[u8]],
        client: Protocol,
        debugger: Option<&RefCell<Session>>,
    ) -> Option<ScriptReply> {
        let script = self.get(sha)?;
        let mut out = Vec::new();
        let result = self.runtime.execute(
            host,
            None,
            &script.function,
            Arguments::Globals { keys, argv },
            debugger,
            |_, outcome, resp| write_outcome(&mut out, client, &outcome, resp, &script.sha),
        );
        Some(ScriptReply::new(out, client, result))
    }
}

/// A script's name as the cache keys it: 40 hex digits, lower case.
type ShaKey = [u8; 40];

fn sha_key(sha: &[u8]) -> Option<ShaKey> {
    let mut key: ShaKey = sha.try_into().ok()?;
    key.make_ascii_lowercase();
    Some(key)
}

/// Splits a body into its shebang flags and the source Lua compiles: the shebang line
/// itself is blanked (its newline kept, so line numbers match Redis's), and a body that
/// starts like precompiled bytecode is read as text, as Redis's Lua does.
fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, Vec<u8>), String> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        let mut source = body.to_vec();
        if source.first() == Some(&27) {
            source.insert(0, b' ');
        }
        return Ok((flags, source));
    }
    // Redis refuses a shebang that no newline ends before reading it.
    let line_end = body
        .iter()
        .position(|&b| b == b'\n')
        .ok_or("ERR Invalid script shebang")?;
    // Split as Redis splits it (sdssplitargs): quotes and tabs as in redis.conf.
    let parts = redis_lite_protocol::split_args(&body[..line_end])
        .filter(|parts| !parts.is_empty())
        .ok_or("ERR Invalid engine in script shebang")?;
    let mut parts = parts.iter().map(|part| String::from_utf8_lossy(part));
    let engine = parts.next().unwrap_or_default();
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    flags.declared = true;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        // An empty list declares no flags; an empty item among others is an unknown flag.
        for flag in list.split(',').filter(|_| !list.is_empty()) {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok((flags, body[line_end..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags_and_errors() {
        let (flags, source) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").unwrap();
        assert!(flags.declared && flags.no_writes && flags.allow_oom && !flags.allow_stale);
        assert_eq!(source, b"\nreturn 1");
        assert_eq!(
            parse_shebang(b"#!py\nreturn 1").unwrap_err(),
            "ERR Unexpected engine in script shebang: #!py"
        );
        assert_eq!(
            parse_shebang(b"#!lua flags=bad\n").unwrap_err(),
            "ERR Unexpected flag in script shebang: bad"
        );
        assert!(!parse_shebang(b"return 1").unwrap().0.declared);
        for unended in [&b"#!lua"[..], b"#!lua flags=no-writes", b"#!", b"#!lua x"] {
            assert_eq!(
                parse_shebang(unended).unwrap_err(),
                "ERR Invalid script shebang"
            );
        }
    }
}
