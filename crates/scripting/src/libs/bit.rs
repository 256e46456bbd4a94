//! The `bit` library (LuaBitOp's API, which Redis bundles): 32-bit operations on Lua
//! numbers. A number becomes 32 bits the way LuaBitOp does it, by adding 2^52 + 2^51 and
//! keeping the low word of the double, which rounds to nearest and wraps modulo 2^32; every
//! result is returned as a signed 32-bit number.

use mlua::{Lua, MultiValue, Result, Table, Value};

use super::{answer, check_number};

fn to_bits(n: f64) -> u32 {
    (n + 6_755_399_441_055_744.0).to_bits() as u32
}

fn result(bits: u32) -> std::result::Result<MultiValue, String> {
    Ok(MultiValue::from_iter([Value::Number(bits as i32 as f64)]))
}

fn arg(lua: &Lua, args: &MultiValue, i: usize, name: &str) -> std::result::Result<u32, String> {
    check_number(lua, args, i, name).map(to_bits)
}

type BitFn = fn(&Lua, &MultiValue) -> std::result::Result<MultiValue, String>;

pub(crate) fn library(lua: &Lua) -> Result<Table> {
    let table = lua.create_table()?;
    let functions: [(&str, BitFn); 12] = [
        ("tobit", |lua, a| result(arg(lua, a, 0, "tobit")?)),
        ("bnot", |lua, a| result(!arg(lua, a, 0, "bnot")?)),
        ("band", |lua, a| fold(lua, a, "band", |x, y| x & y)),
        ("bor", |lua, a| fold(lua, a, "bor", |x, y| x | y)),
        ("bxor", |lua, a| fold(lua, a, "bxor", |x, y| x ^ y)),
        ("lshift", |lua, a| shift(lua, a, "lshift", |x, n| x << n)),
        ("rshift", |lua, a| shift(lua, a, "rshift", |x, n| x >> n)),
        ("arshift", |lua, a| {
            shift(lua, a, "arshift", |x, n| ((x as i32) >> n) as u32)
        }),
        ("rol", |lua, a| {
            shift(lua, a, "rol", |x, n| x.rotate_left(n))
        }),
        ("ror", |lua, a| {
            shift(lua, a, "ror", |x, n| x.rotate_right(n))
        }),
        ("bswap", |lua, a| {
            result(arg(lua, a, 0, "bswap")?.swap_bytes())
        }),
        ("tohex", tohex),
    ];
    for (name, f) in functions {
        table.raw_set(
            name,
            lua.create_function(move |lua, args: MultiValue| answer(lua, f(lua, &args)))?,
        )?;
    }
    Ok(table)
}

fn fold(
    lua: &Lua,
    args: &MultiValue,
    name: &str,
    op: fn(u32, u32) -> u32,
) -> std::result::Result<MultiValue, String> {
    let mut acc = arg(lua, args, 0, name)?;
    for i in 1..args.len() {
        acc = op(acc, arg(lua, args, i, name)?);
    }
    result(acc)
}

fn shift(
    lua: &Lua,
    args: &MultiValue,
    name: &str,
    op: fn(u32, u32) -> u32,
) -> std::result::Result<MultiValue, String> {
    let x = arg(lua, args, 0, name)?;
    let n = arg(lua, args, 1, name)? & 31;
    result(op(x, n))
}

/// `bit.tohex(x [, n])`: the low `n` hex digits (default 8); a negative `n` means upper case.
fn tohex(lua: &Lua, args: &MultiValue) -> std::result::Result<MultiValue, String> {
    let x = arg(lua, args, 0, "tohex")?;
    let mut n: i32 = if args.len() > 1 && !matches!(args[1], Value::Nil) {
        arg(lua, args, 1, "tohex")? as i32
    } else {
        8
    };
    let upper = n < 0;
    if upper {
        n = -n;
    }
    let n = n.min(8) as usize;
    let digits = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut text = vec![0u8; n];
    let mut v = x;
    for slot in text.iter_mut().rev() {
        *slot = digits[(v & 15) as usize];
        v >>= 4;
    }
    Ok(MultiValue::from_iter([Value::String(
        lua.create_string(&text).map_err(|e| e.to_string())?,
    )]))
}
