//! FUNCTION's side: libraries (`#!lua name=<lib>`), `redis.register_function` in its
//! positional and named forms with flags, the load-time sandbox, and FCALL.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use mlua::{Function, Lua, MultiValue, Table, Value};
use redis_lite_protocol::Protocol;

use crate::host::Host;
use crate::runtime::{
    error_reply_text, write_outcome, Arguments, Kind, Outcome, Registration, Runtime,
};
use crate::ScriptReply;

/// The flags a function declares with `register_function{..., flags={...}}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FunctionFlags {
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

impl FunctionFlags {
    /// The flag names in Redis's order, as FUNCTION LIST shows them.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.no_writes, "no-writes"),
            (self.allow_oom, "allow-oom"),
            (self.allow_stale, "allow-stale"),
            (self.no_cluster, "no-cluster"),
            (self.allow_cross_slot_keys, "allow-cross-slot-keys"),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .map(|(_, name)| name)
        .collect()
    }

    fn set(&mut self, name: &[u8]) -> bool {
        match name {
            b"no-writes" => self.no_writes = true,
            b"allow-oom" => self.allow_oom = true,
            b"allow-stale" => self.allow_stale = true,
            b"no-cluster" => self.no_cluster = true,
            b"allow-cross-slot-keys" => self.allow_cross_slot_keys = true,
            _ => return false,
        }
        true
    }
}

pub struct FunctionInfo {
    pub name: String,
    pub description: Option<String>,
    pub flags: FunctionFlags,
    callback: Function,
}

pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: BTreeMap<String, FunctionInfo>,
}

/// What FUNCTION RESTORE does with the libraries already loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestorePolicy {
    /// Delete them all first.
    Flush,
    /// Keep them; a library of the same name is an error (the default).
    Append,
    /// Keep them; a restored library replaces the one of the same name.
    Replace,
}

/// FUNCTION's Lua state and the libraries loaded in it.
pub struct FunctionLibraries {
    runtime: Runtime,
    random: Arc<AtomicU64>,
    libraries: BTreeMap<String, Library>,
    /// Function key ([`function_key`]) → its library's name and the function's name there.
    functions: BTreeMap<String, (String, String)>,
}

impl FunctionLibraries {
    pub fn new(random: Arc<AtomicU64>) -> FunctionLibraries {
        FunctionLibraries {
            runtime: Runtime::new(Kind::Function, random.clone()).expect("the Lua sandbox loads"),
            random,
            libraries: BTreeMap::new(),
            functions: BTreeMap::new(),
        }
    }

    /// FUNCTION LOAD [REPLACE]: returns the library's name, or the error reply's text. The
    /// library runs once to register its functions; it may not call Redis commands then.
    /// `host` serves `redis.log` and the time limit while it loads.
    pub fn load(
        &mut self,
        host: &mut dyn Host,
        code: &[u8],
        replace: bool,
    ) -> Result<String, String> {
        let name = library_name(code)?;
        if self.libraries.contains_key(&name) && !replace {
            return Err(format!("ERR Library '{name}' already exists"));
        }
        let line_end = code.iter().position(|&b| b == b'\n').unwrap_or(code.len());
        let source = &code[line_end..];
        let new_env = self
            .runtime
            .new_library_env
            .as_ref()
            .expect("function states build library environments");
        let (env, loaded): (Table, Function) = new_env.call(()).map_err(|e| format!("ERR {e}"))?;
        let body = self
            .runtime
            .lua
            .load(source)
            .set_name("@user_function")
            .set_environment(env)
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => {
                    format!("ERR Error compiling function: {message}")
                }
                other => format!("ERR Error compiling function: {other}"),
            })?;
        let mut registrations = Vec::new();
        let failure = self
            .runtime
            .execute(
                host,
                Some(&mut registrations),
                &body,
                Arguments::None,
                None,
                |_, outcome, _| {
                    Ok(match outcome {
                        Outcome::Value(_) => None,
                        // The load error is the bare error text, without the script suffix.
                        Outcome::Error(error) => {
                            error.raw_set("source", Value::Nil)?;
                            Some(error_reply_text(&error, "")?)
                        }
                    })
                },
            )
            .map_err(|e| format!("ERR {e}"))?;
        if let Some(text) = failure {
            return Err(format!(
                "ERR Error registering functions: {}",
                String::from_utf8_lossy(&text)
            ));
        }
        if registrations.is_empty() {
            return Err("ERR No functions registered".to_string());
        }
        for registration in &registrations {
            if let Some((owner, _)) = self.functions.get(&function_key(&registration.name)) {
                if *owner != name {
                    return Err(format!("ERR Function {} already exists", registration.name));
                }
            }
        }
        loaded.call::<()>(()).map_err(|e| format!("ERR {e}"))?;
        self.delete(&name).ok();
        let mut functions = BTreeMap::new();
        for registration in registrations {
            // Two names of one library that differ only in case: FCALL finds the first.
            self.functions
                .entry(function_key(&registration.name))
                .or_insert_with(|| (name.clone(), registration.name.clone()));
            functions.insert(
                registration.name.clone(),
                FunctionInfo {
                    name: registration.name,
                    description: registration.description,
                    flags: registration.flags,
                    callback: registration.callback,
                },
            );
        }
        self.libraries.insert(
            name.clone(),
            Library {
                name: name.clone(),
                code: code.to_vec(),
                functions,
            },
        );
        Ok(name)
    }

    /// FUNCTION RESTORE's effect, given the library sources read from the payload (the
    /// payload itself, RDB function records with a version and CRC-64, is the persistence
    /// layer's format). All or nothing: the libraries are loaded into a fresh Lua state,
    /// after the current ones unless the policy is `Flush`, and only a complete success
    /// replaces the current state. Conflicts give FUNCTION LOAD's errors ("ERR Library lib1
    /// already exists" for `Append`, "ERR Function f2 already exists" for a function owned
    /// by another library).
    pub fn restore(
        &mut self,
        host: &mut dyn Host,
        codes: &[Vec<u8>],
        policy: RestorePolicy,
    ) -> Result<(), String> {
        let mut restored = FunctionLibraries::new(self.random.clone());
        if policy != RestorePolicy::Flush {
            for library in self.libraries.values() {
                restored.load(host, &library.code, false)?;
            }
        }
        for code in codes {
            // RESTORE words this conflict without LOAD's quotes.
            let name = library_name(code)?;
            if policy == RestorePolicy::Append && restored.libraries.contains_key(&name) {
                return Err(format!("ERR Library {name} already exists"));
            }
            restored.load(host, code, policy == RestorePolicy::Replace)?;
        }
        *self = restored;
        Ok(())
    }

    /// FUNCTION DELETE.
    pub fn delete(&mut self, name: &str) -> Result<(), String> {
        let library = self
            .libraries
            .remove(name)
            .ok_or_else(|| "ERR Library not found".to_string())?;
        for function in library.functions.keys() {
            self.functions.remove(&function_key(function));
        }
        Ok(())
    }

    /// FUNCTION FLUSH: a fresh Lua state.
    pub fn flush(&mut self) {
        *self = FunctionLibraries::new(self.random.clone());
    }

    pub fn libraries(&self) -> impl Iterator<Item = &Library> {
        self.libraries.values()
    }

    /// The function FCALL names, in any case (FCALL's lookup ignores case in Redis 7.0;
    /// a library's own names and library names do not).
    pub fn function(&self, name: &str) -> Option<&FunctionInfo> {
        let (library, name) = self.functions.get(&function_key(name))?;
        self.libraries.get(library)?.functions.get(name)
    }

    /// Bytes the Lua state holds (`used_memory_vm_functions`).
    pub fn used_memory(&self) -> usize {
        self.runtime.lua.used_memory()
    }

    /// Bytes the libraries keep outside Lua: their code and names, and their functions' names
    /// and descriptions (`used_memory_functions`).
    pub fn library_bytes(&self) -> usize {
        self.libraries
            .values()
            .map(|l| {
                let functions: usize = l
                    .functions
                    .values()
                    .map(|f| f.name.len() + f.description.as_ref().map_or(0, String::len))
                    .sum();
                l.code.len() + l.name.len() + functions
            })
            .sum()
    }

    /// FCALL: runs a function with its KEYS and ARGV tables as arguments; `None` if there is
    /// no such function (the server replies "ERR Function not found").
    pub fn call(
        &self,
        host: &mut dyn Host,
        name: &str,
        keys: &[&[u8]],
        argv: &[&[u8]],
        client: Protocol,
    ) -> Option<ScriptReply> {
        let function = self.function(name)?;
        let mut out = Vec::new();
        let result = self.runtime.execute(
            host,
            None,
            &function.callback,
            Arguments::Parameters { keys, argv },
            None,
            |_, outcome, resp| write_outcome(&mut out, client, &outcome, resp, &function.name),
        );
        Some(ScriptReply::new(out, client, result))
    }
}

/// The library name from `#!lua name=<lib>`, with Redis's checks in its order: the shebang
/// line and its `name=` (the only metadata), then the engine, then the name's characters.
fn library_name(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("ERR Missing library metadata".to_string());
    }
    let invalid = || "ERR Invalid library metadata".to_string();
    let line_end = code.iter().position(|&b| b == b'\n').ok_or_else(invalid)?;
    // Split as Redis splits it (sdssplitargs): `name="foo"` is `name=foo`.
    let parts = redis_lite_protocol::split_args(&code[..line_end]).ok_or_else(invalid)?;
    let mut parts = parts.iter().map(|part| String::from_utf8_lossy(part));
    let engine = parts.next().ok_or_else(invalid)?;
    let engine = engine.get(2..).unwrap_or_default().to_string();
    let mut name = None;
    for part in parts {
        let is_name = part
            .get(..5)
            .is_some_and(|p| p.eq_ignore_ascii_case("name="));
        match is_name {
            true if name.is_some() => {
                return Err(
                    "ERR Invalid metadata value, name argument was given multiple times"
                        .to_string(),
                )
            }
            true => name = Some(part[5..].to_string()),
            false => return Err(format!("ERR Invalid metadata value given: {part}")),
        }
    }
    let name = name.ok_or_else(|| "ERR Library name was not given".to_string())?;
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("ERR Engine '{engine}' not found"));
    }
    if !valid_name(&name) {
        return Err("ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".to_string());
    }
    Ok(name)
}

/// A function's key in FCALL's map: its name in lower case.
fn function_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `redis.register_function(name, callback)` or `redis.register_function{function_name=...,
/// callback=..., flags={...}, description=...}`. Errors are Redis's texts.
pub(crate) fn register(
    lua: &Lua,
    registrations: &mut Vec<Registration>,
    args: MultiValue,
) -> mlua::Result<Result<(), String>> {
    let fail = |text: &str| Ok(Err(format!("ERR {text}")));
    let (mut name, mut callback, mut description, mut flags) =
        (None, None, None, FunctionFlags::default());
    match args.len() {
        1 => {
            let Value::Table(named) = &args[0] else {
                return fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).");
            };
            for pair in named.pairs::<Value, Value>() {
                let (key, value) = pair?;
                let key =
                    match &key {
                        Value::String(s) => s.as_bytes().to_vec(),
                        _ => return fail(
                            "named argument key given to redis.register_function is not a string",
                        ),
                    };
                match &key[..] {
                    b"function_name" => match value {
                        Value::String(s) => name = Some(s.to_string_lossy()),
                        _ => return fail("function_name argument given to redis.register_function must be a string"),
                    },
                    b"callback" => match value {
                        Value::Function(f) => callback = Some(f),
                        _ => return fail("callback argument given to redis.register_function must be a function"),
                    },
                    b"description" => match value {
                        Value::String(s) => description = Some(s.to_string_lossy()),
                        _ => return fail("description argument given to redis.register_function must be a string"),
                    },
                    b"flags" => {
                        let Value::Table(list) = value else {
                            return fail("flags argument to redis.register_function must be a table representing function flags");
                        };
                        for item in list.sequence_values::<Value>() {
                            match item? {
                                Value::String(flag) if flags.set(&flag.as_bytes()) => {}
                                // Numbers are strings to Lua's API: unknown flags too.
                                _ => return fail("unknown flag given"),
                            }
                        }
                    }
                    _ => return fail("unknown argument given to redis.register_function"),
                }
            }
        }
        2 => {
            match &args[0] {
                Value::String(s) => name = Some(s.to_string_lossy()),
                // A number is a string to Lua's API, so `register_function(1, f)` names it "1".
                number @ (Value::Integer(_) | Value::Number(_)) => {
                    name = lua
                        .coerce_string(number.clone())?
                        .map(|s| s.to_string_lossy())
                }
                _ => return fail("first argument to redis.register_function must be a string"),
            }
            match &args[1] {
                Value::Function(f) => callback = Some(f.clone()),
                _ => return fail("second argument to redis.register_function must be a function"),
            }
        }
        _ => return fail("wrong number of arguments to redis.register_function"),
    }
    let Some(name) = name else {
        return fail("redis.register_function must get a function name argument");
    };
    let Some(callback) = callback else {
        return fail("redis.register_function must get a callback argument");
    };
    if !valid_name(&name) {
        // Redis 7.0 words this with "Library", for functions too.
        return fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long");
    }
    if registrations.iter().any(|r| r.name == name) {
        return fail("Function already exists in the library");
    }
    registrations.push(Registration {
        name,
        callback,
        description,
        flags,
    });
    Ok(Ok(()))
}
