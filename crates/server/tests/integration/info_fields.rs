//! INFO completeness: every field real Redis 7.0.15 prints, section by section, is in
//! redis-lite's INFO too, or is listed in `NOT_PRINTED` with the reason it is not.
use redis_lite_testkit as testkit;

use std::collections::{BTreeMap, BTreeSet};

use testkit::Server;

/// (section, field, why redis-lite does not print it). A field of `*` excuses the whole
/// section.
const NOT_PRINTED: &[(&str, &str, &str)] = &[
    (
        "server",
        "redis_build_id",
        "no build fingerprint: cargo builds redis-lite without Redis's release.h (redis_git_sha1 reads 00000000 for the same reason)",
    ),
    (
        "clients",
        "clients_in_timeout_table",
        "a blocked client's deadline is a timer on its own connection, not an entry in a shared table; the blocking registry does not know deadlines to count them",
    ),
    (
        "memory",
        "mem_cluster_links",
        "cluster bus links are not counted in the memory accounting",
    ),
    (
        "memory",
        "active_defrag_running",
        "no active defragmentation (activedefrag is accepted and does nothing)",
    ),
    (
        "stats",
        "total_net_repl_input_bytes",
        "replication links' bytes are not counted apart from clients' yet",
    ),
    (
        "stats",
        "total_net_repl_output_bytes",
        "replication links' bytes are not counted apart from clients' yet",
    ),
    (
        "stats",
        "instantaneous_input_repl_kbps",
        "replication links' bytes are not counted apart from clients' yet",
    ),
    (
        "stats",
        "instantaneous_output_repl_kbps",
        "replication links' bytes are not counted apart from clients' yet",
    ),
    (
        "stats",
        "latest_fork_usec",
        "no fork: snapshots and AOF rewrites are copy-on-write inside the process",
    ),
    (
        "stats",
        "total_forks",
        "no fork: snapshots and AOF rewrites are copy-on-write inside the process",
    ),
    (
        "stats",
        "slave_expires_tracked_keys",
        "a writable replica does not track the TTLs of keys written on it apart",
    ),
    ("stats", "active_defrag_hits", "no active defragmentation"),
    ("stats", "active_defrag_misses", "no active defragmentation"),
    ("stats", "active_defrag_key_hits", "no active defragmentation"),
    ("stats", "active_defrag_key_misses", "no active defragmentation"),
    ("stats", "total_active_defrag_time", "no active defragmentation"),
    ("stats", "current_active_defrag_time", "no active defragmentation"),
    (
        "stats",
        "dump_payload_sanitizations",
        "RESTORE's deep payload checks (sanitize-dump-payload) are not counted",
    ),
    (
        "stats",
        "io_threaded_reads_processed",
        "no I/O threads apart from the event loops, which read their own connections (io_threads_active is 0)",
    ),
    (
        "stats",
        "io_threaded_writes_processed",
        "no I/O threads apart from the event loops, which write their own connections (io_threads_active is 0)",
    ),
    (
        "stats",
        "reply_buffer_shrinks",
        "output buffers come from each event loop's pool, not resized per client as Redis's reply buffers are",
    ),
    (
        "stats",
        "reply_buffer_expands",
        "output buffers come from each event loop's pool, not resized per client as Redis's reply buffers are",
    ),
    (
        "cpu",
        "used_cpu_sys_main_thread",
        "commands run on every event loop, not one main thread; each thread's CPU time is on /metrics (redis_lite_thread_cpu_seconds_total)",
    ),
    (
        "cpu",
        "used_cpu_user_main_thread",
        "commands run on every event loop, not one main thread; each thread's CPU time is on /metrics (redis_lite_thread_cpu_seconds_total)",
    ),
];

/// The same commands on both servers, so the per-command, per-error and per-database fields
/// they print name the same things.
const WORKLOAD: &[&[&str]] = &[
    &["SET", "a", "1"],
    &["GET", "a"],
    &["GET", "missing"],
    &["HGET", "a", "field"],
    &["EXPIRE", "a", "1000"],
];

/// The fields the workload makes in the sections whose field names are data (commands, error
/// codes, databases): only these are compared there, since anything else in them depends on
/// what the harness sent while starting each server.
const WORKLOAD_FIELDS: &[&str] = &[
    "cmdstat_set",
    "cmdstat_get",
    "cmdstat_hget",
    "cmdstat_expire",
    "errorstat_WRONGTYPE",
    "latency_percentiles_usec_set",
    "db0",
];
const DATA_NAMED_SECTIONS: &[&str] = &["commandstats", "errorstats", "latencystats", "keyspace"];

/// INFO everything after the workload: section -> field -> value.
fn info_after_workload(server: &Server) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut raw = server.raw();
    for command in WORKLOAD {
        raw.cmd(command);
    }
    let mut sections = BTreeMap::new();
    let mut section = String::new();
    for line in raw.cmd_text(&["INFO", "everything"]).lines() {
        if let Some(name) = line.strip_prefix("# ") {
            section = name.to_ascii_lowercase();
            sections.insert(section.clone(), BTreeMap::new());
        } else if let Some((field, value)) = line.split_once(':') {
            if let Some(fields) = sections.get_mut(&section) {
                fields.insert(field.to_string(), value.to_string());
            }
        }
    }
    sections
}

/// The names in a value of `name=value,...` parts (`calls,usec,...`), if it is one.
fn sub_field_names(value: &str) -> Option<Vec<&str>> {
    value
        .split(',')
        .map(|part| part.split_once('=').map(|(name, _)| name))
        .collect()
}

fn excuse(section: &str, field: &str) -> Option<&'static str> {
    NOT_PRINTED
        .iter()
        .find(|(s, f, _)| *s == section && (*f == field || *f == "*"))
        .map(|(_, _, why)| *why)
}

#[test]
fn info_prints_every_field_redis_prints() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    let expected = info_after_workload(&redis);
    let actual = info_after_workload(&lite);
    let empty = BTreeMap::new();
    let mut missing = Vec::new();
    for (section, fields) in &expected {
        let printed = actual.get(section).unwrap_or(&empty);
        let data_named = DATA_NAMED_SECTIONS.contains(&section.as_str());
        for (field, value) in fields {
            if data_named && !WORKLOAD_FIELDS.contains(&field.as_str()) {
                continue;
            }
            if excuse(section, field).is_some() {
                continue;
            }
            let Some(lite_value) = printed.get(field) else {
                missing.push(format!("{section}: {field}"));
                continue;
            };
            // `cmdstat_set:calls=..,usec=..`: the same parts, in the same order.
            if let Some(names) = sub_field_names(value).filter(|_| value.contains('=')) {
                let lite_names = sub_field_names(lite_value);
                if lite_names.as_ref() != Some(&names) {
                    missing.push(format!(
                        "{section}: {field} has parts {lite_names:?}, Redis {names:?}"
                    ));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "INFO fields Redis 7.0.15 prints and redis-lite does not (print them, or list them in NOT_PRINTED with the reason):\n{}",
        missing.join("\n")
    );

    // The list stays honest: every entry names a section Redis prints and something redis-lite
    // still lacks.
    let redis_fields: BTreeSet<(&str, &str)> = expected
        .iter()
        .flat_map(|(s, fields)| fields.keys().map(move |f| (s.as_str(), f.as_str())))
        .collect();
    for (section, field, _) in NOT_PRINTED {
        assert!(
            expected.contains_key(*section),
            "Redis has no {section} section"
        );
        if *field == "*" {
            assert!(
                !actual.contains_key(*section),
                "redis-lite prints {section} now: drop its NOT_PRINTED entry"
            );
            continue;
        }
        assert!(
            redis_fields.contains(&(*section, *field)),
            "Redis does not print {section}: {field}"
        );
        assert!(
            !actual.get(*section).is_some_and(|f| f.contains_key(*field)),
            "redis-lite prints {section}: {field} now: drop its NOT_PRINTED entry"
        );
    }
}

#[test]
fn added_fields_have_live_values() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let info = info_after_workload(&server);
    let memory = &info["memory"];
    let number = |field: &str| -> f64 { memory[field].parse().unwrap() };
    assert!(number("allocator_active") >= number("allocator_allocated"));
    let ratio = number("allocator_active") / number("allocator_allocated");
    assert!(
        (number("allocator_frag_ratio") - ratio).abs() < 0.02,
        "{memory:?}"
    );
    assert_eq!(
        memory["mem_total_replication_buffers"], "0",
        "no backlog yet"
    );
    assert_eq!(info["server"]["monotonic_clock"], "POSIX clock_gettime");
    // The rates follow traffic: a burst of pings shows in the next samples.
    testkit::wait_until(
        "instantaneous_input_kbps rises",
        std::time::Duration::from_secs(10),
        || {
            for _ in 0..200 {
                raw.cmd(&["PING"]);
            }
            let kbps = testkit::info_field(&mut raw, "stats", "instantaneous_input_kbps");
            kbps.parse::<f64>().unwrap() > 0.0
        },
    );
}

#[test]
fn eviction_exceeded_time_runs_while_over_maxmemory() {
    let server = Server::lite(&["--maxmemory-policy", "noeviction"]);
    let mut raw = server.raw();
    let value = "x".repeat(1 << 20);
    for key in ["a", "b", "c"] {
        raw.cmd(&["SET", key, &value]);
    }
    let stretch = |raw: &mut testkit::Raw, field: &str| -> u64 {
        testkit::info_field(raw, "stats", field).parse().unwrap()
    };
    assert_eq!(stretch(&mut raw, "current_eviction_exceeded_time"), 0);
    // Over the limit with nothing the policy may evict: the stretch runs.
    raw.cmd(&["CONFIG", "SET", "maxmemory", "1mb"]);
    testkit::wait_until(
        "current_eviction_exceeded_time counts",
        std::time::Duration::from_secs(10),
        || stretch(&mut raw, "current_eviction_exceeded_time") > 0,
    );
    assert_eq!(stretch(&mut raw, "total_eviction_exceeded_time"), 0);
    // Under it again (no limit): the stretch ends and joins the total.
    raw.cmd(&["CONFIG", "SET", "maxmemory", "0"]);
    testkit::wait_until(
        "the stretch ends",
        std::time::Duration::from_secs(10),
        || stretch(&mut raw, "current_eviction_exceeded_time") == 0,
    );
    assert!(stretch(&mut raw, "total_eviction_exceeded_time") > 0);
    raw.cmd(&["CONFIG", "RESETSTAT"]);
    assert_eq!(stretch(&mut raw, "total_eviction_exceeded_time"), 0);
}

#[test]
fn expired_stale_perc_follows_active_expiry() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let stale = |raw: &mut testkit::Raw| -> f64 {
        testkit::info_field(raw, "stats", "expired_stale_perc")
            .parse()
            .unwrap()
    };
    assert_eq!(stale(&mut raw), 0.0);
    for i in 0..2000 {
        raw.cmd(&["SET", &format!("k{i}"), "v", "PX", "50"]);
    }
    // Active expiry samples keys that are all past their TTL: the average rises.
    testkit::wait_until(
        "expired_stale_perc rises",
        std::time::Duration::from_secs(10),
        || stale(&mut raw) > 0.0,
    );
}
