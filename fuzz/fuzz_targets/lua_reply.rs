//! The RESP ↔ Lua conversions of scripting: a command's reply as `redis.call` gives it to a
//! script, then that value returned by the script, in RESP2 (first byte even) or RESP3.
//! Oracle: what a script returns is always one well-formed reply. A conversion may fail with
//! a Lua error (a set or map with a nil member makes "table index is nil", as in Redis, where
//! `redis.call` raises it): that is the script's error, not a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_protocol::{parse_response, Protocol};
use redis_lite_scripting::reply_through_lua_for_fuzzing;

thread_local! {
    static LUA: mlua::Lua = mlua::Lua::new();
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, wire)) = data.split_first() else {
        return;
    };
    let protocol = if control % 2 == 0 {
        Protocol::Resp2
    } else {
        Protocol::Resp3
    };
    let Ok(Some((reply, _))) = parse_response(wire) else {
        return;
    };
    let Ok(out) = LUA.with(|lua| reply_through_lua_for_fuzzing(lua, &reply, protocol)) else {
        return;
    };
    match parse_response(&out) {
        Ok(Some((_, used))) => assert_eq!(used, out.len(), "more than one reply: {out:?}"),
        other => panic!("a script returned a malformed reply {out:?}: {other:?}"),
    }
});
