//! Bitmap commands: SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD and BITFIELD_RO, over
//! string values. Bit 0 is the most significant bit of the first byte, as in Redis.

use redis_lite_engine::{Db, Deletion, Value};

use crate::args::keyword;
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::{KeyRef, KeySpec};
use crate::commands::access::{self, max_string_len, raw_string_mut};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

/// BITFIELD's key flags: read-only while every operation is a GET (or OVERFLOW); a SET or
/// INCRBY, or anything not understood, makes it a read-write update.
fn bitfield_key_flags(args: &[&[u8]], keys: &mut Vec<KeyRef>) {
    let mut read_only = true;
    let mut i = 2;
    while i < args.len() {
        let left = args.len() - i - 1;
        let arg = args[i];
        if arg.eq_ignore_ascii_case(b"get") && left >= 2 {
            i += 3;
        } else if arg.eq_ignore_ascii_case(b"overflow") && left >= 1 {
            i += 2;
        } else {
            read_only = false;
            break;
        }
    }
    for key in keys {
        key.flags = if read_only {
            RO | ACCESS
        } else {
            RW | ACCESS | UPDATE
        };
    }
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("setbit", 4, WRITE | DENYOOM, setbit)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)])
        .doc(
            Group::Bitmap,
            "2.2.0",
            "Sets or clears the bit at offset in the string value stored at key",
        )
        .syntax("key offset:integer value:integer"),
    CommandSpec::new("getbit", 3, READONLY | FAST, getbit)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(
            Group::Bitmap,
            "2.2.0",
            "Returns the bit value at offset in the string value stored at key",
        )
        .syntax("key offset:integer"),
    CommandSpec::new("bitcount", -2, READONLY, bitcount)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(Group::Bitmap, "2.6.0", "Count set bits in a string")
        .complexity("O(N)")
        .syntax("key index=[start:integer end:integer index_unit=[BYTE | BIT]{s=7.0.0}]")
        .history(&[("7.0.0", "Added the `BYTE|BIT` option.")]),
    CommandSpec::new("bitpos", -3, READONLY, bitpos)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(
            Group::Bitmap,
            "2.8.7",
            "Find first bit set or clear in a string",
        )
        .complexity("O(N)")
        .syntax(
            "key bit:integer index=[start:integer end_index=[end:integer index_unit=[BYTE | \
             BIT]{s=7.0.0}]]",
        )
        .history(&[("7.0.0", "Added the `BYTE|BIT` option.")]),
    CommandSpec::new("bitop", -4, WRITE | DENYOOM, bitop)
        .key_specs(&[
            KeySpec::index(2).range(0, 1, 0).flags(OW | UPDATE),
            KeySpec::index(3).range(-1, 1, 0).flags(RO | ACCESS),
        ])
        .doc(
            Group::Bitmap,
            "2.6.0",
            "Perform bitwise operations between strings",
        )
        .complexity("O(N)")
        .syntax("operation destkey key{k=1}..."),
    CommandSpec::new("bitfield", -2, WRITE | DENYOOM, bitfield)
        .key_specs(&[KeySpec::index(1)
            .range(0, 1, 0)
            .flags(RW | ACCESS | UPDATE | VARIABLE_FLAGS)
            .notes("This command allows both access and modification of the key")])
        .keys_proc(bitfield_key_flags)
        .doc(
            Group::Bitmap,
            "3.2.0",
            "Perform arbitrary bitfield integer operations on strings",
        )
        .complexity("O(1) for each subcommand specified")
        .syntax(
            "key operation=[encoding_offset=(GET encoding offset:integer) | \
             write=(wrap_sat_fail=[OVERFLOW (WRAP | SAT | FAIL)] write_operation=(\
             encoding_offset_value=(SET encoding offset:integer value:integer) | \
             encoding_offset_increment=(INCRBY encoding offset:integer increment:integer)))]...",
        ),
    CommandSpec::new("bitfield_ro", -2, READONLY | FAST, bitfield_ro)
        .key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(
            Group::Bitmap,
            "6.0.0",
            "Perform arbitrary bitfield integer operations on strings. Read-only variant of \
             BITFIELD",
        )
        .complexity("O(1) for each subcommand specified")
        .syntax("key [GET encoding_offset=(encoding offset:integer){mt}...]"),
];

const BAD_OFFSET: &str = "bit offset is not an integer or out of range";

/// Argument `i` as a bit offset: non-negative, and within a string of proto-max-bulk-len
/// bytes. `#N` (BITFIELD only, `width` given) means N fields of `width` bits.
fn bit_offset(ctx: &Ctx<'_>, i: usize, width: Option<u32>) -> Result<u64, CommandError> {
    let arg = ctx.arg(i);
    let (digits, scale) = match (arg.first(), width) {
        (Some(b'#'), Some(width)) => (&arg[1..], width as i64),
        _ => (arg, 1),
    };
    let n = redis_lite_protocol::number::parse_i64(digits)
        .ok_or(CommandError::err(BAD_OFFSET))?
        .wrapping_mul(scale);
    if n < 0 || (n as u64 >> 3) >= max_string_len(ctx) {
        return Err(CommandError::err(BAD_OFFSET));
    }
    Ok(n as u64)
}

/// The string at `key` made writable and at least `len` bytes long (zero-padded), created if
/// missing. Returns it and whether it was created or grown (which counts as a change even if
/// no bit flips).
fn writable_bits<'d>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
    len: usize,
) -> Result<(&'d mut Vec<u8>, bool), CommandError> {
    let created = db.get(hash, key, ctx.now_ms).is_none();
    if created {
        db.set(hash, key, Value::raw(vec![0; len]), false, ctx.now_ms);
    }
    let entry = db
        .get(hash, key, ctx.now_ms)
        .expect("present or just created");
    let bytes = raw_string_mut(entry.value_mut())?;
    let grown = bytes.len() < len;
    if grown {
        access::grow_as_sds(bytes, len);
        bytes.resize(len, 0);
    }
    Ok((bytes, created || grown))
}

fn bit_at(bytes: &[u8], offset: u64) -> bool {
    let byte = bytes.get((offset >> 3) as usize).copied().unwrap_or(0);
    byte & (0x80 >> (offset & 7)) != 0
}

/// SETBIT key offset value
fn setbit(ctx: &mut Ctx<'_>) -> CmdResult {
    let offset = bit_offset(ctx, 2, None)?;
    let on = match ctx.arg(3) {
        b"0" => false,
        b"1" => true,
        _ => return Err(CommandError::err("bit is not an integer or out of range")),
    };
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let (bytes, resized) = writable_bits(ctx, db, hash, key, (offset >> 3) as usize + 1)?;
    let old = bit_at(bytes, offset);
    // Only a real change (or a new or longer string) is a write, as in Redis 7.0.
    if resized || old != on {
        let mask = 0x80 >> (offset & 7);
        let byte = &mut bytes[(offset >> 3) as usize];
        *byte = if on { *byte | mask } else { *byte & !mask };
        ctx.changed(db, key, Class::String, "setbit");
        ctx.dirty(1);
    }
    ctx.out.integer(old as i64);
    Ok(())
}

/// GETBIT key offset
fn getbit(ctx: &mut Ctx<'_>) -> CmdResult {
    let offset = bit_offset(ctx, 2, None)?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let bit = access::read_string(ctx, db, hash, key)?.is_some_and(|s| bit_at(&s, offset));
    ctx.out.integer(bit as i64);
    Ok(())
}

/// Parses BYTE or BIT (argument `i`): whether indexes count bits.
fn index_unit(ctx: &Ctx<'_>, i: usize) -> Result<bool, CommandError> {
    keyword(ctx, i, &[("BIT", true), ("BYTE", false)])
}

/// The inclusive bit range that `start..=end` selects in a string of `len` bytes, counting
/// bytes or (with `in_bits`) bits, negative indexes from the end; None when empty.
fn bit_range(start: i64, end: i64, len: usize, in_bits: bool) -> Option<(u64, u64)> {
    let total = if in_bits { len * 8 } else { len };
    let range = access::clamped_range(start, end, total);
    if range.is_empty() {
        return None;
    }
    let (start, end) = (range.start as u64, range.end as u64 - 1);
    Some(if in_bits {
        (start, end)
    } else {
        (start * 8, end * 8 + 7)
    })
}

/// The bytes spanning bits `first..=last`, each with only the bits inside the range kept.
fn masked_bytes(first: u64, last: u64) -> impl Iterator<Item = (usize, u8)> {
    let (first_byte, last_byte) = ((first >> 3) as usize, (last >> 3) as usize);
    (first_byte..=last_byte).map(move |i| {
        let mut mask = 0xffu8;
        if i == first_byte {
            mask &= 0xff >> (first & 7);
        }
        if i == last_byte {
            mask &= 0xff << (7 - (last & 7));
        }
        (i, mask)
    })
}

fn count_ones(bytes: &[u8], first: u64, last: u64) -> u64 {
    masked_bytes(first, last)
        .map(|(i, mask)| (bytes[i] & mask).count_ones() as u64)
        .sum()
}

/// The first bit equal to `bit` in `first..=last`.
fn find_bit(bytes: &[u8], bit: bool, first: u64, last: u64) -> Option<u64> {
    masked_bytes(first, last).find_map(|(i, mask)| {
        let candidates = if bit { bytes[i] } else { !bytes[i] } & mask;
        (candidates != 0).then(|| i as u64 * 8 + candidates.leading_zeros() as u64)
    })
}

/// BITCOUNT key [start end [BYTE | BIT]]
fn bitcount(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    // Redis 7.0 looks the key up before it parses the range: a missing key counts 0 whatever
    // the other arguments are.
    let Some(bytes) = access::read_string(ctx, db, hash, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let range = match ctx.arg_count() {
        2 => bit_range(0, -1, bytes.len(), false),
        4 | 5 => {
            let (start, end) = (ctx.arg_i64(2)?, ctx.arg_i64(3)?);
            // Both counted from the end and reversed: empty, before the unit is even parsed.
            if start < 0 && end < 0 && start > end {
                None
            } else {
                let in_bits = ctx.arg_count() == 5 && index_unit(ctx, 4)?;
                bit_range(start, end, bytes.len(), in_bits)
            }
        }
        _ => return Err(CommandError::Syntax),
    };
    let count = range.map_or(0, |(first, last)| count_ones(&bytes, first, last));
    ctx.out.integer(count as i64);
    Ok(())
}

/// BITPOS key bit [start [end [BYTE | BIT]]]
fn bitpos(ctx: &mut Ctx<'_>) -> CmdResult {
    let bit = match ctx.arg_i64(2)? {
        0 => false,
        1 => true,
        _ => return Err(CommandError::err("The bit argument must be 1 or 0.")),
    };
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    // A missing key is an endless run of zeros.
    let Some(bytes) = access::read_string(ctx, db, hash, key)? else {
        ctx.out.integer(if bit { -1 } else { 0 });
        return Ok(());
    };
    let argc = ctx.arg_count();
    if argc > 6 {
        return Err(CommandError::Syntax);
    }
    let start = if argc >= 4 { ctx.arg_i64(3)? } else { 0 };
    // The unit is checked before the end is parsed, as Redis does.
    let in_bits = argc == 6 && index_unit(ctx, 5)?;
    let end = if argc >= 5 { ctx.arg_i64(4)? } else { -1 };
    let end_given = argc >= 5;
    let found = match bit_range(start, end, bytes.len(), in_bits) {
        None => -1,
        Some((first, last)) => match find_bit(&bytes, bit, first, last) {
            Some(pos) => pos as i64,
            // Without an explicit end the string continues with zeros past its end.
            None if !bit && !end_given => last as i64 + 1,
            None => -1,
        },
    };
    ctx.out.integer(found);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum BitOp {
    And,
    Or,
    Xor,
    Not,
}

/// BITOP AND|OR|XOR|NOT destkey key [key ...]
fn bitop(ctx: &mut Ctx<'_>) -> CmdResult {
    let op = [
        ("AND", BitOp::And),
        ("OR", BitOp::Or),
        ("XOR", BitOp::Xor),
        ("NOT", BitOp::Not),
    ]
    .into_iter()
    .find(|(name, _)| ctx.arg_is(1, name))
    .map(|(_, op)| op)
    .ok_or(CommandError::Syntax)?;
    if op == BitOp::Not && ctx.arg_count() != 4 {
        return Err(CommandError::err(
            "BITOP NOT must be called with a single source key.",
        ));
    }
    let dest = ctx.arg(2);
    let sources = &ctx.args[3..];
    let mut locked = ctx.lock(std::iter::once(dest).chain(sources.iter().copied()));
    let mut inputs = Vec::with_capacity(sources.len());
    for key in sources {
        let (db, hash) = locked.db(ctx.client.db, key);
        inputs.push(
            access::read_string(ctx, db, hash, key)?
                .map_or_else(Vec::new, std::borrow::Cow::into_owned),
        );
    }
    let result = combine(op, &inputs);
    let (db, hash) = locked.db(ctx.client.db, dest);
    let len = result.len();
    if len > 0 {
        db.set(hash, dest, Value::raw(result), false, ctx.now_ms);
        ctx.changed(db, dest, Class::String, "set");
        ctx.dirty(1);
    } else if db.delete(hash, dest, Deletion::Server) {
        // An empty result deletes the destination rather than storing "".
        ctx.changed(db, dest, Class::Generic, "del");
        ctx.dirty(1);
    }
    ctx.out.integer(len as i64);
    Ok(())
}

/// The bitwise combination of `inputs`, as long as the longest; shorter ones count as
/// zero-padded.
fn combine(op: BitOp, inputs: &[Vec<u8>]) -> Vec<u8> {
    let len = inputs.iter().map(Vec::len).max().unwrap_or(0);
    let byte = |input: &Vec<u8>, i: usize| input.get(i).copied().unwrap_or(0);
    (0..len)
        .map(|i| {
            let rest = inputs[1..].iter().map(|input| byte(input, i));
            let first = byte(&inputs[0], i);
            match op {
                BitOp::And => rest.fold(first, |acc, b| acc & b),
                BitOp::Or => rest.fold(first, |acc, b| acc | b),
                BitOp::Xor => rest.fold(first, |acc, b| acc ^ b),
                BitOp::Not => !first,
            }
        })
        .collect()
}

/// A BITFIELD integer type: `i1`..`i64` or `u1`..`u63`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FieldType {
    signed: bool,
    bits: u32,
}

impl FieldType {
    fn parse(arg: &[u8]) -> Result<FieldType, CommandError> {
        let bad = || {
            CommandError::err(
                "Invalid bitfield type. Use something like i16 u8. Note that u64 is not \
                 supported but i64 is.",
            )
        };
        let signed = match arg.first() {
            Some(b'i') => true,
            Some(b'u') => false,
            _ => return Err(bad()),
        };
        let bits = redis_lite_protocol::number::parse_i64(&arg[1..]).ok_or_else(bad)?;
        let max = if signed { 64 } else { 63 };
        if !(1..=max).contains(&bits) {
            return Err(bad());
        }
        Ok(FieldType {
            signed,
            bits: bits as u32,
        })
    }

    /// Reads the field at bit `offset`; bits past the end of `bytes` read as zero.
    fn read(self, bytes: &[u8], offset: u64) -> i64 {
        let mut value = 0u64;
        for j in 0..self.bits as u64 {
            value = (value << 1) | bit_at(bytes, offset + j) as u64;
        }
        if self.signed && self.bits < 64 && value >> (self.bits - 1) & 1 == 1 {
            value |= u64::MAX << self.bits;
        }
        value as i64
    }

    fn write(self, bytes: &mut [u8], offset: u64, value: i64) {
        for j in 0..self.bits as u64 {
            let on = (value as u64 >> (self.bits as u64 - 1 - j)) & 1 == 1;
            let at = offset + j;
            let mask = 0x80 >> (at & 7);
            let byte = &mut bytes[(at >> 3) as usize];
            *byte = if on { *byte | mask } else { *byte & !mask };
        }
    }

    /// `value + incr` in this type under `overflow`; None when it overflows and FAIL is asked.
    /// SET checks its value with an increment of 0.
    fn add(self, value: i64, incr: i64, overflow: Overflow) -> Option<i64> {
        let (over, limit) = if self.signed {
            self.signed_overflow(value, incr)
        } else {
            self.unsigned_overflow(value as u64, incr)
        };
        match (over, overflow) {
            (None, _) => Some(value.wrapping_add(incr)),
            (Some(_), Overflow::Fail) => None,
            (Some(_), Overflow::Wrap) => Some(self.wrap(value.wrapping_add(incr))),
            (Some(up), Overflow::Sat) => Some(if up { limit.1 } else { limit.0 }),
        }
    }

    /// Whether `value + incr` overflows (Some(true)) or underflows (Some(false)), and the
    /// type's (min, max). The checks are Redis's, wrapping arithmetic included, so extreme
    /// SET values saturate the same way.
    fn signed_overflow(self, value: i64, incr: i64) -> (Option<bool>, (i64, i64)) {
        let max = if self.bits == 64 {
            i64::MAX
        } else {
            (1i64 << (self.bits - 1)) - 1
        };
        let min = -max - 1;
        let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
        let min_incr = min.wrapping_sub(value);
        let narrow = self.bits != 64;
        let over = if value > max
            || (narrow && incr > max_incr)
            || (value >= 0 && incr > 0 && incr > max_incr)
        {
            Some(true)
        } else if value < min
            || (narrow && incr < min_incr)
            || (value < 0 && incr < 0 && incr < min_incr)
        {
            Some(false)
        } else {
            None
        };
        (over, (min, max))
    }

    fn unsigned_overflow(self, value: u64, incr: i64) -> (Option<bool>, (i64, i64)) {
        let max = (1u64 << self.bits) - 1;
        let max_incr = max.wrapping_sub(value) as i64;
        let min_incr = (value as i64).wrapping_neg();
        let over = if value > max || (incr > 0 && incr > max_incr) {
            Some(true)
        } else if incr < 0 && incr < min_incr {
            Some(false)
        } else {
            None
        };
        (over, (0, max as i64))
    }

    /// `value` cut to this type's width (sign-extended when signed).
    fn wrap(self, value: i64) -> i64 {
        if self.bits == 64 {
            return value;
        }
        let mask = u64::MAX << self.bits;
        let v = value as u64;
        let negative = self.signed && v >> (self.bits - 1) & 1 == 1;
        (if negative { v | mask } else { v & !mask }) as i64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Overflow {
    Wrap,
    Sat,
    Fail,
}

#[derive(Clone, Copy, Debug)]
enum FieldOp {
    Get,
    Set(i64),
    IncrBy(i64),
}

#[derive(Clone, Copy, Debug)]
struct Field {
    op: FieldOp,
    ty: FieldType,
    offset: u64,
    overflow: Overflow,
}

/// Parses BITFIELD's operations (all of them, before any runs, as Redis does).
fn parse_fields(ctx: &Ctx<'_>) -> Result<Vec<Field>, CommandError> {
    let mut fields = Vec::new();
    let mut overflow = Overflow::Wrap;
    let mut i = 2;
    while i < ctx.arg_count() {
        let remaining = ctx.arg_count() - i - 1;
        let takes_value = ctx.arg_is(i, "SET") || ctx.arg_is(i, "INCRBY");
        if ctx.arg_is(i, "OVERFLOW") && remaining >= 1 {
            overflow = [
                ("WRAP", Overflow::Wrap),
                ("SAT", Overflow::Sat),
                ("FAIL", Overflow::Fail),
            ]
            .into_iter()
            .find(|(name, _)| ctx.arg_is(i + 1, name))
            .map(|(_, o)| o)
            .ok_or(CommandError::err("Invalid OVERFLOW type specified"))?;
            i += 2;
            continue;
        }
        if !(ctx.arg_is(i, "GET") && remaining >= 2 || takes_value && remaining >= 3) {
            return Err(CommandError::Syntax);
        }
        let ty = FieldType::parse(ctx.arg(i + 1))?;
        let offset = bit_offset(ctx, i + 2, Some(ty.bits))?;
        let op = if !takes_value {
            FieldOp::Get
        } else if ctx.arg_is(i, "SET") {
            FieldOp::Set(ctx.arg_i64(i + 3)?)
        } else {
            FieldOp::IncrBy(ctx.arg_i64(i + 3)?)
        };
        fields.push(Field {
            op,
            ty,
            offset,
            overflow,
        });
        i += if takes_value { 4 } else { 3 };
    }
    Ok(fields)
}

/// BITFIELD key [GET encoding offset | [OVERFLOW WRAP | SAT | FAIL]
/// SET encoding offset value | INCRBY encoding offset increment ...]
fn bitfield(ctx: &mut Ctx<'_>) -> CmdResult {
    let fields = parse_fields(ctx)?;
    let writes = fields.iter().filter(|f| !matches!(f.op, FieldOp::Get));
    let Some(end_bit) = writes.map(|f| f.offset + f.ty.bits as u64).max() else {
        return bitfield_read(ctx, &fields);
    };
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let (bytes, resized) = writable_bits(ctx, db, hash, key, end_bit.div_ceil(8) as usize)?;
    let mut changes = 0;
    ctx.out.array(fields.len());
    for field in &fields {
        let old = field.ty.read(bytes, field.offset);
        let (new, reply) = match field.op {
            FieldOp::Get => {
                ctx.out.integer(old);
                continue;
            }
            FieldOp::Set(value) => (field.ty.add(value, 0, field.overflow), old),
            FieldOp::IncrBy(incr) => {
                let new = field.ty.add(old, incr, field.overflow);
                (new, new.unwrap_or(0))
            }
        };
        let Some(new) = new else {
            ctx.out.null();
            continue;
        };
        ctx.out.integer(reply);
        field.ty.write(bytes, field.offset, new);
        // A write counts when it changes the value, or when the string had to be made.
        changes += (resized || new != old) as u64;
    }
    if changes > 0 {
        ctx.changed(db, key, Class::String, "setbit");
        ctx.dirty(changes);
    }
    Ok(())
}

/// BITFIELD with only GETs, and BITFIELD_RO: a read that creates nothing.
fn bitfield_read(ctx: &mut Ctx<'_>, fields: &[Field]) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let bytes = access::read_string(ctx, db, hash, key)?;
    let bytes = bytes.as_deref().unwrap_or(&[]);
    ctx.out.array(fields.len());
    for field in fields {
        ctx.out.integer(field.ty.read(bytes, field.offset));
    }
    Ok(())
}

/// BITFIELD_RO key [GET encoding offset [GET encoding offset ...]]
fn bitfield_ro(ctx: &mut Ctx<'_>) -> CmdResult {
    let fields = parse_fields(ctx)?;
    if fields.iter().any(|f| !matches!(f.op, FieldOp::Get)) {
        return Err(CommandError::err(
            "BITFIELD_RO only supports the GET subcommand",
        ));
    }
    bitfield_read(ctx, &fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_in_bytes_and_bits() {
        assert_eq!(bit_range(0, -1, 3, false), Some((0, 23)));
        assert_eq!(bit_range(1, 1, 3, false), Some((8, 15)));
        assert_eq!(bit_range(-100, 100, 2, true), Some((0, 15)));
        assert_eq!(bit_range(5, 2, 3, true), None);
        assert_eq!(bit_range(0, -1, 0, false), None);
    }

    #[test]
    fn counts_and_finds_bits_in_partial_bytes() {
        let bytes = [0b1010_1010, 0xff, 0x0f];
        assert_eq!(count_ones(&bytes, 0, 23), 4 + 8 + 4);
        assert_eq!(count_ones(&bytes, 1, 6), 3);
        assert_eq!(count_ones(&bytes, 7, 16), 8);
        assert_eq!(find_bit(&bytes, true, 1, 23), Some(2));
        assert_eq!(find_bit(&bytes, false, 8, 15), None);
        assert_eq!(find_bit(&bytes, false, 8, 23), Some(16));
    }

    #[test]
    fn fields_read_write_and_overflow() {
        let u8t = FieldType {
            signed: false,
            bits: 8,
        };
        let i8t = FieldType {
            signed: true,
            bits: 8,
        };
        let mut bytes = [0u8; 3];
        u8t.write(&mut bytes, 4, 0xab);
        assert_eq!(bytes, [0x0a, 0xb0, 0]);
        assert_eq!(u8t.read(&bytes, 4), 0xab);
        assert_eq!(i8t.read(&bytes, 4), 0xab_u8 as i8 as i64);
        assert_eq!(u8t.add(250, 10, Overflow::Wrap), Some(4));
        assert_eq!(u8t.add(250, 10, Overflow::Sat), Some(255));
        assert_eq!(u8t.add(5, -10, Overflow::Sat), Some(0));
        assert_eq!(u8t.add(250, 10, Overflow::Fail), None);
        assert_eq!(i8t.add(120, 10, Overflow::Wrap), Some(-126));
        assert_eq!(i8t.add(-120, -10, Overflow::Sat), Some(-128));
        let i64t = FieldType {
            signed: true,
            bits: 64,
        };
        assert_eq!(i64t.add(i64::MAX, 1, Overflow::Wrap), Some(i64::MIN));
        assert_eq!(i64t.add(i64::MAX, 1, Overflow::Sat), Some(i64::MAX));
    }
}
