//! Server commands: CONFIG, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME, SHUTDOWN and DEBUG.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use redis_lite_engine::Value;

use crate::admin::clients::parse_db_index;
use crate::args::reply_help;
use crate::command::acl;
use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::config;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::persistence::rdb::{self, OnDuplicate};
use crate::persistence::JobKind;
use redis_lite_engine::digest;

const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("config", CONFIG_SUBCOMMANDS)
        .doc(Group::Server, "2.0.0", "A container for server configuration commands")
        .complexity("Depends on subcommand."),
    CommandSpec::new("dbsize", 1, READONLY | FAST, dbsize).tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .doc(Group::Server, "1.0.0", "Return the number of keys in the selected database")
        .acl(acl::KEYSPACE),
    CommandSpec::new("flushdb", -1, WRITE, flushdb).tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Server, "1.0.0", "Remove all keys from the current database")
        .complexity("O(N) where N is the number of keys in the selected database")
        .syntax("flush-type=[ASYNC | SYNC]")
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .exclusive(),
    CommandSpec::new("flushall", -1, WRITE, flushall).tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Server, "1.0.0", "Remove all keys from all databases")
        .complexity("O(N) where N is the total number of keys in all databases")
        .syntax("flush-type=[ASYNC | SYNC]")
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .exclusive(),
    CommandSpec::new("swapdb", 3, WRITE | FAST, swapdb)
        .doc(Group::Server, "4.0.0", "Swaps two Redis databases")
        .complexity("O(N) where N is the count of clients watching or blocking on keys from both databases.")
        .syntax("index1:integer index2:integer")
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .exclusive(),
    CommandSpec::new("time", 1, LOADING | STALE | FAST, time).tips(&["nondeterministic_output"])
        .doc(Group::Server, "2.6.0", "Return the current server time"),
    CommandSpec::new("shutdown", -1, ADMIN_FLAGS | NO_MULTI | SENTINEL | ALLOW_BUSY, shutdown)
        .doc(Group::Server, "1.0.0", "Synchronously save the dataset to disk and then shut down the server")
        .complexity("O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)")
        .syntax("save-selector=[NOSAVE | SAVE] [NOW] [FORCE] [ABORT]"),
    // Exclusive: Redis stops its single thread for DEBUG (SLEEP, RELOAD...).
    CommandSpec::new("debug", -2, ADMIN_FLAGS, debug)
        .doc(Group::Server, "1.0.0", "A container for debugging commands")
        .complexity("Depends on subcommand.")
        .exclusive(),
];

static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, ADMIN_FLAGS, config_get)
        .doc(
            Group::Server,
            "2.0.0",
            "Get the values of configuration parameters",
        )
        .complexity("O(N) when N is the number of configuration parameters provided")
        .syntax("parameter..."),
    CommandSpec::new("set", -4, ADMIN_FLAGS, config_set)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            Group::Server,
            "2.0.0",
            "Set configuration parameters to the given values",
        )
        .complexity("O(N) when N is the number of configuration parameters provided")
        .syntax("(parameter value)..."),
    CommandSpec::new("resetstat", 2, ADMIN_FLAGS, config_resetstat).doc(
        Group::Server,
        "2.0.0",
        "Reset the stats returned by INFO",
    ),
    CommandSpec::new("rewrite", 2, ADMIN_FLAGS, config_rewrite).doc(
        Group::Server,
        "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
    ),
    CommandSpec::new("help", 2, LOADING | STALE, config_help).doc(
        Group::Server,
        "5.0.0",
        "Show helpful text about the different subcommands",
    ),
];

/// CONFIG GET parameter [parameter ...]
fn config_get(ctx: &mut Ctx<'_>) -> CmdResult {
    let pairs = config::get_matching(&ctx.server.config.read(), &ctx.args[2..]);
    ctx.out.map(pairs.len());
    for (name, value) in pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET parameter value [parameter value ...]
fn config_set(ctx: &mut Ctx<'_>) -> CmdResult {
    if !ctx.arg_count().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let pairs: Vec<(&[u8], &[u8])> = ctx.args[2..].chunks(2).map(|p| (p[0], p[1])).collect();
    config::set_many(
        &mut ctx.server.config.write(),
        &pairs,
        ctx.client.handle.local,
    )
    .map_err(CommandError::err)?;
    ctx.server
        .apply(&config::applies_of(pairs.iter().map(|(name, _)| *name)));
    ctx.out.ok();
    Ok(())
}

/// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx<'_>) -> CmdResult {
    for worker in &ctx.server.stats.workers {
        worker.reset();
    }
    ctx.server.clients.connections_received.store(0, Relaxed);
    ctx.server.clients.rejected_connections.store(0, Relaxed);
    ctx.server.active_expiry.time_cap_reached.store(0, Relaxed);
    ctx.server.memory.peak.store(crate::memory::used(), Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE
fn config_rewrite(ctx: &mut Ctx<'_>) -> CmdResult {
    let Some(path) = &ctx.server.config.file else {
        return Err(CommandError::err(
            "The server is running without a config file",
        ));
    };
    let config = ctx.server.config.read().clone();
    config::rewrite(path, &config).map_err(|e| {
        crate::log!(Warning, "CONFIG REWRITE failed: {e}");
        CommandError::err(format!("Rewriting config file: {e}"))
    })?;
    crate::log!(Notice, "CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

/// CONFIG HELP
fn config_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

/// DBSIZE
fn dbsize(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out
        .integer(ctx.server.keyspace.db_len(ctx.client.db) as i64);
    Ok(())
}

/// Parses the optional ASYNC|SYNC of FLUSHDB/FLUSHALL; true means free the memory lazily.
fn flush_mode(ctx: &Ctx<'_>) -> Result<bool, CommandError> {
    match ctx.arg_count() {
        1 => Ok(false),
        2 if ctx.arg_is(1, "ASYNC") => Ok(true),
        2 if ctx.arg_is(1, "SYNC") => Ok(false),
        _ => Err(CommandError::Syntax),
    }
}

/// Counts the keys a flush removes, as Redis adds them to the dirty counter.
fn count_keys(ctx: &Ctx<'_>, db: Option<usize>) -> u64 {
    match db {
        Some(db) => ctx.server.keyspace.db_len(db) as u64,
        None => (0..ctx.server.keyspace.databases())
            .map(|db| ctx.server.keyspace.db_len(db) as u64)
            .sum(),
    }
}

/// FLUSHDB [ASYNC|SYNC]
fn flushdb(ctx: &mut Ctx<'_>) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let db = Some(ctx.client.db);
    ctx.dirty(count_keys(ctx, db));
    ctx.server.keyspace.flush(db, lazy);
    ctx.server.blocking.databases_changed(|i| Some(i) == db);
    ctx.propagate();
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC]
fn flushall(ctx: &mut Ctx<'_>) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    ctx.dirty(count_keys(ctx, None));
    // As in Redis: a snapshot in progress is of data that is gone, so it stops; with `save`
    // rules, the empty dataset is saved at once.
    let persistence = &ctx.server.persistence;
    if let Some((JobKind::Snapshot { .. }, _, _)) = persistence.current() {
        persistence.abort_and_wait();
    }
    ctx.server.keyspace.flush(None, lazy);
    ctx.server.blocking.databases_changed(|_| true);
    ctx.propagate();
    if !ctx.server.config.read().save_rules.is_empty() {
        let _ = crate::persistence::rdb::save(ctx.server);
    }
    // Redis counts FLUSHALL as one more change than the keys it removed.
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx<'_>) -> CmdResult {
    let a = parse_db_index(ctx, 1, CommandError::err("invalid first DB index"))?;
    let b = parse_db_index(ctx, 2, CommandError::err("invalid second DB index"))?;
    ctx.server.keyspace.swap_databases(a, b);
    ctx.server.blocking.databases_changed(|i| i == a || i == b);
    ctx.propagate();
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// TIME
fn time(ctx: &mut Ctx<'_>) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_integer(now.as_secs() as i64);
    ctx.out.bulk_integer(now.subsec_micros() as i64);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
fn shutdown(ctx: &mut Ctx<'_>) -> CmdResult {
    let (mut nosave, mut save, mut abort) = (false, false, false);
    for i in 1..ctx.arg_count() {
        if ctx.arg_is(i, "NOSAVE") {
            nosave = true;
        } else if ctx.arg_is(i, "SAVE") {
            save = true;
        } else if ctx.arg_is(i, "ABORT") {
            abort = true;
        } else if !ctx.arg_is(i, "NOW") && !ctx.arg_is(i, "FORCE") {
            return Err(CommandError::Syntax);
        }
    }
    if (nosave && save) || (abort && ctx.arg_count() > 2) {
        return Err(CommandError::Syntax);
    }
    if abort {
        // A shutdown here completes within the command, so none is ever in progress.
        return Err(CommandError::err("No shutdown in progress."));
    }
    // While a script is busy, only SHUTDOWN NOSAVE ends the server: a save now would keep
    // the script's half-done writes.
    let running = &ctx.server.scripting.running;
    if running.is_busy() && !nosave {
        return Err(running.busy_error());
    }
    let force = (1..ctx.arg_count()).any(|i| ctx.arg_is(i, "FORCE"));
    let save = save || (!nosave && !ctx.server.config.read().save_rules.is_empty());
    ctx.server
        .shutdown("User requested shutdown...", save, force);
    Err(CommandError::err("Errors trying to SHUTDOWN. Check logs."))
}

/// DEBUG <subcommand> ...
fn debug(ctx: &mut Ctx<'_>) -> CmdResult {
    let mode = ctx.server.config.read().enable_debug_command;
    if !mode.permits(ctx.client.handle.local) {
        return Err(CommandError::NotAllowed {
            command: "DEBUG",
            option: "enable-debug-command",
        });
    }
    let argc = ctx.arg_count();
    let sub = ctx.arg(1).to_ascii_lowercase();
    match (sub.as_slice(), argc) {
        (b"help", 2) => debug_help(ctx),
        (b"sleep", 3) => {
            // DEBUG runs exclusive: every other client waits, as Redis's one thread does.
            let secs = atof(ctx.arg(2));
            std::thread::sleep(Duration::from_secs_f64(secs.max(0.0)));
            ctx.out.ok();
        }
        (b"set-active-expire", 3) => {
            ctx.server
                .active_expiry
                .enabled
                .store(atoi(ctx.arg(2)) != 0, Relaxed);
            ctx.out.ok();
        }
        (b"log", 3) => {
            crate::log!(
                Warning,
                "DEBUG LOG: {}",
                String::from_utf8_lossy(ctx.arg(2))
            );
            ctx.out.ok();
        }
        (b"object", 3) => debug_object(ctx)?,
        (b"populate", 3..=5) => debug_populate(ctx)?,
        (b"reload", _) => debug_reload(ctx)?,
        (b"digest", 2) => {
            let digest = ctx.server.keyspace.digest();
            ctx.out.simple(&digest::to_hex(&digest));
        }
        (b"digest-value", _) => {
            let keys = &ctx.args[2..];
            ctx.out.array(keys.len());
            let mut locked = ctx.lock_undeclared(keys.iter().copied());
            for key in keys {
                let (table, hash) = locked.db(ctx.client.db, key);
                // As in Redis, a logically expired key that is still stored is digested too.
                let digest = table.peek_stored(hash, key).map_or([0; 20], |e| {
                    digest::value_digest(&e.value, e.expire_at != 0)
                });
                ctx.out.simple(&digest::to_hex(&digest));
            }
        }
        _ => {
            return Err(CommandError::err(format!(
                "unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
                String::from_utf8_lossy(ctx.arg(1))
            )))
        }
    }
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the snapshot, empties the dataset and loads
/// the file back. DEBUG runs with every other client paused, so nothing changes in between.
fn debug_reload(ctx: &mut Ctx<'_>) -> CmdResult {
    let (mut merge, mut flush, mut save) = (false, true, true);
    for i in 2..ctx.arg_count() {
        if ctx.arg_is(i, "MERGE") {
            merge = true;
        } else if ctx.arg_is(i, "NOFLUSH") {
            flush = false;
        } else if ctx.arg_is(i, "NOSAVE") {
            save = false;
        } else {
            return Err(CommandError::err(
                "DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE options.",
            ));
        }
    }
    let server = ctx.server;
    if save && rdb::save(server).is_err() {
        return Err(CommandError::coded("ERR"));
    }
    if flush {
        server.keyspace.flush(None, false);
    }
    let on_duplicate = if merge {
        OnDuplicate::Replace
    } else {
        OnDuplicate::Fail
    };
    if let Err(e) = rdb::load(server, &rdb::path(server), on_duplicate) {
        crate::log!(Warning, "DEBUG RELOAD failed: {e}");
        return Err(CommandError::err(
            "Error trying to load the RDB dump, check server logs.",
        ));
    }
    crate::log!(Notice, "DB reloaded by DEBUG RELOAD");
    ctx.out.ok();
    Ok(())
}

/// C's `atof` leniency, which DEBUG's numeric arguments use: a leading number, else 0.
fn atof(text: &[u8]) -> f64 {
    let text = String::from_utf8_lossy(text);
    let trimmed = text.trim_start();
    let end = trimmed
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || c == '.' || (i == 0 && (c == '-' || c == '+'))))
        .map_or(trimmed.len(), |(i, _)| i);
    trimmed[..end].parse().unwrap_or(0.0)
}

fn atoi(text: &[u8]) -> i64 {
    atof(text) as i64
}

/// DEBUG OBJECT key
/// DEBUG POPULATE count [prefix] [size]: `prefix:N` = `value:N` (padded with zero bytes or cut
/// to `size`), skipping keys that exist; for tests and benchmarks.
fn debug_populate(ctx: &mut Ctx<'_>) -> CmdResult {
    let count = ctx.arg_i64(2)?;
    if count < 0 {
        return Err(CommandError::err("count must be greater than 0"));
    }
    let prefix = if ctx.arg_count() > 3 {
        ctx.arg(3)
    } else {
        b"key"
    };
    let size = match ctx.arg_count() {
        5 => Some(ctx.arg_i64(4)?.max(0) as usize),
        _ => None,
    };
    let db = ctx.client.db;
    for i in 0..count {
        let key = [prefix, b":", i.to_string().as_bytes()].concat();
        let mut value = format!("value:{i}").into_bytes();
        if let Some(size) = size {
            value.resize(size, 0);
        }
        let mut locked = ctx.lock_undeclared([key.as_slice()]);
        let (table, hash) = locked.db(db, &key);
        if table.get(hash, &key, ctx.now_ms).is_none() {
            table.set(hash, &key, Value::string(&value), false, ctx.now_ms);
        }
    }
    ctx.out.ok();
    Ok(())
}

fn debug_object(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(2);
    let mut locked = ctx.lock_undeclared([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let entry = db
        .peek(hash, key, ctx.now_ms)
        .ok_or(CommandError::NoSuchKey)?;
    let idle = (ctx.now_ms / 1000).saturating_sub(entry.access as u64);
    let text = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        entry,
        refcount(&entry.value),
        entry.value.encoding(),
        serialized_length(&entry.value),
        entry.access & 0xFF_FFFF,
        idle
    );
    drop(locked);
    ctx.out.simple(&text);
    Ok(())
}

/// OBJECT REFCOUNT's answer: Redis shares the integers 0..10000 between keys.
pub fn refcount(value: &Value) -> i64 {
    match value {
        Value::Int(n) if (0..10_000).contains(n) => i32::MAX as i64,
        _ => 1,
    }
}

/// The length of a value in RDB's plain encodings, without LZF compression: integers in 2, 3
/// or 5 bytes, strings as a length prefix plus their bytes, collections as a count followed by
/// their elements (sorted-set scores as 8-byte doubles). Redis 7.0 writes small collections as
/// listpack blobs instead, so its figure for those differs.
fn serialized_length(value: &Value) -> usize {
    match value {
        Value::Int(n) => int_length(*n),
        Value::Str(s) => string_length(s),
        Value::RawStr(s) => string_length(s),
        Value::List(list) => {
            length_prefix(list.len())
                + list
                    .iter()
                    .map(|e| string_length(&e.to_vec()))
                    .sum::<usize>()
        }
        Value::Set(set) => {
            length_prefix(set.len())
                + set
                    .iter()
                    .map(|m| string_length(&m.to_bytes()))
                    .sum::<usize>()
        }
        Value::Hash(hash) => {
            length_prefix(hash.len())
                + hash
                    .iter()
                    .map(|(f, v)| string_length(f) + string_length(v))
                    .sum::<usize>()
        }
        Value::ZSet(zset) => {
            let mut total = length_prefix(zset.len());
            zset.range(0, zset.len(), false, |member, _| {
                total += string_length(member) + 8
            });
            total
        }
        // Streams are written as their nodes' listpacks, as Redis writes them.
        Value::Stream(stream) => stream
            .nodes()
            .map(|(_, listpack)| string_length(&[0; 16]) + string_length(&listpack))
            .sum(),
    }
}

/// RDB's length prefix: 1, 2, 5 or 9 bytes.
fn length_prefix(n: usize) -> usize {
    match n {
        0..=63 => 1,
        64..=16383 => 2,
        _ if n <= u32::MAX as usize => 5,
        _ => 9,
    }
}

/// A string as RDB stores it: as an integer when it is the text of one that fits 32 bits.
fn string_length(bytes: &[u8]) -> usize {
    match redis_lite_protocol::number::parse_i64(bytes) {
        Some(n) if i32::try_from(n).is_ok() => int_length(n),
        _ => length_prefix(bytes.len()) + bytes.len(),
    }
}

fn int_length(n: i64) -> usize {
    if i8::try_from(n).is_ok() {
        2
    } else if i16::try_from(n).is_ok() {
        3
    } else if i32::try_from(n).is_ok() {
        5
    } else {
        let digits = itoa::Buffer::new().format(n).len();
        length_prefix(digits) + digits
    }
}

fn debug_help(ctx: &mut Ctx<'_>) {
    reply_help(
        ctx,
        "DEBUG",
        &[
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cache will not be used for them.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Available <option> values:",
            "    * MERGE: Merge the content of the RDB instead of flushing the current data.",
            "    * NOFLUSH: Do not empty the current data before loading the RDB.",
            "    * NOSAVE: the database will be loaded from an existing RDB file.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    );
}
