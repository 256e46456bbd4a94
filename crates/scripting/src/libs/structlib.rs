//! The `struct` library Redis bundles (Roberto Ierusalimschy's binary packing for Lua 5.1):
//! `struct.pack(fmt, ...)`, `struct.unpack(fmt, data [, init])` and `struct.size(fmt)`.
//! Formats: `<` `>` `=` byte order, `!n` alignment, `x` padding, `b B h H l L T i[n] I[n]`
//! integers (`l`, `L`, `T` are 8 bytes, `i` 4 unless sized), `f` `d` floats, `s` a
//! zero-terminated string and `c[n]` a fixed one (`c0`: the length is the previous value).

use mlua::{Lua, MultiValue, Result, Table, Value};

use super::{answer, check_number, type_name};

/// The widest integer a format may ask for.
const MAX_INT_SIZE: usize = 32;
/// `!` without a number: the platform's largest alignment.
const NATIVE_ALIGN: usize = 8;

pub(crate) fn library(lua: &Lua) -> Result<Table> {
    let table = lua.create_table()?;
    table.raw_set(
        "pack",
        lua.create_function(|lua, args: MultiValue| answer(lua, pack(lua, &args)))?,
    )?;
    table.raw_set(
        "unpack",
        lua.create_function(|lua, args: MultiValue| answer(lua, unpack(lua, &args)))?,
    )?;
    table.raw_set(
        "size",
        lua.create_function(|lua, args: MultiValue| answer(lua, size(lua, &args)))?,
    )?;
    Ok(table)
}

/// One option of a format and what it needs.
enum Item {
    Padding,
    Int { size: usize, signed: bool },
    Float,
    Double,
    ZeroString,
    FixedString(usize),
}

struct Format<'a> {
    /// The Lua function, for argument errors.
    function: &'static str,
    text: &'a [u8],
    pos: usize,
    little: bool,
    align: usize,
}

impl<'a> Format<'a> {
    fn new(function: &'static str, text: &'a [u8]) -> Self {
        Format {
            function,
            text,
            pos: 0,
            little: true,
            align: 1,
        }
    }

    fn number(&mut self, default: usize) -> usize {
        let start = self.pos;
        while self.pos < self.text.len() && self.text[self.pos].is_ascii_digit() {
            self.pos += 1;
        }
        if self.pos == start {
            return default;
        }
        std::str::from_utf8(&self.text[start..self.pos])
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(usize::MAX)
    }

    /// The next item with its size, or `None` at the end; order and alignment options are
    /// applied as they come.
    fn next(&mut self) -> std::result::Result<Option<(Item, usize)>, String> {
        loop {
            let Some(&option) = self.text.get(self.pos) else {
                return Ok(None);
            };
            self.pos += 1;
            let item = match option {
                b' ' => continue,
                b'>' => {
                    self.little = false;
                    continue;
                }
                b'<' | b'=' => {
                    self.little = true;
                    continue;
                }
                b'!' => {
                    self.align = self.number(NATIVE_ALIGN);
                    continue;
                }
                b'x' => (Item::Padding, 1),
                b'b' | b'B' => (
                    Item::Int {
                        size: 1,
                        signed: option == b'b',
                    },
                    1,
                ),
                b'h' | b'H' => (
                    Item::Int {
                        size: 2,
                        signed: option == b'h',
                    },
                    2,
                ),
                b'l' | b'L' => (
                    Item::Int {
                        size: 8,
                        signed: option == b'l',
                    },
                    8,
                ),
                b'T' => (
                    Item::Int {
                        size: 8,
                        signed: false,
                    },
                    8,
                ),
                b'i' | b'I' => {
                    let size = self.number(4);
                    if size > MAX_INT_SIZE {
                        return Err(format!(
                            "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                        ));
                    }
                    (
                        Item::Int {
                            size,
                            signed: option == b'i',
                        },
                        size,
                    )
                }
                b'f' => (Item::Float, 4),
                b'd' => (Item::Double, 8),
                b's' => (Item::ZeroString, 0),
                b'c' => {
                    let size = self.number(1);
                    (Item::FixedString(size), size)
                }
                other => {
                    return Err(format!(
                        "bad argument #1 to '{}' (invalid format option '{}')",
                        self.function, other as char
                    ))
                }
            };
            return Ok(Some(item));
        }
    }

    /// Padding before an item of `size` bytes at offset `len`.
    fn padding(&self, len: usize, item: &Item, size: usize) -> std::result::Result<usize, String> {
        if size == 0 || matches!(item, Item::FixedString(_)) {
            return Ok(0);
        }
        let align = size.min(self.align);
        if !align.is_power_of_two() {
            return Err(format!("alignment {align} is not a power of 2"));
        }
        Ok((align - (len & (align - 1))) & (align - 1))
    }
}

fn format_argument(args: &MultiValue, function: &str) -> std::result::Result<Vec<u8>, String> {
    match args.front() {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(Value::Integer(n)) => Ok(n.to_string().into_bytes()),
        other => Err(format!(
            "bad argument #1 to '{function}' (string expected, got {})",
            other.map(type_name).unwrap_or("no value")
        )),
    }
}

/// A number to pack; struct.c reads a missing one as nil.
fn number_argument(lua: &Lua, args: &MultiValue, i: usize) -> std::result::Result<f64, String> {
    check_number(lua, args, i, "pack").map_err(|e| e.replace("got no value", "got nil"))
}

fn string_argument(lua: &Lua, args: &MultiValue, i: usize) -> std::result::Result<Vec<u8>, String> {
    let value = args.get(i).cloned().unwrap_or(Value::Nil);
    match lua.coerce_string(value.clone()) {
        Ok(Some(s)) if !matches!(value, Value::Nil) => Ok(s.as_bytes().to_vec()),
        _ => Err(format!(
            "bad argument #{} to 'pack' (string expected, got {})",
            i + 1,
            if i < args.len() {
                type_name(&value)
            } else {
                "nil"
            }
        )),
    }
}

fn pack(lua: &Lua, args: &MultiValue) -> std::result::Result<MultiValue, String> {
    const FUNCTION: &str = "pack";
    let text = format_argument(args, "pack")?;
    let mut format = Format::new(FUNCTION, &text);
    let mut out = Vec::new();
    let mut arg = 1;
    while let Some((item, size)) = format.next()? {
        let pad = format.padding(out.len(), &item, size)?;
        out.resize(out.len() + pad, 0);
        match item {
            Item::Padding => out.push(0),
            Item::Int { size, .. } => {
                let n = number_argument(lua, args, arg)?;
                arg += 1;
                let mut value = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut bytes = vec![0u8; size];
                for byte in bytes.iter_mut().take(8) {
                    *byte = value as u8;
                    value >>= 8;
                }
                if !format.little {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            Item::Float => {
                let n = number_argument(lua, args, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if format.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                });
            }
            Item::Double => {
                let n = number_argument(lua, args, arg)?;
                arg += 1;
                out.extend_from_slice(&if format.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                });
            }
            Item::ZeroString => {
                let s = string_argument(lua, args, arg)?;
                arg += 1;
                out.extend_from_slice(&s);
                out.push(0);
            }
            Item::FixedString(size) => {
                let s = string_argument(lua, args, arg)?;
                let size = if size == 0 { s.len() } else { size };
                if s.len() < size {
                    // struct.c counts this argument one further than Lua does.
                    return Err(format!(
                        "bad argument #{} to 'pack' (string too short)",
                        arg + 2
                    ));
                }
                arg += 1;
                out.extend_from_slice(&s[..size]);
            }
        }
    }
    let packed = lua.create_string(&out).map_err(|e| e.to_string())?;
    Ok(MultiValue::from_iter([Value::String(packed)]))
}

fn unpack(lua: &Lua, args: &MultiValue) -> std::result::Result<MultiValue, String> {
    const FUNCTION: &str = "unpack";
    let text = format_argument(args, "unpack")?;
    let data = match args.get(1) {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        other => {
            return Err(format!(
                "bad argument #2 to 'unpack' (string expected, got {})",
                other.map(type_name).unwrap_or("no value")
            ))
        }
    };
    let init = match args.get(2) {
        None | Some(Value::Nil) => 1.0,
        Some(_) => check_number(lua, args, 2, "unpack")?,
    };
    if init < 1.0 {
        return Err("bad argument #3 to 'unpack' (offset must be 1 or greater)".into());
    }
    // An offset past the end is only refused by the first item that reads there.
    let mut pos = init as usize - 1;
    let too_short = || "bad argument #2 to 'unpack' (data string too short)".to_string();
    let mut format = Format::new(FUNCTION, &text);
    let mut values = MultiValue::new();
    while let Some((item, size)) = format.next()? {
        pos += format.padding(pos, &item, size)?;
        match item {
            Item::Padding => {
                if pos >= data.len() {
                    return Err(too_short());
                }
                pos += 1;
            }
            Item::Int { size, signed } => {
                let bytes = data.get(pos..pos + size).ok_or_else(too_short)?;
                let mut value: u64 = 0;
                let ordered: Vec<u8> = if format.little {
                    bytes.iter().rev().copied().collect()
                } else {
                    bytes.to_vec()
                };
                for byte in ordered {
                    value = (value << 8) | byte as u64;
                }
                let number = if signed {
                    let value = if size < 8 {
                        let mask = 1u64 << (size * 8 - 1);
                        (value ^ mask).wrapping_sub(mask)
                    } else {
                        value
                    };
                    value as i64 as f64
                } else {
                    value as f64
                };
                values.push_back(Value::Number(number));
                pos += size;
            }
            Item::Float => {
                let bytes: [u8; 4] = data
                    .get(pos..pos + 4)
                    .ok_or_else(too_short)?
                    .try_into()
                    .unwrap();
                let n = if format.little {
                    f32::from_le_bytes(bytes)
                } else {
                    f32::from_be_bytes(bytes)
                };
                values.push_back(Value::Number(n as f64));
                pos += 4;
            }
            Item::Double => {
                let bytes: [u8; 8] = data
                    .get(pos..pos + 8)
                    .ok_or_else(too_short)?
                    .try_into()
                    .unwrap();
                let n = if format.little {
                    f64::from_le_bytes(bytes)
                } else {
                    f64::from_be_bytes(bytes)
                };
                values.push_back(Value::Number(n));
                pos += 8;
            }
            Item::ZeroString => {
                let end = data
                    .get(pos..)
                    .and_then(|rest| rest.iter().position(|&b| b == 0))
                    .ok_or_else(|| "unfinished string in data".to_string())?;
                let s = lua
                    .create_string(&data[pos..pos + end])
                    .map_err(|e| e.to_string())?;
                values.push_back(Value::String(s));
                pos += end + 1;
            }
            Item::FixedString(mut size) => {
                if size == 0 {
                    let previous = match values.pop_back() {
                        Some(Value::Number(n)) => n as usize,
                        Some(Value::Integer(n)) => n as usize,
                        _ => return Err("format 'c0' needs a previous size".into()),
                    };
                    size = previous;
                }
                let bytes = data.get(pos..pos + size).ok_or_else(too_short)?;
                let s = lua.create_string(bytes).map_err(|e| e.to_string())?;
                values.push_back(Value::String(s));
                pos += size;
            }
        }
    }
    values.push_back(Value::Number((pos + 1) as f64));
    Ok(values)
}

fn size(_lua: &Lua, args: &MultiValue) -> std::result::Result<MultiValue, String> {
    const FUNCTION: &str = "size";
    let text = format_argument(args, "size")?;
    let mut format = Format::new(FUNCTION, &text);
    let mut total = 0usize;
    while let Some((item, size)) = format.next()? {
        match item {
            Item::ZeroString => {
                return Err("bad argument #1 to 'size' (option 's' has no fixed size)".into())
            }
            Item::FixedString(0) => {
                return Err("bad argument #1 to 'size' (option 'c0' has no fixed size)".into())
            }
            _ => {}
        }
        total += format.padding(total, &item, size)? + size;
    }
    Ok(MultiValue::from_iter([Value::Number(total as f64)]))
}
