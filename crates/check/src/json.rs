//! The JSON Lines record: one key per line,
//! `{"db":0,"key":K,"type":T,"value":V,"expire_at_ms":MS|null}`.
//!
//! Binary safety: every Redis string (key, element, field, member) is a JSON string when it
//! is valid UTF-8, else `{"base64":"..."}` (standard alphabet, padded). The two shapes cannot
//! be confused, and the common case stays readable. Scores are JSON numbers (printed as the
//! shortest text that reads back to the same double); infinities and NaN, which JSON has no
//! numbers for, are the strings `"inf"`, `"-inf"` and `"nan"`.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use redis_lite_engine::hash::Hash;
use redis_lite_engine::list::{Elem, List};
use redis_lite_engine::set::Set;
use redis_lite_engine::zset::ZSet;
use redis_lite_engine::{EncodingLimits, Value};
use serde::ser::{SerializeMap, SerializeSeq, SerializeTuple};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value as Json;

/// One key, borrowed, as written.
#[derive(Serialize)]
pub struct Record<'a> {
    pub db: u64,
    pub key: Bytes<'a>,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub value: ValueView<'a>,
    pub expire_at_ms: Option<i64>,
}

impl<'a> Record<'a> {
    pub fn new(db: u64, key: &'a [u8], value: &'a Value, expire_at_ms: Option<i64>) -> Self {
        Record {
            db,
            key: Bytes(key),
            kind: value.type_name(),
            value: ValueView(value),
            expire_at_ms,
        }
    }
}

/// A Redis string: text when valid UTF-8, else `{"base64": ...}`.
pub struct Bytes<'a>(pub &'a [u8]);

impl Serialize for Bytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match std::str::from_utf8(self.0) {
            Ok(text) => s.serialize_str(text),
            Err(_) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("base64", &STANDARD.encode(self.0))?;
                map.end()
            }
        }
    }
}

/// A score: a number when finite.
struct Score(f64);

impl Serialize for Score {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            f if f.is_finite() => s.serialize_f64(f),
            f if f.is_nan() => s.serialize_str("nan"),
            f if f > 0.0 => s.serialize_str("inf"),
            _ => s.serialize_str("-inf"),
        }
    }
}

/// A hash field and value, or a member and score: a two-element array.
struct Pair<A, B>(A, B);

impl<A: Serialize, B: Serialize> Serialize for Pair<A, B> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(&self.0)?;
        t.serialize_element(&self.1)?;
        t.end()
    }
}

/// A value, serialized straight from the engine's collections without copying them.
pub struct ValueView<'a>(pub &'a Value);

impl Serialize for ValueView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::Int(n) => s.serialize_str(&n.to_string()),
            Value::Str(b) => Bytes(b).serialize(s),
            Value::RawStr(b) => Bytes(b).serialize(s),
            Value::List(l) => {
                let mut seq = s.serialize_seq(Some(l.len()))?;
                for e in l.iter() {
                    match e {
                        Elem::Int(n) => seq.serialize_element(&n.to_string())?,
                        Elem::Str(b) => seq.serialize_element(&Bytes(b))?,
                    }
                }
                seq.end()
            }
            Value::Set(set) => {
                let mut seq = s.serialize_seq(Some(set.len()))?;
                for m in set.iter() {
                    seq.serialize_element(&Bytes(&m.to_bytes()))?;
                }
                seq.end()
            }
            Value::Hash(h) => {
                let mut seq = s.serialize_seq(Some(h.len()))?;
                for (f, v) in h.iter() {
                    seq.serialize_element(&Pair(Bytes(f), Bytes(v)))?;
                }
                seq.end()
            }
            Value::ZSet(z) => {
                let mut seq = s.serialize_seq(Some(z.len()))?;
                let mut result = Ok(());
                z.range(0, z.len(), false, |m, score| {
                    if result.is_ok() {
                        result = seq.serialize_element(&Pair(Bytes(m), Score(score)));
                    }
                });
                result?;
                seq.end()
            }
        }
    }
}

/// A record as read, before its value is checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRecord {
    db: u64,
    key: Json,
    #[serde(rename = "type")]
    kind: String,
    value: Json,
    #[serde(default)]
    expire_at_ms: Option<i64>,
}

/// Just where a record goes, for the first pass of an import (which sizes each database).
#[derive(Deserialize)]
pub struct Placement {
    pub db: u64,
    #[serde(default)]
    pub expire_at_ms: Option<i64>,
}

/// One key, owned, as read.
pub struct Loaded {
    pub db: u64,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_at_ms: Option<i64>,
}

/// Parses one line into a key, building the value with the encodings the engine chooses under
/// `limits`. Errors say what is wrong; the caller adds the line number.
pub fn parse_line(line: &str, limits: &EncodingLimits) -> Result<Loaded, String> {
    let raw: RawRecord = serde_json::from_str(line).map_err(syntax)?;
    let key = bytes(&raw.key).map_err(|e| format!("key: {e}"))?;
    let value = build_value(&raw.kind, &raw.value, limits)?;
    Ok(Loaded {
        db: raw.db,
        key,
        value,
        expire_at_ms: raw.expire_at_ms,
    })
}

/// serde_json's message with its position given as a column: the "line" it counts is always
/// 1 here, since each record is parsed on its own and the caller names the file's line.
pub fn syntax(e: serde_json::Error) -> String {
    let text = e.to_string();
    let position = format!(" at line {} column {}", e.line(), e.column());
    match text.strip_suffix(&position) {
        Some(message) => format!("{message} (column {})", e.column()),
        None => text,
    }
}

/// A Redis string from its JSON form.
fn bytes(j: &Json) -> Result<Vec<u8>, String> {
    match j {
        Json::String(s) => Ok(s.clone().into_bytes()),
        Json::Object(map) if map.len() == 1 => match map.get("base64") {
            Some(Json::String(b64)) => STANDARD
                .decode(b64)
                .map_err(|e| format!("invalid base64: {e}")),
            _ => Err(r#"expected a string or {"base64": "..."}"#.into()),
        },
        _ => Err(r#"expected a string or {"base64": "..."}"#.into()),
    }
}

fn score(j: &Json) -> Result<f64, String> {
    let f = match j {
        Json::Number(n) => n.as_f64().ok_or("score out of range")?,
        Json::String(s) if s == "inf" || s == "+inf" => f64::INFINITY,
        Json::String(s) if s == "-inf" => f64::NEG_INFINITY,
        _ => return Err(format!("invalid score {j} (a number, \"inf\" or \"-inf\")")),
    };
    Ok(f)
}

fn array<'j>(j: &'j Json, kind: &str, what: &str) -> Result<&'j [Json], String> {
    match j {
        Json::Array(items) if items.is_empty() => Err(format!("empty {kind} (Redis has none)")),
        Json::Array(items) => Ok(items),
        _ => Err(format!("a {kind} value must be an array of {what}")),
    }
}

/// A `[a, b]` pair's two halves.
fn two<'j>(j: &'j Json, what: &str) -> Result<(&'j Json, &'j Json), String> {
    match j.as_array().map(Vec::as_slice) {
        Some([a, b]) => Ok((a, b)),
        _ => Err(format!("expected a [{what}] pair, found {j}")),
    }
}

fn build_value(kind: &str, j: &Json, limits: &EncodingLimits) -> Result<Value, String> {
    let value = match kind {
        "string" => Value::string(&bytes(j).map_err(|e| format!("value: {e}"))?),
        "list" => {
            let items = array(j, kind, "strings")?;
            let elems = items.iter().map(bytes).collect::<Result<Vec<_>, _>>()?;
            let list =
                List::from_values(limits.list_max_listpack_size, elems.iter().map(|e| &e[..]));
            Value::List(Box::new(list))
        }
        "set" => {
            let mut set = Set::new();
            let max = limits.set_max_intset_entries.max(0) as usize;
            for item in array(j, kind, "strings")? {
                let m = bytes(item)?;
                if !set.insert(&m, max) {
                    return Err(format!("duplicate set member {}", m.escape_ascii()));
                }
            }
            Value::Set(Box::new(set))
        }
        "hash" => {
            let mut h = Hash::new();
            for item in array(j, kind, "[field, value] pairs")? {
                let (f, v) = two(item, "field, value")?;
                let (f, v) = (bytes(f)?, bytes(v)?);
                if !h.set(&f, &v, limits) {
                    return Err(format!("duplicate hash field {}", f.escape_ascii()));
                }
            }
            Value::Hash(Box::new(h))
        }
        "zset" => {
            let mut entries = Vec::new();
            for item in array(j, kind, "[member, score] pairs")? {
                let (m, s) = two(item, "member, score")?;
                entries.push((bytes(m)?, score(s)?));
            }
            let longest = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let mut z = ZSet::with_hint(entries.len(), longest, limits);
            for (m, s) in &entries {
                if z.insert(m, *s, limits).is_some() {
                    return Err(format!("duplicate sorted set member {}", m.escape_ascii()));
                }
            }
            Value::ZSet(Box::new(z))
        }
        other => {
            return Err(format!(
                "unknown type {other:?} (string, list, hash, set or zset)"
            ))
        }
    };
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(value: &Value) -> String {
        serde_json::to_string(&Record::new(3, b"k\xff", value, Some(42))).unwrap()
    }

    #[test]
    fn binary_strings_are_base64_and_text_stays_text() {
        assert_eq!(
            line(&Value::string(b"caf\xc3\xa9")),
            r#"{"db":3,"key":{"base64":"a/8="},"type":"string","value":"café","expire_at_ms":42}"#
        );
        let back = parse_line(
            &line(&Value::string(b"\x00\xfe")),
            &EncodingLimits::default(),
        );
        let back = back.unwrap();
        assert_eq!(back.key, b"k\xff");
        assert_eq!(back.value, Value::string(b"\x00\xfe"));
    }

    #[test]
    fn scores_keep_infinities_and_exact_doubles() {
        let limits = EncodingLimits::default();
        let mut z = ZSet::new();
        for (m, s) in [
            (&b"a"[..], f64::NEG_INFINITY),
            (b"b", 0.1 + 0.2),
            (b"c", f64::INFINITY),
        ] {
            z.insert(m, s, &limits);
        }
        let text = line(&Value::ZSet(Box::new(z.clone())));
        assert!(text.contains(r#"[["a","-inf"],["b",0.30000000000000004],["c","inf"]]"#));
        assert_eq!(
            parse_line(&text, &limits).unwrap().value,
            Value::ZSet(Box::new(z))
        );
    }

    #[test]
    fn bad_records_say_what_is_wrong() {
        let limits = EncodingLimits::default();
        let err = |l: &str| parse_line(l, &limits).err().unwrap();
        let rec = |t: &str, v: &str| format!(r#"{{"db":0,"key":"k","type":"{t}","value":{v}}}"#);
        assert!(err(&rec("list", "[]")).contains("empty list"));
        assert!(err(&rec("set", r#"["a","a"]"#)).contains("duplicate set member a"));
        assert!(err(&rec("hash", r#"[["f"]]"#)).contains("[field, value] pair"));
        assert!(err(&rec("zset", r#"[["m","x"]]"#)).contains("invalid score"));
        assert!(err(&rec("zset", r#"[["m","nan"]]"#)).contains("invalid score"));
        assert!(err(&rec("stream", "1")).contains("unknown type"));
        assert!(err(&rec("string", r#"{"base64":"!"}"#)).contains("invalid base64"));
        assert!(err(r#"{"db":0}"#).contains("missing field"));
    }
}
