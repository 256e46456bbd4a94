//! INFO: the server's state in Redis's sections and field names, so monitoring tools and client
//! ready-checks (`loading:0`) read it as they read Redis.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use crate::command::acl;
use crate::command::flags::*;
use crate::command::Group;
use crate::command::{table, CommandSpec};
use crate::context::Ctx;
use crate::error::CmdResult;
use crate::pubsub::Space;
use crate::server::{Server, LITE_VERSION, REDIS_VERSION};
use crate::stats::sum;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("info", -1, LOADING | STALE, info)
    .tips(&[
        "nondeterministic_output",
        "request_policy:all_shards",
        "response_policy:special",
    ])
    .doc(
        Group::Server,
        "1.0.0",
        "Get information and statistics about the server",
    )
    .syntax("[section...]")
    .acl(acl::DANGEROUS)
    .history(&[(
        "7.0.0",
        "Added support for taking multiple section arguments.",
    )])];

/// Sections in output order, and whether INFO without arguments ("default") includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// INFO [section ...]
fn info(ctx: &mut Ctx<'_>) -> CmdResult {
    let requested: Vec<String> = ctx.args[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let wanted = |name: &str, default: bool| {
        if requested.is_empty() {
            return default;
        }
        requested
            .iter()
            .any(|r| r == name || r == "all" || r == "everything" || (r == "default" && default))
    };
    let text = render(ctx.server, wanted);
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// INFO's text for the sections `wanted(name, in_default)` picks, in output order.
fn render(server: &Server, wanted: impl Fn(&str, bool) -> bool) -> String {
    let mut text = String::new();
    for (name, default) in SECTIONS {
        if !wanted(name, *default) {
            continue;
        }
        if !text.is_empty() {
            text.push_str("\r\n");
        }
        write_section(server, name, &mut text);
    }
    text
}

/// `INFO everything`'s text, for readers outside the command pipeline (the metrics endpoint).
pub(crate) fn everything(server: &Server) -> String {
    render(server, |_, _| true)
}

/// `1.11M`-style sizes, as Redis's `bytesToHuman`.
pub(crate) fn human(bytes: u64) -> String {
    let b = bytes as f64;
    const K: f64 = 1024.0;
    match bytes {
        n if n < 1024 => format!("{n}B"),
        n if n < 1 << 20 => format!("{:.2}K", b / K),
        n if n < 1 << 30 => format!("{:.2}M", b / (K * K)),
        n if n < 1 << 40 => format!("{:.2}G", b / (K * K * K)),
        n if n < 1 << 50 => format!("{:.2}T", b / (K * K * K * K)),
        _ => format!("{:.2}P", b / (K * K * K * K * K)),
    }
}

/// `uname`'s system, release and machine, as Redis prints `os`.
fn operating_system() -> String {
    // SAFETY: uname only writes the struct it is given, NUL-terminated fields.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    if unsafe { libc::uname(&mut name) } != 0 {
        return format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
    }
    let field = |f: &[libc::c_char]| {
        // SAFETY: the kernel NUL-terminates every field of utsname.
        unsafe { std::ffi::CStr::from_ptr(f.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    format!(
        "{} {} {}",
        field(&name.sysname),
        field(&name.release),
        field(&name.machine)
    )
}

/// INFO's `redis_build_id`: Redis hashes its build's description into 16 hex digits; the
/// same of redis-lite's version, the Redis version it implements and its build profile.
fn build_id() -> String {
    let description = format!(
        "{LITE_VERSION} {REDIS_VERSION} {}",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    format!(
        "{:x}",
        redis_lite_persist::crc64::crc64(description.as_bytes())
    )
}

fn rusage(who: i32) -> (f64, f64) {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(usage.ru_stime), secs(usage.ru_utime))
}

pub(crate) fn total_system_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// The replication stream's one buffer, shared by the backlog and the replicas' pending
/// output, split as Redis 7 splits it for INFO: up to `repl-backlog-size` is the backlog's,
/// anything above it (kept for a replica that lags) the replicas'.
struct ReplicationBuffers {
    total: u64,
    backlog: u64,
    replicas: u64,
}

impl ReplicationBuffers {
    fn take(server: &Server, backlog_size: u64) -> ReplicationBuffers {
        let (_, total) = server.replication.backlog.history();
        let replicas = match server.replication.master.connected() > 0 {
            true => total.saturating_sub(backlog_size),
            false => 0,
        };
        ReplicationBuffers {
            total,
            backlog: total - replicas,
            replicas,
        }
    }
}

fn write_section(server: &Server, name: &str, out: &mut String) {
    macro_rules! field {
        ($($arg:tt)*) => {{
            let _ = write!(out, $($arg)*);
            out.push_str("\r\n");
        }};
    }
    let config = server.config.read().clone();
    match name {
        "server" => {
            let uptime = server.stats.started.elapsed().as_secs();
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            field!("# Server");
            field!("redis_version:{REDIS_VERSION}");
            field!("redis_lite_version:{LITE_VERSION}");
            field!("redis_git_sha1:00000000");
            field!("redis_git_dirty:0");
            field!("redis_build_id:{}", build_id());
            field!(
                "redis_mode:{}",
                if server.cluster.enabled() {
                    "cluster"
                } else {
                    "standalone"
                }
            );
            field!("os:{}", operating_system());
            field!("arch_bits:{}", usize::BITS);
            // `Instant` reads CLOCK_MONOTONIC through clock_gettime.
            field!("monotonic_clock:POSIX clock_gettime");
            field!("multiplexing_api:epoll");
            // Rust's atomics are LLVM's, the same builtins C11's <stdatomic.h> compiles to.
            field!("atomicvar_api:c11-builtin");
            // Redis prints 0.0.0 when GCC did not compile it; rustc compiled this server.
            field!("gcc_version:0.0.0");
            field!("process_id:{}", std::process::id());
            field!("process_supervised:no");
            field!("run_id:{}", server.identity.run_id);
            field!("tcp_port:{}", server.identity.tcp_port.load(Relaxed));
            field!("server_time_usec:{}", now.as_micros());
            field!("uptime_in_seconds:{uptime}");
            field!("uptime_in_days:{}", uptime / 86400);
            field!("hz:{}", server.stats.hz.load(Relaxed));
            field!("configured_hz:{}", config.hz);
            field!("lru_clock:{}", (now.as_secs()) & 0xFF_FFFF);
            field!(
                "executable:{}",
                std::env::current_exe()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            field!(
                "config_file:{}",
                server
                    .config
                    .file
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            );
            field!("threads:{}", config.threads);
            field!("io_threads_active:0");
            if let Some(ms) = server.shutdown.remaining_ms() {
                field!("shutdown_in_milliseconds:{ms}");
            }
        }
        "clients" => {
            field!("# Clients");
            // As in Redis, replicas are not counted here (they are INFO replication's
            // connected_slaves).
            let replicas = server.replication.master.connected();
            field!(
                "connected_clients:{}",
                server.clients.count().saturating_sub(replicas)
            );
            field!("cluster_connections:{}", server.cluster.connections());
            field!("maxclients:{}", config.maxclients);
            let (input, output) = server.clients.peaks.recent();
            field!("client_recent_max_input_buffer:{input}");
            field!("client_recent_max_output_buffer:{output}");
            field!(
                "blocked_clients:{}",
                server.blocking.blocked_clients() + server.pause.held_clients()
            );
            field!("tracking_clients:{}", server.tracking.clients_on());
            field!(
                "clients_in_timeout_table:{}",
                server.blocking.clients_with_timeout()
            );
        }
        "memory" => {
            let b = crate::memory::memory_family::Breakdown::take(server);
            let (used, peak) = (b.used, b.peak);
            let rss = crate::memory::rss();
            let allocated = crate::memory::allocator_allocated();
            let active = crate::memory::allocator_active();
            let resident = crate::memory::resident();
            let system = total_system_memory();
            field!("# Memory");
            field!("used_memory:{used}");
            field!("used_memory_human:{}", human(used));
            field!("used_memory_rss:{rss}");
            field!("used_memory_rss_human:{}", human(rss));
            field!("used_memory_peak:{peak}");
            field!("used_memory_peak_human:{}", human(peak));
            field!(
                "used_memory_peak_perc:{:.2}%",
                used as f64 * 100.0 / peak.max(1) as f64
            );
            field!("used_memory_overhead:{}", b.overhead);
            field!("used_memory_startup:{}", b.startup);
            field!("used_memory_dataset:{}", b.dataset());
            field!("used_memory_dataset_perc:{:.2}%", b.dataset_percentage());
            field!("allocator_allocated:{allocated}");
            field!("allocator_active:{active}");
            field!("allocator_resident:{resident}");
            field!("total_system_memory:{system}");
            field!("total_system_memory_human:{}", human(system));
            crate::scripting::memory_fields(server, &mut |line| field!("{line}"));
            field!("maxmemory:{}", config.maxmemory);
            field!("maxmemory_human:{}", human(config.maxmemory));
            let policy = config.maxmemory_policy;
            let name = redis_lite_engine::Policy::NAMES
                .iter()
                .find(|(_, p)| *p == policy)
                .map_or("noeviction", |(n, _)| n);
            field!("maxmemory_policy:{name}");
            field!("maxkeys:{}", config.maxkeys);
            let ratio = |a: u64, b: u64| a as f64 / b.max(1) as f64;
            let excess = |a: u64, b: u64| a as i64 - b as i64;
            field!("allocator_frag_ratio:{:.2}", ratio(active, allocated));
            field!("allocator_frag_bytes:{}", excess(active, allocated));
            field!("allocator_rss_ratio:{:.2}", ratio(resident, active));
            field!("allocator_rss_bytes:{}", excess(resident, active));
            field!("rss_overhead_ratio:{:.2}", ratio(rss, resident));
            field!("rss_overhead_bytes:{}", excess(rss, resident));
            field!(
                "mem_fragmentation_ratio:{:.2}",
                rss as f64 / used.max(1) as f64
            );
            field!("mem_fragmentation_bytes:{}", rss as i64 - used as i64);
            field!(
                "mem_not_counted_for_evict:{}",
                crate::eviction::not_counted_for_evict(server)
            );
            let buffers = ReplicationBuffers::take(server, config.repl_backlog_size);
            field!("mem_replication_backlog:{}", buffers.backlog);
            field!("mem_total_replication_buffers:{}", buffers.total);
            // A replica's share of the replication buffer beyond the backlog, and its connection.
            field!(
                "mem_clients_slaves:{}",
                buffers.replicas + b.clients_replicas
            );
            field!("mem_clients_normal:{}", b.clients_normal);
            field!("mem_cluster_links:{}", server.cluster.links_memory());
            field!("mem_aof_buffer:{}", b.aof_buffer);
            field!("mem_allocator:jemalloc-5.3.0");
            // redis-lite has no active defragmentation.
            field!("active_defrag_running:0");
            field!(
                "lazyfree_pending_objects:{}",
                server.keyspace.lazyfree_pending_objects()
            );
            field!("lazyfreed_objects:{}", server.keyspace.lazyfreed_objects());
        }
        "persistence" => {
            field!("# Persistence");
            crate::persistence::info_fields(server, out);
            crate::persistence::aof::info_fields(server, out);
        }
        "stats" => {
            let w = &server.stats.workers;
            field!("# Stats");
            field!(
                "total_connections_received:{}",
                server.clients.connections_received.load(Relaxed)
            );
            field!("total_commands_processed:{}", sum(w, |s| &s.total_commands));
            field!(
                "instantaneous_ops_per_sec:{}",
                server.stats.instantaneous_ops.load(Relaxed)
            );
            field!("total_net_input_bytes:{}", sum(w, |s| &s.net_input_bytes));
            field!("total_net_output_bytes:{}", sum(w, |s| &s.net_output_bytes));
            let stats = &server.stats;
            field!(
                "total_net_repl_input_bytes:{}",
                stats.repl_input_bytes.load(Relaxed)
            );
            field!(
                "total_net_repl_output_bytes:{}",
                stats.repl_output_bytes.load(Relaxed)
            );
            let kbps = |rate: &std::sync::atomic::AtomicU64| f64::from_bits(rate.load(Relaxed));
            field!(
                "instantaneous_input_kbps:{:.2}",
                kbps(&stats.instantaneous_input_kbps)
            );
            field!(
                "instantaneous_output_kbps:{:.2}",
                kbps(&stats.instantaneous_output_kbps)
            );
            field!(
                "instantaneous_input_repl_kbps:{:.2}",
                kbps(&stats.instantaneous_input_repl_kbps)
            );
            field!(
                "instantaneous_output_repl_kbps:{:.2}",
                kbps(&stats.instantaneous_output_repl_kbps)
            );
            field!(
                "rejected_connections:{}",
                server.clients.rejected_connections.load(Relaxed)
            );
            let master = &server.replication.master;
            field!("sync_full:{}", master.sync_full.load(Relaxed));
            field!("sync_partial_ok:{}", master.sync_partial_ok.load(Relaxed));
            field!("sync_partial_err:{}", master.sync_partial_err.load(Relaxed));
            field!("expired_keys:{}", server.keyspace.expired_keys());
            let stale = f64::from_bits(server.active_expiry.stale_share.load(Relaxed));
            field!("expired_stale_perc:{:.2}", stale * 100.0);
            field!(
                "expired_time_cap_reached_count:{}",
                server.active_expiry.time_cap_reached.load(Relaxed)
            );
            field!(
                "expire_cycle_cpu_milliseconds:{}",
                server.active_expiry.cycle_usec.load(Relaxed) / 1000
            );
            field!("evicted_keys:{}", server.keyspace.evicted_keys());
            field!("evicted_clients:{}", server.clients.evicted.load(Relaxed));
            let (exceeded_total, exceeded_now) = server.limits.exceeded.millis();
            field!("total_eviction_exceeded_time:{exceeded_total}");
            field!("current_eviction_exceeded_time:{exceeded_now}");
            field!("keyspace_hits:{}", sum(w, |s| &s.keyspace_hits));
            field!("keyspace_misses:{}", sum(w, |s| &s.keyspace_misses));
            field!(
                "pubsub_channels:{}",
                server.pubsub.channel_count(Space::Classic)
            );
            field!("pubsub_patterns:{}", server.pubsub.pattern_count());
            field!(
                "pubsubshard_channels:{}",
                server.pubsub.channel_count(Space::Shard)
            );
            // Snapshots are copy-on-write inside the process (the engine's `snapshot.rs`): no
            // fork pauses the server, and each background job counts where Redis forks.
            field!("latest_fork_usec:0");
            field!(
                "total_forks:{}",
                server.persistence.background_jobs.load(Relaxed)
            );
            field!("migrate_cached_sockets:{}", server.migrate.connections());
            field!(
                "slave_expires_tracked_keys:{}",
                crate::replication::replica::own_volatile_keys(server)
            );
            // No active defragmentation (see `active_defrag_running`).
            for counter in [
                "active_defrag_hits",
                "active_defrag_misses",
                "active_defrag_key_hits",
                "active_defrag_key_misses",
                "total_active_defrag_time",
                "current_active_defrag_time",
            ] {
                field!("{counter}:0");
            }
            let (keys, items, prefixes) = server.tracking.totals();
            field!("tracking_total_keys:{keys}");
            field!("tracking_total_items:{items}");
            field!("tracking_total_prefixes:{prefixes}");
            field!(
                "unexpected_error_replies:{}",
                stats.unexpected_error_replies.load(Relaxed)
            );
            field!("total_error_replies:{}", sum(w, |s| &s.error_replies));
            field!(
                "dump_payload_sanitizations:{}",
                stats.dump_payload_sanitizations.load(Relaxed)
            );
            field!("total_reads_processed:{}", sum(w, |s| &s.reads_processed));
            field!("total_writes_processed:{}", sum(w, |s| &s.writes_processed));
            // Every event loop reads and writes its own connections: no I/O threads hand
            // work to a main thread, and replies are not held in buffers the cron resizes.
            for counter in [
                "io_threaded_reads_processed",
                "io_threaded_writes_processed",
                "reply_buffer_shrinks",
                "reply_buffer_expands",
            ] {
                field!("{counter}:0");
            }
        }
        "replication" => crate::replication::info_section(server, out),
        "cpu" => {
            let (sys, user) = rusage(libc::RUSAGE_SELF);
            let (csys, cuser) = rusage(libc::RUSAGE_CHILDREN);
            field!("# CPU");
            field!("used_cpu_sys:{sys:.6}");
            field!("used_cpu_user:{user:.6}");
            field!("used_cpu_sys_children:{csys:.6}");
            field!("used_cpu_user_children:{cuser:.6}");
            // Redis's main thread runs the commands; here the event loops do, all together.
            let (mut loops_user, mut loops_sys) = (0.0, 0.0);
            for (name, user, system) in crate::metrics::own::threads_cpu_seconds() {
                if name.starts_with(crate::server::EVENT_LOOP_THREAD) {
                    loops_user += user;
                    loops_sys += system;
                }
            }
            field!("used_cpu_sys_main_thread:{loops_sys:.6}");
            field!("used_cpu_user_main_thread:{loops_user:.6}");
        }
        "modules" => field!("# Modules"),
        "commandstats" => {
            field!("# Commandstats");
            for entry in &table().entries {
                let calls = sum(&server.stats.workers, |s| &s.commands[entry.id].calls);
                let rejected = sum(&server.stats.workers, |s| &s.commands[entry.id].rejected);
                let failed = sum(&server.stats.workers, |s| &s.commands[entry.id].failed);
                if calls == 0 && rejected == 0 {
                    continue;
                }
                let usec = sum(&server.stats.workers, |s| &s.commands[entry.id].usec);
                field!(
                    "cmdstat_{}:calls={calls},usec={usec},usec_per_call={:.2},rejected_calls={rejected},failed_calls={failed}",
                    entry.full_name,
                    if calls > 0 { usec as f64 / calls as f64 } else { 0.0 }
                );
            }
        }
        "errorstats" => {
            field!("# Errorstats");
            let mut totals = std::collections::BTreeMap::new();
            for worker in &server.stats.workers {
                for (code, n) in worker.errors.lock().iter() {
                    *totals.entry(code.clone()).or_insert(0u64) += n;
                }
            }
            for (code, n) in totals {
                field!("errorstat_{code}:count={n}");
            }
        }
        "latencystats" => crate::observability::write_info_section(server, out),
        "cluster" => {
            field!("# Cluster");
            field!("cluster_enabled:{}", u8::from(server.cluster.enabled()));
        }
        "keyspace" => {
            field!("# Keyspace");
            for (db, (keys, expires, avg_ttl)) in server.keyspace.db_stats().into_iter().enumerate()
            {
                if keys > 0 {
                    field!("db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}");
                }
            }
        }
        _ => unreachable!("only listed sections are written"),
    }
}

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_sizes_match_redis() {
        assert_eq!(human(1000), "1000B");
        assert_eq!(human(1165208), "1.11M");
        assert_eq!(human(7499776), "7.15M");
    }
}
