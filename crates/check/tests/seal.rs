//! `redis-lite-check` and sealed files: `encrypt` / `decrypt` round trips (RDB, AOF base and
//! incremental files), `verify` reports key id and segments and names the offset of damage,
//! `rdb`/`aof`/`export --json` read sealed files given the key, `export --seal` seals its
//! output, `aof --fix` cuts a torn sealed tail, and a missing key is a clear error.
mod common;

use std::path::Path;

use common::{run, stderr, stdout, write_dataset};
use redis_lite_persist::aof::encode_command;
use redis_lite_persist::{is_sealed, peek_header};
use redis_lite_testkit::DataDir;

const SECRET: &str = "a-secret-value-nobody-may-read";

fn key_file(dir: &DataDir) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("key");
    std::fs::write(&path, format!("rot1:{}\n", "ab".repeat(32))).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path.to_str().unwrap().to_string()
}

fn ok(args: &[&dyn AsRef<std::ffi::OsStr>]) -> String {
    let o = run(args);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    stdout(&o)
}

/// An export's records in a comparable form: collections' elements and the lines sorted
/// (set and hash order depends on the in-memory tables).
fn canonical(export: &str) -> Vec<String> {
    let mut lines: Vec<String> = export
        .lines()
        .map(|line| {
            let mut record: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(items) = record["value"].as_array_mut() {
                items.sort_by_key(|v| v.to_string());
            }
            record.to_string()
        })
        .collect();
    lines.sort();
    lines
}

fn contains(path: &Path, needle: &str) -> bool {
    std::fs::read(path)
        .unwrap()
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn rdb_encrypt_verify_export_decrypt_round_trip() {
    let dir = DataDir::new("seal-rdb");
    let key = key_file(&dir);
    let (plain, sealed, back) = (
        dir.join("plain.rdb"),
        dir.join("sealed.rdb"),
        dir.join("back.rdb"),
    );
    write_dataset(&plain);
    ok(&[&"--key-file", &key, &"encrypt", &plain, &"-o", &sealed]);
    let bytes = std::fs::read(&sealed).unwrap();
    assert!(is_sealed(&bytes));
    assert_eq!(peek_header(&bytes).unwrap().key_id, "rot1");
    let report = ok(&[&"--key-file", &key, &"verify", &sealed]);
    assert!(
        report.contains("OK") && report.contains("'rot1'") && report.contains("segments"),
        "{report}"
    );
    // rdb and export read it given the key; the export matches the plaintext one.
    ok(&[&"--key-file", &key, &"rdb", &sealed]);
    let json_plain = ok(&[&"export", &"--json", &plain]);
    let json_sealed = ok(&[&"--key-file", &key, &"export", &"--json", &sealed]);
    assert!(canonical(&json_plain) == canonical(&json_sealed));
    ok(&[&"--key-file", &key, &"decrypt", &sealed, &"-o", &back]);
    assert_eq!(
        std::fs::read(&back).unwrap(),
        std::fs::read(&plain).unwrap()
    );
    // Without the key: a clear error naming the key id.
    let o = run(&[&"rdb", &sealed]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("'rot1'"), "{}", stderr(&o));
    // A flipped bit: verify fails naming the offset.
    let mut damaged = bytes.clone();
    let at = damaged.len() - 20;
    damaged[at] ^= 1;
    std::fs::write(&sealed, &damaged).unwrap();
    let o = run(&[&"--key-file", &key, &"verify", &sealed]);
    assert!(!o.status.success());
    assert!(stderr(&o).contains("offset"), "{}", stderr(&o));
}

#[test]
fn export_seal_writes_a_sealed_export() {
    let dir = DataDir::new("seal-export");
    let key = key_file(&dir);
    let (plain, json, opened) = (
        dir.join("plain.rdb"),
        dir.join("out.json"),
        dir.join("open.json"),
    );
    write_dataset(&plain);
    ok(&[
        &"--key-file",
        &key,
        &"export",
        &"--json",
        &plain,
        &"-o",
        &json,
        &"--seal",
    ]);
    assert!(is_sealed(&std::fs::read(&json).unwrap()));
    ok(&[&"--key-file", &key, &"decrypt", &json, &"-o", &opened]);
    let text = std::fs::read_to_string(&opened).unwrap();
    assert!(canonical(&text) == canonical(&ok(&[&"export", &"--json", &plain])));
}

/// An AOF directory with a plaintext base and incremental file.
fn aof_dir(dir: &DataDir) -> std::path::PathBuf {
    let aof = dir.join("appendonlydir");
    std::fs::create_dir_all(&aof).unwrap();
    let mut base = Vec::new();
    encode_command(&mut base, &["SET", "base-key", SECRET]);
    std::fs::write(aof.join("appendonly.aof.1.base.aof"), base).unwrap();
    let mut incr = Vec::new();
    for i in 0..2000 {
        encode_command(&mut incr, &["SET", &format!("k{i}"), SECRET]);
    }
    for c in [&["MULTI"][..], &["INCR", "n"], &["INCR", "n"], &["EXEC"]] {
        encode_command(&mut incr, c);
    }
    std::fs::write(aof.join("appendonly.aof.1.incr.aof"), incr).unwrap();
    std::fs::write(
        aof.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n",
    )
    .unwrap();
    aof
}

#[test]
fn aof_files_encrypt_export_check_fix_and_decrypt() {
    let dir = DataDir::new("seal-aof");
    let key = key_file(&dir);
    let aof = aof_dir(&dir);
    let expected = ok(&[&"export", &"--json", &aof]);
    for name in ["appendonly.aof.1.base.aof", "appendonly.aof.1.incr.aof"] {
        let file = aof.join(name);
        let sealed = dir.join("sealed");
        ok(&[&"--key-file", &key, &"encrypt", &file, &"-o", &sealed]);
        std::fs::rename(&sealed, &file).unwrap();
        assert!(!contains(&file, SECRET), "{name}");
    }
    let incr = aof.join("appendonly.aof.1.incr.aof");
    let report = ok(&[&"--key-file", &key, &"verify", &incr]);
    assert!(
        report.contains("sealed log") && report.contains("batches"),
        "{report}"
    );
    ok(&[&"--key-file", &key, &"aof", &aof]);
    let exported = ok(&[&"--key-file", &key, &"export", &"--json", &aof]);
    assert!(canonical(&exported) == canonical(&expected));
    // A torn last batch: reported, and --fix cuts it back to the verified prefix.
    let len = std::fs::metadata(&incr).unwrap().len();
    let file = std::fs::OpenOptions::new().write(true).open(&incr).unwrap();
    file.set_len(len - 5).unwrap();
    let o = run(&[&"--key-file", &key, &"aof", &aof]);
    assert!(!o.status.success());
    ok(&[&"--key-file", &key, &"aof", &"--fix", &"--yes", &aof]);
    ok(&[&"--key-file", &key, &"aof", &aof]);
    // Decrypted back to plaintext, it reads as an ordinary AOF file.
    let plain = dir.join("plain.aof");
    ok(&[&"--key-file", &key, &"decrypt", &incr, &"-o", &plain]);
    assert!(contains(&plain, SECRET));
    ok(&[&"aof", &plain]);
}
