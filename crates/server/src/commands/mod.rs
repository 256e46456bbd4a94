//! The data-type command families, one file each. A family exports `COMMANDS`, its specs, and
//! the handlers they name; `FAMILIES` lists every family for the command table, these and
//! those that subsystems own (`admin`, `pubsub`, `txn`, `persistence`, `memory`).
//! Families reach the keyspace through [`access`]: one dialect for typed lookups, get-or-create,
//! delete-if-empty, STORE results, index ranges and SCAN options.

use crate::client::OutputClass;
use crate::command::CommandSpec;
use crate::context::Ctx;
use crate::error::CommandError;

pub mod access;
pub mod bitmaps;
pub mod geo;
pub mod hashes;
pub mod hyperloglog;
pub mod keys;
pub mod lists;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod zsets;

pub static FAMILIES: &[&[CommandSpec]] = &[
    crate::admin::clients::COMMANDS,
    crate::acl::acl_family::COMMANDS,
    crate::admin::instance::COMMANDS,
    crate::admin::debug::COMMANDS,
    crate::persistence::persistence_family::COMMANDS,
    crate::memory::memory_family::COMMANDS,
    crate::admin::modules::COMMANDS,
    crate::admin::info::COMMANDS,
    crate::admin::introspection::COMMANDS,
    crate::admin::migrate::COMMANDS,
    crate::monitor::COMMANDS,
    crate::admin::lolwut::COMMANDS,
    crate::observability::observability_family::COMMANDS,
    keys::COMMANDS,
    strings::COMMANDS,
    crate::pubsub::pubsub_family::COMMANDS,
    crate::txn::COMMANDS,
    crate::scripting::scripting_family::COMMANDS,
    crate::replication::replication_family::COMMANDS,
    crate::cluster::cluster_family::COMMANDS,
    sort::COMMANDS,
    hashes::COMMANDS,
    bitmaps::COMMANDS,
    hyperloglog::COMMANDS,
    sets::COMMANDS,
    lists::COMMANDS,
    zsets::COMMANDS,
    geo::COMMANDS,
    streams::entries::COMMANDS,
    streams::groups::COMMANDS,
];

/// Whether a reply of `elements` elements, each at least `min_bytes` long on the wire, may be
/// built for a client-chosen count (`SRANDMEMBER s -4611686018427387904`).
///
/// A reply that would take the client past its output buffer's hard limit is not built: Redis
/// stops adding to it at the limit and closes the client unanswered, so the client is closed
/// here and false returned (the command then replies nothing). One that could not be built in
/// memory at all is refused: a reply is built whole before it is sent, so it would grow the
/// output buffer until an allocation fails and the process aborts (Redis 7.0 tries and dies).
/// Half the machine's memory is the ceiling, as a growing buffer briefly needs its old and new
/// copies.
pub fn reply_fits(ctx: &Ctx<'_>, elements: u64, min_bytes: u64) -> Result<bool, CommandError> {
    let bytes = elements.saturating_mul(min_bytes);
    // A script's replies and the replicated stream's have no output limit.
    if !ctx.in_script() && !ctx.client.kind.obeyed() {
        let class = match ctx.client.is_subscriber() {
            true => OutputClass::PubSub,
            false => OutputClass::Normal,
        };
        let hard = ctx.server.config.read().output_buffer_limits[class as usize].hard;
        if hard > 0 && bytes > hard {
            ctx.client.handle.close_for_output_limit();
            return Ok(false);
        }
    }
    let ceiling = match crate::admin::info::total_system_memory() {
        0 => 1 << 36,
        total => total / 2,
    };
    if bytes > ceiling {
        return Err(CommandError::err(format!(
            "count is too large: a reply of {elements} elements would not fit in memory"
        )));
    }
    Ok(true)
}

/// The smallest element a random-pick reply holds: `$0\r\n\r\n`.
pub const MIN_BULK_BYTES: u64 = 6;
