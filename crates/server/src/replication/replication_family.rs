//! The replication commands: the master's side (SYNC, PSYNC, REPLCONF, WAIT) and the
//! replica's (REPLICAOF, SLAVEOF), and ROLE.

use std::time::Instant;

use redis_lite_protocol::number::parse_i64;
use redis_lite_protocol::split_args;

use super::failover::{Phase, Request};
use super::master;
use crate::blocking::WakeOrder;
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
    // The master's side.
    CommandSpec::new("sync", 1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI, sync)
        .doc(Group::Server, "1.0.0", "Internal command used for replication")
        .acl(acl::ADMIN | acl::DANGEROUS)
        .complexity(""),
    CommandSpec::new(
        "psync",
        -3,
        ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI,
        psync,
    )
    .doc(Group::Server, "2.8.0", "Internal command used for replication")
    .syntax("replicationid:string offset:integer")
    .acl(acl::ADMIN | acl::DANGEROUS)
    // `PSYNC ... FAILOVER` may cut this server's link to its master.
    .exclusive()
    .complexity(""),
    CommandSpec::new(
        "replconf",
        -1,
        ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY,
        replconf,
    )
    .doc(
        Group::Server,
        "3.0.0",
        "An internal command for configuring the replication stream",
    )
    .complexity("O(1)")
    .acl(acl::ADMIN | acl::DANGEROUS)
    .syscmd(),
    CommandSpec::new("wait", 3, NOSCRIPT, wait)
        .tips(&["request_policy:all_shards", "response_policy:agg_min"])
        .doc(
            Group::Generic,
            "3.0.0",
            "Wait for the synchronous replication of all the write commands sent in the context of the current connection",
        )
        .complexity("O(1)")
        .syntax("numreplicas:integer timeout:integer")
        .acl(acl::CONNECTION)
        .no_group_acl(),
    // FAILOVER takes every gate: no write is halfway through when it pauses them.
    CommandSpec::new("failover", -1, ADMIN | NOSCRIPT | STALE, failover)
        .doc(
            Group::Server,
            "6.2.0",
            "Start a coordinated failover between this server and one of its replicas.",
        )
        .complexity("O(1)")
        .syntax("[TO target=(host port:integer [FORCE])] [ABORT] [TIMEOUT milliseconds:integer]")
        .acl(acl::ADMIN | acl::SLOW | acl::DANGEROUS)
        .exclusive(),
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
    .exclusive()
    .deprecated(&("5.0.0", "`REPLICAOF`")),
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
    let replication = &ctx.server.replication;
    let offset = replication.backlog.pull();
    let replicas = replication.master.role_entries();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.integer(offset as i64);
    ctx.out.array(replicas.len());
    for (ip, port, acked) in replicas {
        ctx.out.array(3);
        ctx.out.bulk(ip.as_bytes());
        ctx.out.bulk(port.to_string().as_bytes());
        ctx.out.bulk(acked.to_string().as_bytes());
    }
    Ok(())
}

/// Whether the client already is a replica: SYNC and PSYNC are then ignored, as in Redis.
fn already_replica(ctx: &Ctx<'_>) -> bool {
    ctx.client
        .replica
        .as_ref()
        .is_some_and(|r| r.link.is_some())
}

/// A replica serves replicas of its own only while its link is up: they get its master's
/// stream, which it has only then.
fn check_can_serve(ctx: &Ctx<'_>) -> CmdResult {
    let link = &ctx.server.replication.replica;
    if link.is_replica() && !link.link_is_up() {
        return Err(CommandError::coded(
            "NOMASTERLINK Can't SYNC while not connected with my master",
        ));
    }
    Ok(())
}

/// A filtered snapshot (`REPLCONF rdb-filter-only`) goes over the socket only, so the replica
/// must read a diskless transfer.
fn check_filter_has_eof(ctx: &Ctx<'_>) -> CmdResult {
    let conf = ctx.client.replica.as_ref();
    if conf.is_some_and(|c| c.filter.is_filtered() && !c.capa_eof) {
        return Err(CommandError::err(
            "Filtered replica requires EOF capability",
        ));
    }
    Ok(())
}

/// SYNC: the old protocol's full resynchronisation (no `+FULLRESYNC` line, no acknowledgements).
fn sync(ctx: &mut Ctx<'_>) -> CmdResult {
    if !already_replica(ctx) {
        check_not_failing_over(ctx)?;
        check_can_serve(ctx)?;
        check_filter_has_eof(ctx)?;
        master::start_sync(ctx.server, ctx.client, None, &mut ctx.out)?;
    }
    Ok(())
}

/// No replica may attach while this server fails over: it is about to become a replica.
fn check_not_failing_over(ctx: &Ctx<'_>) -> CmdResult {
    match ctx.server.replication.failover.phase() {
        Phase::NoFailover => Ok(()),
        _ => Err(CommandError::coded(
            "NOMASTERLINK Can't SYNC while failing over",
        )),
    }
}

/// PSYNC replid offset [FAILOVER]: continue from the backlog, or resynchronise in full. With
/// FAILOVER it comes from this replica's master handing its role over (see `failover`): this
/// server first becomes a master, if the ID is its own, so the old master continues with it.
fn psync(ctx: &mut Ctx<'_>) -> CmdResult {
    if !already_replica(ctx) {
        if ctx.arg_count() > 3 && ctx.arg_is(3, "failover") {
            let replid = ctx.server.replication.ids().replid;
            if !ctx.arg(1).eq_ignore_ascii_case(replid.as_bytes()) {
                return Err(CommandError::err(
                    "PSYNC FAILOVER replid must match my replid.",
                ));
            }
            let client = ctx.client.handle.describe(Instant::now());
            let requested_by = format!("failover request from '{}'", client.trim_end());
            super::replica::promote(ctx.server, &requested_by);
        }
        check_not_failing_over(ctx)?;
        check_can_serve(ctx)?;
        check_filter_has_eof(ctx)?;
        let request = (ctx.arg(1), ctx.arg(2));
        master::start_sync(ctx.server, ctx.client, Some(request), &mut ctx.out)?;
    }
    Ok(())
}

/// REPLCONF option value ...: what a replica tells its master before SYNC/PSYNC (its port,
/// address, capabilities), and ACK/GETACK after, which get no reply.
fn replconf(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    for i in (1..ctx.arg_count()).step_by(2) {
        let option = ctx.arg(i).to_ascii_lowercase();
        let value = ctx.arg(i + 1);
        match option.as_slice() {
            b"listening-port" => {
                let port = parse_i64(value).ok_or(CommandError::NotInteger)?;
                replica_conf(ctx).listening_port = port;
            }
            b"ip-address" => {
                replica_conf(ctx).ip_address = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"capa" => match value.to_ascii_lowercase().as_slice() {
                b"eof" => replica_conf(ctx).capa_eof = true,
                b"psync2" => replica_conf(ctx).capa_psync2 = true,
                // Capabilities this master does not know are ignored, as Redis ignores them.
                _ => {}
            },
            b"rdb-only" => {
                let flag = parse_i64(value).ok_or(CommandError::NotInteger)?;
                if !(0..=1).contains(&flag) {
                    return Err(CommandError::err(
                        "value is out of range, value must between 0 and 1",
                    ));
                }
                replica_conf(ctx).rdb_only = flag == 1;
            }
            b"rdb-filter-only" => {
                // Redis reads the value as a C string: a NUL ends it.
                let value = value.split(|&b| b == 0).next().unwrap_or_default();
                let filters = split_args(value)
                    .ok_or_else(|| CommandError::err("Missing rdb-filter-only values"))?;
                // Everything is left out but what a filter names; an unknown one fails the
                // option with what was named before it kept, as in Redis.
                let conf = replica_conf(ctx);
                conf.filter = master::RdbFilter {
                    keys: false,
                    functions: false,
                };
                for filter in &filters {
                    if !filter.eq_ignore_ascii_case(b"functions") {
                        return Err(CommandError::err_quoting(
                            "Unsupported rdb-filter-only option: ",
                            filter,
                            "",
                        ));
                    }
                    conf.filter.functions = true;
                }
            }
            b"ack" => {
                if let Some(offset) = parse_i64(value).filter(|o| *o >= 0) {
                    master::acknowledge(ctx.server, ctx.client, offset as u64);
                }
                return Ok(());
            }
            // Answered by a replica's link to its master; anyone else gets nothing.
            b"getack" => return Ok(()),
            _ => {
                return Err(CommandError::err_quoting(
                    "Unrecognized REPLCONF option: ",
                    ctx.arg(i),
                    "",
                ))
            }
        }
    }
    ctx.out.ok();
    Ok(())
}

fn replica_conf<'c>(ctx: &'c mut Ctx<'_>) -> &'c mut master::ReplicaClient {
    ctx.client.replica.get_or_insert_with(Default::default)
}

/// WAIT numreplicas timeout: blocks until that many replicas acknowledged the client's writes,
/// or the timeout (ms, 0 = forever) passes; replies how many did. Inside MULTI or a script it
/// answers at once.
fn wait(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.server.config.read().replicaof.is_some() {
        return Err(CommandError::err(
            "WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.",
        ));
    }
    let wanted = ctx.arg_i64(1)?;
    let timeout = parse_i64(ctx.arg(2)).ok_or(CommandError::err(
        "timeout is not an integer or out of range",
    ))?;
    if timeout < 0 {
        return Err(CommandError::err("timeout is negative"));
    }
    let server = ctx.server.clone();
    let target = server
        .replication
        .backlog
        .stream_offset_of(ctx.client.journal_offset);
    let acked = server.replication.master.acknowledged(target);
    if acked as i64 >= wanted || ctx.client.mode.nested() {
        ctx.out.integer(acked as i64);
        return Ok(());
    }
    ctx.block_as(
        &[],
        timeout as u64,
        move |out| out.integer(server.replication.master.acknowledged(target) as i64),
        WakeOrder::Broadcast,
        None,
    );
    if let Some(blocked) = &ctx.client.blocked {
        ctx.server
            .replication
            .master
            .wait_for_acks(ctx.server, &blocked.waiter);
    }
    Ok(())
}

// The replica's side: REPLICAOF and SLAVEOF.

/// REPLICAOF host port | NO ONE, and SLAVEOF, its old name.
fn replicaof(ctx: &mut Ctx<'_>) -> CmdResult {
    // A cluster replica follows the master the cluster names (CLUSTER REPLICATE).
    if ctx.server.cluster.enabled() {
        return Err(CommandError::err("REPLICAOF not allowed in cluster mode."));
    }
    if ctx.server.replication.failover.phase() != Phase::NoFailover {
        return Err(CommandError::err(
            "REPLICAOF not allowed while failing over.",
        ));
    }
    // The log names the client that asked, as Redis's does.
    ctx.client
        .publish_info(Some(ctx.command.full_name.as_str()));
    let requested_by = ctx.client.handle.describe(Instant::now());
    let requested_by = requested_by.trim_end();
    if ctx.arg_is(1, "no") && ctx.arg_is(2, "one") {
        // On a master nothing changes, and Redis logs nothing (PSYNC FAILOVER logs either way).
        if ctx.server.replication.replica.is_replica() {
            super::replica::promote(ctx.server, &format!("user request from '{requested_by}'"));
        }
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

/// FAILOVER [TO host port [FORCE]] [ABORT] [TIMEOUT milliseconds]: starts handing this master's
/// role to a replica (see `failover`), or with ABORT alone stops one. The checks and their
/// order are Redis's.
fn failover(ctx: &mut Ctx<'_>) -> CmdResult {
    let server = ctx.server;
    if server.cluster.enabled() {
        return Err(CommandError::err(
            "FAILOVER not allowed in cluster mode. Use CLUSTER FAILOVER command instead.",
        ));
    }
    let failover = &server.replication.failover;
    if ctx.arg_count() == 2 && ctx.arg_is(1, "abort") {
        if failover.phase() == Phase::NoFailover {
            return Err(CommandError::err("No failover in progress."));
        }
        failover.abort(server, "Failover manually aborted");
        ctx.out.ok();
        return Ok(());
    }
    let mut timeout_ms = 0;
    let mut target = None;
    let mut force = false;
    let mut i = 1;
    while i < ctx.arg_count() {
        let more = ctx.arg_count() - i - 1;
        if ctx.arg_is(i, "timeout") && more >= 1 && timeout_ms == 0 {
            timeout_ms = ctx.arg_i64(i + 1)?;
            if timeout_ms <= 0 {
                return Err(CommandError::err("FAILOVER timeout must be greater than 0"));
            }
            i += 2;
        } else if ctx.arg_is(i, "to") && more >= 2 && target.is_none() {
            let port = ctx.arg_i64(i + 2)?;
            target = Some((String::from_utf8_lossy(ctx.arg(i + 1)).into_owned(), port));
            i += 3;
        } else if ctx.arg_is(i, "force") && !force {
            force = true;
            i += 1;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    if failover.phase() != Phase::NoFailover {
        return Err(CommandError::err("FAILOVER already in progress."));
    }
    if server.replication.replica.is_replica() {
        return Err(CommandError::err(
            "FAILOVER is not valid when server is a replica.",
        ));
    }
    let replicas = server.replication.master.acknowledgements();
    if replicas.is_empty() {
        return Err(CommandError::err("FAILOVER requires connected replicas."));
    }
    if force && (timeout_ms == 0 || target.is_none()) {
        return Err(CommandError::err(
            "FAILOVER with force option requires both a timeout and target HOST and IP.",
        ));
    }
    if let Some((host, port)) = &target {
        let found = replicas
            .iter()
            .find(|r| r.ip.eq_ignore_ascii_case(host) && r.port == *port);
        match found {
            None => {
                return Err(CommandError::err(
                    "FAILOVER target HOST and PORT is not a replica.",
                ))
            }
            Some(replica) if !replica.online => {
                return Err(CommandError::err("FAILOVER target replica is not online."))
            }
            Some(_) => {}
        }
    }
    let request = Request {
        target,
        timeout_ms: (timeout_ms > 0).then_some(timeout_ms as u64),
        force,
    };
    failover.start(server, request);
    ctx.out.ok();
    Ok(())
}
