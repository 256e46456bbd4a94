//! The tuning parameters that act: `dynamic-hz` raises the cron's frequency with the number of
//! clients as Redis does (INFO's `hz`), and `rdb-del-sync-files` deletes the RDB file a
//! disk-based sync wrote, on the master and on the replica, where nothing else persists.

use redis_lite_testkit as testkit;

use std::time::Duration;

use testkit::{info_field, wait_until, Launch, Program, Replicated};

/// INFO's `hz` with 250 clients at `hz 1`, under `dynamic-hz yes` and then `no`.
fn hz_with_many_clients(program: Program) -> Vec<String> {
    let server = Launch::of(program).args(&["--hz", "1"]).start();
    let mut raw = server.raw();
    let mut seen = vec![info_field(&mut raw, "server", "hz")];
    let clients: Vec<_> = (0..250).map(|_| server.raw()).collect();
    // 251 clients over 200 per tick: doubled to 2 (251 / 2 is under 200).
    wait_until("the cron raises hz", Duration::from_secs(10), || {
        info_field(&mut raw, "server", "hz") == "2"
    });
    seen.push(info_field(&mut raw, "server", "hz"));
    seen.push(info_field(&mut raw, "server", "configured_hz"));
    raw.cmd(&["CONFIG", "SET", "dynamic-hz", "no"]);
    wait_until("the cron runs at hz again", Duration::from_secs(10), || {
        info_field(&mut raw, "server", "hz") == "1"
    });
    seen.push(info_field(&mut raw, "server", "hz"));
    drop(clients);
    seen
}

#[test]
fn dynamic_hz_follows_the_number_of_clients_as_redis() {
    let lite = hz_with_many_clients(Program::Lite);
    assert_eq!(lite, ["1", "2", "1", "1"]);
    if Program::Redis.available() {
        assert_eq!(hz_with_many_clients(Program::Redis), lite);
    }
}

/// Whether the master's and the replica's `dump.rdb` remain after a disk-based full sync.
fn sync_files_left(program: Program, delete: &str) -> (bool, bool) {
    let no_persistence = [
        "--save",
        "",
        "--appendonly",
        "no",
        "--rdb-del-sync-files",
        delete,
    ];
    let master = Launch::of(program).args(&no_persistence).args(&[
        "--repl-diskless-sync",
        "no",
        "--repl-diskless-sync-delay",
        "0",
    ]);
    let replica = Launch::of(program)
        .args(&no_persistence)
        .args(&["--repl-diskless-load", "disabled"]);
    let set = Replicated::start(master, vec![replica]);
    set.master.raw().cmd(&["SET", "k", "v"]);
    set.wait_replicated();
    let replica_file = set.replicas[0].dir.join("dump.rdb");
    let master_file = set.master.dir.join("dump.rdb");
    if delete == "yes" {
        wait_until(
            "the master deletes its sync file",
            Duration::from_secs(10),
            || !master_file.exists(),
        );
    }
    (master_file.exists(), replica_file.exists())
}

#[test]
fn rdb_del_sync_files_deletes_what_a_sync_wrote_without_persistence() {
    assert_eq!(sync_files_left(Program::Lite, "no"), (true, true));
    assert_eq!(sync_files_left(Program::Lite, "yes"), (false, false));
    if Program::Redis.available() {
        assert_eq!(sync_files_left(Program::Redis, "yes"), (false, false));
        assert_eq!(sync_files_left(Program::Redis, "no"), (true, true));
    }
}
