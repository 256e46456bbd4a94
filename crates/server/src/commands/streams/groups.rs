//! Consumer groups: XGROUP, XREADGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM; and XINFO.
//!
//! Journal: as Redis 7.0 propagates them. XGROUP's subcommands and XACK are logged as sent when
//! they changed something. XREADGROUP, XCLAIM and XAUTOCLAIM are never logged as sent: each
//! pending entry they create, move or drop is logged as the idempotent
//! `XCLAIM key group consumer 0 id TIME ms RETRYCOUNT n FORCE JUSTID LASTID id`, and a group
//! position that moved without one (NOACK reads, XCLAIM's LASTID alone) as
//! `XGROUP SETID key group id ENTRIESREAD n`; a NOACK read also logs the consumer it created
//! (`XGROUP CREATECONSUMER`). Several records are framed as one unit.
//!
//! WATCH: as in Redis 7.0, only XGROUP CREATE's MKSTREAM touches the key for transactions; the
//! group commands change groups, not the key.
//!
//! Blocking: XREADGROUP ... BLOCK waits with every other reader of its keys
//! ([`WakeOrder::Broadcast`]) and re-runs when woken, with COUNT fixed at block time (1000
//! when none was given, as Redis serves a blocked reader). The re-run answers Redis's errors
//! when the key went away or changed type, or the group was destroyed.

use std::sync::Arc;

use redis_lite_engine::stream::group::{DeliveryCount, StreamCounters};
use redis_lite_engine::stream::{ConsumerGroup, PendingEntry, StreamId};
use redis_lite_engine::{Db, Locked};
use redis_lite_protocol::ReplyWriter;

use super::entries::BLOCKED_READ_DEFAULT_COUNT;
use super::{
    parse_exact_id, parse_id, parse_range_end, parse_range_start, write_entry, write_id,
    ReadOptions, Stream,
};
use crate::args::reply_help;
use crate::blocking::WakeOrder;
use crate::client::{ClientKind, ExecMode};
use crate::command::flags::*;
use crate::command::key_flags::{KeyFlags, *};
use crate::command::{CommandSpec, Group, KeySpec};
use crate::commands::access;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

/// The key spec of the commands whose key is argument `index`.
const fn key_at(index: i32, flags: KeyFlags) -> KeySpec {
    KeySpec::index(index).range(0, 1, 0).flags(flags)
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::container("xgroup", XGROUP_SUBCOMMANDS)
        .doc(
            Group::Stream,
            "5.0.0",
            "A container for consumer groups commands",
        )
        .complexity("Depends on subcommand."),
    CommandSpec::container("xinfo", XINFO_SUBCOMMANDS)
        .doc(
            Group::Stream,
            "5.0.0",
            "A container for stream introspection commands",
        )
        .complexity("Depends on subcommand."),
    CommandSpec::new("xreadgroup", -7, WRITE | BLOCKING, xreadgroup)
        .key_specs(&[KeySpec::keyword("STREAMS", 4)
            .range(-1, 1, 2)
            .flags(RO | ACCESS)])
        .doc(
            Group::Stream,
            "5.0.0",
            "Return new entries from a stream using a consumer group, or access the history of \
             the pending entries for a given consumer. Can block.",
        )
        .complexity(
            "For each stream mentioned: O(M) with M being the number of elements returned. If M \
             is constant (e.g. always asking for the first 10 elements with COUNT), you can \
             consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) \
             time in order to serve the N clients blocked on the stream getting new data.",
        )
        .syntax(
            "GROUP group_consumer=(group consumer) [COUNT count:integer] [BLOCK \
             milliseconds:integer] [NOACK] STREAMS streams=(key... id...)",
        ),
    CommandSpec::new("xack", -4, WRITE | FAST, xack)
        .key_specs(&[key_at(1, RW | UPDATE)])
        .doc(
            Group::Stream,
            "5.0.0",
            "Marks a pending message as correctly processed, effectively removing it from the \
             pending entries list of the consumer group. Return value of the command is the \
             number of messages successfully acknowledged, that is, the IDs we were actually \
             able to resolve in the PEL.",
        )
        .complexity("O(1) for each message ID processed.")
        .syntax("key group id..."),
    CommandSpec::new("xpending", -3, READONLY, xpending)
        .key_specs(&[key_at(1, RO | ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc(
            Group::Stream,
            "5.0.0",
            "Return information and entries from a stream consumer group pending entries list, \
             that are messages fetched but never acknowledged.",
        )
        .complexity(
            "O(N) with N being the number of elements returned, so asking for a small fixed \
             number of entries per call is O(1). O(M), where M is the total number of entries \
             scanned when used with the IDLE filter. When the command returns just the summary \
             and the list of consumers is small, it runs in O(1) time; otherwise, an additional \
             O(N) time for iterating every consumer.",
        )
        .syntax(
            "key group filters=[[IDLE min-idle-time:integer{s=6.2.0}] start end count:integer \
             [consumer]]",
        )
        .history(&[
            ("6.2.0", "Added the `IDLE` option and exclusive range intervals."),
        ]),
    CommandSpec::new("xclaim", -6, WRITE | FAST, xclaim)
        .key_specs(&[key_at(1, RW | UPDATE)])
        .tips(&["nondeterministic_output"])
        .doc(
            Group::Stream,
            "5.0.0",
            "Changes (or acquires) ownership of a message in a consumer group, as if the message \
             was delivered to the specified consumer.",
        )
        .complexity(
            "O(log N) with N being the number of messages in the PEL of the consumer group.",
        )
        .syntax(
            "key group consumer min-idle-time id... [IDLE ms:integer] \
             [TIME unix-time-milliseconds:unix-time] [RETRYCOUNT count:integer] [FORCE] \
             [JUSTID] [LASTID id]",
        ),
    CommandSpec::new("xautoclaim", -6, WRITE | FAST, xautoclaim)
        .key_specs(&[key_at(1, RW | DELETE)])
        .tips(&["nondeterministic_output"])
        .doc(
            Group::Stream,
            "6.2.0",
            "Changes (or acquires) ownership of messages in a consumer group, as if the messages \
             were delivered to the specified consumer.",
        )
        .complexity("O(1) if COUNT is small.")
        .syntax("key group consumer min-idle-time start [COUNT count:integer] [JUSTID]")
        .history(&[
            ("7.0.0", "Added an element to the reply array, containing deleted entries the command cleared from the PEL"),
        ]),
];

/// In the order Redis lists them (COMMAND INFO).
static XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("delconsumer", 5, WRITE, xgroup_delconsumer)
        .key_specs(&[key_at(2, RW | DELETE)])
        .doc(
            Group::Stream,
            "5.0.0",
            "Delete a consumer from a consumer group.",
        )
        .complexity("O(1)")
        .syntax("key groupname consumername"),
    CommandSpec::new("createconsumer", 5, WRITE | DENYOOM, xgroup_createconsumer)
        .key_specs(&[key_at(2, RW | INSERT)])
        .doc(
            Group::Stream,
            "6.2.0",
            "Create a consumer in a consumer group.",
        )
        .complexity("O(1)")
        .syntax("key groupname consumername"),
    CommandSpec::new("create", -5, WRITE | DENYOOM, xgroup_create)
        .key_specs(&[key_at(2, RW | INSERT)])
        .doc(Group::Stream, "5.0.0", "Create a consumer group.")
        .complexity("O(1)")
        .syntax(
            "key groupname id=(id | new_id:pure-token{t=$}) [MKSTREAM] [ENTRIESREAD \
             entries_read:integer]",
        )
        .history(&[("7.0.0", "Added the `entries_read` named argument.")]),
    CommandSpec::new("setid", -5, WRITE, xgroup_setid)
        .key_specs(&[key_at(2, RW | UPDATE)])
        .doc(
            Group::Stream,
            "5.0.0",
            "Set a consumer group to an arbitrary last delivered ID value.",
        )
        .complexity("O(1)")
        .syntax("key groupname id=(id | new_id:pure-token{t=$}) [ENTRIESREAD entries_read:integer]")
        .history(&[("7.0.0", "Added the optional `entries_read` argument.")]),
    CommandSpec::new("destroy", 4, WRITE, xgroup_destroy)
        .key_specs(&[key_at(2, RW | DELETE)])
        .doc(Group::Stream, "5.0.0", "Destroy a consumer group.")
        .complexity(
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        )
        .syntax("key groupname"),
    CommandSpec::new("help", 2, LOADING | STALE, xgroup_help)
        .doc(
            Group::Stream,
            "5.0.0",
            "Show helpful text about the different subcommands",
        )
        .complexity("O(1)"),
];

/// In the order Redis lists them (COMMAND INFO).
static XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("stream", -3, READONLY, xinfo_stream)
        .key_specs(&[key_at(2, RO | ACCESS)])
        .doc(Group::Stream, "5.0.0", "Get information about a stream")
        .complexity("O(1)")
        .syntax("key [FULL full=([COUNT count:integer]){block}]")
        .history(&[
            ("6.0.0", "Added the `FULL` modifier."),
            ("7.0.0", "Added the `max-deleted-entry-id`, `entries-added`, `recorded-first-entry-id`, `entries-read` and `lag` fields"),
        ]),
    CommandSpec::new("groups", 3, READONLY, xinfo_groups)
        .key_specs(&[key_at(2, RO | ACCESS)])
        .doc(
            Group::Stream,
            "5.0.0",
            "List the consumer groups of a stream",
        )
        .complexity("O(1)")
        .syntax("key")
        .history(&[
            ("7.0.0", "Added the `entries-read` and `lag` fields"),
        ]),
    CommandSpec::new("help", 2, LOADING | STALE, xinfo_help)
        .doc(
            Group::Stream,
            "5.0.0",
            "Show helpful text about the different subcommands",
        )
        .complexity("O(1)"),
    CommandSpec::new("consumers", 4, READONLY, xinfo_consumers)
        .key_specs(&[key_at(2, RO | ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc(
            Group::Stream,
            "5.0.0",
            "List the consumers in a consumer group",
        )
        .complexity("O(1)")
        .syntax("key groupname"),
];

const KEY_REQUIRED: &str = "The XGROUP subcommand requires the key to exist. Note that for \
                            CREATE you may want to use the MKSTREAM option to create an empty \
                            stream automatically.";

/// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`
fn subcommand_syntax(ctx: &Ctx<'_>) -> CommandError {
    CommandError::subcommand_syntax(&String::from_utf8_lossy(ctx.arg(0)), ctx.arg(1))
}

/// NOGROUP as XPENDING, XCLAIM and XAUTOCLAIM word it.
fn no_key_or_group(key: &[u8], group: &[u8]) -> CommandError {
    CommandError::raw_parts(&[
        b"NOGROUP No such key '",
        key,
        b"' or consumer group '",
        group,
        b"'",
    ])
}

/// NOGROUP as XGROUP and XINFO CONSUMERS word it.
fn no_group_for_key(key: &[u8], group: &[u8]) -> CommandError {
    CommandError::raw_parts(&[
        b"NOGROUP No such consumer group '",
        group,
        b"' for key name '",
        key,
        b"'",
    ])
}

/// The clock group state is stamped with. The AOF loader's command clock stands at 0 (so keys
/// do not expire mid-replay), but a replayed XCLAIM's TIME must still be checked against the
/// real time, as Redis does while loading.
fn group_clock(ctx: &Ctx<'_>) -> u64 {
    match ctx.client.kind {
        ClientKind::AofLoader => redis_lite_engine::now_ms(),
        _ => ctx.now_ms,
    }
}

/// After a change to a group (not to the key): one change counted, its keyspace event and the
/// command's record. As in Redis, transactions watching the key are not aborted.
fn group_changed(ctx: &Ctx<'_>, key: &[u8], event: &str) {
    ctx.dirty(1);
    ctx.notify(ctx.client.db, key, Class::Stream, event);
    ctx.propagate();
}

/// The stream at `key`, looked up to read it (counted in the keyspace hits and misses, as
/// Redis's group commands look it up); WRONGTYPE for another type.
fn read_stream<'d>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
) -> Result<Option<&'d mut Stream>, CommandError> {
    ctx.read(db, hash, key)
        .map(|entry| access::typed::<Stream>(entry.value_mut()))
        .transpose()
}

/// XREADGROUP's stream: counted as [`read_stream`] counts it, except for a reader woken from
/// blocking, whose lookups Redis does not count.
fn reader_stream<'d>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
    woken: bool,
) -> Result<Option<&'d mut Stream>, CommandError> {
    if !woken {
        return read_stream(ctx, db, hash, key);
    }
    db.get(hash, key, ctx.now_ms)
        .map(|entry| access::typed::<Stream>(entry.value_mut()))
        .transpose()
}

/// Logs the records a group command produced instead of itself (none: nothing is logged).
fn propagate_records(ctx: &Ctx<'_>, records: &[Vec<Vec<u8>>]) {
    let Some((first, rest)) = records.split_first() else {
        return;
    };
    ctx.propagate_as(first);
    for record in rest {
        ctx.also_propagate(record);
    }
    ctx.propagate();
}

/// The record that recreates pending entry `id` as it is now: owner, delivery time and count,
/// with the group's last delivered ID.
fn xclaim_record(
    key: &[u8],
    group_name: &[u8],
    id: &[u8],
    pending: &PendingEntry,
    last_id: StreamId,
) -> Vec<Vec<u8>> {
    let number = |n: u64| n.to_string().into_bytes();
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group_name.to_vec(),
        pending.consumer.to_vec(),
        b"0".to_vec(),
        id.to_vec(),
        b"TIME".to_vec(),
        number(pending.delivery_time),
        b"RETRYCOUNT".to_vec(),
        number(pending.delivery_count),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        last_id.to_text(),
    ]
}

/// The record that sets a group's position and read counter (-1: unknown).
fn setid_record(key: &[u8], group_name: &[u8], group: &ConsumerGroup) -> Vec<Vec<u8>> {
    let entries_read = group
        .entries_read
        .map_or_else(|| "-1".to_string(), |n| n.to_string());
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group_name.to_vec(),
        group.last_id.to_text(),
        b"ENTRIESREAD".to_vec(),
        entries_read.into_bytes(),
    ]
}

/// The consumer `name` of `group` for a read or a claim: seen now, created (with its event)
/// when missing. Returns its shared name and whether it was created.
fn touch_consumer(
    ctx: &Ctx<'_>,
    key: &[u8],
    group: &mut ConsumerGroup,
    name: &[u8],
    now_ms: u64,
) -> (Arc<[u8]>, bool) {
    let (consumer, created) = group.consumer_or_create(name, now_ms);
    consumer.seen_time = now_ms;
    if created {
        ctx.dirty(1);
        ctx.notify(ctx.client.db, key, Class::Stream, "xgroup-createconsumer");
    }
    (group.consumer_name(name).expect("just touched"), created)
}

// ---------------------------------------------------------------------------------------------
// XGROUP

/// CREATE's and SETID's options after the ID: `MKSTREAM` (CREATE) and `ENTRIESREAD n`.
struct GroupOptions {
    mkstream: bool,
    /// None for -1 (unknown) and when not given.
    entries_read: Option<u64>,
}

fn group_options(ctx: &Ctx<'_>, create: bool) -> Result<GroupOptions, CommandError> {
    let mut options = GroupOptions {
        mkstream: false,
        entries_read: None,
    };
    let mut i = 5;
    while i < ctx.arg_count() {
        if create && ctx.arg_is(i, "MKSTREAM") {
            options.mkstream = true;
            i += 1;
        } else if ctx.arg_is(i, "ENTRIESREAD") && i + 1 < ctx.arg_count() {
            let n = ctx.arg_i64(i + 1)?;
            if n < -1 {
                return Err(CommandError::err(
                    "value for ENTRIESREAD must be positive or -1",
                ));
            }
            options.entries_read = u64::try_from(n).ok();
            i += 2;
        } else {
            return Err(subcommand_syntax(ctx));
        }
    }
    Ok(options)
}

/// The stream of an XGROUP subcommand, which must exist.
fn group_stream<'d>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
) -> Result<&'d mut Stream, CommandError> {
    access::write::<Stream>(ctx, db, hash, key)?.ok_or(CommandError::err(KEY_REQUIRED))
}

/// The group `name` of an XGROUP subcommand's stream, which must exist.
fn existing_group<'s>(
    stream: &'s mut Stream,
    key: &[u8],
    name: &[u8],
) -> Result<&'s mut ConsumerGroup, CommandError> {
    stream
        .groups
        .get_mut(name)
        .ok_or_else(|| no_group_for_key(key, name))
}

/// XGROUP CREATE key group id|$ [MKSTREAM] [ENTRIESREAD n]
fn xgroup_create(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = group_options(ctx, true)?;
    let (key, name) = (ctx.arg(2), ctx.arg(3));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let last_id = match access::write::<Stream>(ctx, db, hash, key)? {
        Some(stream) => Some(stream.last_id()),
        None if options.mkstream => None,
        None => return Err(CommandError::err(KEY_REQUIRED)),
    };
    if ctx.arg_count() > 8 {
        return Err(subcommand_syntax(ctx));
    }
    let id = match ctx.arg(4) {
        b"$" => last_id.unwrap_or(StreamId::MIN),
        arg => parse_exact_id(arg, 0)?,
    };
    let limits = ctx.encoding_limits();
    let stream = access::write_or_create::<Stream>(ctx, db, hash, key, &limits)?;
    if stream.groups.contains_key(name) {
        return Err(CommandError::coded(
            "BUSYGROUP Consumer Group name already exists",
        ));
    }
    stream
        .groups
        .insert(name.to_vec(), ConsumerGroup::new(id, options.entries_read));
    if last_id.is_none() {
        // MKSTREAM made the key: that is a change of the key itself.
        ctx.dirty(1);
        ctx.changed(db, key, Class::Stream, "xgroup-create");
    } else {
        group_changed(ctx, key, "xgroup-create");
    }
    ctx.out.ok();
    Ok(())
}

/// XGROUP SETID key group id|$ [ENTRIESREAD n]
fn xgroup_setid(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = group_options(ctx, false)?;
    let (key, name) = (ctx.arg(2), ctx.arg(3));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = group_stream(ctx, db, hash, key)?;
    let stream_last_id = stream.last_id();
    let group = existing_group(stream, key, name)?;
    if ctx.arg_count() != 5 && ctx.arg_count() != 7 {
        return Err(subcommand_syntax(ctx));
    }
    let id = match ctx.arg(4) {
        b"$" => stream_last_id,
        arg => parse_id(arg, 0)?,
    };
    group.last_id = id;
    group.entries_read = options.entries_read;
    group_changed(ctx, key, "xgroup-setid");
    ctx.out.ok();
    Ok(())
}

/// XGROUP DESTROY key group
fn xgroup_destroy(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, name) = (ctx.arg(2), ctx.arg(3));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = group_stream(ctx, db, hash, key)?;
    let destroyed = stream.groups.remove(name).is_some();
    if destroyed {
        group_changed(ctx, key, "xgroup-destroy");
        // Its blocked readers get NOGROUP.
        ctx.key_ready(ctx.client.db, key);
    }
    ctx.out.integer(i64::from(destroyed));
    Ok(())
}

/// XGROUP CREATECONSUMER key group consumer
fn xgroup_createconsumer(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, name, consumer) = (ctx.arg(2), ctx.arg(3), ctx.arg(4));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let group = existing_group(group_stream(ctx, db, hash, key)?, key, name)?;
    let (_, created) = group.consumer_or_create(consumer, group_clock(ctx));
    if created {
        group_changed(ctx, key, "xgroup-createconsumer");
    }
    ctx.out.integer(i64::from(created));
    Ok(())
}

/// XGROUP DELCONSUMER key group consumer: replies how many entries it had pending.
fn xgroup_delconsumer(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, name, consumer) = (ctx.arg(2), ctx.arg(3), ctx.arg(4));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let group = existing_group(group_stream(ctx, db, hash, key)?, key, name)?;
    let pending = group.delete_consumer(consumer);
    if pending.is_some() {
        group_changed(ctx, key, "xgroup-delconsumer");
    }
    ctx.out.integer(pending.unwrap_or(0) as i64);
    Ok(())
}

fn xgroup_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "XGROUP",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XREADGROUP

/// XREADGROUP's arguments.
struct ReadGroup<'a> {
    group: &'a [u8],
    consumer: &'a [u8],
    /// 0: no limit.
    count: u64,
    /// BLOCK's milliseconds (0: for ever).
    block: Option<u64>,
    noack: bool,
    keys: &'a [&'a [u8]],
    ids: &'a [&'a [u8]],
}

/// Where a stream is read from: new entries (`>`), or the consumer's own pending entries
/// after an ID.
#[derive(Clone, Copy)]
enum ReadFrom {
    New,
    History(StreamId),
}

fn parse_readgroup<'a>(ctx: &Ctx<'a>) -> Result<ReadGroup<'a>, CommandError> {
    let options = ReadOptions::parse(ctx, true)?;
    let (group, consumer) = options
        .group
        .ok_or(CommandError::err("Missing GROUP option for XREADGROUP"))?;
    Ok(ReadGroup {
        group,
        consumer,
        count: options.count,
        block: options.block,
        noack: options.noack,
        keys: options.keys,
        ids: options.ids,
    })
}

/// XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key... id...
fn xreadgroup(ctx: &mut Ctx<'_>) -> CmdResult {
    let read = parse_readgroup(ctx)?;
    let db_index = ctx.client.db;
    let woken = matches!(ctx.client.mode, ExecMode::Rerun { .. });
    let mut locked = ctx.lock(read.keys.iter().copied());
    // Every key, group and ID is checked before anything is served, in Redis's order.
    let mut from = Vec::with_capacity(read.keys.len());
    for (&key, &id) in read.keys.iter().zip(read.ids) {
        let (db, hash) = locked.db(db_index, key);
        let has_group = match reader_stream(ctx, db, hash, key, woken) {
            Ok(Some(stream)) => stream.groups.contains_key(read.group),
            Ok(None) | Err(CommandError::WrongType) if woken => {
                return Err(CommandError::coded(
                    "UNBLOCKED the stream key no longer exists",
                ))
            }
            Ok(None) => false,
            Err(error) => return Err(error),
        };
        if !has_group {
            return Err(if woken {
                CommandError::coded(
                    "NOGROUP the consumer group this client was blocked on no longer exists",
                )
            } else {
                CommandError::raw_parts(&[
                    b"NOGROUP No such key '",
                    key,
                    b"' or consumer group '",
                    read.group,
                    b"' in XREADGROUP with GROUP option",
                ])
            });
        }
        from.push(match id {
            b"$" => {
                return Err(CommandError::err(
                    "The $ ID is meaningless in the context of XREADGROUP: you want to read the \
                     history of this consumer by specifying a proper ID, or use the > ID to get \
                     new messages. The $ ID would just return an empty result set.",
                ))
            }
            b">" => ReadFrom::New,
            // The largest ID is how Redis marks `>` internally, so it reads as `>`.
            id => match parse_exact_id(id, 0)? {
                StreamId::MAX => ReadFrom::New,
                after => ReadFrom::History(after),
            },
        });
    }

    let now = group_clock(ctx);
    let resp3 = ctx.out.is_resp3();
    let mut records = Vec::new();
    let mut body = Vec::new();
    let mut served = 0;
    {
        let mut out = ReplyWriter::new(&mut body, ctx.client.protocol);
        for (&key, &from) in read.keys.iter().zip(&from) {
            let reader = Reader {
                read: &read,
                woken,
                now,
            };
            if serve_stream(ctx, &mut locked, key, from, &reader, &mut out, &mut records) {
                served += 1;
                // A woken reader is served the first stream with news, alone, as Redis serves
                // a blocked reader the key that woke it.
                if woken {
                    break;
                }
            }
        }
    }
    drop(locked);
    if served > 0 {
        if resp3 {
            ctx.out.map(served);
        } else {
            ctx.out.array(served);
        }
        ctx.out.raw(&body);
        propagate_records(ctx, &records);
        return Ok(());
    }
    match read.block {
        Some(ms) => {
            let rerun_as = blocked_form(ctx, &read);
            ctx.block_as(
                read.keys,
                ms,
                |out| out.null_array(),
                WakeOrder::Broadcast,
                Some(rerun_as),
            )
        }
        None => ctx.out.null_array(),
    }
    Ok(())
}

/// The form a blocked XREADGROUP re-runs in: its COUNT fixed (Redis serves a blocked reader at
/// most 1000 entries when no COUNT was given). Every ID is `>`, as any other is served at once.
fn blocked_form(ctx: &Ctx<'_>, read: &ReadGroup<'_>) -> Vec<Vec<u8>> {
    let count = match read.count {
        0 => BLOCKED_READ_DEFAULT_COUNT,
        n => n,
    };
    let mut args: Vec<Vec<u8>> = vec![
        ctx.arg(0).to_vec(),
        b"GROUP".to_vec(),
        read.group.to_vec(),
        read.consumer.to_vec(),
        b"COUNT".to_vec(),
        count.to_string().into_bytes(),
        b"BLOCK".to_vec(),
        read.block.unwrap_or(0).to_string().into_bytes(),
    ];
    if read.noack {
        args.push(b"NOACK".to_vec());
    }
    args.push(b"STREAMS".to_vec());
    args.extend(read.keys.iter().map(|k| k.to_vec()));
    args.extend(read.ids.iter().map(|id| id.to_vec()));
    args
}

/// An XREADGROUP being served.
struct Reader<'r, 'a> {
    read: &'r ReadGroup<'a>,
    /// Woken from blocking (see [`reader_stream`]).
    woken: bool,
    now: u64,
}

/// Serves one stream of an XREADGROUP if there is something to serve (the consumer's history
/// always is; new entries when the stream has entries after the group's last delivered ID, or
/// for a woken reader, as Redis checks it then, when the stream's last ID passed the group's),
/// writing `[key, entries]` (RESP3: the map's key and value) to `out`. Returns whether it did.
fn serve_stream(
    ctx: &Ctx<'_>,
    locked: &mut Locked<'_>,
    key: &[u8],
    from: ReadFrom,
    reader: &Reader<'_, '_>,
    out: &mut ReplyWriter<'_>,
    records: &mut Vec<Vec<Vec<u8>>>,
) -> bool {
    let (read, now) = (reader.read, reader.now);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = reader_stream(ctx, db, hash, key, reader.woken)
        .ok()
        .flatten()
        .expect("checked before serving");
    let (group_name, mut group) = stream
        .groups
        .remove_entry(read.group)
        .expect("checked before serving");
    let serve = match from {
        ReadFrom::History(_) => true,
        ReadFrom::New if reader.woken => stream.last_id() > group.last_id,
        ReadFrom::New => stream
            .edge_id(true)
            .is_some_and(|last| last > group.last_id),
    };
    if serve {
        if !out.is_resp3() {
            out.array(2);
        }
        out.bulk(key);
        let (consumer, created) = touch_consumer(ctx, key, &mut group, read.consumer, now);
        if created && read.noack {
            records.push(vec![
                b"XGROUP".to_vec(),
                b"CREATECONSUMER".to_vec(),
                key.to_vec(),
                group_name.clone(),
                read.consumer.to_vec(),
            ]);
        }
        match from {
            ReadFrom::History(after) => {
                serve_history(stream, &mut group, &consumer, after, read.count, now, out)
            }
            ReadFrom::New => {
                let delivery = Delivery {
                    key,
                    group_name: &group_name,
                    consumer: &consumer,
                    noack: read.noack,
                    now,
                };
                serve_new(stream, &mut group, &delivery, read.count, out, records)
            }
        }
        ctx.dirty(1);
    }
    stream.groups.insert(group_name, group);
    serve
}

/// Who new entries are delivered to, and how.
struct Delivery<'a> {
    key: &'a [u8],
    group_name: &'a [u8],
    consumer: &'a Arc<[u8]>,
    noack: bool,
    now: u64,
}

/// Up to `count` (0: all) entries after the group's last delivered ID: the group moves past
/// them and, without NOACK, they become the consumer's pending entries.
fn serve_new(
    stream: &Stream,
    group: &mut ConsumerGroup,
    delivery: &Delivery<'_>,
    count: u64,
    out: &mut ReplyWriter<'_>,
    records: &mut Vec<Vec<Vec<u8>>>,
) {
    let counters: StreamCounters = stream.counters();
    let entries: Vec<_> = match group.last_id.next() {
        Some(start) => stream
            .range(start, StreamId::MAX, false)
            .take(limit(count))
            .collect(),
        None => Vec::new(),
    };
    out.array(entries.len());
    let mut advanced = false;
    for entry in &entries {
        if entry.id > group.last_id {
            group.advance_to(entry.id, &counters);
            advanced = true;
        }
        write_entry(out, entry);
        if !delivery.noack {
            let last_id = group.last_id;
            let pending = group.deliver(entry.id, delivery.consumer, delivery.now);
            records.push(xclaim_record(
                delivery.key,
                delivery.group_name,
                &entry.id.to_text(),
                pending,
                last_id,
            ));
        }
    }
    if delivery.noack && advanced {
        records.push(setid_record(delivery.key, delivery.group_name, group));
    }
}

/// The consumer's pending entries after `after`, up to `count` (0: all), each delivered once
/// more; an entry deleted from the stream meanwhile is its ID and a null.
fn serve_history(
    stream: &Stream,
    group: &mut ConsumerGroup,
    consumer: &Arc<[u8]>,
    after: StreamId,
    count: u64,
    now: u64,
    out: &mut ReplyWriter<'_>,
) {
    let ids: Vec<StreamId> = match after.next() {
        Some(start) => group.consumers[consumer]
            .pending
            .range(start..)
            .take(limit(count))
            .copied()
            .collect(),
        None => Vec::new(),
    };
    out.array(ids.len());
    for id in ids {
        match stream.range(id, id, false).next() {
            Some(entry) => {
                write_entry(out, &entry);
                let pending = group.pending.get_mut(&id).expect("in the consumer's PEL");
                pending.delivery_time = now;
                pending.delivery_count += 1;
            }
            None => {
                out.array(2);
                write_id(out, id);
                out.null_array();
            }
        }
    }
}

/// A COUNT as an iterator bound (0: none).
fn limit(count: u64) -> usize {
    match count {
        0 => usize::MAX,
        n => usize::try_from(n).unwrap_or(usize::MAX),
    }
}

// ---------------------------------------------------------------------------------------------
// XACK, XPENDING

/// XACK key group id...
fn xack(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, name) = (ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(group) = read_stream(ctx, db, hash, key)?.and_then(|s| s.groups.get_mut(name)) else {
        ctx.out.integer(0);
        return Ok(());
    };
    // All or nothing: every ID is checked before any is acknowledged.
    let ids = ctx.args[3..]
        .iter()
        .map(|arg| parse_exact_id(arg, 0))
        .collect::<Result<Vec<_>, _>>()?;
    let acknowledged = ids
        .into_iter()
        .filter(|&id| group.remove_pending(id).is_some())
        .count();
    if acknowledged > 0 {
        ctx.dirty(acknowledged as u64);
        ctx.propagate();
    }
    ctx.out.integer(acknowledged as i64);
    Ok(())
}

/// XPENDING's range form: [IDLE ms] start end count [consumer].
struct PendingRange<'a> {
    min_idle: i64,
    start: StreamId,
    end: StreamId,
    count: u64,
    consumer: Option<&'a [u8]>,
}

fn parse_pending_range<'a>(ctx: &Ctx<'a>) -> Result<Option<PendingRange<'a>>, CommandError> {
    let argc = ctx.arg_count();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CommandError::Syntax);
    }
    if argc == 3 {
        return Ok(None);
    }
    let mut at = 3;
    let mut min_idle = 0;
    if ctx.arg_is(3, "IDLE") {
        min_idle = ctx.arg_i64(4)?;
        if argc < 8 {
            return Err(CommandError::Syntax);
        }
        at = 5;
    }
    let count = ctx.arg_i64(at + 2)?.max(0) as u64;
    let start = parse_range_start(ctx.arg(at))?;
    let end = parse_range_end(ctx.arg(at + 1))?;
    Ok(Some(PendingRange {
        min_idle,
        start,
        end,
        count,
        consumer: ctx.args.get(at + 3).copied(),
    }))
}

/// XPENDING key group [[IDLE ms] start end count [consumer]]
fn xpending(ctx: &mut Ctx<'_>) -> CmdResult {
    let range = parse_pending_range(ctx)?;
    let (key, name) = (ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let group = read_stream(ctx, db, hash, key)?
        .and_then(|s| s.groups.get(name))
        .ok_or_else(|| no_key_or_group(key, name))?;
    match range {
        None => pending_summary(&mut ctx.out, group),
        Some(range) => pending_entries(&mut ctx.out, group, &range, ctx.now_ms),
    }
    Ok(())
}

/// How many entries are pending, the first and last IDs, and each consumer's count.
fn pending_summary(out: &mut ReplyWriter<'_>, group: &ConsumerGroup) {
    out.array(4);
    out.integer(group.pending.len() as i64);
    let (Some((&first, _)), Some((&last, _))) = (
        group.pending.first_key_value(),
        group.pending.last_key_value(),
    ) else {
        out.null();
        out.null();
        out.null_array();
        return;
    };
    write_id(out, first);
    write_id(out, last);
    let holders: Vec<_> = group
        .consumers
        .iter()
        .filter(|(_, c)| !c.pending.is_empty())
        .collect();
    out.array(holders.len());
    for (name, consumer) in holders {
        out.array(2);
        out.bulk(name);
        out.bulk_integer(consumer.pending.len() as i64);
    }
}

/// The pending entries in the range, the group's or one consumer's: ID, owner, idle time,
/// deliveries.
fn pending_entries(
    out: &mut ReplyWriter<'_>,
    group: &ConsumerGroup,
    range: &PendingRange<'_>,
    now: u64,
) {
    let ids: Box<dyn Iterator<Item = &StreamId>> = match range.consumer {
        None if range.start <= range.end => Box::new(
            group
                .pending
                .range(range.start..=range.end)
                .map(|(id, _)| id),
        ),
        Some(name) if range.start <= range.end => match group.consumers.get(name) {
            Some(consumer) => Box::new(consumer.pending.range(range.start..=range.end)),
            None => Box::new(std::iter::empty()),
        },
        _ => Box::new(std::iter::empty()),
    };
    let idle = |entry: &PendingEntry| (now as i64).wrapping_sub(entry.delivery_time as i64);
    let selected: Vec<(StreamId, &PendingEntry)> = ids
        .map(|id| (*id, &group.pending[id]))
        .filter(|(_, entry)| range.min_idle == 0 || idle(entry) >= range.min_idle)
        .take(usize::try_from(range.count).unwrap_or(usize::MAX))
        .collect();
    out.array(selected.len());
    for (id, entry) in selected {
        out.array(4);
        write_id(out, id);
        out.bulk(&entry.consumer);
        out.integer(idle(entry).max(0));
        out.integer(entry.delivery_count as i64);
    }
}

// ---------------------------------------------------------------------------------------------
// XCLAIM, XAUTOCLAIM

/// XCLAIM's options after the IDs.
struct ClaimOptions {
    force: bool,
    justid: bool,
    /// Set by IDLE or TIME; checked against the clock once all options are read.
    delivery_time: Option<i64>,
    /// RETRYCOUNT; a negative one counts as not given, as in Redis.
    retry_count: i64,
    last_id: StreamId,
}

fn claim_options(ctx: &Ctx<'_>, from: usize, now: u64) -> Result<ClaimOptions, CommandError> {
    let mut options = ClaimOptions {
        force: false,
        justid: false,
        delivery_time: None,
        retry_count: -1,
        last_id: StreamId::MIN,
    };
    let argc = ctx.arg_count();
    let number = |i: usize, option: &str| {
        ctx.arg_i64(i)
            .map_err(|_| CommandError::err(format!("Invalid {option} option argument for XCLAIM")))
    };
    let mut j = from;
    while j < argc {
        let more = argc - 1 - j;
        if ctx.arg_is(j, "FORCE") {
            options.force = true;
        } else if ctx.arg_is(j, "JUSTID") {
            options.justid = true;
        } else if ctx.arg_is(j, "IDLE") && more > 0 {
            j += 1;
            options.delivery_time = Some((now as i64).wrapping_sub(number(j, "IDLE")?));
        } else if ctx.arg_is(j, "TIME") && more > 0 {
            j += 1;
            options.delivery_time = Some(number(j, "TIME")?);
        } else if ctx.arg_is(j, "RETRYCOUNT") && more > 0 {
            j += 1;
            options.retry_count = number(j, "RETRYCOUNT")?;
        } else if ctx.arg_is(j, "LASTID") && more > 0 {
            j += 1;
            options.last_id = parse_exact_id(ctx.arg(j), 0)?;
        } else {
            return Err(CommandError::err_quoting(
                "Unrecognized XCLAIM option '",
                ctx.arg(j),
                "'",
            ));
        }
        j += 1;
    }
    Ok(options)
}

fn min_idle_arg(ctx: &Ctx<'_>, command: &str) -> Result<i64, CommandError> {
    ctx.arg_i64(4)
        .map(|n| n.max(0))
        .map_err(|_| CommandError::err(format!("Invalid min-idle-time argument for {command}")))
}

/// Whether a pending entry has been idle long enough to be claimed.
fn idle_enough(entry: &PendingEntry, min_idle: i64, now: u64) -> bool {
    min_idle == 0 || (now as i64).wrapping_sub(entry.delivery_time as i64) >= min_idle
}

/// Writes a claimed entry (one that exists): its ID alone (JUSTID) or the entry.
fn write_claimed(out: &mut ReplyWriter<'_>, stream: &Stream, id: StreamId, justid: bool) {
    if justid {
        write_id(out, id);
    } else {
        let entry = stream.range(id, id, false).next();
        write_entry(out, &entry.expect("claimed entries exist"));
    }
}

/// XCLAIM key group consumer min-idle-time id... [IDLE ms] [TIME ms] [RETRYCOUNT n] [FORCE]
/// [JUSTID] [LASTID id]
fn xclaim(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, name, consumer_name) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = read_stream(ctx, db, hash, key)?
        .filter(|s| s.groups.contains_key(name))
        .ok_or_else(|| no_key_or_group(key, name))?;
    let min_idle = min_idle_arg(ctx, "XCLAIM")?;
    // The IDs run up to the first argument that is not one; options follow.
    let ids_end = (5..ctx.arg_count())
        .find(|&j| parse_exact_id(ctx.arg(j), 0).is_err())
        .unwrap_or(ctx.arg_count());
    let now = group_clock(ctx);
    let options = claim_options(ctx, ids_end, now)?;
    let delivery_time = match options.delivery_time {
        Some(t) if t >= 0 && t <= now as i64 => t as u64,
        _ => now,
    };
    let count = if options.retry_count >= 0 {
        DeliveryCount::Set(options.retry_count as u64)
    } else if options.justid {
        DeliveryCount::Keep
    } else {
        DeliveryCount::Increment
    };

    let (group_name, mut group) = stream.groups.remove_entry(name).expect("checked");
    let mut propagate_last_id = false;
    if options.last_id > group.last_id {
        group.last_id = options.last_id;
        propagate_last_id = true;
    }
    let mut records = Vec::new();
    let mut consumer = None;
    let mut body = Vec::new();
    let mut claimed = 0;
    {
        let mut out = ReplyWriter::new(&mut body, ctx.client.protocol);
        for &arg in &ctx.args[5..ids_end] {
            let id = parse_exact_id(arg, 0).expect("parsed above");
            if !stream.contains(id) {
                // The entry is gone: so is its pending entry, on replicas too.
                if let Some(pending) = group.remove_pending(id) {
                    records.push(xclaim_record(key, name, arg, &pending, group.last_id));
                    propagate_last_id = false;
                    ctx.dirty(1);
                }
                continue;
            }
            match group.pending.get(&id) {
                Some(entry) if !idle_enough(entry, min_idle, now) => continue,
                None if !options.force => continue,
                _ => {}
            }
            let owner = consumer
                .get_or_insert_with(|| touch_consumer(ctx, key, &mut group, consumer_name, now).0)
                .clone();
            let last_id = group.last_id;
            let pending = group.claim(id, &owner, delivery_time, count);
            records.push(xclaim_record(key, name, arg, pending, last_id));
            write_claimed(&mut out, stream, id, options.justid);
            claimed += 1;
            propagate_last_id = false;
            ctx.dirty(1);
        }
    }
    if propagate_last_id {
        records.push(setid_record(key, name, &group));
        ctx.dirty(1);
    }
    stream.groups.insert(group_name, group);
    drop(locked);
    ctx.out.array(claimed);
    ctx.out.raw(&body);
    propagate_records(ctx, &records);
    Ok(())
}

/// XAUTOCLAIM's COUNT: Redis bounds it so that `count * 10` attempts cannot overflow.
const AUTOCLAIM_MAX_COUNT: i64 = i64::MAX / 10;

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT n] [JUSTID]: replies the cursor to
/// go on from, the claimed entries, and the IDs dropped from the PEL because their entries
/// were deleted.
fn xautoclaim(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, name, consumer_name) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let min_idle = min_idle_arg(ctx, "XAUTOCLAIM")?;
    let start = parse_range_start(ctx.arg(5))?;
    let (mut count, mut justid) = (100u64, false);
    let mut j = 6;
    while j < ctx.arg_count() {
        if ctx.arg_is(j, "COUNT") && j + 1 < ctx.arg_count() {
            count = ctx
                .arg_i64(j + 1)
                .ok()
                .filter(|n| (1..=AUTOCLAIM_MAX_COUNT).contains(n))
                .ok_or(CommandError::err("COUNT must be > 0"))? as u64;
            j += 1;
        } else if ctx.arg_is(j, "JUSTID") {
            justid = true;
        } else {
            return Err(CommandError::Syntax);
        }
        j += 1;
    }
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = read_stream(ctx, db, hash, key)?
        .filter(|s| s.groups.contains_key(name))
        .ok_or_else(|| no_key_or_group(key, name))?;
    let now = group_clock(ctx);
    let (group_name, mut group) = stream.groups.remove_entry(name).expect("checked");
    let mut attempts = count * 10;
    let mut next = Some(start);
    let (mut records, mut deleted) = (Vec::new(), Vec::new());
    let mut consumer = None;
    let mut body = Vec::new();
    let mut claimed = 0;
    {
        let mut out = ReplyWriter::new(&mut body, ctx.client.protocol);
        while attempts > 0 && count > 0 {
            attempts -= 1;
            let Some(id) =
                next.and_then(|from| group.pending.range(from..).next().map(|(id, _)| *id))
            else {
                next = None;
                break;
            };
            next = id.next();
            let id_text = id.to_text();
            if !stream.contains(id) {
                let pending = group.remove_pending(id).expect("listed");
                records.push(xclaim_record(key, name, &id_text, &pending, group.last_id));
                ctx.dirty(1);
                deleted.push(id);
                count -= 1;
                continue;
            }
            if !idle_enough(&group.pending[&id], min_idle, now) {
                continue;
            }
            let owner = consumer
                .get_or_insert_with(|| touch_consumer(ctx, key, &mut group, consumer_name, now).0)
                .clone();
            let delivery = if justid {
                DeliveryCount::Keep
            } else {
                DeliveryCount::Increment
            };
            let last_id = group.last_id;
            let pending = group.claim(id, &owner, now, delivery);
            records.push(xclaim_record(key, name, &id_text, pending, last_id));
            write_claimed(&mut out, stream, id, justid);
            claimed += 1;
            count -= 1;
            ctx.dirty(1);
        }
    }
    let cursor = next
        .and_then(|from| group.pending.range(from..).next().map(|(id, _)| *id))
        .unwrap_or(StreamId::MIN);
    stream.groups.insert(group_name, group);
    drop(locked);
    ctx.out.array(3);
    write_id(&mut ctx.out, cursor);
    ctx.out.array(claimed);
    ctx.out.raw(&body);
    ctx.out.array(deleted.len());
    for id in deleted {
        write_id(&mut ctx.out, id);
    }
    propagate_records(ctx, &records);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// XINFO

/// The stream XINFO's subcommands describe: it must exist.
fn info_stream<'d>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
) -> Result<&'d Stream, CommandError> {
    read_stream(ctx, db, hash, key)?
        .map(|s| &*s)
        .ok_or(CommandError::NoSuchKey)
}

/// A read counter or lag, null when unknown.
fn write_known(out: &mut ReplyWriter<'_>, value: Option<i64>) {
    match value {
        Some(n) => out.integer(n),
        None => out.null(),
    }
}

/// XINFO CONSUMERS key group
fn xinfo_consumers(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, name) = (ctx.arg(2), ctx.arg(3));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = info_stream(ctx, db, hash, key)?;
    let group = stream
        .groups
        .get(name)
        .ok_or_else(|| no_group_for_key(key, name))?;
    let now = ctx.now_ms as i64;
    let out = &mut ctx.out;
    out.array(group.consumers.len());
    for (consumer_name, consumer) in &group.consumers {
        out.map(3);
        out.bulk(b"name");
        out.bulk(consumer_name);
        out.bulk(b"pending");
        out.integer(consumer.pending.len() as i64);
        out.bulk(b"idle");
        out.integer(now.wrapping_sub(consumer.seen_time as i64).max(0));
    }
    Ok(())
}

/// XINFO GROUPS key
fn xinfo_groups(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(2);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = info_stream(ctx, db, hash, key)?;
    let counters = stream.counters();
    let out = &mut ctx.out;
    out.array(stream.groups.len());
    for (name, group) in &stream.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.integer(group.consumers.len() as i64);
        out.bulk(b"pending");
        out.integer(group.pending.len() as i64);
        out.bulk(b"last-delivered-id");
        write_id(out, group.last_id);
        out.bulk(b"entries-read");
        write_known(out, group.entries_read.map(|n| n as i64));
        out.bulk(b"lag");
        write_known(out, counters.lag(group));
    }
    Ok(())
}

/// XINFO STREAM key [FULL [COUNT n]]
fn xinfo_stream(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(2);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let stream = info_stream(ctx, db, hash, key)?;
    // Redis looks the key up before reading the options.
    let full = match ctx.arg_count() {
        3 => None,
        4 if ctx.arg_is(3, "FULL") => Some(10),
        6 if ctx.arg_is(3, "FULL") && ctx.arg_is(4, "COUNT") => {
            Some(u64::try_from(ctx.arg_i64(5)?).unwrap_or(10))
        }
        _ => return Err(subcommand_syntax(ctx)),
    };
    let out = &mut ctx.out;
    out.map(if full.is_some() { 9 } else { 10 });
    out.bulk(b"length");
    out.integer(stream.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.integer(stream.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.integer(stream.radix_tree_nodes() as i64);
    out.bulk(b"last-generated-id");
    write_id(out, stream.last_id());
    out.bulk(b"max-deleted-entry-id");
    write_id(out, stream.max_deleted_id());
    out.bulk(b"entries-added");
    out.integer(stream.entries_added() as i64);
    out.bulk(b"recorded-first-entry-id");
    write_id(out, stream.first_id());
    match full {
        None => {
            out.bulk(b"groups");
            out.integer(stream.groups.len() as i64);
            for (field, last) in [(&b"first-entry"[..], false), (b"last-entry", true)] {
                out.bulk(field);
                match stream.range(StreamId::MIN, StreamId::MAX, last).next() {
                    Some(entry) => write_entry(out, &entry),
                    None => out.null(),
                }
            }
        }
        Some(count) => write_full(out, stream, count),
    }
    Ok(())
}

/// XINFO STREAM FULL's entries and groups, each list cut at `count` (0: all).
fn write_full(out: &mut ReplyWriter<'_>, stream: &Stream, count: u64) {
    let entries: Vec<_> = stream
        .range(StreamId::MIN, StreamId::MAX, false)
        .take(limit(count))
        .collect();
    out.bulk(b"entries");
    out.array(entries.len());
    for entry in &entries {
        write_entry(out, entry);
    }
    let counters = stream.counters();
    out.bulk(b"groups");
    out.array(stream.groups.len());
    for (name, group) in &stream.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"last-delivered-id");
        write_id(out, group.last_id);
        out.bulk(b"entries-read");
        write_known(out, group.entries_read.map(|n| n as i64));
        out.bulk(b"lag");
        write_known(out, counters.lag(group));
        out.bulk(b"pel-count");
        out.integer(group.pending.len() as i64);
        out.bulk(b"pending");
        let shown = group.pending.len().min(limit(count));
        out.array(shown);
        for (id, pending) in group.pending.iter().take(shown) {
            out.array(4);
            write_id(out, *id);
            out.bulk(&pending.consumer);
            out.integer(pending.delivery_time as i64);
            out.integer(pending.delivery_count as i64);
        }
        out.bulk(b"consumers");
        out.array(group.consumers.len());
        for (consumer_name, consumer) in &group.consumers {
            out.map(4);
            out.bulk(b"name");
            out.bulk(consumer_name);
            out.bulk(b"seen-time");
            out.integer(consumer.seen_time as i64);
            out.bulk(b"pel-count");
            out.integer(consumer.pending.len() as i64);
            out.bulk(b"pending");
            let shown = consumer.pending.len().min(limit(count));
            out.array(shown);
            for id in consumer.pending.iter().take(shown) {
                let pending = &group.pending[id];
                out.array(3);
                write_id(out, *id);
                out.integer(pending.delivery_time as i64);
                out.integer(pending.delivery_count as i64);
            }
        }
    }
}

fn xinfo_help(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_help(
        ctx,
        "XINFO",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}
