//! Admission: whether a command may run now, as one ordered list of rules. Each rule is a small
//! function that returns why the command is refused, or nothing; the first refusal wins, so
//! the order is the order of Redis 7.0's `processCommand` checks: authentication, `no_multi`
//! inside MULTI, out of memory, MISCONF, a read-only replica, RESP2's subscribed context, a
//! replica whose link is down, loading, a busy script, a replica or MONITOR client touching the
//! keyspace; then MULTI queueing. ACL permissions (`acl::check`) come right after
//! authentication, the cluster's redirections (`cluster::redirect`) after `no_multi`, where
//! Redis checks them. Paused writes (`pause`) come last, checked inside the command's gates
//! by `execute_held`. The commands EXEC runs from its queue were judged when queued and with
//! EXEC: only their ACL permissions are checked again.
//! Commands from a replica's master are obeyed: the rules that judge the server's own state
//! (memory, MISCONF, read-only, stale, loading, busy) let them through, as Redis does.

use std::sync::Arc;

use redis_lite_protocol::Protocol;

use crate::client::{ClientKind, ClientState};
use crate::command::{self, CommandEntry, LastCommand, Lookup};
use crate::error::{truncated_bytes, CommandError};
use crate::pubsub::pubsub_family::allowed_while_subscribed;
use crate::server::Server;
use crate::txn;

/// What to do with a command that was found and has the right arity.
pub enum Admission {
    Run,
    /// Inside MULTI: queue it for EXEC.
    Queue,
    Reject(CommandError),
    /// The cluster rule sends the client elsewhere (MOVED, ASK...): the reply is the
    /// redirection itself, and a refused EXEC discards its transaction without EXECABORT.
    Redirect(CommandError),
    /// Client eviction disconnected this client: the command is dropped unanswered.
    Evicted,
}

/// Finds the command and checks its arity. On failure: the entry found, if any (its rejected
/// count goes up), and the error.
pub fn lookup(
    args: &[&[u8]],
) -> Result<&'static CommandEntry, (Option<&'static CommandEntry>, CommandError)> {
    resolved(args, command::table().lookup(args))
}

/// [`lookup`] for a client's request, through the client's last command.
pub fn lookup_remembering(
    args: &[&[u8]],
    last: &mut LastCommand,
) -> Result<&'static CommandEntry, (Option<&'static CommandEntry>, CommandError)> {
    resolved(args, command::table().lookup_remembering(args, last))
}

/// The arity check and the errors of a lookup's outcome.
fn resolved(
    args: &[&[u8]],
    found: Lookup<'static>,
) -> Result<&'static CommandEntry, (Option<&'static CommandEntry>, CommandError)> {
    let entry = match found {
        Lookup::Found(entry) => entry,
        Lookup::Unknown => return Err((None, unknown_command(args))),
        Lookup::UnknownSubcommand(entry) => {
            let error =
                CommandError::unknown_subcommand(&String::from_utf8_lossy(args[0]), args[1]);
            return Err((Some(entry), error));
        }
    };
    if !entry.spec.arity_ok(args.len()) {
        return Err((
            Some(entry),
            CommandError::WrongArity(entry.full_name.clone()),
        ));
    }
    Ok(entry)
}

/// Redis's text, quoting the arguments (their bytes, as Redis copies them) up to 128 bytes.
fn unknown_command(args: &[&[u8]]) -> CommandError {
    let mut quoted = Vec::new();
    for arg in &args[1..] {
        if quoted.len() >= 128 {
            break;
        }
        quoted.push(b'\'');
        quoted.extend_from_slice(truncated_bytes(arg, 128 - quoted.len() + 1));
        quoted.extend_from_slice(b"' ");
    }
    let mut line = b"ERR unknown command '".to_vec();
    line.extend_from_slice(truncated_bytes(args[0], 128));
    line.extend_from_slice(b"', with args beginning with: ");
    line.extend_from_slice(&quoted);
    CommandError::Raw(line)
}

/// Runs the rules, then MULTI's queueing.
pub fn admit(
    server: &Arc<Server>,
    client: &mut ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Admission {
    // The rules, in the order they apply. Each is `fn(&Server, &mut ClientState,
    // &CommandEntry) -> Option<CommandError>`; written out as direct calls (not a table of
    // function pointers) so they inline on the hot path.
    let refusal = authenticated(server, client, entry)
        .or_else(|| crate::acl::check::refusal(server, client, entry, args))
        .or_else(|| not_in_multi(server, client, entry));
    if let Some(error) = refusal {
        return Admission::Reject(error);
    }
    // A command EXEC runs from its queue (a nested client outside MULTI: the AOF loader
    // replaying inside gates may be queuing a transaction of its log) was judged by the rules
    // below when queued and again with EXEC, whose flags are its whole queue's: a transaction
    // runs whole whatever its own commands change (`MULTI; SET a 1; REPLICAOF host port; SET b
    // 1; EXEC` sets both, as in Redis). Only its ACL permissions, which may have changed since,
    // are checked again (above), as Redis does; it was authenticated and outside MULTI for EXEC
    // to run.
    if client.mode.nested() && client.multi.is_none() {
        return Admission::Run;
    }
    // Then the cluster's redirections, where Redis checks them.
    if let Some(redirection) = crate::cluster::redirect::check(server, client, entry, args) {
        return Admission::Redirect(redirection);
    }
    // Clients over `maxmemory-clients` go before any key is evicted, as in Redis; when this
    // client is one of them its command is dropped.
    if crate::memory::clients::enforce(server) && client.handle.is_killed() {
        return Admission::Evicted;
    }
    let refusal = memory(server, client, entry)
        .or_else(|| persistence_errors(server, client, entry))
        .or_else(|| too_few_replicas(server, client, entry, args))
        .or_else(|| read_only_replica(server, client, entry, args))
        .or_else(|| subscribed_context(server, client, entry))
        .or_else(|| stale_replica(server, client, entry, args))
        .or_else(|| loading(server, client, entry))
        .or_else(|| busy_script(server, client, entry))
        .or_else(|| replica_keyspace(server, client, entry));
    if let Some(error) = refusal {
        return Admission::Reject(error);
    }
    if client.multi.is_some() && !txn::runs_inside_multi(top_name(entry)) {
        return Admission::Queue;
    }
    Admission::Run
}

/// When EXEC itself is refused (out of memory, MISCONF, NOAUTH after a new password, a RESP2
/// subscriber), its transaction is discarded and the refusal reported as its reason, as Redis
/// does; Redis answers so even when no MULTI was open. Returns whether it was EXEC.
pub fn refused_exec(server: &Server, client: &mut ClientState, entry: &CommandEntry) -> bool {
    if top_name(entry) != "exec" {
        return false;
    }
    client.multi = None;
    client.unwatch_all(&server.keyspace);
    true
}

/// The flags the replication rules judge a command by: [`admitted_flags`], with those a script
/// or function declared in place of its command's (`Scripting::run_command_flags`). Asked
/// only on a replica or under `min-replicas-to-write`: it looks the script up.
fn replication_flags(
    server: &Server,
    client: &ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> u32 {
    let flags = admitted_flags(client, entry);
    server
        .scripting
        .run_command_flags(&entry.full_name, flags, args)
}

/// The flags admission judges a command by: EXEC's include those of the commands it queued.
pub(crate) fn admitted_flags(client: &ClientState, entry: &CommandEntry) -> u32 {
    match &client.multi {
        Some(multi) if top_name(entry) == "exec" => entry.spec.flags | multi.flags,
        _ => entry.spec.flags,
    }
}

fn top_name(entry: &CommandEntry) -> &str {
    entry.full_name.split('|').next().unwrap_or_default()
}

/// NOAUTH until the client authenticates. A password the default user got after this client
/// connected applies; one removed since lifts the check.
fn authenticated(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
) -> Option<CommandError> {
    if client.authenticated || entry.spec.has(command::flags::NO_AUTH) {
        return None;
    }
    if !server.acl.auth_required() {
        client.authenticated = true;
        return None;
    }
    Some(CommandError::NoAuth)
}

/// The commands marked `no_multi` (SHUTDOWN, SAVE...) are refused between MULTI and EXEC.
fn not_in_multi(
    _: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
) -> Option<CommandError> {
    (client.multi.is_some() && entry.spec.has(command::flags::NO_MULTI))
        .then(|| CommandError::err("Command not allowed inside a transaction"))
}

/// A RESP2 client with subscriptions may only (un)subscribe, PING, QUIT and RESET.
fn subscribed_context(
    _: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
) -> Option<CommandError> {
    if client.protocol != Protocol::Resp2 || !client.is_subscriber() {
        return None;
    }
    if allowed_while_subscribed(top_name(entry)) {
        return None;
    }
    Some(CommandError::err(format!(
        "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed \
         in this context",
        entry.full_name
    )))
}

/// -MISCONF for writes (and PING) after a failed background save or AOF write.
fn persistence_errors(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
) -> Option<CommandError> {
    if client.kind.obeyed() {
        return None;
    }
    // PING has no subcommands: its full name is the name, compared without `top_name`'s
    // search for a `|` (80 instructions of every command's admission).
    crate::persistence::write_refusal(
        server,
        admitted_flags(client, entry),
        entry.full_name == "ping",
    )
}

/// -READONLY for writes on a replica with `replica-read-only yes` (EXEC too, when it queued
/// one; a script or function that declared flags without `no-writes` too).
fn read_only_replica(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Option<CommandError> {
    if client.kind.obeyed()
        || !server.replication.replica.is_replica()
        || !server.config.read().replica_read_only
        || replication_flags(server, client, entry, args) & command::flags::WRITE == 0
    {
        return None;
    }
    Some(read_only_replica_error())
}

/// -READONLY when this is a replica with `replica-read-only yes`, for a write (a script's
/// calls too).
pub(crate) fn read_only_replica_refusal(server: &Server) -> Option<CommandError> {
    (server.replication.replica.is_replica() && server.config.read().replica_read_only)
        .then(read_only_replica_error)
}

fn read_only_replica_error() -> CommandError {
    CommandError::coded("READONLY You can't write against a read only replica.")
}

/// -MASTERDOWN on a replica whose link to its master is not up, with
/// `replica-serve-stale-data no`, for the commands not marked `stale` (EXEC, when it queued
/// one; a script or function that declared flags without `allow-stale`).
fn stale_replica(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Option<CommandError> {
    if client.kind.obeyed() || !serving_no_stale_data(server) {
        return None;
    }
    let run_flags = server
        .scripting
        .run_command_flags(&entry.full_name, entry.spec.flags, args);
    let lacking = match &client.multi {
        Some(multi) if top_name(entry) == "exec" => !run_flags | multi.lacking,
        _ => !run_flags,
    };
    if lacking & command::flags::STALE == 0 {
        return None;
    }
    Some(stale_replica_error())
}

pub(crate) fn stale_replica_error() -> CommandError {
    CommandError::coded(
        "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    )
}

/// Whether this server is a replica whose link to its master is down, with
/// `replica-serve-stale-data no`: only the commands marked `stale` run (scripts' calls too).
pub(crate) fn serving_no_stale_data(server: &Server) -> bool {
    let replica = &server.replication.replica;
    replica.is_replica() && !replica.link_is_up() && !server.config.read().replica_serve_stale_data
}

/// -NOREPLICAS for writes while fewer than `min-replicas-to-write` replicas acknowledged
/// within `min-replicas-max-lag` seconds (a master's rule; the cron counts them). A script
/// or function that declared flags without `no-writes` counts as a write, as in Redis.
fn too_few_replicas(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> Option<CommandError> {
    let refusal = server.replication.master.write_refusal()?;
    let write = !client.kind.obeyed()
        && replication_flags(server, client, entry, args) & command::flags::WRITE != 0;
    write.then_some(refusal)
}

/// -BUSY while a script runs past `busy-reply-threshold`, but for the few commands allowed
/// then (SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE...). A master's commands wait instead.
fn busy_script(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
) -> Option<CommandError> {
    let running = &server.scripting.running;
    (running.is_busy() && !entry.spec.has(command::flags::ALLOW_BUSY) && !client.kind.obeyed())
        .then(|| running.busy_error())
}

/// A replica or a MONITOR client (both replicas to Redis, and never paused) may not read or
/// write the keyspace, so that it cannot slip past CLIENT PAUSE. A script counts as both.
fn replica_keyspace(
    _: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
) -> Option<CommandError> {
    if !client.handle.is_monitor() && client.replica.as_ref().is_none_or(|r| r.link.is_none()) {
        return None;
    }
    let keyspace = command::flags::READONLY | command::flags::WRITE | command::flags::MAY_REPLICATE;
    let script = entry.spec.has(command::flags::SKIP_MONITOR);
    (script || admitted_flags(client, entry) & keyspace != 0)
        .then(|| CommandError::err("Replica can't interact with the keyspace"))
}

/// -LOADING while the dataset loads (or for a command a load's serving point woke, see
/// `persistence::loading`). The AOF loader's own client replays the log meanwhile.
fn loading(
    server: &Server,
    client: &mut ClientState,
    entry: &CommandEntry,
) -> Option<CommandError> {
    if client.kind.obeyed() {
        return None;
    }
    let woken_in_load = client.loading_rounds.refused_after_load();
    crate::persistence::loading_refusal(server, entry.spec.flags, woken_in_load)
}

/// Makes room under `maxmemory`/`maxkeys` first; when there is none to make, refuses a
/// `denyoom` command, and inside MULTI anything but EXEC, DISCARD, QUIT and RESET (queuing
/// takes memory too), as Redis does. A master's stream too, where the replica evicts at all
/// (`replica-ignore-maxmemory no`): Redis's replica then refuses its master's writes once it
/// has nothing left to evict, and drifts from it. The AOF loader's replay neither evicts nor
/// is refused, as Redis evicts nothing while it loads.
fn memory(server: &Server, client: &mut ClientState, entry: &CommandEntry) -> Option<CommandError> {
    if client.kind == ClientKind::AofLoader || crate::eviction::make_room_before_command(server) {
        return None;
    }
    let queuing =
        client.multi.is_some() && !matches!(top_name(entry), "exec" | "discard" | "quit" | "reset");
    (queuing || admitted_flags(client, entry) & command::flags::DENYOOM != 0)
        .then(|| CommandError::coded("OOM command not allowed when used memory > 'maxmemory'."))
}
