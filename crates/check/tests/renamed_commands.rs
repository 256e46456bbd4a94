//! AOFs of servers with `rename-command`: their commands are logged under the new names.
//! `aof` checks them as redis-check-aof does, without executing anything, so renames do not
//! matter to it; `export --json` replays them and takes the server's config file
//! (`--config`) for the renames. Checked on a hand-made AOF directory and on one real Redis
//! wrote with renamed commands.
mod common;

use std::path::Path;

use common::{run, stderr, stdout};
use redis_lite_persist::aof::encode_command;
use redis_lite_testkit::{installed, skipped, DataDir, Launch};

const RENAMES: &str = "rename-command SET myset\nrename-command RPUSH addtail\n";

/// `export --json` of the AOF directory `aof_dir`, with the config file `config` if any.
fn export(aof_dir: &Path, config: Option<&Path>) -> std::process::Output {
    match config {
        Some(config) => run(&[&"export", &"--json", &aof_dir, &"--config", &config]),
        None => run(&[&"export", &"--json", &aof_dir]),
    }
}

/// Checks `aof_dir` (written under [`RENAMES`], holding `greeting` = "hello" and `tail` =
/// ["a", "b"]) with and without the config file.
fn check_renamed_aof(aof_dir: &Path, dir: &DataDir) {
    let checked = run(&[&"aof", &aof_dir]);
    assert!(checked.status.success(), "{}", stderr(&checked));
    let without = export(aof_dir, None);
    assert!(!without.status.success());
    assert!(
        stderr(&without).contains("Unknown command 'myset' reading the append only file"),
        "{}",
        stderr(&without)
    );
    let config = dir.join("renames.conf");
    std::fs::write(&config, RENAMES).unwrap();
    let with = export(aof_dir, Some(&config));
    assert!(with.status.success(), "{}", stderr(&with));
    let mut lines: Vec<String> = stdout(&with).lines().map(str::to_string).collect();
    lines.sort();
    assert_eq!(
        lines,
        [
            r#"{"db":0,"key":"greeting","type":"string","value":"hello","expire_at_ms":null}"#,
            r#"{"db":0,"key":"tail","type":"list","value":["a","b"],"expire_at_ms":null}"#,
        ]
    );
    // A config file the server would refuse is refused here too, naming its line.
    std::fs::write(&config, "rename-command NOSUCH x\n").unwrap();
    let refused = export(aof_dir, Some(&config));
    assert!(!refused.status.success());
    assert!(
        stderr(&refused)
            .contains(":1: 'rename-command NOSUCH x': No such command in rename-command"),
        "{}",
        stderr(&refused)
    );
}

#[test]
fn an_aof_with_renamed_commands_is_checked_and_exported_with_the_servers_config() {
    let dir = DataDir::new("check-renamed");
    let aof_dir = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof_dir).unwrap();
    let mut incr = Vec::new();
    encode_command(&mut incr, &["SELECT", "0"]);
    encode_command(&mut incr, &["myset", "greeting", "hello"]);
    encode_command(&mut incr, &["addtail", "tail", "a", "b"]);
    std::fs::write(aof_dir.join("appendonly.aof.1.base.aof"), b"").unwrap();
    std::fs::write(aof_dir.join("appendonly.aof.1.incr.aof"), &incr).unwrap();
    std::fs::write(
        aof_dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    check_renamed_aof(&aof_dir, &dir);
}

#[test]
fn an_aof_real_redis_wrote_with_renamed_commands_exports_with_its_config() {
    if !installed("redis-server") {
        skipped("redis-server is not on PATH");
        return;
    }
    let dir = DataDir::new("check-renamed-redis");
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let redis = Launch::redis()
        .dir(&data)
        .durable()
        .args(&["--rename-command", "SET", "myset"])
        .args(&["--rename-command", "RPUSH", "addtail"])
        .start();
    let mut raw = redis.raw();
    assert_eq!(raw.cmd_text(&["myset", "greeting", "hello"]), "+OK\r\n");
    assert_eq!(raw.cmd_text(&["addtail", "tail", "a", "b"]), ":2\r\n");
    drop(raw);
    drop(redis);
    check_renamed_aof(&data.join("appendonlydir"), &dir);
}
