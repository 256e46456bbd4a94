//! The pipeline's cluster rule, Redis's `getNodeByQuery`: whether this node serves a command's
//! keys (all in one slot), or where the client must go instead. EXEC is judged on all the
//! commands it queued together; each key comes from the commands' key specs, sharded pub/sub
//! channels included.

use crate::client::{ClientState, ExecMode};
use std::cell::RefCell;

use crate::command::{flags, CommandEntry, KeyRef};
use crate::config::Config;
use crate::error::CommandError;
use crate::server::Server;

use super::state::ClusterState;
use redis_lite_engine::slot::key_slot;

use super::ClusterNode;

/// Why the command is not served here.
enum Refusal {
    CrossSlot,
    /// Keys missing here in a slot being migrated or imported, for a multi-key command.
    Unstable,
    DownUnbound,
    Down,
    DownReadOnly,
    Moved(usize, usize),
    Ask(usize, usize),
}

/// The rule: None when this node serves the command.
pub fn check(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Option<CommandError> {
    let node = server.cluster.node()?;
    // EXEC's queued commands were judged with EXEC, a script's calls are judged one by one
    // (`script_refusal`), a woken blocked command by `blocked_refusal`.
    if client.kind.obeyed() || !matches!(client.mode, ExecMode::Direct) {
        return None;
    }
    let exec = entry.full_name == "exec";
    if !exec && entry.spec.key_specs.is_empty() && entry.spec.keys_proc.is_none() {
        return None;
    }
    // A script or function that declared flags without `no-writes` is judged a write, as
    // Redis judges it by the flags it declared (a READONLY client on a replica is MOVED).
    let script_writes = || !exec && server.scripting.run_declares_writes(&entry.full_name, args);
    let refusal = match (exec, &client.multi) {
        // EXEC without MULTI only answers its error.
        (true, None) => return None,
        (true, Some(multi)) => {
            let queued: Vec<Vec<&[u8]>> = multi
                .queue
                .iter()
                .map(|args| args.iter().map(|a| a.as_slice()).collect())
                .collect();
            let commands: Vec<(&CommandEntry, &[&[u8]])> = queued
                .iter()
                .filter_map(|args| Some((crate::dispatch::check::lookup(args).ok()?, &args[..])))
                .collect();
            judge(server, node, client, entry, script_writes, &commands)
        }
        (false, _) => judge(server, node, client, entry, script_writes, &[(entry, args)]),
    }
    .err()?;
    let config = server.config.read();
    let state = node.read();
    Some(refusal_error(&state, &config, client, refusal))
}

/// [`check`] again, inside the command's gates, while this node migrates or imports a slot:
/// a resharding MIGRATE holds every gate (see `admin::migrate`), so what the command finds now
/// stays true while it runs. Judged only before the gates, a write of a key that MIGRATE moved
/// meanwhile would create it here again, and the key would be on both nodes (the resharding's
/// next MIGRATE of the slot fails on it with BUSYKEY), where Redis, with one thread, would
/// have sent the write to the target with ASK.
pub fn recheck(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Option<CommandError> {
    if !server.cluster.node()?.has_open_slots() {
        return None;
    }
    check(server, client, entry, args)
}

/// Redis's `clusterRedirectBlockedClientIfNeeded`, checked before a blocked command re-runs
/// (the cluster commands wake every blocked client when slots change): with the cluster down,
/// or its keys' slot now served elsewhere (or by nobody), it ends with that error instead of
/// blocking on. A slot being migrated keeps its blocked clients, as in Redis.
pub fn blocked_refusal(
    server: &Server,
    client: &ClientState,
    keys: &[Vec<u8>],
    write: bool,
) -> Option<CommandError> {
    let node = server.cluster.node()?;
    let config = server.config.read();
    let state = node.read();
    if !node.serving(&state, &config) {
        return Some(refusal_error(&state, &config, client, Refusal::Down));
    }
    // All the keys are in one slot: the rule saw to that when the command blocked.
    let slot = usize::from(key_slot(keys.first()?));
    let mut owner = state.owner(slot);
    if client.readonly && !write && state.myself().is_replica() && owner == state.master_of(0) {
        owner = Some(0);
    }
    let importing = state.importing_from(slot).is_some() && client.asking;
    let refusal = match owner {
        Some(0) => return None,
        _ if importing => return None,
        None => Refusal::DownUnbound,
        Some(other) => Refusal::Moved(slot, other),
    };
    Some(refusal_error(&state, &config, client, refusal))
}

/// Redis's check on each command a script calls (`scriptVerifyClusterState`): its keys must be
/// served here, whatever the script declared; and when `slot` is given (the script does not
/// allow cross-slot keys), in that slot, which the first keys used set when it is None. The
/// error is the script's, as Redis words it.
pub fn script_refusal(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
    slot: Option<&mut Option<u16>>,
) -> Option<&'static str> {
    let node = server.cluster.node()?;
    if client.kind.obeyed() {
        return None;
    }
    match judge(server, node, client, entry, || false, &[(entry, args)]) {
        Ok(()) => {
            let (slot, used) = (slot?, command_slot(entry, args)?);
            match *slot.get_or_insert(used) == used {
                true => None,
                false => Some("ERR Script attempted to access keys that do not hash to the same slot"),
            }
        }
        Err(Refusal::DownReadOnly) => Some(
            "ERR Script attempted to execute a write command while the cluster is down and readonly",
        ),
        Err(Refusal::Down) => {
            Some("ERR Script attempted to execute a command while the cluster is down")
        }
        Err(_) => Some("ERR Script attempted to access a non local key in a cluster node"),
    }
}

/// The slot of a command's first key, when it has keys.
fn command_slot(entry: &CommandEntry, args: &[&[u8]]) -> Option<u16> {
    Some(key_slot(args[entry.spec.find_keys(args)?.first()?.pos]))
}

/// In a cluster, the slot of a transaction's keys: its first queued key's (the rule saw to
/// it that they share it when EXEC was admitted).
pub fn transaction_slot(server: &Server, queue: &[Vec<Vec<u8>>]) -> Option<u16> {
    server.cluster.node()?;
    queue.iter().find_map(|command| {
        let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
        let entry = crate::dispatch::check::lookup(&args).ok()?;
        command_slot(entry, &args)
    })
}

/// Redis's `clusterRedirectClient` texts.
fn refusal_error(
    state: &ClusterState,
    config: &Config,
    client: &ClientState,
    refusal: Refusal,
) -> CommandError {
    let (code, slot, target) = match refusal {
        Refusal::CrossSlot => {
            return CommandError::coded("CROSSSLOT Keys in request don't hash to the same slot")
        }
        Refusal::Unstable => {
            return CommandError::coded("TRYAGAIN Multiple keys request during rehashing of slot")
        }
        Refusal::Down => return CommandError::coded("CLUSTERDOWN The cluster is down"),
        Refusal::DownReadOnly => {
            return CommandError::coded(
                "CLUSTERDOWN The cluster is down and only accepts read commands",
            )
        }
        Refusal::DownUnbound => return CommandError::coded("CLUSTERDOWN Hash slot not served"),
        Refusal::Moved(slot, node) => ("MOVED", slot, node),
        Refusal::Ask(slot, node) => ("ASK", slot, node),
    };
    let node = &state.nodes[target];
    CommandError::coded(format!(
        "{code} {slot} {}:{}",
        super::cluster_family::preferred_endpoint(node, config),
        node.client_port(super::shows_plaintext_ports(config, &client.handle.laddr))
    ))
}

thread_local! {
    /// The keys of the command being judged: a buffer kept, so that judging allocates nothing.
    static KEYS: RefCell<Vec<KeyRef>> = const { RefCell::new(Vec::new()) };
}

/// The commands' keys against the slot table: the first key's slot decides, every other key
/// must share it. `script_writes`: whether the command runs a script declared to write.
fn judge(
    server: &Server,
    node: &ClusterNode,
    client: &ClientState,
    entry: &CommandEntry,
    script_writes: impl Fn() -> bool,
    commands: &[(&CommandEntry, &[&[u8]])],
) -> Result<(), Refusal> {
    let healthy = node.healthy();
    if !node.has_open_slots() && healthy && served_here(node, commands) {
        return Ok(());
    }
    // Read before the state, as everywhere (CONFIG SET takes the state's lock inside the
    // configuration's), and only when the cluster's health does not settle it alone.
    let config = (!healthy).then(|| server.config.read());
    let state = node.read();
    let mut first: Option<(&[u8], usize, usize)> = None;
    let (mut migrating, mut importing, mut several) = (false, false, false);
    let (mut missing, mut existing) = (0, 0);
    // Judged by the command admitted, as Redis does: EXEC is no pub/sub command.
    let pubsub_shard = matches!(
        entry.full_name.as_str(),
        "ssubscribe" | "sunsubscribe" | "spublish"
    );
    for_each_key(commands, |key| {
        let slot = usize::from(key_slot(key));
        match first {
            None => {
                let owner = state.owner(slot).ok_or(Refusal::DownUnbound)?;
                if owner == 0 && state.migrating_to(slot).is_some() {
                    migrating = true;
                } else if state.importing_from(slot).is_some() {
                    importing = true;
                }
                first = Some((key, slot, owner));
            }
            Some((first_key, first_slot, _)) => {
                if first_key != key {
                    if first_slot != slot {
                        return Err(Refusal::CrossSlot);
                    }
                    several = true;
                }
            }
        }
        if (migrating || importing) && !pubsub_shard {
            if key_exists(server, key) {
                existing += 1;
            } else {
                missing += 1;
            }
        }
        Ok(())
    })?;
    let Some((_, slot, owner)) = first else {
        return Ok(());
    };
    if let Some(config) = &config {
        if !node.serving(&state, config) {
            let write = entry.spec.flags & flags::WRITE != 0 || script_writes();
            if pubsub_shard {
                if !config.cluster.allow_pubsubshard_when_down {
                    return Err(Refusal::Down);
                }
            } else if !config.cluster.allow_reads_when_down {
                return Err(Refusal::Down);
            } else if write {
                return Err(Refusal::DownReadOnly);
            }
        }
    }
    if (migrating || importing) && entry.full_name == "migrate" {
        return Ok(());
    }
    if migrating && missing > 0 {
        // Some keys here and some gone: neither node has them all.
        if existing > 0 {
            return Err(Refusal::Unstable);
        }
        let target = state.migrating_to(slot).expect("migrating");
        // Migrating to itself, a node serves the command.
        return if target == 0 {
            Ok(())
        } else {
            Err(Refusal::Ask(slot, target))
        };
    }
    if importing && (client.asking || entry.spec.flags & flags::ASKING != 0) {
        if several && missing > 0 {
            return Err(Refusal::Unstable);
        }
        return Ok(());
    }
    if owner == 0 {
        return Ok(());
    }
    let write = || {
        crate::dispatch::check::admitted_flags(client, entry) & flags::WRITE != 0 || script_writes()
    };
    if (client.readonly || pubsub_shard)
        && state.myself().is_replica()
        && state.master_of(0) == Some(owner)
        && !write()
    {
        return Ok(());
    }
    Err(Refusal::Moved(slot, owner))
}

/// The common case, judged without the state's lock (which every event loop would take for
/// every command): every key in one slot, which this node serves. With the cluster healthy and
/// no slot open, [`judge`]'s rule then serves the command; anything else is left to it.
fn served_here(node: &ClusterNode, commands: &[(&CommandEntry, &[&[u8]])]) -> bool {
    let mut first = None;
    let one_slot = for_each_key(commands, |key| {
        let slot = key_slot(key);
        match *first.get_or_insert(slot) == slot {
            true => Ok(()),
            false => Err(()),
        }
    });
    one_slot.is_ok() && first.is_none_or(|slot| node.serves(usize::from(slot)))
}

/// Calls `each` with every key of `commands`, in order, until it fails; the keys are found
/// into a buffer kept per thread ([`KEYS`]), so that judging allocates nothing.
fn for_each_key<'a, E>(
    commands: &[(&CommandEntry, &[&'a [u8]])],
    mut each: impl FnMut(&'a [u8]) -> Result<(), E>,
) -> Result<(), E> {
    KEYS.with_borrow_mut(|keys| {
        for &(found, args) in commands {
            if !found.spec.find_keys_into(args, keys) {
                continue;
            }
            for key in keys.iter() {
                each(args[key.pos])?;
            }
        }
        Ok(())
    })
}

/// Whether `key` is in database 0, without touching or expiring it (a key whose TTL passed
/// counts as missing).
fn key_exists(server: &Server, key: &[u8]) -> bool {
    let now = crate::cluster::now_ms();
    let mut locked = server.keyspace.lock_keys([key]);
    let (db, hash) = locked.db(0, key);
    db.peek_stored(hash, key)
        .is_some_and(|entry| entry.expire_at() == 0 || entry.expire_at() > now)
}
