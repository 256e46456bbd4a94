//! The JSON Lines record: one key per line,
//! `{"db":0,"key":K,"type":T,"value":V,"expire_at_ms":MS|null}`.
//!
//! Binary safety: every Redis string (key, element, field, member) is a JSON string when it
//! is valid UTF-8, else `{"base64":"..."}` (standard alphabet, padded). The two shapes cannot
//! be confused, and the common case stays readable. Scores are JSON numbers (printed as the
//! shortest text that reads back to the same double); infinities and NaN, which JSON has no
//! numbers for, are the strings `"inf"`, `"-inf"` and `"nan"`.
//!
//! A stream is an object: `entries` (`[[id, [[field, value], ...]], ...]`, in ID order; fields
//! as pairs, since an entry may repeat a field), `last_id`, `first_id`, `max_deleted_id` (IDs
//! as `"ms-seq"` text), `entries_added`, and `groups`: per group `name`, `last_id`,
//! `entries_read` (null when unknown), `pending` (`[[id, consumer, delivery_time_ms,
//! delivery_count], ...]`) and `consumers` (`[[name, seen_time_ms], ...]`); a consumer's own
//! pending list is the group's entries that name it.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use redis_lite_engine::hash::Hash;
use redis_lite_engine::list::{Elem, List};
use redis_lite_engine::set::Set;
use redis_lite_engine::stream::{Consumer, ConsumerGroup, PendingEntry, Stream, StreamId};
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
                for item in l.iter() {
                    seq.serialize_element(&ElemView(item.elem()))?;
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
            Value::Stream(stream) => StreamView(stream).serialize(s),
        }
    }
}

/// A list's or a stream's element: integers as their text.
struct ElemView<'a>(Elem<'a>);

impl Serialize for ElemView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Elem::Int(n) => s.serialize_str(&n.to_string()),
            Elem::Str(b) => Bytes(b).serialize(s),
        }
    }
}

/// A stream ID as `ms-seq`.
struct IdText(StreamId);

impl Serialize for IdText {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0.to_string())
    }
}

/// A stream: its entries, metadata and groups (the layout is in the module's opening).
struct StreamView<'a>(&'a Stream);

impl Serialize for StreamView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let stream = self.0;
        let mut map = s.serialize_map(Some(6))?;
        map.serialize_entry("entries", &EntriesView(stream))?;
        map.serialize_entry("last_id", &IdText(stream.last_id()))?;
        map.serialize_entry("first_id", &IdText(stream.first_id()))?;
        map.serialize_entry("max_deleted_id", &IdText(stream.max_deleted_id()))?;
        map.serialize_entry("entries_added", &stream.entries_added())?;
        map.serialize_entry("groups", &GroupsView(stream))?;
        map.end()
    }
}

struct EntriesView<'a>(&'a Stream);

impl Serialize for EntriesView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.len() as usize))?;
        for entry in self.0.range(StreamId::MIN, StreamId::MAX, false) {
            let fields: Vec<_> = entry
                .fields()
                .map(|(f, v)| Pair(ElemView(f), ElemView(v)))
                .collect();
            seq.serialize_element(&Pair(IdText(entry.id), fields))?;
        }
        seq.end()
    }
}

struct GroupsView<'a>(&'a Stream);

impl Serialize for GroupsView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.0.groups.len()))?;
        for (name, group) in &self.0.groups {
            seq.serialize_element(&GroupView(name, group))?;
        }
        seq.end()
    }
}

struct GroupView<'a>(&'a [u8], &'a ConsumerGroup);

impl Serialize for GroupView<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let GroupView(name, group) = *self;
        let pending: Vec<_> = group
            .pending
            .iter()
            .map(|(id, p)| {
                (
                    IdText(*id),
                    Bytes(&p.consumer),
                    p.delivery_time,
                    p.delivery_count,
                )
            })
            .collect();
        let consumers: Vec<_> = group
            .consumers
            .iter()
            .map(|(name, c)| Pair(Bytes(name), c.seen_time))
            .collect();
        let mut map = s.serialize_map(Some(5))?;
        map.serialize_entry("name", &Bytes(name))?;
        map.serialize_entry("last_id", &IdText(group.last_id))?;
        map.serialize_entry("entries_read", &group.entries_read)?;
        map.serialize_entry("pending", &pending)?;
        map.serialize_entry("consumers", &consumers)?;
        map.end()
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
                List::from_values(limits.list_max_listpack_size, elems.iter().map(|e| &e[..]))
                    .with_compress_depth(limits.list_compress_depth);
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
        "stream" => Value::Stream(Box::new(build_stream(j, limits)?)),
        other => {
            return Err(format!(
                "unknown type {other:?} (string, list, hash, set, zset or stream)"
            ))
        }
    };
    Ok(value)
}

fn stream_id(j: &Json) -> Result<StreamId, String> {
    let text = j
        .as_str()
        .ok_or_else(|| format!("expected an ID \"ms-seq\", found {j}"))?;
    text.split_once('-')
        .and_then(|(ms, seq)| Some(StreamId::new(ms.parse().ok()?, seq.parse().ok()?)))
        .ok_or_else(|| format!("invalid stream ID {text:?} (\"ms-seq\")"))
}

fn number(j: &Json, what: &str) -> Result<u64, String> {
    j.as_u64()
        .ok_or_else(|| format!("{what} must be a non-negative integer, found {j}"))
}

/// An object's field, required.
fn field<'j>(object: &'j serde_json::Map<String, Json>, name: &str) -> Result<&'j Json, String> {
    object
        .get(name)
        .ok_or_else(|| format!("stream field `{name}` missing"))
}

fn list<'j>(j: &'j Json, what: &str) -> Result<&'j [Json], String> {
    j.as_array()
        .map(Vec::as_slice)
        .ok_or_else(|| format!("{what} must be an array"))
}

/// A stream from its object form, entries packed into nodes as `limits` says; the metadata is
/// checked against the entries, and each pending entry against the group's consumers.
fn build_stream(j: &Json, limits: &EncodingLimits) -> Result<Stream, String> {
    const FIELDS: [&str; 6] = [
        "entries",
        "last_id",
        "first_id",
        "max_deleted_id",
        "entries_added",
        "groups",
    ];
    let object = j.as_object().ok_or("a stream value must be an object")?;
    if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(format!("unknown stream field `{unknown}`"));
    }
    let mut stream = Stream::new();
    let nodes = limits.stream_nodes();
    for entry in list(field(object, "entries")?, "entries")? {
        let (id, fields) = two(entry, "id, fields")?;
        let id = stream_id(id)?;
        if !stream.is_empty() && id <= stream.last_id() {
            return Err(format!("stream entry {id} is not above the one before it"));
        }
        let mut items = Vec::new();
        for pair in list(fields, "an entry's fields")? {
            let (f, v) = two(pair, "field, value")?;
            items.push(bytes(f)?);
            items.push(bytes(v)?);
        }
        if items.is_empty() {
            return Err(format!("stream entry {id} has no fields"));
        }
        let items: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
        stream.append(id, &items, nodes);
    }
    let entries_added = number(field(object, "entries_added")?, "entries_added")?;
    if entries_added < stream.len() {
        return Err("entries_added is below the number of entries".into());
    }
    stream.restore_metadata(
        stream.len(),
        stream_id(field(object, "last_id")?)?,
        stream_id(field(object, "first_id")?)?,
        stream_id(field(object, "max_deleted_id")?)?,
        entries_added,
    )?;
    for group in list(field(object, "groups")?, "groups")? {
        let (name, group) = build_group(group)?;
        if stream.groups.insert(name.clone(), group).is_some() {
            return Err(format!("duplicate stream group {}", name.escape_ascii()));
        }
    }
    Ok(stream)
}

fn build_group(j: &Json) -> Result<(Vec<u8>, ConsumerGroup), String> {
    let object = j.as_object().ok_or("a stream group must be an object")?;
    let name = bytes(field(object, "name")?)?;
    let entries_read = match field(object, "entries_read")? {
        Json::Null => None,
        n => Some(number(n, "entries_read")?),
    };
    let mut group = ConsumerGroup::new(stream_id(field(object, "last_id")?)?, entries_read);
    for consumer in list(field(object, "consumers")?, "consumers")? {
        let (name, seen) = two(consumer, "name, seen_time")?;
        let name = bytes(name)?;
        let consumer = Consumer {
            seen_time: number(seen, "seen_time")?,
            pending: Default::default(),
        };
        if group
            .consumers
            .insert(name.clone().into(), consumer)
            .is_some()
        {
            return Err(format!("duplicate consumer {}", name.escape_ascii()));
        }
    }
    for pending in list(field(object, "pending")?, "pending")? {
        let [id, owner, time, count] = pending.as_array().map(Vec::as_slice).unwrap_or(&[]) else {
            return Err(format!(
                "expected a [id, consumer, delivery_time, delivery_count] entry, found {pending}"
            ));
        };
        let id = stream_id(id)?;
        let owner = bytes(owner)?;
        let consumer = group
            .consumer_name(&owner)
            .ok_or_else(|| format!("pending entry {id} names no consumer of the group"))?;
        let entry = PendingEntry {
            consumer: consumer.clone(),
            delivery_time: number(time, "delivery_time")?,
            delivery_count: number(count, "delivery_count")?,
        };
        if group.pending.insert(id, entry).is_some() {
            return Err(format!("duplicate pending entry {id}"));
        }
        let consumer = group.consumers.get_mut(&consumer).expect("named above");
        consumer.pending.insert(id);
    }
    Ok((name, group))
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

    /// Entries with repeated and numeric fields, a deleted entry, an empty group and one with
    /// pending entries; and an empty stream.
    fn streams() -> Vec<Stream> {
        let nodes = redis_lite_engine::stream::NodeLimits::default();
        let mut s = Stream::new();
        s.append(StreamId::new(1, 1), &[b"f", b"1", b"f", b"\xff"], nodes);
        s.append(StreamId::new(2, 0), &[b"-7", b"x"], nodes);
        s.append(StreamId::new(3, 0), &[b"f", b"2", b"f", b"3"], nodes);
        s.delete(StreamId::new(2, 0));
        let mut group = ConsumerGroup::new(StreamId::new(3, 0), Some(3));
        group.consumer_or_create(b"alice", 1_700_000_000_000);
        group.consumer_or_create(b"idle", 1_700_000_000_500);
        let alice = group.consumer_name(b"alice").unwrap();
        for (id, count) in [(StreamId::new(1, 1), 2), (StreamId::new(3, 0), 1)] {
            group.pending.insert(
                id,
                PendingEntry {
                    consumer: alice.clone(),
                    delivery_time: 1_700_000_000_100,
                    delivery_count: count,
                },
            );
            group.consumers.get_mut(&alice).unwrap().pending.insert(id);
        }
        s.groups.insert(b"g".to_vec(), group);
        s.groups
            .insert(b"new".to_vec(), ConsumerGroup::new(StreamId::MIN, None));
        let mut empty = Stream::new();
        empty.append(StreamId::new(5, 5), &[b"f", b"v"], nodes);
        empty.delete(StreamId::new(5, 5));
        vec![s, empty]
    }

    #[test]
    fn streams_round_trip_with_metadata_and_groups() {
        let limits = EncodingLimits::default();
        let [s, empty] = <[Stream; 2]>::try_from(streams()).unwrap();
        let text = line(&Value::Stream(Box::new(s.clone())));
        assert!(text.contains(
            r#""value":{"entries":[["1-1",[["f","1"],["f",{"base64":"/w=="}]]],["3-0",[["f","2"],["f","3"]]]],"last_id":"3-0","first_id":"1-1","max_deleted_id":"2-0","entries_added":3,"groups":[{"name":"g","last_id":"3-0","entries_read":3,"pending":[["1-1","alice",1700000000100,2],["3-0","alice",1700000000100,1]],"consumers":[["alice",1700000000000],["idle",1700000000500]]},{"name":"new","last_id":"0-0","entries_read":null,"pending":[],"consumers":[]}]}"#
        ), "{text}");
        assert_eq!(
            parse_line(&text, &limits).unwrap().value,
            Value::Stream(Box::new(s))
        );
        let text = line(&Value::Stream(Box::new(empty.clone())));
        assert_eq!(
            parse_line(&text, &limits).unwrap().value,
            Value::Stream(Box::new(empty))
        );
    }

    #[test]
    fn bad_streams_say_what_is_wrong() {
        let limits = EncodingLimits::default();
        let good = line(&Value::Stream(Box::new(streams().remove(0))));
        let err = |from: &str, to: &str| {
            assert!(good.contains(from), "{from}");
            parse_line(&good.replacen(from, to, 1), &limits)
                .err()
                .unwrap()
        };
        assert!(err(r#"["3-0",[["f","2"]"#, r#"["1-0",[["f","2"]"#).contains("not above"));
        assert!(err(r#"["3-0",[["f","2"],["f","3"]]"#, r#"["3-0",[]"#).contains("no fields"));
        assert!(
            err(r#""last_id":"3-0","first"#, r#""last_id":"2-9","first"#)
                .contains("last ID below its last entry")
        );
        assert!(err(r#""1-1","alice""#, r#""1-1","bob""#).contains("names no consumer"));
        assert!(err(r#""entries_added":3"#, r#""entries_added":1"#).contains("entries_added"));
        assert!(err(r#""first_id":"1-1""#, r#""first_id":"1""#).contains("invalid stream ID"));
        assert!(err(r#""groups":"#, r#""group":"#).contains("unknown stream field `group`"));
        assert!(err(r#"{"name":"new""#, r#"{"name":"g""#).contains("duplicate stream group g"));
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
        assert!(err(&rec("stream", "1")).contains("a stream value must be an object"));
        assert!(err(&rec("module", "1")).contains("unknown type"));
        assert!(err(&rec("string", r#"{"base64":"!"}"#)).contains("invalid base64"));
        assert!(err(r#"{"db":0}"#).contains("missing field"));
    }
}
