//! CLUSTER and its subcommands that one node answers by itself, plus ASKING, READONLY and
//! READWRITE, with Redis 7.0's replies and errors. MEET adds a node the bus then shakes hands
//! with; REPLICATE makes this node a replica and FAILOVER starts a manual failover, by the
//! rules of `election`. A server without `cluster-enabled` answers every one with Redis's
//! error.

use crate::args::reply_help;
use crate::command::flags::*;
use crate::command::{acl, CommandSpec, Group};
use crate::config::Config;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

use super::election;
use super::state::{node_flags, ClusterState, Node, SLOTS};
use super::ClusterNode;

const ADMIN_FLAGS: u32 = ADMIN | STALE | NO_ASYNC_LOADING;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::container(
        "cluster",
        &[
            CommandSpec::new("addslots", -3, ADMIN_FLAGS, addslots)
                .doc(Group::Cluster, "3.0.0", "Assign new hash slots to receiving node")
                .complexity("O(N) where N is the total number of hash slot arguments")
                .syntax("slot:integer..."),
            CommandSpec::new("addslotsrange", -4, ADMIN_FLAGS, addslotsrange)
                .doc(Group::Cluster, "7.0.0", "Assign new hash slots to receiving node")
                .complexity("O(N) where N is the total number of the slots between the start slot and end slot arguments.")
                .syntax("start-slot_end-slot=(start-slot:integer end-slot:integer)..."),
            CommandSpec::new("bumpepoch", 2, ADMIN_FLAGS, bumpepoch)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "3.0.0", "Advance the cluster config epoch"),
            CommandSpec::new("count-failure-reports", 3, ADMIN | STALE, count_failure_reports)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "3.0.0", "Return the number of failure reports active for a given node")
                .complexity("O(N) where N is the number of failure reports")
                .syntax("node-id"),
            super::slots_family::COUNTKEYSINSLOT,
            CommandSpec::new("delslots", -3, ADMIN_FLAGS, delslots)
                .doc(Group::Cluster, "3.0.0", "Set hash slots as unbound in receiving node")
                .complexity("O(N) where N is the total number of hash slot arguments")
                .syntax("slot:integer..."),
            CommandSpec::new("delslotsrange", -4, ADMIN_FLAGS, delslotsrange)
                .doc(Group::Cluster, "7.0.0", "Set hash slots as unbound in receiving node")
                .complexity("O(N) where N is the total number of the slots between the start slot and end slot arguments.")
                .syntax("start-slot_end-slot=(start-slot:integer end-slot:integer)..."),
            // TAKEOVER stops replicating: no command of the master link may be halfway.
            CommandSpec::new("failover", -2, ADMIN_FLAGS, failover)
                .doc(Group::Cluster, "3.0.0", "Forces a replica to perform a manual failover of its master.")
                .syntax("[options=(FORCE | TAKEOVER)]")
                .exclusive(),
            CommandSpec::new("flushslots", 2, ADMIN_FLAGS, flushslots)
                .doc(Group::Cluster, "3.0.0", "Delete a node's own slots information"),
            CommandSpec::new("forget", 3, ADMIN_FLAGS, forget)
                .doc(Group::Cluster, "3.0.0", "Remove a node from the nodes table")
                .syntax("node-id"),
            CommandSpec::new("info", 2, STALE, info)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "3.0.0", "Provides info about Redis Cluster node state"),
            super::slots_family::KEYSLOT,
            CommandSpec::new("links", 2, STALE, links)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "7.0.0", "Returns a list of all TCP links to and from peer nodes in cluster")
                .complexity("O(N) where N is the total number of Cluster nodes"),
            CommandSpec::new("meet", -4, ADMIN_FLAGS, meet)
                .doc(Group::Cluster, "3.0.0", "Force a node cluster to handshake with another node")
                .syntax("ip port:integer [cluster_bus_port:integer{s=4.0.0}]")
                .history(&[
                    ("4.0.0", "Added the optional `cluster_bus_port` argument."),
                ]),
            CommandSpec::new("myid", 2, STALE, myid)
                .doc(Group::Cluster, "3.0.0", "Return the node id"),
            CommandSpec::new("nodes", 2, STALE, nodes)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "3.0.0", "Get Cluster config for the node")
                .complexity("O(N) where N is the total number of Cluster nodes"),
            CommandSpec::new("replicas", 3, ADMIN | STALE, replicas)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "5.0.0", "List replica nodes of the specified master node")
                .syntax("node-id"),
            // It points the master link elsewhere, as REPLICAOF does: it takes every gate.
            CommandSpec::new("replicate", 3, ADMIN_FLAGS, replicate)
                .doc(Group::Cluster, "3.0.0", "Reconfigure a node as a replica of the specified master node")
                .syntax("node-id")
                .exclusive(),
            CommandSpec::new("reset", -2, ADMIN | NOSCRIPT | STALE, reset)
                .doc(Group::Cluster, "3.0.0", "Reset a Redis Cluster node")
                .complexity("O(N) where N is the number of known nodes. The command may execute a FLUSHALL as a side effect.")
                .syntax("[hard_soft=(HARD | SOFT)]")
                // A replica stops replicating and empties its data, as in CLUSTER REPLICATE.
                .exclusive(),
            CommandSpec::new("saveconfig", 2, ADMIN_FLAGS, saveconfig)
                .doc(Group::Cluster, "3.0.0", "Forces the node to save cluster state on disk"),
            CommandSpec::new("set-config-epoch", 3, ADMIN_FLAGS, set_config_epoch)
                .doc(Group::Cluster, "3.0.0", "Set the configuration epoch in a new node")
                .syntax("config-epoch:integer"),
            CommandSpec::new("setslot", -4, ADMIN_FLAGS, setslot)
                .doc(Group::Cluster, "3.0.0", "Bind a hash slot to a specific node")
                .syntax(
                    "slot:integer subcommand=(IMPORTING node-id | MIGRATING node-id | NODE node-id \
                     | STABLE)",
                ),
            CommandSpec::new("shards", 2, STALE, shards)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "7.0.0", "Get array of cluster slots to node mappings")
                .complexity("O(N) where N is the total number of cluster nodes"),
            CommandSpec::new("slaves", 3, ADMIN | STALE, replicas)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "3.0.0", "List replica nodes of the specified master node")
                .syntax("node-id")
                .deprecated(&("5.0.0", "`CLUSTER REPLICAS`")),
            CommandSpec::new("slots", 2, STALE, slots)
                .tips(&["nondeterministic_output"])
                .doc(Group::Cluster, "3.0.0", "Get array of Cluster slot to node mappings")
                .complexity("O(N) where N is the total number of Cluster nodes")
                .history(&[
                    ("4.0.0", "Added node IDs."),
                    ("7.0.0", "Added additional networking metadata field."),
                ])
                .deprecated(&("7.0.0", "`CLUSTER SHARDS`")),
            super::slots_family::GETKEYSINSLOT,
            CommandSpec::new("help", 2, LOADING | STALE, help)
                .doc(Group::Cluster, "5.0.0", "Show helpful text about the different subcommands"),
        ],
    )
    .doc(Group::Cluster, "3.0.0", "A container for cluster commands")
    .complexity("Depends on subcommand."),
    CommandSpec::new("asking", 1, FAST, asking)
        .acl(acl::CONNECTION)
        .doc(Group::Cluster, "3.0.0", "Sent by cluster clients after an -ASK redirect"),
    CommandSpec::new("readonly", 1, LOADING | STALE | FAST, readonly)
        .acl(acl::CONNECTION)
        .doc(Group::Cluster, "3.0.0", "Enables read queries for a connection to a cluster replica node"),
    CommandSpec::new("readwrite", 1, LOADING | STALE | FAST, readwrite)
        .acl(acl::CONNECTION)
        .doc(Group::Cluster, "3.0.0", "Disables read queries for a connection to a cluster replica node"),
];

/// The node, or Redis's error on a server without cluster mode.
fn node<'a>(ctx: &Ctx<'a>) -> Result<&'a ClusterNode, CommandError> {
    ctx.server
        .cluster
        .node()
        .ok_or_else(|| CommandError::err("This instance has cluster support disabled"))
}

/// The node with its own address refreshed from the configuration.
fn announced<'a>(ctx: &Ctx<'a>) -> Result<&'a ClusterNode, CommandError> {
    let node = node(ctx)?;
    let port = ctx
        .server
        .identity
        .tcp_port
        .load(std::sync::atomic::Ordering::Relaxed) as u16;
    node.announce(&ctx.server.config.read(), port);
    Ok(node)
}

fn slot_arg(arg: &[u8]) -> Result<usize, CommandError> {
    redis_lite_protocol::number::parse_i64(arg)
        .filter(|&slot| (0..SLOTS as i64).contains(&slot))
        .map(|slot| slot as usize)
        .ok_or_else(|| CommandError::err("Invalid or out of range slot"))
}

fn unknown_node(id: &[u8]) -> CommandError {
    CommandError::err_quoting("Unknown node ", id, "")
}

fn known_node(state: &ClusterState, id: &[u8]) -> Result<usize, CommandError> {
    state.index_of(id).ok_or_else(|| unknown_node(id))
}

/// Records a change: nodes.conf is written before the reply, as Redis does before it sleeps,
/// and blocked clients re-check where their keys are served.
fn changed(ctx: &Ctx<'_>, node: &ClusterNode) {
    node.save_after_change();
    super::slots_changed(ctx.server);
}

/// [`changed`] for a change of slot assignments only, which Redis saves without flushing the
/// file to disk ([`ClusterNode::save_after_slot_change`]).
fn slots_changed(ctx: &Ctx<'_>, node: &ClusterNode) {
    node.save_after_slot_change();
    super::slots_changed(ctx.server);
}

/// CLUSTER ADDSLOTS slot [slot ...] / DELSLOTS
fn addslots(ctx: &mut Ctx<'_>) -> CmdResult {
    update_slots(ctx, false, false)
}

fn delslots(ctx: &mut Ctx<'_>) -> CmdResult {
    update_slots(ctx, true, false)
}

/// CLUSTER ADDSLOTSRANGE start end [start end ...] / DELSLOTSRANGE
fn addslotsrange(ctx: &mut Ctx<'_>) -> CmdResult {
    update_slots(ctx, false, true)
}

fn delslotsrange(ctx: &mut Ctx<'_>) -> CmdResult {
    update_slots(ctx, true, true)
}

/// Checks every slot named first (all or nothing), then assigns them to this node or unbinds
/// them. Adding a slot this node was importing ends the import.
fn update_slots(ctx: &mut Ctx<'_>, delete: bool, ranges: bool) -> CmdResult {
    let node = node(ctx)?;
    if ranges && !ctx.arg_count().is_multiple_of(2) {
        return Err(ctx.wrong_arity());
    }
    let mut state = node.write();
    let mut named = vec![false; SLOTS];
    let mut check = |slot: usize| -> CmdResult {
        match state.owner(slot) {
            None if delete => {
                return Err(CommandError::err(format!(
                    "Slot {slot} is already unassigned"
                )))
            }
            Some(_) if !delete => {
                return Err(CommandError::err(format!("Slot {slot} is already busy")))
            }
            _ => {}
        }
        if std::mem::replace(&mut named[slot], true) {
            return Err(CommandError::err(format!(
                "Slot {slot} specified multiple times"
            )));
        }
        Ok(())
    };
    if ranges {
        for pair in ctx.args[2..].chunks(2) {
            let (start, end) = (slot_arg(pair[0])?, slot_arg(pair[1])?);
            if start > end {
                return Err(CommandError::err(format!(
                    "start slot number {start} is greater than end slot number {end}"
                )));
            }
            (start..=end).try_for_each(&mut check)?;
        }
    } else {
        // Every slot is parsed before any is checked, as in Redis.
        let slots = ctx.args[2..]
            .iter()
            .map(|arg| slot_arg(arg))
            .collect::<Result<Vec<_>, _>>()?;
        slots.into_iter().try_for_each(&mut check)?;
    }
    for slot in (0..SLOTS).filter(|&slot| named[slot]) {
        if delete {
            state.unassign(slot);
        } else {
            state.set_importing(slot, None);
            state.assign(slot, 0);
        }
    }
    drop(state);
    slots_changed(ctx, node);
    ctx.out.ok();
    Ok(())
}

/// CLUSTER BUMPEPOCH
fn bumpepoch(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let mut state = node.write();
    let bumped = state.bump_epoch();
    let epoch = state.myself().config_epoch;
    drop(state);
    if bumped {
        changed(ctx, node);
    }
    let word = if bumped { "BUMPED" } else { "STILL" };
    ctx.out.simple(&format!("{word} {epoch}"));
    Ok(())
}

/// CLUSTER COUNT-FAILURE-REPORTS node-id: the masters that reported the node failing within
/// twice the node timeout.
fn count_failure_reports(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let validity = ctx.server.config.read().cluster.node_timeout.max(0) as u64 * 2;
    let mut state = node.write();
    let target = known_node(&state, ctx.arg(2))?;
    let count = state.nodes[target]
        .live
        .failure_reports(super::now_ms(), validity);
    ctx.out.integer(count as i64);
    Ok(())
}

/// CLUSTER FAILOVER [FORCE|TAKEOVER]: a replica takes its master's place. Plain, with the
/// master's agreement (MFSTART, the master pauses, the replica catches up, then elects); FORCE,
/// electing at once; TAKEOVER, with no election, under a new epoch of its own.
fn failover(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let (force, takeover) = match ctx.arg_count() {
        2 => (false, false),
        3 if ctx.arg_is(2, "force") => (true, false),
        3 if ctx.arg_is(2, "takeover") => (true, true),
        3 => return Err(CommandError::Syntax),
        _ => return Err(subcommand_syntax_error(ctx)),
    };
    let mut state = node.write();
    if state.myself().is_master() {
        return Err(CommandError::err(
            "You should send CLUSTER FAILOVER to a replica",
        ));
    }
    let Some(master) = state.master_of(0) else {
        return Err(CommandError::err(
            "I'm a replica but my master is unknown to me",
        ));
    };
    let master_down = state.nodes[master].is_failed() || !state.nodes[master].live.linked;
    if !force && master_down {
        return Err(CommandError::err(
            "Master is down or failed, please use CLUSTER FAILOVER FORCE",
        ));
    }
    let now = super::now_ms();
    if takeover {
        crate::log!(Warning, "Taking over the master (user request).");
        state.bump_epoch();
        drop(state);
        if election::replace_master(ctx.server, node) {
            node.bus.broadcast_pong();
        }
    } else if force {
        crate::log!(Warning, "Forced failover user request accepted.");
        node.election.lock().start_manual(now, true);
    } else {
        crate::log!(Warning, "Manual failover user request accepted.");
        node.election.lock().start_manual(now, false);
        node.bus.start_manual_failover();
    }
    ctx.out.ok();
    Ok(())
}

/// Redis's answer to a CLUSTER subcommand called with arguments it does not take.
fn subcommand_syntax_error(ctx: &Ctx<'_>) -> CommandError {
    CommandError::err_quoting(
        "unknown subcommand or wrong number of arguments for '",
        crate::error::truncated_bytes(ctx.arg(1), 128),
        "'. Try CLUSTER HELP.",
    )
}

/// CLUSTER FLUSHSLOTS
fn flushslots(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    if ctx.server.keyspace.db_len(0) != 0 {
        return Err(CommandError::err(
            "DB must be empty to perform CLUSTER FLUSHSLOTS.",
        ));
    }
    let mut state = node.write();
    for slot in 0..SLOTS {
        if state.owner(slot) == Some(0) {
            state.unassign(slot);
        }
    }
    drop(state);
    slots_changed(ctx, node);
    ctx.out.ok();
    Ok(())
}

/// CLUSTER FORGET node-id
fn forget(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let mut state = node.write();
    let target = known_node(&state, ctx.arg(2))?;
    if target == 0 {
        return Err(CommandError::err(
            "I tried hard but I can't forget myself...",
        ));
    }
    if state.myself().is_replica() && state.master_of(0) == Some(target) {
        return Err(CommandError::err("Can't forget my master!"));
    }
    // Gossip may not add it back for a minute, time for every node to be told to forget it.
    let until = super::now_ms() + FORGET_BLACKLIST_MS;
    let id = state.nodes[target].id.clone();
    state.forgotten.retain(|(f, _)| *f != id);
    state.forgotten.push((id, until));
    state.delete_node(target);
    drop(state);
    slots_changed(ctx, node);
    ctx.out.ok();
    Ok(())
}

/// How long a forgotten node stays out of this node's table.
const FORGET_BLACKLIST_MS: u64 = 60_000;

/// CLUSTER INFO
fn info(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let config = ctx.server.config.read();
    let ok = node.is_ok(&config);
    drop(config);
    let state = node.read();
    // Redis starts with a size of 1 and recomputes it only once past the writable delay.
    let size = if node.past_writable_delay(&state) {
        state.size()
    } else {
        1
    };
    let (slots_ok, pfail, fail) = state.slot_health();
    let text = format!(
        "cluster_state:{}\r\ncluster_slots_assigned:{}\r\ncluster_slots_ok:{slots_ok}\r\n\
         cluster_slots_pfail:{pfail}\r\ncluster_slots_fail:{fail}\r\ncluster_known_nodes:{}\r\n\
         cluster_size:{}\r\ncluster_current_epoch:{}\r\ncluster_my_epoch:{}\r\n\
         {}total_cluster_links_buffer_limit_exceeded:{}\r\n",
        if ok { "ok" } else { "fail" },
        state.assigned_slots(),
        state.nodes.len(),
        size,
        state.current_epoch,
        state.my_epoch(),
        node.bus.stats_lines(),
        node.bus
            .links_buffer_limit_exceeded
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// CLUSTER LINKS: the bus links to and from known nodes.
fn links(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let links = node.bus.links.lock().clone();
    ctx.out.array(links.len());
    for link in links {
        let pending = link.pending.load(std::sync::atomic::Ordering::Relaxed) as i64;
        ctx.out.map(6);
        ctx.out.bulk(b"direction");
        ctx.out.bulk(link.direction.as_bytes());
        ctx.out.bulk(b"node");
        ctx.out.bulk(link.node.as_bytes());
        ctx.out.bulk(b"create-time");
        ctx.out.integer(link.create_time as i64);
        ctx.out.bulk(b"events");
        ctx.out
            .bulk(if pending > 0 { b"rw" as &[u8] } else { b"r" });
        ctx.out.bulk(b"send-buffer-allocated");
        ctx.out.integer(pending);
        ctx.out.bulk(b"send-buffer-used");
        ctx.out.integer(pending);
    }
    Ok(())
}

/// CLUSTER MEET ip port [bus-port]
fn meet(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    if ctx.arg_count() > 5 {
        return Err(subcommand_syntax_error(ctx));
    }
    let number = |i: usize| redis_lite_protocol::number::parse_i64(ctx.arg(i));
    let Some(port) = number(3) else {
        return Err(CommandError::err_quoting(
            "Invalid TCP base port specified: ",
            ctx.arg(3),
            "",
        ));
    };
    let bus_port = match ctx.arg_count() {
        5 => number(4).ok_or_else(|| {
            CommandError::err_quoting("Invalid TCP bus port specified: ", ctx.arg(4), "")
        })?,
        _ => port + 10000,
    };
    let ip = std::str::from_utf8(ctx.arg(2))
        .ok()
        .and_then(|ip| ip.parse::<std::net::IpAddr>().ok());
    let valid_port = |p: i64| (1..=65535).contains(&p);
    if ip.is_none() || !valid_port(port) || !valid_port(bus_port) {
        let mut address = ctx.arg(2).to_vec();
        address.push(b':');
        address.extend_from_slice(ctx.arg(3));
        return Err(CommandError::err_quoting(
            "Invalid node address specified: ",
            &address,
            "",
        ));
    }
    let ip = ip.expect("checked above").to_string();
    let (port, bus_port) = (port as u16, bus_port as u16);
    let mut state = node.write();
    // A handshake already under way with that address is not started twice.
    let pending = state.nodes.iter().any(|n| {
        n.flags & node_flags::HANDSHAKE != 0 && n.ip == ip && n.port == port && n.cport == bus_port
    });
    if !pending {
        let mut met = Node::new(
            crate::server::random_hex(40),
            node_flags::HANDSHAKE | node_flags::MEET,
        );
        met.ip = ip;
        met.port = port;
        met.cport = bus_port;
        met.live.created_ms = super::now_ms();
        state.add_node(met);
    }
    drop(state);
    ctx.out.ok();
    Ok(())
}

/// Whether this client is shown plaintext ports ([`super::shows_plaintext_ports`]).
fn plaintext_ports(ctx: &Ctx<'_>) -> bool {
    super::shows_plaintext_ports(&ctx.server.config.read(), &ctx.client.handle.laddr)
}

/// CLUSTER MYID
fn myid(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let id = node.read().myself().id.clone();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

/// CLUSTER NODES
fn nodes(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = announced(ctx)?;
    let text = node.read().describe_all(true, plaintext_ports(ctx));
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// CLUSTER REPLICAS node-id / SLAVES: the replicas' CLUSTER NODES lines.
fn replicas(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = announced(ctx)?;
    let state = node.read();
    let master = known_node(&state, ctx.arg(2))?;
    if state.nodes[master].is_replica() {
        return Err(CommandError::err("The specified node is not a master"));
    }
    let replicas = state.replicas_of(master);
    ctx.out.array(replicas.len());
    for replica in replicas {
        ctx.out
            .bulk(state.describe(replica, plaintext_ports(ctx)).as_bytes());
    }
    Ok(())
}

/// CLUSTER REPLICATE node-id: this node becomes a replica of the master named, through the
/// replication module's master link.
fn replicate(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let mut state = node.write();
    let master = known_node(&state, ctx.arg(2))?;
    if master == 0 {
        return Err(CommandError::err("Can't replicate myself"));
    }
    if state.nodes[master].is_replica() {
        return Err(CommandError::err(
            "I can only replicate a master, not a replica.",
        ));
    }
    if state.myself().is_master()
        && (state.slot_count(0) != 0 || ctx.server.keyspace.db_len(0) != 0)
    {
        return Err(CommandError::err(
            "To set a master the node must be empty and without assigned slots.",
        ));
    }
    election::become_replica_of(ctx.server, node, &mut state, master);
    election::replicate_master(ctx.server, &state);
    drop(state);
    changed(ctx, node);
    ctx.out.ok();
    Ok(())
}

/// CLUSTER RESET [HARD|SOFT]
fn reset(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let hard = match ctx.arg_count() {
        2 => false,
        3 if ctx.arg_is(2, "hard") => true,
        3 if ctx.arg_is(2, "soft") => false,
        3 => return Err(CommandError::Syntax),
        _ => return Err(subcommand_syntax_error(ctx)),
    };
    let was_replica = node.read().myself().is_replica();
    if !was_replica && ctx.server.keyspace.db_len(ctx.client.db) != 0 {
        return Err(CommandError::err(
            "CLUSTER RESET can't be called with master nodes containing keys",
        ));
    }
    let new_id = hard.then(|| crate::server::random_hex(40));
    node.write().reset(new_id);
    if was_replica {
        crate::replication::replica::reset_to_empty_master(ctx.server);
    }
    changed(ctx, node);
    ctx.out.ok();
    Ok(())
}

/// CLUSTER SAVECONFIG
fn saveconfig(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    node.save()
        .map_err(|e| CommandError::err(format!("error saving the cluster node config: {e}")))?;
    ctx.out.ok();
    Ok(())
}

/// CLUSTER SET-CONFIG-EPOCH epoch
fn set_config_epoch(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    let epoch = ctx.arg_i64(2)?;
    if epoch < 0 {
        return Err(CommandError::err(format!(
            "Invalid config epoch specified: {epoch}"
        )));
    }
    let mut state = node.write();
    if state.nodes.len() > 1 {
        return Err(CommandError::err(
            "The user can assign a config epoch only when the node does not know any other node.",
        ));
    }
    if state.myself().config_epoch != 0 {
        return Err(CommandError::err("Node config epoch is already non-zero"));
    }
    let epoch = epoch as u64;
    state.myself_mut().config_epoch = epoch;
    state.current_epoch = state.current_epoch.max(epoch);
    drop(state);
    crate::log!(
        Warning,
        "configEpoch set to {epoch} via CLUSTER SET-CONFIG-EPOCH"
    );
    changed(ctx, node);
    ctx.out.ok();
    Ok(())
}

/// CLUSTER SETSLOT slot IMPORTING node-id | MIGRATING node-id | NODE node-id | STABLE
fn setslot(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = node(ctx)?;
    if node.read().myself().is_replica() {
        return Err(CommandError::err("Please use SETSLOT only with masters."));
    }
    let slot = slot_arg(ctx.arg(2))?;
    let action = ctx.arg(3).to_ascii_lowercase();
    let target_of = |state: &ClusterState, unknown: &str| -> Result<usize, CommandError> {
        let id = ctx.arg(4);
        let target = state
            .index_of(id)
            .ok_or_else(|| CommandError::err_quoting(unknown, id, ""))?;
        if state.nodes[target].is_replica() {
            return Err(CommandError::err("Target node is not a master"));
        }
        Ok(target)
    };
    // Counted before the state is locked: the rule takes the state's lock, then a shard's.
    let keys_in_slot = if action == b"node" {
        ctx.server.keyspace.keys_in_slot(0, slot)
    } else {
        0
    };
    let allow_replica_migration = ctx.server.config.read().cluster.allow_replica_migration;
    let mut state = node.write();
    let mut new_epoch = false;
    let mut import_closed = false;
    // The master this node becomes a replica of, having given it its last slot.
    let mut follow = None;
    match (action.as_slice(), ctx.arg_count()) {
        (b"migrating", 5) => {
            if state.owner(slot) != Some(0) {
                return Err(CommandError::err(format!(
                    "I'm not the owner of hash slot {slot}"
                )));
            }
            let target = target_of(&state, "I don't know about node ")?;
            state.set_migrating(slot, Some(target));
        }
        (b"importing", 5) => {
            if state.owner(slot) == Some(0) {
                return Err(CommandError::err(format!(
                    "I'm already the owner of hash slot {slot}"
                )));
            }
            let target = target_of(&state, "I don't know about node ")?;
            state.set_importing(slot, Some(target));
        }
        (b"stable", 4) => {
            state.set_importing(slot, None);
            state.set_migrating(slot, None);
        }
        (b"node", 5) => {
            let target = target_of(&state, "Unknown node ")?;
            if state.owner(slot) == Some(0) && target != 0 && keys_in_slot != 0 {
                return Err(CommandError::err(format!(
                    "Can't assign hashslot {slot} to a different node while I still hold keys for this hash slot."
                )));
            }
            if keys_in_slot == 0 {
                state.set_migrating(slot, None);
            }
            let slot_was_mine = state.owner(slot) == Some(0);
            state.unassign(slot);
            state.assign(slot, target);
            // A master left without slots replicates the node that took the last one, as
            // Redis 7.0 does (unless cluster-allow-replica-migration is off).
            if slot_was_mine && target != 0 && state.slot_count(0) == 0 && allow_replica_migration {
                let owner = &state.nodes[target];
                let (id, ip, port) = (owner.id.clone(), owner.ip.clone(), owner.port);
                crate::log!(
                    Warning,
                    "Configuration change detected. Reconfiguring myself as a replica of {id}"
                );
                let me = state.myself_mut();
                me.flags = (me.flags & !node_flags::MASTER) | node_flags::REPLICA;
                me.master = Some(id);
                follow = Some((ip, port));
            }
            if target == 0 && state.importing_from(slot).is_some() {
                // A slot migrated by hand: a new epoch, so that the new owner wins.
                new_epoch = state.bump_epoch();
                if new_epoch {
                    crate::log!(Warning, "configEpoch updated after importing slot {slot}");
                }
                state.set_importing(slot, None);
                import_closed = true;
            }
        }
        _ => {
            return Err(CommandError::err(
                "Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP",
            ))
        }
    }
    drop(state);
    // Redis flushes nodes.conf to disk for a new epoch or role only.
    if new_epoch || follow.is_some() {
        changed(ctx, node);
    } else {
        slots_changed(ctx, node);
    }
    // As Redis does, the others hear of the imported slot (and of the epoch it may have
    // taken) at once rather than at the next ping: a source that still thought its own epoch
    // the greatest would otherwise take its next imported slot without a new one, and a stale
    // ping of ours claiming that slot would take it back, leaving it served by nobody.
    if import_closed {
        node.bus.broadcast_pong();
    }
    if let Some((host, port)) = follow {
        crate::replication::replica::follow(ctx.server, host, port);
    }
    ctx.out.ok();
    Ok(())
}

/// The address clients are sent to for a node, per `cluster-preferred-endpoint-type`: its IP,
/// its hostname (`?` while it has none), or nothing.
pub fn preferred_endpoint<'n>(node: &'n Node, config: &Config) -> &'n str {
    match config.cluster.preferred_endpoint_type {
        "hostname" if !node.hostname.is_empty() => &node.hostname,
        "hostname" => "?",
        "unknown-endpoint" => "",
        _ => &node.ip,
    }
}

/// A node in CLUSTER SLOTS: endpoint, port, ID, then the other ways to reach it.
fn write_slot_node(ctx: &mut Ctx<'_>, node: &Node, config: &Config, plaintext: bool) {
    ctx.out.array(4);
    let endpoint_type = config.cluster.preferred_endpoint_type;
    // CLUSTER SLOTS says an unknown endpoint with a null.
    if endpoint_type == "unknown-endpoint" {
        ctx.out.null();
    } else {
        ctx.out.bulk(preferred_endpoint(node, config).as_bytes());
    }
    ctx.out.integer(node.client_port(plaintext) as i64);
    ctx.out.bulk(node.id.as_bytes());
    let show_ip = endpoint_type != "ip";
    let show_hostname = endpoint_type != "hostname" && !node.hostname.is_empty();
    ctx.out.map(show_ip as usize + show_hostname as usize);
    if show_ip {
        ctx.out.bulk(b"ip");
        ctx.out.bulk(node.ip.as_bytes());
    }
    if show_hostname {
        ctx.out.bulk(b"hostname");
        ctx.out.bulk(node.hostname.as_bytes());
    }
}

/// The replication offset of node `index`: this node's own, or the last its messages gave.
fn node_offset(state: &ClusterState, index: usize, own_offset: u64) -> u64 {
    match index {
        0 => own_offset,
        _ => state.nodes[index].live.repl_offset,
    }
}

/// CLUSTER SLOTS: each run of slots served by one node, with the node and its replicas.
fn slots(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = announced(ctx)?;
    let config = ctx.server.config.read().clone();
    let plaintext = plaintext_ports(ctx);
    let own_offset = super::own_offset(ctx.server);
    let state = node.read();
    let runs = state.slot_runs();
    ctx.out.array(runs.len());
    for (start, end, owner) in runs {
        // A replica is listed once it has synced something (a non-zero offset), as in Redis.
        let replicas: Vec<usize> = state
            .replicas_of(owner)
            .into_iter()
            .filter(|&r| state.nodes[r].flags & node_flags::FAIL == 0)
            .filter(|&r| node_offset(&state, r, own_offset) != 0)
            .collect();
        ctx.out.array(3 + replicas.len());
        ctx.out.integer(start as i64);
        ctx.out.integer(end as i64);
        write_slot_node(ctx, &state.nodes[owner], &config, plaintext);
        for replica in replicas {
            write_slot_node(ctx, &state.nodes[replica], &config, plaintext);
        }
    }
    Ok(())
}

/// CLUSTER SHARDS: each master with its slot ranges, then it and its replicas in detail.
fn shards(ctx: &mut Ctx<'_>) -> CmdResult {
    let node = announced(ctx)?;
    let config = ctx.server.config.read().clone();
    let offset = super::own_offset(ctx.server);
    let state = node.read();
    let masters: Vec<usize> = (0..state.nodes.len())
        .filter(|&i| state.nodes[i].is_master())
        .collect();
    ctx.out.array(masters.len());
    for master in masters {
        ctx.out.map(2);
        ctx.out.bulk(b"slots");
        let ranges = state.slot_ranges(master);
        ctx.out.array(ranges.len() * 2);
        for (start, end) in ranges {
            ctx.out.integer(start as i64);
            ctx.out.integer(end as i64);
        }
        ctx.out.bulk(b"nodes");
        let replicas = state.replicas_of(master);
        ctx.out.array(1 + replicas.len());
        for member in std::iter::once(master).chain(replicas) {
            let n = &state.nodes[member];
            write_shard_node(ctx, n, &config, node_offset(&state, member, offset));
        }
    }
    Ok(())
}

/// One node of a CLUSTER SHARDS reply. Under `tls-cluster` a node's `port` is its TLS port, so
/// it is given as `tls-port` and its plaintext port (when it has one) as `port`, whichever port
/// the client came in on, as Redis 7.0.15 does.
fn write_shard_node(ctx: &mut Ctx<'_>, node: &Node, config: &Config, offset: u64) {
    let (port, tls_port) = match config.tls.cluster {
        true => (node.pport, node.port),
        false => (node.port, 0),
    };
    let fields = 6 + usize::from(port != 0) + usize::from(tls_port != 0);
    ctx.out.map(fields + usize::from(!node.hostname.is_empty()));
    ctx.out.bulk(b"id");
    ctx.out.bulk(node.id.as_bytes());
    for (name, value) in [(&b"port"[..], port), (b"tls-port", tls_port)] {
        if value != 0 {
            ctx.out.bulk(name);
            ctx.out.integer(value as i64);
        }
    }
    ctx.out.bulk(b"ip");
    ctx.out.bulk(node.ip.as_bytes());
    ctx.out.bulk(b"endpoint");
    ctx.out.bulk(preferred_endpoint(node, config).as_bytes());
    if !node.hostname.is_empty() {
        ctx.out.bulk(b"hostname");
        ctx.out.bulk(node.hostname.as_bytes());
    }
    ctx.out.bulk(b"role");
    ctx.out.bulk(if node.is_replica() {
        b"replica" as &[u8]
    } else {
        b"master"
    });
    ctx.out.bulk(b"replication-offset");
    ctx.out.integer(offset as i64);
    ctx.out.bulk(b"health");
    // Redis's words: `fail` (not the documented `failed`), and `loading` for a replica that
    // has no replication offset yet.
    ctx.out.bulk(if node.flags & node_flags::FAIL != 0 {
        b"fail" as &[u8]
    } else if node.is_replica() && offset == 0 {
        b"loading"
    } else {
        b"online"
    });
}

/// CLUSTER HELP
fn help(ctx: &mut Ctx<'_>) -> CmdResult {
    node(ctx)?;
    reply_help(ctx, "CLUSTER", HELP);
    Ok(())
}

const HELP: &[&str] = &[
    "ADDSLOTS <slot> [<slot> ...]",
    "    Assign slots to current node.",
    "ADDSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Assign slots which are between <start-slot> and <end-slot> to current node.",
    "BUMPEPOCH",
    "    Advance the cluster config epoch.",
    "COUNT-FAILURE-REPORTS <node-id>",
    "    Return number of failure reports for <node-id>.",
    "COUNTKEYSINSLOT <slot>",
    "    Return the number of keys in <slot>.",
    "DELSLOTS <slot> [<slot> ...]",
    "    Delete slots information from current node.",
    "DELSLOTSRANGE <start slot> <end slot> [<start slot> <end slot> ...]",
    "    Delete slots information which are between <start-slot> and <end-slot> from current node.",
    "FAILOVER [FORCE|TAKEOVER]",
    "    Promote current replica node to being a master.",
    "FORGET <node-id>",
    "    Remove a node from the cluster.",
    "GETKEYSINSLOT <slot> <count>",
    "    Return key names stored by current node in a slot.",
    "FLUSHSLOTS",
    "    Delete current node own slots information.",
    "INFO",
    "    Return information about the cluster.",
    "KEYSLOT <key>",
    "    Return the hash slot for <key>.",
    "MEET <ip> <port> [<bus-port>]",
    "    Connect nodes into a working cluster.",
    "MYID",
    "    Return the node id.",
    "NODES",
    "    Return cluster configuration seen by node. Output format:",
    "    <id> <ip:port> <flags> <master> <pings> <pongs> <epoch> <link> <slot> ...",
    "REPLICATE <node-id>",
    "    Configure current node as replica to <node-id>.",
    "RESET [HARD|SOFT]",
    "    Reset current node (default: soft).",
    "SET-CONFIG-EPOCH <epoch>",
    "    Set config epoch of current node.",
    "SETSLOT <slot> (IMPORTING <node-id>|MIGRATING <node-id>|STABLE|NODE <node-id>)",
    "    Set slot state.",
    "REPLICAS <node-id>",
    "    Return <node-id> replicas.",
    "SAVECONFIG",
    "    Force saving cluster configuration on disk.",
    "SLOTS",
    "    Return information about slots range mappings. Each range is made of:",
    "    start, end, master and replicas IP addresses, ports and ids",
    "SHARDS",
    "    Return information about slot range mappings and the nodes associated with them.",
    "LINKS",
    "    Return information about all network links between this node and its peers.",
    "    Output format is an array where each array element is a map containing attributes of a link",
];

/// ASKING: the next command may use a slot this node is importing.
fn asking(ctx: &mut Ctx<'_>) -> CmdResult {
    node(ctx)?;
    ctx.client.asking = true;
    ctx.out.ok();
    Ok(())
}

/// READONLY: reads of the slots this replica's master serves are served here.
fn readonly(ctx: &mut Ctx<'_>) -> CmdResult {
    node(ctx)?;
    ctx.client.readonly = true;
    ctx.out.ok();
    Ok(())
}

/// READWRITE
fn readwrite(ctx: &mut Ctx<'_>) -> CmdResult {
    node(ctx)?;
    ctx.client.readonly = false;
    ctx.out.ok();
    Ok(())
}
