//! Encryption at rest end to end: sealed snapshots and AOF files round-trip and hold no
//! plaintext; tampering (flipped bits, dropped or reordered segments) stops start-up naming
//! the file and offset; a torn AOF tail is truncation; wrong keys, rotation, switching
//! encryption on and off, kill -9 under `appendfsync always`, and a decrypted RDB in Redis.

use redis_lite_testkit as testkit;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use redis::Commands;
use redis_lite_persist::peek_header;
use testkit::{DataDir, Server};

const SECRET_KEY: &str = "confidential-key-name";
const SECRET_VALUE: &str = "top-secret-value-0123456789";

/// Writes a keyring file (mode 600) holding `lines` and returns its path.
fn key_file(dir: &DataDir, name: &str, lines: &[(&str, u8)]) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.0.join(name);
    let text: String = lines
        .iter()
        .map(|(id, byte)| format!("{id}:{}\n", format!("{byte:02x}").repeat(32)))
        .collect();
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_string()
}

/// Arguments for a server on `dir` sealing with `key`.
fn args<'a>(dir: &'a DataDir, key: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "--dir",
        dir.path(),
        "--encryption",
        "yes",
        "--encryption-key-file",
        key,
        "--enable-debug-command",
        "yes",
    ];
    args.extend_from_slice(extra);
    args
}

fn aof_dir(dir: &DataDir) -> PathBuf {
    dir.0.join("appendonlydir")
}

/// The AOF directory's file ending in `suffix` (e.g. ".incr.aof"), the newest by name.
fn aof_file(dir: &DataDir, suffix: &str) -> PathBuf {
    let mut files: Vec<PathBuf> = std::fs::read_dir(aof_dir(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files.pop().unwrap_or_else(|| panic!("no {suffix} file"))
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Asserts that no file under `path` holds the test's key or value in plaintext.
fn assert_no_plaintext(path: &Path) {
    let files: Vec<PathBuf> = if path.is_dir() {
        std::fs::read_dir(path)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect()
    } else {
        vec![path.to_path_buf()]
    };
    for file in files
        .iter()
        .filter(|f| !f.to_string_lossy().ends_with(".manifest"))
    {
        let bytes = std::fs::read(file).unwrap();
        assert!(!bytes.is_empty(), "{} is empty", file.display());
        for secret in [SECRET_KEY, SECRET_VALUE] {
            assert!(
                !contains(&bytes, secret),
                "{} holds '{secret}'",
                file.display()
            );
        }
    }
}

fn key_id_of(path: &Path) -> String {
    peek_header(&std::fs::read(path).unwrap()).unwrap().key_id
}

fn write_data(server: &Server) {
    let mut c = server.client();
    let _: () = c.set(SECRET_KEY, SECRET_VALUE).unwrap();
    let _: () = c.rpush("list", &["a", "b", "c"]).unwrap();
    let _: () = c.hset("hash", "field", SECRET_VALUE).unwrap();
    let _: () = c.sadd("set", &[1, 2, 3]).unwrap();
    let _: () = c.zadd("zset", "m", 1.5).unwrap();
    let _: () = c.set_ex("ttl", "v", 1000).unwrap();
    let _: () = redis::pipe()
        .atomic()
        .set("tx1", SECRET_VALUE)
        .incr("tx2", 5)
        .query(&mut c)
        .unwrap();
}

fn digest(server: &Server) -> String {
    redis::cmd("DEBUG")
        .arg("DIGEST")
        .query(&mut server.client())
        .unwrap()
}

fn bgrewriteaof(server: &Server) {
    let _: String = redis::cmd("BGREWRITEAOF")
        .query(&mut server.client())
        .unwrap();
    testkit::wait_rewrite_ok(server);
}

/// Starts the server expecting it to refuse; returns its log.
fn refused(dir: &DataDir, args: &[&str]) -> String {
    let (status, log) = testkit::Launch::lite()
        .dir(&dir.0)
        .args(args)
        .run_until_exit();
    assert!(!status.success(), "the server started: {log}");
    log
}

#[test]
fn sealed_rdb_round_trips_and_holds_no_plaintext() {
    let dir = DataDir::new("enc-rdb");
    let key = key_file(&dir, "key", &[("k1", 1)]);
    let server = Server::lite_in(&dir.0, &args(&dir, &key, &[]));
    assert_eq!(
        testkit::info_field(&mut server.raw(), "persistence", "encryption_enabled"),
        "1"
    );
    assert_eq!(
        testkit::info_field(&mut server.raw(), "persistence", "encryption_key_id"),
        "k1"
    );
    write_data(&server);
    let before = digest(&server);
    let _: String = redis::cmd("SAVE").query(&mut server.client()).unwrap();
    assert_no_plaintext(&dir.0.join("dump.rdb"));
    let _: String = redis::cmd("DEBUG")
        .arg("RELOAD")
        .query(&mut server.client())
        .unwrap();
    assert_eq!(digest(&server), before);
    let _: String = redis::cmd("BGSAVE").query(&mut server.client()).unwrap();
    testkit::wait_background_jobs(&server);
    assert_no_plaintext(&dir.0.join("dump.rdb"));
    assert_eq!(key_id_of(&dir.0.join("dump.rdb")), "k1");
    drop(server);
    let server = Server::lite_in(&dir.0, &args(&dir, &key, &[]));
    assert_eq!(digest(&server), before);
    // SHUTDOWN's save is sealed too.
    let _: () = server.client().set("after", SECRET_VALUE).unwrap();
    let after = digest(&server);
    let _ = redis::cmd("SHUTDOWN").query::<()>(&mut server.client());
    assert_no_plaintext(&dir.0.join("dump.rdb"));
    let server = Server::lite_in(&dir.0, &args(&dir, &key, &[]));
    assert_eq!(digest(&server), after);
}

#[test]
fn sealed_aof_round_trips_with_and_without_preamble() {
    for preamble in ["yes", "no"] {
        let dir = DataDir::new("enc-aof");
        let key = key_file(&dir, "key", &[("k1", 1)]);
        let extra = [
            "--appendonly",
            "yes",
            "--aof-use-rdb-preamble",
            preamble,
            "--save",
            "",
            // The server is killed: every acknowledged write must be on disk.
            "--appendfsync",
            "always",
        ];
        let server = Server::lite_in(&dir.0, &args(&dir, &key, &extra));
        write_data(&server);
        bgrewriteaof(&server);
        let _: () = server.client().set("after-rewrite", SECRET_VALUE).unwrap();
        let before = digest(&server);
        drop(server);
        assert_no_plaintext(&aof_dir(&dir));
        let base = if preamble == "yes" {
            ".base.rdb"
        } else {
            ".base.aof"
        };
        assert_eq!(key_id_of(&aof_file(&dir, base)), "k1");
        assert_eq!(key_id_of(&aof_file(&dir, ".incr.aof")), "k1");
        let server = Server::lite_in(&dir.0, &args(&dir, &key, &extra));
        assert_eq!(digest(&server), before, "preamble {preamble}");
    }
}

/// A sealed dump.rdb (of several segments: one value is larger than a segment).
fn sealed_dump(dir: &DataDir, key: &str) -> Vec<u8> {
    let server = Server::lite_in(&dir.0, &args(dir, key, &[]));
    write_data(&server);
    let big: String = (0..200_000)
        .map(|i| char::from(b'a' + (i * 7 % 26) as u8))
        .collect();
    let _: () = server.client().set("big", big).unwrap();
    let _: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("rdbcompression")
        .arg("no")
        .query(&mut server.client())
        .unwrap();
    let _: String = redis::cmd("SAVE").query(&mut server.client()).unwrap();
    drop(server);
    std::fs::read(dir.0.join("dump.rdb")).unwrap()
}

/// Offsets of each segment of a sealed stream: (start, total length).
fn segments(file: &[u8]) -> Vec<(usize, usize)> {
    // The header: 78 bytes of fixed fields, the key id's length byte and id, a 16-byte tag.
    let mut at = 95 + file[78] as usize;
    let mut out = Vec::new();
    while at < file.len() {
        let len = u32::from_be_bytes(file[at + 1..at + 5].try_into().unwrap()) as usize;
        let total = 1 + 4 + 8 + len + 16;
        out.push((at, total));
        at += total;
    }
    out
}

#[test]
fn tampered_sealed_rdb_is_refused_naming_file_and_offset() {
    let dir = DataDir::new("enc-tamper");
    let key = key_file(&dir, "key", &[("k1", 1)]);
    let original = sealed_dump(&dir, &key);
    let segs = segments(&original);
    assert!(segs.len() >= 3, "{segs:?}");
    assert_eq!(segs.last().map(|(a, l)| a + l), Some(original.len()));
    let path = dir.0.join("dump.rdb");
    let start = |dir: &DataDir| refused(dir, &args(dir, &key, &[]));
    // A flipped bit in the header, in a segment's head, body and tag.
    let (s1, l1) = segs[1];
    for at in [3, 20, 60, s1, s1 + 2, s1 + 100, s1 + l1 - 1] {
        let mut bytes = original.clone();
        bytes[at] ^= 0x04;
        std::fs::write(&path, &bytes).unwrap();
        let log = start(&dir);
        assert!(log.contains("dump.rdb"), "flip at {at}: {log}");
        assert!(log.contains("offset"), "flip at {at}: {log}");
    }
    // A dropped segment, and two segments swapped.
    let (s0, l0) = segs[0];
    let mut dropped = original[..s1].to_vec();
    dropped.extend_from_slice(&original[s1 + l1..]);
    let mut swapped = original[..s0].to_vec();
    swapped.extend_from_slice(&original[s1..s1 + l1]);
    swapped.extend_from_slice(&original[s0..s0 + l0]);
    swapped.extend_from_slice(&original[s1 + l1..]);
    assert_eq!(l0, l1);
    for (what, bytes) in [("dropped", dropped), ("swapped", swapped)] {
        std::fs::write(&path, &bytes).unwrap();
        let log = start(&dir);
        assert!(log.contains("failed authentication"), "{what}: {log}");
        assert!(
            log.contains(&format!("offset {s1}")) || log.contains(&format!("offset {s0}")),
            "{what}: {log}"
        );
    }
    // The untouched file still loads.
    std::fs::write(&path, &original).unwrap();
    let server = Server::lite_in(&dir.0, &args(&dir, &key, &[]));
    let got: String = server.client().get(SECRET_KEY).unwrap();
    assert_eq!(got, SECRET_VALUE);
}

/// A sealed AOF of a few writes (kill -9, so its incremental file is left open).
fn sealed_aof(dir: &DataDir, key: &str) -> PathBuf {
    let mut server = Server::lite_in(
        &dir.0,
        &args(
            dir,
            key,
            &["--appendonly", "yes", "--appendfsync", "always"],
        ),
    );
    let mut c = server.client();
    for i in 0..5 {
        let _: () = c.set(format!("{SECRET_KEY}{i}"), SECRET_VALUE).unwrap();
    }
    server.kill9();
    aof_file(dir, ".incr.aof")
}

#[test]
fn torn_sealed_aof_tail_is_truncation_and_a_flipped_bit_is_refused() {
    let dir = DataDir::new("enc-torn");
    let key = key_file(&dir, "key", &[("k1", 1)]);
    let incr = sealed_aof(&dir, &key);
    let original = std::fs::read(&incr).unwrap();
    // The last segment torn: refused without aof-load-truncated, cut off with it.
    std::fs::write(&incr, &original[..original.len() - 7]).unwrap();
    let log = refused(
        &dir,
        &args(
            &dir,
            &key,
            &["--appendonly", "yes", "--aof-load-truncated", "no"],
        ),
    );
    assert!(log.contains("appendonly.aof.1.incr.aof"), "{log}");
    assert!(log.contains("aof-load-truncated"), "{log}");
    let always = args(
        &dir,
        &key,
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let server = Server::lite_in(&dir.0, &always);
    let mut c = server.client();
    let got: Option<String> = c.get(format!("{SECRET_KEY}3")).unwrap();
    assert_eq!(got.as_deref(), Some(SECRET_VALUE));
    let got: Option<String> = c.get(format!("{SECRET_KEY}4")).unwrap();
    assert_eq!(got, None, "the torn batch is dropped");
    // Appending resumes after the cut, and reloads.
    let _: () = c.set("resumed", 1).unwrap();
    drop(c);
    drop(server);
    let server = Server::lite_in(&dir.0, &always);
    assert_eq!(server.client().get::<_, i64>("resumed").unwrap(), 1);
    drop(server);
    // A flipped bit in the middle is tampering, whatever aof-load-truncated says.
    let mut bytes = std::fs::read(&incr).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x10;
    std::fs::write(&incr, &bytes).unwrap();
    let log = refused(&dir, &args(&dir, &key, &["--appendonly", "yes"]));
    assert!(log.contains("appendonly.aof.1.incr.aof"), "{log}");
    assert!(log.contains("offset"), "{log}");
}

#[test]
fn wrong_or_missing_key_is_refused_with_the_key_id() {
    let dir = DataDir::new("enc-wrong");
    let key = key_file(&dir, "key", &[("k1", 1)]);
    sealed_dump(&dir, &key);
    // Another key under the same id; another id; no key at all.
    let same_id = key_file(&dir, "same-id", &[("k1", 2)]);
    let log = refused(&dir, &args(&dir, &same_id, &[]));
    assert!(log.contains("dump.rdb") && log.contains("'k1'"), "{log}");
    let other = key_file(&dir, "other", &[("k2", 2)]);
    let log = refused(&dir, &args(&dir, &other, &[]));
    assert!(
        log.contains("dump.rdb") && log.contains("'k1'") && log.contains("k2"),
        "{log}"
    );
    let log = refused(&dir, &["--dir", dir.path()]);
    assert!(log.contains("dump.rdb") && log.contains("'k1'"), "{log}");
    assert!(log.contains("encryption-key-file"), "{log}");
    // encryption yes without any key never starts (there is no default key).
    let log = refused(&dir, &["--dir", dir.path(), "--encryption", "yes"]);
    assert!(log.contains("no key is configured"), "{log}");
    // A key file others can read is refused.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let log = refused(&dir, &args(&dir, &key, &[]));
    assert!(log.contains("chmod 600"), "{log}");
}

#[test]
fn rotation_reads_old_files_and_reseals_with_the_new_key() {
    let dir = DataDir::new("enc-rotate");
    let old = key_file(&dir, "old", &[("old", 1)]);
    let extra = ["--appendonly", "yes", "--appendfsync", "always"];
    let server = Server::lite_in(&dir.0, &args(&dir, &old, &extra));
    write_data(&server);
    let _: String = redis::cmd("SAVE").query(&mut server.client()).unwrap();
    let before = digest(&server);
    drop(server);
    assert_eq!(key_id_of(&dir.0.join("dump.rdb")), "old");
    let ring = key_file(&dir, "ring", &[("old", 1), ("new", 2)]);
    let server = Server::lite_in(&dir.0, &args(&dir, &ring, &extra));
    assert_eq!(digest(&server), before);
    assert_eq!(
        testkit::info_field(&mut server.raw(), "persistence", "encryption_key_id"),
        "new"
    );
    let _: String = redis::cmd("BGSAVE").query(&mut server.client()).unwrap();
    testkit::wait_background_jobs(&server);
    assert_eq!(key_id_of(&dir.0.join("dump.rdb")), "new");
    bgrewriteaof(&server);
    assert_eq!(key_id_of(&aof_file(&dir, ".base.rdb")), "new");
    assert_eq!(key_id_of(&aof_file(&dir, ".incr.aof")), "new");
    drop(server);
    // Once everything is resealed the old key can go.
    let new_only = key_file(&dir, "new-only", &[("new", 2)]);
    let server = Server::lite_in(&dir.0, &args(&dir, &new_only, &extra));
    assert_eq!(digest(&server), before);
}

#[test]
fn encryption_switches_on_for_a_plaintext_dataset_and_off_again() {
    let dir = DataDir::new("enc-switch");
    let key = key_file(&dir, "key", &[("k1", 1)]);
    let plain = [
        "--dir",
        dir.path(),
        "--appendonly",
        "yes",
        "--encryption-key-file",
        &key,
        "--enable-debug-command",
        "yes",
        "--appendfsync",
        "always",
    ];
    let server = Server::lite_in(&dir.0, &plain);
    write_data(&server);
    let _: String = redis::cmd("SAVE").query(&mut server.client()).unwrap();
    let before = digest(&server);
    assert!(contains(
        &std::fs::read(dir.0.join("dump.rdb")).unwrap(),
        SECRET_VALUE
    ));
    // On at runtime: the AOF is rewritten sealed at once, the next save seals the snapshot.
    let mut c = server.client();
    let _: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("encryption")
        .arg("yes")
        .query(&mut c)
        .unwrap();
    testkit::wait_background_jobs(&server);
    let _: String = redis::cmd("SAVE").query(&mut c).unwrap();
    assert_no_plaintext(&dir.0.join("dump.rdb"));
    assert_no_plaintext(&aof_dir(&dir));
    drop(c);
    drop(server);
    let sealed = args(
        &dir,
        &key,
        &["--appendonly", "yes", "--appendfsync", "always"],
    );
    let server = Server::lite_in(&dir.0, &sealed);
    assert_eq!(digest(&server), before);
    // Off again: plaintext files from the next rewrite and save on.
    let mut c = server.client();
    let _: String = redis::cmd("CONFIG")
        .arg("SET")
        .arg("encryption")
        .arg("no")
        .query(&mut c)
        .unwrap();
    testkit::wait_background_jobs(&server);
    let _: String = redis::cmd("SAVE").query(&mut c).unwrap();
    assert!(contains(
        &std::fs::read(dir.0.join("dump.rdb")).unwrap(),
        SECRET_VALUE
    ));
    assert!(!redis_lite_persist::is_sealed(
        &std::fs::read(aof_file(&dir, ".incr.aof")).unwrap()
    ));
    drop(c);
    drop(server);
    let server = Server::lite_in(&dir.0, &plain);
    assert_eq!(digest(&server), before);
    // CONFIG SET encryption yes without a key is refused.
    let dir2 = DataDir::new("enc-nokey");
    let server = Server::lite_in(&dir2.0, &["--dir", dir2.path()]);
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("encryption")
        .arg("yes")
        .query::<String>(&mut server.client())
        .unwrap_err();
    assert!(err.to_string().contains("no key is configured"), "{err}");
}

#[test]
fn sealed_appendfsync_always_loses_no_acknowledged_write_on_kill9() {
    for trial in 0..5u64 {
        let dir = DataDir::new("enc-always");
        let key = key_file(&dir, "key", &[("k1", 1)]);
        let extra = ["--appendonly", "yes", "--appendfsync", "always"];
        let mut server = Server::lite_in(&dir.0, &args(&dir, &key, &extra));
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..4)
            .map(|id| {
                let mut c = server.client();
                let stop = stop.clone();
                std::thread::spawn(move || {
                    let mut last = 0u64;
                    for n in 1u64.. {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        // A transaction every few writes: its batch must stay whole.
                        let r: redis::RedisResult<()> = if n % 5 == 0 {
                            redis::pipe()
                                .atomic()
                                .set(format!("client:{id}"), n)
                                .set(format!("shadow:{id}"), n)
                                .query(&mut c)
                        } else {
                            c.set(format!("client:{id}"), n)
                        };
                        if r.is_err() {
                            break;
                        }
                        last = n;
                    }
                    last
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(150 + 41 * trial));
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let acked: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        let server = Server::lite_in(&dir.0, &args(&dir, &key, &extra));
        testkit::assert_acknowledged_writes_survived(&server, &acked, trial);
    }
}

#[test]
fn decrypted_rdb_loads_in_real_redis_with_the_same_digest() {
    let dir = DataDir::new("enc-redis");
    let key = key_file(&dir, "key", &[("k1", 1)]);
    let server = Server::lite_in(&dir.0, &args(&dir, &key, &[]));
    write_data(&server);
    let ours = digest(&server);
    let _: String = redis::cmd("SAVE").query(&mut server.client()).unwrap();
    drop(server);
    // Decrypted as `redis-lite-check decrypt` does (its tests cover the tool itself).
    let redis_dir = DataDir::new("enc-redis-plain");
    let ring = redis_lite_persist::Keyring::from_file(Path::new(&key)).unwrap();
    let sealed = std::fs::File::open(dir.0.join("dump.rdb")).unwrap();
    let mut reader = redis_lite_persist::SealedReader::new(sealed, &ring).unwrap();
    let mut plain = std::fs::File::create(redis_dir.0.join("dump.rdb")).unwrap();
    std::io::copy(&mut reader, &mut plain).unwrap();
    let Some(redis) = testkit::Launch::redis()
        .dir(&redis_dir.0)
        .args(&["--dir", redis_dir.path()])
        .start_if_available()
    else {
        return;
    };
    assert_eq!(digest(&redis), ours);
}
