//! The one dialect the data-type families speak to the keyspace: read a key as a given type,
//! get or create it for a write, store or delete a STORE command's result, delete a key a write
//! left empty; and the argument shapes every collection shares (Redis's index ranges, the SCAN
//! cursor and options). A family states only what is its own; a new one (streams) implements
//! [`Collection`] for its type and uses these.
//!
//! Every function is a thin generic over the engine's calls, monomorphised and inlined into the
//! handler: no allocation, no lock, and the notifications and `changed` calls, in the order the
//! families made them by hand before. Get-or-create looks the key up once
//! (`Db::get_or_insert_with`) where HSET, SADD and LPUSH used to look it up twice.

use std::borrow::Cow;
use std::ops::Range;

use redis_lite_engine::hash::Hash;
use redis_lite_engine::list::List;
use redis_lite_engine::set::Set;
use redis_lite_engine::stream::Stream;
use redis_lite_engine::zset::ZSet;
use redis_lite_engine::{Db, Deletion, EncodingLimits, Entry, Value};
use redis_lite_protocol::ReplyWriter;

use crate::args::keyword;
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

/// A collection type a key can hold.
pub trait Collection {
    /// The notification class of its events (`hset` is `Class::Hash`...).
    const CLASS: Class;
    /// The collection a value holds, None for another type.
    fn of(value: &mut Value) -> Option<&mut Self>;
    /// The empty value a write creates at a missing key, with the encoding a new one starts in.
    fn empty(limits: &EncodingLimits) -> Value;
    fn is_empty(&self) -> bool;
}

/// Implements [`Collection`] for a type stored as `Value::$variant`, created as `$empty`.
macro_rules! collection {
    ($type:ty, $variant:ident, $class:expr, |$limits:pat_param| $empty:expr) => {
        impl Collection for $type {
            const CLASS: Class = $class;
            fn of(value: &mut Value) -> Option<&mut Self> {
                match value {
                    Value::$variant(collection) => Some(collection),
                    _ => None,
                }
            }
            fn empty($limits: &EncodingLimits) -> Value {
                Value::$variant(Box::new($empty))
            }
            fn is_empty(&self) -> bool {
                <$type>::is_empty(self)
            }
        }
    };
}

collection!(List, List, Class::List, |limits| List::with_limits(limits));
collection!(Hash, Hash, Class::Hash, |_| Hash::default());
collection!(Set, Set, Class::Set, |_| Set::default());
collection!(ZSet, ZSet, Class::ZSet, |_| ZSet::default());
// An empty stream stays a key (XDEL of its last entry, XADD with MAXLEN 0, XGROUP CREATE
// MKSTREAM), so stream commands never pass one to [`removed`].
collection!(Stream, Stream, Class::Stream, |_| Stream::new());

/// The `T` a value holds, WRONGTYPE for another type.
#[inline]
pub fn typed<T: Collection>(value: &mut Value) -> Result<&mut T, CommandError> {
    T::of(value).ok_or(CommandError::WrongType)
}

/// The `T` at `key`, looked up to read it: counted in the keyspace hits/misses (`keymiss` on a
/// miss), as Redis's lookupKeyRead. None when missing, WRONGTYPE for another type.
#[inline]
pub fn read<'d, T: Collection>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
) -> Result<Option<&'d T>, CommandError> {
    match ctx.read(db, hash, key) {
        Some(entry) => Ok(Some(typed(entry.value_mut())?)),
        None => Ok(None),
    }
}

/// The `T` at `key`, looked up to modify it (not counted, as Redis's lookupKeyWrite). None when
/// missing, WRONGTYPE for another type.
#[inline]
pub fn write<'d, T: Collection>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
) -> Result<Option<&'d mut T>, CommandError> {
    db.get(hash, key, ctx.now_ms)
        .map(|entry| typed(entry.value_mut()))
        .transpose()
}

/// The `T` at `key` for a write, created empty (in the encoding `limits` give a new one) when
/// missing; WRONGTYPE for another type, and then nothing was created. The caller must leave
/// something in a created collection or delete it ([`removed`]): an empty one is never stored.
#[inline]
pub fn write_or_create<'d, T: Collection>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
    limits: &EncodingLimits,
) -> Result<&'d mut T, CommandError> {
    let entry = db.get_or_insert_with(hash, key, ctx.now_ms, || T::empty(limits));
    typed(entry.value_mut())
}

/// After a write removed elements from the `T` at `key`: emits `event`, then, when the write
/// left it empty, deletes the key and emits `del`, in Redis's order.
#[inline]
pub fn removed<T: Collection>(
    ctx: &Ctx<'_>,
    db: &mut Db,
    hash: u64,
    key: &[u8],
    event: &str,
    now_empty: bool,
) {
    ctx.changed(db, key, T::CLASS, event);
    if now_empty {
        db.remove(hash, key);
        ctx.changed(db, key, Class::Generic, "del");
    }
}

/// Stores a STORE command's result at `key` (SINTERSTORE, ZUNIONSTORE, SORT ... STORE...),
/// replacing any old value and its TTL, with `event` of `class`; an empty result (None)
/// deletes `key` instead, with `del`, if it exists. Returns whether the key changed.
pub fn store(
    ctx: &Ctx<'_>,
    db: &mut Db,
    hash: u64,
    key: &[u8],
    result: Option<Value>,
    class: Class,
    event: &str,
) -> bool {
    match result {
        Some(value) => {
            db.set(hash, key, value, false, ctx.now_ms);
            ctx.changed(db, key, class, event);
            true
        }
        None if db.peek(hash, key, ctx.now_ms).is_some() => {
            db.delete(hash, key, Deletion::Server);
            ctx.changed(db, key, Class::Generic, "del");
            true
        }
        None => false,
    }
}

/// The text of a string value (an integer as its decimal digits).
pub fn string_bytes(value: &Value) -> Result<Cow<'_, [u8]>, CommandError> {
    value.string_bytes().ok_or(CommandError::WrongType)
}

/// The text of a stored string (an integer as its digits), borrowed where it is stored;
/// WRONGTYPE for another type.
pub fn stored_string(entry: &Entry) -> Result<Cow<'_, [u8]>, CommandError> {
    entry.string_bytes().ok_or(CommandError::WrongType)
}

/// The bytes of a string value, converted to the growable raw form so they can be changed in
/// place (APPEND, SETRANGE).
pub fn raw_string_mut(value: &mut Value) -> Result<&mut Vec<u8>, CommandError> {
    if !matches!(value, Value::RawStr(_)) {
        *value = Value::raw(string_bytes(value)?.into_owned());
    }
    match value {
        Value::RawStr(bytes) => Ok(bytes),
        _ => unreachable!("converted above"),
    }
}

/// Makes room for `len` bytes in a string being grown in place (APPEND, SETRANGE, SETBIT) the
/// way Redis's sds grows: when it is full, to twice the length needed (1 MiB more past 1 MiB),
/// rounded up to what the allocator hands out. The string then has the room Redis's would,
/// which MEMORY USAGE reports as Redis does; appends stay amortised O(1).
pub fn grow_as_sds(bytes: &mut Vec<u8>, len: usize) {
    const GREEDY_LIMIT: usize = 1 << 20;
    if bytes.capacity() >= len {
        return;
    }
    let wanted = if len < GREEDY_LIMIT {
        len * 2
    } else {
        len + GREEDY_LIMIT
    };
    // An sds that grows never keeps the 1-byte header (it has no room to record spare space).
    let header = crate::memory::sds_header(wanted).max(3);
    let allocated = crate::memory::allocation_size(header + wanted as u64 + 1);
    let capacity = (allocated - header - 1) as usize;
    bytes.reserve_exact(capacity - bytes.len());
}

/// The server's proto-max-bulk-len, the largest string a command may build. Read before any
/// shard is locked, so the config lock is never taken while holding one.
pub fn max_string_len(ctx: &Ctx<'_>) -> u64 {
    ctx.server.config.read().proto_max_bulk_len
}

/// The string at `key`, looked up to read it as [`read`] does: None when missing, WRONGTYPE for
/// another type. An integer comes out as its digits.
#[inline]
pub fn read_string<'d>(
    ctx: &Ctx<'_>,
    db: &'d mut Db,
    hash: u64,
    key: &[u8],
) -> Result<Option<Cow<'d, [u8]>>, CommandError> {
    match ctx.read(db, hash, key) {
        Some(entry) => Ok(Some(stored_string(entry)?)),
        None => Ok(None),
    }
}

/// The positions `start..=stop` select in a sequence of `len`, as LRANGE, LTRIM, ZRANGE and
/// ZREMRANGEBYRANK read them: negative indexes count from the end, the start is clamped to the
/// first element and the stop to the last. Empty when nothing is selected.
pub fn range(start: i64, stop: i64, len: usize) -> Range<usize> {
    let len = len as i64;
    let start = if start < 0 { start + len } else { start }.max(0);
    let stop = if stop < 0 { stop + len } else { stop };
    if start > stop || start >= len {
        return 0..0;
    }
    start as usize..stop.min(len - 1) as usize + 1
}

/// As [`range`] for strings and bits (GETRANGE, BITCOUNT, BITPOS): there a stop before the
/// first position still selects the first one.
pub fn clamped_range(start: i64, stop: i64, len: usize) -> Range<usize> {
    let stop = if stop < 0 {
        (stop + len as i64).max(0)
    } else {
        stop
    };
    range(start, stop, len)
}

/// One position of a sequence of `len` (LINDEX, LSET): negative counts from the end. None when
/// out of range.
pub fn index(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let index = if index < 0 { index + len } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

/// A SCAN cursor as Redis reads it with `strtoul`: optional sign (a minus negates modulo 2^64),
/// decimal digits, nothing else; an empty string is cursor 0. Redis reads the argument as a C
/// string, so it ends at the first NUL byte ("1\0x" is cursor 1, "\0x" cursor 0).
pub fn parse_cursor(text: &[u8]) -> Option<u64> {
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    if text.is_empty() {
        return Some(0);
    }
    crate::args::parse_c_unsigned(text)
}

/// Argument `i` as a SCAN cursor, or Redis's "invalid cursor".
pub fn arg_cursor(ctx: &Ctx<'_>, i: usize) -> Result<u64, CommandError> {
    parse_cursor(ctx.arg(i)).ok_or(CommandError::err("invalid cursor"))
}

/// The options of SCAN and of HSCAN/SSCAN/ZSCAN.
pub struct ScanOptions<'a> {
    /// None for no MATCH, or a match-all `*`.
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    /// SCAN's TYPE filter; the collection scans do not take one.
    pub type_filter: Option<&'a [u8]>,
}

impl<'a> ScanOptions<'a> {
    /// Parses `[MATCH pattern] [COUNT count]` (and `[TYPE type]` when `with_type`) from argument
    /// `start` on. COUNT must be at least 1; anything else is Redis's syntax error.
    pub fn parse(ctx: &Ctx<'a>, start: usize, with_type: bool) -> Result<Self, CommandError> {
        let mut options = ScanOptions {
            pattern: None,
            count: 10,
            type_filter: None,
        };
        let mut i = start;
        while i < ctx.arg_count() {
            if i + 1 >= ctx.arg_count() {
                return Err(CommandError::Syntax);
            }
            if ctx.arg_is(i, "COUNT") {
                let n = ctx.arg_i64(i + 1)?;
                if n < 1 {
                    return Err(CommandError::Syntax);
                }
                options.count = usize::try_from(n).unwrap_or(usize::MAX);
            } else if ctx.arg_is(i, "MATCH") {
                options.pattern = Some(ctx.arg(i + 1)).filter(|p| *p != b"*");
            } else if with_type && ctx.arg_is(i, "TYPE") {
                options.type_filter = Some(ctx.arg(i + 1));
            } else {
                return Err(CommandError::Syntax);
            }
            i += 2;
        }
        Ok(options)
    }
}

/// Starts a SCAN-family reply: the next cursor, then an array of `items` elements, which the
/// caller writes. A missing key's scan is `scan_reply(out, 0, 0)`.
pub fn scan_reply(out: &mut ReplyWriter<'_>, next: u64, items: usize) {
    out.array(2);
    out.bulk(itoa::Buffer::new().format(next).as_bytes());
    out.array(items);
}

/// The arguments of LMPOP and ZMPOP (and of their blocking forms): `numkeys key... <side>
/// [COUNT count]`, numkeys at `numkeys_at`, `<side>` one of `sides` (LEFT|RIGHT, MIN|MAX).
pub struct MultiPop<'a, S> {
    pub keys: &'a [&'a [u8]],
    pub side: S,
    /// 1 without COUNT.
    pub count: usize,
}

impl<'a, S: Copy> MultiPop<'a, S> {
    pub fn parse(
        ctx: &Ctx<'a>,
        numkeys_at: usize,
        sides: &[(&str, S)],
    ) -> Result<Self, CommandError> {
        let numkeys = positive(ctx, numkeys_at, "numkeys should be greater than 0")?;
        let side_at = numkeys
            .checked_add(numkeys_at + 1)
            .filter(|&i| i < ctx.arg_count())
            .ok_or(CommandError::Syntax)?;
        let side = keyword(ctx, side_at, sides)?;
        // Options are read in order, so a bad COUNT value is reported before a repeated COUNT.
        let mut count = None;
        let mut i = side_at + 1;
        while i < ctx.arg_count() {
            if count.is_some() || !ctx.arg_is(i, "COUNT") || i + 1 == ctx.arg_count() {
                return Err(CommandError::Syntax);
            }
            count = Some(positive(ctx, i + 1, "count should be greater than 0")?);
            i += 2;
        }
        Ok(MultiPop {
            keys: &ctx.args[numkeys_at + 1..side_at],
            side,
            count: count.unwrap_or(1),
        })
    }
}

/// Argument `i` as a count of at least 1, or the error `message`.
fn positive(ctx: &Ctx<'_>, i: usize, message: &'static str) -> Result<usize, CommandError> {
    match ctx.arg_i64(i) {
        Ok(n) if n > 0 => Ok(usize::try_from(n).unwrap_or(usize::MAX)),
        _ => Err(CommandError::err(message)),
    }
}

/// HSCAN, SSCAN, ZSCAN: the cursor (argument 2) is checked first; a missing key replies an
/// empty scan before the options are read, and another type is WRONGTYPE, as in Redis; then
/// `scan` walks the `T` at argument 1 from the cursor with the options (from argument 3) and
/// writes the reply, starting with [`scan_reply`].
pub fn scan_collection<'a, T: Collection>(
    ctx: &mut Ctx<'a>,
    scan: impl FnOnce(&mut ReplyWriter<'a>, &T, u64, ScanOptions<'a>),
) -> CmdResult {
    let cursor = arg_cursor(ctx, 2)?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(collection) = read::<T>(ctx, db, hash, key)? else {
        scan_reply(&mut ctx.out, 0, 0);
        return Ok(());
    };
    let options = ScanOptions::parse(ctx, 3, false)?;
    scan(&mut ctx.out, collection, cursor, options);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_count_from_the_end_and_clamp() {
        assert_eq!(range(0, -1, 3), 0..3);
        assert_eq!(range(-2, -1, 3), 1..3);
        assert_eq!(range(2, 1, 3), 0..0);
        assert_eq!(range(5, 10, 3), 0..0);
        assert_eq!(range(-100, 100, 3), 0..3);
        assert_eq!(range(0, -10, 3), 0..0);
        assert_eq!(range(0, -1, 0), 0..0);
        assert_eq!(range(i64::MIN, i64::MAX, 3), 0..3);
    }

    #[test]
    fn string_ranges_keep_the_first_byte_for_a_stop_before_it() {
        assert_eq!(clamped_range(0, -10, 3), 0..1);
        assert_eq!(clamped_range(0, -1, 5), 0..5);
        assert_eq!(clamped_range(-3, -1, 5), 2..5);
        assert_eq!(clamped_range(3, 1, 5), 0..0);
        assert_eq!(clamped_range(0, 0, 0), 0..0);
        assert_eq!(clamped_range(7, 10, 5), 0..0);
    }

    #[test]
    fn indexes_count_from_the_end() {
        assert_eq!(index(0, 3), Some(0));
        assert_eq!(index(-1, 3), Some(2));
        assert_eq!(index(3, 3), None);
        assert_eq!(index(-4, 3), None);
        assert_eq!(index(0, 0), None);
    }

    #[test]
    fn cursors_parse_like_strtoul() {
        assert_eq!(parse_cursor(b"0"), Some(0));
        assert_eq!(parse_cursor(b""), Some(0));
        assert_eq!(parse_cursor(b"-1"), Some(u64::MAX));
        assert_eq!(parse_cursor(b"+7"), Some(7));
        assert_eq!(parse_cursor(b"abc"), None);
        assert_eq!(parse_cursor(b" 1"), None);
        assert_eq!(parse_cursor(b"-"), None);
        assert_eq!(parse_cursor(b"99999999999999999999999"), None);
    }
}
