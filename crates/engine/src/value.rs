//! Values stored under keys. Strings that hold integers are kept as integers, as Redis's `int`
//! encoding does; other strings remember whether they were written whole (`embstr` when short)
//! or built up in place (`raw`), because OBJECT ENCODING reports the difference.

use crate::bytes::SmallBytes;
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
    /// Growable, so APPEND and SETRANGE work in place with amortised O(1) appends.
    RawStr(Vec<u8>),
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

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Int(_) | Value::Str(_) | Value::RawStr(_) => "string",
        }
    }

    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Int(_) => "int",
            Value::Str(s) if s.len() <= EMBSTR_MAX => "embstr",
            Value::Str(_) | Value::RawStr(_) => "raw",
        }
    }

    /// Heap bytes owned by the value, for MEMORY USAGE-style estimates.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Int(_) => 0,
            Value::Str(s) => s.heap_size(),
            Value::RawStr(s) => s.capacity(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clone_keeps_encoding() {
        for v in [
            Value::string(b"123"),
            Value::string(b"abc"),
            Value::RawStr(b"abc".to_vec()),
        ] {
            let copy = v.clone();
            assert_eq!(copy.encoding(), v.encoding());
            assert!(copy == v);
        }
    }
}
