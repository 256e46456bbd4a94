//! `rename-command` against real Redis started with the same directives: renamed and disabled
//! commands, what COMMAND shows for them, start-up errors, the AOF records a renamed command
//! leaves, CONFIG REWRITE, and Debian's redis.conf with rename lines added.

use std::path::Path;

use redis_lite_testkit::{
    differential_with, skipped, DataDir, Launch, Program, Replicated, Server,
};

const RENAMES: &[&str] = &[
    "--rename-command",
    "CONFIG",
    "cfg-7a9f",
    "--rename-command",
    "FLUSHALL",
    "",
    "--rename-command",
    "SET",
    "myset",
    "--rename-command",
    "client",
    "Cl",
];

#[test]
fn renamed_and_disabled_commands_answer_as_in_redis() {
    differential_with(
        &[
            // The old names are unknown, the new ones work in any case.
            &["CONFIG", "GET", "maxmemory"],
            &["cfg-7a9f", "GET", "maxmemory"],
            &["CFG-7A9F", "get", "maxmemory"],
            &["FLUSHALL"],
            &["flushall", "ASYNC"],
            &["SET", "k", "v"],
            &["myset", "k", "v"],
            &["MYSET", "k", "v2", "GET"],
            &["GET", "k"],
            &["cl", "SETNAME", "renamed"],
            &["CL", "GETNAME"],
            &["CLIENT", "GETNAME"],
            // Errors name the command as Redis does: the original for arity, the name sent for
            // an unknown subcommand.
            &["cfg-7a9f", "nosuch"],
            &["cfg-7a9f", "GET"],
            &["myset", "k"],
            &["cl", "nosuch"],
            // COMMAND finds a command by the name requests use and shows its original name.
            &["COMMAND", "INFO", "config", "flushall", "set", "config|get"],
            &["COMMAND", "INFO", "myset", "cfg-7a9f|get", "CFG-7A9F|SET"],
            &[
                "COMMAND",
                "DOCS",
                "config",
                "flushall",
                "cfg-7a9f|resetstat",
            ],
            &["COMMAND", "LIST", "FILTERBY", "PATTERN", "flushall"],
            &["COMMAND", "LIST", "FILTERBY", "PATTERN", "set"],
            &["COMMAND", "LIST", "FILTERBY", "PATTERN", "myset"],
            &["COMMAND", "LIST", "FILTERBY", "PATTERN", "cfg*"],
            &["COMMAND", "GETKEYS", "myset", "k", "v"],
            &["COMMAND", "GETKEYS", "set", "k", "v"],
            &["COMMAND", "GETKEYS", "CFG-7A9F", "GET", "x"],
            // Scripts and transactions see the same names.
            &["EVAL", "return redis.call('myset', 's', '1')", "0"],
            &["EVAL", "return redis.call('set', 's', '1')", "0"],
            &["EVAL", "return redis.pcall('flushall')", "0"],
            &["MULTI"],
            &["myset", "t", "1"],
            &["flushall"],
            &["EXEC"],
            &["MULTI"],
            &["myset", "t", "1"],
            &["EXEC"],
        ],
        false,
        RENAMES,
    );
}

#[test]
fn a_disabled_name_can_be_given_to_another_command() {
    differential_with(
        &[
            &["get", "k", "v"],
            &["GET", "k"],
            &["DEL", "k"],
            &["COMMAND", "INFO", "get"],
            &["COMMAND", "LIST", "FILTERBY", "PATTERN", "get"],
        ],
        false,
        &[
            "--rename-command",
            "get",
            "",
            "--rename-command",
            "SET",
            "GET",
            "--rename-command",
            "del",
            "del",
        ],
    );
}

/// COMMAND COUNT: a disabled command leaves the count, a renamed one stays in it.
#[test]
fn command_count_leaves_out_disabled_commands() {
    for program in [Program::Lite, Program::Redis] {
        let Some(plain) = Launch::of(program).start_if_available() else {
            skipped("redis-server is not on PATH");
            continue;
        };
        let renamed = Launch::of(program).args(RENAMES).start();
        let count = |server: &Server| -> i64 {
            let text = server.raw().cmd_text(&["COMMAND", "COUNT"]);
            text.trim_start_matches(':').trim_end().parse().unwrap()
        };
        assert_eq!(count(&renamed), count(&plain) - 1, "{program:?}");
    }
}

/// The `>>>` line and the reason under it, from a server that refused to start.
fn refusal(output: &str) -> Vec<&str> {
    let lines: Vec<&str> = output.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.starts_with(">>> "))
        .unwrap_or_else(|| panic!("no config error in {output}"));
    lines[at..=at + 1].to_vec()
}

#[test]
fn refused_renames_stop_the_start_as_in_redis() {
    let dir = DataDir::new("rename-errors");
    let file = dir.join("renames.conf");
    for config in [
        "rename-command NOSUCH x\n",
        "rename-command CONFIG GET\n",
        "rename-command CONFIG\n",
        "rename-command CONFIG a b\n",
        "rename-command config cfg\nrename-command config cfg2\n",
        "rename-command config \"\"\nrename-command CONFIG \"\"\n",
    ] {
        std::fs::write(&file, config).unwrap();
        let (status, lite) = Launch::lite().config(&file).run_until_exit();
        assert!(!status.success(), "{config}: {lite}");
        if !Program::Redis.available() {
            skipped("redis-server is not on PATH");
            return;
        }
        let (_, redis) = Launch::redis().config(&file).run_until_exit();
        assert_eq!(refusal(&lite), refusal(&redis), "{config}");
    }
    // Redis fails an assertion on a subcommand's name; redis-lite refuses it as unknown.
    std::fs::write(&file, "rename-command CONFIG|GET x\n").unwrap();
    let (status, lite) = Launch::lite().config(&file).run_until_exit();
    assert!(!status.success());
    assert_eq!(
        refusal(&lite),
        [
            ">>> 'rename-command CONFIG|GET x'",
            "No such command in rename-command"
        ]
    );
    // On the command line too.
    let (status, lite) = Launch::lite()
        .args(&["--rename-command", "NOSUCH", "x"])
        .run_until_exit();
    assert!(!status.success());
    assert!(
        lite.ends_with("No such command in rename-command\n")
            || lite.ends_with("No such command in rename-command"),
        "{lite}"
    );
}

/// The records of the AOF's incremental file, with the absolute times (13 digits) masked.
fn aof_records(dir: &Path) -> String {
    let text = std::fs::read(dir.join("appendonlydir/appendonly.aof.1.incr.aof")).unwrap();
    let text = String::from_utf8_lossy(&text);
    text.split("\r\n")
        .map(|part| {
            if part.len() == 13 && part.bytes().all(|b| b.is_ascii_digit()) {
                "<ms>"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A renamed command is logged under the name it was sent with; one Redis rewrites (SET with
/// EX, EXPIRE) under the original name, so such an AOF no longer loads with the renames,
/// in Redis as here.
#[test]
fn renamed_commands_are_logged_as_redis_logs_them() {
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--rename-command",
        "SET",
        "myset",
        "--rename-command",
        "EXPIRE",
        "ex2",
    ];
    let script: &[&[&str]] = &[
        &["myset", "k", "v"],
        &["ex2", "k", "100"],
        &["MySet", "k2", "v"],
    ];
    let mut logs = Vec::new();
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            skipped("redis-server is not on PATH");
            continue;
        }
        let dir = DataDir::new("rename-aof");
        let mut server = Launch::of(program).dir(&dir.0).args(&args).start();
        let mut raw = server.raw();
        for cmd in script {
            raw.cmd(cmd);
        }
        logs.push(aof_records(&dir.0));
        // Loads again: the log's names are the renamed ones, and PEXPIREAT kept its name.
        server.restart();
        assert_eq!(server.raw().cmd_text(&["GET", "k2"]), "$1\r\nv\r\n");
        assert_eq!(server.raw().cmd_text(&["EXISTS", "k"]), ":1\r\n");
        // SET with EX is logged as SET ... PXAT, a name this server no longer knows.
        server.raw().cmd(&["myset", "k3", "v", "EX", "100"]);
        logs.push(aof_records(&dir.0));
        server.kill9();
        let (status, output) = Launch::of(program).dir(&dir.0).args(&args).run_until_exit();
        assert!(!status.success(), "{program:?}: {output}");
        assert!(
            output.contains("Unknown command 'SET' reading the append only file"),
            "{program:?}: {output}"
        );
    }
    if let [redis_first, redis_second, lite_first, lite_second] = &logs[..] {
        assert_eq!(lite_first, redis_first);
        assert_eq!(lite_second, redis_second);
        assert!(
            lite_second.contains("SET $2 k3 $1 v $4 PXAT"),
            "{lite_second}"
        );
    }
}

/// Debian's redis.conf with rename lines added at its end: both servers start from it, agree
/// on the renamed commands, and CONFIG REWRITE (under its new name) keeps the rename lines.
#[test]
fn debians_redis_conf_with_renames_starts_and_survives_config_rewrite() {
    let stock =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/config_files/debian-7.0.15-redis.conf");
    let renames = "rename-command CONFIG cfg-7a9f\nrename-command FLUSHALL \"\"\n\
                   rename-command FLUSHDB \"\"\n";
    let mut rewritten = Vec::new();
    for program in [Program::Redis, Program::Lite] {
        if !program.available() {
            skipped("redis-server is not on PATH");
            continue;
        }
        let dir = DataDir::new("debian-renames");
        let file = dir.join("redis.conf");
        let mut text = std::fs::read(&stock).unwrap();
        text.extend_from_slice(renames.as_bytes());
        std::fs::write(&file, text).unwrap();
        let pidfile = dir.join("redis.pid");
        let mut server = Launch::of(program)
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
        raw.expect_replies(&[
            (
                &["CONFIG", "GET", "hz"],
                "-ERR unknown command 'CONFIG', with args beginning with: 'GET' 'hz' \r\n",
            ),
            (
                &["FLUSHDB"],
                "-ERR unknown command 'FLUSHDB', with args beginning with: \r\n",
            ),
            (&["cfg-7a9f", "SET", "hz", "20"], "+OK\r\n"),
            (&["cfg-7a9f", "REWRITE"], "+OK\r\n"),
        ]);
        let text = std::fs::read_to_string(&file).unwrap();
        rewritten.push(
            text.lines()
                .filter(|l| l.starts_with("rename-command"))
                .map(str::to_owned)
                .collect::<Vec<_>>(),
        );
        // Starts again from the rewritten file, still renamed.
        server.restart();
        server.raw().expect_replies(&[
            (&["cfg-7a9f", "GET", "hz"], "*2\r\n$2\r\nhz\r\n$2\r\n20\r\n"),
            (
                &["FLUSHALL"],
                "-ERR unknown command 'FLUSHALL', with args beginning with: \r\n",
            ),
        ]);
    }
    if let [redis, lite] = &rewritten[..] {
        assert_eq!(lite, redis);
        assert_eq!(lite.len(), 3);
    }
}

/// Replicas get a renamed command under the name it was sent with, so a replica started with
/// the same renames applies it: redis-lite's stream to a real Redis replica, and Redis's to a
/// redis-lite replica.
#[test]
fn a_replica_with_the_same_renames_follows_its_master() {
    let renames = [
        "--save",
        "",
        "--rename-command",
        "SET",
        "myset",
        "--rename-command",
        "EXPIRE",
        "ex2",
        "--rename-command",
        "FLUSHALL",
        "",
    ];
    for (master, replica) in [
        (Program::Lite, Program::Redis),
        (Program::Redis, Program::Lite),
    ] {
        if !Program::Redis.available() {
            skipped("redis-server is not on PATH");
            return;
        }
        let set = Replicated::start(
            Launch::of(master)
                .args(&renames)
                .args(&["--repl-diskless-sync-delay", "0"]),
            vec![Launch::of(replica).args(&renames)],
        );
        let mut raw = set.master.raw();
        raw.expect_replies(&[
            (&["myset", "k", "v"], "+OK\r\n"),
            (&["ex2", "k", "100"], ":1\r\n"),
            (&["MySet", "k2", "v2"], "+OK\r\n"),
        ]);
        set.wait_replicated();
        let mut replica_raw = set.replicas[0].raw();
        replica_raw.expect_replies(&[
            (&["GET", "k"], "$1\r\nv\r\n"),
            (&["GET", "k2"], "$2\r\nv2\r\n"),
        ]);
        let ttl = replica_raw.cmd_text(&["TTL", "k"]);
        assert!(
            ttl.starts_with(":9") || ttl == ":100\r\n",
            "{master:?} → {replica:?}: {ttl}"
        );
    }
}
