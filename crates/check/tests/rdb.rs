//! `redis-lite-check rdb`: the summary of a valid file, and clear failures naming the byte
//! offset for a flipped byte, a truncated file and a file that is not an RDB at all.
mod common;

use common::{run, stderr, stdout, write_dataset};
use redis_lite_testkit::DataDir;

#[test]
fn rdb_summarizes_a_valid_file_of_every_type() {
    let dir = DataDir::new("rdb-ok");
    let file = dir.join("dump.rdb");
    write_dataset(&file);
    let out = run(&[&"rdb", &file]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    for line in [
        "dump.rdb: OK",
        "RDB version: 10",
        "aux redis-ver: 7.0.15",
        "aux ctime: 1700000000",
        "db 0: 9 keys (7 string, 2 list), 3 with an expiry",
        "db 1: 6 keys (3 hash, 3 set), 1 with an expiry",
        "db 15: 3 keys (1 string, 2 zset), 1 with an expiry",
        "keys: 18",
        "checksum: CRC-64 verified",
        &format!("size: {} bytes", std::fs::metadata(&file).unwrap().len()),
    ] {
        assert!(text.contains(line), "missing {line:?} in:\n{text}");
    }
}

#[test]
fn rdb_flipped_byte_fails_naming_the_offset() {
    let dir = DataDir::new("rdb-flip");
    let file = dir.join("dump.rdb");
    write_dataset(&file);
    let good = std::fs::read(&file).unwrap();

    // Inside a string's bytes: the structure still parses, the checksum does not match.
    let at = good.windows(5).position(|w| w == b"hello").unwrap();
    let mut bad = good.clone();
    bad[at] ^= 0x01;
    std::fs::write(&file, &bad).unwrap();
    let out = run(&[&"rdb", &file]);
    assert!(!out.status.success());
    let err = stderr(&out);
    let crc_at = good.len() - 8;
    assert!(
        err.contains(&format!(
            "dump.rdb: RDB file corrupted at offset {crc_at}: wrong checksum"
        )),
        "{err}"
    );

    // A key's type byte: the structure itself is wrong, at that byte.
    let at = good.windows(5).position(|w| w == b"\x00\x03int").unwrap();
    let mut bad = good.clone();
    bad[at] = 0x63;
    std::fs::write(&file, &bad).unwrap();
    let out = run(&[&"rdb", &file]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "RDB file corrupted at offset {at}: unknown value type 99"
        )),
        "{err}"
    );
}

#[test]
fn rdb_truncated_file_says_where_it_ends() {
    let dir = DataDir::new("rdb-cut");
    let file = dir.join("dump.rdb");
    write_dataset(&file);
    let good = std::fs::read(&file).unwrap();
    for cut in [good.len() / 2, good.len() - 3] {
        std::fs::write(&file, &good[..cut]).unwrap();
        let out = run(&[&"rdb", &file]);
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains(&format!("offset {cut}: Unexpected EOF reading RDB file")),
            "{err}"
        );
    }
}

#[test]
fn rdb_refuses_what_is_not_an_rdb() {
    let dir = DataDir::new("rdb-junk");
    let file = dir.join("notes.txt");
    std::fs::write(&file, "just some text\n").unwrap();
    let out = run(&[&"rdb", &file]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("notes.txt: RDB file corrupted at offset 0: wrong signature"));
    let out = run(&[&"rdb", &dir.join("missing.rdb")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("missing.rdb: No such file or directory"));
}
