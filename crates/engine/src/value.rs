//! Values stored under keys. Strings that hold integers are kept as integers, as Redis's `int`
//! encoding does; other strings remember whether they were written whole (`embstr` when short)
//! or built up in place (`raw`), because OBJECT ENCODING reports the difference. Collections
//! live in their own modules and are boxed, so every value stays small inside its entry.

use crate::bytes::SmallBytes;
use crate::{hash::Hash, list::List, set::Set, stream::Stream, zset::ZSet};
use redis_lite_protocol::number::parse_i64;

/// Strings up to this length are `embstr` when written whole, as in Redis.
pub const EMBSTR_MAX: usize = 44;

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A string that is the canonical text of an `i64`.
    Int(i64),
    /// A string written whole (SET, GETSET...).
    Str(SmallBytes),
    /// A string modified in place (APPEND, SETRANGE); always reported as `raw`.
    /// Growable, so APPEND and SETRANGE work in place with amortised O(1) appends. Boxed so
    /// that `Value` stays 24 bytes (a `Vec` inline would make every value 32).
    RawStr(Box<Vec<u8>>),
    List(Box<List>),
    Hash(Box<Hash>),
    Set(Box<Set>),
    ZSet(Box<ZSet>),
    Stream(Box<Stream>),
}

impl Value {
    /// The value a SET of `bytes` stores: an integer when the text is a canonical `i64`.
    pub fn string(bytes: &[u8]) -> Value {
        if bytes.len() <= 20 {
            if let Some(n) = parse_i64(bytes) {
                return Value::Int(n);
            }
        }
        Value::Str(SmallBytes::new(bytes))
    }

    /// A string built up in place (`raw`), holding `bytes`.
    pub fn raw(bytes: Vec<u8>) -> Value {
        Value::RawStr(Box::new(bytes))
    }

    /// The text of a string value (an integer as its decimal digits); None for the other types.
    pub fn string_bytes(&self) -> Option<std::borrow::Cow<'_, [u8]>> {
        use std::borrow::Cow;
        match self {
            Value::Int(n) => Some(Cow::Owned(
                itoa::Buffer::new().format(*n).as_bytes().to_vec(),
            )),
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::RawStr(s) => Some(Cow::Borrowed(s)),
            _ => None,
        }
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) | Value::RawStr(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) | Value::RawStr(_) => "raw",
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// Heap bytes owned by the value, for MEMORY USAGE-style estimates.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_size(),
            Value::RawStr(s) => std::mem::size_of::<Vec<u8>>() + s.capacity(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_24_bytes() {
        // Every key's entry holds one inline: see `dict::Entry`.
        assert_eq!(std::mem::size_of::<Value>(), 24);
    }

    #[test]
    fn clone_keeps_encoding() {
        for v in [
            Value::string(b"123"),
            Value::string(b"abc"),
            Value::raw(b"abc".to_vec()),
        ] {
            let copy = v.clone();
            assert_eq!(copy.encoding(), v.encoding());
            assert!(copy == v);
        }
    }
}
