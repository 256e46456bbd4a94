//! The `cjson` library (lua-cjson 2.1's behaviour with Redis's defaults): `encode` with
//! numbers as `%.14g`, `/` escaped, empty tables as `{}`, sparse arrays refused past
//! lua-cjson's ratio, and `decode` with its error texts ("Expected value but found invalid
//! token at character 1"). `cjson.null` is the NULL light userdata. The configuration
//! functions (`encode_sparse_array`, `encode_max_depth`, `encode_number_precision`...) change
//! the instance's settings for every later script, as they do in Redis; `cjson.new()` makes
//! an instance with its own defaults.

use std::sync::{Arc, Mutex};

use mlua::{LightUserData, Lua, MultiValue, Result, Table, Value};

use super::{answer, check_number};

/// An instance's settings, with lua-cjson's defaults.
#[derive(Clone, Copy)]
struct Config {
    /// Encode an excessively sparse array as an object instead of failing.
    sparse_convert: bool,
    /// An array with holes is excessively sparse when its largest index is above `ratio`
    /// times its element count and above `safe` (a ratio of 0 never is).
    sparse_ratio: i64,
    sparse_safe: i64,
    encode_max_depth: i64,
    decode_max_depth: i64,
    precision: i64,
    keep_buffer: bool,
    encode_invalid: InvalidNumbers,
    decode_invalid: bool,
}

/// What `encode` does with NaN and infinities.
#[derive(Clone, Copy, PartialEq)]
enum InvalidNumbers {
    Refuse,
    Allow,
    AsNull,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            precision: 14,
            keep_buffer: true,
            encode_invalid: InvalidNumbers::Refuse,
            decode_invalid: true,
        }
    }
}

type Shared = Arc<Mutex<Config>>;

fn settings(config: &Shared) -> Config {
    *config.lock().unwrap_or_else(|e| e.into_inner())
}

pub(crate) fn library(lua: &Lua) -> Result<Table> {
    let config: Shared = Arc::new(Mutex::new(Config::default()));
    let table = lua.create_table()?;
    let encode_config = config.clone();
    table.raw_set(
        "encode",
        lua.create_function(move |lua, args: MultiValue| {
            let config = settings(&encode_config);
            let encoded = match args.len() {
                1 => {
                    let mut out = Vec::new();
                    encode(&config, &args[0], 0, &mut out).and_then(|()| {
                        lua.create_string(&out)
                            .map(|s| MultiValue::from_iter([Value::String(s)]))
                            .map_err(|e| e.to_string())
                    })
                }
                _ => Err("bad argument #1 to 'encode' (expected 1 argument)".to_string()),
            };
            answer(lua, encoded)
        })?,
    )?;
    let decode_config = config.clone();
    table.raw_set(
        "decode",
        lua.create_function(move |lua, args: MultiValue| {
            let config = settings(&decode_config);
            let decoded = match (args.len(), args.front()) {
                (1, Some(v)) => match lua.coerce_string(v.clone()) {
                    Ok(Some(s)) => {
                        let bytes = s.as_bytes().to_vec();
                        Decoder {
                            lua,
                            config,
                            text: &bytes,
                            pos: 0,
                            depth: 0,
                        }
                        .document()
                        .map(|v| MultiValue::from_iter([v]))
                    }
                    _ => Err(format!(
                        "bad argument #1 to 'decode' (string expected, got {})",
                        super::type_name(v)
                    )),
                },
                _ => Err("bad argument #1 to 'decode' (expected 1 argument)".to_string()),
            };
            answer(lua, decoded)
        })?,
    )?;
    table.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    table.raw_set("_NAME", "cjson")?;
    table.raw_set("_VERSION", "2.1.0")?;
    table.raw_set("new", lua.create_function(|lua, ()| library(lua))?)?;
    install_settings(lua, &table, config)?;
    Ok(table)
}

/// A setter that also reads: each returns the setting's value after the call.
type Setter = fn(&Lua, &MultiValue, &mut Config) -> std::result::Result<MultiValue, String>;

fn install_settings(lua: &Lua, table: &Table, config: Shared) -> Result<()> {
    let setters: [(&str, Setter); 7] = [
        ("encode_sparse_array", |lua, args, c| {
            if let Some(on) = switch(args, 0, "encode_sparse_array", &["off", "on"])? {
                c.sparse_convert = on == 1;
            }
            if let Some(n) = integer(lua, args, 1, "encode_sparse_array", 0, i32::MAX as i64)? {
                c.sparse_ratio = n;
            }
            if let Some(n) = integer(lua, args, 2, "encode_sparse_array", 0, i32::MAX as i64)? {
                c.sparse_safe = n;
            }
            Ok(MultiValue::from_iter([
                Value::Boolean(c.sparse_convert),
                Value::Integer(c.sparse_ratio),
                Value::Integer(c.sparse_safe),
            ]))
        }),
        ("encode_max_depth", |lua, args, c| {
            if let Some(n) = integer(lua, args, 0, "encode_max_depth", 1, i32::MAX as i64)? {
                c.encode_max_depth = n;
            }
            Ok(MultiValue::from_iter([Value::Integer(c.encode_max_depth)]))
        }),
        ("decode_max_depth", |lua, args, c| {
            if let Some(n) = integer(lua, args, 0, "decode_max_depth", 1, i32::MAX as i64)? {
                c.decode_max_depth = n;
            }
            Ok(MultiValue::from_iter([Value::Integer(c.decode_max_depth)]))
        }),
        ("encode_number_precision", |lua, args, c| {
            if let Some(n) = integer(lua, args, 0, "encode_number_precision", 1, 14)? {
                c.precision = n;
            }
            Ok(MultiValue::from_iter([Value::Integer(c.precision)]))
        }),
        ("encode_keep_buffer", |_, args, c| {
            if let Some(on) = switch(args, 0, "encode_keep_buffer", &["off", "on"])? {
                c.keep_buffer = on == 1;
            }
            Ok(MultiValue::from_iter([Value::Boolean(c.keep_buffer)]))
        }),
        ("encode_invalid_numbers", |lua, args, c| {
            if let Some(mode) = switch(args, 0, "encode_invalid_numbers", &["off", "on", "null"])? {
                c.encode_invalid = match mode {
                    0 => InvalidNumbers::Refuse,
                    1 => InvalidNumbers::Allow,
                    _ => InvalidNumbers::AsNull,
                };
            }
            Ok(MultiValue::from_iter([match c.encode_invalid {
                InvalidNumbers::Refuse => Value::Boolean(false),
                InvalidNumbers::Allow => Value::Boolean(true),
                InvalidNumbers::AsNull => {
                    Value::String(lua.create_string("null").map_err(|e| e.to_string())?)
                }
            }]))
        }),
        ("decode_invalid_numbers", |_, args, c| {
            if let Some(on) = switch(args, 0, "decode_invalid_numbers", &["off", "on"])? {
                c.decode_invalid = on == 1;
            }
            Ok(MultiValue::from_iter([Value::Boolean(c.decode_invalid)]))
        }),
    ];
    for (name, setter) in setters {
        let config = config.clone();
        table.raw_set(
            name,
            lua.create_function(move |lua, args: MultiValue| {
                let mut config = config.lock().unwrap_or_else(|e| e.into_inner());
                answer(lua, setter(lua, &args, &mut config))
            })?,
        )?;
    }
    Ok(())
}

/// An on/off (or named) option: a boolean, or one of `options` by name; `None` when absent.
fn switch(
    args: &MultiValue,
    i: usize,
    function: &str,
    options: &[&str],
) -> std::result::Result<Option<usize>, String> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(None),
        Some(Value::Boolean(b)) => Ok(Some(*b as usize)),
        Some(Value::String(s)) => {
            let text = s.to_string_lossy();
            match options.iter().position(|o| *o == text) {
                Some(index) => Ok(Some(index)),
                None => Err(format!(
                    "bad argument #{} to '{function}' (invalid option '{text}')",
                    i + 1
                )),
            }
        }
        Some(other) => Err(format!(
            "bad argument #{} to '{function}' (string expected, got {})",
            i + 1,
            super::type_name(other)
        )),
    }
}

/// An integer setting within bounds; lua-cjson reports a bad value as argument 1.
fn integer(
    lua: &Lua,
    args: &MultiValue,
    i: usize,
    function: &str,
    min: i64,
    max: i64,
) -> std::result::Result<Option<i64>, String> {
    match args.get(i) {
        None | Some(Value::Nil) => Ok(None),
        Some(_) => {
            let n = check_number(lua, args, i, function)? as i64;
            if n < min || n > max {
                return Err(format!(
                    "bad argument #1 to '{function}' (expected integer between {min} and {max})"
                ));
            }
            Ok(Some(n))
        }
    }
}

/// `%.<precision>g` (14 by default), as lua-cjson prints numbers (and 6, `%g`, as the Lua
/// debugger shows them); NaN is `nan` whatever
/// its sign bit.
pub(crate) fn format_number(n: f64, precision: i64, out: &mut Vec<u8>) {
    if n.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    extern "C" {
        fn snprintf(s: *mut u8, n: usize, format: *const u8, ...) -> i32;
    }
    let mut buf = [0u8; 64];
    // SAFETY: a precision of at most 14 fits any double in 64 bytes, snprintf writes within
    // the given bound, and the format's `*` takes the C int passed before the double.
    let len = unsafe {
        snprintf(
            buf.as_mut_ptr(),
            buf.len(),
            c"%.*g".as_ptr().cast(),
            precision as i32,
            n,
        )
    };
    out.extend_from_slice(&buf[..len as usize]);
}

fn encode(
    config: &Config,
    value: &Value,
    depth: usize,
    out: &mut Vec<u8>,
) -> std::result::Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => format_number(*n as f64, config.precision, out),
        Value::Number(n) => {
            if !n.is_finite() {
                match config.encode_invalid {
                    InvalidNumbers::Refuse => {
                        return Err("Cannot serialise number: must not be NaN or Inf".into())
                    }
                    InvalidNumbers::AsNull => {
                        out.extend_from_slice(b"null");
                        return Ok(());
                    }
                    InvalidNumbers::Allow => {}
                }
            }
            format_number(*n, config.precision, out)
        }
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(table) => {
            let depth = depth + 1;
            if depth as i64 > config.encode_max_depth {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            match array_length(config, table)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = table.raw_get(i).map_err(|e| e.to_string())?;
                        encode(config, &item, depth, out)?;
                    }
                    out.push(b']');
                }
                Some(_) if false => {}
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in table.pairs::<Value, Value>() {
                        let (key, item) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &key {
                            Value::String(s) => encode_string(&s.as_bytes(), out),
                            Value::Integer(n) => {
                                out.push(b'"');
                                format_number(*n as f64, config.precision, out);
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                format_number(*n, config.precision, out);
                                out.push(b'"');
                            }
                            other => {
                                return Err(format!(
                                    "Cannot serialise {}: table key must be a number or string",
                                    super::type_name(other)
                                ))
                            }
                        }
                        out.push(b':');
                        encode(config, &item, depth, out)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                super::type_name(other)
            ))
        }
    }
    Ok(())
}

/// lua-cjson's array test: `Some(max index)` when every key is a positive integer (holes
/// allowed within the sparse limits), `None` for an object. Too sparse an array is an error
/// unless the settings convert it to an object.
fn array_length(config: &Config, table: &Table) -> std::result::Result<Option<usize>, String> {
    let (mut max, mut count) = (0usize, 0usize);
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair.map_err(|e| e.to_string())?;
        let index = match key {
            Value::Integer(n) if n >= 1 => n as usize,
            Value::Number(n) if n >= 1.0 && n.floor() == n => n as usize,
            _ => return Ok(None),
        };
        max = max.max(index);
        count += 1;
    }
    let ratio = config.sparse_ratio as usize;
    if ratio > 0 && max > count * ratio && max > config.sparse_safe as usize {
        if config.sparse_convert {
            return Ok(None);
        }
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(Some(max))
}

fn encode_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &b in s {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// A JSON token as lua-cjson names it in "Expected X but found Y" errors.
#[derive(Clone)]
enum Token {
    ObjectBegin,
    ObjectEnd,
    ArrayBegin,
    ArrayEnd,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    fn name(&self) -> &'static str {
        match self {
            Token::ObjectBegin => "T_OBJ_BEGIN",
            Token::ObjectEnd => "T_OBJ_END",
            Token::ArrayBegin => "T_ARR_BEGIN",
            Token::ArrayEnd => "T_ARR_END",
            Token::String(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(what) => what,
        }
    }
}

struct Decoder<'a> {
    lua: &'a Lua,
    config: Config,
    text: &'a [u8],
    pos: usize,
    depth: usize,
}

impl Decoder<'_> {
    /// Where a string's error is reported: lua-cjson points at the failing escape.
    fn string_error(&mut self, what: &'static str, at: usize) -> Token {
        self.pos = at;
        Token::Error(what)
    }

    fn document(mut self) -> std::result::Result<Value, String> {
        // lua-cjson's guess at a UTF-16 or UTF-32 text: a NUL among its first two bytes (of
        // two or more).
        if self.text.len() >= 2 && self.text[..2].contains(&0) {
            return Err("JSON parser does not support UTF-16 or UTF-32".to_string());
        }
        // Past that, lua-cjson reads the text as a C string: a NUL is its end (T_END between
        // tokens, the end of the text inside a string).
        if let Some(nul) = self.text.iter().position(|&b| b == 0) {
            self.text = &self.text[..nul];
        }
        let (token, at) = self.next_token();
        let value = self.value(token, at)?;
        let (token, at) = self.next_token();
        if !matches!(token, Token::End) {
            return Err(expected("the end", &token, at));
        }
        Ok(value)
    }

    fn value(&mut self, token: Token, at: usize) -> std::result::Result<Value, String> {
        let lua_error = |e: mlua::Error| e.to_string();
        Ok(match token {
            Token::String(s) => Value::String(self.lua.create_string(&s).map_err(lua_error)?),
            Token::Number(n) => Value::Number(n),
            Token::Boolean(b) => Value::Boolean(b),
            Token::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
            Token::ObjectBegin => {
                self.enter(at)?;
                let table = self.lua.create_table().map_err(lua_error)?;
                let (mut token, mut at) = self.next_token();
                if !matches!(token, Token::ObjectEnd) {
                    loop {
                        let Token::String(key) = token else {
                            return Err(expected("object key string", &token, at));
                        };
                        let (colon, colon_at) = self.next_token();
                        if !matches!(colon, Token::Colon) {
                            return Err(expected("colon", &colon, colon_at));
                        }
                        let (item, item_at) = self.next_token();
                        let item = self.value(item, item_at)?;
                        table
                            .raw_set(self.lua.create_string(&key).map_err(lua_error)?, item)
                            .map_err(lua_error)?;
                        let (sep, sep_at) = self.next_token();
                        match sep {
                            Token::ObjectEnd => break,
                            Token::Comma => {}
                            other => return Err(expected("comma or object end", &other, sep_at)),
                        }
                        (token, at) = self.next_token();
                    }
                }
                self.depth -= 1;
                Value::Table(table)
            }
            Token::ArrayBegin => {
                self.enter(at)?;
                let table = self.lua.create_table().map_err(lua_error)?;
                let (mut token, mut at) = self.next_token();
                if !matches!(token, Token::ArrayEnd) {
                    let mut i = 1;
                    loop {
                        let item = self.value(token, at)?;
                        table.raw_set(i, item).map_err(lua_error)?;
                        i += 1;
                        let (sep, sep_at) = self.next_token();
                        match sep {
                            Token::ArrayEnd => break,
                            Token::Comma => {}
                            other => return Err(expected("comma or array end", &other, sep_at)),
                        }
                        (token, at) = self.next_token();
                    }
                }
                self.depth -= 1;
                Value::Table(table)
            }
            other => return Err(expected("value", &other, at)),
        })
    }

    fn enter(&mut self, at: usize) -> std::result::Result<(), String> {
        self.depth += 1;
        if self.depth as i64 > self.config.decode_max_depth {
            return Err(format!(
                "Found too many nested data structures ({}) at character {}",
                self.depth,
                at + 1
            ));
        }
        Ok(())
    }

    /// The next token and the offset where it starts.
    fn next_token(&mut self) -> (Token, usize) {
        while self.pos < self.text.len()
            && matches!(self.text[self.pos], b' ' | b'\t' | b'\n' | b'\r')
        {
            self.pos += 1;
        }
        let at = self.pos;
        let Some(&c) = self.text.get(self.pos) else {
            return (Token::End, at);
        };
        let single = match c {
            b'{' => Some(Token::ObjectBegin),
            b'}' => Some(Token::ObjectEnd),
            b'[' => Some(Token::ArrayBegin),
            b']' => Some(Token::ArrayEnd),
            b':' => Some(Token::Colon),
            b',' => Some(Token::Comma),
            _ => None,
        };
        if let Some(token) = single {
            self.pos += 1;
            return (token, at);
        }
        let rest = &self.text[self.pos..];
        let token = if c == b'"' {
            let token = self.string();
            if matches!(token, Token::Error(_)) {
                return (token, self.pos);
            }
            token
        } else if c == b'-' || c.is_ascii_digit() || starts_invalid_number(rest) {
            if !self.config.decode_invalid && is_invalid_number(rest) {
                return (Token::Error("invalid number"), at);
            }
            let (n, len, _) = redis_lite_protocol::number::strtod(rest);
            if len == 0 {
                Token::Error("invalid number")
            } else {
                self.pos += len;
                Token::Number(n)
            }
        } else if rest.starts_with(b"true") {
            self.pos += 4;
            Token::Boolean(true)
        } else if rest.starts_with(b"false") {
            self.pos += 5;
            Token::Boolean(false)
        } else if rest.starts_with(b"null") {
            self.pos += 4;
            Token::Null
        } else {
            Token::Error("invalid token")
        };
        (token, at)
    }

    fn string(&mut self) -> Token {
        let mut out = Vec::new();
        self.pos += 1;
        loop {
            let Some(&c) = self.text.get(self.pos) else {
                return Token::Error("unexpected end of string");
            };
            self.pos += 1;
            match c {
                b'"' => return Token::String(out),
                b'\\' => {
                    let escape_at = self.pos - 1;
                    let Some(&e) = self.text.get(self.pos) else {
                        return Token::Error("unexpected end of string");
                    };
                    self.pos += 1;
                    match e {
                        b'"' | b'\\' | b'/' => out.push(e),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => match self.unicode_escape() {
                            Some(ch) => {
                                let mut buf = [0u8; 4];
                                out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                            }
                            None => {
                                return self.string_error("invalid unicode escape code", escape_at)
                            }
                        },
                        _ => return self.string_error("invalid escape code", escape_at),
                    }
                }
                _ => out.push(c),
            }
        }
    }

    /// After `\u`: four hex digits, or a surrogate pair of two escapes.
    fn unicode_escape(&mut self) -> Option<char> {
        let hex4 = |text: &[u8], at: usize| -> Option<u32> {
            let digits = text.get(at..at + 4)?;
            u32::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok()
        };
        let first = hex4(self.text, self.pos)?;
        self.pos += 4;
        if (0xD800..0xDC00).contains(&first) {
            if self.text.get(self.pos..self.pos + 2) != Some(b"\\u") {
                return None;
            }
            let second = hex4(self.text, self.pos + 2)?;
            if !(0xDC00..0xE000).contains(&second) {
                return None;
            }
            self.pos += 6;
            return char::from_u32(0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00));
        }
        char::from_u32(first)
    }
}

/// lua-cjson accepts `inf`, `nan` and hexadecimal numbers that strtod reads.
fn starts_invalid_number(rest: &[u8]) -> bool {
    let lower: Vec<u8> = rest
        .iter()
        .take(3)
        .map(|b| b.to_ascii_lowercase())
        .collect();
    lower == b"inf" || lower == b"nan"
}

/// What `decode_invalid_numbers(false)` refuses: hexadecimal, infinities and NaN.
fn is_invalid_number(rest: &[u8]) -> bool {
    let unsigned = rest.strip_prefix(b"-").unwrap_or(rest);
    unsigned.len() >= 2 && unsigned[0] == b'0' && (unsigned[1] | 0x20) == b'x'
        || starts_invalid_number(unsigned)
}

fn expected(what: &str, found: &Token, at: usize) -> String {
    format!(
        "Expected {what} but found {} at character {}",
        found.name(),
        at + 1
    )
}
