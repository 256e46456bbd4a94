//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT.

use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::context::Ctx;
use crate::error::CmdResult;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("ping", -1, FAST, ping)
    .doc("connection", "1.0.0", "Ping the server")
    .syntax("[message]")];

/// PING [message]
fn ping(ctx: &mut Ctx<'_>) -> CmdResult {
    match ctx.arg_count() {
        1 => ctx.out.simple("PONG"),
        2 => ctx.out.bulk(ctx.arg(1)),
        _ => return Err(ctx.wrong_arity()),
    }
    Ok(())
}
