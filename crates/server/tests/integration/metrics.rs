//! Prometheus metrics on `metrics-port`: a scrape parsed with a Prometheus text parser, its
//! values checked against INFO; the HTTP responder's refusals and its deadline.
use redis_lite_testkit as testkit;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use prometheus_parse::{Sample, Value};
use testkit::{free_port, DataDir, Server};

/// One request on a fresh connection; the whole reply (the server closes after it).
fn http(port: u16, request: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    let mut reply = Vec::new();
    stream.read_to_end(&mut reply).unwrap();
    String::from_utf8(reply).unwrap()
}

struct Scrape(Vec<Sample>);

impl Scrape {
    fn take(port: u16) -> Scrape {
        let reply = http(port, "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n");
        let (head, body) = reply.split_once("\r\n\r\n").expect("a complete reply");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
        assert!(
            head.contains("Content-Type: text/plain; version=0.0.4"),
            "{head}"
        );
        let lines = body.lines().map(|l| Ok(l.to_string()));
        Scrape(prometheus_parse::Scrape::parse(lines).unwrap().samples)
    }

    /// The one sample of `metric` whose labels include `labels`.
    fn sample(&self, metric: &str, labels: &[(&str, &str)]) -> &Sample {
        let found: Vec<&Sample> = self
            .0
            .iter()
            .filter(|s| {
                s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v))
            })
            .collect();
        assert_eq!(found.len(), 1, "{metric}{labels:?}: {found:?}");
        found[0]
    }

    fn counter(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        match self.sample(metric, labels).value {
            Value::Counter(v) => v,
            ref other => panic!("{metric} is not a counter: {other:?}"),
        }
    }

    fn gauge(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        match self.sample(metric, labels).value {
            Value::Gauge(v) => v,
            ref other => panic!("{metric} is not a gauge: {other:?}"),
        }
    }

    /// A histogram's count (its `+Inf` bucket).
    fn histogram_count(&self, metric: &str) -> f64 {
        self.labelled_histogram_count(metric, &[])
    }

    fn labelled_histogram_count(&self, metric: &str, labels: &[(&str, &str)]) -> f64 {
        match &self.sample(metric, labels).value {
            Value::Histogram(buckets) => buckets.last().expect("an +Inf bucket").count,
            other => panic!("{metric} is not a histogram: {other:?}"),
        }
    }
}

/// INFO everything as `field -> value`.
fn info(raw: &mut testkit::Raw) -> HashMap<String, String> {
    raw.cmd_text(&["INFO", "everything"])
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// `name`'s number in INFO's `a=1,b=2` values.
fn sub_field(value: &str, name: &str) -> f64 {
    value
        .split(',')
        .find_map(|p| p.strip_prefix(name)?.strip_prefix('='))
        .unwrap_or_else(|| panic!("{name} in {value}"))
        .parse()
        .unwrap()
}

fn number(info: &HashMap<String, String>, field: &str) -> f64 {
    info[field].parse().unwrap()
}

#[test]
fn scrape_parses_and_agrees_with_info() {
    let port = free_port();
    let dir = DataDir::new("metrics");
    let server = Server::lite_in(
        &dir.0,
        &[
            "--metrics-port",
            &port.to_string(),
            "--maxmemory",
            "100mb",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
    );
    let mut raw = server.raw();
    raw.cmd(&["SET", "a", "1"]);
    raw.cmd(&["SET", "b", "2", "EX", "1000"]);
    raw.cmd(&["GET", "a"]);
    raw.cmd(&["GET", "missing"]);
    raw.cmd(&["HGET", "a", "field"]);
    raw.cmd(&["SELECT", "2"]);
    raw.cmd(&["SET", "c", "3"]);
    raw.cmd(&["SAVE"]);
    let info = info(&mut raw);
    let scrape = Scrape::take(port);

    assert_eq!(scrape.gauge("redis_up", &[]), 1.0);
    for (field, metric) in [
        ("keyspace_hits", "redis_keyspace_hits_total"),
        ("keyspace_misses", "redis_keyspace_misses_total"),
        ("expired_keys", "redis_expired_keys_total"),
        ("evicted_keys", "redis_evicted_keys_total"),
        (
            "total_connections_received",
            "redis_connections_received_total",
        ),
    ] {
        assert_eq!(
            scrape.counter(metric, &[]),
            number(&info, field),
            "{metric}"
        );
    }
    for (field, metric) in [
        ("connected_clients", "redis_connected_clients"),
        ("maxmemory", "redis_memory_max_bytes"),
        ("connected_slaves", "redis_connected_slaves"),
        ("aof_enabled", "redis_aof_enabled"),
        (
            "rdb_last_save_time",
            "redis_rdb_last_save_timestamp_seconds",
        ),
    ] {
        assert_eq!(scrape.gauge(metric, &[]), number(&info, field), "{metric}");
    }
    assert_eq!(
        scrape.gauge("redis_memory_max_bytes", &[]),
        100.0 * 1024.0 * 1024.0
    );
    assert!(scrape.gauge("redis_memory_used_bytes", &[]) > 0.0);
    for cmd in ["set", "get", "hget", "select", "save"] {
        let stat = &info[&format!("cmdstat_{cmd}")];
        let labels = [("cmd", cmd)];
        assert_eq!(
            scrape.counter("redis_commands_total", &labels),
            sub_field(stat, "calls"),
            "{cmd}"
        );
        let seconds = scrape.counter("redis_commands_duration_seconds_total", &labels);
        assert!(
            (seconds * 1e6 - sub_field(stat, "usec")).abs() < 0.5,
            "{cmd}: {seconds}"
        );
        assert_eq!(
            scrape.counter("redis_commands_failed_calls_total", &labels),
            sub_field(stat, "failed_calls")
        );
    }
    assert_eq!(
        scrape.counter("redis_commands_total", &[("cmd", "set")]),
        3.0
    );
    assert_eq!(
        scrape.counter("redis_errors_total", &[("err", "WRONGTYPE")]),
        1.0
    );
    assert_eq!(
        scrape.gauge("redis_db_keys", &[("db", "db0")]),
        sub_field(&info["db0"], "keys")
    );
    assert_eq!(scrape.gauge("redis_db_keys", &[("db", "db0")]), 2.0);
    assert_eq!(
        scrape.gauge("redis_db_keys_expiring", &[("db", "db0")]),
        1.0
    );
    assert_eq!(scrape.gauge("redis_db_keys", &[("db", "db2")]), 1.0);
    assert_eq!(
        scrape.gauge("redis_db_keys", &[("db", "db1")]),
        0.0,
        "empty databases read 0"
    );
    let instance = scrape.sample("redis_instance_info", &[("role", "master")]);
    assert_eq!(instance.labels.get("redis_version"), Some("7.0.15"));
    assert_eq!(instance.labels.get("run_id"), Some(info["run_id"].as_str()));

    // redis-lite's own: the event loops' commands add up to all of them (no command ran
    // between the two readings of one scrape), the AOF fsynced each write, SAVE held locks.
    let loops: f64 = scrape
        .0
        .iter()
        .filter(|s| s.metric == "redis_lite_thread_commands_total")
        .map(|s| match s.value {
            Value::Counter(v) => v,
            _ => panic!("a counter"),
        })
        .sum();
    assert_eq!(loops, scrape.counter("redis_commands_processed_total", &[]));
    assert!(
        scrape.counter(
            "redis_lite_thread_cpu_seconds_total",
            &[("thread", "loop-0")]
        ) >= 0.0
    );
    assert!(scrape.histogram_count("redis_lite_aof_fsync_seconds") >= 3.0);
    assert!(scrape.histogram_count("redis_lite_snapshot_lock_hold_seconds") >= 1.0);
    assert_eq!(scrape.gauge("redis_lite_encryption_enabled", &[]), 0.0);
    // latency-tracking's per-command histograms: every call of each command counted.
    let get = [("cmd", "get")];
    assert_eq!(
        scrape.labelled_histogram_count("redis_lite_command_latency_seconds", &get),
        2.0
    );
    assert_eq!(
        scrape.labelled_histogram_count("redis_lite_command_latency_seconds", &[("cmd", "set")]),
        3.0
    );
}

#[test]
fn metrics_are_off_by_default_and_fixed_at_start() {
    let server = Server::lite(&[]);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "metrics-port"]),
        "*2\r\n$12\r\nmetrics-port\r\n$1\r\n0\r\n"
    );
    let refused = raw.cmd_text(&["CONFIG", "SET", "metrics-port", "9121"]);
    assert!(refused.contains("can't set immutable config"), "{refused}");
}

#[test]
fn only_get_metrics_is_served_and_a_stalled_client_blocks_nothing() {
    let port = free_port();
    let _server = Server::lite(&["--metrics-port", &port.to_string()]);
    assert!(http(port, "GET / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 404 Not Found\r\n"));
    let post = http(port, "POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n");
    assert!(
        post.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{post}"
    );
    assert!(http(port, "nonsense\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request\r\n"));
    // A head that reaches the 8 KiB limit without ending.
    let mut huge = "GET /metrics HTTP/1.1\r\nX: ".to_string();
    huge.push_str(&"a".repeat(8192 - huge.len()));
    let reply = http(port, &huge);
    assert!(
        reply.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{reply}"
    );

    // A client that sends half a request and stops: others are served meanwhile, and the
    // stalled one is dropped at the deadline.
    let mut stalled = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stalled.write_all(b"GET /metr").unwrap();
    let began = Instant::now();
    let scrape = Scrape::take(port);
    assert_eq!(scrape.gauge("redis_up", &[]), 1.0);
    assert!(began.elapsed() < Duration::from_secs(2));
    stalled
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut rest = Vec::new();
    assert_eq!(
        stalled.read_to_end(&mut rest).unwrap(),
        0,
        "closed without a reply"
    );
}
