//! The libraries Redis adds to Lua's base, string, table and math: `bit` (LuaBitOp),
//! `cjson`, `struct` and `cmsgpack`, written here in Rust, and its deterministic
//! `math.random`.
//!
//! Their functions raise a plain message with the caller's position, as a C library's
//! `luaL_error` does ([`answer`]).

pub(crate) mod bit;
pub(crate) mod cjson;
pub(crate) mod cmsgpack;
pub mod random;
pub(crate) mod structlib;

use mlua::{Lua, MultiValue, Result, Table};

/// Each library's table, by global name.
pub(crate) fn load(lua: &Lua) -> Result<Vec<(&'static str, Table)>> {
    Ok(vec![
        ("bit", bit::library(lua)?),
        ("cjson", cjson::library(lua)?),
        ("struct", structlib::library(lua)?),
        ("cmsgpack", cmsgpack::library(lua)?),
    ])
}

/// A library function's result: its values, or its message raised as a Lua error.
pub(crate) fn answer(
    lua: &Lua,
    result: std::result::Result<MultiValue, String>,
) -> Result<MultiValue> {
    result.map_err(|message| crate::runtime::lua_error(lua, &message))
}

/// `luaL_checknumber`: numbers, and strings that convert.
pub(crate) fn check_number(
    lua: &Lua,
    args: &MultiValue,
    index: usize,
    function: &str,
) -> std::result::Result<f64, String> {
    let value = args.get(index).cloned().unwrap_or(mlua::Value::Nil);
    match &value {
        mlua::Value::Integer(n) => return Ok(*n as f64),
        mlua::Value::Number(n) => return Ok(*n),
        mlua::Value::String(_) => {
            if let Ok(Some(n)) = lua.coerce_number(value.clone()) {
                return Ok(n);
            }
        }
        _ => {}
    }
    Err(format!(
        "bad argument #{} to '{}' (number expected, got {})",
        index + 1,
        function,
        if index < args.len() {
            type_name(&value)
        } else {
            "no value"
        }
    ))
}

/// Lua's name for a value's type, as `luaL_typename` gives it in argument errors.
pub(crate) fn type_name(value: &mlua::Value) -> &'static str {
    match value {
        mlua::Value::Nil => "nil",
        mlua::Value::Boolean(_) => "boolean",
        mlua::Value::Integer(_) | mlua::Value::Number(_) => "number",
        mlua::Value::String(_) => "string",
        mlua::Value::Table(_) => "table",
        mlua::Value::Function(_) => "function",
        mlua::Value::Thread(_) => "thread",
        mlua::Value::LightUserData(_) | mlua::Value::UserData(_) => "userdata",
        _ => "userdata",
    }
}
