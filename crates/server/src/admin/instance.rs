//! Server commands: CONFIG, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME and SHUTDOWN.

use std::sync::atomic::Ordering::Relaxed;

use redis_lite_protocol::ReplyWriter;

use crate::admin::clients::{db_in_range, db_index_arg};
use crate::args::reply_help;
use crate::blocking::WakeOrder;
use crate::command::acl;
use crate::command::flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::config;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::persistence::JobKind;

pub const ADMIN_FLAGS: u32 = ADMIN | NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("config", CONFIG_SUBCOMMANDS)
        .doc(Group::Server, "2.0.0", "A container for server configuration commands")
        .complexity("Depends on subcommand."),
    CommandSpec::new("dbsize", 1, READONLY | FAST, dbsize).tips(&["request_policy:all_shards", "response_policy:agg_sum"])
        .doc(Group::Server, "1.0.0", "Return the number of keys in the selected database")
        .acl(acl::KEYSPACE),
    CommandSpec::new("flushdb", -1, WRITE, flushdb).tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Server, "1.0.0", "Remove all keys from the current database")
        .complexity("O(N) where N is the number of keys in the selected database")
        .syntax("async=[ASYNC{s=4.0.0} | SYNC{s=6.2.0}]")
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .exclusive()
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ]),
    CommandSpec::new("flushall", -1, WRITE, flushall).tips(&["request_policy:all_shards", "response_policy:all_succeeded"])
        .doc(Group::Server, "1.0.0", "Remove all keys from all databases")
        .complexity("O(N) where N is the total number of keys in all databases")
        .syntax("async=[ASYNC{s=4.0.0} | SYNC{s=6.2.0}]")
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .exclusive()
        .history(&[
            ("4.0.0", "Added the `ASYNC` flushing mode modifier."),
            ("6.2.0", "Added the `SYNC` flushing mode modifier."),
        ]),
    CommandSpec::new("swapdb", 3, WRITE | FAST, swapdb)
        .doc(Group::Server, "4.0.0", "Swaps two Redis databases")
        .complexity("O(N) where N is the count of clients watching or blocking on keys from both databases.")
        .syntax("index1:integer index2:integer")
        .acl(acl::KEYSPACE | acl::DANGEROUS)
        .exclusive(),
    CommandSpec::new("time", 1, LOADING | STALE | FAST, time).tips(&["nondeterministic_output"])
        .doc(Group::Server, "2.6.0", "Return the current server time"),
    CommandSpec::new("shutdown", -1, ADMIN_FLAGS | NO_MULTI | SENTINEL | ALLOW_BUSY, shutdown)
        .doc(Group::Server, "1.0.0", "Synchronously save the dataset to disk and then shut down the server")
        .complexity("O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)")
        .syntax("nosave_save=[NOSAVE | SAVE] [NOW{s=7.0.0}] [FORCE{s=7.0.0}] [ABORT{s=7.0.0}]")
        .history(&[
            ("7.0.0", "Added the `NOW`, `FORCE` and `ABORT` modifiers."),
        ]),
];

static CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, ADMIN_FLAGS, config_get)
        .doc(
            Group::Server,
            "2.0.0",
            "Get the values of configuration parameters",
        )
        .complexity("O(N) when N is the number of configuration parameters provided")
        .syntax("parameter=(parameter){block}...")
        .history(&[(
            "7.0.0",
            "Added the ability to pass multiple pattern parameters in one call",
        )]),
    CommandSpec::new("set", -4, ADMIN_FLAGS, config_set)
        .tips(&["request_policy:all_nodes", "response_policy:all_succeeded"])
        .doc(
            Group::Server,
            "2.0.0",
            "Set configuration parameters to the given values",
        )
        .complexity("O(N) when N is the number of configuration parameters provided")
        .syntax("parameter_value=(parameter value)...")
        .history(&[(
            "7.0.0",
            "Added the ability to set multiple parameters in one call.",
        )]),
    CommandSpec::new("resetstat", 2, ADMIN_FLAGS, config_resetstat).doc(
        Group::Server,
        "2.0.0",
        "Reset the stats returned by INFO",
    ),
    CommandSpec::new("rewrite", 2, ADMIN_FLAGS, config_rewrite).doc(
        Group::Server,
        "2.8.0",
        "Rewrite the configuration file with the in memory configuration",
    ),
    CommandSpec::new("help", 2, LOADING | STALE, config_help).doc(
        Group::Server,
        "5.0.0",
        "Show helpful text about the different subcommands",
    ),
];

/// CONFIG GET parameter [parameter ...]
fn config_get(ctx: &mut Ctx<'_>) -> CmdResult {
    let pairs = config::get_matching(&ctx.server.config.read(), &ctx.args[2..]);
    ctx.out.map(pairs.len());
    for (name, value) in pairs {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET parameter value [parameter value ...]
fn config_set(ctx: &mut Ctx<'_>) -> CmdResult {
    if !ctx.arg_count().is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    let pairs: Vec<(&[u8], &[u8])> = ctx.args[2..].chunks(2).map(|p| (p[0], p[1])).collect();
    let before = {
        let mut config = ctx.server.config.write();
        if ctx.server.persistence.is_loading_any_way()
            && config::denied_while_loading(&config, &pairs, ctx.client.handle.local)
        {
            return Err(crate::persistence::loading_error());
        }
        let before = config.clone();
        config::set_many(&mut config, &pairs, ctx.client.handle.local)
            .map_err(|why| CommandError::Raw([b"ERR ".as_slice(), &why].concat()))?;
        before
    };
    crate::net::tls::follow_config_set(ctx.server, &before, &pairs).map_err(CommandError::err)?;
    crate::net::listeners::follow_config_set(ctx.server, &before, &pairs)
        .map_err(CommandError::err)?;
    ctx.server
        .apply(&config::applies_of(pairs.iter().map(|(name, _)| *name)));
    if pairs
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case(b"maxmemory"))
    {
        crate::eviction::limit_changed(ctx.server, ctx.client.mode.nested());
    }
    ctx.out.ok();
    Ok(())
}

/// CONFIG RESETSTAT
fn config_resetstat(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.server.stats.reset();
    ctx.server.clients.connections_received.store(0, Relaxed);
    ctx.server.clients.rejected_connections.store(0, Relaxed);
    ctx.server.active_expiry.time_cap_reached.store(0, Relaxed);
    ctx.server.active_expiry.cycle_usec.store(0, Relaxed);
    ctx.server.limits.exceeded.reset();
    ctx.server.memory.peak.store(crate::memory::used(), Relaxed);
    ctx.server.keyspace.reset_stats();
    ctx.server.clients.evicted.store(0, Relaxed);
    ctx.server.observability.histograms.reset();
    ctx.server.replication.master.reset_stats();
    ctx.out.ok();
    Ok(())
}

/// CONFIG REWRITE
fn config_rewrite(ctx: &mut Ctx<'_>) -> CmdResult {
    rewrite_config_file(ctx, false)
}

/// CONFIG REWRITE, or DEBUG CONFIG-REWRITE-FORCE-ALL (`force_all`: every parameter written,
/// those at their default too).
pub fn rewrite_config_file(ctx: &mut Ctx<'_>, force_all: bool) -> CmdResult {
    let Some(path) = &ctx.server.config.file else {
        return Err(CommandError::err(
            "The server is running without a config file",
        ));
    };
    let config = ctx.server.config.read().clone();
    let users = ctx.server.acl.config_lines(&config.acl);
    config::rewrite(path, &config, &users, force_all).map_err(|e| {
        crate::log!(Warning, "CONFIG REWRITE failed: {e}");
        CommandError::err(if force_all {
            format!("CONFIG-REWRITE-FORCE-ALL failed: {e}")
        } else {
            format!("Rewriting config file: {e}")
        })
    })?;
    crate::log!(Notice, "CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

/// CONFIG HELP
fn config_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "CONFIG",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

/// DBSIZE
fn dbsize(ctx: &mut Ctx<'_>) -> CmdResult {
    ctx.out
        .integer(ctx.server.keyspace.db_len(ctx.client.db) as i64);
    Ok(())
}

/// Parses the optional ASYNC|SYNC of FLUSHDB/FLUSHALL; true means free the memory lazily.
/// Without either, `lazyfree-lazy-user-flush` decides, as in Redis.
fn flush_mode(ctx: &Ctx<'_>) -> Result<bool, CommandError> {
    match ctx.arg_count() {
        1 => Ok(ctx.server.config.read().tuning.lazyfree_lazy_user_flush),
        2 if ctx.arg_is(1, "ASYNC") => Ok(true),
        2 if ctx.arg_is(1, "SYNC") => Ok(false),
        _ => Err(CommandError::Syntax),
    }
}

/// Counts the keys a flush removes, as Redis adds them to the dirty counter.
fn count_keys(ctx: &Ctx<'_>, db: Option<usize>) -> u64 {
    match db {
        Some(db) => ctx.server.keyspace.db_len(db) as u64,
        None => (0..ctx.server.keyspace.databases())
            .map(|db| ctx.server.keyspace.db_len(db) as u64)
            .sum(),
    }
}

/// FLUSHDB [ASYNC|SYNC]
fn flushdb(ctx: &mut Ctx<'_>) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    let db = Some(ctx.client.db);
    ctx.dirty(count_keys(ctx, db));
    ctx.server.keyspace.flush(db, lazy);
    ctx.server.tracking.flushed();
    ctx.server.blocking.databases_changed(|i| Some(i) == db);
    ctx.propagate();
    ctx.out.ok();
    Ok(())
}

/// FLUSHALL [ASYNC|SYNC]
fn flushall(ctx: &mut Ctx<'_>) -> CmdResult {
    let lazy = flush_mode(ctx)?;
    ctx.dirty(count_keys(ctx, None));
    // As in Redis: a snapshot in progress is of data that is gone, so it stops; with `save`
    // rules, the empty dataset is saved at once.
    let persistence = &ctx.server.persistence;
    if let Some((JobKind::Snapshot { .. }, _, _)) = persistence.current() {
        persistence.abort_and_wait();
    }
    ctx.server.keyspace.flush(None, lazy);
    ctx.server.tracking.flushed();
    ctx.server.blocking.databases_changed(|_| true);
    ctx.propagate();
    if !ctx.server.config.read().save_rules.is_empty() {
        let _ = crate::persistence::rdb::save(ctx.server);
    }
    ctx.out.ok();
    Ok(())
}

/// SWAPDB index1 index2
fn swapdb(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.server.cluster.enabled() {
        return Err(CommandError::err("SWAPDB is not allowed in cluster mode"));
    }
    // Both are read before either is checked, as Redis does.
    let a = db_index_arg(ctx, 1, Some("invalid first DB index"))?;
    let b = db_index_arg(ctx, 2, Some("invalid second DB index"))?;
    let (a, b) = (db_in_range(ctx, a)?, db_in_range(ctx, b)?);
    ctx.server.keyspace.swap_databases(a, b);
    // Stream readers re-check their key (a group may be gone: UNBLOCKED, NOGROUP).
    ctx.server.blocking.databases_changed(|i| i == a || i == b);
    // The clients blocked in either database are served by what the swap brought them.
    for db in [a, b] {
        for key in ctx.server.blocking.waited_keys(db) {
            let mut locked = ctx.lock_undeclared([key.as_slice()]);
            crate::commands::keys::arrived(ctx, &mut locked, db, &key);
        }
    }
    ctx.propagate();
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// TIME
fn time(ctx: &mut Ctx<'_>) -> CmdResult {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    ctx.out.array(2);
    ctx.out.bulk_integer(now.as_secs() as i64);
    ctx.out.bulk_integer(now.subsec_micros() as i64);
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT]
fn shutdown(ctx: &mut Ctx<'_>) -> CmdResult {
    let (mut nosave, mut save, mut abort) = (false, false, false);
    for i in 1..ctx.arg_count() {
        if ctx.arg_is(i, "NOSAVE") {
            nosave = true;
        } else if ctx.arg_is(i, "SAVE") {
            save = true;
        } else if ctx.arg_is(i, "ABORT") {
            abort = true;
        } else if !ctx.arg_is(i, "NOW") && !ctx.arg_is(i, "FORCE") {
            return Err(CommandError::Syntax);
        }
    }
    if (nosave && save) || (abort && ctx.arg_count() > 2) {
        return Err(CommandError::Syntax);
    }
    let server = ctx.server;
    if abort {
        let Some(answered) = server.shutdown.abort(server) else {
            return Err(CommandError::err("No shutdown in progress."));
        };
        // Redis counts a command failed when error replies went out while it ran, to any
        // client: the waiting SHUTDOWNs' make this one a failed call, though it replies OK.
        if answered > 0 {
            ctx.client.stats.commands[ctx.command.id]
                .failed
                .fetch_add(1, Relaxed);
        }
        ctx.out.ok();
        return Ok(());
    }
    // While a script is busy, only SHUTDOWN NOSAVE ends the server: a save now would keep
    // the script's half-done writes.
    let running = &server.scripting.running;
    if running.is_busy() && !nosave {
        return Err(running.busy_error());
    }
    let has = |word: &str| (1..ctx.arg_count()).any(|i| ctx.arg_is(i, word));
    let plan = crate::shutdown::Plan {
        save: save || (!nosave && !server.config.read().save_rules.is_empty()),
        force: has("FORCE"),
    };
    let now = has("NOW");
    // Inside a transaction or a script nothing waits, as for Redis's clients that may not block.
    let nested = ctx.client.mode.nested();
    if nested && !now {
        return Err(CommandError::err(
            "SHUTDOWN without NOW or ABORT isn't allowed for DENY BLOCKING client",
        ));
    }
    // While the shutdown waits for the replicas the client waits blocked; it is answered only
    // if the server does not exit (it failed, or SHUTDOWN ABORT), with an error counted in
    // errorstats as every error reply is, though no command is running then.
    let waits = server.shutdown.begin(server, plan, now, || {
        if nested {
            return None;
        }
        let stats = ctx.client.stats.clone();
        let failed = move |out: &mut ReplyWriter<'_>| {
            let error = CommandError::err(crate::shutdown::FAILED);
            stats.count_error(&error.to_string());
            out.error_bytes(&error.reply_text());
        };
        ctx.block_as(&[], 0, failed, WakeOrder::Broadcast, None);
        ctx.client.blocked.as_ref().map(|b| b.waiter.clone())
    });
    match waits && !nested {
        true => Ok(()),
        false => Err(CommandError::err(crate::shutdown::FAILED)),
    }
}
