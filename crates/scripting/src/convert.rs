//! Conversions between RESP and Lua, both ways, with Redis 7.0's rules: command replies
//! become Lua values for `redis.call`, and a script's return value becomes the client's reply.

use std::ffi::c_int;

use mlua::{ffi, Lua, Result, Table, Value};
use redis_lite_protocol::{Protocol, ReplyWriter, Response};

/// The field Redis sets on the error table of a command's error reply (a script can see it).
pub(crate) const STATS_COUNTED: &str = "ignore_error_stats_update";

/// Lua's stack limit (LUAI_MAXCSTACK), which Redis's conversion of a script's return value
/// runs into: before each value it makes sure of 4 free slots or writes the stack-limit error
/// in its place, and each level of nesting keeps what it works through on the stack. So a
/// table that contains itself ends in that error instead of recursing without bound, as deep
/// as in Redis: 7,995 levels of arrays.
const LUA_STACK_SLOTS: usize = 8000;
/// The slots Redis has in use when it converts the return value itself.
const RETURN_VALUE_SLOT: usize = 2;

/// A command's reply as the Lua value `redis.call` returns. `protocol` is the one the reply
/// was encoded in: a RESP2 null is `false`, a RESP3 null is `nil`.
pub(crate) fn reply_to_lua(lua: &Lua, reply: &Response, protocol: Protocol) -> Result<Value> {
    Ok(match reply {
        Response::Status(text) => field_table(lua, "ok", lua.create_string(text)?)?,
        Response::Error(text) => {
            let table = lua.create_table()?;
            table.raw_set("err", lua.create_string(text)?)?;
            // As Redis marks it: the command already counted this error in the error stats,
            // so the script returning or raising it must not count it again.
            table.raw_set(STATS_COUNTED, true)?;
            Value::Table(table)
        }
        Response::Integer(n) => Value::Number(*n as f64),
        Response::Bulk(data) => Value::String(lua.create_string(data)?),
        Response::Nil => match protocol {
            Protocol::Resp2 => Value::Boolean(false),
            Protocol::Resp3 => Value::Nil,
        },
        Response::Double(text) => {
            let number = std::str::from_utf8(text)
                .ok()
                .and_then(|t| match t {
                    "inf" => Some(f64::INFINITY),
                    "-inf" => Some(f64::NEG_INFINITY),
                    _ => t.parse().ok(),
                })
                .unwrap_or(f64::NAN);
            field_table(lua, "double", Value::Number(number))?
        }
        Response::Bool(b) => Value::Boolean(*b),
        Response::BigNumber(digits) => field_table(lua, "big_number", lua.create_string(digits)?)?,
        Response::Verbatim { format, text } => {
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            field_table(lua, "verbatim_string", inner)?
        }
        Response::Array(items) | Response::Push(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                table.raw_set(i + 1, reply_to_lua(lua, item, protocol)?)?;
            }
            Value::Table(table)
        }
        Response::Set(items) => {
            let members = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                members.raw_set(reply_to_lua(lua, item, protocol)?, true)?;
            }
            field_table(lua, "set", members)?
        }
        Response::Map(pairs) => {
            let map = lua.create_table_with_capacity(0, pairs.len())?;
            for (key, value) in pairs {
                map.raw_set(
                    reply_to_lua(lua, key, protocol)?,
                    reply_to_lua(lua, value, protocol)?,
                )?;
            }
            field_table(lua, "map", map)?
        }
    })
}

/// Nested arrays deeper than this take the general path: each level holds two stack slots (a
/// status reply three), and a C function may use Lua's 20 without asking for more.
const SIMPLE_REPLY_DEPTH: usize = 8;

/// Pushes a command's reply onto Lua's stack as [`reply_to_lua`] converts it, for the replies
/// nearly every script gets: bulk strings, integers, nulls, booleans, status replies, and
/// arrays of them. Anything else (errors, the other RESP3 types), or a reply that does not
/// read as one whole value, leaves the stack as it was and answers false.
///
/// # Safety
/// `state` is inside a C function called by Lua, with its 20 free stack slots; it has no
/// memory limit, so these pushes raise no Lua error.
pub(crate) unsafe fn push_simple_reply(
    state: *mut ffi::lua_State,
    reply: &[u8],
    protocol: Protocol,
) -> bool {
    let top = ffi::lua_gettop(state);
    let mut at = 0;
    if push_simple(state, reply, &mut at, protocol, 0) && at == reply.len() {
        return true;
    }
    ffi::lua_settop(state, top);
    false
}

/// Pushes the value at `reply[*at..]` and moves `at` past it; false if it is not simple.
unsafe fn push_simple(
    state: *mut ffi::lua_State,
    reply: &[u8],
    at: &mut usize,
    protocol: Protocol,
    depth: usize,
) -> bool {
    let Some(line_end) = reply[*at..].windows(2).position(|w| w == b"\r\n") else {
        return false;
    };
    let (kind, line) = match &reply[*at..*at + line_end] {
        [kind, line @ ..] => (*kind, line),
        [] => return false,
    };
    *at += line_end + 2;
    let number = || std::str::from_utf8(line).ok()?.parse::<i64>().ok();
    match (kind, line) {
        (b'$' | b'*', b"-1") | (b'_', b"") => match protocol {
            Protocol::Resp2 => ffi::lua_pushboolean(state, 0),
            Protocol::Resp3 => ffi::lua_pushnil(state),
        },
        (b'#', b"t" | b"f") => ffi::lua_pushboolean(state, (line == b"t") as c_int),
        (b'+', _) => {
            ffi::lua_createtable(state, 0, 1);
            ffi::lua_pushstring(state, c"ok".as_ptr());
            ffi::lua_pushlstring(state, line.as_ptr().cast(), line.len());
            ffi::lua_rawset(state, -3);
        }
        (b':', _) => match number() {
            Some(n) => ffi::lua_pushnumber(state, n as f64),
            None => return false,
        },
        (b'$', _) => {
            let Some(len) = number().and_then(|n| usize::try_from(n).ok()) else {
                return false;
            };
            let Some(data) = reply.get(*at..).and_then(|rest| rest.get(..len)) else {
                return false;
            };
            if reply.get(*at + len..*at + len + 2) != Some(b"\r\n") {
                return false;
            }
            ffi::lua_pushlstring(state, data.as_ptr().cast(), len);
            *at += len + 2;
        }
        (b'*', _) => {
            let Some(len) = number().and_then(|n| c_int::try_from(n).ok()) else {
                return false;
            };
            if len < 0 || depth >= SIMPLE_REPLY_DEPTH {
                return false;
            }
            ffi::lua_createtable(state, len, 0);
            for index in 1..=ffi::lua_Integer::from(len) {
                if !push_simple(state, reply, at, protocol, depth + 1) {
                    return false;
                }
                ffi::lua_rawseti(state, -2, index);
            }
        }
        _ => return false,
    }
    true
}

fn field_table(lua: &Lua, field: &str, value: impl mlua::IntoLua) -> Result<Value> {
    let table = lua.create_table_with_capacity(0, 1)?;
    table.raw_set(field, value)?;
    Ok(Value::Table(table))
}

/// C's `(long long)` cast of a double as x86-64 does it: truncation toward zero, and the
/// "integer indefinite" value (`LLONG_MIN`) for NaN and anything out of range, which is what
/// Redis replies for `return 1e100`.
pub(crate) fn lua_number_to_integer(n: f64) -> i64 {
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if n.is_nan() || !(-TWO_POW_63..TWO_POW_63).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

/// Writes a script's return value as the client's reply. `script_resp` is the protocol the
/// script chose with `redis.setresp`, which decides how booleans are sent.
///
/// A work list instead of recursion: the reply may nest thousands of levels, more than a
/// script's fiber stack takes recursing (a debug build used some 8 KB a level). Each value
/// waits with the Lua stack slot Redis would convert it at (see [`LUA_STACK_SLOTS`]).
pub(crate) fn write_value(
    out: &mut ReplyWriter<'_>,
    value: &Value,
    script_resp: Protocol,
) -> Result<()> {
    let mut pending = vec![(value.clone(), RETURN_VALUE_SLOT)];
    while let Some((value, slot)) = pending.pop() {
        if slot + 4 > LUA_STACK_SLOTS {
            out.error("ERR reached lua stack limit");
            continue;
        }
        match value {
            Value::String(s) => out.bulk(&s.as_bytes()),
            Value::Boolean(b) => match script_resp {
                Protocol::Resp2 if b => out.integer(1),
                Protocol::Resp2 => out.null(),
                Protocol::Resp3 => out.boolean(b),
            },
            Value::Integer(n) => out.integer(n),
            Value::Number(n) => out.integer(lua_number_to_integer(n)),
            Value::Table(table) => write_table(out, &table, slot, &mut pending)?,
            _ => out.null(),
        }
    }
    Ok(())
}

/// A table is, in this order of precedence: an error (`err`), a status (`ok`), a double,
/// a big number, a map, a set, a verbatim string, or else an array up to its first nil.
/// Writes its header and queues its elements on `pending`, first one last, each with its slot:
/// an array's items one above the table's, a map's values three and keys four (the map, the
/// iteration's key and value, the key's copy), a set's members three.
fn write_table(
    out: &mut ReplyWriter<'_>,
    table: &Table,
    slot: usize,
    pending: &mut Vec<(Value, usize)>,
) -> Result<()> {
    if let Value::String(text) = table.raw_get::<Value>("err")? {
        out.error_bytes(&text.as_bytes());
        return Ok(());
    }
    if let Value::String(text) = table.raw_get::<Value>("ok")? {
        let text = text.as_bytes();
        let line: Vec<u8> = text
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        let buffer = out.buffer();
        buffer.push(b'+');
        buffer.extend_from_slice(&line);
        buffer.extend_from_slice(b"\r\n");
        return Ok(());
    }
    match table.raw_get::<Value>("double")? {
        Value::Number(n) => {
            out.double(n);
            return Ok(());
        }
        Value::Integer(n) => {
            out.double(n as f64);
            return Ok(());
        }
        _ => {}
    }
    if let Value::String(digits) = table.raw_get::<Value>("big_number")? {
        // Redis turns CR and LF into spaces, whichever protocol carries it.
        let digits: Vec<u8> = digits
            .as_bytes()
            .iter()
            .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
            .collect();
        out.big_number(&digits);
        return Ok(());
    }
    if let Value::Table(map) = table.raw_get::<Value>("map")? {
        let mut pairs = Vec::new();
        for pair in map.pairs::<Value, Value>() {
            pairs.push(pair?);
        }
        out.map(pairs.len());
        for (key, value) in pairs.into_iter().rev() {
            pending.push((value, slot + 3));
            pending.push((key, slot + 4));
        }
        return Ok(());
    }
    if let Value::Table(set) = table.raw_get::<Value>("set")? {
        let mut members = Vec::new();
        for pair in set.pairs::<Value, Value>() {
            members.push(pair?.0);
        }
        out.set(members.len());
        pending.extend(members.into_iter().rev().map(|member| (member, slot + 3)));
        return Ok(());
    }
    if let Value::Table(verbatim) = table.raw_get::<Value>("verbatim_string")? {
        if let (Value::String(format), Value::String(text)) = (
            verbatim.raw_get::<Value>("format")?,
            verbatim.raw_get::<Value>("string")?,
        ) {
            out.verbatim(&format.as_bytes(), &text.as_bytes());
            return Ok(());
        }
    }
    let mut items = Vec::new();
    for i in 1.. {
        match table.raw_get::<Value>(i)? {
            Value::Nil => break,
            item => items.push(item),
        }
    }
    out.array(items.len());
    pending.extend(items.into_iter().rev().map(|item| (item, slot + 1)));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_truncate_like_a_c_cast() {
        assert_eq!(lua_number_to_integer(3.99), 3);
        assert_eq!(lua_number_to_integer(-3.99), -3);
        assert_eq!(lua_number_to_integer(1e100), i64::MIN);
        assert_eq!(lua_number_to_integer(f64::NAN), i64::MIN);
        assert_eq!(lua_number_to_integer(f64::INFINITY), i64::MIN);
        assert_eq!(lua_number_to_integer(-(2f64.powi(63))), i64::MIN);
    }
}
