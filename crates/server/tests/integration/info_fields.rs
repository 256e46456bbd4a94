//! INFO completeness: every field real Redis 7.0.15 prints, section by section and in its
//! order, is in redis-lite's INFO too (redis-lite's own fields may come between them).
use redis_lite_testkit as testkit;

use std::collections::{BTreeMap, BTreeSet};

use testkit::Server;

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

/// INFO everything after the workload: section -> fields with their values, in order.
fn info_after_workload(server: &Server) -> BTreeMap<String, Vec<(String, String)>> {
    let mut raw = server.raw();
    for command in WORKLOAD {
        raw.cmd(command);
    }
    let mut sections = BTreeMap::new();
    let mut section = String::new();
    for line in raw.cmd_text(&["INFO", "everything"]).lines() {
        if let Some(name) = line.strip_prefix("# ") {
            section = name.to_ascii_lowercase();
            sections.insert(section.clone(), Vec::new());
        } else if let Some((field, value)) = line.split_once(':') {
            if let Some(fields) = sections.get_mut(&section) {
                fields.push((field.to_string(), value.to_string()));
            }
        }
    }
    sections
}

/// A field's value in a section of [`info_after_workload`]'s result.
fn value_of<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(field, _)| field == name)
        .map(|(_, value)| value.as_str())
        .unwrap_or_else(|| panic!("no {name} in {fields:?}"))
}

/// The names in a value of `name=value,...` parts (`calls,usec,...`), if it is one.
fn sub_field_names(value: &str) -> Option<Vec<&str>> {
    value
        .split(',')
        .map(|part| part.split_once('=').map(|(name, _)| name))
        .collect()
}

#[test]
fn info_prints_every_field_redis_prints_in_its_order() {
    let Some(redis) = Server::redis(&[]) else {
        println!("SKIPPED: redis-server is not on PATH (in info_prints_every_field_redis_prints_in_its_order)");
        return;
    };
    let lite = Server::lite(&[]);
    let expected = info_after_workload(&redis);
    let actual = info_after_workload(&lite);
    assert_eq!(
        expected.keys().collect::<Vec<_>>(),
        actual.keys().collect::<Vec<_>>(),
        "sections"
    );
    let mut differences = Vec::new();
    for (section, fields) in &expected {
        let data_named = DATA_NAMED_SECTIONS.contains(&section.as_str());
        let compared = |fields: &[(String, String)]| -> Vec<(String, String)> {
            fields
                .iter()
                .filter(|(field, _)| !data_named || WORKLOAD_FIELDS.contains(&field.as_str()))
                .cloned()
                .collect()
        };
        let redis_fields = compared(fields);
        let redis_names: BTreeSet<&str> = redis_fields.iter().map(|(f, _)| f.as_str()).collect();
        // redis-lite's own fields (threads, maxkeys, encryption...) are left out of the order.
        let lite_fields: Vec<(String, String)> = compared(&actual[section])
            .into_iter()
            .filter(|(field, _)| redis_names.contains(field.as_str()))
            .collect();
        // Commands come in the order of Redis's command table, a hash table: not compared.
        let names = |fields: &[(String, String)]| -> Vec<String> {
            let mut names: Vec<String> = fields.iter().map(|(f, _)| f.clone()).collect();
            if data_named {
                names.sort();
            }
            names
        };
        if names(&lite_fields) != names(&redis_fields) {
            differences.push(format!(
                "{section}:\n    redis: {:?}\n    lite:  {:?}",
                names(&redis_fields),
                names(&lite_fields)
            ));
            continue;
        }
        // `cmdstat_set:calls=..,usec=..`: the same parts, in the same order.
        for (field, value) in &redis_fields {
            let lite_value = value_of(&lite_fields, field);
            if let Some(parts) = sub_field_names(value).filter(|_| value.contains('=')) {
                let lite_parts = sub_field_names(lite_value);
                if lite_parts.as_ref() != Some(&parts) {
                    differences.push(format!(
                        "{section}: {field} has parts {lite_parts:?}, Redis {parts:?}"
                    ));
                }
            }
        }
    }
    assert!(
        differences.is_empty(),
        "INFO differs from Redis 7.0.15's fields:\n{}",
        differences.join("\n")
    );
}

#[test]
fn added_fields_have_live_values() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let info = info_after_workload(&server);
    let memory = &info["memory"];
    let number = |field: &str| -> f64 { value_of(memory, field).parse().unwrap() };
    assert!(number("allocator_active") >= number("allocator_allocated"));
    let ratio = number("allocator_active") / number("allocator_allocated");
    assert!(
        (number("allocator_frag_ratio") - ratio).abs() < 0.02,
        "{memory:?}"
    );
    assert_eq!(
        value_of(memory, "mem_total_replication_buffers"),
        "0",
        "no backlog yet"
    );
    let server_section = &info["server"];
    assert_eq!(
        value_of(server_section, "monotonic_clock"),
        "POSIX clock_gettime"
    );
    // uname's system, release and machine, as Redis prints them.
    let os = value_of(server_section, "os");
    assert!(
        os.starts_with("Linux ") && os.split(' ').count() == 3,
        "{os}"
    );
    let build_id = value_of(server_section, "redis_build_id");
    assert!(
        !build_id.is_empty() && build_id.bytes().all(|b| b.is_ascii_hexdigit()),
        "{build_id}"
    );
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
    // The event loops' CPU time, as Redis's main thread's (read in clock ticks: work until one
    // shows).
    let cpu = |raw: &mut testkit::Raw, field: &str| -> f64 {
        testkit::info_field(raw, "cpu", field).parse().unwrap()
    };
    testkit::wait_until(
        "the event loop's CPU time shows",
        std::time::Duration::from_secs(20),
        || {
            for _ in 0..500 {
                raw.cmd(&["PING"]);
            }
            cpu(&mut raw, "used_cpu_user_main_thread") + cpu(&mut raw, "used_cpu_sys_main_thread")
                > 0.0
        },
    );
    let process = cpu(&mut raw, "used_cpu_user") + cpu(&mut raw, "used_cpu_sys");
    let loops =
        cpu(&mut raw, "used_cpu_user_main_thread") + cpu(&mut raw, "used_cpu_sys_main_thread");
    assert!(loops <= process + 0.02, "{loops} {process}");
}

/// Clients blocked with a timeout are counted; those blocked for ever are not, as in Redis.
#[test]
fn clients_in_timeout_table_counts_blocked_clients_with_a_timeout() {
    let server = Server::lite(&[]);
    let mut observer = server.raw();
    let counted =
        |raw: &mut testkit::Raw| testkit::info_field(raw, "clients", "clients_in_timeout_table");
    assert_eq!(counted(&mut observer), "0");
    let mut forever = server.raw();
    forever.send(&testkit::encode(&[b"BLPOP", b"list", b"0"]));
    let mut timed = server.raw();
    timed.send(&testkit::encode(&[b"BLPOP", b"list", b"100"]));
    testkit::wait_until("both block", std::time::Duration::from_secs(10), || {
        testkit::info_field(&mut observer, "clients", "blocked_clients") == "2"
    });
    assert_eq!(counted(&mut observer), "1");
    observer.cmd(&["RPUSH", "list", "a", "b"]);
    testkit::wait_until(
        "both are served",
        std::time::Duration::from_secs(10),
        || testkit::info_field(&mut observer, "clients", "blocked_clients") == "0",
    );
    assert_eq!(counted(&mut observer), "0");
}

/// A replica's stream is counted apart from clients' traffic on both ends.
#[test]
fn replication_traffic_is_counted_apart() {
    let master = Server::lite(&[]);
    let replica = Server::lite(&["--replicaof", "127.0.0.1", &master.port.to_string()]);
    let mut raw = master.raw();
    let repl = |server: &Server, field: &str| -> u64 {
        testkit::info_field(&mut server.raw(), "stats", field)
            .parse()
            .unwrap()
    };
    testkit::wait_until(
        "the replica syncs",
        std::time::Duration::from_secs(20),
        || testkit::info_field(&mut replica.raw(), "replication", "master_link_status") == "up",
    );
    let before = repl(&master, "total_net_repl_output_bytes");
    raw.cmd(&["SET", "key", &"v".repeat(10_000)]);
    testkit::wait_until(
        "the write is streamed",
        std::time::Duration::from_secs(20),
        || {
            repl(&master, "total_net_repl_output_bytes") >= before + 10_000
                && repl(&replica, "total_net_repl_input_bytes") >= 10_000
        },
    );
    raw.cmd(&["CONFIG", "RESETSTAT"]);
    assert!(repl(&master, "total_net_repl_output_bytes") < 10_000);
}

/// RESTORE counts a deep check of a compact payload only when `sanitize-dump-payload` asks for
/// one, and an error for the AOF loader counts as unexpected, as in Redis.
#[test]
fn sanitizations_and_unexpected_errors_are_counted_as_in_redis() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    let stat = |raw: &mut testkit::Raw, field: &str| testkit::info_field(raw, "stats", field);
    raw.cmd(&["RPUSH", "list", "a", "b"]);
    raw.cmd(&["SET", "string", "v"]);
    let list = raw.cmd(&["DUMP", "list"]);
    let string = raw.cmd(&["DUMP", "string"]);
    // `$<length>\r\n<payload>\r\n`
    let payload = |reply: &[u8]| {
        let header = reply.iter().position(|&b| b == b'\r').unwrap();
        let length: usize = std::str::from_utf8(&reply[1..header])
            .unwrap()
            .parse()
            .unwrap();
        reply[header + 2..header + 2 + length].to_vec()
    };
    let (list, string) = (payload(&list), payload(&string));
    let restore = |raw: &mut testkit::Raw, key: &[u8], payload: &[u8]| {
        raw.send(&testkit::encode(&[b"RESTORE", key, b"0", payload]));
        raw.read_reply()
    };
    assert_eq!(restore(&mut raw, b"l1", &list), b"+OK\r\n");
    assert_eq!(
        stat(&mut raw, "dump_payload_sanitizations"),
        "0",
        "not asked for"
    );
    raw.cmd(&["CONFIG", "SET", "sanitize-dump-payload", "yes"]);
    assert_eq!(restore(&mut raw, b"l2", &list), b"+OK\r\n");
    assert_eq!(restore(&mut raw, b"s2", &string), b"+OK\r\n");
    assert_eq!(
        stat(&mut raw, "dump_payload_sanitizations"),
        "1",
        "the list only"
    );
    assert_eq!(stat(&mut raw, "unexpected_error_replies"), "0");
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

/// A command of the AOF that fails when loaded (INCR of a string) is an error reply Redis
/// counts, as unexpected and in errorstats; the other commands load.
#[test]
fn an_aof_command_failing_at_load_counts_as_an_unexpected_error() {
    let mut counts = Vec::new();
    for program in [testkit::Program::Redis, testkit::Program::Lite] {
        if !program.available() {
            println!("SKIPPED: redis-server is not on PATH (in an_aof_command_failing_at_load_counts_as_an_unexpected_error)");
            return;
        }
        let dir = testkit::DataDir::new("aof-load-error");
        let aof_dir = std::path::Path::new(dir.path()).join("appendonlydir");
        std::fs::create_dir_all(&aof_dir).unwrap();
        let commands = [
            testkit::encode(&[b"SET", b"k", b"v"]),
            testkit::encode(&[b"INCR", b"k"]),
            testkit::encode(&[b"SET", b"after", b"1"]),
        ]
        .concat();
        std::fs::write(aof_dir.join("app.aof.1.incr.aof"), commands).unwrap();
        std::fs::write(
            aof_dir.join("app.aof.manifest"),
            "file app.aof.1.incr.aof seq 1 type i\n",
        )
        .unwrap();
        let server = testkit::Launch::of(program)
            .dir(std::path::Path::new(dir.path()))
            .args(&["--appendonly", "yes", "--appendfilename", "app.aof"])
            .start();
        let mut raw = server.raw();
        let stats = raw.cmd_text(&["INFO", "stats"]);
        let field = |name: &str| {
            stats
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:")))
                .unwrap_or_default()
                .to_string()
        };
        // (total_error_replies also counts the -LOADING replies the harness may have met
        // while waiting for the load: left out.)
        counts.push((
            field("unexpected_error_replies"),
            testkit::info_field(&mut raw, "errorstats", "errorstat_ERR"),
            raw.cmd_text(&["MGET", "k", "after"]),
        ));
    }
    assert_eq!(counts[1], counts[0], "redis-lite, then Redis");
    assert_eq!(counts[0].0, "1");
}

/// CONFIG RESETSTAT zeroes `expired_keys`, `evicted_keys`, `evicted_clients` and `sync_full`,
/// as Redis does (redis-lite kept them; maxmemory.tcl's client-eviction tests, which reset the
/// stats between cases, then saw the earlier cases' evictions).
#[test]
fn config_resetstat_zeroes_expiry_and_eviction_counts() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let mut raw = server.raw();
        raw.ok(&[b"SET", b"short", b"v", b"PX", b"1"]);
        testkit::wait_until(
            "the key expires",
            std::time::Duration::from_secs(10),
            || raw.cmd_text(&["EXISTS", "short"]) == ":0\r\n",
        );
        raw.ok(&[b"SET", b"k", b"v"]);
        raw.ok(&[b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-random"]);
        raw.ok(&[b"CONFIG", b"SET", b"maxmemory", b"1"]);
        raw.cmd(&["GET", "k"]);
        raw.ok(&[b"CONFIG", b"SET", b"maxmemory", b"0"]);
        raw.ok(&[b"CONFIG", b"SET", b"maxmemory-clients", b"1"]);
        let mut hog = server.raw();
        hog.send(b"*2\r\n$4\r\nECHO\r\n$200000\r\n");
        hog.send(&[b'x'; 199_999]);
        assert!(hog.is_closed(), "{which}: the hog is evicted");
        raw.ok(&[b"CONFIG", b"SET", b"maxmemory-clients", b"0"]);
        // A full sync, as a replica or `redis-cli --rdb` asks for it.
        let mut sync = server.raw();
        sync.send(b"SYNC\r\n");
        testkit::wait_until(
            "the sync is counted",
            std::time::Duration::from_secs(10),
            || testkit::info_field(&mut raw, "stats", "sync_full") == "1",
        );
        drop(sync);
        for field in ["expired_keys", "evicted_keys", "evicted_clients"] {
            assert_ne!(
                testkit::info_field(&mut raw, "stats", field),
                "0",
                "{which}: {field}"
            );
        }
        raw.ok(&[b"CONFIG", b"RESETSTAT"]);
        for field in [
            "expired_keys",
            "evicted_keys",
            "evicted_clients",
            "sync_full",
        ] {
            assert_eq!(
                testkit::info_field(&mut raw, "stats", field),
                "0",
                "{which}: {field}"
            );
        }
    }
}
