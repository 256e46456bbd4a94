//! String commands: GET, SET and friends, counters, ranges, LCS.

use redis_lite_engine::Value;

use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, READONLY | FAST, get)
        .keys(1, 1, 1)
        .doc("string", "1.0.0", "Get the value of a key")
        .syntax("key"),
    CommandSpec::new("set", -3, WRITE | DENYOOM, set)
        .keys(1, 1, 1)
        .doc("string", "1.0.0", "Set the string value of a key")
        .syntax(
            "key value condition=[NX | XX] [GET] expiration=[EX seconds:integer | PX milliseconds:integer | \
             EXAT unix-time-seconds:unix-time | PXAT unix-time-milliseconds:unix-time | KEEPTTL]",
        ),
];

/// Writes a string value as a bulk reply.
pub fn reply_string(ctx: &mut Ctx<'_>, value: &Value) -> CmdResult {
    match value {
        Value::Int(n) => ctx.out.bulk_integer(*n),
        Value::Str(s) | Value::RawStr(s) => ctx.out.bulk(s),
    }
    Ok(())
}

/// GET key
fn get(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    match db.get(hash, key, ctx.now_ms) {
        None => {
            ctx.count_lookup(false);
            ctx.out.null();
            Ok(())
        }
        Some(entry) => {
            ctx.count_lookup(true);
            match &entry.value {
                v @ (Value::Int(_) | Value::Str(_) | Value::RawStr(_)) => reply_string(ctx, v),
                #[allow(unreachable_patterns)]
                _ => Err(CommandError::WrongType),
            }
        }
    }
}

/// SET key value
fn set(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, value) = (ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    db.set(hash, key, Value::string(value), false, ctx.now_ms);
    drop(locked);
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}
