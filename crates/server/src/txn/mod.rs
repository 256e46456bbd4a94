//! Transactions: MULTI, EXEC, DISCARD, WATCH and UNWATCH. Queuing happens in dispatch
//! (`dispatch::execute`); EXEC runs the queue with every event loop paused, so the whole
//! transaction is atomic to all other clients on all threads.

use std::sync::atomic::Ordering;

use crate::client::ExecMode;
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::KeySpec;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};

const TRANSACTION_FLAGS: u32 = NOSCRIPT | LOADING | STALE;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, TRANSACTION_FLAGS | FAST | ALLOW_BUSY, multi).doc(
        Group::Transactions,
        "1.2.0",
        "Mark the start of a transaction block",
    ),
    CommandSpec::new("exec", 1, TRANSACTION_FLAGS | SKIP_SLOWLOG, exec)
        .runs_scripts()
        .doc(
            Group::Transactions,
            "1.2.0",
            "Execute all commands issued after MULTI",
        )
        .complexity("Depends on commands in the transaction")
        .exclusive(),
    CommandSpec::new("discard", 1, TRANSACTION_FLAGS | FAST | ALLOW_BUSY, discard)
        .doc(
            Group::Transactions,
            "2.0.0",
            "Discard all commands issued after MULTI",
        )
        .complexity("O(N), when N is the number of queued commands"),
    CommandSpec::new("watch", -2, TRANSACTION_FLAGS | FAST | ALLOW_BUSY, watch)
        .key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RO)])
        .doc(
            Group::Transactions,
            "2.2.0",
            "Watch the given keys to determine execution of the MULTI/EXEC block",
        )
        .complexity("O(1) for every key.")
        .syntax("key..."),
    CommandSpec::new("unwatch", 1, TRANSACTION_FLAGS | FAST | ALLOW_BUSY, unwatch).doc(
        Group::Transactions,
        "2.2.0",
        "Forget about all watched keys",
    ),
];

/// Commands that act at once even inside MULTI instead of being queued.
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

/// A transaction being queued.
#[derive(Default)]
pub struct Multi {
    pub queue: Vec<Vec<Vec<u8>>>,
    /// The flags of the queued commands together: EXEC is admitted as a write (MISCONF) or a
    /// `denyoom` command (OOM) when one of them is, as in Redis.
    pub flags: u32,
    /// The flags some queued command lacks: EXEC is refused by a stale replica when one of
    /// them lacks `stale`, as in Redis.
    pub lacking: u32,
    /// A command was refused while queuing, so EXEC will abort.
    pub failed: bool,
    /// Bytes the queue holds (CLIENT LIST's `multi-mem`): arguments and their vectors.
    pub memory: usize,
}

impl Multi {
    /// Queues a command for EXEC (`flags` its spec's), counting what it holds. A transaction
    /// that will fail anyway (a refused command, or `watched_key_changed`) keeps nothing more,
    /// as in Redis, where CLIENT LIST then shows what it held so far.
    pub fn queue(&mut self, args: &[&[u8]], flags: u32, watched_key_changed: bool) {
        if self.failed || watched_key_changed {
            return;
        }
        self.flags |= flags;
        self.lacking |= !flags;
        let queued: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
        self.memory += std::mem::size_of_val(queued.as_slice())
            + std::mem::size_of::<Vec<Vec<u8>>>()
            + args.iter().map(|a| a.len()).sum::<usize>();
        self.queue.push(queued);
    }
}

/// MULTI
fn multi(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CommandError::err("MULTI calls can not be nested"));
    }
    ctx.client.multi = Some(Multi::default());
    ctx.out.ok();
    Ok(())
}

/// DISCARD
fn discard(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CommandError::err("DISCARD without MULTI"));
    }
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// EXEC
fn exec(ctx: &mut Ctx<'_>) -> CmdResult {
    let Some(multi) = ctx.client.multi.take() else {
        return Err(CommandError::err("EXEC without MULTI"));
    };
    if multi.failed {
        unwatch_all(ctx);
        return Err(CommandError::coded(
            "EXECABORT Transaction discarded because of previous errors.",
        ));
    }
    // A watched key whose TTL passed since WATCH counts as modified: looking it up expires it,
    // which flags the watch.
    for (db, key) in ctx.client.watched.clone() {
        let mut locked = ctx.lock_undeclared([key.as_slice()]);
        let (table, hash) = locked.db(db, &key);
        table.peek(hash, &key, ctx.now_ms);
    }
    let aborted = ctx.client.watch_flag.load(Ordering::Acquire);
    unwatch_all(ctx);
    if aborted {
        ctx.out.null_array();
        return Ok(());
    }
    // The transaction is one unit in the journal, from its first lookup on (a key found
    // expired there is deleted inside it, as Redis propagates it).
    ctx.server.journal.open_unit();
    let header = ctx.out.buffer().len();
    ctx.out.array(multi.queue.len());
    let header = header..ctx.out.buffer().len();
    // Restored after, not reset: DEBUG LOADAOF replays the AOF's transactions with a client
    // that is itself nested inside the gates DEBUG holds.
    let outer = std::mem::replace(
        &mut ctx.client.mode,
        ExecMode::Nested {
            now_ms: ctx.now_ms,
            journaled: Some(crate::journal::Readers::All),
        },
    );
    let mut last_refused = false;
    ctx.client.exec_slot = crate::cluster::redirect::transaction_slot(ctx.server, &multi.queue);
    for command in &multi.queue {
        let args: Vec<&[u8]> = command.iter().map(Vec::as_slice).collect();
        last_refused = !crate::dispatch::execute_queued(ctx, &args);
    }
    ctx.client.exec_slot = None;
    // Redis counts an error toward EXEC's failed calls when no queued command's call followed
    // it: a refusal of the last queued command (its ACL permissions revoked since queuing).
    if last_refused {
        ctx.client.stats.commands[ctx.command.id]
            .failed
            .fetch_add(1, Ordering::Relaxed);
    }
    ctx.client.mode = outer;
    keep_pushes_of_silenced_exec(ctx, header);
    // The journal's unit closes, and the reply waits for its end (a MULTI block without its
    // EXEC is dropped when the AOF is loaded).
    let offset = ctx.server.journal.close_unit();
    ctx.client.journal_offset = ctx.client.journal_offset.max(offset);
    Ok(())
}

/// Under CLIENT REPLY OFF the queued commands' replies were dropped as they ran, but their
/// pushes (subscribe confirmations) were kept: pushes are not replies, and Redis delivers them.
/// What the client gets of EXEC is those pushes alone, without the array header.
fn keep_pushes_of_silenced_exec(ctx: &mut Ctx<'_>, header: std::ops::Range<usize>) {
    if ctx.client.reply_mode == crate::client::ReplyMode::Off {
        ctx.out.buffer().drain(header);
        ctx.client.output_is_push = true;
    }
}

/// WATCH key [key ...]
fn watch(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CommandError::err("WATCH inside MULTI is not allowed"));
    }
    let db = ctx.client.db;
    for i in 1..ctx.arg_count() {
        let key = ctx.arg(i);
        if ctx.client.watched.iter().any(|(d, k)| *d == db && k == key) {
            continue;
        }
        let mut locked = ctx.lock([key]);
        let (table, hash) = locked.db(db, key);
        // Expire it now if due, so only changes after WATCH count.
        table.peek(hash, key, ctx.now_ms);
        table.watch(key, &ctx.client.watch_flag);
        drop(locked);
        ctx.client.watched.push((db, key.to_vec()));
    }
    ctx.out.ok();
    Ok(())
}

/// UNWATCH
fn unwatch(ctx: &mut Ctx<'_>) -> CmdResult {
    unwatch_all(ctx);
    ctx.out.ok();
    Ok(())
}

/// Forgets every watched key and clears the flag.
pub fn unwatch_all(ctx: &mut Ctx<'_>) {
    ctx.client.unwatch_all(&ctx.server.keyspace);
}
