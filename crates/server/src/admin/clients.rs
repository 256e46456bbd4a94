//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and CLIENT.

use std::time::Instant;

use redis_lite_protocol::Protocol;

use crate::args::{keyword, reply_help};
use crate::blocking::Wake;
use crate::client::{ClientHandle, ClientRole, ReplyMode};
use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::server::REDIS_VERSION;

const CONNECTION_FLAGS: u32 = NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, FAST, ping)
        .tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Connection, "1.0.0", "Ping the server")
        .syntax("[message]"),
    CommandSpec::new("echo", 2, LOADING | STALE | FAST, echo)
        .doc(Group::Connection, "1.0.0", "Echo the given string")
        .syntax("message"),
    CommandSpec::new(
        "hello",
        -1,
        CONNECTION_FLAGS | FAST | NO_AUTH | ALLOW_BUSY,
        hello,
    )
    .doc(Group::Connection, "6.0.0", "Handshake with Redis")
    .syntax(
        "arguments=[protover:integer [AUTH username_password=(username password)] [SETNAME \
         clientname]]",
    )
    .history(&[
        ("6.2.0", "`protover` made optional; when called without arguments the command reports the current connection's context."),
    ]),
    CommandSpec::new(
        "auth",
        -2,
        CONNECTION_FLAGS | FAST | NO_AUTH | ALLOW_BUSY,
        auth,
    )
    .doc(Group::Connection, "1.0.0", "Authenticate to the server")
    .complexity("O(N) where N is the number of passwords defined for the user")
    .syntax("[username{s=6.0.0}] password")
    .history(&[
        ("6.0.0", "Added ACL style (username and password)."),
    ]),
    CommandSpec::new("select", 2, LOADING | STALE | FAST, select)
        .doc(
            Group::Connection,
            "1.0.0",
            "Change the selected database for the current connection",
        )
        .syntax("index:integer"),
    CommandSpec::new(
        "quit",
        -1,
        ALLOW_BUSY | CONNECTION_FLAGS | FAST | NO_AUTH,
        quit,
    )
    .doc(Group::Connection, "1.0.0", "Close the connection"),
    CommandSpec::new(
        "reset",
        1,
        CONNECTION_FLAGS | FAST | NO_AUTH | ALLOW_BUSY,
        reset,
    )
    .doc(Group::Connection, "6.2.0", "Reset the connection"),
    CommandSpec::container("client", CLIENT_SUBCOMMANDS)
        .doc(
            Group::Connection,
            "2.4.0",
            "A container for client connection commands",
        )
        .complexity("Depends on subcommand."),
];

static CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("id", 2, CONNECTION_FLAGS, client_id)
        .doc(Group::Connection, "5.0.0", "Returns the client ID for the current connection"),
    CommandSpec::new("setname", 3, CONNECTION_FLAGS, client_setname)
        .doc(Group::Connection, "2.6.9", "Set the current connection name")
        .syntax("connection-name"),
    CommandSpec::new("getname", 2, CONNECTION_FLAGS, client_getname)
        .doc(Group::Connection, "2.6.9", "Get the current connection name"),
    CommandSpec::new("info", 2, CONNECTION_FLAGS, client_info).tips(&["nondeterministic_output"])
        .doc(Group::Connection, "6.2.0", "Returns information about the current client connection."),
    CommandSpec::new("list", -2, ADMIN | CONNECTION_FLAGS, client_list).tips(&["nondeterministic_output"])
        .doc(Group::Connection, "2.4.0", "Get the list of client connections")
        .complexity("O(N) where N is the number of client connections")
        .syntax(
            "[TYPE normal_master_replica_pubsub=(NORMAL | MASTER | REPLICA | PUBSUB){s=5.0.0}] [ID \
             id=(client-id:integer...){s=6.2.0 block}]",
        )
        .history(&[
            ("2.8.12", "Added unique client `id` field."),
            ("5.0.0", "Added optional `TYPE` filter."),
            ("6.0.0", "Added `user` field."),
            ("6.2.0", "Added `argv-mem`, `tot-mem`, `laddr` and `redir` fields and the optional `ID` filter."),
            ("7.0.0", "Added `resp`, `multi-mem`, `rbs` and `rbp` fields."),
            ("7.0.3", "Added `ssub` field."),
        ]),
    CommandSpec::new("kill", -3, ADMIN | CONNECTION_FLAGS, client_kill)
        .doc(Group::Connection, "2.4.0", "Kill the connection of a client")
        .complexity("O(N) where N is the number of client connections")
        .syntax(
            "filter=(ip:port{d=2.8.12} | new-format=([ID client-id:integer{s=2.8.12}] | [TYPE \
             normal_master_slave_pubsub=(NORMAL | MASTER{s=3.2.0} | SLAVE | REPLICA{s=5.0.0} | \
             PUBSUB){s=2.8.12}] | [USER username] | [ADDR ip:port] | [LADDR ip:port{s=6.2.0}] | \
             [SKIPME yes/no])...)",
        )
        .history(&[
            ("2.8.12", "Added new filter format."),
            ("2.8.12", "`ID` option."),
            ("3.2.0", "Added `master` type in for `TYPE` option."),
            ("5.0.0", "Replaced `slave` `TYPE` with `replica`. `slave` still supported for backward compatibility."),
            ("6.2.0", "`LADDR` option."),
        ]),
    CommandSpec::new("no-evict", 3, ADMIN | CONNECTION_FLAGS, client_no_evict)
        .doc(Group::Connection, "7.0.0", "Set client eviction mode for the current connection")
        .syntax("enabled=(ON | OFF)"),
    // Exclusive (every gate): a command running meanwhile either finished or sees the pause.
    CommandSpec::new("pause", -3, ADMIN | CONNECTION_FLAGS, crate::dispatch::pause::client_pause)
        .exclusive()
        .doc(Group::Connection, "2.9.50", "Stop processing commands from clients for some time")
        .complexity("O(1)")
        .syntax("timeout:integer mode=[WRITE | ALL]{s=6.2.0}")
        .history(&[
            ("6.2.0", "`CLIENT PAUSE WRITE` mode added along with the `mode` option."),
        ]),
    CommandSpec::new("unpause", 2, ADMIN | CONNECTION_FLAGS, crate::dispatch::pause::client_unpause)
        .doc(Group::Connection, "6.2.0", "Resume processing of clients that were paused")
        .complexity("O(N) Where N is the number of paused clients"),
    CommandSpec::new("reply", 3, CONNECTION_FLAGS, client_reply)
        .doc(Group::Connection, "3.2.0", "Instruct the server whether to reply to commands")
        .syntax("on_off_skip=(ON | OFF | SKIP)"),
    CommandSpec::new("unblock", -3, ADMIN | CONNECTION_FLAGS, client_unblock)
        .doc(Group::Connection, "5.0.0", "Unblock a client blocked in a blocking command from a different connection")
        .complexity("O(log N) where N is the number of client connections")
        .syntax("client-id:integer timeout_error=[TIMEOUT | ERROR]"),
    crate::tracking::tracking_family::TRACKING,
    crate::tracking::tracking_family::CACHING,
    crate::tracking::tracking_family::GETREDIR,
    crate::tracking::tracking_family::TRACKINGINFO,
    CommandSpec::new("help", 2, LOADING | STALE, client_help)
        .doc(Group::Connection, "5.0.0", "Show helpful text about the different subcommands"),
];

/// PING [message]
fn ping(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count() > 2 {
        return Err(ctx.wrong_arity());
    }
    if ctx.client.protocol == Protocol::Resp2 && ctx.client.is_subscriber() {
        // A RESP2 subscriber's replies must look like messages.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(ctx.args.get(1).copied().unwrap_or_default());
        return Ok(());
    }
    match ctx.args.get(1) {
        None => ctx.out.simple("PONG"),
        Some(message) => ctx.out.bulk(message),
    }
    Ok(())
}

/// ECHO message
fn echo(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out.bulk(ctx.arg(1));
    Ok(())
}

/// Authenticates the client as `user` when `password` is one of its own (or it needs none)
/// and it is on; otherwise WRONGPASS, and the attempt goes to ACL LOG (naming the command as
/// sent, as Redis does).
fn authenticate(ctx: &mut Ctx<'_>, user: &[u8], password: &[u8]) -> CmdResult {
    let Some(slot) = ctx.server.acl.authenticate(user, password) else {
        crate::acl::check::log_refusal(
            ctx.server,
            ctx.client,
            crate::acl::log::Reason::Auth,
            crate::acl::log::Context::Toplevel,
            ctx.arg(0).to_vec(),
            user.to_vec(),
        );
        return Err(CommandError::coded(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ));
    };
    ctx.client.set_user(Some(slot));
    ctx.client.authenticated = true;
    Ok(())
}

/// HELLO [protover [AUTH username password] [SETNAME clientname]]
fn hello(ctx: &mut Ctx<'_>) -> CmdResult {
    let mut version = None;
    if ctx.arg_count() >= 2 {
        let v = ctx
            .arg_i64(1)
            .map_err(|_| CommandError::err("Protocol version is not an integer or out of range"))?;
        if !(2..=3).contains(&v) {
            return Err(CommandError::coded("NOPROTO unsupported protocol version"));
        }
        version = Some(v);
    }
    let mut credentials = None;
    let mut name = None;
    let mut i = 2;
    while i < ctx.arg_count() {
        let more = ctx.arg_count() - 1 - i;
        if ctx.arg_is(i, "AUTH") && more >= 2 {
            credentials = Some((ctx.arg(i + 1), ctx.arg(i + 2)));
            i += 3;
        } else if ctx.arg_is(i, "SETNAME") && more >= 1 {
            validate_name(ctx.arg(i + 1))?;
            name = Some(ctx.arg(i + 1));
            i += 2;
        } else {
            return Err(CommandError::err_quoting(
                "Syntax error in HELLO option '",
                ctx.arg(i),
                "'",
            ));
        }
    }
    if let Some((user, password)) = credentials {
        authenticate(ctx, user, password)?;
    }
    if !ctx.client.authenticated && ctx.server.acl.auth_required() {
        return Err(CommandError::coded(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> \
             option can be used to authenticate the client and select the RESP protocol version at \
             the same time",
        ));
    }
    if let Some(name) = name {
        ctx.client.handle.info.lock().name = name.to_vec();
    }
    if let Some(v) = version {
        ctx.client.protocol = if v == 3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        ctx.out.protocol = ctx.client.protocol;
        ctx.client.handle.info.lock().resp = v as u8;
    }
    // Redis 7.0's seven fields exactly; redis-lite's own version is in INFO.
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(REDIS_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.integer(if ctx.client.protocol == Protocol::Resp3 {
        3
    } else {
        2
    });
    ctx.out.bulk(b"id");
    ctx.out.integer(ctx.client.handle.id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(if ctx.server.cluster.enabled() {
        b"cluster" as &[u8]
    } else {
        b"standalone"
    });
    ctx.out.bulk(b"role");
    ctx.out.bulk(b"master");
    ctx.out.bulk(b"modules");
    ctx.out.array(0);
    Ok(())
}

/// AUTH [username] password
fn auth(ctx: &mut Ctx<'_>) -> CmdResult {
    let (user, password) = match ctx.arg_count() {
        2 => {
            if ctx.server.acl.default_user().read().nopass {
                return Err(CommandError::err(
                    "AUTH <password> called without any password configured for the default user. Are you sure \
                     your configuration is correct?",
                ));
            }
            (&b"default"[..], ctx.arg(1))
        }
        3 => (ctx.arg(1), ctx.arg(2)),
        _ => return Err(CommandError::Syntax),
    };
    authenticate(ctx, user, password)?;
    ctx.out.ok();
    Ok(())
}

/// A database index argument, read as Redis's `getIntFromObjectOrReply` reads it: a C int,
/// with `invalid` (when given) the text of any failure to read one; then checked against
/// `databases`.
pub fn parse_db_index(
    ctx: &Ctx<'_>,
    i: usize,
    invalid: Option<&'static str>,
) -> Result<usize, CommandError> {
    db_in_range(ctx, db_index_arg(ctx, i, invalid)?)
}

/// Argument `i` read as a C int for a database index, not yet checked against `databases`
/// (SWAPDB reads both of its indexes before it checks either).
pub fn db_index_arg(
    ctx: &Ctx<'_>,
    i: usize,
    invalid: Option<&'static str>,
) -> Result<i64, CommandError> {
    match (ctx.arg_i64(i), invalid) {
        (Ok(n), _) if i32::try_from(n).is_ok() => Ok(n),
        (_, Some(text)) => Err(CommandError::err(text)),
        (Ok(_), None) => Err(CommandError::err(
            "value is out of range, value must between -2147483648 and 2147483647",
        )),
        (Err(error), None) => Err(error),
    }
}

/// A database index read by [`db_index_arg`], or "DB index is out of range".
pub fn db_in_range(ctx: &Ctx<'_>, index: i64) -> Result<usize, CommandError> {
    usize::try_from(index)
        .ok()
        .filter(|&n| n < ctx.server.keyspace.databases())
        .ok_or(CommandError::DbIndexOutOfRange)
}

/// SELECT index
fn select(ctx: &mut Ctx<'_>) -> CmdResult {
    // A cluster node has database 0 only; Redis reads the index as an int first.
    let other_db = || {
        ctx.arg_i64(1)
            .ok()
            .and_then(|n| i32::try_from(n).ok())
            .is_some_and(|n| n != 0)
    };
    if ctx.server.cluster.enabled() && other_db() {
        return Err(CommandError::err("SELECT is not allowed in cluster mode"));
    }
    ctx.client.db = parse_db_index(ctx, 1, None)?;
    ctx.out.ok();
    Ok(())
}

/// QUIT
fn quit(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

/// RESET: back to a fresh connection's state, as Redis 7.0's `clearClientConnectionState`:
/// MONITOR and tracking ended, database 0, RESP2, the default user (unauthenticated again when it has a
/// password), no transaction or watched keys, no subscriptions, no name, replies on,
/// cluster READONLY and ASKING off. CLIENT NO-EVICT stays, as in Redis 7.0.
fn reset(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.server.monitors.remove(ctx.client.handle.id);
    crate::tracking::reset(ctx.server, ctx.client);
    crate::pubsub::pubsub_family::unsubscribe_all(ctx);
    ctx.client.multi = None;
    crate::txn::unwatch_all(ctx);
    let client = &mut *ctx.client;
    client.db = 0;
    client.protocol = Protocol::Resp2;
    client.reply_mode = ReplyMode::On;
    client.readonly = false;
    client.asking = false;
    client.set_user(None);
    client.authenticated = !ctx.server.acl.auth_required();
    {
        let mut info = client.handle.info.lock();
        info.name.clear();
        info.resp = 2;
    }
    ctx.out.protocol = Protocol::Resp2;
    ctx.out.simple("RESET");
    Ok(())
}

/// CLIENT ID
fn client_id(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out.integer(ctx.client.handle.id as i64);
    Ok(())
}

/// Names must be printable without spaces, so CLIENT LIST stays parseable.
fn validate_name(name: &[u8]) -> CmdResult {
    if name.iter().all(|&b| (b'!'..=b'~').contains(&b)) {
        Ok(())
    } else {
        Err(CommandError::err(
            "Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

/// CLIENT SETNAME connection-name
fn client_setname(ctx: &mut Ctx<'_>) -> CmdResult {
    validate_name(ctx.arg(2))?;
    ctx.client.handle.info.lock().name = ctx.arg(2).to_vec();
    ctx.out.ok();
    Ok(())
}

/// CLIENT GETNAME
fn client_getname(ctx: &mut Ctx<'_>) -> CmdResult {
    let name = ctx.client.handle.info.lock().name.clone();
    if name.is_empty() {
        ctx.out.null();
    } else {
        ctx.out.bulk(&name);
    }
    Ok(())
}

/// CLIENT INFO
fn client_info(ctx: &mut Ctx<'_>) -> CmdResult {
    sync_own_info(ctx);
    let line = ctx.client.handle.describe(Instant::now());
    ctx.out.verbatim(b"txt", line.as_bytes());
    Ok(())
}

/// The calling client's shared info is refreshed per batch; bring it up to date before it is
/// reported, so a client sees its own current command, database and arguments (`argv-mem`).
fn sync_own_info(ctx: &Ctx<'_>) {
    ctx.client
        .publish_info(Some(ctx.command.full_name.as_str()));
    let argv = ctx.args.iter().map(|arg| arg.len()).sum();
    ctx.client
        .handle
        .memory
        .argv
        .store(argv, std::sync::atomic::Ordering::Relaxed);
}

/// The CLIENT LIST / CLIENT KILL `TYPE` values.
fn parse_client_type(ctx: &Ctx<'_>, i: usize) -> Result<ClientType, CommandError> {
    let word = ctx.arg(i).to_ascii_lowercase();
    match word.as_slice() {
        b"normal" => Ok(ClientType::Normal),
        b"master" => Ok(ClientType::Master),
        b"replica" | b"slave" => Ok(ClientType::Replica),
        b"pubsub" => Ok(ClientType::Pubsub),
        _ => Err(CommandError::err_quoting(
            "Unknown client type '",
            ctx.arg(i),
            "'",
        )),
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Master,
    Replica,
    Pubsub,
}

/// Replicas and the master link by their role, then subscribers; everyone else is `normal`.
fn client_type(handle: &ClientHandle) -> ClientType {
    let info = handle.info.lock();
    match info.role {
        ClientRole::Replica => ClientType::Replica,
        ClientRole::Master => ClientType::Master,
        ClientRole::Normal if info.is_subscriber() => ClientType::Pubsub,
        ClientRole::Normal => ClientType::Normal,
    }
}

/// CLIENT LIST [TYPE type] [ID client-id ...]
fn client_list(ctx: &mut Ctx<'_>) -> CmdResult {
    // As Redis 7.0: TYPE only as the one option, ID with every argument after it an id.
    let mut kind = None;
    let mut ids: Option<Vec<u64>> = None;
    match ctx.arg_count() {
        2 => {}
        4 if ctx.arg_is(2, "TYPE") => kind = Some(parse_client_type(ctx, 3)?),
        n if n > 3 && ctx.arg_is(2, "ID") => {
            let mut list = Vec::new();
            for j in 3..n {
                // Any integer is accepted; ids below 1 simply match nobody.
                let id = ctx
                    .arg_i64(j)
                    .map_err(|_| CommandError::err("Invalid client ID"))?;
                list.push(u64::try_from(id).unwrap_or(0));
            }
            ids = Some(list);
        }
        _ => return Err(CommandError::Syntax),
    }
    sync_own_info(ctx);
    let now = Instant::now();
    let clients = ctx.server.clients.all();
    let mut text = String::new();
    for handle in clients {
        // A client killed by another (CLIENT KILL, ACL changes) is gone at once in Redis; here
        // its own event loop closes it a moment later.
        if handle.is_killed() {
            continue;
        }
        if kind.is_some_and(|k| k != client_type(&handle)) {
            continue;
        }
        if ids.as_ref().is_some_and(|ids| !ids.contains(&handle.id)) {
            continue;
        }
        text.push_str(&handle.describe(now));
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

/// CLIENT KILL ip:port | CLIENT KILL [ID id] [TYPE type] [USER name] [ADDR ip:port]
/// [LADDR ip:port] [SKIPME yes/no]
fn client_kill(ctx: &mut Ctx<'_>) -> CmdResult {
    let own_id = ctx.client.handle.id;
    // A client already killed is on its way out and no longer counts.
    let mut all = ctx.server.clients.all();
    all.retain(|h| !h.is_killed());
    if ctx.arg_count() == 3 {
        // The old form: one address, an error when nobody matches, and the caller may kill itself.
        let addr = ctx.arg(2);
        let Some(target) = all.iter().find(|h| h.addr.as_bytes() == addr) else {
            return Err(CommandError::err("No such client"));
        };
        kill_client(ctx, target, own_id);
        ctx.out.ok();
        return Ok(());
    }
    let mut id = None;
    let mut kind = None;
    let mut user = None;
    let mut addr = None;
    let mut laddr = None;
    let mut skip_me = true;
    let mut i = 2;
    while i < ctx.arg_count() {
        if i + 1 >= ctx.arg_count() {
            return Err(CommandError::Syntax);
        }
        let value = ctx.arg(i + 1);
        if ctx.arg_is(i, "ID") {
            match ctx.arg_i64(i + 1) {
                Ok(n) if n > 0 => id = Some(n as u64),
                _ => return Err(CommandError::err("client-id should be greater than 0")),
            }
        } else if ctx.arg_is(i, "TYPE") {
            kind = Some(parse_client_type(ctx, i + 1)?);
        } else if ctx.arg_is(i, "USER") {
            if ctx.server.acl.get(value).is_none() {
                return Err(CommandError::err_quoting("No such user '", value, "'"));
            }
            user = Some(value);
        } else if ctx.arg_is(i, "ADDR") {
            addr = Some(value);
        } else if ctx.arg_is(i, "LADDR") {
            laddr = Some(value);
        } else if ctx.arg_is(i, "SKIPME") {
            skip_me = keyword(ctx, i + 1, &[("YES", true), ("NO", false)])?;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    let mut killed = 0;
    for handle in &all {
        let matches = id.is_none_or(|id| handle.id == id)
            && kind.is_none_or(|k| k == client_type(handle))
            && user.is_none_or(|u| handle.user_is(u))
            && addr.is_none_or(|a| a == handle.addr.as_bytes())
            && laddr.is_none_or(|a| a == handle.laddr.as_bytes());
        if matches && !(skip_me && handle.id == own_id) {
            kill_client(ctx, handle, own_id);
            killed += 1;
        }
    }
    ctx.out.integer(killed);
    Ok(())
}

/// Closes a client; the caller itself is closed only after this reply is written.
fn kill_client(ctx: &mut Ctx<'_>, target: &ClientHandle, own_id: u64) {
    if target.id == own_id {
        ctx.client.close_after_reply = true;
    } else {
        target.kill();
        if client_type(target) == ClientType::Master {
            ctx.server.replication.replica.cut_link();
        }
    }
}

/// CLIENT NO-EVICT ON|OFF
fn client_no_evict(ctx: &mut Ctx<'_>) -> CmdResult {
    let enabled = keyword(ctx, 2, &[("ON", true), ("OFF", false)])?;
    ctx.client.handle.info.lock().no_evict = enabled;
    ctx.out.ok();
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP
fn client_reply(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_is(2, "ON") {
        ctx.client.reply_mode = ReplyMode::On;
        ctx.out.ok();
    } else if ctx.arg_is(2, "OFF") {
        ctx.client.reply_mode = ReplyMode::Off;
    } else if ctx.arg_is(2, "SKIP") {
        // Dispatch drops this reply and the next one.
        ctx.client.reply_mode = ReplyMode::SkipNext;
    } else {
        return Err(CommandError::Syntax);
    }
    Ok(())
}

/// CLIENT UNBLOCK client-id [TIMEOUT|ERROR]
fn client_unblock(ctx: &mut Ctx<'_>) -> CmdResult {
    let id = ctx.arg_i64(2)?;
    let reason = match ctx.arg_count() {
        3 => Wake::Timeout,
        4 if ctx.arg_is(3, "TIMEOUT") => Wake::Timeout,
        4 if ctx.arg_is(3, "ERROR") => Wake::Error,
        4 => {
            return Err(CommandError::err(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
        _ => return Err(CommandError::Syntax),
    };
    let target = u64::try_from(id)
        .ok()
        .and_then(|id| ctx.server.clients.get(id));
    let waiter = target.and_then(|handle| handle.blocked.lock().clone());
    if let Some(waiter) = &waiter {
        waiter.wake(reason);
    }
    ctx.out.integer(waiter.is_some() as i64);
    Ok(())
}

/// CLIENT HELP: Redis 7.0's text.
fn client_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "CLIENT",
        &[
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
            "         [OPTIN] [OPTOUT] [NOLOOP]",
            "    Control server assisted client side caching.",
            "TRACKINGINFO",
            "    Report tracking status for the current connection.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
        ],
    );
    Ok(())
}
