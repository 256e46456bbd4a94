//! `export --json` and `import --json`: a dataset of every type and encoding, with binary
//! names and contents, expiries and several databases, survives RDB → JSON → RDB exactly;
//! bad input is refused with the line number.
mod common;

use common::{encodings, keys_of, run, stderr, stdout, write_dataset};
use redis_lite_testkit::DataDir;

#[test]
fn export_then_import_keeps_every_key_value_and_ttl() {
    let dir = DataDir::new("roundtrip");
    let (rdb, json, back) = (dir.join("a.rdb"), dir.join("a.json"), dir.join("b.rdb"));
    write_dataset(&rdb);
    let out = run(&[&"export", &"--json", &rdb, &"-o", &json]);
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(&[&"import", &"--json", &json, &"-o", &back]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("wrote 18 keys in 3 databases"));

    let (before, after) = (keys_of(&rdb), keys_of(&back));
    assert_eq!(before.len(), 18);
    assert_eq!(
        encodings(&before),
        [
            "embstr",
            "hashtable",
            "int",
            "intset",
            "listpack",
            "quicklist",
            "raw",
            "skiplist"
        ]
    );
    assert_eq!(before.len(), after.len());
    for (a, b) in before.iter().zip(&after) {
        assert_eq!(
            a,
            b,
            "key {:?} in db {}",
            a.key.escape_ascii().to_string(),
            a.db
        );
        assert_eq!(a.value.encoding(), b.value.encoding());
    }

    // Standard output gets the same records as -o (a hashtable's order is per process).
    let out = run(&[&"export", &"--json", &rdb]);
    assert!(out.status.success());
    let text = stdout(&out);
    let file = std::fs::read_to_string(&json).unwrap();
    assert_eq!(text.lines().count(), 18);
    assert_eq!(file.lines().count(), 18);
    assert!(text.contains(
        r#"{"db":0,"key":{"base64":"AP/+IGJpbg0K"},"type":"string","value":{"base64":"AP/+IGJpbg0K"},"expire_at_ms":4102444800001}"#
    ));
    assert!(
        text.contains(r#"["inf","inf"],["ninf","-inf"]"#) || text.contains(r#"["ninf","-inf"]"#)
    );
    assert!(text.contains(r#""key":"utf8-é","type":"string","value":"café ☕""#));
}

#[test]
fn import_reports_the_line_of_bad_input_and_writes_nothing() {
    let dir = DataDir::new("badjson");
    let (json, rdb) = (dir.join("in.json"), dir.join("out.rdb"));
    let good = r#"{"db":0,"key":"a","type":"string","value":"1","expire_at_ms":null}"#;
    for (bad, message) in [
        ("{not json", "in.json:3: key must be a string (column 2)"),
        (
            r#"{"db":0,"key":"b","type":"list","value":"x","expire_at_ms":null}"#,
            "in.json:3: a list value must be an array of strings",
        ),
        (
            r#"{"db":0,"key":"b","type":"zset","value":[["m","nan"]],"expire_at_ms":null}"#,
            r#"in.json:3: invalid score "nan""#,
        ),
        (
            r#"{"db":0,"key":"b","type":"string","value":"x","ttl":5}"#,
            "in.json:3: unknown field `ttl`",
        ),
        (good, "in.json:3: duplicate key a in db 0"),
    ] {
        std::fs::write(&json, format!("{good}\n\n{bad}\n")).unwrap();
        let out = run(&[&"import", &"--json", &json, &"-o", &rdb]);
        assert_eq!(out.status.code(), Some(1), "{bad}");
        let err = stderr(&out);
        assert!(err.contains(message), "{bad}: {err}");
        assert!(!rdb.exists(), "{bad}: an output file was left behind");
    }
}

#[test]
fn export_of_a_corrupt_rdb_fails_and_leaves_no_partial_json() {
    let dir = DataDir::new("badexport");
    let (rdb, json) = (dir.join("a.rdb"), dir.join("a.json"));
    write_dataset(&rdb);
    let bytes = std::fs::read(&rdb).unwrap();
    std::fs::write(&rdb, &bytes[..bytes.len() - 100]).unwrap();
    let out = run(&[&"export", &"--json", &rdb, &"-o", &json]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("Unexpected EOF reading RDB file"),
        "{}",
        stderr(&out)
    );
    assert!(!json.exists());
}
