//! MEMORY: USAGE, STATS, DOCTOR, PURGE, MALLOC-STATS and HELP. The figures come from the
//! allocator (see `crate::memory`); per-key sizes add the value's heap bytes to the key's
//! entry in the table.

use std::sync::atomic::Ordering::Relaxed;

use crate::args::reply_help;
use crate::command::acl;
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::KeySpec;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::memory;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::container(
    "memory",
    &[
        CommandSpec::new("doctor", 2, 0, memory_doctor)
            .tips(&[
                "nondeterministic_output",
                "request_policy:all_shards",
                "response_policy:special",
            ])
            .doc(Group::Server, "4.0.0", "Outputs memory problems report")
            .acl(acl::SLOW),
        CommandSpec::new("malloc-stats", 2, 0, memory_malloc_stats)
            .tips(&[
                "nondeterministic_output",
                "request_policy:all_shards",
                "response_policy:special",
            ])
            .doc(Group::Server, "4.0.0", "Show allocator internal stats")
            .complexity("Depends on how much memory is allocated, could be slow")
            .acl(acl::SLOW),
        CommandSpec::new("purge", 2, 0, memory_purge)
            .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
            .doc(
                Group::Server,
                "4.0.0",
                "Ask the allocator to release memory",
            )
            .complexity("Depends on how much memory is allocated, could be slow")
            .acl(acl::SLOW),
        CommandSpec::new("stats", 2, 0, memory_stats)
            .tips(&[
                "nondeterministic_output",
                "request_policy:all_shards",
                "response_policy:special",
            ])
            .doc(Group::Server, "4.0.0", "Show memory usage details")
            .acl(acl::SLOW),
        CommandSpec::new("usage", -3, READONLY, memory_usage)
            .key_specs(&[KeySpec::index(2).range(0, 1, 0).flags(RO)])
            .doc(Group::Server, "4.0.0", "Estimate the memory usage of a key")
            .complexity("O(N) where N is the number of samples.")
            .syntax("key [SAMPLES count:integer]"),
        CommandSpec::new("help", 2, LOADING | STALE, memory_help).doc(
            Group::Server,
            "4.0.0",
            "Show helpful text about the different subcommands",
        ),
    ],
)
.doc(
    Group::Server,
    "4.0.0",
    "A container for memory diagnostics commands",
)
.complexity("Depends on subcommand.")];

/// The bytes the table spends per key beyond the key and value themselves (the chain link and
/// the access field of the 44-byte entry), as Redis counts its dictEntry as overhead rather
/// than data. A key with a TTL keeps its expiry with its value, in the value's part.
const ENTRY_OVERHEAD: u64 = 8;

/// MEMORY USAGE key [SAMPLES count]
fn memory_usage(ctx: &mut Ctx<'_>) -> CmdResult {
    // Sizes here are exact, so every count gives the same answer; each is still checked, and
    // SAMPLES may come more than once, as Redis reads it.
    let mut i = 3;
    while i < ctx.arg_count() {
        if !(ctx.arg_is(i, "SAMPLES") && i + 1 < ctx.arg_count()) || ctx.arg_i64(i + 1)? < 0 {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    let key = ctx.arg(2);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let size = db.peek_stored(hash, key).map(|entry| {
        redis_string_usage(entry).unwrap_or_else(|| {
            (std::mem::size_of::<redis_lite_engine::Entry>() + entry.heap_size()) as u64
        }) as i64
    });
    drop(locked);
    match size {
        Some(n) => ctx.out.integer(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Redis's `sizeof(robj)`: the object every value has.
const REDIS_OBJECT: u64 = 16;
/// Redis's `sizeof(dictEntry)`, which MEMORY USAGE adds as it is (not at its size class).
const REDIS_DICT_ENTRY: u64 = 24;
/// The header of the sds inside an `embstr` object (always an `sdshdr8`).
const EMBSTR_SDS_HEADER: u64 = 3;

/// MEMORY USAGE of a string key as Redis 7.0 computes it, from the layout Redis gives it:
/// the key's sds, the `dictEntry`, and the value's object (an `int` is the object alone, an
/// `embstr` one allocation with its sds inside, a `raw` string an object and an sds), each
/// allocation at jemalloc's size class. Clients and tests compare this figure with Redis's,
/// and a string's layout follows from its length and encoding alone (a string grown in place
/// keeps the room Redis's sds growth would leave: `access::grow_as_sds`), so strings report
/// Redis's number; the other types report redis-lite's own bytes. None for another type.
fn redis_string_usage(entry: &redis_lite_engine::Entry) -> Option<u64> {
    use redis_lite_engine::{StringRef, Value};
    let value = match (entry.boxed_value(), entry.string()?) {
        (Some(Value::RawStr(bytes)), _) => REDIS_OBJECT + sds_allocation(bytes.capacity()),
        (_, StringRef::Int(_)) => REDIS_OBJECT,
        (_, StringRef::Bytes(bytes)) if bytes.len() <= redis_lite_engine::value::EMBSTR_MAX => {
            memory::allocation_size(REDIS_OBJECT + EMBSTR_SDS_HEADER + bytes.len() as u64 + 1)
        }
        (_, StringRef::Bytes(bytes)) => REDIS_OBJECT + sds_allocation(bytes.len()),
    };
    Some(sds_allocation(entry.key().len()) + REDIS_DICT_ENTRY + value)
}

/// The allocation of an sds with room for `capacity` bytes: the smallest header that holds
/// the length, the bytes and the terminating NUL, at jemalloc's size class.
fn sds_allocation(capacity: usize) -> u64 {
    memory::allocation_size(memory::sds_header(capacity) + capacity as u64 + 1)
}

/// What MEMORY STATS and INFO memory report.
pub struct Breakdown {
    pub used: u64,
    pub peak: u64,
    pub startup: u64,
    /// The tables' own bytes (buckets and per-key entries), per database with keys.
    pub tables: Vec<(usize, u64, u64)>,
    /// What clients hold (CLIENT LIST's `tot-mem`): normal and pub/sub clients, replicas.
    pub clients_normal: u64,
    pub clients_replicas: u64,
    /// AOF records not yet written.
    pub aof_buffer: u64,
    pub overhead: u64,
    pub keys: u64,
}

impl Breakdown {
    pub fn take(server: &crate::server::Server) -> Breakdown {
        let used = memory::used();
        let peak = server.memory.peak.fetch_max(used, Relaxed).max(used);
        let startup = server.memory.startup.load(Relaxed);
        let tables: Vec<(usize, u64, u64)> = server
            .keyspace
            .table_sizes()
            .into_iter()
            .enumerate()
            .filter(|(_, (keys, _))| *keys > 0)
            .map(|(db, (keys, bucket_bytes))| (db, keys, bucket_bytes + keys * ENTRY_OVERHEAD))
            .collect();
        let (clients_normal, clients_replicas) = memory::clients::usage(server);
        let aof_buffer = server.journal.buffered_bytes();
        let overhead = startup
            + clients_normal
            + clients_replicas
            + aof_buffer
            + tables.iter().map(|t| t.2).sum::<u64>();
        let keys = tables.iter().map(|t| t.1).sum();
        Breakdown {
            used,
            peak,
            startup,
            tables,
            clients_normal,
            clients_replicas,
            aof_buffer,
            overhead,
            keys,
        }
    }

    pub fn dataset(&self) -> u64 {
        self.used.saturating_sub(self.overhead)
    }

    /// The dataset's share of what is used beyond start-up, in percent.
    pub fn dataset_percentage(&self) -> f64 {
        let net = self.used.saturating_sub(self.startup);
        if net == 0 {
            0.0
        } else {
            self.dataset() as f64 * 100.0 / net as f64
        }
    }
}

/// MEMORY STATS
fn memory_stats(ctx: &mut Ctx<'_>) -> CmdResult {
    let b = Breakdown::take(ctx.server);
    let rss = memory::rss();
    let allocated = memory::allocator_allocated();
    let resident = memory::resident();
    ctx.out.map(19 + b.tables.len());
    let out = &mut ctx.out;
    let mut integer = |name: &str, n: u64| {
        out.bulk(name.as_bytes());
        out.integer(n as i64);
    };
    integer("peak.allocated", b.peak);
    integer("total.allocated", b.used);
    integer("startup.allocated", b.startup);
    integer("clients.slaves", b.clients_replicas);
    integer("clients.normal", b.clients_normal);
    integer("aof.buffer", b.aof_buffer);
    integer("overhead.total", b.overhead);
    integer("keys.count", b.keys);
    integer(
        "keys.bytes-per-key",
        b.used.saturating_sub(b.startup) / b.keys.max(1),
    );
    integer("dataset.bytes", b.dataset());
    integer("allocator.allocated", allocated);
    integer("allocator.resident", resident);
    integer("fragmentation.bytes", rss.saturating_sub(b.used));
    for (db, keys, table_bytes) in &b.tables {
        out.bulk(format!("db.{db}").as_bytes());
        out.map(2);
        out.bulk(b"keys");
        out.integer(*keys as i64);
        out.bulk(b"overhead.hashtable.main");
        out.integer(*table_bytes as i64);
    }
    let mut double = |name: &str, x: f64| {
        out.bulk(name.as_bytes());
        out.double(x);
    };
    double("dataset.percentage", b.dataset_percentage());
    double(
        "peak.percentage",
        b.used as f64 * 100.0 / b.peak.max(1) as f64,
    );
    double("fragmentation", rss as f64 / b.used.max(1) as f64);
    double(
        "allocator.rss-ratio",
        resident as f64 / allocated.max(1) as f64,
    );
    double("rss-overhead.ratio", rss as f64 / resident.max(1) as f64);
    double(
        "maxmemory.percentage",
        match ctx.server.config.read().maxmemory {
            0 => 0.0,
            max => b.used as f64 * 100.0 / max as f64,
        },
    );
    Ok(())
}

/// MEMORY DOCTOR: Redis's checks, on the figures redis-lite has.
fn memory_doctor(ctx: &mut Ctx<'_>) -> CmdResult {
    let b = Breakdown::take(ctx.server);
    let rss = memory::rss();
    let text = if b.used < 5 << 20 {
        "Hi Sam, this instance is empty or is using very little memory, my issues detector can't be used in \
         these conditions. Please, leave for your mission on Earth and fill it with some data. The new Sam and \
         I will be back to our programming as soon as I finished rebooting."
            .to_string()
    } else {
        let mut issues = Vec::new();
        if b.peak as f64 / b.used as f64 > 1.5 {
            issues.push(
                " * Peak memory: In the past this instance used more than 150% the memory that is currently \
                 using. The allocator is normally not able to release memory after a peak, so you can expect to \
                 see a big fragmentation ratio, however this is actually harmless and is only due to the memory \
                 peak, and if the Redis instance Resident Set Size (RSS) is currently bigger than expected, the \
                 memory will be used as soon as you fill the Redis instance with more data. If the memory peak \
                 was only occasional and you want to try to reclaim memory, please try the MEMORY PURGE \
                 command, otherwise the only other option is to shutdown and restart the instance.",
            );
        }
        if rss as f64 / b.used as f64 > 1.4 && rss > b.used + (10 << 20) {
            issues.push(
                " * High total RSS: This instance has a memory fragmentation and RSS overhead greater than 1.4 \
                 (this means that the Resident Set Size of the Redis process is much larger than the sum of the \
                 logical allocations Redis performed). This problem is usually due either to a large peak \
                 memory (check if there is a peak memory entry above in the report) or may result from a \
                 workload that causes the allocator to fragment memory a lot. If the problem is a large peak \
                 memory, then there is no issue. Otherwise, make sure you are using the Jemalloc allocator and \
                 not the default libc malloc.",
            );
        }
        if issues.is_empty() {
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on \
             this base."
                .to_string()
        } else {
            format!(
                "Sam, I detected a few issues in this Redis instance memory implants:\n\n{}\n\nI'm here to keep \
                 you safe, Sam. I want to help you.\n",
                issues.join("\n\n")
            )
        }
    };
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// MEMORY PURGE: returns jemalloc's dirty pages to the system.
fn memory_purge(ctx: &mut Ctx<'_>) -> CmdResult {
    memory::purge();
    ctx.out.ok();
    Ok(())
}

/// MEMORY MALLOC-STATS: jemalloc's own report.
fn memory_malloc_stats(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out.verbatim(b"txt", memory::malloc_stats().as_bytes());
    Ok(())
}

/// MEMORY HELP
fn memory_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "MEMORY",
        &[
            "DOCTOR",
            "    Return memory problems reports.",
            "MALLOC-STATS",
            "    Return internal statistics report from the memory allocator.",
            "PURGE",
            "    Attempt to purge dirty pages for reclamation by the allocator.",
            "STATS",
            "    Return information about the memory usage of the server.",
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}
