//! The `cmsgpack` library Redis bundles (lua-cmsgpack's API): `pack(...)` concatenates the
//! MessagePack encoding of each argument, `unpack(data)` returns every value,
//! `unpack_one(data [, offset])` and `unpack_limit(data, limit [, offset])` return the next
//! offset (-1 at the end) before the values. Encoding picks the smallest form: integers by
//! range, non-integers as float32 when that is exact, strings as fixstr/str8/16/32, tables
//! whose keys are exactly 1..n as arrays and others as maps; tables nested 16 deep encode as
//! nil.
//!
//! Written against Lua's C API, as the C library is, so that its limits are Lua's own
//! (LUAI_MAXCSTACK, 8000 slots a C function): `pack` takes at most 4000 arguments (it asks for
//! as many slots again), `unpack` returns at most 7999 values, and nesting costs slots as it
//! does there, each with lua-cmsgpack's message. As mlua callbacks, every argument and value
//! held a reference slot of mlua's, and large calls failed sooner with mlua's message.
//!
//! Errors are raised ([`raise`]) only from frames that own nothing, since Lua's errors
//! longjmp: the encoder and the decoder return their failures instead.

use std::ffi::CStr;
use std::os::raw::c_int;

use mlua::{ffi, Lua, Table};

const MAX_NESTING: usize = 16;

pub(crate) fn library(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    for (name, function) in [
        ("pack", pack as ffi::lua_CFunction),
        ("unpack", unpack),
        ("unpack_one", unpack_one),
        ("unpack_limit", unpack_limit),
    ] {
        // SAFETY: each follows Lua's protocol for C functions (below).
        table.raw_set(name, unsafe { lua.create_c_function(function)? })?;
    }
    table.raw_set("_NAME", "cmsgpack")?;
    table.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    table.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    table.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(table)
}

/// An error to raise once the frames that own memory have returned.
enum Failure {
    /// `luaL_error`: the message after the caller's position.
    Message(String),
    /// `luaL_argerror(L, 0, ...)`: "bad argument #0 to 'pack' (...)".
    Argument(&'static CStr),
    /// A message without position, as Lua's own errors inside a C function have.
    Plain(&'static str),
}

/// Raises `failure` as a Lua error.
///
/// # Safety
/// `state` is in a C function called by Lua, and no frame between it and Lua owns memory.
unsafe fn raise(state: *mut ffi::lua_State, failure: Failure) -> ! {
    // The error discards this call's values anyway; the message needs room (the stack may be
    // full: that can be the error).
    ffi::lua_settop(state, 0);
    match failure {
        Failure::Message(text) => {
            ffi::luaL_where(state, 1);
            ffi::lua_pushlstring(state, text.as_ptr().cast(), text.len());
            drop(text);
            ffi::lua_concat(state, 2);
            ffi::lua_error(state)
        }
        Failure::Plain(text) => {
            ffi::lua_pushlstring(state, text.as_ptr().cast(), text.len());
            ffi::lua_error(state)
        }
        Failure::Argument(text) => {
            ffi::luaL_argerror(state, 0, text.as_ptr());
            unreachable!("luaL_argerror raises")
        }
    }
}

/// Lua 5.1's `luaL_checkstack` (mlua-sys's asks for LUA_MINSTACK slots more).
unsafe fn check_stack(state: *mut ffi::lua_State, slots: c_int, what: &str) -> Result<(), Failure> {
    if ffi::lua_checkstack(state, slots) == 0 {
        return Err(Failure::Message(format!("stack overflow ({what})")));
    }
    Ok(())
}

/// `cmsgpack.pack(...)`.
unsafe extern "C-unwind" fn pack(state: *mut ffi::lua_State) -> c_int {
    match pack_arguments(state) {
        Ok(()) => 1,
        Err(failure) => raise(state, failure),
    }
}

unsafe fn pack_arguments(state: *mut ffi::lua_State) -> Result<(), Failure> {
    let count = ffi::lua_gettop(state);
    if count == 0 {
        return Err(Failure::Argument(c"MessagePack pack needs input."));
    }
    // lua-cmsgpack keeps each argument's encoding on the stack: it asks for that room first.
    if ffi::lua_checkstack(state, count) == 0 {
        return Err(Failure::Argument(
            c"Too many arguments for MessagePack pack.",
        ));
    }
    let mut out = Vec::new();
    for i in 1..=count {
        ffi::lua_pushvalue(state, i);
        encode(state, 0, &mut out)?;
    }
    ffi::lua_pushlstring(state, out.as_ptr().cast(), out.len());
    Ok(())
}

/// Encodes the value on top of the stack and pops it. Tables are read raw (no `__index`,
/// whose errors could not be let through this frame).
unsafe fn encode(
    state: *mut ffi::lua_State,
    level: usize,
    out: &mut Vec<u8>,
) -> Result<(), Failure> {
    match ffi::lua_type(state, -1) {
        ffi::LUA_TSTRING => {
            let mut len = 0;
            let bytes = ffi::lua_tolstring(state, -1, &mut len);
            encode_string(std::slice::from_raw_parts(bytes.cast(), len), out);
        }
        ffi::LUA_TBOOLEAN => out.push(match ffi::lua_toboolean(state, -1) {
            0 => 0xc2,
            _ => 0xc3,
        }),
        ffi::LUA_TNUMBER => encode_number(ffi::lua_tonumber(state, -1), out),
        ffi::LUA_TTABLE if level < MAX_NESTING => encode_table(state, level, out)?,
        _ => out.push(0xc0),
    }
    ffi::lua_pop(state, 1);
    Ok(())
}

unsafe fn encode_table(
    state: *mut ffi::lua_State,
    level: usize,
    out: &mut Vec<u8>,
) -> Result<(), Failure> {
    if let Some(len) = array_length(state)? {
        header(out, len, 0x90, 0xdc, 0xdd);
        check_stack(state, 1, "in function mp_encode_lua_table_as_array")?;
        for i in 1..=len {
            ffi::lua_rawgeti(state, -1, i as ffi::lua_Integer);
            encode(state, level + 1, out)?;
        }
        return Ok(());
    }
    // Two walks, as lua-cmsgpack does: the count goes before the pairs.
    check_stack(state, 3, "in function mp_encode_lua_table_as_map")?;
    let mut count = 0;
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, -2) != 0 {
        ffi::lua_pop(state, 1);
        count += 1;
    }
    header(out, count, 0x80, 0xde, 0xdf);
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, -2) != 0 {
        ffi::lua_pushvalue(state, -2);
        encode(state, level + 1, out)?;
        encode(state, level + 1, out)?;
    }
    Ok(())
}

/// lua-cmsgpack's test: an array when every key is a positive integer (of C's `int`) and
/// they are exactly 1..n (an empty table is an empty array).
unsafe fn array_length(state: *mut ffi::lua_State) -> Result<Option<usize>, Failure> {
    check_stack(state, 2, "in function table_is_an_array")?;
    let top = ffi::lua_gettop(state);
    let (mut max, mut count) = (0usize, 0usize);
    ffi::lua_pushnil(state);
    while ffi::lua_next(state, -2) != 0 {
        ffi::lua_pop(state, 1);
        let n = ffi::lua_tonumber(state, -1);
        if ffi::lua_type(state, -1) != ffi::LUA_TNUMBER || n <= 0.0 || (n as i32) as f64 != n {
            ffi::lua_settop(state, top);
            return Ok(None);
        }
        max = max.max(n as usize);
        count += 1;
    }
    Ok((max == count).then_some(max))
}

fn encode_string(bytes: &[u8], out: &mut Vec<u8>) {
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
    out.extend_from_slice(bytes);
}

fn encode_number(n: f64, out: &mut Vec<u8>) {
    if n.is_finite() && (n as i64) as f64 == n {
        encode_integer(n as i64, out)
    } else if (n as f32) as f64 == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
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

/// `cmsgpack.unpack(data)`: every value.
unsafe extern "C-unwind" fn unpack(state: *mut ffi::lua_State) -> c_int {
    finish(state, unpack_values(state, 0, 0))
}

/// `cmsgpack.unpack_one(data [, offset])`.
unsafe extern "C-unwind" fn unpack_one(state: *mut ffi::lua_State) -> c_int {
    let offset = ffi::luaL_optinteger(state, 2, 0);
    ffi::lua_pop(state, ffi::lua_gettop(state) - 1);
    finish(state, unpack_values(state, 1, offset))
}

/// `cmsgpack.unpack_limit(data, limit [, offset])`.
unsafe extern "C-unwind" fn unpack_limit(state: *mut ffi::lua_State) -> c_int {
    let limit = ffi::luaL_checkinteger(state, 2);
    let offset = ffi::luaL_optinteger(state, 3, 0);
    ffi::lua_pop(state, ffi::lua_gettop(state) - 1);
    finish(state, unpack_values(state, limit, offset))
}

unsafe fn finish(state: *mut ffi::lua_State, result: Result<c_int, Failure>) -> c_int {
    match result {
        Ok(count) => count,
        Err(failure) => raise(state, failure),
    }
}

/// Pushes up to `limit` values decoded from argument 1 at `offset`; both 0 is everything,
/// without the next offset before them.
unsafe fn unpack_values(
    state: *mut ffi::lua_State,
    limit: ffi::lua_Integer,
    offset: ffi::lua_Integer,
) -> Result<c_int, Failure> {
    let mut len = 0;
    let bytes = ffi::luaL_checklstring(state, 1, &mut len);
    // SAFETY: the string stays on the stack, as argument 1, until this function returns.
    let data = std::slice::from_raw_parts(bytes.cast::<u8>(), len);
    let decode_all = limit == 0 && offset == 0;
    // lua-cmsgpack's messages, C's `%d` of `int` casts (and the length where it means the
    // limit) included.
    if offset < 0 || limit < 0 {
        return Err(Failure::Message(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Failure::Message(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let limit = if decode_all { i32::MAX.into() } else { limit };
    let mut decoder = Decoder {
        state,
        data,
        pos: offset as usize,
        open: Vec::new(),
    };
    let mut count: c_int = 0;
    while decoder.pos < data.len() && ffi::lua_Integer::from(count) < limit {
        decoder.value()?;
        count += 1;
    }
    if !decode_all {
        check_stack(state, 1, "in function mp_unpack_full")?;
        let next = match decoder.pos < data.len() {
            true => decoder.pos as ffi::lua_Integer,
            false => -1,
        };
        ffi::lua_pushinteger(state, next);
        ffi::lua_insert(state, 2);
        count += 1;
    }
    Ok(count)
}

const MISSING: &str = "Missing bytes in input.";
const BAD: &str = "Bad data format in input.";

/// A table being filled, innermost last.
enum Open {
    /// Its index `next` (pushed, above the table) gets the next value.
    Array { next: usize, len: usize },
    /// Keys and values still to come.
    Map { left: usize },
}

/// Pushes decoded values onto the stack, nested tables without recursion (lua-cmsgpack
/// recurses in C, on a larger stack than an event loop's; its depth is bounded by Lua's stack
/// all the same, two slots a level).
struct Decoder<'a> {
    state: *mut ffi::lua_State,
    data: &'a [u8],
    pos: usize,
    open: Vec<Open>,
}

impl<'a> Decoder<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Failure> {
        let data: &'a [u8] = self.data;
        let bytes = data
            .get(self.pos..self.pos.saturating_add(n))
            .ok_or_else(|| Failure::Message(MISSING.into()))?;
        self.pos += n;
        Ok(bytes)
    }

    fn uint(&mut self, n: usize) -> Result<u64, Failure> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }

    /// Decodes one value, with everything inside it, and pushes it.
    unsafe fn value(&mut self) -> Result<(), Failure> {
        loop {
            if self.item()? && self.fill()? {
                return Ok(());
            }
        }
    }

    /// Decodes the next item: pushes a value and answers true, or opens a table whose items
    /// follow.
    unsafe fn item(&mut self) -> Result<bool, Failure> {
        let tag = self.take(1)?[0];
        check_stack(
            self.state,
            1,
            "too many return values at once; use unpack_one or unpack_limit instead.",
        )?;
        let number = match tag {
            0x00..=0x7f => tag as f64,
            0xe0..=0xff => tag as i8 as f64,
            0x80..=0x8f => return Ok(self.open_map((tag & 0x0f) as usize)),
            0x90..=0x9f => return self.open_array((tag & 0x0f) as usize),
            0xa0..=0xbf => return self.string((tag & 0x1f) as usize),
            0xc0 => {
                ffi::lua_pushnil(self.state);
                return Ok(true);
            }
            0xc2 | 0xc3 => {
                ffi::lua_pushboolean(self.state, (tag == 0xc3) as c_int);
                return Ok(true);
            }
            0xd9..=0xdb => {
                let n = self.uint(1 << (tag - 0xd9))? as usize;
                return self.string(n);
            }
            0xdc | 0xdd => {
                let n = self.uint(2 << (tag - 0xdc))? as usize;
                return self.open_array(n);
            }
            0xde | 0xdf => {
                let n = self.uint(2 << (tag - 0xde))? as usize;
                return Ok(self.open_map(n));
            }
            0xca => f32::from_bits(self.uint(4)? as u32) as f64,
            0xcb => f64::from_bits(self.uint(8)?),
            0xcc => self.uint(1)? as f64,
            0xcd => self.uint(2)? as f64,
            0xce => self.uint(4)? as f64,
            0xcf => self.uint(8)? as f64,
            0xd0 => self.uint(1)? as u8 as i8 as f64,
            0xd1 => self.uint(2)? as u16 as i16 as f64,
            0xd2 => self.uint(4)? as u32 as i32 as f64,
            0xd3 => self.uint(8)? as i64 as f64,
            // Binary and extension types are not lua-cmsgpack's.
            _ => return Err(Failure::Message(BAD.into())),
        };
        ffi::lua_pushnumber(self.state, number);
        Ok(true)
    }

    unsafe fn string(&mut self, n: usize) -> Result<bool, Failure> {
        let bytes = self.take(n)?;
        ffi::lua_pushlstring(self.state, bytes.as_ptr().cast(), bytes.len());
        Ok(true)
    }

    unsafe fn open_array(&mut self, len: usize) -> Result<bool, Failure> {
        ffi::lua_newtable(self.state);
        check_stack(self.state, 1, "in function mp_decode_to_lua_array")?;
        if len == 0 {
            return Ok(true);
        }
        ffi::lua_pushnumber(self.state, 1.0);
        self.open.push(Open::Array { next: 1, len });
        Ok(false)
    }

    unsafe fn open_map(&mut self, pairs: usize) -> bool {
        ffi::lua_newtable(self.state);
        if pairs == 0 {
            return true;
        }
        self.open.push(Open::Map { left: pairs * 2 });
        false
    }

    /// Stores the value just pushed into the tables open, closing those it completes:
    /// true once the outermost value is whole, false when an open table wants more.
    unsafe fn fill(&mut self) -> Result<bool, Failure> {
        while let Some(open) = self.open.last_mut() {
            match open {
                Open::Array { next, len } => {
                    ffi::lua_settable(self.state, -3);
                    if *next < *len {
                        *next += 1;
                        ffi::lua_pushnumber(self.state, *next as f64);
                        return Ok(false);
                    }
                }
                Open::Map { left } => {
                    *left -= 1;
                    if *left % 2 == 1 {
                        return Ok(false);
                    }
                    // `lua_settable`'s refusals, returned rather than raised here.
                    if ffi::lua_type(self.state, -2) == ffi::LUA_TNIL {
                        return Err(Failure::Plain("table index is nil"));
                    }
                    if ffi::lua_type(self.state, -2) == ffi::LUA_TNUMBER
                        && ffi::lua_tonumber(self.state, -2).is_nan()
                    {
                        return Err(Failure::Plain("table index is NaN"));
                    }
                    ffi::lua_settable(self.state, -3);
                    if *left > 0 {
                        return Ok(false);
                    }
                }
            }
            self.open.pop();
        }
        Ok(true)
    }
}
