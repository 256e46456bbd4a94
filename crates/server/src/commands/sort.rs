//! SORT and SORT_RO: sorting the elements of a list, set or sorted set, optionally by weights
//! or with values looked up in other keys (`BY`/`GET` patterns), and storing the result.

use std::cmp::Ordering;

use redis_lite_engine::{Deletion, Locked, Value};
use redis_lite_protocol::number::strtod;

use crate::command::acl;
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::{KeyRef, KeySpec};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

/// SORT_RO's arguments; SORT's add STORE.
macro_rules! sort_syntax {
    () => {
        "key [BY pattern:pattern{k=1}] [LIMIT offset_count=(offset:integer count:integer)] \
         [GET pattern:pattern{k=1 mt}...] order=[ASC | DESC] [ALPHA{n=sorting}]"
    };
}

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, WRITE | DENYOOM, sort).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS), KeySpec::unknown().flags(RO | ACCESS).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort"), KeySpec::unknown().flags(OW | UPDATE).notes("For the optional STORE keyword. It is marked 'unknown' because the keyword can appear anywhere in the argument array")])
        .keys_proc(sort_store_key)
        .doc(Group::Generic, "1.0.0", "Sort the elements in a list, set or sorted set")
        .complexity(
            "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of \
             returned elements. When the elements are not sorted, complexity is O(N).",
        )
        .syntax(concat!(sort_syntax!(), " [STORE destination:key{k=2}]"))
        .acl(acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS)
        .no_group_acl(),
    CommandSpec::new("sort_ro", -2, READONLY, sort_ro).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS), KeySpec::unknown().flags(RO | ACCESS).notes("For the optional BY/GET keyword. It is marked 'unknown' because the key names derive from the content of the key we sort")])
        .doc(Group::Generic, "7.0.0", "Sort the elements in a list, set or sorted set. Read-only variant of SORT.")
        .complexity(
            "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of \
             returned elements. When the elements are not sorted, complexity is O(N).",
        )
        .syntax(sort_syntax!())
        .acl(acl::SET | acl::SORTEDSET | acl::LIST | acl::DANGEROUS)
        .no_group_acl(),
];

/// SORT's STORE destination, which its third key spec cannot place: the last `STORE dest`,
/// skipping the values of BY, GET and LIMIT (so `GET store` names a pattern, not the keyword).
fn sort_store_key(args: &[&[u8]], keys: &mut Vec<KeyRef>) {
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let arg = args[i];
        if arg.eq_ignore_ascii_case(b"limit") {
            i += 2;
        } else if arg.eq_ignore_ascii_case(b"get") || arg.eq_ignore_ascii_case(b"by") {
            i += 1;
        } else if arg.eq_ignore_ascii_case(b"store") && i + 1 < args.len() {
            i += 1;
            store = Some(i);
        }
        i += 1;
    }
    if let Some(pos) = store {
        keys.push(KeyRef {
            pos,
            flags: OW | UPDATE,
        });
    }
}

/// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA] [STORE destination]
fn sort(ctx: &mut Ctx<'_>) -> CmdResult {
    sort_generic(ctx, false)
}

/// SORT_RO key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
fn sort_ro(ctx: &mut Ctx<'_>) -> CmdResult {
    sort_generic(ctx, true)
}

#[derive(Default)]
struct Options<'a> {
    desc: bool,
    alpha: bool,
    limit: Option<(i64, i64)>,
    store: Option<&'a [u8]>,
    by: Option<&'a [u8]>,
    /// A BY pattern that has no `*` came: keep the natural order.
    dont_sort: bool,
    get: Vec<&'a [u8]>,
}

impl<'a> Options<'a> {
    fn parse(ctx: &Ctx<'a>, read_only: bool) -> Result<Self, CommandError> {
        let mut o = Options::default();
        // BY and GET patterns name keys no key spec declares: only a user that may read
        // every key may use them, as in Redis.
        let full_key_access =
            || crate::acl::check::full_key_access(ctx.server, ctx.client, ctx.command, ctx.args);
        let mut i = 2;
        while i < ctx.arg_count() {
            let left = ctx.arg_count() - i - 1;
            if ctx.arg_is(i, "ASC") {
                o.desc = false;
            } else if ctx.arg_is(i, "DESC") {
                o.desc = true;
            } else if ctx.arg_is(i, "ALPHA") {
                o.alpha = true;
            } else if ctx.arg_is(i, "LIMIT") && left >= 2 {
                o.limit = Some((ctx.arg_i64(i + 1)?, ctx.arg_i64(i + 2)?));
                i += 2;
            } else if ctx.arg_is(i, "STORE") && left >= 1 && !read_only {
                o.store = Some(ctx.arg(i + 1));
                i += 1;
            } else if ctx.arg_is(i, "BY") && left >= 1 {
                let pattern = ctx.arg(i + 1);
                if !pattern.contains(&b'*') {
                    // For good, as in Redis: a later BY with a `*` leaves the order alone too.
                    o.dont_sort = true;
                } else if ctx.server.cluster.enabled() {
                    // Its keys could be in any slot.
                    return Err(CommandError::err(
                        "BY option of SORT denied in Cluster mode.",
                    ));
                } else if !full_key_access() {
                    return Err(CommandError::err(
                        "BY option of SORT denied due to insufficient ACL permissions.",
                    ));
                }
                o.by = Some(pattern);
                i += 1;
            } else if ctx.arg_is(i, "GET") && left >= 1 {
                // Redis 7.0 refuses every GET in cluster mode, `#` and hash tags included.
                if ctx.server.cluster.enabled() {
                    return Err(CommandError::err(
                        "GET option of SORT denied in Cluster mode.",
                    ));
                }
                if !full_key_access() {
                    return Err(CommandError::err(
                        "GET option of SORT denied due to insufficient ACL permissions.",
                    ));
                }
                o.get.push(ctx.arg(i + 1));
                i += 1;
            } else {
                return Err(CommandError::Syntax);
            }
            i += 1;
        }
        Ok(o)
    }

    /// Whether other keys than the sorted one are read or written, so every shard is locked.
    fn touches_other_keys(&self) -> bool {
        self.store.is_some()
            || (self.by.is_some() && !self.dont_sort)
            || self.get.iter().any(|g| *g != b"#")
    }
}

/// One element being sorted, with what it sorts by.
struct Item {
    element: Vec<u8>,
    score: f64,
    by: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx<'_>, read_only: bool) -> CmdResult {
    let mut o = Options::parse(ctx, read_only)?;
    let key = ctx.arg(1);
    let db = ctx.client.db;
    let mut locked = if o.touches_other_keys() {
        ctx.lock_all()
    } else {
        ctx.lock([key])
    };
    let (table, hash) = locked.db(db, key);
    let index = table.index();
    let entry = table.get(hash, key, ctx.now_ms);
    ctx.count_lookup(index, key, entry.is_some());
    let (elements, is_set) = match entry.map(|e| e.value_mut()) {
        None => (Vec::new(), false),
        Some(Value::List(list)) => (list.iter().map(|e| e.to_vec()).collect(), false),
        Some(Value::Set(set)) => (set.iter().map(|m| m.to_vec()).collect::<Vec<_>>(), true),
        Some(Value::ZSet(zset)) => {
            // Redis's SORT (and SORT_RO) converts the sorted set it reads to a skiplist, for
            // good: OBJECT ENCODING shows it afterwards.
            zset.convert();
            let mut members = Vec::with_capacity(zset.len());
            zset.range(0, zset.len(), false, |member, _| {
                members.push(member.to_vec())
            });
            (members, false)
        }
        Some(_) => return Err(CommandError::WrongType),
    };
    // A set's natural order is arbitrary: when it is stored or read by a script, sort it so
    // the result is deterministic, as Redis does.
    if o.dont_sort && is_set && (o.store.is_some() || ctx.in_script()) {
        o.dont_sort = false;
        o.alpha = true;
        o.by = None;
    }
    let mut items = weigh(&mut locked, db, ctx.now_ms, &o, elements)?;
    if o.dont_sort && o.desc && !is_set {
        // Unsorted, DESC walks a list (or sorted set) from its far end.
        items.reverse();
    }
    if !o.dont_sort {
        items.sort_by(|a, b| {
            let order = compare(a, b, &o);
            if o.desc {
                order.reverse()
            } else {
                order
            }
        });
    }
    let (start, end) = limit_range(o.limit, items.len());
    let selected = items.get(start..end).unwrap_or_default();
    let mut output: Vec<Option<Vec<u8>>> = Vec::new();
    for item in selected {
        if o.get.is_empty() {
            output.push(Some(item.element.clone()));
        }
        for pattern in &o.get {
            output.push(lookup_pattern(
                &mut locked,
                db,
                ctx.now_ms,
                pattern,
                &item.element,
            ));
        }
    }
    match o.store {
        None => {
            drop(locked);
            ctx.out.array(output.len());
            for value in output {
                match value {
                    Some(v) => ctx.out.bulk(&v),
                    None => ctx.out.null(),
                }
            }
        }
        Some(destination) => {
            let (table, hash) = locked.db(db, destination);
            let count = output.len();
            if count > 0 {
                let values = output.iter().map(|v| v.as_deref().unwrap_or_default());
                // Redis 7.0 builds the stored list with the quicklist defaults (8 KB nodes, no
                // compression) whatever list-max-listpack-size and list-compress-depth say.
                let list = redis_lite_engine::list::List::from_values(-2, values);
                table.set(
                    hash,
                    destination,
                    Value::List(Box::new(list)),
                    false,
                    ctx.now_ms,
                );
                ctx.changed(table, destination, Class::List, "sortstore");
                // A stored list serves the clients blocked on its key, as any list's arrival does.
                ctx.key_ready(db, destination);
            } else if table.delete(hash, destination, Deletion::Server) {
                ctx.changed(table, destination, Class::Generic, "del");
            }
            drop(locked);
            ctx.dirty(count as u64);
            ctx.out.integer(count as i64);
        }
    }
    Ok(())
}

/// Computes what each element sorts by: its BY value (or itself), as a number unless ALPHA.
fn weigh(
    locked: &mut Locked<'_>,
    db: usize,
    now_ms: u64,
    o: &Options<'_>,
    elements: Vec<Vec<u8>>,
) -> Result<Vec<Item>, CommandError> {
    let mut items = Vec::with_capacity(elements.len());
    for element in elements {
        let mut item = Item {
            element,
            score: 0.0,
            by: None,
        };
        if !o.dont_sort {
            let by = match o.by {
                Some(pattern) => lookup_pattern(locked, db, now_ms, pattern, &item.element),
                None => Some(item.element.clone()),
            };
            if !o.alpha {
                // A missing weight key sorts as 0.
                if let Some(text) = &by {
                    item.score = c_strtod(text).ok_or(CommandError::err(
                        "One or more scores can't be converted into double",
                    ))?;
                }
            }
            item.by = by;
        }
        items.push(item);
    }
    Ok(items)
}

/// Redis's order: numbers by score (ties by element bytes), ALPHA by bytes, and with BY a
/// missing weight first.
fn compare(a: &Item, b: &Item, o: &Options<'_>) -> Ordering {
    if !o.alpha {
        return a
            .score
            .partial_cmp(&b.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.element.cmp(&b.element));
    }
    match (&a.by, &b.by) {
        (Some(x), Some(y)) => x.cmp(y),
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
    }
}

/// The slice of the sorted elements LIMIT selects, as Redis clamps it.
fn limit_range(limit: Option<(i64, i64)>, len: usize) -> (usize, usize) {
    let Some((offset, count)) = limit else {
        return (0, len);
    };
    let len = len as i64;
    let start = offset.max(0);
    let end = if count < 0 {
        len
    } else {
        start.saturating_add(count).min(len)
    };
    if start >= len {
        return (0, 0);
    }
    (start as usize, end.max(start) as usize)
}

/// Resolves a BY/GET pattern for an element: `#` is the element itself; otherwise the first `*`
/// is replaced by the element, and `key->field` reads a hash field. A missing key, a missing
/// field, a key of the wrong type, or a pattern without `*` gives None.
fn lookup_pattern(
    locked: &mut Locked<'_>,
    db: usize,
    now_ms: u64,
    pattern: &[u8],
    element: &[u8],
) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&b| b == b'*')?;
    let arrow = pattern[star + 1..]
        .windows(2)
        .position(|w| w == b"->")
        .map(|p| star + 1 + p)
        .filter(|&p| p + 2 < pattern.len());
    let key_end = arrow.unwrap_or(pattern.len());
    let mut key = pattern[..star].to_vec();
    key.extend_from_slice(element);
    key.extend_from_slice(&pattern[star + 1..key_end]);
    let (table, hash) = locked.db(db, &key);
    let value = table.get(hash, &key, now_ms)?.value();
    match (arrow, &*value) {
        (Some(arrow), Value::Hash(h)) => h.get(&pattern[arrow + 2..]).map(<[u8]>::to_vec),
        (None, Value::Int(n)) => Some(n.to_string().into_bytes()),
        (None, Value::Str(s)) => Some(s.to_vec()),
        (None, Value::RawStr(s)) => Some(s.to_vec()),
        _ => None,
    }
}

/// C's `strtod` over the whole text, as SORT converts weights: leading spaces and an empty
/// string (0) are accepted; trailing garbage, overflow, underflow and NaN are not.
fn c_strtod(text: &[u8]) -> Option<f64> {
    // Redis hands the value to strtod as a C string: it ends at the first NUL byte.
    let text = text.split(|&b| b == 0).next().unwrap_or_default();
    let (value, used, range_error) = strtod(text);
    (used == text.len() && !range_error && !value.is_nan()).then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_clamp_like_redis() {
        assert_eq!(limit_range(None, 5), (0, 5));
        assert_eq!(limit_range(Some((1, 2)), 5), (1, 3));
        assert_eq!(limit_range(Some((-3, 2)), 5), (0, 2));
        assert_eq!(limit_range(Some((2, -1)), 5), (2, 5));
        assert_eq!(limit_range(Some((7, 2)), 5), (0, 0));
        assert_eq!(limit_range(Some((4, 100)), 5), (4, 5));
    }

    #[test]
    fn weights_parse_like_strtod() {
        assert_eq!(c_strtod(b" 1.5"), Some(1.5));
        assert_eq!(c_strtod(b""), Some(0.0));
        assert_eq!(c_strtod(b"1x"), None);
        assert_eq!(c_strtod(b"1e999"), None);
        assert_eq!(c_strtod(b"nan"), None);
        assert_eq!(c_strtod(b"\0\r\nx"), Some(0.0));
        assert_eq!(c_strtod(b"2\0x"), Some(2.0));
    }
}
