//! Keyspace commands that work on keys of any type: DEL, EXISTS, EXPIRE, SCAN, RENAME...

use redis_lite_engine::glob::glob_match;
use redis_lite_engine::keyspace::lru_clock;
use redis_lite_engine::{Deletion, Entry, Locked, Policy, SmallBytes};

use crate::admin::clients::parse_db_index;
use crate::command::acl;
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::Group;
use crate::command::KeySpec;
use crate::command::{CommandSpec, Handler};
use crate::commands::access::{arg_cursor, scan_reply, ScanOptions};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

/// The EXPIRE family's history: the conditions came in 7.0.
const EXPIRE_CONDITIONS: &[(&str, &str)] =
    &[("7.0.0", "Added options: `NX`, `XX`, `GT` and `LT`.")];

pub static COMMANDS: &[CommandSpec] = &[
    many_keys(
        CommandSpec::new("del", -2, WRITE, del).key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RM | DELETE)]).tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
        "1.0.0",
        "Delete a key",
    )
    .complexity("O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1)."),
    many_keys(
        CommandSpec::new("unlink", -2, WRITE | FAST, unlink).key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RM | DELETE)]).tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
        "4.0.0",
        "Delete a key asynchronously in another thread. Otherwise it is just as DEL, but non blocking.",
    )
    .complexity("O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of."),
    many_keys(
        CommandSpec::new("exists", -2, READONLY | FAST, exists).key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RO)]).tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
        "1.0.0",
        "Determine if a key exists",
    )
    .complexity("O(N) where N is the number of keys to check.")
        .history(&[
            ("3.0.3", "Accepts multiple `key` arguments."),
        ]),
    many_keys(
        CommandSpec::new("touch", -2, READONLY | FAST, touch).key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RO)]).tips(&["request_policy:multi_shard", "response_policy:agg_sum"]),
        "3.2.1",
        "Alters the last access time of a key(s). Returns the number of existing keys specified.",
    )
    .complexity("O(N) where N is the number of keys that will be touched."),
    one_key("type", READONLY | FAST, type_, "1.0.0", "Determine the type stored at key").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)]),
    CommandSpec::new("keys", 2, READONLY, keys).tips(&["request_policy:all_shards", "nondeterministic_output_order"])
        .doc(Group::Generic, "1.0.0", "Find all keys matching the given pattern")
        .complexity("O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.")
        .syntax("pattern:pattern")
        .acl(acl::DANGEROUS),
    CommandSpec::new("scan", -2, READONLY, scan).tips(&["nondeterministic_output", "request_policy:special"])
        .doc(Group::Generic, "2.8.0", "Incrementally iterate the keys space")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.")
        .syntax("cursor:integer [MATCH pattern:pattern] [COUNT count:integer] [TYPE type{s=6.0.0}]")
        .history(&[
            ("6.0.0", "Added the `TYPE` subcommand."),
        ]),
    CommandSpec::new("randomkey", 1, READONLY, randomkey).tips(&["request_policy:all_shards", "nondeterministic_output"])
        .doc(Group::Generic, "1.0.0", "Return a random key from the keyspace"),
    CommandSpec::new("rename", 3, WRITE, rename).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE), KeySpec::index(2).range(0, 1, 0).flags(OW | UPDATE)])
        .doc(Group::Generic, "1.0.0", "Rename a key")
        .syntax("key newkey{k=1}"),
    CommandSpec::new("renamenx", 3, WRITE | FAST, renamenx).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE), KeySpec::index(2).range(0, 1, 0).flags(OW | INSERT)])
        .doc(Group::Generic, "1.0.0", "Rename a key, only if the new key does not exist")
        .syntax("key newkey{k=1}")
        .history(&[
            ("3.2.0", "The command no longer returns an error when source and destination names are the same."),
        ]),
    CommandSpec::new("copy", -3, WRITE | DENYOOM, copy).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS), KeySpec::index(2).range(0, 1, 0).flags(OW | UPDATE)])
        .doc(Group::Generic, "6.2.0", "Copy a key")
        .complexity("O(N) worst case for collections, where N is the number of nested items. O(1) for string values.")
        .syntax("source:key destination:key{k=1} [DB destination-db:integer] [REPLACE]"),
    CommandSpec::new("move", 3, WRITE | FAST, move_).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(Group::Generic, "1.0.0", "Move a key to another database")
        .syntax("key db:integer"),
    set_expiry(expire, "expire", "1.0.0", "Set a key's time to live in seconds").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .syntax("key seconds:integer condition=[NX | XX | GT | LT]{s=7.0.0}")
        .history(EXPIRE_CONDITIONS),
    set_expiry(pexpire, "pexpire", "2.6.0", "Set a key's time to live in milliseconds").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .syntax("key milliseconds:integer condition=[NX | XX | GT | LT]{s=7.0.0}")
        .history(EXPIRE_CONDITIONS),
    set_expiry(expireat, "expireat", "1.2.0", "Set the expiration for a key as a UNIX timestamp").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .syntax("key unix-time-seconds:unix-time condition=[NX | XX | GT | LT]{s=7.0.0}")
        .history(EXPIRE_CONDITIONS),
    set_expiry(
        pexpireat,
        "pexpireat",
        "2.6.0",
        "Set the expiration for a key as a UNIX timestamp specified in milliseconds",
    ).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
    .syntax("key unix-time-milliseconds:unix-time condition=[NX | XX | GT | LT]{s=7.0.0}")
    .history(EXPIRE_CONDITIONS),
    one_key("ttl", READONLY | FAST, ttl, "1.0.0", "Get the time to live for a key in seconds").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output"])
        .history(&[
            ("2.8.0", "Added the -2 reply."),
        ]),
    one_key("pttl", READONLY | FAST, pttl, "2.6.0", "Get the time to live for a key in milliseconds").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output"])
        .history(&[
            ("2.8.0", "Added the -2 reply."),
        ]),
    one_key("expiretime", READONLY | FAST, expiretime, "7.0.0", "Get the expiration Unix timestamp for a key").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
    one_key(
        "pexpiretime",
        READONLY | FAST,
        pexpiretime,
        "7.0.0",
        "Get the expiration Unix timestamp for a key in milliseconds",
    ).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
    one_key("persist", WRITE | FAST, persist, "2.2.0", "Remove the expiration from a key").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)]),
    CommandSpec::new("dump", 2, READONLY, dump).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output"])
        .doc(Group::Generic, "2.6.0", "Return a serialized version of the value stored at the specified key.")
        .complexity(
            "O(1) to access the key and additional O(N*M) to serialize it, where N is the number of Redis objects \
             composing the value and M their average size. For small string values the time complexity is thus \
             O(1)+O(1*M) where M is small, so simply O(1).",
        )
        .syntax("key"),
    CommandSpec::new("restore", -4, WRITE | DENYOOM, restore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE)])
        .doc(Group::Generic, "2.6.0", "Create a key using the provided serialized value, previously obtained using DUMP.")
        .complexity(
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the \
             number of Redis objects composing the value and M their average size. For small string values the \
             time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values \
             the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        )
        .syntax(
            "key ttl:integer serialized-value [REPLACE{s=3.0.0}] [ABSTTL{s=5.0.0}] [IDLETIME \
             seconds:integer{s=5.0.0}] [FREQ frequency:integer{s=5.0.0}]",
        )
        .acl(acl::DANGEROUS)
        .history(&[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ]),
    // What MIGRATE sends from a cluster node: RESTORE, for a slot being imported. Without
    // cluster mode the same as RESTORE, as in Redis.
    CommandSpec::new("restore-asking", -4, WRITE | DENYOOM | ASKING, restore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE)])
        .doc(Group::Server, "3.0.0", "An internal command for migrating keys in a cluster")
        .complexity(
            "O(1) to create the new key and additional O(N*M) to reconstruct the serialized value, where N is the \
             number of Redis objects composing the value and M their average size. For small string values the \
             time complexity is thus O(1)+O(1*M) where M is small, so simply O(1). However for sorted set values \
             the complexity is O(N*M*log(N)) because inserting values into sorted sets is O(log(N)).",
        )
        .syntax(
            "key ttl:integer serialized-value [REPLACE{s=3.0.0}] [ABSTTL{s=5.0.0}] [IDLETIME \
             seconds:integer{s=5.0.0}] [FREQ frequency:integer{s=5.0.0}]",
        )
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .history(&[
            ("3.0.0", "Added the `REPLACE` modifier."),
            ("5.0.0", "Added the `ABSTTL` modifier."),
            ("5.0.0", "Added the `IDLETIME` and `FREQ` options."),
        ])
        .syscmd(),
    CommandSpec::container(
        "object",
        &[
            object_key("encoding", object_encoding, "2.2.3", "Inspect the internal encoding of a Redis object").tips(&["nondeterministic_output"]),
            object_key("freq", object_freq, "4.0.0", "Get the logarithmic access frequency counter of a Redis object").tips(&["nondeterministic_output"]),
            object_key("idletime", object_idletime, "2.2.3", "Get the time since a Redis object was last accessed").tips(&["nondeterministic_output"]),
            object_key("refcount", object_refcount, "2.2.3", "Get the number of references to the value of the key").tips(&["nondeterministic_output"]),
            CommandSpec::new("help", 2, LOADING | STALE, object_help).doc(
                Group::Generic,
                "6.2.0",
                "Show helpful text about the different subcommands",
            ),
        ],
    )
    .doc(Group::Generic, "2.2.3", "A container for object introspection commands")
    .complexity("Depends on subcommand."),
];

/// `NAME key`: the shape of most commands here.
const fn one_key(
    name: &'static str,
    flags: u32,
    handler: Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, 2, flags, handler)
        .doc(Group::Generic, since, summary)
        .syntax("key")
}

/// `NAME key [key ...]`.
const fn many_keys(spec: CommandSpec, since: &'static str, summary: &'static str) -> CommandSpec {
    spec.doc(Group::Generic, since, summary).syntax("key...")
}

/// One of the EXPIRE family; the caller adds the syntax.
const fn set_expiry(
    handler: Handler,
    name: &'static str,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, -3, WRITE | FAST, handler).doc(Group::Generic, since, summary)
}

/// The key of `OBJECT <sub> key`, whose metadata only is read.
const OBJECT_KEY: &[KeySpec] = &[KeySpec::index(2).range(0, 1, 0).flags(RO)];

/// `OBJECT <sub> key`.
const fn object_key(
    name: &'static str,
    handler: Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, 3, READONLY, handler)
        .key_specs(OBJECT_KEY)
        .doc(Group::Generic, since, summary)
        .syntax("key")
}

const SAME_OBJECT: &str = "source and destination objects are the same";

const NO_LFU: &str = "An LFU maxmemory policy is not selected, access frequency not tracked. \
Please note that when switching between policies at runtime LRU and LFU data will take some time \
to adjust.";

const NO_LRU: &str =
    "An LFU maxmemory policy is selected, idle time not tracked. Please note that \
when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// DEL key [key ...]: frees large values in the background under `lazyfree-lazy-user-del`.
fn del(ctx: &mut Ctx<'_>) -> CmdResult {
    delete_keys(ctx, Deletion::User)
}

/// UNLINK key [key ...]: DEL that always frees large values in the background.
fn unlink(ctx: &mut Ctx<'_>) -> CmdResult {
    delete_keys(ctx, Deletion::Unlink)
}

fn delete_keys(ctx: &mut Ctx<'_>, why: Deletion) -> CmdResult {
    let keys = &ctx.args[1..];
    let mut locked = ctx.lock(keys.iter().copied());
    let mut removed = 0;
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        if db.peek(hash, key, ctx.now_ms).is_some() {
            db.delete(hash, key, why);
            ctx.changed(db, key, Class::Generic, "del");
            removed += 1;
        }
    }
    drop(locked);
    ctx.dirty(removed);
    ctx.out.integer(removed as i64);
    Ok(())
}

/// EXISTS key [key ...]
fn exists(ctx: &mut Ctx<'_>) -> CmdResult {
    count_present(ctx, false)
}

/// TOUCH key [key ...]
fn touch(ctx: &mut Ctx<'_>) -> CmdResult {
    count_present(ctx, true)
}

/// Replies how many of the keys exist, a repeated key counting each time. With `touch`, each
/// found key's access time is updated.
fn count_present(ctx: &mut Ctx<'_>, touch: bool) -> CmdResult {
    let keys = &ctx.args[1..];
    let mut locked = ctx.lock(keys.iter().copied());
    let mut found = 0;
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        let present = if touch {
            db.get(hash, key, ctx.now_ms).is_some()
        } else {
            db.peek(hash, key, ctx.now_ms).is_some()
        };
        ctx.count_lookup(ctx.client.db, key, present);
        found += present as i64;
    }
    ctx.out.integer(found);
    Ok(())
}

/// Looks `key` up without counting an access (TYPE, TTL, OBJECT) and applies `f` to it.
fn inspect<T>(ctx: &Ctx<'_>, key: &[u8], f: impl FnOnce(&Entry) -> T) -> Option<T> {
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let result = db.peek(hash, key, ctx.now_ms).map(f);
    ctx.count_lookup(ctx.client.db, key, result.is_some());
    result
}

/// TYPE key
fn type_(ctx: &mut Ctx<'_>) -> CmdResult {
    let name = inspect(ctx, ctx.arg(1), |e| e.type_name()).unwrap_or("none");
    ctx.out.simple(name);
    Ok(())
}

/// KEYS pattern
fn keys(ctx: &mut Ctx<'_>) -> CmdResult {
    let pattern = ctx.arg(1);
    let everything = pattern == b"*";
    let mut found: Vec<SmallBytes> = Vec::new();
    {
        // All shards at once, so the reply is one consistent snapshot as in Redis.
        let mut all = ctx.server.keyspace.lock_all();
        for shard in all.shards() {
            let live = shard.db(ctx.client.db).iter().filter(|e| {
                !e.is_expired(ctx.now_ms) && (everything || glob_match(pattern, e.key(), false))
            });
            found.extend(live.map(|e| SmallBytes::new(e.key())));
        }
    }
    reply_keys(ctx, &found);
    Ok(())
}

fn reply_keys(ctx: &mut Ctx<'_>, keys: &[SmallBytes]) {
    ctx.out.array(keys.len());
    for key in keys {
        ctx.out.bulk(key);
    }
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
fn scan(ctx: &mut Ctx<'_>) -> CmdResult {
    let cursor = arg_cursor(ctx, 1)?;
    let ScanOptions {
        pattern,
        count,
        type_filter,
    } = ScanOptions::parse(ctx, 2, true)?;
    crate::journal::lazy_expiry::unframed();
    let mut found: Vec<SmallBytes> = Vec::new();
    let next = ctx
        .server
        .keyspace
        .scan(ctx.client.db, cursor, count, |entry, _| {
            let wanted = pattern.is_none_or(|p| glob_match(p, entry.key(), false))
                && type_filter.is_none_or(|t| t.eq_ignore_ascii_case(entry.type_name().as_bytes()));
            if wanted {
                found.push(SmallBytes::new(entry.key()));
            }
        });
    scan_reply(&mut ctx.out, next, found.len());
    found.iter().for_each(|key| ctx.out.bulk(key));
    Ok(())
}

/// RANDOMKEY
fn randomkey(ctx: &mut Ctx<'_>) -> CmdResult {
    crate::journal::lazy_expiry::unframed();
    match ctx.server.keyspace.random_key(ctx.client.db, ctx.now_ms) {
        Some(key) => ctx.out.bulk(&key),
        None => ctx.out.null(),
    }
    Ok(())
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx<'_>) -> CmdResult {
    rename_generic(ctx, false)
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx<'_>) -> CmdResult {
    rename_generic(ctx, true)
}

fn rename_generic(ctx: &mut Ctx<'_>, nx: bool) -> CmdResult {
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let db = ctx.client.db;
    let mut locked = ctx.lock([src, dst]);
    let (table, src_hash) = locked.db(db, src);
    if table.get(src_hash, src, ctx.now_ms).is_none() {
        return Err(CommandError::NoSuchKey);
    }
    let renamed = src != dst && {
        let (table, dst_hash) = locked.db(db, dst);
        let taken = table.peek(dst_hash, dst, ctx.now_ms).is_some();
        if taken && !nx {
            table.delete(dst_hash, dst, Deletion::Server);
        }
        if taken && nx {
            false
        } else {
            transfer(&mut locked, (db, src), (db, dst));
            ctx.changed(locked.db(db, src).0, src, Class::Generic, "rename_from");
            ctx.changed(locked.db(db, dst).0, dst, Class::Generic, "rename_to");
            arrived(ctx, &mut locked, db, dst);
            true
        }
    };
    drop(locked);
    if renamed {
        ctx.dirty(1);
    }
    if nx {
        ctx.out.integer(renamed as i64);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

/// Moves the entry at `from` to `to`, each a (database, key), keeping its value, TTL and access
/// time. The source must exist and the destination must be free.
fn transfer(locked: &mut Locked<'_>, from: (usize, &[u8]), to: (usize, &[u8])) {
    let (table, hash) = locked.db(from.0, from.1);
    let mut entry = table
        .remove(hash, from.1)
        .expect("the caller found the source");
    if from.1 != to.1 {
        entry = entry.renamed(to.1);
    }
    let (table, hash) = locked.db(to.0, to.1);
    table.insert_entry(hash, entry);
}

/// Serves the clients blocked on `key` in `db`, which a value just arrived at (see
/// `Ctx::value_arrived`). The value is taken as stored, its TTL not looked at: one that
/// arrived expired (SWAPDB brings whole databases) is found so by the woken client, whose
/// lookup deletes it, so its DEL follows the command's record, as in Redis.
pub fn arrived(ctx: &mut Ctx<'_>, locked: &mut Locked<'_>, db: usize, key: &[u8]) {
    let (table, hash) = locked.db(db, key);
    if let Some(entry) = table.peek_stored(hash, key) {
        ctx.value_arrived(db, key, &entry.value());
    }
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx<'_>) -> CmdResult {
    let (src, dst) = (ctx.arg(1), ctx.arg(2));
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < ctx.arg_count() {
        if ctx.arg_is(i, "REPLACE") {
            replace = true;
        } else if ctx.arg_is(i, "DB") && i + 1 < ctx.arg_count() {
            dst_db = parse_db_index(ctx, i + 1, None)?;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    if ctx.server.cluster.enabled() && (src_db != 0 || dst_db != 0) {
        return Err(CommandError::err(
            "Copying to another database is not allowed in cluster mode",
        ));
    }
    if src_db == dst_db && src == dst {
        return Err(CommandError::err(SAME_OBJECT));
    }
    let mut locked = ctx.lock([src, dst]);
    let (table, hash) = locked.db(src_db, src);
    let copy = table
        .get(hash, src, ctx.now_ms)
        .map(|e| e.duplicate(dst, lru_clock(ctx.now_ms)));
    ctx.count_lookup(src_db, src, copy.is_some());
    let Some(copy) = copy else {
        ctx.out.integer(0);
        return Ok(());
    };
    let (table, hash) = locked.db(dst_db, dst);
    if table.peek(hash, dst, ctx.now_ms).is_some() {
        if !replace {
            ctx.out.integer(0);
            return Ok(());
        }
        table.delete(hash, dst, Deletion::Server);
    }
    table.insert_entry(hash, copy);
    ctx.changed(table, dst, Class::Generic, "copy_to");
    arrived(ctx, &mut locked, dst_db, dst);
    drop(locked);
    ctx.dirty(1);
    ctx.out.integer(1);
    Ok(())
}

/// MOVE key db
fn move_(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.server.cluster.enabled() {
        return Err(CommandError::err("MOVE is not allowed in cluster mode"));
    }
    let key = ctx.arg(1);
    let src_db = ctx.client.db;
    let dst_db = parse_db_index(ctx, 2, None)?;
    if src_db == dst_db {
        return Err(CommandError::err(SAME_OBJECT));
    }
    let mut locked = ctx.lock([key]);
    let (table, hash) = locked.db(src_db, key);
    let moved = table.get(hash, key, ctx.now_ms).is_some()
        && locked
            .db(dst_db, key)
            .0
            .peek(hash, key, ctx.now_ms)
            .is_none();
    if moved {
        transfer(&mut locked, (src_db, key), (dst_db, key));
        ctx.changed(locked.db(src_db, key).0, key, Class::Generic, "move_from");
        ctx.changed(locked.db(dst_db, key).0, key, Class::Generic, "move_to");
        arrived(ctx, &mut locked, dst_db, key);
    }
    drop(locked);
    if moved {
        ctx.dirty(1);
    }
    ctx.out.integer(moved as i64);
    Ok(())
}

/// The NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Default)]
struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCondition {
    fn parse(ctx: &Ctx<'_>) -> Result<Self, CommandError> {
        let mut cond = ExpireCondition::default();
        for arg in &ctx.args[3..] {
            let flag = match arg.to_ascii_uppercase().as_slice() {
                b"NX" => &mut cond.nx,
                b"XX" => &mut cond.xx,
                b"GT" => &mut cond.gt,
                b"LT" => &mut cond.lt,
                _ => return Err(CommandError::err_quoting("Unsupported option ", arg, "")),
            };
            *flag = true;
        }
        if cond.nx && (cond.xx || cond.gt || cond.lt) {
            return Err(CommandError::err(
                "NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if cond.gt && cond.lt {
            return Err(CommandError::err(
                "GT and LT options at the same time are not compatible",
            ));
        }
        Ok(cond)
    }

    /// Whether a key whose expiry is `current` (0: none, which counts as infinite) may get
    /// the expiry `when`.
    fn allows(&self, current: u64, when: i64) -> bool {
        let current = (current != 0).then_some(current as i64);
        !(self.nx && current.is_some()
            || self.xx && current.is_none()
            || self.gt && current.is_none_or(|c| when <= c)
            || self.lt && current.is_some_and(|c| when >= c))
    }
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx<'_>) -> CmdResult {
    expire_generic(ctx, true, 1000)
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx<'_>) -> CmdResult {
    expire_generic(ctx, true, 1)
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx<'_>) -> CmdResult {
    expire_generic(ctx, false, 1000)
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx<'_>) -> CmdResult {
    expire_generic(ctx, false, 1)
}

/// Sets an expiry given in units of `unit_ms`, relative to now or absolute. A time already past
/// deletes the key, except where Redis keeps it with that TTL ([`Ctx::expires_at_once`]).
fn expire_generic(ctx: &mut Ctx<'_>, relative: bool, unit_ms: i64) -> CmdResult {
    let cond = ExpireCondition::parse(ctx)?;
    let base = if relative { ctx.now_ms as i64 } else { 0 };
    let invalid = CommandError::InvalidExpire(ctx.command.spec.name);
    // Very negative times are fine (the key is deleted) as long as the arithmetic fits.
    let when = ctx
        .arg_i64(2)?
        .checked_mul(unit_ms)
        .and_then(|t| t.checked_add(base))
        .ok_or(invalid)?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(entry) = db.get(hash, key, ctx.now_ms) else {
        ctx.out.integer(0);
        return Ok(());
    };
    if !cond.allows(entry.expire_at(), when) {
        ctx.out.integer(0);
        return Ok(());
    }
    // Logged with an absolute time in ms (its condition kept), or as DEL, as Redis 7.0 does.
    if ctx.expires_at_once(when) {
        ctx.propagate_as(&[b"DEL", key]);
        db.delete(hash, key, Deletion::Expire);
        ctx.changed(db, key, Class::Generic, "del");
    } else {
        if relative || unit_ms != 1 {
            let when = when.to_string();
            let mut args: Vec<&[u8]> = vec![b"PEXPIREAT", key, when.as_bytes()];
            args.extend_from_slice(&ctx.args[3..]);
            ctx.propagate_as(&args);
        }
        // A time before 1970 kept on a replica or by the loader is stored as the earliest
        // instant (0 would mean no TTL): expired all the same.
        db.set_expire(hash, key, when.max(1) as u64);
        ctx.changed(db, key, Class::Generic, "expire");
    }
    drop(locked);
    ctx.dirty(1);
    ctx.out.integer(1);
    Ok(())
}

/// How DUMP (and MIGRATE) serialize a value, as Redis's DUMP: compressed only under
/// `rdbcompression`, always checksummed.
pub fn dump_options(ctx: &Ctx<'_>) -> redis_lite_persist::WriteOptions {
    redis_lite_persist::WriteOptions {
        compression: ctx.server.config.read().rdbcompression,
        ..Default::default()
    }
}

/// DUMP key
fn dump(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let options = dump_options(ctx);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let index = db.index();
    let payload = db
        .get(hash, key, ctx.now_ms)
        .map(|e| redis_lite_persist::dump_value(&e.value(), &options));
    ctx.count_lookup(index, key, payload.is_some());
    drop(locked);
    match payload {
        Some(payload) => ctx.out.bulk(&payload),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Whether Redis would check this payload in depth, and count it in INFO's
/// `dump_payload_sanitizations`: under `sanitize-dump-payload yes`, or `clients` for anyone but
/// the master link and users with `skip-sanitize-payload`, a value in a compact encoding (a
/// listpack, ziplist or intset; the other encodings have nothing to sanitize). redis-lite checks
/// every payload whole whatever the setting; this decides only what is counted.
fn counts_as_sanitized(ctx: &Ctx<'_>, payload: &[u8]) -> bool {
    use redis_lite_persist::rdb::types;
    let compact = payload.first().is_some_and(|&t| t >= types::HASH_ZIPMAP);
    compact
        && match ctx.server.config.read().tuning.sanitize_dump_payload {
            "yes" => true,
            "clients" => {
                let user = (ctx.client.user.clone()).or_else(|| ctx.server.acl.get(b"default"));
                ctx.client.kind != crate::client::ClientKind::Master
                    && user.is_none_or(|u| u.read().sanitize_payload != Some(false))
            }
            _ => false,
        }
}

/// RESTORE key ttl serialized-value [REPLACE] [ABSTTL] [IDLETIME seconds] [FREQ frequency]
fn restore(ctx: &mut Ctx<'_>) -> CmdResult {
    let (mut replace, mut absolute, mut idle, mut freq) = (false, false, None, None);
    let mut i = 4;
    while i < ctx.arg_count() {
        let has_value = i + 1 < ctx.arg_count();
        if ctx.arg_is(i, "REPLACE") {
            replace = true;
        } else if ctx.arg_is(i, "ABSTTL") {
            absolute = true;
        } else if ctx.arg_is(i, "IDLETIME") && has_value && freq.is_none() {
            let seconds = ctx.arg_i64(i + 1)?;
            if seconds < 0 {
                return Err(CommandError::err("Invalid IDLETIME value, must be >= 0"));
            }
            idle = Some(seconds as u64);
            i += 1;
        } else if ctx.arg_is(i, "FREQ") && has_value && idle.is_none() {
            let frequency = ctx.arg_i64(i + 1)?;
            if !(0..=255).contains(&frequency) {
                return Err(CommandError::err(
                    "Invalid FREQ value, must be >= 0 and <= 255",
                ));
            }
            freq = Some(frequency as u8);
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    if !replace && db.get(hash, key, ctx.now_ms).is_some() {
        return Err(CommandError::coded(
            "BUSYKEY Target key name already exists.",
        ));
    }
    let ttl = ctx.arg_i64(2)?;
    if ttl < 0 {
        return Err(CommandError::err("Invalid TTL value, must be >= 0"));
    }
    let payload = ctx.arg(3);
    if !redis_lite_persist::verify_dump_payload(payload) {
        return Err(CommandError::err(
            "DUMP payload version or checksum are wrong",
        ));
    }
    if counts_as_sanitized(ctx, payload) {
        (ctx.server.stats.dump_payload_sanitizations)
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    let value = redis_lite_persist::restore_value(payload, ctx.encoding_limits()).map_err(|e| {
        // Logged as Redis logs a payload it refuses (at verbose level).
        crate::persistence::rdb::log_read_error(crate::config::LogLevel::Verbose, &e, "");
        CommandError::err("Bad data format")
    })?;
    let deleted = replace && db.delete(hash, key, Deletion::Server);
    let expire_at = match ttl {
        0 => 0,
        t if absolute => t as u64,
        // Redis adds in a signed 64-bit integer: a sum past its range wraps negative, which
        // counts as already expired.
        t => (ctx.now_ms as i64)
            .checked_add(t)
            .map_or(ctx.now_ms, |at| at as u64),
    };
    if expire_at != 0 && ctx.expires_at_once(expire_at as i64) {
        // Already expired: nothing is created, but a replaced key is gone.
        if deleted {
            ctx.propagate_as(&[b"DEL", key]);
            ctx.changed(db, key, Class::Generic, "del");
            ctx.dirty(1);
        }
        ctx.out.ok();
        return Ok(());
    }
    let entry = db.set(hash, key, value, false, ctx.now_ms);
    // IDLETIME counts under LRU policies, FREQ under LFU ones, as in Redis.
    let tracking = ctx.server.keyspace.tracking();
    if let Some(access) = tracking.restored(idle, freq, ctx.now_ms) {
        entry.set_access(access);
    }
    db.set_expire(hash, key, expire_at);
    if expire_at != 0 && !absolute {
        // A relative TTL is logged as an absolute one, as Redis does.
        let mut args: Vec<&[u8]> = ctx.args.to_vec();
        let at = expire_at.to_string();
        args[2] = at.as_bytes();
        args.push(b"ABSTTL");
        ctx.propagate_as(&args);
    }
    ctx.changed(db, key, Class::Generic, "restore");
    arrived(ctx, &mut locked, ctx.client.db, key);
    drop(locked);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// TTL key
fn ttl(ctx: &mut Ctx<'_>) -> CmdResult {
    ttl_generic(ctx, false, false)
}

/// PTTL key
fn pttl(ctx: &mut Ctx<'_>) -> CmdResult {
    ttl_generic(ctx, false, true)
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx<'_>) -> CmdResult {
    ttl_generic(ctx, true, false)
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx<'_>) -> CmdResult {
    ttl_generic(ctx, true, true)
}

/// Replies a key's expiry, as remaining time or as a Unix time, in seconds (rounded to nearest)
/// or milliseconds; -2 when the key is missing, -1 when it has no expiry.
fn ttl_generic(ctx: &mut Ctx<'_>, absolute: bool, ms: bool) -> CmdResult {
    let expire_at = inspect(ctx, ctx.arg(1), |e| e.expire_at());
    let reply = match expire_at {
        None => -2,
        Some(0) => -1,
        Some(at) => {
            let t = if absolute {
                at
            } else {
                at.saturating_sub(ctx.now_ms)
            };
            // Unsigned, so the rounding of a far-future time cannot overflow.
            (if ms { t } else { (t + 500) / 1000 }) as i64
        }
    };
    ctx.out.integer(reply);
    Ok(())
}

/// PERSIST key
fn persist(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let had_ttl = db.get(hash, key, ctx.now_ms).is_some_and(|e| e.has_ttl());
    if had_ttl {
        db.set_expire(hash, key, 0);
        ctx.changed(db, key, Class::Generic, "persist");
    }
    drop(locked);
    if had_ttl {
        ctx.dirty(1);
    }
    ctx.out.integer(had_ttl as i64);
    Ok(())
}

/// OBJECT ENCODING key
fn object_encoding(ctx: &mut Ctx<'_>) -> CmdResult {
    match inspect(ctx, ctx.arg(2), |e| e.value().encoding()) {
        Some(encoding) => ctx.out.bulk(encoding.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// OBJECT FREQ key
fn object_freq(ctx: &mut Ctx<'_>) -> CmdResult {
    let server = ctx.server;
    let tracking = server.keyspace.tracking();
    let now = ctx.now_ms;
    let freq = match tracking.policy() {
        Policy::AllKeysTinyLfu => {
            // The sketch's estimate, on the same 0-255 scale as Redis's counter.
            let key = ctx.arg(2);
            let mut locked = ctx.lock([key]);
            let (db, hash) = locked.db(ctx.client.db, key);
            let found = db.peek(hash, key, now).is_some();
            found.then(|| i64::from(db.frequency_estimate(hash)) * 17)
        }
        p if p.is_lfu() => inspect(ctx, ctx.arg(2), |e| {
            i64::from(tracking.frequency(e.access(), now))
        }),
        _ => match inspect(ctx, ctx.arg(2), |_| ()) {
            Some(()) => return Err(CommandError::err(NO_LFU)),
            None => None,
        },
    };
    reply_integer_or_null(ctx, freq);
    Ok(())
}

/// OBJECT IDLETIME key
fn object_idletime(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.server.keyspace.tracking().policy().is_lfu() {
        return match inspect(ctx, ctx.arg(2), |_| ()) {
            Some(()) => Err(CommandError::err(NO_LRU)),
            None => {
                ctx.out.null();
                Ok(())
            }
        };
    }
    let now = lru_clock(ctx.now_ms);
    reply_integer_or_null(
        ctx,
        inspect(ctx, ctx.arg(2), |e| {
            i64::from(now.saturating_sub(e.access()))
        }),
    );
    Ok(())
}

/// OBJECT REFCOUNT key
fn object_refcount(ctx: &mut Ctx<'_>) -> CmdResult {
    use crate::admin::debug::{integers_shared, refcount};
    let shared = integers_shared(&ctx.server.config.read());
    let refcount = inspect(ctx, ctx.arg(2), |e| refcount(&e.value(), shared));
    reply_integer_or_null(ctx, refcount);
    Ok(())
}

fn reply_integer_or_null(ctx: &mut Ctx<'_>, n: Option<i64>) {
    match n {
        Some(n) => ctx.out.integer(n),
        None => ctx.out.null(),
    }
}

/// OBJECT HELP
fn object_help(ctx: &mut Ctx<'_>) -> CmdResult {
    crate::args::reply_help(
        ctx,
        "OBJECT",
        &[
            "ENCODING <key>",
            "    Return the kind of internal representation used in order to store the value",
            "    associated with a <key>.",
            "FREQ <key>",
            "    Return the access frequency index of the <key>. The returned integer is",
            "    proportional to the logarithm of the recent access frequency of the key.",
            "IDLETIME <key>",
            "    Return the idle time of the <key>, that is the approximated number of",
            "    seconds elapsed since the last access to the key.",
            "REFCOUNT <key>",
            "    Return the number of references of the value associated with the specified",
            "    <key>.",
        ],
    );
    Ok(())
}
