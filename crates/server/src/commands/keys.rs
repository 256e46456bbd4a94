//! Keyspace commands that work on keys of any type: DEL, EXISTS, EXPIRE, SCAN, RENAME...

use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::context::Ctx;
use crate::error::CmdResult;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("del", -2, WRITE, del)
    .keys(1, -1, 1)
    .doc("generic", "1.0.0", "Delete a key")
    .complexity("O(N) where N is the number of keys that will be removed.")
    .syntax("key...")];

/// DEL key [key ...]
fn del(ctx: &mut Ctx<'_>) -> CmdResult {
    let keys = &ctx.args[1..];
    let mut locked = ctx.lock(keys.iter().copied());
    let mut removed = 0;
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        if db.peek(hash, key, ctx.now_ms).is_some() {
            db.remove(hash, key);
            removed += 1;
        }
    }
    drop(locked);
    ctx.dirty(removed);
    ctx.out.integer(removed as i64);
    Ok(())
}
