//! Hash commands: HSET and friends, counters, HRANDFIELD, HSCAN.

use redis_lite_engine::glob::glob_match;
use redis_lite_engine::hash::Hash;
use redis_lite_protocol::number::parse_i64;
use redis_lite_protocol::ReplyWriter;

use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::KeySpec;
use crate::commands::access::{self, scan_reply, ScanOptions};
use crate::commands::strings::add_long_double;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

const ALL_COMPLEXITY: &str = "O(N) where N is the size of the hash.";

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, WRITE | DENYOOM | FAST, hset)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .doc(Group::Hash, "2.0.0", "Set the string value of a hash field")
        .complexity(
            "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the \
             command is called with multiple field/value pairs.",
        )
        .syntax("key field_value=(field value)...")
        .history(&[("4.0.0", "Accepts multiple `field` and `value` arguments.")]),
    CommandSpec::new("hsetnx", 4, WRITE | DENYOOM | FAST, hsetnx)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)])
        .doc(
            Group::Hash,
            "2.0.0",
            "Set the value of a hash field, only if the field does not exist",
        )
        .syntax("key field value"),
    CommandSpec::new("hmset", -4, WRITE | DENYOOM | FAST, hmset)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .doc(
            Group::Hash,
            "2.0.0",
            "Set multiple hash fields to multiple values",
        )
        .complexity("O(N) where N is the number of fields being set.")
        .syntax("key field_value=(field value)...")
        .deprecated(&("4.0.0", "`HSET` with multiple field-value pairs")),
    CommandSpec::new("hget", 3, READONLY | FAST, hget)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(Group::Hash, "2.0.0", "Get the value of a hash field")
        .syntax("key field"),
    CommandSpec::new("hmget", -3, READONLY | FAST, hmget)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(
            Group::Hash,
            "2.0.0",
            "Get the values of all the given hash fields",
        )
        .complexity("O(N) where N is the number of fields being requested.")
        .syntax("key field..."),
    CommandSpec::new("hgetall", 2, READONLY, hgetall)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc(
            Group::Hash,
            "2.0.0",
            "Get all the fields and values in a hash",
        )
        .complexity(ALL_COMPLEXITY)
        .syntax("key"),
    CommandSpec::new("hkeys", 2, READONLY, hkeys)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc(Group::Hash, "2.0.0", "Get all the fields in a hash")
        .complexity(ALL_COMPLEXITY)
        .syntax("key"),
    CommandSpec::new("hvals", 2, READONLY, hvals)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .tips(&["nondeterministic_output_order"])
        .doc(Group::Hash, "2.0.0", "Get all the values in a hash")
        .complexity(ALL_COMPLEXITY)
        .syntax("key"),
    CommandSpec::new("hdel", -3, WRITE | FAST, hdel)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)])
        .doc(Group::Hash, "2.0.0", "Delete one or more hash fields")
        .complexity("O(N) where N is the number of fields to be removed.")
        .syntax("key field...")
        .history(&[("2.4.0", "Accepts multiple `field` arguments.")]),
    CommandSpec::new("hexists", 3, READONLY | FAST, hexists)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)])
        .doc(Group::Hash, "2.0.0", "Determine if a hash field exists")
        .syntax("key field"),
    CommandSpec::new("hlen", 2, READONLY | FAST, hlen)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)])
        .doc(Group::Hash, "2.0.0", "Get the number of fields in a hash")
        .syntax("key"),
    CommandSpec::new("hstrlen", 3, READONLY | FAST, hstrlen)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)])
        .doc(
            Group::Hash,
            "3.2.0",
            "Get the length of the value of a hash field",
        )
        .syntax("key field"),
    CommandSpec::new("hincrby", 4, WRITE | DENYOOM | FAST, hincrby)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::Hash,
            "2.0.0",
            "Increment the integer value of a hash field by the given number",
        )
        .syntax("key field increment:integer"),
    CommandSpec::new("hincrbyfloat", 4, WRITE | DENYOOM | FAST, hincrbyfloat)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::Hash,
            "2.6.0",
            "Increment the float value of a hash field by the given amount",
        )
        .syntax("key field increment:double"),
    CommandSpec::new("hrandfield", -2, READONLY, hrandfield)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc(
            Group::Hash,
            "6.2.0",
            "Get one or multiple random fields from a hash",
        )
        .complexity("O(N) where N is the number of fields returned")
        .syntax("key options=[count:integer [WITHVALUES]]"),
    CommandSpec::new("hscan", -3, READONLY, hscan)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .tips(&["nondeterministic_output"])
        .doc(
            Group::Hash,
            "2.8.0",
            "Incrementally iterate hash fields and associated values",
        )
        .complexity(
            "O(1) for every call. O(N) for a complete iteration, including enough command calls \
             for the cursor to return back to 0. N is the number of elements inside the \
             collection..",
        )
        .syntax("key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]"),
];

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx<'_>) -> CmdResult {
    let added = set_pairs(ctx)?;
    ctx.out.integer(added as i64);
    Ok(())
}

/// HMSET key field value [field value ...]
fn hmset(ctx: &mut Ctx<'_>) -> CmdResult {
    set_pairs(ctx)?;
    ctx.out.ok();
    Ok(())
}

/// Stores the field/value pairs after the key; returns how many fields were new.
fn set_pairs(ctx: &mut Ctx<'_>) -> Result<usize, CommandError> {
    if !ctx.arg_count().is_multiple_of(2) {
        return Err(ctx.wrong_arity());
    }
    let key = ctx.arg(1);
    let limits = ctx.encoding_limits();
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let h = access::write_or_create::<Hash>(ctx, db, hash, key, &limits)?;
    let pairs = &ctx.args[2..];
    let added = pairs
        .chunks(2)
        .filter(|pair| h.set(pair[0], pair[1], &limits))
        .count();
    ctx.changed(db, key, Class::Hash, "hset");
    drop(locked);
    ctx.dirty(pairs.len() as u64 / 2);
    Ok(added)
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, field, value) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let limits = ctx.encoding_limits();
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let h = access::write_or_create::<Hash>(ctx, db, hash, key, &limits)?;
    if h.contains(field) {
        ctx.out.integer(0);
        return Ok(());
    }
    h.set(field, value, &limits);
    ctx.changed(db, key, Class::Hash, "hset");
    drop(locked);
    ctx.dirty(1);
    ctx.out.integer(1);
    Ok(())
}

/// HGET key field
fn hget(ctx: &mut Ctx<'_>) -> CmdResult {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let h = access::read::<Hash>(ctx, db, hash, key)?;
    write_optional(&mut ctx.out, h.and_then(|h| h.get(field)));
    Ok(())
}

fn write_optional(out: &mut ReplyWriter<'_>, value: Option<&[u8]>) {
    match value {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let h = access::read::<Hash>(ctx, db, hash, key)?;
    let fields = &ctx.args[2..];
    ctx.out.array(fields.len());
    for field in fields {
        write_optional(&mut ctx.out, h.as_ref().and_then(|h| h.get(field)));
    }
    Ok(())
}

/// HGETALL key
fn hgetall(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_all(ctx, true, true)
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_all(ctx, true, false)
}

/// HVALS key
fn hvals(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_all(ctx, false, true)
}

/// Replies with every field and/or value: a map for both (an array in RESP2), else an array.
fn reply_all(ctx: &mut Ctx<'_>, fields: bool, values: bool) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let h = access::read::<Hash>(ctx, db, hash, key)?;
    let len = h.as_ref().map_or(0, |h| h.len());
    if fields && values {
        ctx.out.map(len);
    } else {
        ctx.out.array(len);
    }
    for (f, v) in h.iter().flat_map(|h| h.iter()) {
        if fields {
            ctx.out.bulk(f);
        }
        if values {
            ctx.out.bulk(v);
        }
    }
    Ok(())
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(h) = access::write::<Hash>(ctx, db, hash, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let removed = ctx.args[2..].iter().filter(|f| h.remove(f)).count();
    if removed > 0 {
        let now_empty = h.is_empty();
        access::removed::<Hash>(ctx, db, hash, key, "hdel", now_empty);
    }
    drop(locked);
    ctx.dirty(removed as u64);
    ctx.out.integer(removed as i64);
    Ok(())
}

/// Replies with an integer computed from the hash at argument 1 (0 for a missing key).
fn reply_count(ctx: &mut Ctx<'_>, f: impl FnOnce(&Hash) -> usize) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let n = access::read::<Hash>(ctx, db, hash, key)?.map_or(0, f);
    ctx.out.integer(n as i64);
    Ok(())
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx<'_>) -> CmdResult {
    let field = ctx.arg(2);
    reply_count(ctx, |h| h.contains(field) as usize)
}

/// HLEN key
fn hlen(ctx: &mut Ctx<'_>) -> CmdResult {
    reply_count(ctx, Hash::len)
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx<'_>) -> CmdResult {
    let field = ctx.arg(2);
    reply_count(ctx, |h| h.get(field).map_or(0, <[u8]>::len))
}

/// Replaces the value of argument 2's field in the hash at argument 1 with what `compute`
/// makes of the current value (None when the field is missing), emitting `event`; with
/// `log_result` the AOF gets `HSET key field <new>` (a float sum, as Redis logs it). Returns
/// the new value.
fn update_field(
    ctx: &mut Ctx<'_>,
    event: &str,
    log_result: bool,
    compute: impl FnOnce(Option<&[u8]>) -> Result<Vec<u8>, CommandError>,
) -> Result<Vec<u8>, CommandError> {
    let (key, field) = (ctx.arg(1), ctx.arg(2));
    let limits = ctx.encoding_limits();
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let h = access::write_or_create::<Hash>(ctx, db, hash, key, &limits)?;
    let new = compute(h.get(field))?;
    if log_result {
        ctx.propagate_as(&[b"HSET", key, field, &new]);
    }
    h.set(field, &new, &limits);
    ctx.changed(db, key, Class::Hash, event);
    drop(locked);
    ctx.dirty(1);
    Ok(new)
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx<'_>) -> CmdResult {
    let incr = ctx.arg_i64(3)?;
    let mut sum = 0;
    update_field(ctx, "hincrby", false, |current| {
        let current = match current {
            None => 0,
            Some(v) => parse_i64(v).ok_or(CommandError::err("hash value is not an integer"))?,
        };
        sum = current.checked_add(incr).ok_or(CommandError::Overflow)?;
        Ok(itoa::Buffer::new().format(sum).as_bytes().to_vec())
    })?;
    ctx.out.integer(sum);
    Ok(())
}

/// HINCRBYFLOAT key field increment
fn hincrbyfloat(ctx: &mut Ctx<'_>) -> CmdResult {
    let incr = ctx.arg(3);
    // The increment is checked on its own first, as Redis does: an unparsable one is "not a
    // valid float", an infinite one is refused before the hash is looked at.
    add_long_double(b"0", incr).map_err(|e| match e {
        CommandError::NotFloat => e,
        _ => CommandError::err("value is NaN or Infinity"),
    })?;
    let sum = update_field(ctx, "hincrbyfloat", true, |current| {
        // The increment parsed above, so a parse failure now is the stored value's.
        add_long_double(current.unwrap_or(b"0"), incr).map_err(|e| match e {
            CommandError::NotFloat => CommandError::err("hash value is not a float"),
            _ => e,
        })
    })?;
    ctx.out.bulk(&sum);
    Ok(())
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count() == 2 {
        return hrandfield_one(ctx);
    }
    let count = ctx.arg_i64(2)?;
    if count == i64::MIN {
        return Err(CommandError::err(
            "value is out of range, value must between -9223372036854775807 and \
             9223372036854775807",
        ));
    }
    if ctx.arg_count() > 4 || (ctx.arg_count() == 4 && !ctx.arg_is(3, "WITHVALUES")) {
        return Err(CommandError::Syntax);
    }
    let with_values = ctx.arg_count() == 4;
    // The reply holds two strings per pick: Redis refuses counts whose doubling overflows.
    if with_values && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(CommandError::err("value is out of range"));
    }
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let h = match access::read::<Hash>(ctx, db, hash, key)? {
        Some(h) if count != 0 => h,
        _ => {
            ctx.out.array(0);
            return Ok(());
        }
    };
    let mut rng = rand::thread_rng();
    let picks = count.unsigned_abs() as usize;
    if count < 0 {
        let per_pick = if with_values { 2 } else { 1 };
        if !super::reply_fits(ctx, picks as u64 * per_pick, super::MIN_BULK_BYTES)? {
            return Ok(());
        }
    }
    let mut out = PairWriter::new(&mut ctx.out, with_values);
    if count < 0 {
        out.header(picks);
        h.random_repeated(picks, &mut rng, |f, v| out.pair(f, v));
    } else if picks >= h.len() {
        out.header(h.len());
        h.iter().for_each(|(f, v)| out.pair(f, v));
    } else {
        let chosen = h.random_distinct(picks, &mut rng);
        out.header(chosen.len());
        chosen.into_iter().for_each(|(f, v)| out.pair(f, v));
    }
    Ok(())
}

/// HRANDFIELD key: one random field, or null.
fn hrandfield_one(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let h = access::read::<Hash>(ctx, db, hash, key)?;
    let field = h.and_then(|h| h.random(&mut rand::thread_rng()).map(|(f, _)| f));
    write_optional(&mut ctx.out, field);
    Ok(())
}

/// Writes HRANDFIELD's picks: fields, or with values field/value pairs, flat in RESP2 and as
/// two-element arrays in RESP3 (as Redis 7.0 replies).
struct PairWriter<'o, 'a> {
    out: &'o mut ReplyWriter<'a>,
    with_values: bool,
}

impl<'o, 'a> PairWriter<'o, 'a> {
    fn new(out: &'o mut ReplyWriter<'a>, with_values: bool) -> Self {
        PairWriter { out, with_values }
    }

    fn header(&mut self, picks: usize) {
        let flat = self.with_values && !self.out.is_resp3();
        self.out.array(if flat { picks * 2 } else { picks });
    }

    fn pair(&mut self, field: &[u8], value: &[u8]) {
        if !self.with_values {
            self.out.bulk(field);
            return;
        }
        if self.out.is_resp3() {
            self.out.array(2);
        }
        self.out.bulk(field);
        self.out.bulk(value);
    }
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]
fn hscan(ctx: &mut Ctx<'_>) -> CmdResult {
    access::scan_collection(ctx, |out, h: &Hash, cursor, options| {
        let ScanOptions { pattern, count, .. } = options;
        let mut found: Vec<(&[u8], &[u8])> = Vec::new();
        let next = h.scan(cursor, count, |f, v| {
            if pattern.is_none_or(|p| glob_match(p, f, false)) {
                found.push((f, v));
            }
        });
        scan_reply(out, next, found.len() * 2);
        for (f, v) in found {
            out.bulk(f);
            out.bulk(v);
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::client::{ClientHandle, ClientState};
    use crate::config::Config;
    use crate::dispatch::execute;
    use crate::notify::parse_flags;
    use crate::pubsub::Push;
    use crate::server::Server;

    /// The events real Redis 7.0.15 publishes for this script (observed with
    /// `PSUBSCRIBE __keyevent*`); SUBSCRIBE is not in this branch, so the test subscribes a client
    /// handle to the registry directly.
    #[test]
    fn keyspace_events_match_redis() {
        let server = std::sync::Arc::new(Server::new(Config::default(), None));
        server.notifier.set_flags(parse_flags("KEA").unwrap());
        let handle = Arc::new(ClientHandle::new(1, String::new(), String::new(), -1));
        server.notifier.pubsub.psubscribe(&handle, b"__keyevent@*");
        let mut client = ClientState::new(handle.clone(), server.stats.workers[0].clone(), true);
        for line in [
            "HSET h a 1",
            "HSETNX h a 2",
            "HSETNX h b 2",
            "HMSET h c 3",
            "HINCRBY h n 1",
            "HINCRBYFLOAT h x 1.5",
            "HDEL h nope",
            "HDEL h a b",
            "HDEL h c n x",
            "HDEL h a",
            "HSET h a 1 a 2",
        ] {
            let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
            execute(&server, &mut client, &args, &mut Vec::new());
        }
        let mut events = Vec::new();
        let mut pushes = std::collections::VecDeque::new();
        handle.take_pushes(&mut pushes);
        for push in pushes {
            if let Push::PMessage {
                channel, message, ..
            } = push
            {
                assert_eq!(&*message, b"h");
                events.push(String::from_utf8_lossy(&channel).into_owned());
            }
        }
        let expected: Vec<String> = [
            "hset",
            "hset",
            "hset",
            "hincrby",
            "hincrbyfloat",
            "hdel",
            "hdel",
            "del",
            "hset",
        ]
        .iter()
        .map(|e| format!("__keyevent@0__:{e}"))
        .collect();
        assert_eq!(events, expected);
    }
}
