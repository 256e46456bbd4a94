//! The command pipeline every command runs through, whoever runs it (a client's connection,
//! EXEC, the AOF loader): look it up, admit it ([`check`]: an ordered list of rules, or queue it
//! inside MULTI), then call it inside its gate with the bookkeeping every command needs
//! (statistics, eviction after writes, the AOF sequence its reply waits for, blocked clients to
//! wake) and CLIENT REPLY's filtering of the reply.

pub mod check;

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use redis_lite_protocol::ReplyWriter;

use crate::client::{ClientKind, ClientState, ReplyMode};
use crate::command::{self, CommandEntry};
use crate::context::Ctx;
use crate::error::CommandError;
use crate::server::Server;

use check::Admission;

/// Runs one command and writes its reply. Returns the command's full name for CLIENT LIST.
pub fn execute(
    server: &Arc<Server>,
    client: &mut ClientState,
    args: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<&'static str> {
    let start = out.len();
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skip;
    }
    let entry = match check::lookup(args) {
        Ok(entry) => entry,
        Err((entry, error)) => {
            reject(client, entry.map(|e| e.id), error, out, start);
            return None;
        }
    };
    match check::admit(server, client, entry) {
        Admission::Run => {}
        Admission::Reject(error) => {
            let error = match check::refused_exec(server, client, entry) {
                true => CommandError::coded(format!(
                    "EXECABORT Transaction discarded because of: {error}"
                )),
                false => error,
            };
            reject(client, Some(entry.id), error, out, start);
            return None;
        }
        Admission::Queue => {
            let multi = client.multi.as_mut().expect("queued only inside MULTI");
            multi.queue.push(args.iter().map(|a| a.to_vec()).collect());
            multi.flags |= entry.spec.flags;
            ReplyWriter::new(out, client.protocol).simple("QUEUED");
            finish_reply(client, out, start);
            return Some(entry.full_name.as_str());
        }
    }
    call(server, client, entry, args, out);
    finish_reply(client, out, start);
    Some(entry.full_name.as_str())
}

/// Runs an admitted command's handler inside its gate, with the bookkeeping around it.
fn call(
    server: &Arc<Server>,
    client: &mut ClientState,
    entry: &'static CommandEntry,
    args: &[&[u8]],
    out: &mut Vec<u8>,
) {
    // Every command runs inside its event loop's gate; EXEC and the other exclusive commands
    // close all of them (see `Server::gates`), and commands run by EXEC are already inside.
    let exclusive = !client.mode.in_exec() && entry.spec.exclusive;
    let _shared =
        (!client.mode.in_exec() && !exclusive).then(|| server.gates[client.worker].read());
    let _exclusive: Vec<_> = if exclusive {
        server.gates.iter().map(|g| g.write()).collect()
    } else {
        Vec::new()
    };
    let handler = entry
        .spec
        .handler
        .expect("lookup resolves containers to subcommands");
    let started = Instant::now();
    let stats = client.stats.clone();
    let protocol = client.protocol;
    // The AOF loader's clock stands still, so nothing expires mid-replay.
    let now_ms = match client.kind {
        ClientKind::AofLoader => 0,
        ClientKind::Normal => unix_ms_at(started),
    };
    let mut ctx = Ctx {
        server,
        client: &mut *client,
        args,
        out: ReplyWriter::new(&mut *out, protocol),
        command: entry,
        now_ms,
        rewritten: Default::default(),
        also_propagated: Default::default(),
        logged: Default::default(),
    };
    let result = (handler)(&mut ctx);
    if entry.spec.has(command::flags::WRITE) {
        crate::eviction::after_write(server, entry.spec, args, ctx.client.db);
    }
    let logged = ctx.logged.get();
    let counters = &stats.commands[entry.id];
    if let Err(error) = result {
        counters.failed.fetch_add(1, Relaxed);
        let text = error.to_string();
        stats.count_error(&text);
        ctx.out.error(&text);
    }
    if let Some(offset) = logged {
        client.journal_offset = client.journal_offset.max(offset);
    }
    for (db, key) in std::mem::take(&mut client.ready_keys) {
        server.blocking.signal(db, &key);
    }
    // A command that blocked is counted once, when it completes, as Redis does.
    if client.blocked.is_none() {
        counters.calls.fetch_add(1, Relaxed);
    }
    counters
        .usec
        .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
    stats.total_commands.fetch_add(1, Relaxed);
}

/// The Unix time in milliseconds at `instant`, from this thread's pairing of the monotonic and
/// the wall clock, taken again once a second: the command's start time is read once for both
/// its duration and its clock (reading the clock was a tenth of a pipelined load's CPU here).
fn unix_ms_at(instant: Instant) -> u64 {
    use std::cell::Cell;
    thread_local! {
        /// An instant and the Unix time at it, in microseconds.
        static PAIRED: Cell<Option<(Instant, u128)>> = const { Cell::new(None) };
    }
    PAIRED.with(|paired| {
        if let Some((base, base_us)) = paired.get() {
            let since = instant.checked_duration_since(base);
            if let Some(since) = since.filter(|d| d.as_secs() == 0) {
                return ((base_us + since.as_micros()) / 1000) as u64;
            }
        }
        let now_us = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_micros());
        paired.set(Some((instant, now_us)));
        (now_us / 1000) as u64
    })
}

/// Runs a command queued by MULTI, from EXEC, appending its reply to EXEC's.
pub fn execute_queued(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    execute(ctx.server, ctx.client, args, ctx.out.buffer());
}

/// A command refused before it ran: counted as rejected, as Redis does.
fn reject(
    client: &mut ClientState,
    id: Option<usize>,
    error: CommandError,
    out: &mut Vec<u8>,
    start: usize,
) {
    // Inside MULTI, a refused command dooms the transaction, as in Redis.
    if let Some(multi) = client.multi.as_mut() {
        multi.failed = true;
    }
    if let Some(id) = id {
        client.stats.commands[id].rejected.fetch_add(1, Relaxed);
    }
    let text = error.to_string();
    client.stats.count_error(&text);
    ReplyWriter::new(out, client.protocol).error(&text);
    finish_reply(client, out, start);
}

/// Drops the reply when CLIENT REPLY OFF or SKIP says so.
fn finish_reply(client: &mut ClientState, out: &mut Vec<u8>, start: usize) {
    match client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off | ReplyMode::SkipNext => out.truncate(start),
        ReplyMode::Skip => {
            out.truncate(start);
            client.reply_mode = ReplyMode::On;
        }
    }
}
