//! List commands: pushes and pops at both ends, index and range access, LINSERT, LREM, LTRIM,
//! LPOS, and the moves between lists (LMOVE, RPOPLPUSH, LMPOP).
//!
//! The blocking variants (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) are served by the core's
//! blocking mechanism, through the non-blocking operations public here: [`pop_from`],
//! [`pop_first`] and [`move_element`] work on keys the caller has already locked, and
//! [`reply_key_and_elements`] writes the reply LMPOP and BLMPOP share.

use redis_lite_engine::list::{Elem, End, Item, List, Needle};
use redis_lite_engine::Locked;
use redis_lite_protocol::ReplyWriter;
use smallvec::SmallVec;

use crate::args::keyword;
use crate::blocking::parse_timeout;
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::Group;
use crate::command::KeySpec;
use crate::command::{CommandSpec, Handler};
use crate::commands::access::{self, MultiPop};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

const PUSH_COMPLEXITY: &str = "O(1) for each element added, so O(N) to add N elements when the \
     command is called with multiple arguments.";
const POP_COMPLEXITY: &str = "O(N) where N is the number of elements returned";

/// A single-key list command's spec.
const fn one_key(
    name: &'static str,
    arity: i32,
    flags: u32,
    handler: Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    CommandSpec::new(name, arity, flags, handler).doc(Group::List, since, summary)
}

/// LPUSH, RPUSH and their X forms.
const fn push(
    name: &'static str,
    handler: Handler,
    since: &'static str,
    summary: &'static str,
) -> CommandSpec {
    one_key(name, -3, WRITE | DENYOOM | FAST, handler, since, summary)
        .complexity(PUSH_COMPLEXITY)
        .syntax("key element...")
}

/// LPOP and RPOP.
const fn pop(name: &'static str, handler: Handler, summary: &'static str) -> CommandSpec {
    one_key(name, -2, WRITE | FAST, handler, "1.0.0", summary)
        .complexity(POP_COMPLEXITY)
        .syntax("key [count:integer]")
}

/// The push commands' history: one element each at first.
const MULTIPLE_ELEMENTS_SINCE_2_4: &[(&str, &str)] =
    &[("2.4.0", "Accepts multiple `element` arguments.")];
const MULTIPLE_ELEMENTS_SINCE_4_0: &[(&str, &str)] =
    &[("4.0.0", "Accepts multiple `element` arguments.")];

/// The blocking commands' history: the timeout was a whole number of seconds before 6.0.
pub(crate) const TIMEOUT_AS_DOUBLE: &[(&str, &str)] = &[(
    "6.0.0",
    "`timeout` is interpreted as a double instead of an integer.",
)];

pub static COMMANDS: &[CommandSpec] = &[
    push("lpush", lpush, "1.0.0", "Prepend one or multiple elements to a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)])
        .history(MULTIPLE_ELEMENTS_SINCE_2_4),
    push("rpush", rpush, "1.0.0", "Append one or multiple elements to a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)])
        .history(MULTIPLE_ELEMENTS_SINCE_2_4),
    push("lpushx", lpushx, "2.2.0", "Prepend an element to a list, only if the list exists").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)])
        .history(MULTIPLE_ELEMENTS_SINCE_4_0),
    push("rpushx", rpushx, "2.2.0", "Append an element to a list, only if the list exists").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)])
        .history(MULTIPLE_ELEMENTS_SINCE_4_0),
    pop("lpop", lpop, "Remove and get the first elements in a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE)])
        .syntax("key [count:integer{s=6.2.0}]")
        .history(&[
            ("6.2.0", "Added the `count` argument."),
        ]),
    pop("rpop", rpop, "Remove and get the last elements in a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE)])
        .syntax("key [count:integer{s=6.2.0}]")
        .history(&[
            ("6.2.0", "Added the `count` argument."),
        ]),
    one_key("llen", 2, READONLY | FAST, llen, "1.0.0", "Get the length of a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)])
        .syntax("key"),
    one_key("lrange", 4, READONLY, lrange, "1.0.0", "Get a range of elements from a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .complexity(
            "O(S+N) where S is the distance of start offset from HEAD for small lists, from \
             nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the \
             specified range.",
        )
        .syntax("key start:integer stop:integer"),
    one_key("lindex", 3, READONLY, lindex, "1.0.0", "Get an element from a list by its index").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .complexity(
            "O(N) where N is the number of elements to traverse to get to the element at index. \
             This makes asking for the first or the last element of the list O(1).",
        )
        .syntax("key index:integer"),
    one_key("lset", 4, WRITE | DENYOOM, lset, "1.0.0", "Set the value of an element in a list by its index").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)])
        .complexity(
            "O(N) where N is the length of the list. Setting either the first or the last \
             element of the list is O(1).",
        )
        .syntax("key index:integer element"),
    one_key("linsert", 5, WRITE | DENYOOM, linsert, "2.2.0", "Insert an element before or after another element in a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | INSERT)])
        .complexity(
            "O(N) where N is the number of elements to traverse before seeing the value pivot. \
             This means that inserting somewhere on the left end on the list (head) can be \
             considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        )
        .syntax("key where=(BEFORE | AFTER) pivot element"),
    one_key("lrem", 4, WRITE, lrem, "1.0.0", "Remove elements from a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)])
        .complexity("O(N+M) where N is the length of the list and M is the number of elements removed.")
        .syntax("key count:integer element"),
    one_key("ltrim", 4, WRITE, ltrim, "1.0.0", "Trim a list to the specified range").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)])
        .complexity("O(N) where N is the number of elements to be removed by the operation.")
        .syntax("key start:integer stop:integer"),
    one_key("lpos", -3, READONLY, lpos, "6.0.6", "Return the index of matching elements on a list").key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)])
        .complexity(
            "O(N) where N is the number of elements in the list, for the average case. When \
             searching for elements near the head or the tail of the list, or when the MAXLEN \
             option is provided, the command may run in constant time.",
        )
        .syntax("key element [RANK rank:integer] [COUNT num-matches:integer] [MAXLEN len:integer]"),
    CommandSpec::new("lmove", 5, WRITE | DENYOOM, lmove).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE), KeySpec::index(2).range(0, 1, 0).flags(RW | INSERT)])
        .doc(Group::List, "6.2.0", "Pop an element from a list, push it to another list and return it")
        .syntax("source:key destination:key{k=1} wherefrom=(LEFT | RIGHT) whereto=(LEFT | RIGHT)"),
    CommandSpec::new("rpoplpush", 3, WRITE | DENYOOM, rpoplpush).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE), KeySpec::index(2).range(0, 1, 0).flags(RW | INSERT)])
        .doc(
            Group::List,
            "1.2.0",
            "Remove the last element in a list, prepend it to another list and return it",
        )
        .syntax("source:key destination:key{k=1}")
        .deprecated(&("6.2.0", "`LMOVE` with the `RIGHT` and `LEFT` arguments")),
    // The keys follow a count, so the legacy key range cannot describe them (Redis gives 0 0 0).
        CommandSpec::new("lmpop", -4, WRITE, lmpop).key_specs(&[KeySpec::index(1).keynum(0, 1, 1).flags(RW | ACCESS | DELETE)])
        .doc(Group::List, "7.0.0", "Pop elements from a list")
        .complexity(
            "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        )
        .syntax("numkeys:integer key... where=(LEFT | RIGHT) [COUNT count:integer]"),
    CommandSpec::new("blpop", -3, WRITE | NOSCRIPT | BLOCKING, blpop).key_specs(&[KeySpec::index(1).range(-2, 1, 0).flags(RW | ACCESS | DELETE)])
        .doc(Group::List, "2.0.0", "Remove and get the first element in a list, or block until one is available")
        .complexity("O(N) where N is the number of provided keys.")
        .syntax("key... timeout:double")
        .history(TIMEOUT_AS_DOUBLE),
    CommandSpec::new("brpop", -3, WRITE | NOSCRIPT | BLOCKING, brpop).key_specs(&[KeySpec::index(1).range(-2, 1, 0).flags(RW | ACCESS | DELETE)])
        .doc(Group::List, "2.0.0", "Remove and get the last element in a list, or block until one is available")
        .complexity("O(N) where N is the number of provided keys.")
        .syntax("key... timeout:double")
        .history(TIMEOUT_AS_DOUBLE),
    CommandSpec::new("blmove", 6, WRITE | DENYOOM | NOSCRIPT | BLOCKING, blmove).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE), KeySpec::index(2).range(0, 1, 0).flags(RW | INSERT)])
        .doc(Group::List, "6.2.0", "Pop an element from a list, push it to another list and return it; or block until one is available")
        .syntax(
            "source:key destination:key{k=1} wherefrom=(LEFT | RIGHT) whereto=(LEFT | RIGHT) \
             timeout:double",
        ),
    CommandSpec::new("brpoplpush", 4, WRITE | DENYOOM | NOSCRIPT | BLOCKING, brpoplpush).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE), KeySpec::index(2).range(0, 1, 0).flags(RW | INSERT)])
        .doc(
            Group::List,
            "2.2.0",
            "Pop an element from a list, push it to another list and return it; or block until one is available",
        )
        .syntax("source:key destination:key{k=1} timeout:double")
        .history(TIMEOUT_AS_DOUBLE)
        .deprecated(&("6.2.0", "`BLMOVE` with the `RIGHT` and `LEFT` arguments")),
        CommandSpec::new("blmpop", -5, WRITE | BLOCKING, blmpop).key_specs(&[KeySpec::index(2).keynum(0, 1, 1).flags(RW | ACCESS | DELETE)])
        .doc(Group::List, "7.0.0", "Pop elements from a list, or block until one is available")
        .complexity("O(N+M) where N is the number of provided keys and M is the number of elements returned.")
        .syntax("timeout:double numkeys:integer key... where=(LEFT | RIGHT) [COUNT count:integer]"),
];

/// Writes one element as a bulk string.
fn write_elem(out: &mut ReplyWriter<'_>, elem: Elem<'_>) {
    match elem {
        Elem::Int(n) => out.bulk_integer(n),
        Elem::Str(s) => out.bulk(s),
    }
}

/// The keyspace event of a push at `end`.
fn push_event(end: End) -> &'static str {
    match end {
        End::Left => "lpush",
        End::Right => "rpush",
    }
}

/// The keyspace event of a pop at `end`.
fn pop_event(end: End) -> &'static str {
    match end {
        End::Left => "lpop",
        End::Right => "rpop",
    }
}

/// Argument `i` as LEFT or RIGHT.
fn arg_end(ctx: &Ctx<'_>, i: usize) -> Result<End, CommandError> {
    keyword(ctx, i, &[("LEFT", End::Left), ("RIGHT", End::Right)])
}

/// Pushes `values` at `end` of the list at `key` in database `db_index` (created, with the
/// configured node limits, when missing and `create`), then emits the push event and wakes
/// clients blocked on the key. Returns the new length, or None when the key was missing and not
/// created.
fn push_values(
    ctx: &mut Ctx<'_>,
    locked: &mut Locked<'_>,
    db_index: usize,
    key: &[u8],
    end: End,
    values: &[&[u8]],
    create: bool,
) -> Result<Option<usize>, CommandError> {
    let limits = ctx.encoding_limits();
    let (db, hash) = locked.db(db_index, key);
    let list = if create {
        access::write_or_create::<List>(ctx, db, hash, key, &limits)?
    } else {
        let Some(list) = access::write::<List>(ctx, db, hash, key)? else {
            return Ok(None);
        };
        list
    };
    for value in values {
        list.push(end, value);
    }
    let len = list.len();
    ctx.changed(db, key, Class::List, push_event(end));
    ctx.key_ready(db_index, key);
    ctx.dirty(values.len() as u64);
    Ok(Some(len))
}

/// Elements popped from a list, in pop order; inline for the one of LPOP/RPOP without a count
/// and of the blocking pops, the common case, which then allocates only the element.
pub type Popped = SmallVec<[Vec<u8>; 1]>;

/// Pops up to `count` elements from `end` of the list at `key` in database `db_index`, whose
/// shard the caller has locked in `locked`. Returns the popped elements in pop order, or None
/// when the key does not exist; WRONGTYPE when it holds another type. When anything was popped
/// it emits the `lpop`/`rpop` event, deletes the key if the list emptied (emitting `del`) and
/// counts the changes. A `count` of 0 pops nothing and changes nothing.
pub fn pop_from(
    ctx: &Ctx<'_>,
    locked: &mut Locked<'_>,
    db_index: usize,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Popped>, CommandError> {
    let (db, hash) = locked.db(db_index, key);
    let Some(list) = access::write::<List>(ctx, db, hash, key)? else {
        return Ok(None);
    };
    let popped: Popped = (0..count.min(list.len()))
        .map(|_| list.pop(end).expect("within the length"))
        .collect();
    let now_empty = list.is_empty();
    if !popped.is_empty() {
        // The blocking and multi-key forms are logged as the LPOP/RPOP they amount to, as
        // Redis does (LMPOP and BLMPOP with the count actually popped).
        let name = ctx.command.spec.name;
        if name != "lpop" && name != "rpop" {
            let verb: &[u8] = if matches!(end, End::Left) {
                b"LPOP"
            } else {
                b"RPOP"
            };
            let count = popped.len().to_string();
            if name.ends_with("mpop") {
                ctx.propagate_as(&[verb, key, count.as_bytes()]);
            } else {
                ctx.propagate_as(&[verb, key]);
            }
        }
        access::removed::<List>(ctx, db, hash, key, pop_event(end), now_empty);
        ctx.dirty(popped.len() as u64);
    }
    Ok(Some(popped))
}

/// LMPOP's operation: pops up to `count` elements from `end` of the first existing list among
/// `keys` (all locked by the caller), as [`pop_from`] does. Returns the index in `keys` of the
/// list popped from and the elements, or None when no key exists. A key of another type met
/// before any list is a WRONGTYPE error.
pub fn pop_first(
    ctx: &Ctx<'_>,
    locked: &mut Locked<'_>,
    db_index: usize,
    keys: &[&[u8]],
    end: End,
    count: usize,
) -> Result<Option<(usize, Popped)>, CommandError> {
    for (i, key) in keys.iter().enumerate() {
        let popped = ctx.past_other_types(pop_from(ctx, locked, db_index, key, end, count))?;
        if let Some(popped) = popped {
            return Ok(Some((i, popped)));
        }
    }
    Ok(None)
}

/// LMOVE's operation: pops an element from `from` of the list at `source` and pushes it at `to`
/// of the list at `destination` (created when missing), both in database `db_index` and locked
/// by the caller. Returns the element, or None when the source does not exist. WRONGTYPE when
/// the source, or (with an existing source) the destination, holds another type; then nothing
/// changes. On a blocked client's re-run a source of another type counts as missing (the
/// client waits on), but a destination of another type still fails: Redis answers the woken
/// BLMOVE with WRONGTYPE and leaves the element in the source. Emits the push event on the
/// destination and wakes its blocked clients, then the pop event on the source (and `del` if it
/// emptied), in Redis's order.
pub fn move_element(
    ctx: &mut Ctx<'_>,
    locked: &mut Locked<'_>,
    db_index: usize,
    source: &[u8],
    destination: &[u8],
    from: End,
    to: End,
) -> Result<Option<Vec<u8>>, CommandError> {
    let (db, hash) = locked.db(db_index, source);
    if ctx
        .past_other_types(access::write::<List>(ctx, db, hash, source))?
        .is_none()
    {
        return Ok(None);
    }
    let (db, dest_hash) = locked.db(db_index, destination);
    access::write::<List>(ctx, db, dest_hash, destination)?;
    let (db, hash) = locked.db(db_index, source);
    let list = access::write::<List>(ctx, db, hash, source)?.expect("checked above");
    let value = list.pop(from).expect("stored lists are never empty");
    // The source and destination may be the same list: the push refills the popped list, which
    // is why the source is only deleted (if empty) afterwards.
    let now_empty = list.is_empty() && source != destination;
    push_values(ctx, locked, db_index, destination, to, &[&value], true)?;
    let (db, hash) = locked.db(db_index, source);
    access::removed::<List>(ctx, db, hash, source, pop_event(from), now_empty);
    Ok(Some(value))
}

/// The reply of LMPOP and BLMPOP: the key popped from and its elements.
pub fn reply_key_and_elements(out: &mut ReplyWriter<'_>, key: &[u8], elements: &[Vec<u8>]) {
    out.array(2);
    out.bulk(key);
    write_values(out, elements);
}

/// An array of bulk strings.
fn write_values(out: &mut ReplyWriter<'_>, values: &[Vec<u8>]) {
    out.array(values.len());
    for v in values {
        out.bulk(v);
    }
}

/// LPUSH key element [element ...]
fn lpush(ctx: &mut Ctx<'_>) -> CmdResult {
    push_command(ctx, End::Left, true)
}

/// RPUSH key element [element ...]
fn rpush(ctx: &mut Ctx<'_>) -> CmdResult {
    push_command(ctx, End::Right, true)
}

/// LPUSHX key element [element ...]
fn lpushx(ctx: &mut Ctx<'_>) -> CmdResult {
    push_command(ctx, End::Left, false)
}

/// RPUSHX key element [element ...]
fn rpushx(ctx: &mut Ctx<'_>) -> CmdResult {
    push_command(ctx, End::Right, false)
}

/// The push commands: replies with the new length (0 for the X forms on a missing key).
fn push_command(ctx: &mut Ctx<'_>, end: End, create: bool) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let db = ctx.client.db;
    let values = &ctx.args[2..];
    let len = push_values(ctx, &mut locked, db, key, end, values, create)?;
    ctx.out.integer(len.unwrap_or(0) as i64);
    Ok(())
}

/// LPOP key [count]
fn lpop(ctx: &mut Ctx<'_>) -> CmdResult {
    pop_command(ctx, End::Left)
}

/// RPOP key [count]
fn rpop(ctx: &mut Ctx<'_>) -> CmdResult {
    pop_command(ctx, End::Right)
}

/// LPOP and RPOP: one element as a bulk string, or with a count an array; a missing key is the
/// null bulk string, or with a count the null array.
fn pop_command(ctx: &mut Ctx<'_>, end: End) -> CmdResult {
    if ctx.arg_count() > 3 {
        return Err(ctx.wrong_arity());
    }
    let count = if ctx.arg_count() == 3 {
        let n = ctx.arg_i64(2).ok().filter(|n| *n >= 0);
        let n = n.ok_or(CommandError::err("value is out of range, must be positive"))?;
        Some(usize::try_from(n).unwrap_or(usize::MAX))
    } else {
        None
    };
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let popped = pop_from(
        ctx,
        &mut locked,
        ctx.client.db,
        key,
        end,
        count.unwrap_or(1),
    )?;
    match (popped, count) {
        (None, Some(_)) => ctx.out.null_array(),
        (None, None) => ctx.out.null(),
        (Some(values), None) => ctx.out.bulk(&values[0]),
        (Some(values), Some(_)) => write_values(&mut ctx.out, &values),
    }
    Ok(())
}

/// LLEN key
fn llen(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let len = access::read::<List>(ctx, db, hash, key)?.map_or(0, |l| l.len());
    ctx.out.integer(len as i64);
    Ok(())
}

/// LRANGE key start stop
fn lrange(ctx: &mut Ctx<'_>) -> CmdResult {
    let (start, stop) = (ctx.arg_i64(2)?, ctx.arg_i64(3)?);
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let list = access::read::<List>(ctx, db, hash, key)?;
    let range = list.map_or(0..0, |l| access::range(start, stop, l.len()));
    ctx.out.array(range.len());
    if let Some(list) = list.filter(|_| !range.is_empty()) {
        for item in list.iter_from(range.start).take(range.len()) {
            write_elem(&mut ctx.out, item.elem());
        }
    }
    Ok(())
}

/// LINDEX key index
fn lindex(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    // As in Redis, a missing key replies null before the index is even parsed.
    let Some(list) = access::read::<List>(ctx, db, hash, key)? else {
        ctx.out.null();
        return Ok(());
    };
    let index = ctx.arg_i64(2)?;
    match access::index(index, list.len()).and_then(|i| list.get(i)) {
        Some(item) => write_elem(&mut ctx.out, item.elem()),
        None => ctx.out.null(),
    }
    Ok(())
}

/// LSET key index element
fn lset(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let list = access::write::<List>(ctx, db, hash, key)?.ok_or(CommandError::NoSuchKey)?;
    let index = ctx.arg_i64(2)?;
    let index = access::index(index, list.len()).ok_or(CommandError::err("index out of range"))?;
    list.set(index, ctx.arg(3));
    ctx.changed(db, key, Class::List, "lset");
    ctx.dirty(1);
    ctx.out.ok();
    Ok(())
}

/// LINSERT key BEFORE|AFTER pivot element
fn linsert(ctx: &mut Ctx<'_>) -> CmdResult {
    let after = keyword(ctx, 2, &[("AFTER", true), ("BEFORE", false)])?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(list) = access::write::<List>(ctx, db, hash, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let pivot = Needle::new(ctx.arg(3));
    let Some(at) = list.iter().position(|e| e.matches(&pivot)) else {
        ctx.out.integer(-1);
        return Ok(());
    };
    list.insert(at + after as usize, ctx.arg(4));
    let len = list.len();
    ctx.changed(db, key, Class::List, "linsert");
    ctx.key_ready(db.index(), key);
    ctx.dirty(1);
    ctx.out.integer(len as i64);
    Ok(())
}

/// LREM key count element
fn lrem(ctx: &mut Ctx<'_>) -> CmdResult {
    let count = ctx.arg_i64(2)?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(list) = access::write::<List>(ctx, db, hash, key)? else {
        ctx.out.integer(0);
        return Ok(());
    };
    let from = if count < 0 { End::Right } else { End::Left };
    let limit = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    let removed = list.remove_matching(&Needle::new(ctx.arg(3)), limit, from);
    if removed > 0 {
        let now_empty = list.is_empty();
        access::removed::<List>(ctx, db, hash, key, "lrem", now_empty);
        ctx.dirty(removed as u64);
    }
    ctx.out.integer(removed as i64);
    Ok(())
}

/// LTRIM key start stop
fn ltrim(ctx: &mut Ctx<'_>) -> CmdResult {
    let (start, stop) = (ctx.arg_i64(2)?, ctx.arg_i64(3)?);
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    if let Some(list) = access::write::<List>(ctx, db, hash, key)? {
        let before = list.len();
        let kept = access::range(start, stop, before);
        if kept.is_empty() {
            list.remove_range(0, before);
        } else {
            list.trim(kept.start, kept.end - 1);
        }
        let removed = before - list.len();
        let now_empty = list.is_empty();
        // Redis emits the event even when nothing was trimmed.
        access::removed::<List>(ctx, db, hash, key, "ltrim", now_empty);
        ctx.dirty(removed as u64);
    }
    ctx.out.ok();
    Ok(())
}

/// LPOS's options.
struct LposOptions {
    /// Which match to start from: 1 is the first; negative counts matches from the tail.
    rank: i64,
    /// With COUNT: how many matches to return, 0 meaning all.
    count: Option<usize>,
    /// How many elements to compare at most; 0 means no limit.
    maxlen: usize,
}

impl LposOptions {
    /// Parses the options after the element; each may repeat, the last one winning.
    fn parse(ctx: &Ctx<'_>) -> Result<Self, CommandError> {
        let mut o = LposOptions {
            rank: 1,
            count: None,
            maxlen: 0,
        };
        // COUNT and MAXLEN report a non-integer as negative, as Redis does.
        let non_negative = |i: usize, what: &'static str| {
            let n = ctx.arg_i64(i).ok().and_then(|n| usize::try_from(n).ok());
            n.ok_or(CommandError::err(what))
        };
        let mut i = 3;
        while i < ctx.arg_count() {
            if i + 1 == ctx.arg_count() {
                return Err(CommandError::Syntax);
            }
            if ctx.arg_is(i, "RANK") {
                o.rank = ctx.arg_i64(i + 1)?;
                if o.rank == 0 {
                    return Err(CommandError::err(
                        "RANK can't be zero: use 1 to start from the first match, 2 from the \
                         second ... or use negative to start from the end of the list",
                    ));
                }
            } else if ctx.arg_is(i, "COUNT") {
                o.count = Some(non_negative(i + 1, "COUNT can't be negative")?);
            } else if ctx.arg_is(i, "MAXLEN") {
                o.maxlen = non_negative(i + 1, "MAXLEN can't be negative")?;
            } else {
                return Err(CommandError::Syntax);
            }
            i += 2;
        }
        Ok(o)
    }

    /// The indexes of the matches of `needle` in `list` these options select.
    fn matches(&self, list: &List, needle: &Needle<'_>) -> Vec<usize> {
        let wanted = match self.count {
            None => 1,
            Some(0) => usize::MAX,
            Some(n) => n,
        };
        // Redis negates a negative rank, which leaves i64::MIN negative: it then skips nothing.
        let skip = match self.rank {
            i64::MIN => 0,
            rank => usize::try_from(rank.unsigned_abs() - 1).unwrap_or(usize::MAX),
        };
        let limit = if self.maxlen == 0 {
            usize::MAX
        } else {
            self.maxlen
        };
        let select = |elems: &mut dyn Iterator<Item = Item<'_>>| -> Vec<usize> {
            elems
                .take(limit)
                .enumerate()
                .filter(|(_, e)| e.matches(needle))
                .skip(skip)
                .take(wanted)
                .map(|(i, _)| i)
                .collect()
        };
        if self.rank < 0 {
            let last = list.len() - 1;
            let found = select(&mut list.iter_rev());
            found.into_iter().map(|i| last - i).collect()
        } else {
            select(&mut list.iter())
        }
    }
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]
fn lpos(ctx: &mut Ctx<'_>) -> CmdResult {
    let options = LposOptions::parse(ctx)?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let found = match access::read::<List>(ctx, db, hash, key)? {
        Some(list) => options.matches(list, &Needle::new(ctx.arg(2))),
        None => Vec::new(),
    };
    match (options.count, found.first()) {
        (Some(_), _) => {
            ctx.out.array(found.len());
            for i in found {
                ctx.out.integer(i as i64);
            }
        }
        (None, Some(&i)) => ctx.out.integer(i as i64),
        (None, None) => ctx.out.null(),
    }
    Ok(())
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT
fn lmove(ctx: &mut Ctx<'_>) -> CmdResult {
    let (from, to) = (arg_end(ctx, 3)?, arg_end(ctx, 4)?);
    move_command(ctx, from, to)
}

/// RPOPLPUSH source destination
fn rpoplpush(ctx: &mut Ctx<'_>) -> CmdResult {
    move_command(ctx, End::Right, End::Left)
}

/// LMOVE and RPOPLPUSH: the moved element, or null when the source does not exist.
fn move_command(ctx: &mut Ctx<'_>, from: End, to: End) -> CmdResult {
    move_or_block(ctx, from, to, None)
}

/// LMOVE and its blocking forms: with a timeout, a missing source blocks instead of replying
/// null.
fn move_or_block(ctx: &mut Ctx<'_>, from: End, to: End, timeout: Option<u64>) -> CmdResult {
    let (source, destination) = (ctx.arg(1), ctx.arg(2));
    // The blocking forms are logged as LMOVE and RPOPLPUSH, as Redis does.
    if timeout.is_some() {
        match ctx.arg_count() {
            6 => ctx.propagate_as(&[b"LMOVE", source, destination, ctx.arg(3), ctx.arg(4)]),
            _ => ctx.propagate_as(&[b"RPOPLPUSH", source, destination]),
        }
    }
    let mut locked = ctx.lock([source, destination]);
    let db = ctx.client.db;
    let moved = move_element(ctx, &mut locked, db, source, destination, from, to);
    match (moved?, timeout) {
        (Some(value), _) => ctx.out.bulk(&value),
        // Redis answers a timed-out move with a null array, but inside EXEC, where nothing
        // blocks, with LMOVE's null string.
        (None, Some(ms)) if !ctx.client.mode.nested() => {
            ctx.block(&[source], ms, |out| out.null_array())
        }
        (None, _) => ctx.out.null(),
    }
    Ok(())
}

/// BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout
fn blmove(ctx: &mut Ctx<'_>) -> CmdResult {
    let (from, to) = (arg_end(ctx, 3)?, arg_end(ctx, 4)?);
    let timeout = parse_timeout(ctx.arg(5))?;
    move_or_block(ctx, from, to, Some(timeout))
}

/// BRPOPLPUSH source destination timeout
fn brpoplpush(ctx: &mut Ctx<'_>) -> CmdResult {
    let timeout = parse_timeout(ctx.arg(3))?;
    move_or_block(ctx, End::Right, End::Left, Some(timeout))
}

/// BLPOP key [key ...] timeout
fn blpop(ctx: &mut Ctx<'_>) -> CmdResult {
    bpop(ctx, End::Left)
}

/// BRPOP key [key ...] timeout
fn brpop(ctx: &mut Ctx<'_>) -> CmdResult {
    bpop(ctx, End::Right)
}

/// BLPOP and BRPOP: the first non-empty list's key and element, or block on all the keys.
fn bpop(ctx: &mut Ctx<'_>, end: End) -> CmdResult {
    let timeout = parse_timeout(ctx.arg(ctx.arg_count() - 1))?;
    let keys = &ctx.args[1..ctx.arg_count() - 1];
    let mut locked = ctx.lock(keys.iter().copied());
    match pop_first(ctx, &mut locked, ctx.client.db, keys, end, 1)? {
        Some((i, popped)) => {
            ctx.out.array(2);
            ctx.out.bulk(keys[i]);
            ctx.out.bulk(&popped[0]);
        }
        None => ctx.block(keys, timeout, |out| out.null_array()),
    }
    Ok(())
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn lmpop(ctx: &mut Ctx<'_>) -> CmdResult {
    mpop(ctx, false)
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx<'_>) -> CmdResult {
    mpop(ctx, true)
}

/// LMPOP and BLMPOP (`blocking`, whose timeout comes first and is checked last, as Redis does).
/// Blocking, finding no list blocks instead of replying null.
fn mpop(ctx: &mut Ctx<'_>, blocking: bool) -> CmdResult {
    let sides = [("LEFT", End::Left), ("RIGHT", End::Right)];
    let MultiPop {
        keys,
        side: end,
        count,
    } = MultiPop::parse(ctx, 1 + blocking as usize, &sides)?;
    let timeout = match blocking {
        true => Some(parse_timeout(ctx.arg(1))?),
        false => None,
    };
    let mut locked = ctx.lock(keys.iter().copied());
    match (
        pop_first(ctx, &mut locked, ctx.client.db, keys, end, count)?,
        timeout,
    ) {
        (Some((i, popped)), _) => reply_key_and_elements(&mut ctx.out, keys[i], &popped),
        (None, None) => ctx.out.null_array(),
        (None, Some(ms)) => ctx.block(keys, ms, |out| out.null_array()),
    }
    Ok(())
}

/// Keyspace events and blocked-client wake-ups, checked in-process: the commands run through
/// the real dispatcher, with a pattern subscriber on the server's pub/sub registry.
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::blocking::{Waiter, WakeOrder};
    use crate::client::{ClientHandle, ClientState};
    use crate::config::Config;
    use crate::dispatch::execute;
    use crate::notify::parse_flags;
    use crate::pubsub::Push;
    use crate::server::Server;

    struct Harness {
        server: std::sync::Arc<Server>,
        client: ClientState,
        subscriber: Arc<ClientHandle>,
    }

    impl Harness {
        fn new() -> Self {
            let server = std::sync::Arc::new(Server::new(Config::default(), None));
            server.notifier.set_flags(parse_flags("KEA").unwrap());
            let subscriber = Arc::new(ClientHandle::new(1000, "sub".into(), "local".into(), -1));
            server.pubsub.psubscribe(&subscriber, b"__keyevent@*");
            let handle = ClientHandle::new(1, "cli".into(), "local".into(), -1);
            let client = ClientState::new(Arc::new(handle), server.stats.workers[0].clone(), true);
            Harness {
                server,
                client,
                subscriber,
            }
        }

        /// Runs a command; returns its reply, the events it emitted as `event key`, and the
        /// keys it reported ready.
        /// Runs a command; returns its reply, its keyspace events, and which of a few watched
        /// keys (as "db:key") it woke a blocked client on.
        fn run(&mut self, args: &[&str]) -> (String, Vec<String>, Vec<String>) {
            const WATCHED: &[(usize, &str)] =
                &[(0, "a"), (0, "b"), (0, "missing"), (3, "x"), (3, "y")];
            let waiters: Vec<_> = WATCHED
                .iter()
                .map(|(db, key)| {
                    let waiter = Waiter::new(WakeOrder::Fifo);
                    self.server
                        .blocking
                        .register(*db, &[key.as_bytes().to_vec()], &waiter);
                    waiter
                })
                .collect();
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            let mut out = Vec::new();
            execute(&self.server, &mut self.client, &args, &mut out);
            let mut events = Vec::new();
            let mut pushes = std::collections::VecDeque::new();
            self.subscriber.take_pushes(&mut pushes);
            for push in pushes {
                if let Push::PMessage {
                    channel, message, ..
                } = push
                {
                    let channel = String::from_utf8_lossy(&channel).into_owned();
                    let event = channel.trim_start_matches("__keyevent@0__:");
                    events.push(format!("{event} {}", String::from_utf8_lossy(&message)));
                }
            }
            let mut ready = Vec::new();
            for ((db, key), waiter) in WATCHED.iter().zip(&waiters) {
                if waiter.take_wake().is_some() {
                    ready.push(format!("{db}:{key}"));
                }
                self.server
                    .blocking
                    .deregister(*db, &[key.as_bytes().to_vec()], waiter);
            }
            (String::from_utf8(out).unwrap(), events, ready)
        }

        /// The events of a command.
        fn events(&mut self, args: &[&str]) -> Vec<String> {
            self.run(args).1
        }
    }

    #[test]
    fn events_match_redis() {
        let mut h = Harness::new();
        assert_eq!(h.events(&["RPUSH", "a", "1", "2"]), ["rpush a"]);
        assert_eq!(h.events(&["LPUSH", "a", "0"]), ["lpush a"]);
        assert!(h.events(&["LPUSHX", "missing", "x"]).is_empty());
        assert_eq!(h.events(&["RPUSHX", "a", "3"]), ["rpush a"]);
        // The destination's push comes first, then the source's pop, then its deletion.
        assert_eq!(
            h.events(&["LMOVE", "a", "b", "LEFT", "RIGHT"]),
            ["rpush b", "lpop a"]
        );
        assert_eq!(h.events(&["RPOPLPUSH", "b", "b"]), ["lpush b", "rpop b"]);
        assert_eq!(h.events(&["LPOP", "b", "5"]), ["lpop b", "del b"]);
        assert!(h.events(&["LPOP", "a", "0"]).is_empty());
        assert_eq!(h.events(&["LSET", "a", "0", "x"]), ["lset a"]);
        assert_eq!(
            h.events(&["LINSERT", "a", "BEFORE", "x", "y"]),
            ["linsert a"]
        );
        assert!(h
            .events(&["LINSERT", "a", "BEFORE", "nope", "y"])
            .is_empty());
        assert!(h.events(&["LREM", "a", "0", "nope"]).is_empty());
        assert_eq!(h.events(&["LREM", "a", "1", "y"]), ["lrem a"]);
        // LTRIM notifies even when it removes nothing.
        assert_eq!(h.events(&["LTRIM", "a", "0", "-1"]), ["ltrim a"]);
        assert_eq!(h.events(&["LTRIM", "a", "5", "1"]), ["ltrim a", "del a"]);
        h.events(&["RPUSH", "c", "1", "2"]);
        assert_eq!(
            h.events(&["LMPOP", "2", "a", "c", "RIGHT", "COUNT", "5"]),
            ["rpop c", "del c"]
        );
        h.events(&["RPUSH", "c", "1"]);
        assert_eq!(h.events(&["LREM", "c", "0", "1"]), ["lrem c", "del c"]);
        h.events(&["RPUSH", "c", "1"]);
        assert_eq!(
            h.events(&["LMOVE", "c", "c", "LEFT", "LEFT"]),
            ["lpush c", "lpop c"]
        );
        assert!(h
            .events(&["LMOVE", "missing", "c", "LEFT", "LEFT"])
            .is_empty());
    }

    #[test]
    fn pushes_report_ready_keys() {
        let mut h = Harness::new();
        assert_eq!(h.run(&["RPUSH", "a", "1"]).2, ["0:a"]);
        assert_eq!(h.run(&["LPUSHX", "a", "1"]).2, ["0:a"]);
        assert!(h.run(&["LPUSHX", "missing", "1"]).2.is_empty());
        assert_eq!(h.run(&["LMOVE", "a", "b", "LEFT", "LEFT"]).2, ["0:b"]);
        assert_eq!(h.run(&["LINSERT", "a", "AFTER", "1", "2"]).2, ["0:a"]);
        assert!(h.run(&["LPOP", "a"]).2.is_empty());
        h.run(&["SELECT", "3"]);
        assert_eq!(h.run(&["RPOPLPUSH", "x", "y"]).0, "$-1\r\n");
        assert_eq!(h.run(&["LPUSH", "y", "1"]).2, ["3:y"]);
    }
}
