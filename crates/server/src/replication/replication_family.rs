//! The replication commands: the master's side (SYNC, PSYNC, REPLCONF, WAIT) and the
//! replica's (REPLICAOF, SLAVEOF), and ROLE.

use crate::command::acl;
use crate::command::flags::*;
use crate::command::{CommandSpec, Group};
use crate::context::Ctx;
use crate::error::CmdResult;

pub static COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("role", 1, NOSCRIPT | LOADING | STALE | FAST, role)
            .doc(
                Group::Server,
                "2.8.12",
                "Return the role of the instance in the context of replication",
            )
            .complexity("O(1)")
            .acl(acl::ADMIN | acl::DANGEROUS),
    ];

/// ROLE: a master's offset and its replicas (address, acknowledged offset).
fn role(ctx: &mut Ctx<'_>) -> CmdResult {
    let offset = ctx.server.replication.backlog.pull();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.integer(offset as i64);
    ctx.out.array(0);
    Ok(())
}
