//! `redis-lite-check aof`: a truncated file is reported and `--fix` cuts it back to its last
//! valid command (after a y/N prompt, or `--yes`); corruption is reported with its offset,
//! and is not "fixed" where truncating would drop writes later files depend on.
mod common;

use std::ffi::OsStr;

use common::{run, stderr, stdout};
use redis_lite_persist::aof::encode_command;
use redis_lite_testkit::DataDir;

fn commands(cmds: &[&[&str]]) -> Vec<u8> {
    let mut out = Vec::new();
    for c in cmds {
        encode_command(&mut out, c);
    }
    out
}

/// Runs `aof --fix <path>` answering the prompt with `answer`.
fn fix_answering(path: &std::path::Path, answer: &str) -> std::process::Output {
    redis_lite_testkit::run(
        env!("CARGO_BIN_EXE_redis-lite-check"),
        &[OsStr::new("aof"), OsStr::new("--fix"), path.as_os_str()],
        answer.as_bytes(),
    )
}

#[test]
fn aof_truncated_file_is_reported_then_fixed_to_the_last_command() {
    let dir = DataDir::new("aof-cut");
    let file = dir.join("appendonly.aof");
    let good = commands(&[&["SELECT", "0"], &["SET", "a", "1"], &["INCR", "n"]]);
    let last = commands(&[&["SET", "b", "some value"]]);
    let mut data = [&good[..], &last[..last.len() - 4]].concat();
    std::fs::write(&file, &data).unwrap();

    let out = run(&[&"aof", &file]);
    assert_eq!(out.status.code(), Some(1));
    let valid = good.len();
    assert!(stdout(&out).contains(&format!(
        "appendonly.aof: 3 valid commands, {} bytes, valid up to offset {valid}",
        data.len()
    )));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("at offset {} (valid up to {valid})", data.len())),
        "{err}"
    );
    assert!(err.contains("run with --fix"), "{err}");

    // "no" at the prompt changes nothing.
    let out = fix_answering(&file, "n\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("Continue? [y/N]"));
    assert!(stderr(&out).contains("was not changed"));
    assert_eq!(std::fs::read(&file).unwrap(), data);

    let out = run(&[&"aof", &"--fix", &"--yes", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains(&format!("truncated {} to {valid} bytes", file.display())));
    assert_eq!(std::fs::read(&file).unwrap(), good);
    let out = run(&[&"aof", &file]);
    assert!(out.status.success());
    assert!(stdout(&out).contains(&format!("OK, 3 commands, {valid} bytes")));

    // A MULTI without its EXEC is cut back to before the MULTI, answering "y".
    data = [&good[..], &commands(&[&["MULTI"], &["SET", "c", "3"]])[..]].concat();
    std::fs::write(&file, &data).unwrap();
    let out = fix_answering(&file, "y\n");
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), good);
}

#[test]
fn aof_directory_checks_every_file_in_manifest_order() {
    let dir = DataDir::new("aof-dir");
    let base = commands(&[&["SELECT", "0"], &["SET", "a", "1"]]);
    let incr1 = commands(&[&["INCR", "n"]]);
    let incr2 = commands(&[&["SET", "b", "2"], &["DEL", "a"]]);
    std::fs::write(dir.join("appendonly.aof.1.base.aof"), &base).unwrap();
    std::fs::write(dir.join("appendonly.aof.1.incr.aof"), &incr1).unwrap();
    std::fs::write(
        dir.join("appendonly.aof.2.incr.aof"),
        &incr2[..incr2.len() - 1],
    )
    .unwrap();
    std::fs::write(
        dir.join("appendonly.aof.manifest"),
        "file appendonly.aof.1.base.aof seq 1 type b\n\
         file appendonly.aof.1.incr.aof seq 1 type i\n\
         file appendonly.aof.2.incr.aof seq 2 type i\n",
    )
    .unwrap();
    let out = run(&[&"aof", &dir.0]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("appendonly.aof.manifest: manifest OK"),
        "{text}"
    );
    assert!(text.contains("appendonly.aof.1.base.aof (base, seq 1): OK, 2 commands"));
    assert!(text.contains("appendonly.aof.1.incr.aof (incr, seq 1): OK, 1 commands"));
    assert!(text.contains("appendonly.aof.2.incr.aof (incr, seq 2): 1 valid commands"));

    // The manifest itself may be given, as to redis-check-aof.
    let out = run(&[
        &"aof",
        &"--fix",
        &"--yes",
        &dir.join("appendonly.aof.manifest"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let fixed = std::fs::read(dir.join("appendonly.aof.2.incr.aof")).unwrap();
    assert_eq!(fixed, commands(&[&["SET", "b", "2"]]));

    // Damage in an earlier file is reported but not truncated away.
    std::fs::write(dir.join("appendonly.aof.1.incr.aof"), &incr1[..5]).unwrap();
    let out = run(&[&"aof", &"--fix", &"--yes", &dir.0]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("cannot be fixed by truncation"));
    assert_eq!(
        std::fs::read(dir.join("appendonly.aof.1.incr.aof")).unwrap(),
        &incr1[..5]
    );
}

#[test]
fn aof_corruption_is_reported_with_its_offset() {
    let dir = DataDir::new("aof-bad");
    let file = dir.join("appendonly.aof");
    let first = commands(&[&["SELECT", "0"], &["SET", "a", "1"]]);
    let mut data = [
        &first[..],
        &commands(&[&["SET", "b", "2"], &["SET", "c", "3"]]),
    ]
    .concat();
    data[first.len() + 4] = b'#'; // the `$` of the second command's first argument
    std::fs::write(&file, &data).unwrap();
    let out = run(&[&"aof", &file]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "Bad file format reading the append only file {} at offset {}: expected '$'",
            file.display(),
            first.len() + 4
        )),
        "{err}"
    );
    assert!(stdout(&out).contains(&format!("valid up to offset {}", first.len())));

    // --fix cuts the corrupt tail off, as redis-check-aof does.
    let out = run(&[&"aof", &"--fix", &"--yes", &file]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(std::fs::read(&file).unwrap(), first);
}

#[test]
fn aof_refuses_a_directory_without_a_manifest() {
    let dir = DataDir::new("aof-empty");
    let out = run(&[&"aof", &dir.0]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("expected one AOF manifest (*.manifest), found 0"));
}
