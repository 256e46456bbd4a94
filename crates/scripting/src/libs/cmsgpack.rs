//! The `cmsgpack` library Redis bundles (lua-cmsgpack's API): `pack(...)` concatenates the
//! MessagePack encoding of each argument, `unpack(data)` returns every value,
//! `unpack_one(data [, offset])` and `unpack_limit(data, limit [, offset])` return the next
//! offset (-1 at the end) before the values. Encoding picks the smallest form: integers by
//! range, non-integers as float32 when that is exact, strings as fixstr/str8/16/32, tables
//! whose keys are exactly 1..n as arrays and others as maps; tables nested 16 deep encode as
//! nil.

use mlua::{Lua, MultiValue, Result, Table, Value};

use super::{answer, check_number, type_name};

const MAX_NESTING: usize = 16;

pub(crate) fn library(lua: &Lua) -> Result<Table> {
    let table = lua.create_table()?;
    table.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| {
            answer(lua, pack(&args).and_then(|out| one_string(lua, &out)))
        })?,
    )?;
    table.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| answer(lua, unpack(lua, &args, None)))?,
    )?;
    table.raw_set(
        "unpack_one",
        lua.create_function(|lua, args: MultiValue| {
            let offset = optional_integer(lua, &args, 1, "unpack_one");
            answer(
                lua,
                offset.and_then(|offset| unpack(lua, &args, Some((1, offset)))),
            )
        })?,
    )?;
    table.raw_set(
        "unpack_limit",
        lua.create_function(|lua, args: MultiValue| {
            let limit = optional_integer(lua, &args, 1, "unpack_limit");
            let offset = optional_integer(lua, &args, 2, "unpack_limit");
            answer(
                lua,
                limit.and_then(|limit| {
                    offset.and_then(|offset| unpack(lua, &args, Some((limit, offset))))
                }),
            )
        })?,
    )?;
    table.raw_set("_NAME", "cmsgpack")?;
    table.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    table.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    table.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(table)
}

fn one_string(lua: &Lua, bytes: &[u8]) -> std::result::Result<MultiValue, String> {
    let s = lua.create_string(bytes).map_err(|e| e.to_string())?;
    Ok(MultiValue::from_iter([Value::String(s)]))
}

fn optional_integer(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    function: &str,
) -> std::result::Result<i64, String> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(0),
        Some(_) => Ok(check_number(lua, args, i, function)? as i64),
    }
}

fn pack(args: &MultiValue) -> std::result::Result<Vec<u8>, String> {
    if args.is_empty() {
        return Err("bad argument #0 to 'pack' (MessagePack pack needs input.)".into());
    }
    let mut out = Vec::new();
    for arg in args {
        encode(arg, 0, &mut out).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

fn encode(value: &Value, level: usize, out: &mut Vec<u8>) -> Result<()> {
    match value {
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(n) => encode_integer(*n, out),
        Value::Number(n) => {
            if n.is_finite() && (*n as i64) as f64 == *n {
                encode_integer(*n as i64, out)
            } else if (*n as f32) as f64 == *n {
                out.push(0xca);
                out.extend_from_slice(&(*n as f32).to_be_bytes());
            } else {
                out.push(0xcb);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
        Value::String(s) => {
            let bytes = s.as_bytes();
            let len = bytes.len();
            if len < 32 {
                out.push(0xa0 | len as u8);
            } else if len <= 0xff {
                out.extend_from_slice(&[0xd9, len as u8]);
            } else if len <= 0xffff {
                out.push(0xda);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            } else {
                out.push(0xdb);
                out.extend_from_slice(&(len as u32).to_be_bytes());
            }
            out.extend_from_slice(&bytes);
        }
        Value::Table(table) if level < MAX_NESTING => {
            if let Some(len) = array_length(table)? {
                header(out, len, 0x90, 0xdc, 0xdd);
                for i in 1..=len {
                    encode(&table.raw_get::<Value>(i)?, level + 1, out)?;
                }
            } else {
                let mut pairs = Vec::new();
                for pair in table.pairs::<Value, Value>() {
                    pairs.push(pair?);
                }
                header(out, pairs.len(), 0x80, 0xde, 0xdf);
                for (key, item) in &pairs {
                    encode(key, level + 1, out)?;
                    encode(item, level + 1, out)?;
                }
            }
        }
        _ => out.push(0xc0),
    }
    Ok(())
}

fn header(out: &mut Vec<u8>, len: usize, fix: u8, sixteen: u8, thirty_two: u8) {
    if len <= 15 {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(sixteen);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(thirty_two);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

/// lua-cmsgpack's test: an array when every key is a positive integer and they are exactly
/// 1..n (an empty table is an empty array).
fn array_length(table: &Table) -> Result<Option<usize>> {
    let (mut max, mut count) = (0usize, 0usize);
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        let n = match key {
            Value::Integer(n) if n > 0 => n as usize,
            Value::Number(n) if n > 0.0 && n.floor() == n => n as usize,
            _ => return Ok(None),
        };
        max = max.max(n);
        count += 1;
    }
    Ok((max == count).then_some(max))
}

fn encode_integer(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `limit_offset`: `None` for `unpack` (everything, no offset returned).
fn unpack(
    lua: &Lua,
    args: &MultiValue,
    limit_offset: Option<(i64, i64)>,
) -> std::result::Result<MultiValue, String> {
    let function = match limit_offset {
        None => "unpack",
        Some(_) => "unpack_limit",
    };
    let data = match args.front() {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        other => {
            return Err(format!(
                "bad argument #1 to '{function}' (string expected, got {})",
                other.map(type_name).unwrap_or("no value")
            ))
        }
    };
    let (limit, offset) = limit_offset.unwrap_or((i64::MAX, 0));
    if offset < 0 || limit < 0 {
        return Err(format!(
            "Invalid request to unpack with offset of {offset} and limit of {limit}."
        ));
    }
    if offset as usize > data.len() {
        return Err(format!(
            "Start offset {offset} greater than input length {}.",
            data.len()
        ));
    }
    let mut decoder = Decoder {
        lua,
        data: &data,
        pos: offset as usize,
    };
    let mut values = MultiValue::new();
    let mut count = 0;
    while decoder.pos < data.len() && count < limit {
        values.push_back(decoder.value()?);
        count += 1;
    }
    if limit_offset.is_some() {
        let next = if decoder.pos < data.len() {
            decoder.pos as f64
        } else {
            -1.0
        };
        values.push_front(Value::Number(next));
    }
    Ok(values)
}

struct Decoder<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
}

const MISSING: &str = "Missing bytes in input.";
const BAD: &str = "Bad data format in input.";

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> std::result::Result<&[u8], String> {
        let bytes = self.data.get(self.pos..self.pos + n).ok_or(MISSING)?;
        self.pos += n;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> std::result::Result<u64, String> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    fn value(&mut self) -> std::result::Result<Value, String> {
        let tag = self.take(1)?[0];
        Ok(match tag {
            0x00..=0x7f => Value::Number(tag as f64),
            0xe0..=0xff => Value::Number(tag as i8 as f64),
            0x80..=0x8f => self.map((tag & 0x0f) as usize)?,
            0x90..=0x9f => self.array((tag & 0x0f) as usize)?,
            0xa0..=0xbf => self.string((tag & 0x1f) as usize)?,
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xc4 | 0xd9 => {
                let n = self.uint(1)? as usize;
                self.string(n)?
            }
            0xc5 | 0xda => {
                let n = self.uint(2)? as usize;
                self.string(n)?
            }
            0xc6 | 0xdb => {
                let n = self.uint(4)? as usize;
                self.string(n)?
            }
            0xca => Value::Number(f32::from_bits(self.uint(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xcc => Value::Number(self.uint(1)? as f64),
            0xcd => Value::Number(self.uint(2)? as f64),
            0xce => Value::Number(self.uint(4)? as f64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Number(self.uint(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.uint(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.uint(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.uint(8)? as i64 as f64),
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(n)?
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(n)?
            }
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(n)?
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(n)?
            }
            _ => return Err(BAD.into()),
        })
    }

    fn string(&mut self, n: usize) -> std::result::Result<Value, String> {
        let bytes = self.take(n)?.to_vec();
        Ok(Value::String(
            self.lua.create_string(&bytes).map_err(|e| e.to_string())?,
        ))
    }

    fn array(&mut self, n: usize) -> std::result::Result<Value, String> {
        let table = self.lua.create_table().map_err(|e| e.to_string())?;
        for i in 1..=n {
            let item = self.value()?;
            table.raw_set(i, item).map_err(|e| e.to_string())?;
        }
        Ok(Value::Table(table))
    }

    fn map(&mut self, n: usize) -> std::result::Result<Value, String> {
        let table = self.lua.create_table().map_err(|e| e.to_string())?;
        for _ in 0..n {
            let key = self.value()?;
            let item = self.value()?;
            if !matches!(key, Value::Nil) {
                table.raw_set(key, item).map_err(|e| e.to_string())?;
            }
        }
        Ok(Value::Table(table))
    }
}
