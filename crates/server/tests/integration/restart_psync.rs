//! PSYNC after a restart: a server saves its place in the replication stream (`repl-id`,
//! `repl-offset`, `repl-stream-db`) in its snapshots, and on start-up takes it up again, as
//! Redis 7.0 does. A restarted replica continues with a partial sync (its master's `sync_full`
//! unchanged, `sync_partial_ok` one more), and so do the replicas of a restarted master (the
//! keys its load dropped as expired deleted on them, a chained replica taking up the new
//! replication ID); every pairing of redis-lite and real Redis is checked, and DEBUG DIGEST
//! agrees afterwards.

use std::time::Duration;

use redis_lite_testkit::{
    encode, info_field, skipped, wait_until, Launch, Program, Raw, Replicated, Server,
};

const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

/// A server of `program` with DEBUG, saving only when told to.
fn node(program: Program) -> Launch {
    let launch = Launch::of(program).args(&["--save", "", "--appendonly", "no"]);
    match program {
        Program::Lite => launch.args(&["--enable-debug-command", "yes"]),
        Program::Redis => launch,
    }
}

/// A master of `master` and one replica of `replica`, or None (the test is skipped).
fn pair(master: Program, replica: Program) -> Option<Replicated> {
    if !master.available() || !replica.available() {
        skipped("PSYNC after a restart needs redis-server");
        return None;
    }
    let master = node(master).args(&["--repl-diskless-sync-delay", "0"]);
    Some(Replicated::start(master, vec![node(replica)]))
}

fn stat(server: &Server, name: &str) -> u64 {
    info_field(&mut server.raw(), "stats", name)
        .parse()
        .unwrap()
}

#[track_caller]
fn ok(raw: &mut Raw, args: &[&str]) {
    let reply = raw.cmd_text(args);
    assert!(!reply.starts_with('-'), "{args:?}: {reply}");
}

/// Writes in two databases, so that the continued stream depends on the recorded database.
fn write(master: &Server, round: &str) {
    let mut raw = master.raw();
    ok(&mut raw, &["SET", &format!("plain:{round}"), round]);
    ok(&mut raw, &["INCR", "counter"]);
    ok(&mut raw, &["SELECT", "3"]);
    ok(&mut raw, &["RPUSH", "list", round]);
    ok(&mut raw, &["HSET", "hash", round, round]);
}

/// SHUTDOWN SAVE, then the same server again on its directory.
fn restart_saving(server: &mut Server) {
    server.raw().send(&encode(&[b"SHUTDOWN", b"SAVE"]));
    assert!(
        server.wait_exit(EXIT_TIMEOUT).is_some(),
        "the server did not exit"
    );
    server.restart();
}

fn assert_same_data(master: &Server, replica: &Server) {
    let digest = master.raw().cmd_text(&["DEBUG", "DIGEST"]);
    assert!(digest.starts_with('+'), "DEBUG DIGEST: {digest}");
    assert_eq!(digest, replica.raw().cmd_text(&["DEBUG", "DIGEST"]));
}

/// The replica stops (saving), the master takes writes meanwhile, the replica starts again and
/// continues where it stopped.
fn restarted_replica_continues(master: Program, replica: Program) {
    let Some(mut set) = pair(master, replica) else {
        return;
    };
    write(&set.master, "before");
    set.wait_replicated();
    let (full, partial) = (
        stat(&set.master, "sync_full"),
        stat(&set.master, "sync_partial_ok"),
    );
    restart_saving(&mut set.replicas[0]);
    write(&set.master, "while-down");
    set.wait_replicated();
    write(&set.master, "after");
    set.wait_replicated();
    assert_eq!(stat(&set.master, "sync_full"), full, "a full sync happened");
    assert_eq!(stat(&set.master, "sync_partial_ok"), partial + 1);
    assert_same_data(&set.master, &set.replicas[0]);
}

#[test]
fn a_restarted_lite_replica_of_a_lite_master_continues_with_a_partial_sync() {
    restarted_replica_continues(Program::Lite, Program::Lite);
}

#[test]
fn a_restarted_lite_replica_of_a_redis_master_continues_with_a_partial_sync() {
    restarted_replica_continues(Program::Redis, Program::Lite);
}

#[test]
fn a_restarted_redis_replica_of_a_lite_master_continues_with_a_partial_sync() {
    restarted_replica_continues(Program::Lite, Program::Redis);
}

/// The master stops (saving) and starts again: its former history is its replid2, with a
/// backlog from the saved offset, and its replica continues with it.
fn replica_continues_with_restarted_master(master: Program) {
    let Some(mut set) = pair(master, Program::Lite) else {
        return;
    };
    write(&set.master, "before");
    set.wait_replicated();
    let old_replid = info_field(&mut set.master.raw(), "replication", "master_replid");
    restart_saving(&mut set.master);
    let mut raw = set.master.raw();
    assert_eq!(
        info_field(&mut raw, "replication", "master_replid2"),
        old_replid
    );
    assert_eq!(
        info_field(&mut raw, "replication", "repl_backlog_active"),
        "1"
    );
    write(&set.master, "after");
    set.wait_replicated();
    assert_eq!(stat(&set.master, "sync_full"), 0, "a full sync happened");
    assert_eq!(stat(&set.master, "sync_partial_ok"), 1);
    assert_same_data(&set.master, &set.replicas[0]);
}

#[test]
fn a_replica_continues_with_its_restarted_lite_master() {
    replica_continues_with_restarted_master(Program::Lite);
}

#[test]
fn a_replica_continues_with_its_restarted_redis_master() {
    replica_continues_with_restarted_master(Program::Redis);
}

/// Keys whose TTL passed while the master was down are dropped by its load; Redis sends the
/// replicas a DEL for each in the continued stream, so they do not keep them (Redis's
/// integration/psync2-master-restart.tcl).
fn keys_expired_across_a_master_restart_are_deleted_on_its_replica(master: Program) {
    let Some(mut set) = pair(master, Program::Lite) else {
        return;
    };
    let mut raw = set.master.raw();
    ok(&mut raw, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for db in ["0", "5", "9"] {
        ok(&mut raw, &["SELECT", db]);
        ok(&mut raw, &["SET", "short", db, "PX", "50"]);
        ok(&mut raw, &["SET", "long", db]);
    }
    set.wait_replicated();
    // Past the TTLs, touching no key (a read would delete it before the restart).
    std::thread::sleep(Duration::from_millis(200));
    restart_saving(&mut set.master);
    let mut raw = set.master.raw();
    assert_eq!(
        info_field(&mut raw, "persistence", "rdb_last_load_keys_expired"),
        "3"
    );
    set.wait_replicated();
    assert_eq!(stat(&set.master, "sync_partial_ok"), 1);
    assert_same_data(&set.master, &set.replicas[0]);
}

#[test]
fn keys_expired_across_a_lite_master_restart_are_deleted_on_its_replica() {
    keys_expired_across_a_master_restart_are_deleted_on_its_replica(Program::Lite);
}

#[test]
fn keys_expired_across_a_redis_master_restart_are_deleted_on_its_replica() {
    keys_expired_across_a_master_restart_are_deleted_on_its_replica(Program::Redis);
}

/// CONFIG RESETSTAT zeroes the sync counters, as Redis's does (psync2-master-restart.tcl
/// counts the partial syncs after it).
#[test]
fn config_resetstat_zeroes_the_sync_counters() {
    for master in [Program::Lite, Program::Redis] {
        let Some(set) = pair(master, Program::Lite) else {
            continue;
        };
        assert_eq!(stat(&set.master, "sync_full"), 1, "{master:?}");
        ok(&mut set.master.raw(), &["CONFIG", "RESETSTAT"]);
        for counter in ["sync_full", "sync_partial_ok", "sync_partial_err"] {
            assert_eq!(stat(&set.master, counter), 0, "{master:?} {counter}");
        }
    }
}

/// A chained replica learns the new replication ID its master took from a restarted master:
/// the middle replica drops its own replicas when its master's ID changes, and they continue
/// with a partial sync (Redis's psync2-master-restart.tcl).
fn a_chained_replica_takes_up_the_new_replication_id(program: Program) {
    let Some(mut set) = pair(program, program) else {
        return;
    };
    let middle_port = set.replicas[0].port.to_string();
    let chained = node(program)
        .args(&["--replicaof", "127.0.0.1", &middle_port])
        .start();
    set.replicas.push(chained);
    write(&set.master, "before");
    set.wait_replicated();
    restart_saving(&mut set.master);
    write(&set.master, "after");
    set.wait_replicated();
    let replid = info_field(&mut set.master.raw(), "replication", "master_replid");
    let mut chained = set.replicas[1].raw();
    wait_until(
        "the chained replica to take the new ID",
        EXIT_TIMEOUT,
        || info_field(&mut chained, "replication", "master_replid") == replid,
    );
    assert_eq!(stat(&set.replicas[0], "sync_partial_ok"), 1);
    assert_same_data(&set.master, &set.replicas[1]);
}

#[test]
fn a_chained_lite_replica_takes_up_the_new_replication_id() {
    a_chained_replica_takes_up_the_new_replication_id(Program::Lite);
}

#[test]
fn a_chained_redis_replica_takes_up_the_new_replication_id() {
    a_chained_replica_takes_up_the_new_replication_id(Program::Redis);
}
