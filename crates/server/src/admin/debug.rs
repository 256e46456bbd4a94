//! DEBUG: the subcommands of Redis 7.0's that its test suites, client libraries' own tests and
//! operators use, where they mean something here (DIGEST, RELOAD, LOADAOF, PROTOCOL, ERROR,
//! SLEEP, SET-ACTIVE-EXPIRE...). Those that poke at Redis's C internals or crash the server on
//! purpose are refused by name, saying why; DEBUG HELP lists only what is served.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use rand::Rng;
use redis_lite_engine::glob::glob_match;
use redis_lite_engine::list::{Container, List, NodeShape};
use redis_lite_engine::{digest, Value};

use crate::admin::instance::ADMIN_FLAGS;
use crate::args::reply_help;
use crate::command::{CommandSpec, Group};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::persistence::aof;
use crate::persistence::rdb::{self, OnDuplicate};

pub static COMMANDS: &[CommandSpec] = &[
    // Exclusive: Redis stops its single thread for DEBUG (SLEEP, RELOAD, LOADAOF...).
    CommandSpec::new("debug", -2, ADMIN_FLAGS, debug)
        .doc(Group::Server, "1.0.0", "A container for debugging commands")
        .complexity("Depends on subcommand.")
        .exclusive()
        // On a fiber: DEBUG RELOAD and DEBUG LOADAOF let their event loop serve its other
        // clients at the load's serving points, and the scripts LOADAOF replays may run.
        .runs_scripts()
        .syscmd(),
];

/// Redis 7.0's DEBUG subcommands that redis-lite does not serve, and why.
const REFUSED: &[(&str, &str)] = &[
    ("assert", "it crashes the server on purpose"),
    ("panic", "it crashes the server on purpose"),
    ("oom", "it crashes the server on purpose"),
    ("crash-and-recover", "it crashes the server on purpose"),
    ("restart", "it restarts the server process in place"),
    ("leak", "it leaks memory on purpose"),
    ("htstats", "it reports Redis's C hash table internals"),
    ("htstats-key", "it reports Redis's C hash table internals"),
    ("sdslen", "it reports Redis's C string internals"),
    ("structsize", "it reports Redis's C structure sizes"),
    ("mallctl", "it tunes Redis's own jemalloc build"),
    ("mallctl-str", "it tunes Redis's own jemalloc build"),
    (
        "aof-flush-sleep",
        "the AOF is written by the event loops and a writer thread, with no flush pause",
    ),
    ("client-eviction", "there are no client eviction pools"),
];

/// DEBUG CLUSTERLINK KILL TO|FROM|ALL node-id: frees the bus links to, from or both ways
/// with a known node, with what they had not sent; the cluster cron connects again.
fn debug_clusterlink_kill(ctx: &mut Ctx<'_>) -> CmdResult {
    let Some(node) = ctx.server.cluster.node() else {
        return Err(CommandError::err(
            "Debug option only available for cluster mode enabled setup!",
        ));
    };
    let id = String::from_utf8_lossy(ctx.arg(4)).into_owned();
    if node.read().index_of(id.as_bytes()).is_none() {
        return Err(CommandError::err(format!("Unknown node {id}")));
    }
    let (outbound, inbound) = match ctx.arg(3).to_ascii_lowercase().as_slice() {
        b"to" => (true, false),
        b"from" => (false, true),
        b"all" => (true, true),
        _ => {
            return Err(CommandError::err(format!(
                "Unknown direction {}",
                String::from_utf8_lossy(ctx.arg(3))
            )))
        }
    };
    node.bus.kill_links(&id, outbound, inbound);
    ctx.out.ok();
    Ok(())
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
        // A real crash, as Redis's: the fatal-signal handler writes the bug report (with
        // `crash-log-enabled yes`) and the process ends by the signal. Only where DEBUG is
        // enabled, which it is not by default.
        (b"segfault", _) => {
            // SAFETY: raising a signal has no memory effects; the handler installed at start-up
            // (or the default action) ends the process.
            unsafe {
                libc::raise(libc::SIGSEGV);
            }
            unreachable!("SIGSEGV ends the process");
        }
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
        (b"set-disable-deny-scripts", 3) => {
            ctx.server
                .scripting
                .deny_scripts_disabled
                .store(atoi(ctx.arg(2)) != 0, Relaxed);
            ctx.out.ok();
        }
        (b"set-skip-checksum-validation", 3) => {
            redis_lite_persist::set_skip_checksum_validation(atoi(ctx.arg(2)) != 0);
            ctx.out.ok();
        }
        (b"pause-cron", 3) => {
            ctx.server.cron_paused.store(atoi(ctx.arg(2)) != 0, Relaxed);
            ctx.out.ok();
        }
        (b"replicate", n) if n >= 3 => {
            // To the replicas only, without running it here: a test's way to make their data
            // differ (Redis sends it in the stream's current database; so does this, unless
            // the client selected another).
            let args: Vec<&[u8]> = (2..n).map(|i| ctx.arg(i)).collect();
            ctx.server
                .journal
                .record_for_replicas(ctx.client.db, &args, ctx.client.mode.nested());
            ctx.out.ok();
        }
        (b"clusterlink", 5) if ctx.arg_is(2, "KILL") => debug_clusterlink_kill(ctx)?,
        (b"drop-cluster-packet-filter", 3) => {
            let message_type = ctx.arg_i64(2)?;
            ctx.server.cluster.drop_filter.store(message_type, Relaxed);
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
        // Written as a raw reply, as Redis does: the text is the whole error line, code
        // included, and it is not counted in the error statistics.
        (b"error", 3) => ctx.out.error_bytes(ctx.arg(2)),
        (b"protocol", 3) => debug_protocol(ctx)?,
        // Not in Redis, and not in release builds: see `crate::faults`.
        #[cfg(debug_assertions)]
        (b"fault", 4) => crate::faults::debug_fault(ctx)?,
        (b"change-repl-id", 2) => {
            crate::log!(
                Warning,
                "Changing replication IDs after receiving DEBUG change-repl-id"
            );
            ctx.server.replication.new_history();
            ctx.out.ok();
        }
        (b"loadaof", _) => debug_loadaof(ctx)?,
        (b"replybuffer", 4) => debug_replybuffer(ctx)?,
        (b"object", 3) => debug_object(ctx)?,
        (b"listpack", 3) => debug_listpack(ctx)?,
        (b"quicklist", 3 | 4) => debug_quicklist(ctx)?,
        (b"quicklist-packed-threshold", 3) => {
            let size = crate::args::parse_memtoull(ctx.arg(2));
            if !size.is_some_and(redis_lite_engine::list::set_packed_threshold) {
                return Err(CommandError::err(
                    "argument must be a memory value bigger than 1 and smaller than 4gb",
                ));
            }
            ctx.out.ok();
        }
        (b"populate", 3..=5) => debug_populate(ctx)?,
        (b"config-rewrite-force-all", 2) => super::instance::rewrite_config_file(ctx, true)?,
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
                let digest = table
                    .peek_stored(hash, key)
                    .map_or([0; 20], digest::value_digest);
                ctx.out.simple(&digest::to_hex(&digest));
            }
        }
        (b"stringmatch-test", 2) => {
            stringmatch_fuzz();
            ctx.out
                .simple("Apparently Redis did not crash: test passed");
        }
        (name, _) => {
            if let Some((_, why)) = REFUSED.iter().find(|(n, _)| n.as_bytes() == name) {
                return Err(CommandError::err(format!(
                    "DEBUG {} is not supported by redis-lite: {why}",
                    name.to_ascii_uppercase().escape_ascii()
                )));
            }
            return Err(CommandError::subcommand_syntax("DEBUG", ctx.arg(1)));
        }
    }
    Ok(())
}

/// Redis's reply to a DEBUG subcommand it does not know or got the wrong arguments, naming it
/// as the client wrote it.
/// DEBUG PROTOCOL <type>: one sample reply of each RESP type, as Redis sends them, for client
/// libraries to test their parsers. RESP2 clients get each type's RESP2 form; an attribute is
/// left out for them, and a push refused.
fn debug_protocol(ctx: &mut Ctx<'_>) -> CmdResult {
    let name = ctx.arg(2).to_ascii_lowercase();
    let out = &mut ctx.out;
    match name.as_slice() {
        b"string" => out.bulk(b"Hello World"),
        b"integer" => out.integer(12345),
        // Redis's sample value, not π.
        #[allow(clippy::approx_constant)]
        b"double" => out.double(3.141),
        b"bignum" => out.big_number(b"1234567999999999999999999999999999999"),
        b"null" => out.null(),
        b"array" | b"set" => {
            match name.as_slice() {
                b"array" => out.array(3),
                _ => out.set(3),
            }
            (0..3).for_each(|i| out.integer(i));
        }
        b"map" => {
            out.map(3);
            for i in 0..3 {
                out.integer(i);
                out.boolean(i == 1);
            }
        }
        b"attrib" => {
            out.attribute(1, |out| {
                out.bulk(b"key-popularity");
                out.array(2);
                out.bulk(b"key:123");
                out.integer(90);
            });
            out.bulk(b"Some real reply following the attribute");
        }
        b"push" => {
            if !out.is_resp3() {
                return Err(CommandError::err("RESP2 is not supported by this command"));
            }
            out.push(2);
            out.bulk(b"server-cpu-usage");
            out.integer(42);
            out.bulk(b"Some real reply following the push reply");
        }
        b"verbatim" => out.verbatim(b"txt", b"This is a verbatim\nstring"),
        b"true" => out.boolean(true),
        b"false" => out.boolean(false),
        _ => {
            return Err(CommandError::err(
                "Wrong protocol type name. Please use one of the following: \
                 string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|true|false",
            ))
        }
    }
    Ok(())
}

/// DEBUG LOADAOF: writes what the AOF has not written yet, empties the dataset and loads it
/// back from the AOF files, which with `appendonly no` are those an earlier run (or CONFIG SET
/// appendonly no) left, as in Redis. Redis empties the dataset and then exits when there is no
/// AOF at all; redis-lite refuses first, so that a DEBUG command neither loses the data nor
/// stops the server. The load serves other clients as DEBUG RELOAD's does.
fn debug_loadaof(ctx: &mut Ctx<'_>) -> CmdResult {
    let server = ctx.server;
    let config = server.config.read().clone();
    let manifest = aof::aof_dir(&config).join(redis_lite_persist::aof::manifest_name(
        &config.appendfilename,
    ));
    if !server.aof.is_on() && !manifest.exists() {
        return Err(CommandError::err(
            "DEBUG LOADAOF found no AOF to load (Redis would exit here)",
        ));
    }
    if server.aof.is_on() {
        server.aof.write_now();
    }
    server.keyspace.flush(None, false);
    server.tracking.flushed();
    let loading = crate::persistence::begin_loading(server, 0);
    let loaded = aof::load::load_holding_gates(server);
    drop(loading);
    match loaded {
        Ok(_) => {}
        Err(e) => {
            crate::log!(Warning, "DEBUG LOADAOF failed: {e}");
            return Err(CommandError::err(
                "Error trying to load the AOF files, check server logs.",
            ));
        }
    }
    crate::log!(Warning, "Append Only File loaded by DEBUG LOADAOF");
    ctx.out.ok();
    Ok(())
}

/// DEBUG REPLYBUFFER PEAK-RESET-TIME <NEVER|RESET|ms> | RESIZING <0|1>. Redis gives each
/// client a reply buffer that its cron grows and shrinks by the peak seen over the reset time;
/// redis-lite's connections hold a buffer from their event loop's pool only while it has
/// bytes in it, so a peak never outlives the write that made it. RESIZING switches the pool's
/// shrinking of grown buffers; PEAK-RESET-TIME is checked as Redis checks it and has nothing
/// to reset.
fn debug_replybuffer(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_is(2, "PEAK-RESET-TIME") {
        if !ctx.arg_is(3, "NEVER") && !ctx.arg_is(3, "RESET") {
            ctx.arg_i64(3)?;
        }
    } else if ctx.arg_is(2, "RESIZING") {
        crate::net::buffers::set_resizing(atoi(ctx.arg(3)) != 0);
    } else {
        return Err(CommandError::subcommand_syntax("DEBUG", ctx.arg(1)));
    }
    ctx.out.ok();
    Ok(())
}

/// DEBUG RELOAD [MERGE] [NOFLUSH] [NOSAVE]: saves the snapshot, empties the dataset and loads
/// the file back. DEBUG runs with every other client paused, so nothing changes in between;
/// the load serves them as Redis's does (`persistence::loading`): `-LOADING` at its serving
/// points, INFO and the others allowed while loading run there, but those that need every
/// event loop's gate wait for its end, for DEBUG holds them all.
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
        server.tracking.flushed();
        // Functions too, as Redis empties them with the data here (not on FLUSHALL).
        server.scripting.clear_libraries();
    }
    let on_duplicate = if merge {
        OnDuplicate::Replace
    } else {
        OnDuplicate::Fail
    };
    let loading = crate::persistence::begin_loading(server, 0);
    let loaded = rdb::load(server, &rdb::path(server), on_duplicate);
    drop(loading);
    if let Err(e) = loaded {
        crate::log!(Warning, "DEBUG RELOAD failed: {e}");
        return Err(CommandError::err("Error trying to load the RDB dump"));
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

/// DEBUG OBJECT key: where the value is, its encoding, its RDB size and LRU clock, and for a
/// list its quicklist's shape, as Redis 7.0 reports them.
fn debug_object(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(2);
    let shared = integers_shared(&ctx.server.config.read());
    let mut locked = ctx.lock_undeclared([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    // A raw lookup, as Redis's: a key past its TTL but still stored is shown.
    let entry = db.peek_stored(hash, key).ok_or(CommandError::NoSuchKey)?;
    let idle = (ctx.now_ms / 1000).saturating_sub(entry.access() as u64);
    let mut text = format!(
        "Value at:{:p} refcount:{} encoding:{} serializedlength:{} lru:{} lru_seconds_idle:{}",
        entry,
        refcount(&entry.value(), shared),
        entry.value().encoding(),
        serialized_length(&entry.value()),
        entry.access() & 0xFF_FFFF,
        idle
    );
    if let Value::List(list) = &*entry.value() {
        let nodes: Vec<usize> = list.node_shapes().map(|node| node.bytes).collect();
        let average = match nodes.len() {
            0 => 0.0,
            n => list.len() as f64 / n as f64,
        };
        // As Redis, `ql_compressed` says whether the list compresses at all (its depth is not
        // 0), not how many nodes are compressed now.
        text.push_str(&format!(
            " ql_nodes:{} ql_avg_node:{average:.2} ql_listpack_max:{} ql_compressed:{} \
             ql_uncompressed_size:{}",
            nodes.len(),
            list.fill(),
            u8::from(list.compress_depth() != 0),
            nodes.iter().sum::<usize>()
        ));
    }
    drop(locked);
    ctx.out.simple(&text);
    Ok(())
}

/// DEBUG LISTPACK key: prints the entries of a listpack-encoded hash or sorted set on standard
/// output, as Redis does, and says so.
fn debug_listpack(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(2);
    let mut locked = ctx.lock_undeclared([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    // A raw lookup, as Redis's: a key past its TTL but still stored is shown.
    let entry = db.peek_stored(hash, key).ok_or(CommandError::NoSuchKey)?;
    let mut entries: Vec<Vec<u8>> = Vec::new();
    match &*entry.value() {
        Value::Hash(h) if h.encoding() == "listpack" => {
            for (field, value) in h.iter() {
                entries.extend([field.to_vec(), value.to_vec()]);
            }
        }
        Value::ZSet(z) if z.encoding() == "listpack" => z.range(0, z.len(), false, |m, score| {
            let mut text = Vec::new();
            redis_lite_protocol::number::format_f64(score, &mut text);
            entries.extend([m.to_vec(), text]);
        }),
        _ => return Err(CommandError::err("Not a listpack encoded object.")),
    }
    let size = entry.value().heap_size();
    drop(locked);
    print!("{}", listpack_dump(size, &entries));
    ctx.out.simple("Listpack structure printed on stdout");
    Ok(())
}

/// A listpack's entries as DEBUG LISTPACK and DEBUG QUICKLIST print them.
fn listpack_dump(size: usize, entries: &[Vec<u8>]) -> String {
    let mut dump = format!("{{total bytes {size}}} {{num entries {}}}\n", entries.len());
    for (index, element) in entries.iter().enumerate() {
        dump.push_str(&format!(
            "{{\n\tindex: {index},\n\tbytes: {},\n\t{}\n}}\n",
            element.len(),
            element.escape_ascii()
        ));
    }
    dump.push_str("{end}\n");
    dump
}

/// DEBUG QUICKLIST key [level]: prints a list's nodes on standard output in Redis's layout
/// (each node's container, PLAIN or PACKED, its encoding, RAW or LZF, size and count; at a
/// non-zero level its elements too) and says so.
fn debug_quicklist(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(2);
    let full = ctx.arg_count() == 4 && atoi(ctx.arg(3)) != 0;
    let mut locked = ctx.lock_undeclared([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    // A raw lookup, as Redis's: a key past its TTL but still stored is shown.
    let entry = db.peek_stored(hash, key).ok_or(CommandError::NoSuchKey)?;
    let Value::List(list) = &*entry.value() else {
        return Err(CommandError::err("Not a quicklist encoded object."));
    };
    let dump = quicklist_dump(list, full);
    drop(locked);
    print!("{dump}");
    ctx.out.simple("Quicklist structure printed on stdout");
    Ok(())
}

/// DEBUG QUICKLIST's text: Redis's layout, with each packed node's elements as DEBUG LISTPACK
/// prints them when `full`.
fn quicklist_dump(list: &List, full: bool) -> String {
    let shapes: Vec<NodeShape> = list.node_shapes().collect();
    let mut dump = format!(
        "{{count : {}}}\n{{len : {}}}\n{{fill : {}}}\n{{compress : {}}}\n{{bookmark_count : 0}}\n",
        list.len(),
        shapes.len(),
        list.fill(),
        list.compress_depth()
    );
    let mut items = list.iter();
    for (i, node) in shapes.iter().enumerate() {
        dump.push_str(&format!(
            "{{quicklist node({i})\n{{container : {}, encoding: {}, size: {}, count: {}, \
             recompress: 0, attempted_compress: 0}}\n",
            match node.container {
                Container::Plain => "PLAIN",
                Container::Packed => "PACKED",
            },
            if node.compressed { "LZF" } else { "RAW" },
            node.bytes,
            node.count
        ));
        if full {
            let elements: Vec<Vec<u8>> = items
                .by_ref()
                .take(node.count)
                .map(|e| e.to_vec())
                .collect();
            match node.container {
                Container::Plain => {
                    dump.push_str(&format!("{{ entry : {} }}\n", elements[0].escape_ascii()))
                }
                Container::Packed => dump.push_str(&format!(
                    "{{ listpack:\n{}\n}}\n",
                    listpack_dump(node.bytes, &elements)
                )),
            }
        }
        dump.push_str("}\n");
    }
    dump
}

/// DEBUG STRINGMATCH-TEST: matches random patterns, rich in glob syntax, against random
/// strings; the test passes when the matcher neither panics nor runs away.
fn stringmatch_fuzz() {
    let mut rng = rand::thread_rng();
    for _ in 0..100_000 {
        let pattern = glob_text(&mut rng);
        let text = glob_text(&mut rng);
        glob_match(&pattern, &text, rng.gen());
    }
}

/// Up to 31 bytes drawn from glob's special characters and two letters.
fn glob_text(rng: &mut impl Rng) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ab*?[]^-\\!";
    let len = rng.gen_range(0..32);
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
        .collect()
}

/// Whether Redis would share small integer values between keys (see [`refcount`]): not under
/// an LRU or LFU `maxmemory-policy` with `maxmemory` set, where each value keeps its own access
/// time. Redis decides when it stores a value; here the configuration of now decides, since
/// entries do not record it.
pub fn integers_shared(config: &crate::config::Config) -> bool {
    use redis_lite_engine::Policy;
    config.maxmemory == 0
        || !matches!(
            config.maxmemory_policy,
            Policy::AllKeysLru | Policy::VolatileLru | Policy::AllKeysLfu | Policy::VolatileLfu
        )
}

/// OBJECT REFCOUNT's answer: Redis shares one object for each integer 0..10000 between keys
/// (when `integers_shared`), and reports it as never freed.
pub fn refcount(value: &Value, integers_shared: bool) -> i64 {
    match value {
        Value::Int(n) if integers_shared && (0..10_000).contains(n) => i32::MAX as i64,
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
            "CHANGE-REPL-ID",
            "    Change the replication IDs of the instance.",
            "    Dangerous: should be used only for testing the replication subsystem.",
            "CONFIG-REWRITE-FORCE-ALL",
            "    Like CONFIG REWRITE but writes all configuration options, including",
            "    keywords not listed in original configuration file or default values.",
            "DIGEST",
            "    Output a hex signature representing the current DB content.",
            "DIGEST-VALUE <key> [<key> ...]",
            "    Output a hex signature of the values of all the specified keys.",
            "ERROR <string>",
            "    Return a Redis protocol error with <string> as message. Useful for clients",
            "    unit tests to simulate Redis errors.",
            "LOG <message>",
            "    Write <message> to the server log.",
            "LOADAOF",
            "    Flush the AOF buffers on disk and reload the AOF in memory.",
            "REPLICATE <string>",
            "    Replicates the provided string to replicas, allowing data divergence.",
            "OBJECT <key>",
            "    Show low level info about `key` and associated value.",
            "DROP-CLUSTER-PACKET-FILTER <packet-type>",
            "    Drop all packets that match the filtered type. Set to -1 allow all packets.",
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "PROTOCOL <type>",
            "    Reply with a test value of the specified type. <type> can be: string,",
            "    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
            "    true, false.",
            "RELOAD [option ...]",
            "    Save the RDB on disk and reload it back to memory. Valid <option> values:",
            "    * MERGE: conflicting keys will be loaded from RDB.",
            "    * NOFLUSH: the existing database will not be removed before load, but",
            "      conflicting keys will generate an exception and kill the server.",
            "    * NOSAVE: the database will be loaded from an existing RDB file.",
            "    Examples:",
            "    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
            "      the database.",
            "    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
            "      existing RDB file.",
            "    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
            "      file to the database.",
            "SEGFAULT",
            "    Crash the server with sigsegv.",
            "SET-ACTIVE-EXPIRE <0|1>",
            "    Setting it to 0 disables expiring keys in background when they are not",
            "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
            "    default.",
            "QUICKLIST-PACKED-THRESHOLD <size>",
            "    Sets the threshold for elements to be inserted as plain vs packed nodes",
            "    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
            "SET-SKIP-CHECKSUM-VALIDATION <0|1>",
            "    Enables or disables checksum checks for RDB files and RESTORE's payload.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
            "STRINGMATCH-TEST",
            "    Run a fuzz tester against the stringmatchlen() function.",
            "LISTPACK <key>",
            "    Show low level info about the listpack encoding of <key>.",
            "QUICKLIST <key> [<0|1>]",
            "    Show low level info about the quicklist encoding of <key>.",
            "    The optional argument (0 by default) sets the level of detail",
            "PAUSE-CRON <0|1>",
            "    Stop periodic cron job processing.",
            "REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
            "    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
            "    In case NEVER is provided the last observed peak will never be reset",
            "    In case RESET is provided the peak reset time will be restored to the default value",
            "REPLYBUFFER RESIZING <0|1>",
            "    Enable or disable the reply buffer resize cron job",
            "CLUSTERLINK KILL <to|from|all> <node-id>",
            "    Kills the link based on the direction to/from (both) with the provided node.",
        ],
    );
}

#[cfg(test)]
mod tests {
    use redis_lite_engine::list::{Container, End, List};

    /// Node lines as Redis 7.0.15 prints them (taken from its output for the same list).
    #[test]
    fn quicklist_dump_shows_plain_nodes_as_redis() {
        let mut list = List::new(-2);
        list.push(End::Right, b"a");
        list.push(End::Right, b"b");
        list.push_as(End::Right, &[b'x'; 200], Container::Plain);
        list.push(End::Right, b"c");
        let brief = super::quicklist_dump(&list, false);
        assert_eq!(
            brief,
            "{count : 4}\n{len : 3}\n{fill : -2}\n{compress : 0}\n{bookmark_count : 0}\n\
             {quicklist node(0)\n{container : PACKED, encoding: RAW, size: 13, count: 2, \
             recompress: 0, attempted_compress: 0}\n}\n\
             {quicklist node(1)\n{container : PLAIN, encoding: RAW, size: 200, count: 1, \
             recompress: 0, attempted_compress: 0}\n}\n\
             {quicklist node(2)\n{container : PACKED, encoding: RAW, size: 10, count: 1, \
             recompress: 0, attempted_compress: 0}\n}\n"
        );
        let full = super::quicklist_dump(&list, true);
        assert!(full.contains(&format!("{{ entry : {} }}\n}}\n", "x".repeat(200))));
        assert!(full.contains("{ listpack:\n{total bytes 13} {num entries 2}\n"));
    }
}
