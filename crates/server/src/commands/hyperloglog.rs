//! HyperLogLog commands: PFADD, PFCOUNT, PFMERGE. Sketches are ordinary strings in Redis's
//! byte layout (see `redis_lite_engine::hll`), so GET/SET move them between servers.

use redis_lite_engine::hll;
use redis_lite_engine::Value;

use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::KeySpec;
use crate::commands::access::raw_string_mut;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, WRITE | DENYOOM | FAST, pfadd).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)])
        .doc(
            Group::HyperLogLog,
            "2.8.9",
            "Adds the specified elements to the specified HyperLogLog.",
        )
        .complexity("O(1) to add every element.")
        .syntax("key [element...]"),
    CommandSpec::new("pfcount", -2, READONLY | MAY_REPLICATE, pfcount).key_specs(&[KeySpec::index(1).range(-1, 1, 0).flags(RW | ACCESS).notes("RW because it may change the internal representation of the key, and propagate to replicas")])
        .doc(
            Group::HyperLogLog,
            "2.8.9",
            "Return the approximated cardinality of the set(s) observed by the HyperLogLog at \
             key(s).",
        )
        .complexity(
            "O(1) with a very small average constant time when called with a single key. O(N) \
             with N being the number of keys, and much bigger constant times, when called with \
             multiple keys.",
        )
        .syntax("key..."),
    CommandSpec::new("pfmerge", -2, WRITE | DENYOOM, pfmerge).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | INSERT), KeySpec::index(2).range(-1, 1, 0).flags(RO | ACCESS)])
        .doc(
            Group::HyperLogLog,
            "2.8.9",
            "Merge N different HyperLogLogs into a single one.",
        )
        .complexity("O(N) to merge N HyperLogLogs, but with high constant times.")
        .syntax("destkey sourcekey{k=1}..."),
    CommandSpec::new("pfdebug", 3, WRITE | DENYOOM | ADMIN, pfdebug).key_specs(&[KeySpec::index(2).range(0, 1, 0).flags(RW | ACCESS)])
        .doc(
            Group::HyperLogLog,
            "2.8.9",
            "Internal commands for debugging HyperLogLog values",
        )
        .complexity("N/A")
        .syntax("subcommand key")
        .syscmd(),
    CommandSpec::new("pfselftest", 1, ADMIN, pfselftest)
        .doc(
            Group::HyperLogLog,
            "2.8.9",
            "An internal command for testing HyperLogLog values",
        )
        .complexity("N/A")
        .syscmd(),
];

fn not_a_sketch() -> CommandError {
    CommandError::coded("WRONGTYPE Key is not a valid HyperLogLog string value.")
}

impl From<hll::Corrupt> for CommandError {
    fn from(_: hll::Corrupt) -> Self {
        CommandError::coded("INVALIDOBJ Corrupted HLL object detected")
    }
}

/// `hll-sparse-max-bytes`: past this size a sparse sketch turns dense.
fn sparse_max_bytes(ctx: &Ctx<'_>) -> usize {
    ctx.server.config.read().tuning.hll_sparse_max_bytes as usize
}

/// The sketch a value holds, or the error Redis gives for anything else.
fn sketch(value: &Value) -> Result<&[u8], CommandError> {
    let bytes: &[u8] = match value {
        Value::Str(s) => s,
        Value::RawStr(v) => v,
        // The digits of an integer can't start with the magic.
        Value::Int(_) => return Err(not_a_sketch()),
        _ => return Err(CommandError::WrongType),
    };
    if !hll::is_valid(bytes) {
        return Err(not_a_sketch());
    }
    Ok(bytes)
}

/// The sketch a value holds, made writable in place (Redis unshares it, making it `raw`).
fn sketch_mut(value: &mut Value) -> Result<&mut Vec<u8>, CommandError> {
    sketch(value)?;
    raw_string_mut(value)
}

/// PFADD key [element [element ...]]
fn pfadd(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let max_bytes = sparse_max_bytes(ctx);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    // A new key counts as an update even with no elements: it replies 1 and notifies.
    let (entry, mut updated) = match db.get(hash, key, ctx.now_ms) {
        Some(entry) => (entry, 0),
        None => {
            let empty = Value::raw(hll::new_sparse());
            (db.set(hash, key, empty, false, ctx.now_ms), 1)
        }
    };
    let sketch = sketch_mut(entry.value_mut())?;
    for element in &ctx.args[2..] {
        // A corrupt sketch fails midway, keeping what was added, as in Redis.
        updated += hll::add(sketch, element, max_bytes)? as u64;
    }
    if updated > 0 {
        hll::invalidate_cache(sketch);
        ctx.changed(db, key, Class::String, "pfadd");
        ctx.dirty(updated);
    }
    ctx.out.integer((updated > 0) as i64);
    Ok(())
}

/// PFCOUNT key [key ...]
fn pfcount(ctx: &mut Ctx<'_>) -> CmdResult {
    if ctx.arg_count() == 2 {
        return pfcount_one(ctx);
    }
    // Several keys: count their union, in a scratch register array; no key changes.
    let keys = &ctx.args[1..];
    let mut locked = ctx.lock(keys.iter().copied());
    let mut union = vec![0u8; hll::REGISTERS];
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        if let Some(entry) = ctx.read(db, hash, key) {
            hll::merge_into(&mut union, sketch(&entry.value())?)?;
        }
    }
    ctx.out.integer(hll::count_registers(&union) as i64);
    Ok(())
}

/// PFCOUNT of one key: the cached count, or a fresh count that is then cached in the value
/// (a write, like Redis's: WATCH sees it, though no event is emitted). Caching changes the
/// value's bytes, so the command is journaled as Redis propagates it: without it a replay of
/// the AOF (or a replica) keeps the stale cache and DEBUG DIGEST differs.
fn pfcount_one(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(entry) = ctx.read(db, hash, key) else {
        ctx.out.integer(0);
        return Ok(());
    };
    let value = entry.value();
    let sketch = sketch(&value)?;
    if let Some(count) = hll::cached_count(sketch) {
        ctx.out.integer(count as i64);
        return Ok(());
    }
    let count = hll::count(sketch)?;
    hll::set_cached_count(sketch_mut(entry.value_mut())?, count);
    db.signal_modified(key);
    ctx.server.tracking.key_changed(key);
    ctx.dirty(1);
    ctx.propagate();
    ctx.out.integer(count as i64);
    Ok(())
}

/// PFMERGE destkey [sourcekey [sourcekey ...]]
fn pfmerge(ctx: &mut Ctx<'_>) -> CmdResult {
    let keys = &ctx.args[1..];
    let dest = keys[0];
    let max_bytes = sparse_max_bytes(ctx);
    let mut locked = ctx.lock(keys.iter().copied());
    // The destination's own registers take part in the union.
    let mut union = vec![0u8; hll::REGISTERS];
    let mut any_dense = false;
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        if let Some(entry) = ctx.read(db, hash, key) {
            let value = entry.value();
            let sketch = sketch(&value)?;
            any_dense |= hll::is_dense(sketch);
            hll::merge_into(&mut union, sketch)?;
        }
    }
    let (db, hash) = locked.db(ctx.client.db, dest);
    let entry = match db.get(hash, dest, ctx.now_ms) {
        Some(entry) => entry,
        None => db.set(hash, dest, Value::raw(hll::new_sparse()), false, ctx.now_ms),
    };
    let sketch = sketch_mut(entry.value_mut())?;
    if any_dense {
        hll::to_dense(sketch)?;
    }
    // Raised register by register in index order, as Redis does, so a sparse result has
    // Redis's exact bytes.
    for (index, &value) in union.iter().enumerate() {
        if value != 0 {
            hll::set_register(sketch, index, value, max_bytes)?;
        }
    }
    hll::invalidate_cache(sketch);
    // PFMERGE is reported as a mass PFADD, as in Redis.
    ctx.changed(db, dest, Class::String, "pfadd");
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// PFDEBUG GETREG|DECODE|ENCODING|TODENSE key
fn pfdebug(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(2);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(entry) = db.get(hash, key, ctx.now_ms) else {
        return Err(CommandError::err("The specified key does not exist"));
    };
    let sketch = sketch_mut(entry.value_mut())?;
    let dense = hll::is_dense(sketch);
    if ctx.arg_is(1, "GETREG") || ctx.arg_is(1, "TODENSE") {
        // Both leave the sketch dense; the conversion counts as a change.
        hll::to_dense(sketch)?;
        ctx.dirty(!dense as u64);
        if ctx.arg_is(1, "TODENSE") {
            ctx.out.integer(!dense as i64);
            return Ok(());
        }
        let registers = hll::registers(sketch)?;
        ctx.out.array(registers.len());
        for r in registers {
            ctx.out.integer(r as i64);
        }
    } else if ctx.arg_is(1, "DECODE") {
        if dense {
            return Err(CommandError::err("HLL encoding is not sparse"));
        }
        ctx.out.bulk(hll::describe_sparse(sketch).as_bytes());
    } else if ctx.arg_is(1, "ENCODING") {
        ctx.out.simple(if dense { "dense" } else { "sparse" });
    } else {
        return Err(CommandError::err_quoting(
            "Unknown PFDEBUG subcommand '",
            ctx.arg(1),
            "'",
        ));
    }
    Ok(())
}

/// PFSELFTEST
fn pfselftest(ctx: &mut Ctx<'_>) -> CmdResult {
    hll::self_test().map_err(CommandError::coded)?;
    ctx.out.ok();
    Ok(())
}
