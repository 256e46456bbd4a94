//! The configuration surface against Redis 7.0: every parameter `CONFIG GET *` lists, with the
//! same defaults; stock config files; CONFIG SET's validation texts; and the parameters that
//! act on the process (daemonize, pidfile, supervised, proc-title-template, oom-score-adj).

use redis_lite_testkit as testkit;

use std::collections::BTreeMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::{free_port, wait_until, DataDir, Launch, Program, Raw, Reply, Server};

/// Parameters whose value differs on purpose, with the reason. (`bind` is the same here
/// because the kit gives both servers `--bind 127.0.0.1`; with no `bind` at all both listen
/// on every interface, `* -::*`, with protected mode on.)
const DIFFERENT_VALUES: &[(&str, &str)] = &[
    ("port", "each server of a test listens on a port of its own"),
    (
        "dir",
        "each server of a test works in a directory of its own",
    ),
];

/// redis-lite's own parameters, which Redis does not have.
const LITE_ONLY: &[(&str, &str)] = &[
    (
        "threads",
        "redis-lite's event loops: one below four cores, else one per core, by default",
    ),
    ("maxkeys", "redis-lite's cap on the number of keys"),
    (
        "encryption",
        "encryption at rest of snapshots and AOF files",
    ),
    ("encryption-key-file", "the key for encryption at rest"),
    (
        "metrics-port",
        "Prometheus metrics built in (redis_exporter's names)",
    ),
];

fn config_get_all(raw: &mut Raw) -> BTreeMap<String, String> {
    let reply = Reply::parse(&raw.cmd(&["CONFIG", "GET", "*"])).array();
    reply
        .chunks(2)
        .map(|pair| {
            (
                String::from_utf8_lossy(&pair[0]).into_owned(),
                String::from_utf8_lossy(&pair[1]).into_owned(),
            )
        })
        .collect()
}

#[test]
fn config_get_all_lists_every_redis_parameter_with_its_default() {
    let Some(redis) = Launch::redis().start_if_available() else {
        return;
    };
    // The kit starts Redis with DEBUG allowed.
    let lite = Launch::lite()
        .args(&["--enable-debug-command", "yes"])
        .start();
    let expected = config_get_all(&mut redis.raw());
    let got = config_get_all(&mut lite.raw());
    let mut problems = Vec::new();
    for (name, value) in &expected {
        match got.get(name) {
            None => problems.push(format!("missing: {name}")),
            Some(_) if DIFFERENT_VALUES.iter().any(|(n, _)| n == name) => {}
            Some(mine) if mine != value => {
                problems.push(format!("{name}: redis {value:?}, redis-lite {mine:?}"))
            }
            Some(_) => {}
        }
    }
    for name in got.keys().filter(|n| !expected.contains_key(*n)) {
        problems.push(format!("not in Redis: {name}"));
    }
    // redis-lite's own parameters answer under their exact names only, as Redis's hidden
    // ones do: a tool that sets back every parameter CONFIG GET * lists (Redis's own test
    // suite does) meets only Redis's.
    let mut raw = lite.raw();
    for (name, _) in LITE_ONLY {
        let reply = Reply::parse(&raw.cmd(&["CONFIG", "GET", name])).array();
        if reply.first().map(|n| n.as_slice()) != Some(name.as_bytes()) {
            problems.push(format!("{name} not given by its exact name"));
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
    assert!(expected.len() > 180, "Redis listed {}", expected.len());
}

#[test]
fn hidden_test_knobs_show_only_under_their_exact_name() {
    let Some(redis) = Server::redis(&[]) else {
        return;
    };
    let lite = Server::lite(&[]);
    for server in [&redis, &lite] {
        let mut raw = server.raw();
        assert_eq!(
            raw.cmd_text(&["CONFIG", "GET", "key-load-delay"]),
            "*2\r\n$14\r\nkey-load-delay\r\n$1\r\n0\r\n"
        );
        let delays = raw.cmd_text(&["CONFIG", "GET", "*delay*"]);
        assert!(!delays.contains("key-load-delay"), "{delays}");
        assert!(delays.contains("repl-diskless-sync-delay"), "{delays}");
    }
}

const LONG_HOSTNAME: &str = concat!(
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
);

#[test]
fn config_set_validates_new_parameters_as_redis_does() {
    let set = |name: &'static str, value: &'static str| -> Vec<&'static str> {
        vec!["CONFIG", "SET", name, value]
    };
    let get = |name: &'static str| -> Vec<&'static str> { vec!["CONFIG", "GET", name] };
    let script: Vec<Vec<&str>> = vec![
        set("oom-score-adj-values", "0 200 x"),
        set("oom-score-adj-values", "0 200 3000"),
        set("oom-score-adj-values", "0 200"),
        set("oom-score-adj-values", "500 200 100"),
        get("oom-score-adj-values"),
        set("oom-score-adj", "maybe"),
        set("oom-score-adj", "relative"),
        get("oom-score-adj"),
        set("oom-score-adj", "no"),
        set("latency-tracking-info-percentiles", "50 101"),
        set("latency-tracking-info-percentiles", "50 x"),
        set("latency-tracking-info-percentiles", ""),
        get("latency-tracking-info-percentiles"),
        set("latency-tracking-info-percentiles", "50.0 99.90 1e1"),
        get("latency-tracking-info-percentiles"),
        set("proc-title-template", ""),
        set("proc-title-template", "{bogus}"),
        set("proc-title-template", "{title"),
        set("proc-title-template", "title}"),
        set("proc-title-template", "{title} {port} {config-file}"),
        get("proc-title-template"),
        set("cluster-announce-hostname", "a_b"),
        // 256 characters: one too many (legacy cluster suite, 27-endpoints).
        set("cluster-announce-hostname", LONG_HOSTNAME),
        set("cluster-announce-hostname", &LONG_HOSTNAME[1..]),
        set("cluster-announce-hostname", "node-1.example"),
        set("maxmemory-clients", "101%"),
        set("maxmemory-clients", "-5"),
        set("maxmemory-clients", "1.5%"),
        set("maxmemory-clients", "10%"),
        get("maxmemory-clients"),
        set("maxmemory-clients", "1mb"),
        get("maxmemory-clients"),
        set("shutdown-on-sigint", "save nosave"),
        set("shutdown-on-sigint", ""),
        set("shutdown-on-sigint", "now force"),
        get("shutdown-on-sigint"),
        // A bit set: each flag once, in Redis's order, `default` only alone.
        set("shutdown-on-sigint", "force now nosave"),
        get("shutdown-on-sigint"),
        set("shutdown-on-sigint", "default now now"),
        get("shutdown-on-sigint"),
        set("shutdown-on-sigint", "default"),
        get("shutdown-on-sigint"),
        set("list-compress-depth", "-1"),
        set("active-expire-effort", "11"),
        set("hll-sparse-max-bytes", "-1"),
        set("hll-sparse-max-bytes", "2kb"),
        get("hll-sparse-max-bytes"),
        set("hash-max-listpack-value", "1kb"),
        get("hash-max-listpack-value"),
        set("slowlog-log-slower-than", "-2"),
        set("acllog-max-len", "-1"),
        set("active-defrag-cycle-min", "0"),
        set("active-defrag-cycle-max", "100"),
        set("activedefrag", "yes"),
        set("acl-pubsub-default", "none"),
        set("sanitize-dump-payload", "clients"),
        get("sanitize-dump-payload"),
        set("tls-auth-clients", "optional"),
        set("cluster-preferred-endpoint-type", "dns"),
        set("propagation-error-behavior", "panic-on-replicas"),
        set("tls-port", "70000"),
        set("lazyfree-lazy-user-del", "yes"),
        set("lazyfree-lazy-user-del", "maybe"),
        set("ignore-warnings", "ARM64-COW-BUG"),
        get("ignore-warnings"),
        set("maxmemory", "-1"),
        set("proto-max-bulk-len", "-1"),
        set("auto-aof-rewrite-min-size", "-1"),
        set("save", "0 1"),
        set("save", "1 -1"),
        set("save", "1 0"),
        get("save"),
        // A hidden parameter: listed under its exact name only.
        set("loading-process-events-interval-bytes", "1"),
        set("loading-process-events-interval-bytes", "1024"),
        get("loading-process-events-interval-bytes"),
        get("loading*"),
        // Immutable and protected ones are refused before their value is looked at.
        set("daemonize", "yes"),
        set("supervised", "systemd"),
        set("set-proc-title", "no"),
        set("io-threads", "4"),
        set("socket-mark-id", "1"),
        set("rdbchecksum", "no"),
        set("appendfilename", "x.aof"),
        set("appenddirname", "x"),
        set("cluster-enabled", "yes"),
        set("aclfile", "/tmp/users.acl"),
        set("dir", "/tmp"),
        set("dbfilename", "x.rdb"),
        // Several at once: checked as Redis does, all or nothing.
        vec!["CONFIG", "SET", "dynamic-hz", "no", "activerehashing", "x"],
        get("dynamic-hz"),
        vec!["CONFIG", "SET", "dynamic-hz", "no", "activerehashing", "no"],
        get("activerehashing"),
    ];
    let script: Vec<&[&str]> = script.iter().map(Vec::as_slice).collect();
    testkit::differential(&script, false);
}

/// `save` lines add up, from the config file to the command line, until `save ""` drops them
/// (Redis's introspection suite starts servers with `--save ""` after a file's `save 900 1`);
/// multi-word values given as one argument read back as Redis shows them.
#[test]
fn save_rules_and_flag_sets_from_file_and_command_line_match_redis() {
    if !Program::Redis.available() {
        return;
    }
    let dir = DataDir::new("save-lines");
    let file = dir.join("save.conf");
    std::fs::write(&file, "save 900 1\n").unwrap();
    let cases: &[&[&str]] = &[
        &[],
        &["--save", "100", "100"],
        &["--save", ""],
        &["--save", "", "--save", "60 5"],
        &["--save", "--loglevel", "verbose"],
        &["--loglevel", "verbose", "--save"],
        &["--shutdown-on-sigint", "nosave force now"],
    ];
    for args in cases {
        let replies: Vec<Vec<u8>> = [Program::Redis, Program::Lite]
            .into_iter()
            .map(|program| {
                let server = Launch::of(program).config(&file).args(args).start();
                let mut raw = server.raw();
                [
                    raw.cmd(&["CONFIG", "GET", "save"]),
                    raw.cmd(&["CONFIG", "GET", "loglevel"]),
                    raw.cmd(&["CONFIG", "GET", "shutdown-on-sigint"]),
                ]
                .concat()
            })
            .collect();
        assert_eq!(
            String::from_utf8_lossy(&replies[0]),
            String::from_utf8_lossy(&replies[1]),
            "{args:?}"
        );
    }
}

/// DEBUG CONFIG-REWRITE-FORCE-ALL writes every parameter, defaults too, and the server starts
/// from that file with the same configuration (Redis's introspection suite checks this).
#[test]
fn config_rewrite_force_all_round_trips() {
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            continue;
        }
        let dir = DataDir::new("force-all");
        let file = dir.join("redis.conf");
        std::fs::write(&file, "save 900 1\nnotify-keyspace-events KEA\n").unwrap();
        let mut server = Launch::of(program)
            .dir(&dir.0)
            .config(&file)
            .args(&["--enable-debug-command", "yes"])
            .start();
        let before = config_get_all(&mut server.raw());
        assert_eq!(
            server
                .raw()
                .cmd_text(&["DEBUG", "CONFIG-REWRITE-FORCE-ALL"]),
            "+OK\r\n"
        );
        let written = std::fs::read_to_string(&file).unwrap();
        assert!(written.contains("\nhz 10\n"), "defaults too: {written}");
        server.restart();
        assert_eq!(config_get_all(&mut server.raw()), before, "{program:?}");
    }
}

/// The copies kept in `tests/config_files`.
fn config_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/config_files")
        .join(name)
}

/// Starts redis-lite with a stock config file, changing only what a test must (the port, and
/// files the test's directory holds instead of system paths), and checks a few of its values.
fn starts_with_stock_file(name: &str) {
    let dir = DataDir::new("stock-config");
    let pidfile = dir.join("redis.pid");
    // A copy, which CONFIG REWRITE below may change.
    let file = dir.join(name);
    std::fs::copy(config_file(name), &file).unwrap();
    let mut server = Launch::lite()
        .config(&file)
        .dir(&dir.0)
        .args(&[
            "--dir",
            dir.path(),
            "--daemonize",
            "no",
            "--logfile",
            "",
            "--pidfile",
            pidfile.to_str().unwrap(),
        ])
        .start();
    let mut raw = server.raw();
    assert_eq!(raw.cmd_text(&["PING"]), "+PONG\r\n");
    let config = config_get_all(&mut raw);
    for (name, value) in [
        ("appendfilename", "appendonly.aof"),
        ("proc-title-template", "{title} {listen-addr} {server-mode}"),
        ("jemalloc-bg-thread", "yes"),
        ("oom-score-adj-values", "0 200 800"),
        (
            "client-output-buffer-limit",
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        ),
    ] {
        assert_eq!(config[name], value, "{name} from {name}");
    }
    let pid: u32 = std::fs::read_to_string(&pidfile)
        .expect("the pid file is written")
        .trim()
        .parse()
        .unwrap();
    assert_eq!(pid, server.pid());

    // CONFIG REWRITE keeps the file one the server starts from again, with the change.
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "maxmemory-clients", "5%", "hz", "20"]),
        "+OK\r\n"
    );
    assert_eq!(raw.cmd_text(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let rewritten = std::fs::read_to_string(&file).unwrap();
    assert!(rewritten.contains("\nhz 20\n"), "{rewritten}");
    assert!(
        rewritten.contains("\nmaxmemory-clients 5%\n"),
        "{rewritten}"
    );
    server.restart();
    let config = config_get_all(&mut server.raw());
    assert_eq!(
        (config["hz"].as_str(), config["maxmemory-clients"].as_str()),
        ("20", "5%")
    );
}

#[test]
fn debians_redis_conf_starts_redis_lite() {
    starts_with_stock_file("debian-7.0.15-redis.conf");
}

#[test]
fn the_redis_7_0_stock_redis_conf_starts_redis_lite() {
    starts_with_stock_file("redis-7.0.conf");
}

#[test]
fn a_config_file_with_bytes_that_are_not_utf8_is_read() {
    let dir = DataDir::new("latin1-config");
    let file = dir.join("latin1.conf");
    std::fs::write(
        &file,
        b"# caf\xe9 au lait\nsyslog-ident \"caf\xe9\"\ntimeout 7\n".as_slice(),
    )
    .unwrap();
    let server = Launch::lite().config(&file).start();
    assert_eq!(
        server.raw().cmd_text(&["CONFIG", "GET", "timeout"]),
        "*2\r\n$7\r\ntimeout\r\n$1\r\n7\r\n"
    );
    // CONFIG REWRITE keeps the comment's bytes as they were.
    assert_eq!(
        server.raw().cmd_text(&["CONFIG", "SET", "timeout", "9"]),
        "+OK\r\n"
    );
    assert_eq!(server.raw().cmd_text(&["CONFIG", "REWRITE"]), "+OK\r\n");
    let text = std::fs::read(&file).unwrap();
    assert!(text.starts_with(b"# caf\xe9 au lait\n"), "{text:?}");
    assert!(text.windows(10).any(|w| w == b"timeout 9\n"));
}

/// Waits for `path` to hold a pid, and returns it.
fn pid_in(path: &Path) -> u32 {
    let mut pid = None;
    wait_until("the pid file is written", Duration::from_secs(10), || {
        pid = std::fs::read_to_string(path)
            .ok()
            .and_then(|text| text.trim().parse().ok());
        pid.is_some()
    });
    pid.unwrap()
}

fn is_running(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn daemonize_detaches_and_writes_the_pidfile() {
    let Some(program) = Program::Lite.path() else {
        return;
    };
    let dir = DataDir::new("daemonize");
    let pidfile = dir.join("server.pid");
    let port = free_port();
    let status = std::process::Command::new(program)
        .args(["--port", &port.to_string(), "--daemonize", "yes"])
        .args(["--pidfile", pidfile.to_str().unwrap(), "--dir", dir.path()])
        .status()
        .unwrap();
    // The command returns at once; the daemon lives on in the background.
    assert!(status.success());
    let pid = pid_in(&pidfile);
    // Stopped by its pid whatever the assertions below say.
    struct Daemon(u32);
    impl Drop for Daemon {
        fn drop(&mut self) {
            // SAFETY: a plain kill(2) of the daemon this test started.
            unsafe {
                libc::kill(self.0 as i32, libc::SIGKILL);
            }
        }
    }
    let _daemon = Daemon(pid);
    let mut raw = None;
    // PONG, not LOADING: the listener opens before the dataset is loaded, as in Redis.
    wait_until("the daemon answers PONG", Duration::from_secs(10), || {
        raw = std::net::TcpStream::connect(("127.0.0.1", port))
            .ok()
            .map(Raw::new)
            .and_then(|mut raw| (raw.cmd_text(&["PING"]) == "+PONG\r\n").then_some(raw));
        raw.is_some()
    });
    let mut raw = raw.unwrap();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "GET", "daemonize"]),
        "*2\r\n$9\r\ndaemonize\r\n$3\r\nyes\r\n"
    );
    let info = raw.cmd_text(&["INFO", "server"]);
    assert!(info.contains(&format!("process_id:{pid}\r\n")), "{info}");
    // In a session of its own, so the terminal's signals do not reach it.
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    assert_eq!(fields[3], pid.to_string(), "session id: {stat}");
    raw.send(&testkit::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    wait_until("the daemon exits", Duration::from_secs(10), || {
        !is_running(pid)
    });
    assert!(!pidfile.exists(), "the pid file is removed at exit");
}

#[test]
fn supervised_systemd_notifies_ready_and_stopping() {
    let dir = DataDir::new("supervised");
    let socket_path = dir.join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path).unwrap();
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let server = Launch::lite()
        .env("NOTIFY_SOCKET", socket_path.to_str().unwrap())
        // Supervised, a daemon stays in the foreground for its supervisor.
        .args(&["--supervised", "systemd", "--daemonize", "yes"])
        .start();
    let mut buf = [0u8; 256];
    let mut next = || {
        let n = socket.recv(&mut buf).expect("a notification");
        String::from_utf8_lossy(&buf[..n]).into_owned()
    };
    assert_eq!(next(), "STATUS=Ready to accept connections\n");
    assert_eq!(next(), "READY=1\n");
    let mut raw = server.raw();
    assert_eq!(raw.cmd_text(&["PING"]), "+PONG\r\n");
    raw.send(&testkit::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    assert_eq!(next(), "STOPPING=1\n");
}

fn cmdline(pid: u32) -> String {
    let bytes = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap();
    let text = String::from_utf8_lossy(&bytes);
    text.trim_end_matches('\0').to_string()
}

#[test]
fn proc_title_template_sets_the_process_title() {
    let server = Launch::lite()
        .args(&["--proc-title-template", "{title} {port} lite"])
        .start();
    let pid = server.pid();
    let program = server.executable().display().to_string();
    let title = |suffix: &str| format!("{program} {}{suffix}", server.port);
    assert!(
        cmdline(pid).starts_with(&title(" lite")),
        "{}",
        cmdline(pid)
    );
    assert_eq!(
        server.raw().cmd_text(&[
            "CONFIG",
            "SET",
            "proc-title-template",
            "{title} {port} again"
        ]),
        "+OK\r\n"
    );
    assert!(
        cmdline(pid).starts_with(&title(" again")),
        "{}",
        cmdline(pid)
    );
    // A title longer than the command line is shown whole, as Redis shows it (its own suite
    // reads the socket and config file back from a long template): it runs on over the
    // environment strings. redis-lite cut it at the command line's length.
    let long = format!(" {}", "x".repeat(400));
    let template = format!("{{title}} {{port}}{long}");
    assert_eq!(
        server
            .raw()
            .cmd_text(&["CONFIG", "SET", "proc-title-template", &template]),
        "+OK\r\n"
    );
    assert_eq!(cmdline(pid), title(&long));

    // `set-proc-title no` leaves the command line as it was.
    let plain = Launch::lite().args(&["--set-proc-title", "no"]).start();
    assert!(
        cmdline(plain.pid()).contains("--set-proc-title"),
        "{}",
        cmdline(plain.pid())
    );
}

fn oom_score_adj(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn oom_score_adj_writes_the_kernel_score() {
    let server = Launch::lite()
        .args(&[
            "--oom-score-adj",
            "relative",
            "--oom-score-adj-values",
            "100 200 800",
        ])
        .start();
    let pid = server.pid();
    let base = std::fs::read_to_string("/proc/self/oom_score_adj")
        .unwrap()
        .trim()
        .parse::<i64>()
        .unwrap();
    assert_eq!(oom_score_adj(pid), (base + 100).clamp(-1000, 1000));
    let mut raw = server.raw();
    // Raising the score needs no privilege.
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "oom-score-adj-values", "300 400 800"]),
        "+OK\r\n"
    );
    assert_eq!(oom_score_adj(pid), (base + 300).clamp(-1000, 1000));
    assert_eq!(
        raw.cmd_text(&[
            "CONFIG",
            "SET",
            "oom-score-adj",
            "absolute",
            "oom-score-adj-values",
            "700 800 900"
        ]),
        "+OK\r\n"
    );
    assert_eq!(oom_score_adj(pid), 700);
}

#[test]
fn always_show_logo_puts_the_banner_in_a_log_that_is_not_a_terminal() {
    let dir = DataDir::new("logo");
    for (always, expected) in [
        ("yes", "Running in standalone mode"),
        ("no", "Running mode=standalone, port="),
    ] {
        let logfile = dir.join(&format!("logo-{always}.log"));
        let server = Launch::lite()
            .args(&[
                "--always-show-logo",
                always,
                "--logfile",
                logfile.to_str().unwrap(),
            ])
            .start();
        let log = std::fs::read_to_string(&logfile).unwrap();
        assert!(log.contains(expected), "always-show-logo {always}: {log}");
        assert!(log.contains(&server.port.to_string()));
    }
}

/// The names of a process's threads.
fn thread_names(pid: u32) -> Vec<String> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .map(|name| name.trim().to_string())
        .collect()
}

#[test]
fn jemalloc_bg_thread_starts_and_stops_the_purging_thread() {
    let server = Launch::lite().args(&["--jemalloc-bg-thread", "no"]).start();
    let pid = server.pid();
    let purging = || {
        thread_names(pid)
            .iter()
            .any(|n| n.starts_with("jemalloc_bg"))
    };
    assert!(!purging(), "{:?}", thread_names(pid));
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "jemalloc-bg-thread", "yes"]),
        "+OK\r\n"
    );
    wait_until("jemalloc's thread starts", Duration::from_secs(5), purging);
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "jemalloc-bg-thread", "no"]),
        "+OK\r\n"
    );
    wait_until("jemalloc's thread stops", Duration::from_secs(5), || {
        !purging()
    });
}

/// A fatal signal (SIGABRT here) leaves a crash report with a stack trace in the log, as
/// Redis's does, and still ends the process by that signal (Redis's integration/logging.tcl).
#[test]
fn a_fatal_signal_leaves_a_crash_report_in_the_log() {
    use std::os::unix::process::ExitStatusExt;
    let dir = DataDir::new("crash");
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            continue;
        }
        // SIGABRT from outside (logging.tcl's "Crash report generated on SIGABRT"), then
        // SIGSEGV from DEBUG SEGFAULT ("... on DEBUG SEGFAULT").
        for signal in [6, 11] {
            let logfile = dir.join(&format!("crash-{program:?}-{signal}.log"));
            let mut server = Launch::of(program)
                .args(&["--save", "", "--logfile", logfile.to_str().unwrap()])
                .args(&["--enable-debug-command", "yes"])
                // As logging.tcl runs it: Redis's memory test after the report takes seconds
                // more on a loaded machine.
                .args(&["--crash-memcheck-enabled", "no"])
                .start();
            if signal == 6 {
                let killed = std::process::Command::new("kill")
                    .args(["-ABRT", &server.pid().to_string()])
                    .status()
                    .unwrap();
                assert!(killed.success());
            } else {
                server
                    .raw()
                    .send(&testkit::encode(&[b"DEBUG", b"SEGFAULT"]));
            }
            let status = server.wait_exit(Duration::from_secs(30));
            assert_eq!(status.and_then(|s| s.signal()), Some(signal), "{program:?}");
            let log = std::fs::read_to_string(&logfile).unwrap();
            assert!(
                log.contains(&format!("crashed by signal: {signal}")),
                "{program:?}: {log}"
            );
            assert!(
                log.contains("------ STACK TRACE ------"),
                "{program:?}: {log}"
            );
        }
    }
}

/// With `crash-log-enabled no` a fatal signal leaves no report in the log, on either server:
/// the process just ends by the signal. (The unit test beside the crash log checks the
/// report's content; this half lives here because every in-process `Server` a parallel unit
/// test builds sets the process-wide switch back to its default.)
#[test]
fn a_fatal_signal_with_the_crash_log_disabled_leaves_no_report() {
    use std::os::unix::process::ExitStatusExt;
    let dir = DataDir::new("crash-quiet");
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            testkit::skipped("redis-server is not on PATH (a quiet crash)");
            continue;
        }
        let logfile = dir.join(&format!("quiet-{program:?}.log"));
        let mut server = Launch::of(program)
            .args(&["--save", "", "--logfile", logfile.to_str().unwrap()])
            .args(&["--enable-debug-command", "yes", "--crash-log-enabled", "no"])
            .start();
        server
            .raw()
            .send(&testkit::encode(&[b"DEBUG", b"SEGFAULT"]));
        let status = server.wait_exit(Duration::from_secs(30));
        assert_eq!(status.and_then(|s| s.signal()), Some(11), "{program:?}");
        let log = std::fs::read_to_string(&logfile).unwrap();
        assert!(!log.contains("STACK TRACE"), "{program:?}: {log}");
        assert!(!log.contains("crashed by signal"), "{program:?}: {log}");
    }
}

/// oom-score-adj.tcl's "CONFIG SET oom score restored on disable" and the replica class of
/// "CONFIG SET oom-score-adj works as expected": the base is read each time the server takes
/// control of its score (redis-lite read it once, at start), and a replica's score is the
/// replica class's (redis-lite kept the master's after REPLICAOF).
#[test]
fn oom_score_adj_rereads_its_base_and_follows_the_role() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let pid = server.pid();
        let mut raw = server.raw();
        raw.ok(&[b"CONFIG", b"SET", b"oom-score-adj", b"yes"]);
        raw.ok(&[b"CONFIG", b"SET", b"oom-score-adj", b"no"]);
        // Set from outside while the server does not control it: the new base. Raising the
        // score needs no privilege.
        let base = oom_score_adj(pid) + 22;
        std::fs::write(format!("/proc/{pid}/oom_score_adj"), base.to_string()).unwrap();
        raw.ok(&[
            b"CONFIG",
            b"SET",
            b"oom-score-adj-values",
            b"9 19 29",
            b"oom-score-adj",
            b"yes",
        ]);
        assert_eq!(oom_score_adj(pid), base + 9, "{which}");
        raw.ok(&[b"REPLICAOF", b"127.0.0.1", b"1"]);
        assert_eq!(oom_score_adj(pid), base + 19, "{which}: a replica");
        raw.ok(&[b"REPLICAOF", b"NO", b"ONE"]);
        assert_eq!(oom_score_adj(pid), base + 9, "{which}: a master again");
        raw.ok(&[b"CONFIG", b"SET", b"oom-score-adj", b"no"]);
        assert_eq!(oom_score_adj(pid), base, "{which}: the base restored");
    }
}

/// With no `bind` at all, both listen where Redis's built-in default says, every interface
/// (`* -::*`), and serve loopback clients (protected mode refuses others until a password is
/// set, see `security`).
#[test]
fn without_bind_both_listen_on_every_interface() {
    for program in [Program::Redis, Program::Lite] {
        let Some(path) = program.path() else {
            println!("SKIPPED: {program:?} is not available (in without_bind_both_listen_on_every_interface)");
            continue;
        };
        let dir = DataDir::new("no-bind");
        let port = free_port();
        let mut child = std::process::Command::new(path)
            .args(["--port", &port.to_string(), "--save", ""])
            .current_dir(&dir.0)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let mut raw = None;
        wait_until("the server to answer", Duration::from_secs(10), || {
            raw = std::net::TcpStream::connect(("127.0.0.1", port))
                .ok()
                .map(Raw::new);
            raw.as_mut()
                .is_some_and(|raw| raw.cmd_text(&["PING"]) == "+PONG\r\n")
        });
        let mut raw = raw.unwrap();
        let bind = raw.cmd_text(&["CONFIG", "GET", "bind"]);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(bind, "*2\r\n$4\r\nbind\r\n$6\r\n* -::*\r\n", "{program:?}");
    }
}

/// Relative `logfile`, `pidfile` and `unixsocket` are taken from `dir`, which is the working
/// directory, as in Redis, and so is a later CONFIG SET dir's: the log goes on in the new
/// directory, and in a new file when the old one was renamed (each line opens the file, so a
/// rotation by renaming needs no signal). At exit the pid file and the socket's file are
/// removed (both named from the directory of that moment). The two directories' files match
/// Redis's at each step.
#[test]
fn relative_paths_are_taken_from_dir_as_in_redis() {
    let Some(redis) = files_from_relative_paths(Program::Redis) else {
        testkit::skipped(
            "redis-server is not on PATH (in relative_paths_are_taken_from_dir_as_in_redis)",
        );
        return;
    };
    assert_eq!(redis[0], ["server.log", "server.pid", "server.sock"]);
    assert_eq!(files_from_relative_paths(Program::Lite).unwrap(), redis);
}

/// The names in the two directories after start-up, after a rotation, CONFIG SET dir and
/// SAVE, and after SHUTDOWN.
fn files_from_relative_paths(program: Program) -> Option<Vec<Vec<String>>> {
    if !program.available() {
        return None;
    }
    let (first, second) = (DataDir::new("relative-1"), DataDir::new("relative-2"));
    let names = || -> Vec<String> {
        [&first, &second]
            .iter()
            .flat_map(|dir| {
                let mut names: Vec<String> = std::fs::read_dir(&dir.0)
                    .unwrap()
                    .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect();
                names.sort();
                names
            })
            .collect()
    };
    let mut server = Launch::of(program)
        .dir(&first.0)
        .args(&[
            "--logfile",
            "server.log",
            "--pidfile",
            "server.pid",
            "--unixsocket",
            "server.sock",
            "--enable-protected-configs",
            "yes",
            "--save",
            "",
        ])
        .start();
    let mut raw = server.raw();
    let mut seen = vec![names()];
    std::fs::rename(first.join("server.log"), first.join("server.log.1")).unwrap();
    let second_dir = second.0.to_str().unwrap();
    assert_eq!(
        raw.cmd_text(&["CONFIG", "SET", "dir", second_dir]),
        "+OK\r\n"
    );
    assert_eq!(raw.cmd_text(&["SAVE"]), "+OK\r\n");
    seen.push(names());
    raw.send(&testkit::encode(&[b"SHUTDOWN", b"NOSAVE"]));
    server.wait_exit(Duration::from_secs(10)).expect("SHUTDOWN");
    seen.push(names());
    Some(seen)
}

/// A relative `logfile` and `pidfile` are in `dir`, as Redis opens them after changing its
/// working directory to `dir` (the legacy cluster suite gives each instance `dir ./redis_N`
/// and `logfile log.txt`, then reads `redis_N/log.txt`; redis-lite's twenty instances all
/// wrote one `log.txt` in the suite's directory).
#[test]
fn a_relative_logfile_and_pidfile_are_in_dir() {
    for program in [Program::Lite, Program::Redis] {
        if !program.available() {
            testkit::skipped(&format!("{program:?} is not available"));
            continue;
        }
        let cwd = DataDir::new("relative-files");
        let dir = cwd.join("instance");
        std::fs::create_dir(&dir).unwrap();
        let server = Launch::of(program)
            .dir(&cwd.0)
            .args(&["--dir", dir.to_str().unwrap()])
            .args(&["--logfile", "log.txt", "--pidfile", "server.pid"])
            .start();
        let log = std::fs::read_to_string(dir.join("log.txt")).unwrap_or_default();
        assert!(log.contains(&server.port.to_string()), "{program:?}: {log}");
        let pid = std::fs::read_to_string(dir.join("server.pid")).unwrap_or_default();
        assert_eq!(pid.trim(), server.pid().to_string(), "{program:?}");
        assert!(!cwd.join("log.txt").exists(), "{program:?}");
        assert!(!cwd.join("server.pid").exists(), "{program:?}");
    }
}

/// The lines CONFIG REWRITE writes after Sentinel's reconfiguration (`SLAVEOF` then `CONFIG
/// REWRITE`), as Redis writes them: its string parameters always in quotes, escaped as
/// `sdscatrepr` escapes them, and sizes in the largest unit that divides them. redis-lite wrote
/// `logfile log.txt`, `masterauth secret` and `maxmemory 104857600`.
#[test]
fn config_rewrite_writes_strings_and_sizes_as_redis_does() {
    if !Program::Redis.available() {
        println!("SKIPPED: redis-server is not on PATH (in config_rewrite_writes_strings_and_sizes_as_redis_does)");
        return;
    }
    let directives = [
        "logfile",
        "maxmemory",
        "masterauth",
        "masteruser",
        "replica-announce-ip",
        "repl-backlog-size",
        "hash-max-listpack-value",
        "maxmemory-clients",
        "replicaof",
        "save",
        "latency-tracking-info-percentiles",
        "client-output-buffer-limit",
    ];
    let rewritten = |program: Program| {
        let dir = DataDir::new("rewrite-forms");
        let file = dir.join("redis.conf");
        std::fs::write(&file, "logfile log.txt\nmaxmemory 100mb\n").unwrap();
        let server = Launch::of(program).dir(&dir.0).config(&file).start();
        let mut raw = server.raw();
        for (name, value) in [
            ("masterauth", "secret"),
            ("masteruser", "sentinel \u{e9}\"x\""),
            ("replica-announce-ip", "localhost"),
            ("repl-backlog-size", "3145728"),
            ("hash-max-listpack-value", "1000"),
            ("maxmemory-clients", "10%"),
            ("save", "900 1 60 5"),
            ("client-output-buffer-limit", "replica 1gb 512mb 60"),
        ] {
            assert_eq!(raw.cmd_text(&["CONFIG", "SET", name, value]), "+OK\r\n");
        }
        let unused = free_port().to_string();
        assert_eq!(raw.cmd_text(&["SLAVEOF", "127.0.0.1", &unused]), "+OK\r\n");
        assert_eq!(raw.cmd_text(&["CONFIG", "REWRITE"]), "+OK\r\n");
        let text = std::fs::read_to_string(&file).unwrap();
        let dir_line = format!("dir {:?}", std::fs::canonicalize(dir.path()).unwrap());
        assert!(text.lines().any(|l| l == dir_line), "{program:?}: {text}");
        // The file's own lines, then an empty line before what was appended.
        assert!(
            text.starts_with(
                "logfile \"log.txt\"\nmaxmemory 100mb\n\n# Generated by CONFIG REWRITE\n"
            ),
            "{program:?}: {text}"
        );
        let lines_of = |text: &str| {
            directives
                .iter()
                .map(|name| {
                    let lines: Vec<&str> = text
                        .lines()
                        .filter(|l| l.split(' ').next() == Some(name))
                        .collect();
                    lines.join("\n").replace(&unused, "PORT")
                })
                .collect::<Vec<_>>()
        };
        let first = lines_of(&text);
        // Again, now that the file has those lines: Redis fills their places in turn.
        assert_eq!(raw.cmd_text(&["CONFIG", "REWRITE"]), "+OK\r\n");
        (first, lines_of(&std::fs::read_to_string(&file).unwrap()))
    };
    assert_eq!(rewritten(Program::Lite), rewritten(Program::Redis));
}
