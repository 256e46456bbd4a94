//! AOF rewriting as aofrw.tcl checks it, on both servers: the base of a dataset without keys,
//! a rewrite killed when AOF is switched off, and INFO's view of a rewrite queued behind a
//! BGSAVE.

use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{info_field, wait_until, DataDir, Raw, Server};

fn rewrite_running(raw: &mut Raw) -> bool {
    info_field(raw, "persistence", "aof_rewrite_in_progress") == "1"
        || info_field(raw, "persistence", "aof_rewrite_scheduled") == "1"
}

fn wait_for_rewrite(raw: &mut Raw) {
    wait_until("the rewrite ends", Duration::from_secs(30), || {
        !rewrite_running(raw)
    });
}

/// "AOF rewrite functions": a command-form base of a dataset holding functions and no key
/// keeps the functions (redis-lite's base was empty).
#[test]
fn a_base_without_keys_keeps_the_functions() {
    let args = [
        "--aof-use-rdb-preamble",
        "no",
        "--enable-debug-command",
        "yes",
    ];
    for (which, server) in Server::lite_and_redis(&args) {
        let mut raw = server.raw();
        raw.ok(&[
            b"FUNCTION",
            b"LOAD",
            b"#!lua name=test\nredis.register_function('test', function() return 1 end)",
        ]);
        raw.ok(&[b"BGREWRITEAOF"]);
        wait_for_rewrite(&mut raw);
        raw.ok(&[b"FUNCTION", b"FLUSH"]);
        raw.ok(&[b"DEBUG", b"LOADAOF"]);
        assert_eq!(raw.cmd_text(&["FCALL", "test", "0"]), ":1\r\n", "{which}");
    }
}

/// "Turning off AOF kills the background writing child if any": a rewrite slowed by
/// `rdb-key-save-delay` (which redis-lite's command-form base ignored) is killed when AOF is
/// switched off, with Redis's log line, and not counted as a failure.
#[test]
fn switching_aof_off_kills_a_running_rewrite() {
    let dir = DataDir::new("aof-rewrite-killed");
    for program in ["lite", "redis"] {
        let log = dir.join(&format!("{program}.log"));
        let args = [
            "--aof-use-rdb-preamble",
            "no",
            "--logfile",
            log.to_str().unwrap(),
        ];
        let server = match program {
            "lite" => Server::lite(&args),
            _ => match Server::redis(&args) {
                Some(server) => server,
                None => continue,
            },
        };
        let mut raw = server.raw();
        raw.ok(&[b"CONFIG", b"SET", b"appendonly", b"yes"]);
        wait_for_rewrite(&mut raw);
        raw.ok(&[b"SET", b"k", b"v"]);
        raw.ok(&[b"CONFIG", b"SET", b"rdb-key-save-delay", b"100000000"]);
        raw.ok(&[b"BGREWRITEAOF"]);
        raw.ok(&[b"CONFIG", b"SET", b"appendonly", b"no"]);
        wait_until("the rewrite is killed", Duration::from_secs(10), || {
            std::fs::read_to_string(&log)
                .unwrap()
                .contains("Killing running AOF rewrite child")
        });
        wait_for_rewrite(&mut raw);
        assert_eq!(
            info_field(&mut raw, "persistence", "aof_last_bgrewrite_status"),
            "ok",
            "{program}"
        );
        raw.ok(&[b"CONFIG", b"SET", b"rdb-key-save-delay", b"0"]);
    }
}

/// "BGREWRITEAOF is delayed if BGSAVE is in progress": the rewrite is scheduled, not in
/// progress, until the BGSAVE ends (redis-lite showed it in progress at once).
#[test]
fn a_rewrite_behind_a_bgsave_is_scheduled() {
    for (which, server) in Server::lite_and_redis(&[]) {
        let mut raw = server.raw();
        raw.ok(&[b"SET", b"k", b"v"]);
        raw.ok(&[b"CONFIG", b"SET", b"rdb-key-save-delay", b"1000000"]);
        raw.ok(&[b"BGSAVE"]);
        assert_eq!(
            raw.cmd_text(&["BGREWRITEAOF"]),
            "+Background append only file rewriting scheduled\r\n",
            "{which}"
        );
        let persistence = |raw: &mut Raw, name| info_field(raw, "persistence", name);
        assert_eq!(
            persistence(&mut raw, "aof_rewrite_scheduled"),
            "1",
            "{which}"
        );
        assert_eq!(
            persistence(&mut raw, "aof_rewrite_in_progress"),
            "0",
            "{which}"
        );
        raw.ok(&[b"CONFIG", b"SET", b"rdb-key-save-delay", b"0"]);
        wait_for_rewrite(&mut raw);
    }
}
