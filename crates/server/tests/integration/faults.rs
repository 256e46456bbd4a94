//! Faults (issue 21, section 3): a full disk under SAVE, BGSAVE, the AOF's writes and its
//! rewrite (a real one: a small tmpfs filled up, compared with real Redis in the same
//! scenario); I/O errors and failed or stuck fsyncs (injected with `DEBUG FAULT`, which only
//! debug builds have: see the server's `faults` module); `kill -9` during BGREWRITEAOF and a
//! replica's full sync under `appendfsync always`; and the wall clock stepping back and forth.
//! Every scenario ends by checking that no acknowledged write was lost.

use redis_lite_testkit as testkit;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use testkit::{encode, info_field, wait_until, DataDir, Launch, Program, Raw, Server};

/// How long a persistence state change may take on a loaded machine (the AOF's retries and
/// fsyncs run once a second).
const SETTLE: Duration = Duration::from_secs(30);

/// A small tmpfs mounted for one test, which the test can fill to the last byte; unmounted
/// when dropped (after the server using it, declared later, is gone).
struct Tmpfs {
    dir: DataDir,
}

impl Tmpfs {
    /// Mounts one, or says the test is skipped when this user cannot mount (not root, or a
    /// container without the capability).
    fn mount(tag: &str) -> Option<Tmpfs> {
        let dir = DataDir::new(tag);
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "tmpfs", dir.path()])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            testkit::skipped("cannot mount a tmpfs here (needs root)");
            return None;
        }
        Some(Tmpfs { dir })
    }

    fn filler(&self) -> std::path::PathBuf {
        self.dir.join("filler")
    }

    /// Takes every free byte.
    fn fill(&self) {
        let mut file = std::fs::File::create(self.filler()).unwrap();
        let chunk = vec![0u8; 4096];
        while file.write_all(&chunk).is_ok() {}
        let _ = file.sync_all();
    }

    /// Gives the space back.
    fn free(&self) {
        std::fs::remove_file(self.filler()).unwrap();
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .args(["-l", self.dir.path()])
            .stderr(Stdio::null())
            .status();
    }
}

/// `program` working in `dir` with `args`, logging to `log` (outside `dir`, which may be full).
fn start(program: Program, dir: &DataDir, log: &DataDir, args: &[&str]) -> Server {
    let logfile = log.join("server.log");
    Launch::of(program)
        .dir(&dir.0)
        .args(&["--logfile", logfile.to_str().unwrap()])
        .args(&["--enable-debug-command", "yes"])
        .args(args)
        .start()
}

fn log_text(log: &DataDir) -> String {
    std::fs::read_to_string(log.join("server.log")).unwrap_or_default()
}

fn persistence(raw: &mut Raw, field: &str) -> String {
    info_field(raw, "persistence", field)
}

/// Waits until INFO persistence's `field` reads `value`.
fn wait_persistence(raw: &mut Raw, field: &str, value: &str) {
    wait_until(&format!("{field}:{value}"), SETTLE, || {
        persistence(raw, field) == value
    });
}

/// A script flagged to write: refused as any write is, before it runs.
const WRITING_SCRIPT: &str = "#!lua\nreturn redis.call('set','x','1')";
/// A script without flags: its write is refused inside it.
const UNFLAGGED_WRITING_SCRIPT: &str = "return redis.call('set','x','1')";
/// The script error Redis appends to a refusal inside UNFLAGGED_WRITING_SCRIPT.
const UNFLAGGED_SCRIPT_AT: &str =
    " script: 8b2ae6dd76cda7fc3e27f97431ae27d7b08a221d, on @user_script:1.\r\n";

/// A value larger than the file system's page.
const LARGE: usize = 20_000;

/// The AOF on a disk that fills up under `everysec`, on `program`: the replies a client sees
/// while it is full, and after space returns. A write sent while the disk fills is
/// acknowledged once it is on file (redis-lite) or at once (Redis, whose retry then writes it):
/// either way it is there after a `kill -9` and a restart.
fn aof_on_a_full_disk(program: Program) -> Option<Vec<String>> {
    let log = DataDir::new("faults-log");
    let disk = Tmpfs::mount("faults-aof-full")?;
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "everysec",
        "--save",
        "",
    ];
    let mut server = start(program, &disk.dir, &log, &args);
    let mut raw = server.raw();
    let mut seen = vec![raw.cmd_text(&["SET", "before", "1"])];
    // The base written at start-up is not a rewrite.
    for field in ["aof_rewrites", "aof_last_rewrite_time_sec"] {
        seen.push(persistence(&mut raw, field));
    }
    disk.fill();
    // Larger than a page, so it cannot land in the space left in the file's last one.
    let mut pending = server.raw();
    pending.send(&encode(&[b"SET", b"during", &[b'x'; LARGE]]));
    wait_persistence(&mut raw, "aof_last_write_status", "err");
    for command in [
        &["SET", "refused", "1"][..],
        &["PING"],
        &["GET", "before"],
        &["EVAL", WRITING_SCRIPT, "0"],
        &["EVAL", UNFLAGGED_WRITING_SCRIPT, "0"],
        &["INCR", "before"],
    ] {
        seen.push(raw.cmd_text(command));
    }
    disk.free();
    wait_persistence(&mut raw, "aof_last_write_status", "ok");
    seen.push(String::from_utf8_lossy(&pending.read_reply()).into_owned());
    seen.push(raw.cmd_text(&["SET", "after", "1"]));
    // Redis may answer before its AOF write (under `everysec` it postpones the write while a
    // background fsync is still running, as after the full disk here): wait until it is on
    // file before the `kill -9` (redis-lite answers only after it).
    wait_persistence(&mut raw, "aof_buffer_length", "0");
    server.restart();
    let mut raw = server.raw();
    for key in ["before", "after"] {
        assert_eq!(raw.cmd_text(&["GET", key]), "$1\r\n1\r\n", "{key} was lost");
    }
    assert_eq!(raw.cmd_text(&["STRLEN", "during"]), format!(":{LARGE}\r\n"));
    assert!(
        log_text(&log).contains("AOF write error looks solved, Redis can write again."),
        "{}",
        log_text(&log)
    );
    Some(seen)
}

#[test]
fn a_full_disk_refuses_writes_after_an_aof_write_error_as_redis_does() {
    let Some(lite) = aof_on_a_full_disk(Program::Lite) else {
        return;
    };
    let misconf = "-MISCONF Errors writing to the AOF file: No space left on device";
    let refused = format!("{misconf}\r\n");
    let in_script = format!("{misconf}{UNFLAGGED_SCRIPT_AT}");
    assert_eq!(
        lite,
        [
            "+OK\r\n",
            "0",
            "-1",
            &refused,
            &refused,
            "$1\r\n1\r\n",
            &refused,
            &in_script,
            &refused,
            "+OK\r\n",
            "+OK\r\n"
        ]
    );
    if !Program::Redis.available() {
        testkit::skipped("redis-server is not on PATH");
        return;
    }
    assert_eq!(aof_on_a_full_disk(Program::Redis).unwrap(), lite);
}

/// BGSAVE (and SAVE) on a full disk, on `program`, with `save` rules and
/// `stop-writes-on-bgsave-error yes`: the replies while writes are refused, then after a
/// BGSAVE succeeds again.
fn bgsave_on_a_full_disk(program: Program) -> Option<Vec<String>> {
    let log = DataDir::new("faults-log");
    let disk = Tmpfs::mount("faults-rdb-full")?;
    let args = ["--appendonly", "no", "--save", "900 1"];
    let server = start(program, &disk.dir, &log, &args);
    let mut raw = server.raw();
    let mut seen = vec![raw.cmd_text(&["SET", "before", "1"])];
    disk.fill();
    seen.push(raw.cmd_text(&["BGSAVE"]));
    wait_persistence(&mut raw, "rdb_last_bgsave_status", "err");
    testkit::wait_background_jobs(&server);
    for command in [
        &["SET", "refused", "1"][..],
        &["PING"],
        &["GET", "before"],
        &["EVAL", WRITING_SCRIPT, "0"],
        &["EVAL", UNFLAGGED_WRITING_SCRIPT, "0"],
        &["SAVE"],
    ] {
        seen.push(raw.cmd_text(command));
    }
    disk.free();
    seen.push(raw.cmd_text(&["BGSAVE"]));
    wait_persistence(&mut raw, "rdb_last_bgsave_status", "ok");
    seen.push(raw.cmd_text(&["SET", "after", "1"]));
    Some(seen)
}

#[test]
fn a_full_disk_fails_bgsave_and_refuses_writes_until_one_succeeds_as_redis_does() {
    let Some(lite) = bgsave_on_a_full_disk(Program::Lite) else {
        return;
    };
    let misconf = "-MISCONF Redis is configured to save RDB snapshots, but it's currently unable \
                   to persist to disk. Commands that may modify the data set are disabled, because \
                   this instance is configured to report errors during writes if RDB snapshotting \
                   fails (stop-writes-on-bgsave-error option). Please check the Redis logs for \
                   details about the RDB error.";
    let refused = format!("{misconf}\r\n");
    let in_script = format!("{misconf}{UNFLAGGED_SCRIPT_AT}");
    assert_eq!(
        lite,
        [
            "+OK\r\n",
            "+Background saving started\r\n",
            &refused,
            &refused,
            "$1\r\n1\r\n",
            &refused,
            &in_script,
            "-ERR\r\n",
            "+Background saving started\r\n",
            "+OK\r\n"
        ]
    );
    if !Program::Redis.available() {
        testkit::skipped("redis-server is not on PATH");
        return;
    }
    assert_eq!(bgsave_on_a_full_disk(Program::Redis).unwrap(), lite);
}

/// BGREWRITEAOF on a full disk, on `program`: Redis lists the rewrite's new incremental file
/// in the manifest before it answers, so it refuses at once, and the AOF goes on in its current
/// file; a rewrite once space is back succeeds, and no acknowledged write is lost across a
/// restart. Returns the replies and INFO fields seen.
fn bgrewriteaof_on_a_full_disk(program: Program) -> Option<Vec<String>> {
    let log = DataDir::new("faults-log");
    let disk = Tmpfs::mount("faults-rewrite-full")?;
    let args = ["--appendonly", "yes", "--appendfsync", "everysec"];
    let mut server = start(program, &disk.dir, &log, &args);
    let mut raw = server.raw();
    for i in 0..100 {
        assert_eq!(raw.cmd_text(&["SET", &format!("key:{i}"), "x"]), "+OK\r\n");
    }
    disk.fill();
    let mut seen = vec![raw.cmd_text(&["BGREWRITEAOF"])];
    for field in [
        "aof_rewrite_in_progress",
        "aof_last_bgrewrite_status",
        "aof_last_write_status",
        "aof_rewrites",
    ] {
        seen.push(persistence(&mut raw, field));
    }
    seen.push(raw.cmd_text(&["GET", "key:7"]));
    assert!(
        log_text(&log).contains(
            "Error trying to write the temporary AOF manifest file temp-appendonly.aof.manifest: \
             No space left on device"
        ),
        "{}",
        log_text(&log)
    );
    disk.free();
    seen.push(raw.cmd_text(&["SET", "after", "1"]));
    seen.push(raw.cmd_text(&["BGREWRITEAOF"]));
    testkit::wait_rewrite_ok(&server);
    server.restart();
    let mut raw = server.raw();
    seen.push(raw.cmd_text(&["DBSIZE"]));
    seen.push(raw.cmd_text(&["GET", "after"]));
    Some(seen)
}

/// Also a regression test: when a rewrite's cut came while the disk was full, the new
/// incremental file was listed in the manifest in memory although writing the manifest had
/// failed; the retry then took it as listed, and every write after the disk recovered went to
/// a file the manifest on disk did not name: lost at the next start.
#[test]
fn bgrewriteaof_on_a_full_disk_is_refused_at_once_as_redis_does() {
    let Some(lite) = bgrewriteaof_on_a_full_disk(Program::Lite) else {
        return;
    };
    assert_eq!(
        lite,
        [
            "-ERR Can't execute an AOF background rewriting. Please check the server logs for \
             more information.\r\n",
            "0",
            "err",
            "ok",
            "0",
            "$1\r\nx\r\n",
            "+OK\r\n",
            "+Background append only file rewriting started\r\n",
            ":101\r\n",
            "$1\r\n1\r\n",
        ]
    );
    if !Program::Redis.available() {
        testkit::skipped("redis-server is not on PATH");
        return;
    }
    assert_eq!(bgrewriteaof_on_a_full_disk(Program::Redis).unwrap(), lite);
}

/// redis-lite with the AOF on and DEBUG on, its data directory and its log.
struct Faulty {
    server: Server,
    log: DataDir,
    _data: DataDir,
}

/// [`Faulty`] under `appendfsync policy`, or None (the test skipped) when this build has no
/// fault switch (a release build).
fn lite_with_faults(tag: &str, policy: &str) -> Option<Faulty> {
    let (log, data) = (DataDir::new("faults-log"), DataDir::new(tag));
    let args = ["--appendonly", "yes", "--appendfsync", policy];
    let server = start(Program::Lite, &data, &log, &args);
    if server
        .raw()
        .cmd_text(&["DEBUG", "FAULT", "aof-write", "off"])
        != "+OK\r\n"
    {
        testkit::skipped("this build has no fault switch (release builds do not)");
        return None;
    }
    Some(Faulty {
        server,
        log,
        _data: data,
    })
}

#[test]
fn an_aof_write_io_error_refuses_writes_until_a_retry_succeeds() {
    let Some(mut faulty) = lite_with_faults("faults-eio", "everysec") else {
        return;
    };
    let (server, log) = (&mut faulty.server, &faulty.log);
    let mut raw = server.raw();
    raw.expect_replies(&[
        (&["SET", "before", "1"], "+OK\r\n"),
        (&["DEBUG", "FAULT", "aof-write", "eio"], "+OK\r\n"),
    ]);
    let mut pending = server.raw();
    pending.send(&encode(&[b"SET", b"during", b"1"]));
    wait_persistence(&mut raw, "aof_last_write_status", "err");
    let misconf = "-MISCONF Errors writing to the AOF file: Input/output error\r\n";
    raw.expect_replies(&[
        (&["SET", "refused", "1"], misconf),
        (&["PING"], misconf),
        (&["EVAL", WRITING_SCRIPT, "0"], misconf),
        (&["GET", "before"], "$1\r\n1\r\n"),
        (&["DEBUG", "FAULT", "aof-write", "off"], "+OK\r\n"),
    ]);
    assert_eq!(pending.read_reply(), b"+OK\r\n");
    wait_persistence(&mut raw, "aof_last_write_status", "ok");
    raw.expect_replies(&[(&["SET", "after", "1"], "+OK\r\n")]);
    let text = log_text(log);
    assert!(
        text.contains("Error writing to the AOF file: Input/output error"),
        "{text}"
    );
    server.restart();
    let mut raw = server.raw();
    for key in ["before", "during", "after"] {
        assert_eq!(raw.cmd_text(&["GET", key]), "$1\r\n1\r\n", "{key} was lost");
    }
    assert_eq!(raw.cmd_text(&["EXISTS", "refused"]), ":0\r\n");
}

#[test]
fn a_failed_background_fsync_refuses_writes_until_one_succeeds() {
    let Some(faulty) = lite_with_faults("faults-fsync", "everysec") else {
        return;
    };
    let (server, log) = (&faulty.server, &faulty.log);
    let mut raw = server.raw();
    raw.expect_replies(&[
        (&["DEBUG", "FAULT", "aof-fsync", "eio"], "+OK\r\n"),
        (&["SET", "synced-later", "1"], "+OK\r\n"),
    ]);
    wait_persistence(&mut raw, "aof_last_write_status", "err");
    let misconf = "-MISCONF Errors writing to the AOF file: Input/output error\r\n";
    raw.expect_replies(&[
        (&["SET", "refused", "1"], misconf),
        (&["GET", "synced-later"], "$1\r\n1\r\n"),
        (&["DEBUG", "FAULT", "aof-fsync", "off"], "+OK\r\n"),
    ]);
    wait_persistence(&mut raw, "aof_last_write_status", "ok");
    raw.expect_replies(&[(&["SET", "after", "1"], "+OK\r\n")]);
    let text = log_text(log);
    assert!(
        text.contains("Fail to fsync the AOF file: Input/output error"),
        "{text}"
    );
}

/// Under `appendfsync always` a failed fsync stops the server, as Redis stops: the write it
/// was for is never acknowledged.
#[test]
fn a_failed_fsync_under_always_stops_the_server_before_acknowledging() {
    let Some(mut faulty) = lite_with_faults("faults-always-fsync", "always") else {
        return;
    };
    let (server, log) = (&mut faulty.server, &faulty.log);
    let mut raw = server.raw();
    raw.expect_replies(&[
        (&["SET", "before", "1"], "+OK\r\n"),
        (&["DEBUG", "FAULT", "aof-fsync", "eio"], "+OK\r\n"),
    ]);
    raw.send(&encode(&[b"SET", b"unacknowledged", b"1"]));
    assert!(raw.is_closed(), "the write was answered");
    assert!(server
        .wait_exit(SETTLE)
        .is_some_and(|status| !status.success()));
    let text = log_text(log);
    assert!(
        text.contains(
            "Can't persist AOF for fsync error when the AOF fsync policy is 'always': \
             Input/output error. Exiting..."
        ),
        "{text}"
    );
    server.restart();
    assert_eq!(server.raw().cmd_text(&["GET", "before"]), "$1\r\n1\r\n");
}

/// SAVE and BGSAVE failing with an I/O error: SAVE answers `-ERR`, a failed BGSAVE refuses
/// writes only with `save` rules set (`stop-writes-on-bgsave-error` needs them, as in Redis),
/// and the next successful BGSAVE lifts the refusal.
#[test]
fn a_snapshot_io_error_refuses_writes_only_with_save_rules() {
    let Some(faulty) = lite_with_faults("faults-rdb-eio", "everysec") else {
        return;
    };
    let (server, log) = (&faulty.server, &faulty.log);
    let mut raw = server.raw();
    raw.expect_replies(&[
        (&["CONFIG", "SET", "save", ""], "+OK\r\n"),
        (&["DEBUG", "FAULT", "rdb-save", "eio"], "+OK\r\n"),
        (&["SAVE"], "-ERR\r\n"),
        (&["BGSAVE"], "+Background saving started\r\n"),
    ]);
    wait_persistence(&mut raw, "rdb_last_bgsave_status", "err");
    testkit::wait_background_jobs(server);
    raw.expect_replies(&[
        (&["SET", "accepted", "1"], "+OK\r\n"),
        (&["CONFIG", "SET", "save", "900 1"], "+OK\r\n"),
    ]);
    assert!(raw
        .cmd_text(&["SET", "refused", "1"])
        .starts_with("-MISCONF Redis is configured to save RDB snapshots"));
    raw.expect_replies(&[
        (&["DEBUG", "FAULT", "rdb-save", "off"], "+OK\r\n"),
        (&["BGSAVE"], "+Background saving started\r\n"),
    ]);
    wait_persistence(&mut raw, "rdb_last_bgsave_status", "ok");
    raw.expect_replies(&[(&["SET", "after", "1"], "+OK\r\n")]);
    assert!(log_text(log).contains("Background saving error: Input/output error"));
}

/// A background fsync that does not return (the hook holds it until released): under
/// `everysec` writes wait for it up to two seconds, then go ahead (`aof_delayed_fsync`), as
/// Redis's do; other clients are answered all along, while the fsync is still stuck.
#[test]
fn a_stuck_fsync_under_everysec_stalls_no_event_loop() {
    let Some(faulty) = lite_with_faults("faults-slow-fsync", "everysec") else {
        return;
    };
    let (server, log) = (&faulty.server, &faulty.log);
    let mut raw = server.raw();
    raw.expect_replies(&[(&["DEBUG", "FAULT", "aof-fsync", "stall"], "+OK\r\n")]);
    // A write, then (within a second) the background fsync of it, which sticks.
    let mut n = 0;
    wait_until("a background fsync in progress", SETTLE, || {
        n += 1;
        assert_eq!(raw.cmd_text(&["SET", "k", &n.to_string()]), "+OK\r\n");
        persistence(&mut raw, "aof_pending_bio_fsync") == "1"
    });
    let mut writer = server.raw();
    writer.send(&encode(&[b"SET", b"late", b"1"]));
    let mut other = server.raw();
    assert_eq!(other.cmd_text(&["PING"]), "+PONG\r\n");
    assert_eq!(
        other.cmd_text(&["GET", "k"]),
        format!("${}\r\n{n}\r\n", n.to_string().len())
    );
    // The postponed write goes ahead after two seconds, the fsync still stuck.
    assert_eq!(writer.read_reply(), b"+OK\r\n");
    assert_eq!(persistence(&mut raw, "aof_pending_bio_fsync"), "1");
    assert_ne!(persistence(&mut raw, "aof_delayed_fsync"), "0");
    assert_eq!(other.cmd_text(&["PING"]), "+PONG\r\n");
    let text = log_text(log);
    assert!(
        text.contains(
            "Asynchronous AOF fsync is taking too long (disk is busy?). Writing the AOF buffer \
             without waiting for fsync to complete, this may slow down Redis."
        ),
        "{text}"
    );
    raw.expect_replies(&[(&["DEBUG", "FAULT", "aof-fsync", "off"], "+OK\r\n")]);
    wait_persistence(&mut raw, "aof_pending_bio_fsync", "0");
    raw.expect_replies(&[(&["SET", "after", "1"], "+OK\r\n")]);
}

fn pttl(raw: &mut Raw, key: &str) -> i64 {
    let reply = raw.cmd_text(&["PTTL", key]);
    reply.trim()[1..].parse().unwrap()
}

/// The wall clock stepping back an hour and forward again: a key found expired stays gone, an
/// unread key past its deadline does not come back, TTLs go on counting down in real time
/// (neither frozen nor an hour longer), and a step forward that undoes the step back expires
/// nothing. A genuine step forward is followed, as Redis follows it (expiry times are
/// absolute). See `redis_lite_engine::now_ms`.
#[test]
fn wall_clock_steps_neither_resurrect_keys_nor_expire_them_early() {
    let Some(faulty) = lite_with_faults("faults-clock", "everysec") else {
        return;
    };
    let mut raw = faulty.server.raw();
    raw.expect_replies(&[
        (&["DEBUG", "SET-ACTIVE-EXPIRE", "0"], "+OK\r\n"),
        (&["SET", "unread", "v", "PX", "100"], "+OK\r\n"),
        (&["SET", "read", "v", "PX", "100"], "+OK\r\n"),
        (&["SET", "long", "v", "EX", "1000"], "+OK\r\n"),
    ]);
    wait_until("the short keys to expire", SETTLE, || {
        raw.cmd_text(&["EXISTS", "read"]) == ":0\r\n"
    });
    raw.expect_replies(&[
        (&["DEBUG", "FAULT", "clock-step", "-3600000"], "+OK\r\n"),
        (&["EXISTS", "read"], ":0\r\n"),
        (&["EXISTS", "unread"], ":0\r\n"),
        (&["SET", "fresh", "v", "PX", "300"], "+OK\r\n"),
    ]);
    let left = pttl(&mut raw, "long");
    assert!((900_000..=1_000_000).contains(&left), "PTTL long {left}");
    wait_until("a key set after the step back to expire", SETTLE, || {
        raw.cmd_text(&["EXISTS", "fresh"]) == ":0\r\n"
    });
    // Undoing the step: nothing expires.
    raw.expect_replies(&[(&["DEBUG", "FAULT", "clock-step", "3600000"], "+OK\r\n")]);
    let after_undo = pttl(&mut raw, "long");
    assert!(
        (900_000..=left).contains(&after_undo),
        "PTTL long {after_undo} after {left}"
    );
    // A step forward of its own is followed.
    raw.expect_replies(&[(&["DEBUG", "FAULT", "clock-step", "500000"], "+OK\r\n")]);
    // Give or take the few milliseconds of lead left from undoing the step back, taken back
    // now.
    let stepped = pttl(&mut raw, "long");
    assert!(
        (after_undo - 600_000..=after_undo - 499_000).contains(&stepped),
        "PTTL long {stepped} after {after_undo}"
    );
}

/// Fills `server` with `keys` keys in one pipeline.
fn populate(server: &Server, keys: usize) {
    let mut c = server.client();
    let mut pipe = redis::pipe();
    for i in 0..keys {
        pipe.cmd("SET").arg(format!("key:{i}")).arg(i).ignore();
    }
    pipe.query::<()>(&mut c).unwrap();
}

fn wait_info(server: &Server, section: &str, field: &str, value: &str) {
    let mut raw = server.raw();
    wait_until(&format!("{field}:{value}"), SETTLE, || {
        info_field(&mut raw, section, field) == value
    });
}

/// `kill -9` while BGREWRITEAOF writes a new base (slowed down per key) and four clients write
/// under `appendfsync always`: after the restart every acknowledged write and every key is
/// there.
#[test]
fn kill9_during_bgrewriteaof_loses_no_acknowledged_write() {
    let data = DataDir::new("faults-rewrite-kill9");
    let mut server = Launch::lite()
        .dir(&data.0)
        .durable()
        .args(&["--rdb-key-save-delay", "200"])
        .start();
    populate(&server, 5000);
    let stop = Arc::new(AtomicBool::new(false));
    let writers = testkit::counter_writers(&server, 4, &stop);
    let mut raw = server.raw();
    assert_eq!(
        raw.cmd_text(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    wait_info(&server, "persistence", "aof_rewrite_in_progress", "1");
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    server.restart();
    testkit::assert_acknowledged_writes_survived(&server, &acked, 0);
    let mut raw = server.raw();
    for i in [0, 2500, 4999] {
        let value = i.to_string();
        assert_eq!(
            raw.cmd_text(&["GET", &format!("key:{i}")]),
            format!("${}\r\n{value}\r\n", value.len())
        );
    }
}

fn digest(server: &Server) -> String {
    server.raw().cmd_text(&["DEBUG", "DIGEST"])
}

/// `kill -9` of the master during a replica's full sync (the snapshot slowed down per key)
/// with clients writing under `appendfsync always`, then of the replica during the full sync
/// that follows the master's restart: nothing the master acknowledged is lost, and the replica
/// ends equal to the master (DEBUG DIGEST).
#[test]
fn kill9_during_a_full_sync_loses_no_acknowledged_write() {
    let (master_dir, replica_dir) = (
        DataDir::new("faults-sync-master"),
        DataDir::new("faults-sync-replica"),
    );
    let mut master = Launch::lite()
        .dir(&master_dir.0)
        .durable()
        .args(&[
            "--enable-debug-command",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ])
        .args(&["--rdb-key-save-delay", "200"])
        .start();
    populate(&master, 5000);
    let stop = Arc::new(AtomicBool::new(false));
    let writers = testkit::counter_writers(&master, 4, &stop);
    let port = master.port.to_string();
    let mut replica = Launch::lite()
        .dir(&replica_dir.0)
        .durable()
        .args(&[
            "--enable-debug-command",
            "yes",
            "--replicaof",
            "127.0.0.1",
            &port,
        ])
        .start();
    wait_info(&replica, "replication", "master_sync_in_progress", "1");
    master.kill9();
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
    master.restart();
    testkit::assert_acknowledged_writes_survived(&master, &acked, 0);
    let keys: usize = redis::cmd("DBSIZE").query(&mut master.client()).unwrap();
    assert!((5000..=5004).contains(&keys), "{keys} keys");

    wait_info(&replica, "replication", "master_sync_in_progress", "1");
    replica.kill9();
    replica.restart();
    let set = testkit::Replicated {
        master,
        replicas: vec![replica],
    };
    set.wait_replicated();
    assert_eq!(digest(&set.replicas[0]), digest(&set.master));
}
