//! Command families, one file each. A family exports `COMMANDS`, its specs, and the handlers
//! they name; `FAMILIES` lists them all for the command table.

use crate::command::CommandSpec;
use crate::context::Ctx;

pub mod bitmaps;
pub mod connection;
pub mod hashes;
pub mod hyperloglog;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod lists;
pub mod memory;
pub mod modules;
pub mod persistence;
pub mod pubsub;
pub mod server;
pub mod sets;
pub mod sort;
pub mod strings;
pub mod transactions;
pub mod zsets;

pub static FAMILIES: &[&[CommandSpec]] = &[
    connection::COMMANDS,
    server::COMMANDS,
    persistence::COMMANDS,
    memory::COMMANDS,
    modules::COMMANDS,
    info::COMMANDS,
    introspection::COMMANDS,
    keys::COMMANDS,
    strings::COMMANDS,
    pubsub::COMMANDS,
    transactions::COMMANDS,
    sort::COMMANDS,
    hashes::COMMANDS,
    bitmaps::COMMANDS,
    hyperloglog::COMMANDS,
    sets::COMMANDS,
    lists::COMMANDS,
    zsets::COMMANDS,
];

/// The reply to `<COMMAND> HELP`: Redis's header line, the given lines, and the HELP entry.
pub fn reply_help(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        ctx.out.simple(line);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}
