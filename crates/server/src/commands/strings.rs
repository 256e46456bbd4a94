//! String commands: GET, SET and friends, counters, ranges, LCS.

use std::borrow::Cow;

use redis_lite_engine::{Deletion, Entry, SmallBytes, StringRef, Value};
use redis_lite_protocol::number::parse_i64;
use redis_lite_protocol::ReplyWriter;

use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::{KeyRef, KeySpec};
use crate::commands::access::{self, max_string_len, raw_string_mut, stored_string};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

/// The expiry choices SET and GETEX share; each closes the group with its own last choice.
macro_rules! expiration {
    () => {
        "expiration=[EX seconds:integer | PX milliseconds:integer | \
         EXAT unix-time-seconds:unix-time | PXAT unix-time-milliseconds:unix-time"
    };
}
const RANGE_COMPLEXITY: &str = "O(N) where N is the length of the returned string. The complexity \
     is ultimately determined by the returned length, but because creating a substring from an \
     existing string is very cheap, it can be considered O(1) for small strings.";

/// SET's key flags: it reads the old value only with GET; otherwise it overwrites.
fn set_key_flags(args: &[&[u8]], keys: &mut Vec<KeyRef>) {
    let get = args.iter().skip(3).any(|a| a.eq_ignore_ascii_case(b"get"));
    for key in keys {
        key.flags = if get {
            RW | ACCESS | UPDATE
        } else {
            OW | UPDATE
        };
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, get)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(Group::String, "1.0.0", "Get the value of a key")
        .syntax("key"),
    CommandSpec::new("set", -3, WRITE | DENYOOM, set)
        .key_specs(&[KeySpec::index(1)
            .range(0, 1, 0)
            .flags(RW | ACCESS | UPDATE | VARIABLE_FLAGS)
            .notes("RW and ACCESS due to the optional `GET` argument")])
        .keys_proc(set_key_flags)
        .doc(Group::String, "1.0.0", "Set the string value of a key")
        .syntax(
            "key value condition=[NX | XX]{s=2.6.12} [GET{s=6.2.0}] expiration=[EX \
             seconds:integer{s=2.6.12} | PX milliseconds:integer{s=2.6.12} | EXAT \
             unix-time-seconds:unix-time{s=6.2.0} | PXAT unix-time-milliseconds:unix-time{s=6.2.0} \
             | KEEPTTL{s=6.0.0}]",
        )
        .history(&[
            ("2.6.12", "Added the `EX`, `PX`, `NX` and `XX` options."),
            ("6.0.0", "Added the `KEEPTTL` option."),
            ("6.2.0", "Added the `GET`, `EXAT` and `PXAT` option."),
            (
                "7.0.0",
                "Allowed the `NX` and `GET` options to be used together.",
            ),
        ]),
    CommandSpec::new("getex", -2, WRITE | FAST, getex)
        .key_specs(&[KeySpec::index(1)
            .range(0, 1, 0)
            .flags(RW | ACCESS | UPDATE)
            .notes("RW and UPDATE because it changes the TTL")])
        .doc(
            Group::String,
            "6.2.0",
            "Get the value of a key and optionally set its expiration",
        )
        .syntax(concat!("key ", expiration!(), " | PERSIST]")),
    CommandSpec::new("getdel", 2, WRITE | FAST, getdel)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE)])
        .doc(
            Group::String,
            "6.2.0",
            "Get the value of a key and delete the key",
        )
        .syntax("key"),
    CommandSpec::new("getset", 3, WRITE | DENYOOM | FAST, getset)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::String,
            "1.0.0",
            "Set the string value of a key and return its old value",
        )
        .syntax("key value")
        .deprecated(&("6.2.0", "`SET` with the `!GET` argument")),
    CommandSpec::new("setnx", 3, WRITE | DENYOOM | FAST, setnx)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | INSERT)])
        .doc(
            Group::String,
            "1.0.0",
            "Set the value of a key, only if the key does not exist",
        )
        .syntax("key value"),
    CommandSpec::new("setex", 4, WRITE | DENYOOM, setex)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE)])
        .doc(
            Group::String,
            "2.0.0",
            "Set the value and expiration of a key",
        )
        .syntax("key seconds:integer value"),
    CommandSpec::new("psetex", 4, WRITE | DENYOOM, setex)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE)])
        .doc(
            Group::String,
            "2.6.0",
            "Set the value and expiration in milliseconds of a key",
        )
        .syntax("key milliseconds:integer value"),
    CommandSpec::new("mget", -2, READONLY | FAST, mget)
        .key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RO | ACCESS)])
        .tips(&["request_policy:multi_shard"])
        .doc(
            Group::String,
            "1.0.0",
            "Get the values of all the given keys",
        )
        .complexity("O(N) where N is the number of keys to retrieve.")
        .syntax("key..."),
    CommandSpec::new("mset", -3, WRITE | DENYOOM, mset)
        .key_specs(&[KeySpec::index(1).range(-1, 2, 0).flags(OW | UPDATE)])
        .tips(&[
            "request_policy:multi_shard",
            "response_policy:all_succeeded",
        ])
        .doc(
            Group::String,
            "1.0.1",
            "Set multiple keys to multiple values",
        )
        .complexity("O(N) where N is the number of keys to set.")
        .syntax("key_value=(key value)..."),
    CommandSpec::new("msetnx", -3, WRITE | DENYOOM, msetnx)
        .key_specs(&[KeySpec::index(1).range(-1, 2, 0).flags(OW | INSERT)])
        .tips(&["request_policy:multi_shard", "response_policy:agg_min"])
        .doc(
            Group::String,
            "1.0.1",
            "Set multiple keys to multiple values, only if none of the keys exist",
        )
        .complexity("O(N) where N is the number of keys to set.")
        .syntax("key_value=(key value)..."),
    CommandSpec::new("append", 3, WRITE | DENYOOM | FAST, append)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)])
        .doc(Group::String, "2.0.0", "Append a value to a key")
        .complexity(
            "O(1). The amortized time complexity is O(1) assuming the appended value is small \
             and the already present value is of any size, since the dynamic string library \
             used by Redis will double the free space available on every reallocation.",
        )
        .syntax("key value"),
    CommandSpec::new("strlen", 2, READONLY | FAST, strlen)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)])
        .doc(
            Group::String,
            "2.2.0",
            "Get the length of the value stored in a key",
        )
        .syntax("key"),
    CommandSpec::new("getrange", 4, READONLY, getrange)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(
            Group::String,
            "2.4.0",
            "Get a substring of the string stored at a key",
        )
        .complexity(RANGE_COMPLEXITY)
        .syntax("key start:integer end:integer"),
    CommandSpec::new("substr", 4, READONLY, getrange)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(
            Group::String,
            "1.0.0",
            "Get a substring of the string stored at a key",
        )
        .complexity(RANGE_COMPLEXITY)
        .syntax("key start:integer end:integer")
        .deprecated(&("2.0.0", "`GETRANGE`")),
    CommandSpec::new("setrange", 4, WRITE | DENYOOM, setrange)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .doc(
            Group::String,
            "2.2.0",
            "Overwrite part of a string at key starting at the specified offset",
        )
        .complexity(
            "O(1), not counting the time taken to copy the new string in place. Usually, this \
             string is very small so the amortized complexity is O(1). Otherwise, complexity is \
             O(M) with M being the length of the value argument.",
        )
        .syntax("key offset:integer value"),
    CommandSpec::new("incr", 2, WRITE | DENYOOM | FAST, incr)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::String,
            "1.0.0",
            "Increment the integer value of a key by one",
        )
        .syntax("key"),
    CommandSpec::new("decr", 2, WRITE | DENYOOM | FAST, decr)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::String,
            "1.0.0",
            "Decrement the integer value of a key by one",
        )
        .syntax("key"),
    CommandSpec::new("incrby", 3, WRITE | DENYOOM | FAST, incrby)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::String,
            "1.0.0",
            "Increment the integer value of a key by the given amount",
        )
        .syntax("key increment:integer"),
    CommandSpec::new("decrby", 3, WRITE | DENYOOM | FAST, decrby)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::String,
            "1.0.0",
            "Decrement the integer value of a key by the given number",
        )
        .syntax("key decrement:integer"),
    CommandSpec::new("incrbyfloat", 3, WRITE | DENYOOM | FAST, incrbyfloat)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::String,
            "2.6.0",
            "Increment the float value of a key by the given amount",
        )
        .syntax("key increment:double"),
    CommandSpec::new("lcs", -3, READONLY, lcs)
        .key_specs(&[KeySpec::index(1).range(1, 1, 0).flags(RO | ACCESS)])
        .doc(Group::String, "7.0.0", "Find longest common substring")
        .complexity("O(N*M) where N and M are the lengths of s1 and s2, respectively")
        .syntax("key1:key key2:key [LEN] [IDX] [MINMATCHLEN len:integer] [WITHMATCHLEN]"),
];

/// Replies with a stored string as a bulk reply; WRONGTYPE for another type.
fn write_string(out: &mut ReplyWriter<'_>, entry: &Entry) -> CmdResult {
    match entry.string() {
        Some(StringRef::Int(n)) => out.bulk_integer(n),
        Some(StringRef::Bytes(bytes)) => out.bulk(bytes),
        None => return Err(CommandError::WrongType),
    }
    Ok(())
}

/// Replies with a looked-up string, or null for a missing key.
fn write_lookup(out: &mut ReplyWriter<'_>, entry: Option<&Entry>) -> CmdResult {
    match entry {
        None => {
            out.null();
            Ok(())
        }
        Some(entry) => write_string(out, entry),
    }
}

/// Refuses a string of `base + extra` bytes beyond the configured maximum.
fn check_string_len(base: u64, extra: u64, max: u64) -> CmdResult {
    match base.checked_add(extra) {
        Some(total) if total <= max => Ok(()),
        _ => Err(CommandError::err(
            "string exceeds maximum allowed size (proto-max-bulk-len)",
        )),
    }
}

/// GET key
fn get(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let entry = ctx.read(db, hash, key);
    write_lookup(&mut ctx.out, entry.as_deref())
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum ExpireUnit {
    Ex,
    Px,
    ExAt,
    PxAt,
}

const EXPIRE_UNITS: [(&str, ExpireUnit); 4] = [
    ("EX", ExpireUnit::Ex),
    ("PX", ExpireUnit::Px),
    ("EXAT", ExpireUnit::ExAt),
    ("PXAT", ExpireUnit::PxAt),
];

/// The options of SET (and the expiry options GETEX shares with it).
#[derive(Default, Debug)]
struct SetOptions {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    /// The expiry option and the index of its argument.
    expire: Option<(ExpireUnit, usize)>,
}

impl SetOptions {
    /// Parses options from argument `start` on; `for_set` selects SET's options over GETEX's.
    /// As in Redis, an option may repeat (the last value wins) but never conflict with another.
    fn parse(ctx: &Ctx<'_>, start: usize, for_set: bool) -> Result<SetOptions, CommandError> {
        let mut o = SetOptions::default();
        let mut i = start;
        while i < ctx.arg_count() {
            let unit = EXPIRE_UNITS
                .iter()
                .find(|(word, _)| ctx.arg_is(i, word))
                .map(|&(_, unit)| unit);
            let no_ttl_option = !o.keep_ttl && !o.persist;
            if for_set && ctx.arg_is(i, "NX") && !o.xx {
                o.nx = true;
            } else if for_set && ctx.arg_is(i, "XX") && !o.nx {
                o.xx = true;
            } else if for_set && ctx.arg_is(i, "GET") {
                o.get = true;
            } else if for_set && ctx.arg_is(i, "KEEPTTL") && o.expire.is_none() {
                o.keep_ttl = true;
            } else if !for_set && ctx.arg_is(i, "PERSIST") && o.expire.is_none() {
                o.persist = true;
            } else if let Some(unit) = unit.filter(|&u| {
                no_ttl_option
                    && i + 1 < ctx.arg_count()
                    && !matches!(o.expire, Some((prev, _)) if prev != u)
            }) {
                o.expire = Some((unit, i + 1));
                i += 1;
            } else {
                return Err(CommandError::Syntax);
            }
            i += 1;
        }
        Ok(o)
    }

    /// The absolute expiry in Unix ms the expiry option asks for, if any, validated as Redis
    /// does: positive, and no overflow when scaled or made absolute.
    fn expire_at(&self, ctx: &Ctx<'_>) -> Result<Option<u64>, CommandError> {
        self.expire
            .map(|(unit, i)| expire_at_ms(ctx, unit, i))
            .transpose()
    }
}

/// Argument `i` as an expiry in `unit`, converted to absolute Unix ms.
fn expire_at_ms(ctx: &Ctx<'_>, unit: ExpireUnit, i: usize) -> Result<u64, CommandError> {
    let invalid = CommandError::InvalidExpire(ctx.command.spec.name);
    let n = ctx.arg_i64(i)?;
    if n <= 0 {
        return Err(invalid);
    }
    let ms = match unit {
        ExpireUnit::Ex | ExpireUnit::ExAt => n.checked_mul(1000).ok_or(invalid.clone())?,
        ExpireUnit::Px | ExpireUnit::PxAt => n,
    };
    let at = match unit {
        ExpireUnit::Ex | ExpireUnit::Px => ms.checked_add(ctx.now_ms as i64).ok_or(invalid)?,
        ExpireUnit::ExAt | ExpireUnit::PxAt => ms,
    };
    Ok(at as u64)
}

/// The body of SET and its variants. With `options.get` it replies with the old value itself;
/// returns whether the value was stored (NX/XX may refuse).
fn set_generic(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    value: &[u8],
    options: &SetOptions,
) -> Result<bool, CommandError> {
    let expire_at = options.expire_at(ctx)?;
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let found = if options.get {
        let entry = ctx.read(db, hash, key);
        write_lookup(&mut ctx.out, entry.as_deref())?;
        entry.is_some()
    } else {
        db.get(hash, key, ctx.now_ms).is_some()
    };
    if (options.nx && found) || (options.xx && !found) {
        return Ok(false);
    }
    propagate_set(ctx, key, value, options, expire_at);
    db.set(
        hash,
        key,
        Value::string(value),
        options.keep_ttl,
        ctx.now_ms,
    );
    ctx.changed(db, key, Class::String, "set");
    if let Some(at) = expire_at {
        // A time already past is stored too: the key then expires on its next access, as in
        // Redis.
        db.set_expire(hash, key, at);
        ctx.changed(db, key, Class::Generic, "expire");
    }
    drop(locked);
    ctx.dirty(1);
    Ok(true)
}

/// Logs SET and its variants as Redis 7.0 does: with any expiry as `SET key value PXAT <ms>`,
/// and without GET (GETSET as plain SET).
fn propagate_set(
    ctx: &Ctx<'_>,
    key: &[u8],
    value: &[u8],
    options: &SetOptions,
    expire_at: Option<u64>,
) {
    let as_sent = ctx.command.spec.name == "set";
    match expire_at {
        Some(at) => {
            let at = at.to_string();
            ctx.propagate_as(&[b"SET", key, value, b"PXAT", at.as_bytes()]);
        }
        _ if options.get && as_sent => {
            let mut args: Vec<&[u8]> = ctx.args.to_vec();
            // The GET word, not a value that happens to read "get".
            let at = (3..args.len())
                .find(|&i| ctx.arg_is(i, "GET"))
                .expect("parsed");
            args.remove(at);
            ctx.propagate_as(&args);
        }
        _ if options.get => ctx.propagate_as(&[b"SET", key, value]),
        _ => {}
    }
}

/// SET key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | KEEPTTL]
fn set(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = SetOptions::parse(ctx, 3, true)?;
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    let stored = set_generic(ctx, key, value, &options)?;
    match (options.get, stored) {
        (true, _) => {}
        (false, true) => ctx.out.ok(),
        (false, false) => ctx.out.null(),
    }
    Ok(())
}

/// SETNX key value
fn setnx(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = SetOptions {
        nx: true,
        ..SetOptions::default()
    };
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    let stored = set_generic(ctx, key, value, &options)?;
    ctx.out.integer(stored as i64);
    Ok(())
}

/// SETEX key seconds value, and PSETEX key milliseconds value
fn setex(ctx: &mut Ctx<'_>) -> CmdResult {
    let unit = if ctx.command.spec.name == "psetex" {
        ExpireUnit::Px
    } else {
        ExpireUnit::Ex
    };
    let options = SetOptions {
        expire: Some((unit, 2)),
        ..SetOptions::default()
    };
    let (key, value) = (ctx.arg(1), ctx.arg(3));
    set_generic(ctx, key, value, &options)?;
    ctx.out.ok();
    Ok(())
}

/// GETEX key [EX seconds | PX milliseconds | EXAT unix-time-seconds |
/// PXAT unix-time-milliseconds | PERSIST]
fn getex(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = SetOptions::parse(ctx, 2, false)?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(entry) = ctx.read(db, hash, key) else {
        // A missing key answers null before the expiry is even validated, as in Redis.
        ctx.out.null();
        return Ok(());
    };
    // WRONGTYPE comes before the expiry is validated, as in Redis.
    entry.string().ok_or(CommandError::WrongType)?;
    let had_ttl = entry.has_ttl();
    let expire_at = options.expire_at(ctx)?;
    write_string(&mut ctx.out, entry)?;
    // Logged as the effect: DEL, PEXPIREAT or PERSIST, as Redis 7.0 does.
    let changed = match expire_at {
        Some(at) if ctx.expires_at_once(at as i64) => {
            ctx.propagate_as(&[b"DEL", key]);
            db.delete(hash, key, Deletion::Expire);
            ctx.changed(db, key, Class::Generic, "del");
            true
        }
        Some(at) => {
            ctx.propagate_as(&[b"PEXPIREAT", key, at.to_string().as_bytes()]);
            db.set_expire(hash, key, at);
            ctx.changed(db, key, Class::Generic, "expire");
            true
        }
        None if options.persist && had_ttl => {
            ctx.propagate_as(&[b"PERSIST", key]);
            db.set_expire(hash, key, 0);
            ctx.changed(db, key, Class::Generic, "persist");
            true
        }
        None => false,
    };
    drop(locked);
    ctx.dirty(changed as u64);
    Ok(())
}

/// GETDEL key
fn getdel(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let entry = ctx.read(db, hash, key);
    write_lookup(&mut ctx.out, entry.as_deref())?;
    if entry.is_some() {
        ctx.propagate_as(&[b"DEL", key]);
        db.remove(hash, key);
        ctx.changed(db, key, Class::Generic, "del");
        drop(locked);
        ctx.dirty(1);
    }
    Ok(())
}

/// GETSET key value
fn getset(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = SetOptions {
        get: true,
        ..SetOptions::default()
    };
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    set_generic(ctx, key, value, &options)?;
    Ok(())
}

/// MGET key [key ...]
fn mget(ctx: &mut Ctx<'_>) -> CmdResult {
    let keys = &ctx.args[1..];
    let mut locked = ctx.lock(keys.iter().copied());
    ctx.out.array(keys.len());
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        // Keys of another type read as null here rather than failing the whole command.
        match ctx.read(db, hash, key).and_then(|e| e.string_bytes()) {
            Some(bytes) => ctx.out.bulk(&bytes),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// The (key, value) pairs of MSET and MSETNX, or the arity error for an odd count.
fn key_value_pairs<'a>(
    ctx: &Ctx<'a>,
) -> Result<std::slice::ChunksExact<'a, &'a [u8]>, CommandError> {
    if ctx.arg_count().is_multiple_of(2) {
        return Err(ctx.wrong_arity());
    }
    let args: &'a [&'a [u8]] = ctx.args;
    Ok(args[1..].chunks_exact(2))
}

/// Stores every pair with all their shards locked, so other clients see all or none.
/// With `only_new`, stores nothing if any key exists. Returns whether it stored.
fn mset_generic(ctx: &mut Ctx<'_>, only_new: bool) -> Result<bool, CommandError> {
    let pairs = key_value_pairs(ctx)?;
    let mut locked = ctx.lock(pairs.clone().map(|p| p[0]));
    if only_new {
        for pair in pairs.clone() {
            let (db, hash) = locked.db(ctx.client.db, pair[0]);
            if db.get(hash, pair[0], ctx.now_ms).is_some() {
                return Ok(false);
            }
        }
    }
    for pair in pairs.clone() {
        let (db, hash) = locked.db(ctx.client.db, pair[0]);
        db.set(hash, pair[0], Value::string(pair[1]), false, ctx.now_ms);
        ctx.changed(db, pair[0], Class::String, "set");
    }
    drop(locked);
    ctx.dirty(pairs.len() as u64);
    Ok(true)
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx<'_>) -> CmdResult {
    mset_generic(ctx, false)?;
    ctx.out.ok();
    Ok(())
}

/// MSETNX key value [key value ...]
fn msetnx(ctx: &mut Ctx<'_>) -> CmdResult {
    let stored = mset_generic(ctx, true)?;
    ctx.out.integer(stored as i64);
    Ok(())
}

/// APPEND key value
fn append(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, suffix) = (ctx.arg(1), ctx.arg(2));
    let max = max_string_len(ctx);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let len = match db.get(hash, key, ctx.now_ms) {
        None => {
            // A new key holds the argument as SET would store it (Redis reports `int` or
            // `embstr` for it, not `raw`).
            db.set(hash, key, Value::string(suffix), false, ctx.now_ms);
            suffix.len()
        }
        Some(entry) => {
            let current_len = stored_string(entry)?.len();
            check_string_len(current_len as u64, suffix.len() as u64, max)?;
            let bytes = raw_string_mut(entry.value_mut())?;
            access::grow_as_sds(bytes, current_len + suffix.len());
            bytes.extend_from_slice(suffix);
            current_len + suffix.len()
        }
    };
    ctx.changed(db, key, Class::String, "append");
    drop(locked);
    ctx.dirty(1);
    ctx.out.integer(len as i64);
    Ok(())
}

/// STRLEN key
fn strlen(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let len = access::read_string(ctx, db, hash, key)?.map_or(0, |s| s.len());
    ctx.out.integer(len as i64);
    Ok(())
}

/// The byte range GETRANGE returns for `start..=end` (negative counting from the end) over a
/// string of `len` bytes: Redis reads it as the other string ranges, except that two negative
/// indexes in reverse order select nothing (even where both clamp to the first byte).
fn getrange_range(start: i64, end: i64, len: usize) -> std::ops::Range<usize> {
    if start < 0 && end < 0 && start > end {
        return 0..0;
    }
    access::clamped_range(start, end, len)
}

/// GETRANGE key start end (and SUBSTR, its old name)
fn getrange(ctx: &mut Ctx<'_>) -> CmdResult {
    let start = ctx.arg_i64(2)?;
    let end = ctx.arg_i64(3)?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(bytes) = access::read_string(ctx, db, hash, key)? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let range = getrange_range(start, end, bytes.len());
    ctx.out.bulk(&bytes[range]);
    Ok(())
}

/// SETRANGE key offset value
fn setrange(ctx: &mut Ctx<'_>) -> CmdResult {
    let offset = ctx.arg_i64(2)?;
    if offset < 0 {
        return Err(CommandError::err("offset is out of range"));
    }
    let offset = offset as usize;
    let (key, patch) = (ctx.arg(1), ctx.arg(3));
    let max = max_string_len(ctx);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let current_len = match db.get(hash, key, ctx.now_ms) {
        None => 0,
        Some(entry) => stored_string(entry)?.len(),
    };
    // Writing nothing changes nothing, and creates no key.
    if patch.is_empty() {
        ctx.out.integer(current_len as i64);
        return Ok(());
    }
    check_string_len(offset as u64, patch.len() as u64, max)?;
    let end = offset + patch.len();
    let entry = match db.get(hash, key, ctx.now_ms) {
        Some(entry) => entry,
        None => db.set(hash, key, Value::raw(vec![0; end]), false, ctx.now_ms),
    };
    let bytes = raw_string_mut(entry.value_mut())?;
    if bytes.len() < end {
        access::grow_as_sds(bytes, end);
        bytes.resize(end, 0);
    }
    bytes[offset..end].copy_from_slice(patch);
    let len = bytes.len();
    ctx.changed(db, key, Class::String, "setrange");
    drop(locked);
    ctx.dirty(1);
    ctx.out.integer(len as i64);
    Ok(())
}

/// Adds `delta` to the integer at `key` (a missing key counts as 0) and replies with the sum.
/// The TTL is kept.
fn incr_generic(ctx: &mut Ctx<'_>, delta: i64) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let current = match db.get(hash, key, ctx.now_ms) {
        None => 0,
        Some(entry) => match entry.string() {
            Some(StringRef::Int(n)) => n,
            Some(StringRef::Bytes(bytes)) => parse_i64(bytes).ok_or(CommandError::NotInteger)?,
            None => return Err(CommandError::WrongType),
        },
    };
    let sum = current.checked_add(delta).ok_or(CommandError::Overflow)?;
    db.set(hash, key, Value::Int(sum), true, ctx.now_ms);
    ctx.changed(db, key, Class::String, "incrby");
    drop(locked);
    ctx.dirty(1);
    ctx.out.integer(sum);
    Ok(())
}

/// INCR key
fn incr(ctx: &mut Ctx<'_>) -> CmdResult {
    incr_generic(ctx, 1)
}

/// DECR key
fn decr(ctx: &mut Ctx<'_>) -> CmdResult {
    incr_generic(ctx, -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx<'_>) -> CmdResult {
    let delta = ctx.arg_i64(2)?;
    incr_generic(ctx, delta)
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx<'_>) -> CmdResult {
    let delta = ctx.arg_i64(2)?;
    let negated = delta
        .checked_neg()
        .ok_or(CommandError::err("decrement would overflow"))?;
    incr_generic(ctx, negated)
}

extern "C" {
    fn redis_lite_add_long_double(
        current: *const u8,
        current_len: usize,
        incr: *const u8,
        incr_len: usize,
        out: *mut u8,
        out_cap: usize,
        out_len: *mut usize,
    ) -> libc::c_int;
}

/// Adds two decimal texts in C `long double`, formatted as Redis's INCRBYFLOAT replies.
pub(crate) fn add_long_double(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, CommandError> {
    // The largest long double printed with %.17Lf is under 5,000 characters.
    let mut out = vec![0u8; 5200];
    let mut len = 0usize;
    // SAFETY: every pointer comes with its length; the C side writes at most `out.len()`
    // bytes into `out` and one usize into `len`.
    let status = unsafe {
        redis_lite_add_long_double(
            current.as_ptr(),
            current.len(),
            incr.as_ptr(),
            incr.len(),
            out.as_mut_ptr(),
            out.len(),
            &mut len,
        )
    };
    match status {
        0 => {
            out.truncate(len);
            Ok(out)
        }
        3 => Err(CommandError::err("increment would produce NaN or Infinity")),
        _ => Err(CommandError::NotFloat),
    }
}

/// INCRBYFLOAT key increment
fn incrbyfloat(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, incr) = (ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let sum = match db.get(hash, key, ctx.now_ms) {
        None => add_long_double(b"0", incr)?,
        Some(entry) => add_long_double(&stored_string(entry)?, incr)?,
    };
    // Logged as its result, so replay does not depend on float arithmetic.
    ctx.propagate_as(&[b"SET", key, &sum, b"KEEPTTL"]);
    // Redis keeps the result as a string even when it looks like an integer.
    db.set(
        hash,
        key,
        Value::Str(SmallBytes::new(&sum)),
        true,
        ctx.now_ms,
    );
    ctx.changed(db, key, Class::String, "incrbyfloat");
    drop(locked);
    ctx.dirty(1);
    ctx.out.bulk(&sum);
    Ok(())
}

/// What LCS was asked for.
#[derive(Default)]
struct LcsOptions {
    len: bool,
    idx: bool,
    min_match_len: u64,
    with_match_len: bool,
}

impl LcsOptions {
    fn parse(ctx: &Ctx<'_>) -> Result<LcsOptions, CommandError> {
        let mut o = LcsOptions::default();
        let mut i = 3;
        while i < ctx.arg_count() {
            if ctx.arg_is(i, "IDX") {
                o.idx = true;
            } else if ctx.arg_is(i, "LEN") {
                o.len = true;
            } else if ctx.arg_is(i, "WITHMATCHLEN") {
                o.with_match_len = true;
            } else if ctx.arg_is(i, "MINMATCHLEN") && i + 1 < ctx.arg_count() {
                o.min_match_len = ctx.arg_i64(i + 1)?.max(0) as u64;
                i += 1;
            } else {
                return Err(CommandError::Syntax);
            }
            i += 1;
        }
        if o.idx && o.len {
            return Err(CommandError::err(
                "If you want both the length and indexes, please just use IDX.",
            ));
        }
        Ok(o)
    }
}

/// One matching run of an LCS: inclusive byte ranges in each string.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
struct LcsMatch {
    a: (usize, usize),
    b: (usize, usize),
}

impl LcsMatch {
    fn len(&self) -> usize {
        self.a.1 - self.a.0 + 1
    }
}

/// The longest common subsequence of `a` and `b`, and its contiguous runs from the end of the
/// strings backwards (the order Redis reports them in). The walk back through the table prefers
/// to step in `b` on ties, which decides which of several equally long answers is given.
fn longest_common_subsequence(a: &[u8], b: &[u8]) -> (Vec<u8>, Vec<LcsMatch>) {
    let width = b.len() + 1;
    let mut table = vec![0u32; (a.len() + 1) * width];
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            table[i * width + j] = if a[i - 1] == b[j - 1] {
                table[(i - 1) * width + j - 1] + 1
            } else {
                table[(i - 1) * width + j].max(table[i * width + j - 1])
            };
        }
    }
    let mut common = Vec::with_capacity(table[a.len() * width + b.len()] as usize);
    let mut runs = Vec::new();
    let mut run: Option<LcsMatch> = None;
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            common.push(a[i - 1]);
            i -= 1;
            j -= 1;
            run = Some(match run {
                Some(r) => LcsMatch {
                    a: (i, r.a.1),
                    b: (j, r.b.1),
                },
                None => LcsMatch {
                    a: (i, i),
                    b: (j, j),
                },
            });
        } else {
            runs.extend(run.take());
            if table[(i - 1) * width + j] > table[i * width + j - 1] {
                i -= 1;
            } else {
                j -= 1;
            }
        }
    }
    runs.extend(run);
    common.reverse();
    (common, runs)
}

/// LCS key1 key2 [LEN] [IDX] [MINMATCHLEN len] [WITHMATCHLEN]
fn lcs(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key_a, key_b) = (ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.lock([key_a, key_b]);
    let mut load = |key: &[u8]| -> Result<Vec<u8>, CommandError> {
        let (db, hash) = locked.db(ctx.client.db, key);
        match ctx.read(db, hash, key) {
            None => Ok(Vec::new()),
            Some(entry) => stored_string(entry)
                .map(Cow::into_owned)
                .map_err(|_| CommandError::err("The specified keys must contain string values")),
        }
    };
    let (a, b) = (load(key_a), load(key_b));
    // The table is built without holding the shards: it is O(N*M) work.
    drop(locked);
    let (a, b) = (a?, b?);
    let options = LcsOptions::parse(ctx)?;
    let table_bytes = (a.len() as u64 + 1) * (b.len() as u64 + 1) * 4;
    if table_bytes > max_string_len(ctx) {
        return Err(CommandError::err(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
        ));
    }
    let (common, runs) = longest_common_subsequence(&a, &b);
    if !options.idx {
        match options.len {
            true => ctx.out.integer(common.len() as i64),
            false => ctx.out.bulk(&common),
        }
        return Ok(());
    }
    let shown: Vec<&LcsMatch> = runs
        .iter()
        .filter(|m| m.len() as u64 >= options.min_match_len)
        .collect();
    let out = &mut ctx.out;
    out.map(2);
    out.bulk(b"matches");
    out.array(shown.len());
    for m in shown {
        out.array(2 + options.with_match_len as usize);
        for (start, end) in [m.a, m.b] {
            out.array(2);
            out.integer(start as i64);
            out.integer(end as i64);
        }
        if options.with_match_len {
            out.integer(m.len() as i64);
        }
    }
    out.bulk(b"len");
    out.integer(common.len() as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> &'static CommandSpec {
        COMMANDS.iter().find(|c| c.name == name).expect("declared")
    }

    #[test]
    fn docs_have_redis_argument_names() {
        use crate::command::parse_syntax;
        let getex = parse_syntax(spec("getex").syntax).unwrap();
        assert_eq!(
            (getex[1].name.as_str(), getex[1].kind),
            ("expiration", "oneof")
        );
        let persist = &getex[1].args[4];
        assert_eq!(
            (persist.kind, persist.token.as_deref()),
            ("pure-token", Some("PERSIST"))
        );
        let set = parse_syntax(spec("set").syntax).unwrap();
        assert_eq!(set[4].args[4].token.as_deref(), Some("KEEPTTL"));
        let mset = parse_syntax(spec("mset").syntax).unwrap();
        assert_eq!(
            (mset[0].name.as_str(), mset[0].kind, mset[0].multiple),
            ("key_value", "block", true)
        );
        let lcs = parse_syntax(spec("lcs").syntax).unwrap();
        assert_eq!((lcs[4].name.as_str(), lcs[4].kind), ("len", "integer"));
    }

    #[test]
    fn ranges_clamp_like_redis() {
        assert_eq!(getrange_range(0, -1, 5), 0..5);
        assert_eq!(getrange_range(-3, -1, 5), 2..5);
        assert_eq!(getrange_range(-1, -3, 5), 0..0);
        assert_eq!(getrange_range(-10, -20, 5), 0..0);
        assert_eq!(getrange_range(3, 1, 5), 0..0);
        assert_eq!(getrange_range(-100, 100, 5), 0..5);
        assert_eq!(getrange_range(0, 0, 0), 0..0);
        assert_eq!(getrange_range(i64::MIN, i64::MAX, 3), 0..3);
        assert_eq!(getrange_range(7, 10, 5), 0..0);
    }

    #[test]
    fn long_double_sums_print_like_redis() {
        let add = |a: &str, b: &str| add_long_double(a.as_bytes(), b.as_bytes());
        assert_eq!(add("10.5", "0.1").unwrap(), b"10.6");
        assert_eq!(add("0", "3").unwrap(), b"3");
        assert_eq!(add("1", "-1").unwrap(), b"0");
        assert_eq!(add("-0", "0").unwrap(), b"0");
        assert_eq!(add("1.5e3", "0x10").unwrap(), b"1516");
        for (a, b) in [
            ("", "1"),
            (" 1", "1"),
            ("1", "1 "),
            ("nan", "1"),
            ("1", "1e-5000"),
            ("1\0junk", "1"),
        ] {
            assert_eq!(add(a, b), Err(CommandError::NotFloat), "{a:?} + {b:?}");
        }
        assert_eq!(add(&"1".repeat(5120), "1"), Err(CommandError::NotFloat));
        assert!(matches!(add("1", "inf"), Err(CommandError::Err(_))));
        assert!(matches!(add("1e4932", "1e4932"), Err(CommandError::Err(_))));
        assert!(add("1e4900", "0").unwrap().len() > 4900);
    }

    #[test]
    fn lcs_runs_come_from_the_end() {
        let (common, runs) = longest_common_subsequence(b"ohmytext", b"mynewtext");
        assert_eq!(common, b"mytext");
        assert_eq!(
            runs,
            vec![
                LcsMatch {
                    a: (4, 7),
                    b: (5, 8)
                },
                LcsMatch {
                    a: (2, 3),
                    b: (0, 1)
                },
            ]
        );
        assert_eq!(
            longest_common_subsequence(b"", b"abc"),
            (Vec::new(), Vec::new())
        );
    }
}
