//! Helpers shared by the integration tests.
#![allow(dead_code)]

use redis_lite_engine::{EncodingLimits, Value};
use redis_lite_persist::rdb::{read_all, RdbError, RdbWriter, WriteOptions};

/// (db, key, value, expiry in absolute ms)
pub type Item = (u64, Vec<u8>, Value, Option<i64>);

pub fn limits() -> EncodingLimits {
    EncodingLimits::default()
}

/// Writes `data` (grouped by db, in order of first appearance) as a whole RDB file.
pub fn write_to<W: std::io::Write>(out: W, data: &[Item], opts: WriteOptions) -> W {
    let mut w = RdbWriter::new(out, opts);
    w.write_header().unwrap();
    w.write_default_aux(1_700_000_000, 1 << 20).unwrap();
    let mut dbs: Vec<u64> = Vec::new();
    for e in data {
        if !dbs.contains(&e.0) {
            dbs.push(e.0);
        }
    }
    for db in dbs {
        let keys: Vec<_> = data.iter().filter(|e| e.0 == db).collect();
        let expires = keys.iter().filter(|e| e.3.is_some()).count();
        w.select_db(db, keys.len() as u64, expires as u64).unwrap();
        for (_, k, v, e) in keys {
            w.entry(k, v, *e).unwrap();
        }
    }
    w.finish().unwrap()
}

pub fn write(data: &[Item], opts: WriteOptions) -> Vec<u8> {
    write_to(Vec::new(), data, opts)
}

pub fn read_from<R: std::io::Read>(r: R) -> Result<Vec<Item>, RdbError> {
    let (_, keys) = read_all(r, limits())?;
    Ok(keys
        .into_iter()
        .map(|k| (k.db, k.key, k.value, k.expire_at_ms))
        .collect())
}

pub fn read(bytes: &[u8]) -> Result<Vec<Item>, RdbError> {
    read_from(bytes)
}

/// Equal as data and in reported encoding (strings compared by text: a loaded long string is
/// `Str` where the original may have been `RawStr`; both are `raw`).
pub fn same(a: &Value, b: &Value) -> bool {
    let text = |v: &Value| match v {
        Value::Int(n) => Some(n.to_string().into_bytes()),
        Value::Str(s) => Some(s.to_vec()),
        Value::RawStr(s) => Some(s.to_vec()),
        _ => None,
    };
    a.encoding() == b.encoding()
        && match (text(a), text(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        }
}
