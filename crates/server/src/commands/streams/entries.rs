//! Stream entries: XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID, XREAD.
//!
//! XADD and XTRIM share Redis's one-pass option parser (MAXLEN or MINID, exact or `~`, LIMIT)
//! and log their effect as Redis rewrites it, so a replica or the AOF replays the same stream:
//! a generated ID as the concrete ID, an approximate trim as an exact one to the length or first
//! ID it left. XREAD blocks with every other reader of its keys (broadcast wake-ups), its `$`
//! fixed to the concrete last IDs when it blocks.

use redis_lite_engine::stream::{EntryRef, Stream, StreamId, TrimTo};
use redis_lite_engine::Db;
use redis_lite_protocol::number::parse_i64;

use super::{
    invalid_id, parse_exact_id, parse_id_number, parse_range_end, parse_range_start, write_entry,
    write_id, ReadOptions,
};
use crate::blocking::WakeOrder;
use crate::client::{ClientKind, ExecMode};
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::{CommandSpec, Group, KeySpec};
use crate::commands::access::{self, Collection};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

const RANGE_COMPLEXITY: &str = "O(N) with N being the number of elements being returned. If N is \
     constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, WRITE | DENYOOM | FAST, xadd)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE).notes("UPDATE instead of INSERT because of the optional trimming feature")])
        .doc(Group::Stream, "5.0.0", "Appends a new entry to a stream")
        .complexity("O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.")
        .tips(&["nondeterministic_output"])
        .syntax(
            "key [NOMKSTREAM{s=6.2.0}] trim=[strategy=(MAXLEN | MINID{s=6.2.0}) \
             operator=[equal:pure-token{t==} | approximately:pure-token{t=~}] threshold [LIMIT \
             count:integer{s=6.2.0}]] id_or_auto=(auto_id:pure-token{t=*} | id) field_value=(field \
             value)...",
        )
        .history(&[
            ("6.2.0", "Added the `NOMKSTREAM` option, `MINID` trimming strategy and the `LIMIT` option."),
            ("7.0.0", "Added support for the `<ms>-*` explicit ID form."),
        ]),
    CommandSpec::new("xlen", 2, READONLY | FAST, xlen)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)])
        .doc(Group::Stream, "5.0.0", "Return the number of entries in a stream")
        .complexity("O(1)")
        .syntax("key"),
    CommandSpec::new("xrange", -4, READONLY, xrange)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(Group::Stream, "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval")
        .complexity(RANGE_COMPLEXITY)
        .syntax("key start end [COUNT count:integer]")
        .history(&[
            ("6.2.0", "Added exclusive ranges."),
        ]),
    CommandSpec::new("xrevrange", -4, READONLY, xrevrange)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(Group::Stream, "5.0.0", "Return a range of elements in a stream, with IDs matching the specified IDs interval, in reverse order (from greater to smaller IDs) compared to XRANGE")
        .complexity("O(N) with N being the number of elements returned. If N is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1).")
        .syntax("key end start [COUNT count:integer]")
        .history(&[
            ("6.2.0", "Added exclusive ranges."),
        ]),
    CommandSpec::new("xdel", -3, WRITE | FAST, xdel)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)])
        .doc(Group::Stream, "5.0.0", "Removes the specified entries from the stream. Returns the number of items actually deleted, that may be different from the number of IDs passed in case certain IDs do not exist.")
        .complexity("O(1) for each single item to delete in the stream, regardless of the stream size.")
        .syntax("key id..."),
    CommandSpec::new("xtrim", -4, WRITE, xtrim)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)])
        .doc(Group::Stream, "5.0.0", "Trims the stream to (approximately if '~' is passed) a certain size")
        .complexity("O(N), with N being the number of evicted entries. Constant times are very small however, since entries are organized in macro nodes containing multiple entries that can be released with a single deallocation.")
        .tips(&["nondeterministic_output"])
        .syntax(
            "key trim=(strategy=(MAXLEN | MINID{s=6.2.0}) operator=[equal:pure-token{t==} | \
             approximately:pure-token{t=~}] threshold [LIMIT count:integer{s=6.2.0}])",
        )
        .history(&[
            ("6.2.0", "Added the `MINID` trimming strategy and the `LIMIT` option."),
        ]),
    CommandSpec::new("xsetid", -3, WRITE | DENYOOM | FAST, xsetid)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .doc(Group::Stream, "5.0.0", "An internal command for replicating stream values")
        .complexity("O(1)")
        .syntax(
            "key last-id [ENTRIESADDED entries_added:integer{s=7.0.0}] [MAXDELETEDID \
             max_deleted_entry_id{s=7.0.0}]",
        )
        .history(&[
            ("7.0.0", "Added the `entries_added` and `max_deleted_entry_id` arguments."),
        ]),
    CommandSpec::new("xread", -4, READONLY | BLOCKING, xread)
        .key_specs(&[KeySpec::keyword("STREAMS", 1).range(-1, 1, 2).flags(RO | ACCESS)])
        .doc(Group::Stream, "5.0.0", "Return never seen elements in multiple streams, with IDs greater than the ones reported by the caller for each stream. Can block.")
        .complexity("For each stream mentioned: O(N) with N being the number of elements being returned, it means that XREAD-ing with a fixed COUNT is O(1). Note that when the BLOCK option is used, XADD will pay O(M) time in order to serve the M clients blocked on the stream getting new data.")
        .syntax(
            "[COUNT count:integer] [BLOCK milliseconds:integer] STREAMS streams=(key... id...)",
        ),
];

/// A listpack holds at most this much: XADD refuses an entry whose fields and values are longer.
const ENTRY_MAX_BYTES: usize = 1 << 30;

/// What a blocked XREAD without COUNT is served at most when it wakes, as in Redis: a client
/// that asked from an old ID must not make the server send it the whole stream at once.
pub(super) const BLOCKED_READ_DEFAULT_COUNT: u64 = 1000;

/// How XADD's new entry gets its ID.
#[derive(Clone, Copy)]
enum NewId {
    /// `*`: the clock, or the last ID's successor when the clock is behind.
    Auto,
    /// `ms-*`: that millisecond, with the next free sequence number in it.
    AutoSeq(u64),
    /// `ms-seq`, or `ms` (sequence 0).
    Given(StreamId),
}

impl NewId {
    /// Parses XADD's ID argument: strict (no `-`/`+`), `ms-*` allowed.
    fn parse(arg: &[u8]) -> Result<NewId, CommandError> {
        if arg == b"*" {
            return Ok(NewId::Auto);
        }
        match arg.iter().position(|&b| b == b'-') {
            Some(dash) if &arg[dash + 1..] == b"*" && arg.len() <= 127 => {
                parse_id_number(&arg[..dash])
                    .map(NewId::AutoSeq)
                    .ok_or_else(invalid_id)
            }
            _ => parse_exact_id(arg, 0).map(NewId::Given),
        }
    }

    /// The ID the entry gets in a stream whose last ID is `last`, at `now_ms`, or Redis's
    /// refusal.
    fn resolve(self, last: StreamId, now_ms: u64) -> Result<StreamId, CommandError> {
        let id = match self {
            NewId::Auto if now_ms > last.ms => StreamId::new(now_ms, 0),
            // The caller refused a stream whose last ID is the largest.
            NewId::Auto => last.next().expect("a successor"),
            // Redis 7.0 fails this without saying why, and the error it then picks is the
            // one for oversized elements.
            NewId::AutoSeq(ms) if ms == last.ms && last.seq == u64::MAX => {
                return Err(CommandError::err("Elements are too large to be stored"))
            }
            NewId::AutoSeq(ms) if ms == last.ms => StreamId::new(ms, last.seq + 1),
            NewId::AutoSeq(ms) => StreamId::new(ms, 0),
            NewId::Given(id) => id,
        };
        if id <= last {
            return Err(CommandError::err(
                "The ID specified in XADD is equal or smaller than the target stream top item",
            ));
        }
        Ok(id)
    }
}

/// A trim XADD or XTRIM was asked for.
struct Trim {
    to: TrimTo,
    /// `~`: whole nodes only.
    approx: bool,
    /// The most entries one call removes; 0 for no limit.
    limit: u64,
    /// Where the threshold argument is, for the rewrite that logs an approximate trim exactly.
    threshold_at: usize,
}

/// The options XADD and XTRIM share, parsed in one pass as Redis parses them.
struct AddOrTrim {
    trim: Option<Trim>,
    no_mkstream: bool,
    /// XADD's ID and where it is; None when the options ran to the end without one.
    id: Option<(usize, NewId)>,
}

impl AddOrTrim {
    fn parse(ctx: &Ctx<'_>, xadd: bool) -> Result<AddOrTrim, CommandError> {
        let argc = ctx.arg_count();
        let mut trim: Option<(TrimTo, bool, usize)> = None;
        let mut limit: Option<u64> = None;
        let mut no_mkstream = false;
        let mut id = None;
        let mut i = 2;
        while i < argc {
            let more = argc - 1 - i;
            let maxlen = ctx.arg_is(i, "MAXLEN");
            if xadd && ctx.arg(i) == b"*" {
                id = Some((i, NewId::Auto));
                break;
            } else if (maxlen || ctx.arg_is(i, "MINID")) && more > 0 {
                if trim.is_some() {
                    return Err(CommandError::err(
                        "syntax error, MAXLEN and MINID options at the same time are not compatible",
                    ));
                }
                let operator = ctx.arg(i + 1);
                let approx = more >= 2 && operator == b"~";
                if more >= 2 && (approx || operator == b"=") {
                    i += 1;
                }
                i += 1;
                let to = if maxlen {
                    match parse_i64(ctx.arg(i)) {
                        Some(n) if n < 0 => {
                            return Err(CommandError::err("The MAXLEN argument must be >= 0."))
                        }
                        Some(n) => TrimTo::MaxLen(n as u64),
                        None => return Err(CommandError::NotInteger),
                    }
                } else {
                    TrimTo::MinId(parse_exact_id(ctx.arg(i), 0)?)
                };
                trim = Some((to, approx, i));
            } else if ctx.arg_is(i, "LIMIT") && more > 0 {
                let n = ctx.arg_i64(i + 1)?;
                if n < 0 {
                    return Err(CommandError::err("The LIMIT argument must be >= 0."));
                }
                limit = Some(n as u64);
                i += 1;
            } else if xadd && ctx.arg_is(i, "NOMKSTREAM") {
                no_mkstream = true;
            } else if xadd {
                id = Some((i, NewId::parse(ctx.arg(i))?));
                break;
            } else {
                return Err(CommandError::Syntax);
            }
            i += 1;
        }
        if limit.is_some_and(|n| n > 0) && trim.is_none() {
            return Err(CommandError::err(
                "syntax error, LIMIT cannot be used without specifying a trimming strategy",
            ));
        }
        if !xadd && trim.is_none() {
            return Err(CommandError::err(
                "syntax error, XTRIM must be called with a trimming strategy",
            ));
        }
        let approx = trim.is_some_and(|(_, approx, _)| approx);
        let limit = if ctx.client.kind != ClientKind::Normal {
            // A master's or the AOF's trim was rewritten to be exact: never limit it.
            0
        } else if let Some(n) = limit {
            if !approx {
                return Err(CommandError::err(
                    "syntax error, LIMIT cannot be used without the special ~ option",
                ));
            }
            n
        } else if approx {
            default_trim_limit(ctx)
        } else {
            0
        };
        Ok(AddOrTrim {
            trim: trim.map(|(to, approx, threshold_at)| Trim {
                to,
                approx,
                limit,
                threshold_at,
            }),
            no_mkstream,
            id,
        })
    }
}

/// An approximate trim without LIMIT removes at most 100 nodes' worth of entries, within
/// 1..=10000, as Redis bounds it.
fn default_trim_limit(ctx: &Ctx<'_>) -> u64 {
    match 100 * ctx.encoding_limits().stream_nodes().max_entries as u64 {
        0 => 10_000,
        n => n.min(10_000),
    }
}

/// Trims `stream` as asked; returns how many entries went and, for an approximate trim, the
/// rewrite that replays it exactly (the threshold's position and its exact value): Redis logs
/// `MAXLEN = <length left>` or `MINID = <first entry left, deleted or not>`.
fn apply_trim(stream: &mut Stream, trim: &Trim) -> (u64, Option<(usize, Vec<u8>)>) {
    let removed = stream.trim(trim.to, trim.approx, trim.limit);
    let exact = trim.approx.then(|| {
        let threshold = match trim.to {
            TrimTo::MaxLen(_) => itoa::Buffer::new().format(stream.len()).as_bytes().to_vec(),
            TrimTo::MinId(_) => stream
                .first_entry_id_with_deleted()
                .unwrap_or(StreamId::MAX)
                .to_text(),
        };
        (trim.threshold_at, threshold)
    });
    (removed, exact)
}

/// The arguments as logged, with `~` before the threshold made `=` and the threshold exact.
fn with_exact_trim(args: &mut [Vec<u8>], (threshold_at, threshold): (usize, Vec<u8>)) {
    args[threshold_at - 1] = b"=".to_vec();
    args[threshold_at] = threshold;
}

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value [...]
fn xadd(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = AddOrTrim::parse(ctx, true)?;
    let Some((id_at, new_id)) = options.id else {
        return Err(ctx.wrong_arity());
    };
    let fields = &ctx.args[id_at + 1..];
    if fields.len() < 2 || fields.len() % 2 == 1 {
        return Err(ctx.wrong_arity());
    }
    // Refused before the lookup, so that no empty stream is created for it.
    if matches!(new_id, NewId::Given(id) if id.is_zero()) {
        return Err(CommandError::err(
            "The ID specified in XADD must be greater than 0-0",
        ));
    }
    let limits = ctx.encoding_limits();
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = if options.no_mkstream {
        match access::write::<Stream>(ctx, db, hash, key)? {
            Some(stream) => stream,
            None => {
                ctx.out.null();
                return Ok(());
            }
        }
    } else {
        access::write_or_create::<Stream>(ctx, db, hash, key, &limits)?
    };
    if stream.last_id() == StreamId::MAX {
        return Err(CommandError::err(
            "The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    let id = new_id.resolve(stream.last_id(), ctx.now_ms)?;
    if fields.iter().map(|f| f.len()).sum::<usize>() > ENTRY_MAX_BYTES {
        return Err(CommandError::err("Elements are too large to be stored"));
    }
    stream.append(id, fields, limits.stream_nodes());
    let (trimmed, exact_trim) = match &options.trim {
        Some(trim) => apply_trim(stream, trim),
        None => (0, None),
    };
    write_id(&mut ctx.out, id);
    let generated = !matches!(new_id, NewId::Given(_));
    if generated || exact_trim.is_some() {
        let mut args: Vec<Vec<u8>> = ctx.args.iter().map(|a| a.to_vec()).collect();
        if generated {
            args[id_at] = id.to_text();
        }
        if let Some(exact) = exact_trim {
            with_exact_trim(&mut args, exact);
        }
        ctx.propagate_as(&args);
    }
    ctx.changed(db, key, Class::Stream, "xadd");
    if trimmed > 0 {
        ctx.changed(db, key, Class::Stream, "xtrim");
    }
    ctx.dirty(1);
    ctx.key_ready(ctx.client.db, key);
    Ok(())
}

/// XLEN key
fn xlen(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let len = access::read::<Stream>(ctx, db, hash, key)?.map_or(0, Stream::len);
    ctx.out.integer(len as i64);
    Ok(())
}

/// XRANGE key start end [COUNT count]
fn xrange(ctx: &mut Ctx<'_>) -> CmdResult {
    range_command(ctx, false)
}

/// XREVRANGE key end start [COUNT count]
fn xrevrange(ctx: &mut Ctx<'_>) -> CmdResult {
    range_command(ctx, true)
}

/// XRANGE and XREVRANGE. A COUNT of 0 (or below) replies a null array, once the key was found
/// to be a stream, as in Redis.
fn range_command(ctx: &mut Ctx<'_>, rev: bool) -> CmdResult {
    let (start_at, end_at) = if rev { (3, 2) } else { (2, 3) };
    let start = parse_range_start(ctx.arg(start_at))?;
    let end = parse_range_end(ctx.arg(end_at))?;
    let mut count = None;
    let mut i = 4;
    while i < ctx.arg_count() {
        if !ctx.arg_is(i, "COUNT") || i + 1 == ctx.arg_count() {
            return Err(CommandError::Syntax);
        }
        count = Some(ctx.arg_i64(i + 1)?.max(0) as usize);
        i += 2;
    }
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(stream) = access::read::<Stream>(ctx, db, hash, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.null_array();
        return Ok(());
    }
    let entries: Vec<EntryRef<'_>> = stream
        .range(start, end, rev)
        .take(count.unwrap_or(usize::MAX))
        .collect();
    write_entries(ctx, &entries);
    Ok(())
}

fn write_entries(ctx: &mut Ctx<'_>, entries: &[EntryRef<'_>]) {
    ctx.out.array(entries.len());
    for entry in entries {
        write_entry(&mut ctx.out, entry);
    }
}

/// XDEL key id [id ...]
fn xdel(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(stream) = access::write::<Stream>(ctx, db, hash, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    // Every ID is checked before any is deleted, so a bad one leaves the stream untouched.
    let ids = ctx.args[2..]
        .iter()
        .map(|arg| parse_exact_id(arg, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = ids.into_iter().filter(|&id| stream.delete(id)).count();
    if deleted > 0 {
        ctx.changed(db, key, Class::Stream, "xdel");
        ctx.dirty(deleted as u64);
    }
    ctx.out.integer(deleted as i64);
    Ok(())
}

/// XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT count]
fn xtrim(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = AddOrTrim::parse(ctx, false)?;
    let trim = options.trim.expect("XTRIM's parse requires a strategy");
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(stream) = access::write::<Stream>(ctx, db, hash, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let (removed, exact_trim) = apply_trim(stream, &trim);
    if removed > 0 {
        if let Some(exact) = exact_trim {
            let mut args: Vec<Vec<u8>> = ctx.args.iter().map(|a| a.to_vec()).collect();
            with_exact_trim(&mut args, exact);
            ctx.propagate_as(&args);
        }
        ctx.changed(db, key, Class::Stream, "xtrim");
        ctx.dirty(removed);
    }
    ctx.out.integer(removed as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]
fn xsetid(ctx: &mut Ctx<'_>) -> CmdResult {
    let id = parse_exact_id(ctx.arg(2), 0)?;
    let mut entries_added = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < ctx.arg_count() {
        let more = ctx.arg_count() - 1 - i;
        if ctx.arg_is(i, "ENTRIESADDED") && more > 0 {
            let n = ctx.arg_i64(i + 1)?;
            if n < 0 {
                return Err(CommandError::err("entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if ctx.arg_is(i, "MAXDELETEDID") && more > 0 {
            max_deleted = parse_exact_id(ctx.arg(i + 1), 0)?;
            if id < max_deleted {
                return Err(CommandError::err(
                    "The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(CommandError::Syntax);
        }
        i += 2;
    }
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = access::write::<Stream>(ctx, db, hash, key)?.ok_or(CommandError::NoSuchKey)?;
    // Only the live entries bound the new last ID (Redis 7.0 does not compare it with the
    // largest deleted ID).
    if let Some(top) = stream.edge_id(true) {
        if id < top {
            return Err(CommandError::err(
                "The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| stream.len() > n) {
            return Err(CommandError::err(
                "The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    stream.set_last_id(id);
    if let Some(n) = entries_added {
        stream.set_entries_added(n);
    }
    if !max_deleted.is_zero() {
        stream.set_max_deleted_id(max_deleted);
    }
    ctx.changed(db, key, Class::Stream, "xsetid");
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// XREAD [COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]
///
/// Replies the entries after each ID of the streams that have some (a map in RESP3), or blocks
/// when none has and BLOCK was given. A blocked XREAD re-runs once an XADD wakes it.
fn xread(ctx: &mut Ctx<'_>) -> CmdResult {
    let ReadOptions {
        count,
        block,
        keys,
        ids,
        ..
    } = ReadOptions::parse(ctx, false)?;
    let mut locked = ctx.lock(keys.iter().copied());
    let woken = matches!(ctx.client.mode, ExecMode::Rerun { .. });
    let mut after = Vec::with_capacity(keys.len());
    for (key, id_arg) in keys.iter().zip(ids) {
        let (db, hash) = locked.db(ctx.client.db, key);
        let stream = read_stream(ctx, db, hash, key, woken)?;
        after.push(match *id_arg {
            b"$" => stream.map_or(StreamId::MIN, |s| s.last_id()),
            b">" => {
                return Err(CommandError::err(
                    "The > ID can be specified only when calling XREADGROUP using the GROUP \
                     <group> <consumer> option.",
                ))
            }
            _ => parse_exact_id(id_arg, 0)?,
        });
    }
    // Which streams have entries to serve. Redis looks each key up again here, and counts it
    // again in the keyspace hits and misses. A woken reader is served the first stream whose
    // last ID passed the one it waits after, alone, even when its entries since were deleted.
    let mut served = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        let (db, hash) = locked.db(ctx.client.db, key);
        let Some(stream) = read_stream(ctx, db, hash, key, woken)? else {
            continue;
        };
        let has_news = if woken {
            stream.last_id() > after[i]
        } else {
            stream.edge_id(true).is_some_and(|last| last > after[i])
        };
        if has_news {
            served.push(i);
            if woken {
                break;
            }
        }
    }
    if served.is_empty() {
        match block {
            Some(ms) => {
                let rerun_as = blocked_form(keys, &after, count);
                ctx.block_as(
                    keys,
                    ms,
                    |out| out.null_array(),
                    WakeOrder::Broadcast,
                    Some(rerun_as),
                );
            }
            None => ctx.out.null_array(),
        }
        return Ok(());
    }
    if ctx.out.is_resp3() {
        ctx.out.map(served.len());
    } else {
        ctx.out.array(served.len());
    }
    let limit = match count {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    };
    for i in served {
        let key = keys[i];
        let (db, hash) = locked.db(ctx.client.db, key);
        let stream = read_stream(ctx, db, hash, key, woken)?.expect("looked up above");
        if !ctx.out.is_resp3() {
            ctx.out.array(2);
        }
        ctx.out.bulk(key);
        // An ID past every entry has no successor, and no stream has news after it.
        let entries: Vec<EntryRef<'_>> = match after[i].next() {
            Some(start) => stream
                .range(start, StreamId::MAX, false)
                .take(limit)
                .collect(),
            None => Vec::new(),
        };
        write_entries(ctx, &entries);
    }
    Ok(())
}

/// One of XREAD's streams. Woken by a write to one of its keys, XREAD looks at them as Redis
/// serves a blocked reader: without counting the lookups, and a key of another type (pushed to
/// as a list, say) has no entries for it instead of being an error.
fn read_stream<'d>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
    woken: bool,
) -> Result<Option<&'d Stream>, CommandError> {
    if !woken {
        return access::read::<Stream>(ctx, db, hash, key);
    }
    Ok(db
        .get(hash, key, ctx.now_ms)
        .and_then(|entry| <Stream as Collection>::of(entry.value_mut()))
        .map(|stream| &*stream))
}

/// The XREAD a blocked client re-runs when woken: `$` replaced by the last IDs it saw, and
/// Redis's default COUNT for a blocked read when none was given.
fn blocked_form(keys: &[&[u8]], after: &[StreamId], count: u64) -> Vec<Vec<u8>> {
    let count = match count {
        0 => BLOCKED_READ_DEFAULT_COUNT,
        n => n,
    };
    let mut args = vec![
        b"XREAD".to_vec(),
        b"COUNT".to_vec(),
        itoa::Buffer::new().format(count).as_bytes().to_vec(),
        b"BLOCK".to_vec(),
        // The deadline was set when it blocked; the re-run keeps it.
        b"0".to_vec(),
        b"STREAMS".to_vec(),
    ];
    args.extend(keys.iter().map(|k| k.to_vec()));
    args.extend(after.iter().map(|id| id.to_text()));
    args
}
