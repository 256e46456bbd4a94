//! The replication commands: the master's side (SYNC, PSYNC, REPLCONF, WAIT) and the
//! replica's (REPLICAOF, SLAVEOF), and ROLE.

use std::time::Instant;

use crate::command::acl;
use crate::command::flags::*;
use crate::command::{CommandSpec, Group};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, role)
        .doc(
            Group::Server,
            "2.8.12",
            "Return the role of the instance in the context of replication",
        )
        .complexity("O(1)")
        .acl(acl::ADMIN | acl::DANGEROUS),
    // The replica's side. REPLICAOF takes every gate: no command of the master link is
    // halfway through while it cuts the link.
    CommandSpec::new(
        "replicaof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        replicaof,
    )
    .doc(
        Group::Server,
        "5.0.0",
        "Make the server a replica of another instance, or promote it as master.",
    )
    .complexity("O(1)")
    .syntax("args=(host-port=(host port:integer) | no-one=(NO ONE))")
    .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
    .exclusive(),
    CommandSpec::new(
        "slaveof",
        3,
        ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING,
        replicaof,
    )
    .doc(
        Group::Server,
        "1.0.0",
        "Make the server a replica of another instance, or promote it as master.",
    )
    .complexity("O(1)")
    .syntax("args=(host-port=(host port:integer) | no-one=(NO ONE))")
    .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
    .exclusive(),
];

/// ROLE: a master's offset and its replicas (address, acknowledged offset); a replica's
/// master, link state and offset.
fn role(ctx: &mut Ctx<'_>) -> CmdResult {
    if let Some((host, port, state, offset)) = super::replica::role(ctx.server) {
        ctx.out.array(5);
        ctx.out.bulk(b"slave");
        ctx.out.bulk(host.as_bytes());
        ctx.out.integer(port as i64);
        ctx.out.bulk(state.as_bytes());
        ctx.out.integer(offset);
        return Ok(());
    }
    let offset = ctx.server.replication.backlog.pull();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.integer(offset as i64);
    ctx.out.array(0);
    Ok(())
}

// The replica's side: REPLICAOF and SLAVEOF.

/// REPLICAOF host port | NO ONE, and SLAVEOF, its old name.
fn replicaof(ctx: &mut Ctx<'_>) -> CmdResult {
    // The log names the client that asked, as Redis's does.
    ctx.client
        .publish_info(Some(ctx.command.full_name.as_str()));
    let requested_by = ctx.client.handle.describe(Instant::now());
    let requested_by = requested_by.trim_end();
    if ctx.arg_is(1, "no") && ctx.arg_is(2, "one") {
        super::replica::promote(ctx.server, requested_by);
        ctx.out.ok();
        return Ok(());
    }
    let port = redis_lite_protocol::number::parse_i64(ctx.arg(2))
        .filter(|port| (0..=65535).contains(port))
        .ok_or_else(|| CommandError::err("Invalid master port"))?;
    let host = String::from_utf8_lossy(ctx.arg(1)).into_owned();
    match super::replica::replicaof(ctx.server, host, port as u16, requested_by) {
        true => ctx.out.ok(),
        false => ctx.out.simple("OK Already connected to specified master"),
    }
    Ok(())
}
