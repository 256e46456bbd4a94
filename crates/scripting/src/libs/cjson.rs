//! The `cjson` library (lua-cjson 2.1's behaviour with Redis's defaults): `encode` with
//! numbers as `%.14g`, `/` escaped, empty tables as `{}`, sparse arrays refused past
//! lua-cjson's ratio, and `decode` with its error texts ("Expected value but found invalid
//! token at character 1"). `cjson.null` is the NULL light userdata.

use mlua::{LightUserData, Lua, MultiValue, Result, Table, Value};

use super::answer;

const MAX_DEPTH: usize = 1000;
/// lua-cjson's defaults: an array may have holes while its largest index is at most twice
/// its element count, or at most 10.
const SPARSE_RATIO: usize = 2;
const SPARSE_SAFE: usize = 10;

pub(crate) fn library(lua: &Lua) -> Result<Table> {
    let table = lua.create_table()?;
    table.raw_set(
        "encode",
        lua.create_function(|lua, args: MultiValue| {
            let encoded = match args.len() {
                1 => {
                    let mut out = Vec::new();
                    encode(&args[0], 0, &mut out).and_then(|()| {
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
    table.raw_set(
        "decode",
        lua.create_function(|lua, args: MultiValue| {
            let decoded = match (args.len(), args.front()) {
                (1, Some(Value::String(s))) => {
                    let bytes = s.as_bytes().to_vec();
                    Decoder {
                        lua,
                        text: &bytes,
                        pos: 0,
                        depth: 0,
                    }
                    .document()
                    .map(|v| MultiValue::from_iter([v]))
                }
                (1, Some(v)) => match lua.coerce_string(v.clone()) {
                    Ok(Some(s)) => {
                        let bytes = s.as_bytes().to_vec();
                        Decoder {
                            lua,
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
    Ok(table)
}

/// `%.14g`, lua-cjson's default precision.
fn format_number(n: f64, out: &mut Vec<u8>) {
    let mut buf = [0u8; 64];
    // SAFETY: 64 bytes hold any %.14g output, and snprintf NUL-terminates within the bound.
    let len = unsafe { libc_snprintf(&mut buf, n) };
    out.extend_from_slice(&buf[..len]);
}

unsafe fn libc_snprintf(buf: &mut [u8; 64], n: f64) -> usize {
    extern "C" {
        fn snprintf(s: *mut u8, n: usize, format: *const u8, ...) -> i32;
    }
    snprintf(buf.as_mut_ptr(), buf.len(), c"%.14g".as_ptr().cast(), n) as usize
}

fn encode(value: &Value, depth: usize, out: &mut Vec<u8>) -> std::result::Result<(), String> {
    match value {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => format_number(*n as f64, out),
        Value::Number(n) => {
            if !n.is_finite() {
                return Err("Cannot serialise number: must not be NaN or Inf".into());
            }
            format_number(*n, out)
        }
        Value::String(s) => encode_string(&s.as_bytes(), out),
        Value::Table(table) => {
            let depth = depth + 1;
            if depth > MAX_DEPTH {
                return Err(format!("Cannot serialise, excessive nesting ({depth})"));
            }
            match array_length(table).map_err(|e| e.to_string())? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = table.raw_get(i).map_err(|e| e.to_string())?;
                        encode(&item, depth, out)?;
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
                                format_number(*n as f64, out);
                                out.push(b'"');
                            }
                            Value::Number(n) => {
                                out.push(b'"');
                                format_number(*n, out);
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
                        encode(&item, depth, out)?;
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
/// allowed within the sparse limits), `None` for an object. Too sparse an array is an error.
fn array_length(table: &Table) -> std::result::Result<Option<usize>, String> {
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
    if max > SPARSE_SAFE && max > count * SPARSE_RATIO {
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
        if self.depth > MAX_DEPTH {
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

fn expected(what: &str, found: &Token, at: usize) -> String {
    format!(
        "Expected {what} but found {} at character {}",
        found.name(),
        at + 1
    )
}
