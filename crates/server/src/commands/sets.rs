//! Set commands: SADD, SREM, membership, random pops and picks, SMOVE, the intersection, union
//! and difference family (computed by the engine's `Set`), SINTERCARD and SSCAN.

use redis_lite_engine::glob::glob_match;
use redis_lite_engine::set::{Member, Set};
use redis_lite_engine::{EncodingLimits, Locked, Value};
use redis_lite_protocol::ReplyWriter;

use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::KeySpec;
use crate::commands::access::{self, scan_reply, ScanOptions};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

const INTER_COMPLEXITY: &str =
    "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.";
const TOTAL_COMPLEXITY: &str = "O(N) where N is the total number of elements in all given sets.";

pub static COMMANDS: &[CommandSpec] = &[
    one_key(CommandSpec::new("sadd", -3, WRITE | DENYOOM | FAST, sadd).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)]), "1.0.0", "Add one or more members to a set")
        .complexity("O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.")
        .syntax("key member...")
        .history(&[
            ("2.4.0", "Accepts multiple `member` arguments."),
        ]),
    one_key(CommandSpec::new("srem", -3, WRITE | FAST, srem).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)]), "1.0.0", "Remove one or more members from a set")
        .complexity("O(N) where N is the number of members to be removed.")
        .syntax("key member...")
        .history(&[
            ("2.4.0", "Accepts multiple `member` arguments."),
        ]),
    one_key(CommandSpec::new("smembers", 2, READONLY, smembers).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output_order"]), "1.0.0", "Get all the members in a set")
        .complexity("O(N) where N is the set cardinality.")
        .syntax("key"),
    one_key(CommandSpec::new("sismember", 3, READONLY | FAST, sismember).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)]), "1.0.0", "Determine if a given value is a member of a set")
        .syntax("key member"),
    one_key(CommandSpec::new("smismember", -3, READONLY | FAST, smismember).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]), "6.2.0", "Returns the membership associated with the given elements for a set")
        .complexity("O(N) where N is the number of elements being checked for membership")
        .syntax("key member..."),
    one_key(CommandSpec::new("scard", 2, READONLY | FAST, scard).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)]), "1.0.0", "Get the number of members in a set")
        .syntax("key"),
    one_key(CommandSpec::new("spop", -2, WRITE | FAST, spop).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE)]).tips(&["nondeterministic_output"]), "1.0.0", "Remove and return one or multiple random members from a set")
        .complexity("Without the count argument O(1), otherwise O(N) where N is the value of the passed count.")
        .syntax("key [count:integer{s=3.2.0}]")
        .history(&[
            ("3.2.0", "Added the `count` argument."),
        ]),
    one_key(CommandSpec::new("srandmember", -2, READONLY, srandmember).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output"]), "1.0.0", "Get one or multiple random members from a set")
        .complexity("Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.")
        .syntax("key [count:integer{s=2.6.0}]")
        .history(&[
            ("2.6.0", "Added the optional `count` argument."),
        ]),
    CommandSpec::new("smove", 4, WRITE | FAST, smove).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE), KeySpec::index(2).range(0, 1, 0).flags(RW | INSERT)])
        .doc(Group::Set, "1.0.0", "Move a member from one set to another")
        .syntax("source:key destination:key{k=1} member"),
    algebra("sinter", false, "Intersect multiple sets", INTER_COMPLEXITY).key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output_order"]),
    algebra(
        "sinterstore",
        true,
        "Intersect multiple sets and store the resulting set in a key",
        INTER_COMPLEXITY,
    ).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE), KeySpec::index(2).range(-1, 1, 0).flags(RO | ACCESS)]),
    // Its keys follow a count, which the (first, last, step) triple cannot express; Redis
    // reports 0 0 0 too.
        CommandSpec::new("sintercard", -3, READONLY, sintercard).key_specs(&[KeySpec::index(1).keynum(0, 1, 1).flags(RO | ACCESS)])
        .doc(Group::Set, "7.0.0", "Intersect multiple sets and return the cardinality of the result")
        .complexity(INTER_COMPLEXITY)
        .syntax("numkeys:integer key... [LIMIT limit:integer]"),
    algebra("sunion", false, "Add multiple sets", TOTAL_COMPLEXITY).key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output_order"]),
    algebra(
        "sunionstore",
        true,
        "Add multiple sets and store the resulting set in a key",
        TOTAL_COMPLEXITY,
    ).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE), KeySpec::index(2).range(-1, 1, 0).flags(RO | ACCESS)]),
    algebra("sdiff", false, "Subtract multiple sets", TOTAL_COMPLEXITY).key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output_order"]),
    algebra(
        "sdiffstore",
        true,
        "Subtract multiple sets and store the resulting set in a key",
        TOTAL_COMPLEXITY,
    ).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE), KeySpec::index(2).range(-1, 1, 0).flags(RO | ACCESS)]),
    one_key(CommandSpec::new("sscan", -3, READONLY, sscan).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output"]), "2.8.0", "Incrementally iterate Set elements")
        .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")
        .syntax("key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]"),
];

/// A command on the set at argument 1.
const fn one_key(spec: CommandSpec, since: &'static str, summary: &'static str) -> CommandSpec {
    spec.doc(Group::Set, since, summary)
}

/// SINTER, SUNION, SDIFF (over `key...`) and their STORE forms (into `destination`).
const fn algebra(
    name: &'static str,
    store: bool,
    summary: &'static str,
    complexity: &'static str,
) -> CommandSpec {
    let spec = if store {
        CommandSpec::new(name, -3, WRITE | DENYOOM, algebra_command)
            .syntax("destination:key key{k=1}...")
    } else {
        CommandSpec::new(name, -2, READONLY, algebra_command).syntax("key...")
    };
    spec.doc(Group::Set, "1.0.0", summary)
        .complexity(complexity)
}

/// `set-max-intset-entries` of `limits`.
fn max_intset(limits: &EncodingLimits) -> usize {
    usize::try_from(limits.set_max_intset_entries).unwrap_or(0)
}

fn write_member(out: &mut ReplyWriter<'_>, member: Member<'_>) {
    match member {
        Member::Int(n) => out.bulk_integer(n),
        Member::Bytes(b) => out.bulk(b),
    }
}

/// Replies with a set's members as a RESP3 set (an array in RESP2).
fn reply_members(out: &mut ReplyWriter<'_>, set: &Set) {
    out.set(set.len());
    set.iter().for_each(|m| write_member(out, m));
}

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let limits = ctx.encoding_limits();
    let max = max_intset(&limits);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let set = access::write_or_create::<Set>(ctx, db, hash, key, &limits)?;
    let added = ctx.args[2..].iter().filter(|m| set.insert(m, max)).count();
    if added > 0 {
        ctx.changed(db, key, Class::Set, "sadd");
    }
    drop(locked);
    ctx.dirty(added as u64);
    ctx.out.integer(added as i64);
    Ok(())
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let mut deleted = 0;
    if let Some(set) = access::write::<Set>(ctx, db, hash, key)? {
        for member in &ctx.args[2..] {
            deleted += set.remove(member) as usize;
            if set.is_empty() {
                break;
            }
        }
        let now_empty = set.is_empty();
        if deleted > 0 {
            access::removed::<Set>(ctx, db, hash, key, "srem", now_empty);
        }
    }
    drop(locked);
    ctx.dirty(deleted as u64);
    ctx.out.integer(deleted as i64);
    Ok(())
}

/// Runs `f` on the set at argument 1 looked up for reading; `missing` replies for no key.
fn with_read_set(
    ctx: &mut Ctx<'_>,
    missing: impl FnOnce(&mut Ctx<'_>),
    f: impl FnOnce(&mut Ctx<'_>, &Set),
) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    match access::read::<Set>(ctx, db, hash, key)? {
        Some(set) => f(ctx, set),
        None => missing(ctx),
    }
    Ok(())
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx<'_>) -> CmdResult {
    with_read_set(
        ctx,
        |ctx| ctx.out.set(0),
        |ctx, set| reply_members(&mut ctx.out, set),
    )
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx<'_>) -> CmdResult {
    let member = ctx.arg(2);
    with_read_set(
        ctx,
        |ctx| ctx.out.integer(0),
        |ctx, set| ctx.out.integer(set.contains(member) as i64),
    )
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx<'_>) -> CmdResult {
    let members = &ctx.args[2..];
    let reply = |ctx: &mut Ctx<'_>, set: Option<&Set>| {
        ctx.out.array(members.len());
        for m in members {
            ctx.out.integer(set.is_some_and(|s| s.contains(m)) as i64);
        }
    };
    with_read_set(
        ctx,
        |ctx| reply(ctx, None),
        |ctx, set| reply(ctx, Some(set)),
    )
}

/// SCARD key
fn scard(ctx: &mut Ctx<'_>) -> CmdResult {
    with_read_set(
        ctx,
        |ctx| ctx.out.integer(0),
        |ctx, set| ctx.out.integer(set.len() as i64),
    )
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx<'_>) -> CmdResult {
    let count = match ctx.arg_count() {
        2 => None,
        3 => Some(
            ctx.arg_i64(2)
                .ok()
                .and_then(|n| usize::try_from(n).ok())
                .ok_or(CommandError::err("value is out of range, must be positive"))?,
        ),
        _ => return Err(CommandError::Syntax),
    };
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let set = access::write::<Set>(ctx, db, hash, key)?;
    let (Some(set), false) = (set, count == Some(0)) else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.set(0),
        }
        return Ok(());
    };
    let popped = set.pop(count.unwrap_or(1), &mut rand::thread_rng());
    let now_empty = set.is_empty();
    // Logged as what was popped, as Redis 7.0 does: one SREM per member (several framed in
    // MULTI/EXEC), or DEL when a count took them all.
    if now_empty && count.is_some() {
        ctx.propagate_as(&[b"DEL", key]);
    } else {
        ctx.propagate_as(&[b"SREM", key, &popped[0]]);
        for member in &popped[1..] {
            ctx.also_propagate(&[b"SREM", key, member]);
        }
    }
    access::removed::<Set>(ctx, db, hash, key, "spop", now_empty);
    drop(locked);
    ctx.dirty(popped.len() as u64);
    match count {
        None => ctx.out.bulk(&popped[0]),
        Some(_) => {
            ctx.out.set(popped.len());
            popped.iter().for_each(|m| ctx.out.bulk(m));
        }
    }
    Ok(())
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx<'_>) -> CmdResult {
    let count = match ctx.arg_count() {
        2 => None,
        3 => Some(ctx.arg_i64(2).and_then(|n| {
            if n == i64::MIN {
                Err(CommandError::err("value is out of range, value must between -9223372036854775807 and 9223372036854775807"))
            } else {
                Ok(n)
            }
        })?),
        _ => return Err(CommandError::Syntax),
    };
    let mut rng = rand::thread_rng();
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(set) = access::read::<Set>(ctx, db, hash, key)? else {
        match count {
            None => ctx.out.null(),
            Some(_) => ctx.out.array(0),
        }
        return Ok(());
    };
    match count {
        None => write_member(
            &mut ctx.out,
            set.random(&mut rng).expect("sets are never empty"),
        ),
        // A negative count may repeat members.
        Some(n) if n < 0 => {
            if !super::reply_fits(ctx, n.unsigned_abs(), super::MIN_BULK_BYTES)? {
                return Ok(());
            }
            let n = n.unsigned_abs() as usize;
            ctx.out.array(n);
            for _ in 0..n {
                write_member(&mut ctx.out, set.random(&mut rng).expect("not empty"));
            }
        }
        Some(n) => {
            let picked = set.random_distinct(n as usize, &mut rng);
            ctx.out.array(picked.len());
            picked
                .into_iter()
                .for_each(|m| write_member(&mut ctx.out, m));
        }
    }
    Ok(())
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx<'_>) -> CmdResult {
    let (src, dst, member) = (ctx.arg(1), ctx.arg(2), ctx.arg(3));
    let limits = ctx.encoding_limits();
    let mut locked = ctx.lock([src, dst]);
    let (db, hash) = locked.db(ctx.client.db, src);
    // A missing source replies 0 before the destination's type is checked, as in Redis.
    if access::write::<Set>(ctx, db, hash, src)?.is_none() {
        ctx.out.integer(0);
        return Ok(());
    }
    let (dst_db, dst_hash) = locked.db(ctx.client.db, dst);
    access::write::<Set>(ctx, dst_db, dst_hash, dst)?;
    let (db, hash) = locked.db(ctx.client.db, src);
    let set = access::write::<Set>(ctx, db, hash, src)?.expect("checked above");
    if src == dst {
        ctx.out.integer(set.contains(member) as i64);
        return Ok(());
    }
    if !set.remove(member) {
        ctx.out.integer(0);
        return Ok(());
    }
    let now_empty = set.is_empty();
    access::removed::<Set>(ctx, db, hash, src, "srem", now_empty);
    let (db, hash) = locked.db(ctx.client.db, dst);
    let destination = access::write_or_create::<Set>(ctx, db, hash, dst, &limits)?;
    if destination.insert(member, max_intset(&limits)) {
        ctx.changed(db, dst, Class::Set, "sadd");
    }
    drop(locked);
    ctx.dirty(1);
    ctx.out.integer(1);
    Ok(())
}

/// Sets moved out of their entries for a multi-key operation, so several can be borrowed at
/// once through one lock; [`Taken::restore`] puts them back. Moving the box costs O(1).
struct Taken<'k> {
    /// Per key argument: its index in `sets`, or None when the key is missing.
    slots: Vec<Option<usize>>,
    sets: Vec<(&'k [u8], Box<Set>)>,
}

impl<'k> Taken<'k> {
    /// Takes the sets at `keys`; WRONGTYPE if any holds another type (all are checked, as in
    /// Redis 7.0, before a missing key makes the result empty). Every lookup counts as a read,
    /// also for the STORE commands, as in Redis.
    fn take(
        ctx: &Ctx<'_>,
        locked: &mut Locked<'_>,
        keys: &[&'k [u8]],
    ) -> Result<Self, CommandError> {
        let mut taken = Taken {
            slots: Vec::with_capacity(keys.len()),
            sets: Vec::new(),
        };
        for &key in keys {
            if let Some(i) = taken.sets.iter().position(|(k, _)| *k == key) {
                taken.slots.push(Some(i));
                ctx.count_lookup(ctx.client.db, key, true);
                continue;
            }
            let (db, hash) = locked.db(ctx.client.db, key);
            let entry = db.get(hash, key, ctx.now_ms);
            ctx.count_lookup(ctx.client.db, key, entry.is_some());
            match entry.map(|e| e.replace_value(Value::Int(0))) {
                None => taken.slots.push(None),
                Some(Value::Set(set)) => {
                    taken.slots.push(Some(taken.sets.len()));
                    taken.sets.push((key, set));
                }
                Some(other) => {
                    let (db, hash) = locked.db(ctx.client.db, key);
                    db.get(hash, key, ctx.now_ms)
                        .expect("just found")
                        .replace_value(other);
                    taken.restore(ctx, locked);
                    return Err(CommandError::WrongType);
                }
            }
        }
        Ok(taken)
    }

    /// The set of key argument `i`, if it exists.
    fn get(&self, i: usize) -> Option<&Set> {
        self.slots[i].map(|s| &*self.sets[s].1)
    }

    /// The sets of all key arguments, or None when one is missing.
    fn all(&self) -> Option<Vec<&Set>> {
        (0..self.slots.len()).map(|i| self.get(i)).collect()
    }

    fn restore(self, ctx: &Ctx<'_>, locked: &mut Locked<'_>) {
        for (key, set) in self.sets {
            let (db, hash) = locked.db(ctx.client.db, key);
            db.get(hash, key, ctx.now_ms)
                .expect("held under the lock")
                .replace_value(Value::Set(set));
        }
    }
}

#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

impl SetOp {
    /// The result of the operation over the taken sets, built as Redis builds it.
    fn apply(self, taken: &Taken<'_>, max_intset: usize) -> Set {
        match self {
            SetOp::Inter => taken
                .all()
                .map(|sets| Set::intersection(&sets, max_intset))
                .unwrap_or_default(),
            SetOp::Union => {
                let present: Vec<&Set> = (0..taken.slots.len())
                    .filter_map(|i| taken.get(i))
                    .collect();
                Set::union(&present, max_intset)
            }
            SetOp::Diff => match taken.get(0) {
                None => Set::new(),
                Some(first) => {
                    let others: Vec<&Set> = (1..taken.slots.len())
                        .filter_map(|i| taken.get(i))
                        .collect();
                    Set::difference(first, &others, max_intset)
                }
            },
        }
    }

    fn store_event(self) -> &'static str {
        match self {
            SetOp::Inter => "sinterstore",
            SetOp::Union => "sunionstore",
            SetOp::Diff => "sdiffstore",
        }
    }
}

/// SINTER, SUNION, SDIFF: replies with the result.
fn set_op(ctx: &mut Ctx<'_>, op: SetOp) -> CmdResult {
    let keys = &ctx.args[1..];
    let max = max_intset(&ctx.encoding_limits());
    let mut locked = ctx.lock(keys.iter().copied());
    let taken = Taken::take(ctx, &mut locked, keys)?;
    let result = op.apply(&taken, max);
    taken.restore(ctx, &mut locked);
    drop(locked);
    reply_members(&mut ctx.out, &result);
    Ok(())
}

/// SINTERSTORE, SUNIONSTORE, SDIFFSTORE: replaces the destination with the result, deleting it
/// when the result is empty.
fn set_op_store(ctx: &mut Ctx<'_>, op: SetOp) -> CmdResult {
    let dst = ctx.arg(1);
    let keys = &ctx.args[2..];
    let max = max_intset(&ctx.encoding_limits());
    let mut locked = ctx.lock(ctx.args[1..].iter().copied());
    let taken = Taken::take(ctx, &mut locked, keys)?;
    let result = op.apply(&taken, max);
    taken.restore(ctx, &mut locked);
    let (db, hash) = locked.db(ctx.client.db, dst);
    let len = result.len();
    let result = (len > 0).then(|| Value::Set(Box::new(result)));
    let changed = access::store(ctx, db, hash, dst, result, Class::Set, op.store_event());
    drop(locked);
    ctx.dirty(changed as u64);
    ctx.out.integer(len as i64);
    Ok(())
}

/// SINTER|SUNION|SDIFF key [key ...]
/// SINTERSTORE|SUNIONSTORE|SDIFFSTORE destination key [key ...]
fn algebra_command(ctx: &mut Ctx<'_>) -> CmdResult {
    let name = ctx.command.spec.name;
    let op = if name.starts_with("sinter") {
        SetOp::Inter
    } else if name.starts_with("sunion") {
        SetOp::Union
    } else {
        SetOp::Diff
    };
    if name.ends_with("store") {
        set_op_store(ctx, op)
    } else {
        set_op(ctx, op)
    }
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx<'_>) -> CmdResult {
    let numkeys = ctx
        .arg_i64(1)
        .ok()
        .filter(|&n| n > 0)
        .ok_or(CommandError::err("numkeys should be greater than 0"))?;
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > ctx.arg_count() - 2 {
        return Err(CommandError::err(
            "Number of keys can't be greater than number of args",
        ));
    }
    let mut limit = 0;
    let mut i = 2 + numkeys;
    while i < ctx.arg_count() {
        if !(ctx.arg_is(i, "LIMIT") && i + 1 < ctx.arg_count()) {
            return Err(CommandError::Syntax);
        }
        limit = ctx
            .arg_i64(i + 1)
            .ok()
            .and_then(|n| usize::try_from(n).ok())
            .ok_or(CommandError::err("LIMIT can't be negative"))?;
        i += 2;
    }
    let keys = &ctx.args[2..2 + numkeys];
    let mut locked = ctx.lock(keys.iter().copied());
    let taken = Taken::take(ctx, &mut locked, keys)?;
    let card = taken
        .all()
        .map_or(0, |sets| Set::intersection_card(&sets, limit));
    taken.restore(ctx, &mut locked);
    drop(locked);
    ctx.out.integer(card as i64);
    Ok(())
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]
fn sscan(ctx: &mut Ctx<'_>) -> CmdResult {
    access::scan_collection(ctx, |out, set: &Set, cursor, options| {
        let ScanOptions { pattern, count, .. } = options;
        let mut found: Vec<Member<'_>> = Vec::new();
        let mut next = cursor;
        // Like Redis: visit buckets until `count` members are collected, the walk ends, or ten
        // times `count` buckets were visited (so sparse tables still return promptly).
        let mut budget = count.saturating_mul(10);
        loop {
            next = set.scan(next, |m| found.push(m));
            budget -= 1;
            if next == 0 || budget == 0 || found.len() >= count {
                break;
            }
        }
        if let Some(p) = pattern {
            found.retain(|m| glob_match(p, &m.to_bytes(), false));
        }
        scan_reply(out, next, found.len());
        found.into_iter().for_each(|m| write_member(out, m));
    })
}
