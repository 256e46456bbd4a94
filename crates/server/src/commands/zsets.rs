//! Sorted set commands: ZADD and friends, ranges by rank, score and lex, pops, set algebra
//! (ZUNION/ZINTER/ZDIFF and their STORE forms), ZRANDMEMBER and ZSCAN. The data structure is
//! `redis_lite_engine::zset`; this file parses, looks up, replies and notifies.

use std::collections::HashMap;

use rand::Rng;
use redis_lite_engine::glob::glob_match;
use redis_lite_engine::set::Set;
use redis_lite_engine::zset::ZSet;
use redis_lite_engine::{Db, Entry, Locked, SmallBytes, Value};
use redis_lite_protocol::number::{format_f64, parse_i64, strtod};
use redis_lite_protocol::ReplyWriter;

use crate::blocking::parse_timeout;
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::CommandSpec;
use crate::command::Group;
use crate::command::KeySpec;
use crate::commands::access::{self, scan_reply, MultiPop, ScanOptions};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;

/// A key argument plus the spec fields every single-key sorted-set command shares.
const fn one_key(spec: CommandSpec, since: &'static str, summary: &'static str) -> CommandSpec {
    spec.doc(Group::SortedSet, since, summary)
}

/// Commands whose keys follow a `numkeys` argument (COMMAND INFO reports them as movable).
/// A command whose keys follow a numkeys argument at index 1.
const fn numkeys(spec: CommandSpec, since: &'static str, summary: &'static str) -> CommandSpec {
    spec.doc(Group::SortedSet, since, summary)
}

const LOG_N: &str = "O(log(N))";
const RANGE_COST: &str = "O(log(N)+M) with N being the number of elements in the sorted set and \
     M the number of elements returned.";
const REMOVE_COST: &str = "O(log(N)+M) with N being the number of elements in the sorted set and \
     M the number of elements removed by the operation.";
const POP_COST: &str = "O(log(N)*M) with N being the number of elements in the sorted set, and M \
     being the number of elements popped.";
const UNION_COST: &str = "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted \
     sets, and M being the number of elements in the resulting sorted set.";
const INTER_COST: &str = "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted \
     set, K being the number of input sorted sets and M being the number of elements in the \
     resulting sorted set.";
const DIFF_COST: &str = "O(L + (N-K)log(N)) worst case where L is the total number of elements \
     in all the sets, N is the size of the first set, and K is the size of the result set.";

/// The complexity of the ZRANGEBYLEX family.
const LEX_RANGE_COMPLEXITY: &str =
    "O(log(N)+M) with N being the number of elements in the sorted set and M \
     the number of elements being returned. If M is constant (e.g. always asking for the first 10 \
     elements with LIMIT), you can consider it O(log(N)).";

pub static COMMANDS: &[CommandSpec] = &[
    one_key(
        CommandSpec::new("zadd", -4, WRITE | DENYOOM | FAST, zadd).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | UPDATE)]),
        "1.2.0",
        "Add one or more members to a sorted set, or update its score if it already exists",
    )
    .complexity("O(log(N)) for each item added, where N is the number of elements in the sorted set.")
    .syntax(
        "key condition=[NX | XX]{s=3.0.2} comparison=[GT | LT]{s=6.2.0} [CH{s=3.0.2 n=change}] \
         [INCR{s=3.0.2 n=increment}] score_member=(score:double member)...",
    )
    .history(&[
        ("2.4.0", "Accepts multiple elements."),
        ("3.0.2", "Added the `XX`, `NX`, `CH` and `INCR` options."),
        ("6.2.0", "Added the `GT` and `LT` options."),
    ]),
    one_key(
        CommandSpec::new("zincrby", 4, WRITE | DENYOOM | FAST, zincrby).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | UPDATE)]),
        "1.2.0",
        "Increment the score of a member in a sorted set",
    )
    .complexity("O(log(N)) where N is the number of elements in the sorted set.")
    .syntax("key increment:integer member"),
    one_key(
        CommandSpec::new("zrem", -3, WRITE | FAST, zrem).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)]),
        "1.2.0",
        "Remove one or more members from a sorted set",
    )
    .complexity("O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.")
    .syntax("key member...")
        .history(&[
            ("2.4.0", "Accepts multiple elements."),
        ]),
    one_key(
        CommandSpec::new("zscore", 3, READONLY | FAST, zscore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "1.2.0",
        "Get the score associated with the given member in a sorted set",
    )
    .syntax("key member"),
    one_key(
        CommandSpec::new("zmscore", -3, READONLY | FAST, zmscore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "6.2.0",
        "Get the score associated with the given members in a sorted set",
    )
    .complexity("O(N) where N is the number of members being requested.")
    .syntax("key member..."),
    one_key(
        CommandSpec::new("zcard", 2, READONLY | FAST, zcard).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO)]),
        "1.2.0",
        "Get the number of members in a sorted set",
    )
    .syntax("key"),
    one_key(
        CommandSpec::new("zcount", 4, READONLY | FAST, zcount).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "2.0.0",
        "Count the members in a sorted set with scores within the given values",
    )
    .complexity("O(log(N)) with N being the number of elements in the sorted set.")
    .syntax("key min:double max:double"),
    one_key(
        CommandSpec::new("zlexcount", 4, READONLY | FAST, zlexcount).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "2.8.9",
        "Count the number of members in a sorted set between a given lexicographical range",
    )
    .complexity("O(log(N)) with N being the number of elements in the sorted set.")
    .syntax("key min max"),
    one_key(
        CommandSpec::new("zrange", -4, READONLY, zrange).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "1.2.0",
        "Return a range of members in a sorted set",
    )
    .complexity(RANGE_COST)
    .syntax(
        "key start stop sortby=[BYSCORE | BYLEX]{s=6.2.0} [REV{s=6.2.0}] [LIMIT \
         offset_count=(offset:integer count:integer){s=6.2.0}] [WITHSCORES]",
    )
    .history(&[
        ("6.2.0", "Added the `REV`, `BYSCORE`, `BYLEX` and `LIMIT` options."),
    ]),
    one_key(
        CommandSpec::new("zrangebyscore", -4, READONLY, zrangebyscore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "1.0.5",
        "Return a range of members in a sorted set, by score",
    )
    .complexity(LEX_RANGE_COMPLEXITY)
    .syntax(
        "key min:double max:double [WITHSCORES{s=2.0.0}] [LIMIT offset_count=(offset:integer \
         count:integer)]",
    )
    .history(&[
        ("2.0.0", "Added the `WITHSCORES` modifier."),
    ])
        .deprecated(&("6.2.0", "`ZRANGE` with the `BYSCORE` argument")),
    one_key(
        CommandSpec::new("zrevrange", -4, READONLY, zrevrange).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "1.2.0",
        "Return a range of members in a sorted set, by index, with scores ordered from high to low",
    )
    .complexity(RANGE_COST)
    .syntax("key start:integer stop:integer [WITHSCORES]")
        .deprecated(&("6.2.0", "`ZRANGE` with the `REV` argument")),
    one_key(
        CommandSpec::new("zrevrangebyscore", -4, READONLY, zrevrangebyscore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "2.2.0",
        "Return a range of members in a sorted set, by score, with scores ordered from high to low",
    )
    .complexity(LEX_RANGE_COMPLEXITY)
    .syntax(
        "key max:double min:double [WITHSCORES] offset_count=[LIMIT offset:integer count:integer]",
    )
        .history(&[
            ("2.1.6", "`min` and `max` can be exclusive."),
        ])
        .deprecated(&("6.2.0", "`ZRANGE` with the `REV` and `BYSCORE` arguments")),
    one_key(
        CommandSpec::new("zrangebylex", -4, READONLY, zrangebylex).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range",
    )
    .complexity(LEX_RANGE_COMPLEXITY)
    .syntax("key min max offset_count=[LIMIT offset:integer count:integer]")
        .deprecated(&("6.2.0", "`ZRANGE` with the `BYLEX` argument")),
    one_key(
        CommandSpec::new("zrevrangebylex", -4, READONLY, zrevrangebylex).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "2.8.9",
        "Return a range of members in a sorted set, by lexicographical range, ordered from higher to lower strings.",
    )
    .complexity(LEX_RANGE_COMPLEXITY)
    .syntax("key max min offset_count=[LIMIT offset:integer count:integer]")
        .deprecated(&("6.2.0", "`ZRANGE` with the `REV` and `BYLEX` arguments")),
    CommandSpec::new("zrangestore", -5, WRITE | DENYOOM, zrangestore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE), KeySpec::index(2).range(0, 1, 0).flags(RO | ACCESS)])
        .doc(Group::SortedSet, "6.2.0", "Store a range of members from sorted set into another key")
        .complexity("O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.")
        .syntax(
            "dst:key src:key{k=1} min max sortby=[BYSCORE | BYLEX] [REV] [LIMIT \
             offset_count=(offset:integer count:integer)]",
        ),
    one_key(
        CommandSpec::new("zrank", 3, READONLY | FAST, zrank).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "2.0.0",
        "Determine the index of a member in a sorted set",
    )
    .complexity(LOG_N)
    .syntax("key member"),
    one_key(
        CommandSpec::new("zrevrank", 3, READONLY | FAST, zrevrank).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]),
        "2.0.0",
        "Determine the index of a member in a sorted set, with scores ordered from high to low",
    )
    .complexity(LOG_N)
    .syntax("key member"),
    one_key(
        CommandSpec::new("zremrangebyrank", 4, WRITE, zremrangebyrank).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)]),
        "2.0.0",
        "Remove all members in a sorted set within the given indexes",
    )
    .complexity(REMOVE_COST)
    .syntax("key start:integer stop:integer"),
    one_key(
        CommandSpec::new("zremrangebyscore", 4, WRITE, zremrangebyscore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)]),
        "1.2.0",
        "Remove all members in a sorted set within the given scores",
    )
    .complexity(REMOVE_COST)
    .syntax("key min:double max:double"),
    one_key(
        CommandSpec::new("zremrangebylex", 4, WRITE, zremrangebylex).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | DELETE)]),
        "2.8.9",
        "Remove all members in a sorted set between the given lexicographical range",
    )
    .complexity(REMOVE_COST)
    .syntax("key min max"),
    one_key(
        CommandSpec::new("zpopmin", -2, WRITE | FAST, zpopmin).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE)]),
        "5.0.0",
        "Remove and return members with the lowest scores in a sorted set",
    )
    .complexity(POP_COST)
    .syntax("key [count:integer]"),
    one_key(
        CommandSpec::new("zpopmax", -2, WRITE | FAST, zpopmax).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS | DELETE)]),
        "5.0.0",
        "Remove and return members with the highest scores in a sorted set",
    )
    .complexity(POP_COST)
    .syntax("key [count:integer]"),
    numkeys(
        CommandSpec::new("zmpop", -4, WRITE, zmpop).key_specs(&[KeySpec::index(1).keynum(0, 1, 1).flags(RW | ACCESS | DELETE)]),
        "7.0.0",
        "Remove and return members with scores in a sorted set",
    )
    .complexity("O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")
    .syntax("numkeys:integer key... where=(MIN | MAX) [COUNT count:integer]"),
        CommandSpec::new("bzpopmin", -3, WRITE | NOSCRIPT | FAST | BLOCKING, bzpopmin).key_specs(&[KeySpec::index(1).range(-2, 1, 0).flags(RW | ACCESS | DELETE)])
        .doc(Group::SortedSet, "5.0.0", "Remove and return the member with the lowest score from one or more sorted sets, or block until one is available")
        .complexity("O(log(N)) with N being the number of elements in the sorted set.")
        .syntax("key... timeout:double")
            .history(super::lists::TIMEOUT_AS_DOUBLE),
    CommandSpec::new("bzpopmax", -3, WRITE | NOSCRIPT | FAST | BLOCKING, bzpopmax).key_specs(&[KeySpec::index(1).range(-2, 1, 0).flags(RW | ACCESS | DELETE)])
        .doc(Group::SortedSet, "5.0.0", "Remove and return the member with the highest score from one or more sorted sets, or block until one is available")
        .complexity("O(log(N)) with N being the number of elements in the sorted set.")
        .syntax("key... timeout:double")
        .history(super::lists::TIMEOUT_AS_DOUBLE),
    CommandSpec::new("bzmpop", -5, WRITE | BLOCKING, bzmpop).key_specs(&[KeySpec::index(2).keynum(0, 1, 1).flags(RW | ACCESS | DELETE)])
        .doc(Group::SortedSet, "7.0.0", "Remove and return members with scores in a sorted set or block until one is available")
        .complexity("O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")
        .syntax("timeout:double numkeys:integer key... where=(MIN | MAX) [COUNT count:integer]"),
    numkeys(
        CommandSpec::new("zunion", -3, READONLY, zunion).key_specs(&[KeySpec::index(1).keynum(0, 1, 1).flags(RO | ACCESS)]),
        "6.2.0",
        "Add multiple sorted sets",
    )
    .complexity(UNION_COST)
    .syntax(
        "numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE aggregate=(SUM | MIN | \
         MAX)] [WITHSCORES]",
    ),
    numkeys(
        CommandSpec::new("zinter", -3, READONLY, zinter).key_specs(&[KeySpec::index(1).keynum(0, 1, 1).flags(RO | ACCESS)]),
        "6.2.0",
        "Intersect multiple sorted sets",
    )
    .complexity(INTER_COST)
    .syntax(
        "numkeys:integer key... [WEIGHTS weight:integer...] [AGGREGATE aggregate=(SUM | MIN | \
         MAX)] [WITHSCORES]",
    ),
    numkeys(
        CommandSpec::new("zdiff", -3, READONLY, zdiff).key_specs(&[KeySpec::index(1).keynum(0, 1, 1).flags(RO | ACCESS)]),
        "6.2.0",
        "Subtract multiple sorted sets",
    )
    .complexity(DIFF_COST)
    .syntax("numkeys:integer key... [WITHSCORES]"),
    CommandSpec::new("zunionstore", -4, WRITE | DENYOOM, zunionstore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE), KeySpec::index(2).keynum(0, 1, 1).flags(RO | ACCESS)])
        .doc(Group::SortedSet, "2.0.0", "Add multiple sorted sets and store the resulting sorted set in a new key")
        .complexity("O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.")
        .syntax(
            "destination:key numkeys:integer key{k=1}... [WEIGHTS weight:integer...] [AGGREGATE \
             aggregate=(SUM | MIN | MAX)]",
        ),
    CommandSpec::new("zinterstore", -4, WRITE | DENYOOM, zinterstore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE), KeySpec::index(2).keynum(0, 1, 1).flags(RO | ACCESS)])
        .doc(Group::SortedSet, "2.0.0", "Intersect multiple sorted sets and store the resulting sorted set in a new key")
        .complexity(INTER_COST)
        .syntax(
            "destination:key numkeys:integer key{k=1}... [WEIGHTS weight:integer...] [AGGREGATE \
             aggregate=(SUM | MIN | MAX)]",
        ),
    CommandSpec::new("zdiffstore", -4, WRITE | DENYOOM, zdiffstore).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(OW | UPDATE), KeySpec::index(2).keynum(0, 1, 1).flags(RO | ACCESS)])
        .doc(Group::SortedSet, "6.2.0", "Subtract multiple sorted sets and store the resulting sorted set in a new key")
        .complexity(DIFF_COST)
        .syntax("destination:key numkeys:integer key{k=1}..."),
    numkeys(
        CommandSpec::new("zintercard", -3, READONLY, zintercard).key_specs(&[KeySpec::index(1).keynum(0, 1, 1).flags(RO | ACCESS)]),
        "7.0.0",
        "Intersect multiple sorted sets and return the cardinality of the result",
    )
    .complexity("O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.")
    .syntax("numkeys:integer key... [LIMIT limit:integer]"),
    one_key(
        CommandSpec::new("zrandmember", -2, READONLY, zrandmember).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output"]),
        "6.2.0",
        "Get one or multiple random elements from a sorted set",
    )
    .complexity("O(N) where N is the number of elements returned")
    .syntax("key options=[count:integer [WITHSCORES]]"),
    one_key(
        CommandSpec::new("zscan", -3, READONLY, zscan).key_specs(&[KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS)]).tips(&["nondeterministic_output"]),
        "2.8.0",
        "Incrementally iterate sorted sets elements and associated scores",
    )
    .complexity("O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection..")
    .syntax("key cursor:integer [MATCH pattern:pattern] [COUNT count:integer]"),
];

// ---------------------------------------------------------------------------------------------
// Number parsing, as Redis's strtod-based helpers.
// ---------------------------------------------------------------------------------------------

/// C's `isspace`.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A score or weight argument, as Redis's `getDoubleFromObject`: the whole text is a number,
/// no leading space, no overflow to infinity or underflow to zero, not NaN.
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    if arg.is_empty() || is_c_space(arg[0]) {
        return None;
    }
    let (value, used, erange) = strtod(arg);
    let out_of_range = erange && (value.is_infinite() || value == 0.0);
    (used == arg.len() && !out_of_range && !value.is_nan()).then_some(value)
}

pub(crate) fn arg_score(ctx: &Ctx<'_>, i: usize) -> Result<f64, CommandError> {
    parse_score(ctx.arg(i)).ok_or(CommandError::NotFloat)
}

/// One end of a score range: `1.5`, `(1.5` (exclusive), `-inf`, `+inf`. Parsed as Redis's
/// `zslParseRange` does, which is laxer than scores (leading spaces and `(` alone pass).
fn parse_score_bound(arg: &[u8]) -> Option<(f64, bool)> {
    let (text, exclusive) = match arg.first() {
        Some(b'(') => (&arg[1..], true),
        _ => (arg, false),
    };
    let (value, used, _) = strtod(text);
    let text_len = text.iter().position(|&b| b == 0).unwrap_or(text.len());
    (used == text_len && !value.is_nan()).then_some((value, exclusive))
}

/// A score interval.
#[derive(Clone, Copy, Debug)]
struct ScoreRange {
    min: f64,
    min_ex: bool,
    max: f64,
    max_ex: bool,
}

impl ScoreRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, CommandError> {
        let bad = || CommandError::err("min or max is not a float");
        let (min, min_ex) = parse_score_bound(min).ok_or_else(bad)?;
        let (max, max_ex) = parse_score_bound(max).ok_or_else(bad)?;
        Ok(ScoreRange {
            min,
            min_ex,
            max,
            max_ex,
        })
    }

    /// The ascending rank interval of the members inside.
    fn ranks(&self, z: &ZSet) -> (usize, usize) {
        let start = z.count_while(|s, _| s < self.min || (self.min_ex && s == self.min));
        let end = z.count_while(|s, _| s < self.max || (!self.max_ex && s == self.max));
        (start, end.max(start))
    }
}

/// One end of a lex range: `-`, `+`, `[member` or `(member`.
#[derive(Clone, Debug)]
enum LexBound {
    Min,
    Max,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

impl LexBound {
    fn parse(arg: &[u8]) -> Option<Self> {
        match arg {
            b"-" => Some(LexBound::Min),
            b"+" => Some(LexBound::Max),
            [b'[', rest @ ..] => Some(LexBound::Inclusive(rest.to_vec())),
            [b'(', rest @ ..] => Some(LexBound::Exclusive(rest.to_vec())),
            _ => None,
        }
    }

    /// Whether `member` lies before this bound taken as a lower bound.
    fn below_min(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(x) => member < &x[..],
            LexBound::Exclusive(x) => member <= &x[..],
        }
    }

    /// Whether `member` lies within this bound taken as an upper bound.
    fn within_max(&self, member: &[u8]) -> bool {
        match self {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Inclusive(x) => member <= &x[..],
            LexBound::Exclusive(x) => member < &x[..],
        }
    }
}

#[derive(Clone, Debug)]
struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    fn parse(min: &[u8], max: &[u8]) -> Result<Self, CommandError> {
        let bad = || CommandError::err("min or max not valid string range item");
        Ok(LexRange {
            min: LexBound::parse(min).ok_or_else(bad)?,
            max: LexBound::parse(max).ok_or_else(bad)?,
        })
    }

    /// The ascending rank interval of the members inside, found as Redis finds it. Lex ranges
    /// assume members that share one score; when they do not, Redis's walk decides: nothing
    /// unless the last member is not below min and the first is within max; then forwards,
    /// from the first member not below min on while within max; backwards (`rev`), from the
    /// last member within max back while not below min. A listpack is searched from its ends;
    /// a skiplist by its search, whose binary counterpart here is `count_while`.
    fn ranks(&self, z: &ZSet, rev: bool) -> (usize, usize) {
        let len = z.len();
        let member = |rank: usize| z.get(rank).0;
        let within_ends =
            len > 0 && !self.min.below_min(member(len - 1)) && self.max.within_max(member(0));
        if !within_ends {
            return (0, 0);
        }
        if !rev {
            let Some(first) = self.first(z) else {
                return (0, 0);
            };
            let end = (first..len)
                .find(|&rank| !self.max.within_max(member(rank)))
                .unwrap_or(len);
            return (first, end);
        }
        let Some(last) = self.last(z) else {
            return (0, 0);
        };
        let start = (0..=last)
            .rev()
            .find(|&rank| self.min.below_min(member(rank)))
            .map_or(0, |rank| rank + 1);
        (start, last + 1)
    }

    /// The rank of the first member in range, searched from the low end (Redis's
    /// `zslFirstInLexRange`/`zzlFirstInLexRange`): the first not below min, if within max.
    fn first(&self, z: &ZSet) -> Option<usize> {
        let first = z.count_while(|_, m| self.min.below_min(m));
        (first < z.len() && self.max.within_max(z.get(first).0)).then_some(first)
    }

    /// The rank of the last member in range, searched from the high end: the last within max
    /// (a listpack walks back from its tail), if not below min.
    fn last(&self, z: &ZSet) -> Option<usize> {
        let len = z.len();
        let last = match z.encoding() {
            "listpack" => (0..len)
                .rev()
                .find(|&rank| self.max.within_max(z.get(rank).0)),
            _ => z.count_while(|_, m| self.max.within_max(m)).checked_sub(1),
        }?;
        (!self.min.below_min(z.get(last).0)).then_some(last)
    }

    /// ZLEXCOUNT's count: a listpack's counts the members of the forward walk, a skiplist's
    /// subtracts the ranks of the first and last members in range, as Redis does.
    fn count(&self, z: &ZSet) -> usize {
        let (start, end) = self.ranks(z, false);
        if end == start || z.encoding() == "listpack" {
            return end - start;
        }
        match self.last(z) {
            Some(last) => (last + 1).saturating_sub(start),
            None => z.len() - start,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Lookups, replies and notifications.
// ---------------------------------------------------------------------------------------------

/// How a list of entries is written: with or without scores, and with scores as [member, score]
/// pairs (RESP3 ranges, ZMPOP) or flat.
#[derive(Clone, Copy)]
struct Shape {
    scores: bool,
    pairs: bool,
}

impl Shape {
    /// The shape of range replies: pairs in RESP3.
    fn range(out: &ReplyWriter<'_>, scores: bool) -> Shape {
        Shape {
            scores,
            pairs: scores && out.is_resp3(),
        }
    }

    fn header(self, out: &mut ReplyWriter<'_>, len: usize) {
        out.array(if self.scores && !self.pairs {
            len * 2
        } else {
            len
        });
    }

    fn item(self, out: &mut ReplyWriter<'_>, member: &[u8], score: f64) {
        if self.pairs {
            out.array(2);
        }
        out.bulk(member);
        if self.scores {
            out.double(score);
        }
    }
}

/// After `count` members were removed from `key`: its events (and `del` when the set is
/// now empty) and the change count; nothing when none was.
fn removed(
    ctx: &Ctx<'_>,
    db: &mut Db,
    hash: u64,
    key: &[u8],
    event: &str,
    count: usize,
    now_empty: bool,
) {
    if count > 0 {
        access::removed::<ZSet>(ctx, db, hash, key, event, now_empty);
        ctx.dirty(count as u64);
    }
}

/// Stores `items` at `dest` as a new sorted set (any old value and TTL replaced) and replies
/// with its size; an empty result deletes `dest` instead. The set gets the encoding Redis gives
/// a result of that size. A stored result adds `changes` to the change count (Redis counts one
/// for most STORE commands, one per member for GEORADIUS's), a deletion one.
pub(crate) fn store(
    ctx: &mut Ctx<'_>,
    locked: &mut Locked<'_>,
    dest: &[u8],
    items: Vec<(Vec<u8>, f64)>,
    event: &str,
    changes: u64,
) {
    let result = (!items.is_empty()).then(|| {
        let limits = ctx.encoding_limits();
        let longest = items.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
        let mut z = ZSet::with_hint(items.len(), longest, &limits);
        for (member, score) in &items {
            z.insert(member, *score, &limits);
        }
        z
    });
    let len = result.as_ref().map_or(0, ZSet::len);
    let (db, hash) = locked.db(ctx.client.db, dest);
    let result = result.map(|z| Value::ZSet(Box::new(z)));
    if access::store(ctx, db, hash, dest, result, Class::ZSet, event) {
        ctx.dirty(if len > 0 { changes } else { 1 });
    }
    if len > 0 {
        ctx.key_ready(ctx.client.db, dest);
    }
    ctx.out.integer(len as i64);
}

// ---------------------------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM, lookups.
// ---------------------------------------------------------------------------------------------

/// ZADD's conditions, which GEOADD shares (NX, XX and CH only).
#[derive(Default)]
pub(crate) struct AddOptions {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
    pub ch: bool,
    pub incr: bool,
}

/// ZADD's body; ZINCRBY is ZADD with INCR and goes through the same option parser (so
/// `ZINCRBY key nx member` is a syntax error, as in Redis).
fn zadd_generic(ctx: &mut Ctx<'_>, incr: bool) -> CmdResult {
    let mut o = AddOptions {
        incr,
        ..AddOptions::default()
    };
    let mut first = 2;
    while first < ctx.arg_count() {
        let flag = match () {
            _ if ctx.arg_is(first, "NX") => &mut o.nx,
            _ if ctx.arg_is(first, "XX") => &mut o.xx,
            _ if ctx.arg_is(first, "CH") => &mut o.ch,
            _ if ctx.arg_is(first, "INCR") => &mut o.incr,
            _ if ctx.arg_is(first, "GT") => &mut o.gt,
            _ if ctx.arg_is(first, "LT") => &mut o.lt,
            _ => break,
        };
        *flag = true;
        first += 1;
    }
    let rest = ctx.arg_count() - first;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(CommandError::Syntax);
    }
    if o.nx && o.xx {
        return Err(CommandError::err(
            "XX and NX options at the same time are not compatible",
        ));
    }
    if (o.nx && (o.gt || o.lt)) || (o.gt && o.lt) {
        return Err(CommandError::err(
            "GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if o.incr && rest > 2 {
        return Err(CommandError::err(
            "INCR option supports a single increment-element pair",
        ));
    }
    // Every score is checked before anything changes: the command applies fully or not at all.
    let pairs = (first..ctx.arg_count())
        .step_by(2)
        .map(|i| Ok((arg_score(ctx, i)?, ctx.arg(i + 1))))
        .collect::<Result<Vec<_>, CommandError>>()?;
    add(ctx, &o, &pairs)
}

/// Adds or updates the (score, member) pairs in the sorted set at argument 1 under `o`'s
/// conditions and replies as ZADD does: ZADD's and GEOADD's work once their arguments are
/// checked.
pub(crate) fn add<'a>(ctx: &mut Ctx<'a>, o: &AddOptions, pairs: &[(f64, &'a [u8])]) -> CmdResult {
    let limits = ctx.encoding_limits();
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let z = if o.xx {
        let Some(z) = access::write::<ZSet>(ctx, db, hash, key)? else {
            match o.incr {
                true => ctx.out.null(),
                false => ctx.out.integer(0),
            }
            return Ok(());
        };
        z
    } else {
        access::write_or_create::<ZSet>(ctx, db, hash, key, &limits)?
    };
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last = 0.0;
    let mut nan = false;
    for &(score, member) in pairs {
        match z.score(member) {
            Some(_) if o.nx => {}
            Some(current) => {
                let new = if o.incr { score + current } else { score };
                if new.is_nan() {
                    nan = true;
                    break;
                }
                if (o.gt && new <= current) || (o.lt && new >= current) {
                    continue;
                }
                if new != current {
                    z.insert(member, new, &limits);
                    updated += 1;
                }
                processed += 1;
                last = new;
            }
            None if o.xx => {}
            None => {
                z.insert(member, score, &limits);
                added += 1;
                processed += 1;
                last = score;
            }
        }
    }
    let emptied = z.is_empty();
    if emptied {
        db.remove(hash, key);
    }
    if added + updated > 0 {
        ctx.changed(db, key, Class::ZSet, if o.incr { "zincr" } else { "zadd" });
        ctx.dirty(added + updated);
    }
    drop(locked);
    if added > 0 {
        ctx.key_ready(ctx.client.db, key);
    }
    if nan {
        return Err(CommandError::err("resulting score is not a number (NaN)"));
    }
    match (o.incr, processed > 0) {
        (true, true) => ctx.out.double(last),
        (true, false) => ctx.out.null(),
        (false, _) => ctx
            .out
            .integer(if o.ch { added + updated } else { added } as i64),
    }
    Ok(())
}

/// ZADD key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]
fn zadd(ctx: &mut Ctx<'_>) -> CmdResult {
    zadd_generic(ctx, false)
}

/// ZINCRBY key increment member
fn zincrby(ctx: &mut Ctx<'_>) -> CmdResult {
    zadd_generic(ctx, true)
}

/// ZREM key member [member ...]
fn zrem(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let (mut count, mut now_empty) = (0, false);
    if let Some(z) = access::write::<ZSet>(ctx, db, hash, key)? {
        for member in &ctx.args[2..] {
            count += z.remove(member).is_some() as usize;
            if z.is_empty() {
                break;
            }
        }
        now_empty = z.is_empty();
    }
    removed(ctx, db, hash, key, "zrem", count, now_empty);
    ctx.out.integer(count as i64);
    Ok(())
}

/// ZSCORE key member
fn zscore(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    match access::read::<ZSet>(ctx, db, hash, key)?.and_then(|z| z.score(ctx.arg(2))) {
        Some(score) => ctx.out.double(score),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZMSCORE key member [member ...]
fn zmscore(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let z = access::read::<ZSet>(ctx, db, hash, key)?;
    ctx.out.array(ctx.arg_count() - 2);
    for member in &ctx.args[2..] {
        match z.and_then(|z| z.score(member)) {
            Some(score) => ctx.out.double(score),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// ZCARD key
fn zcard(ctx: &mut Ctx<'_>) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let len = access::read::<ZSet>(ctx, db, hash, key)?.map_or(0, ZSet::len);
    ctx.out.integer(len as i64);
    Ok(())
}

/// Replies with the size of the rank interval `interval` picks out of the set at argument 1.
fn count_generic(ctx: &mut Ctx<'_>, interval: impl Fn(&ZSet) -> (usize, usize)) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let count = access::read::<ZSet>(ctx, db, hash, key)?.map_or(0, |z| {
        let (start, end) = interval(z);
        end - start
    });
    ctx.out.integer(count as i64);
    Ok(())
}

/// ZCOUNT key min max
fn zcount(ctx: &mut Ctx<'_>) -> CmdResult {
    let range = ScoreRange::parse(ctx.arg(2), ctx.arg(3))?;
    count_generic(ctx, |z| range.ranks(z))
}

/// ZLEXCOUNT key min max
fn zlexcount(ctx: &mut Ctx<'_>) -> CmdResult {
    let range = LexRange::parse(ctx.arg(2), ctx.arg(3))?;
    count_generic(ctx, |z| (0, range.count(z)))
}

/// ZRANK / ZREVRANK's body.
fn rank_generic(ctx: &mut Ctx<'_>, rev: bool) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let rank = access::read::<ZSet>(ctx, db, hash, key)?.and_then(|z| {
        z.rank(ctx.arg(2))
            .map(|r| if rev { z.len() - 1 - r } else { r })
    });
    match rank {
        Some(r) => ctx.out.integer(r as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

/// ZRANK key member
fn zrank(ctx: &mut Ctx<'_>) -> CmdResult {
    rank_generic(ctx, false)
}

/// ZREVRANK key member
fn zrevrank(ctx: &mut Ctx<'_>) -> CmdResult {
    rank_generic(ctx, true)
}

// ---------------------------------------------------------------------------------------------
// Ranges.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum By {
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Debug)]
enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// A parsed ZRANGE-family request.
#[derive(Debug)]
struct RangeQuery {
    bounds: Bounds,
    rev: bool,
    offset: i64,
    /// -1 for no limit.
    limit: i64,
    withscores: bool,
}

impl RangeQuery {
    /// Parses the source key's range arguments (at `src + 1`, `src + 2`) and the options after
    /// them. `by` and `rev` are fixed by the legacy commands and chosen by options in ZRANGE and
    /// ZRANGESTORE (`None`). The checks run in Redis's order.
    fn parse(
        ctx: &Ctx<'_>,
        src: usize,
        store: bool,
        by: Option<By>,
        rev: Option<bool>,
    ) -> Result<RangeQuery, CommandError> {
        let (mut by_opt, mut rev_opt) = (by, rev);
        let (mut offset, mut limit, mut withscores) = (0, -1, false);
        let mut i = src + 3;
        while i < ctx.arg_count() {
            let left = ctx.arg_count() - i - 1;
            if !store && ctx.arg_is(i, "WITHSCORES") {
                withscores = true;
            } else if ctx.arg_is(i, "LIMIT") && left >= 2 {
                offset = ctx.arg_i64(i + 1)?;
                limit = ctx.arg_i64(i + 2)?;
                i += 2;
            } else if rev_opt.is_none() && ctx.arg_is(i, "REV") {
                rev_opt = Some(true);
            } else if by.is_none() && by_opt.is_none() && ctx.arg_is(i, "BYLEX") {
                by_opt = Some(By::Lex);
            } else if by.is_none() && by_opt.is_none() && ctx.arg_is(i, "BYSCORE") {
                by_opt = Some(By::Score);
            } else {
                return Err(CommandError::Syntax);
            }
            i += 1;
        }
        let rev = rev_opt.unwrap_or(false);
        let by = by_opt.unwrap_or(By::Rank);
        if limit != -1 && by == By::Rank {
            return Err(CommandError::err(
                "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
            ));
        }
        if withscores && by == By::Lex {
            return Err(CommandError::err(
                "syntax error, WITHSCORES not supported in combination with BYLEX",
            ));
        }
        let (mut a, mut b) = (ctx.arg(src + 1), ctx.arg(src + 2));
        // Reversed score and lex ranges are given as max, min.
        if rev && by != By::Rank {
            std::mem::swap(&mut a, &mut b);
        }
        let bounds = match by {
            By::Rank => Bounds::Rank(ctx.arg_i64(src + 1)?, ctx.arg_i64(src + 2)?),
            By::Score => Bounds::Score(ScoreRange::parse(a, b)?),
            By::Lex => Bounds::Lex(LexRange::parse(a, b)?),
        };
        Ok(RangeQuery {
            bounds,
            rev,
            offset,
            limit,
            withscores,
        })
    }

    /// The ascending rank interval selected in `z`, after REV and LIMIT.
    fn window(&self, z: &ZSet) -> (usize, usize) {
        let (lo, hi) = match &self.bounds {
            Bounds::Rank(start, end) => {
                let ranks = access::range(*start, *end, z.len());
                let (s, e) = (ranks.start, ranks.end);
                return match self.rev {
                    // Ranks count from the top.
                    true if s < e => (z.len() - e, z.len() - s),
                    _ => (s, e),
                };
            }
            Bounds::Score(range) => range.ranks(z),
            Bounds::Lex(range) => range.ranks(z, self.rev),
        };
        let total = (hi - lo) as u64;
        if self.offset < 0 || self.offset as u64 >= total {
            return (0, 0);
        }
        let offset = self.offset as usize;
        let mut n = hi - lo - offset;
        if self.limit >= 0 {
            n = n.min(self.limit as usize);
        }
        match self.rev {
            false => (lo + offset, lo + offset + n),
            true => (hi - offset - n, hi - offset),
        }
    }
}

/// The ZRANGE family's body, for reading commands.
fn range_generic(ctx: &mut Ctx<'_>, by: Option<By>, rev: Option<bool>) -> CmdResult {
    let query = RangeQuery::parse(ctx, 1, false, by, rev)?;
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let Some(z) = access::read::<ZSet>(ctx, db, hash, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let (start, end) = query.window(z);
    let shape = Shape::range(&ctx.out, query.withscores);
    shape.header(&mut ctx.out, end - start);
    let out = &mut ctx.out;
    z.range(start, end, query.rev, |m, s| shape.item(out, m, s));
    Ok(())
}

/// ZRANGE key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]
fn zrange(ctx: &mut Ctx<'_>) -> CmdResult {
    range_generic(ctx, None, None)
}

/// ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]
fn zrangebyscore(ctx: &mut Ctx<'_>) -> CmdResult {
    range_generic(ctx, Some(By::Score), Some(false))
}

/// ZREVRANGE key start stop [WITHSCORES]
fn zrevrange(ctx: &mut Ctx<'_>) -> CmdResult {
    range_generic(ctx, Some(By::Rank), Some(true))
}

/// ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]
fn zrevrangebyscore(ctx: &mut Ctx<'_>) -> CmdResult {
    range_generic(ctx, Some(By::Score), Some(true))
}

/// ZRANGEBYLEX key min max [LIMIT offset count]
fn zrangebylex(ctx: &mut Ctx<'_>) -> CmdResult {
    range_generic(ctx, Some(By::Lex), Some(false))
}

/// ZREVRANGEBYLEX key max min [LIMIT offset count]
fn zrevrangebylex(ctx: &mut Ctx<'_>) -> CmdResult {
    range_generic(ctx, Some(By::Lex), Some(true))
}

/// ZRANGESTORE dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]
fn zrangestore(ctx: &mut Ctx<'_>) -> CmdResult {
    let query = RangeQuery::parse(ctx, 2, true, None, None)?;
    let (dest, src) = (ctx.arg(1), ctx.arg(2));
    let mut locked = ctx.lock([dest, src]);
    let (db, hash) = locked.db(ctx.client.db, src);
    let mut items = Vec::new();
    if let Some(z) = access::read::<ZSet>(ctx, db, hash, src)? {
        let (start, end) = query.window(z);
        items.reserve(end - start);
        z.range(start, end, query.rev, |m, s| items.push((m.to_vec(), s)));
    }
    store(ctx, &mut locked, dest, items, "zrangestore", 1);
    Ok(())
}

/// ZREMRANGEBYRANK/SCORE/LEX's body: removes the members in the rank interval `interval` picks.
fn remove_range_generic(
    ctx: &mut Ctx<'_>,
    event: &str,
    interval: impl Fn(&ZSet) -> (usize, usize),
) -> CmdResult {
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let (count, now_empty) = match access::write::<ZSet>(ctx, db, hash, key)? {
        Some(z) => {
            let (start, end) = interval(z);
            (z.remove_range(start, end).len(), z.is_empty())
        }
        None => (0, false),
    };
    removed(ctx, db, hash, key, event, count, now_empty);
    ctx.out.integer(count as i64);
    Ok(())
}

/// ZREMRANGEBYRANK key start stop
fn zremrangebyrank(ctx: &mut Ctx<'_>) -> CmdResult {
    let (start, end) = (ctx.arg_i64(2)?, ctx.arg_i64(3)?);
    remove_range_generic(ctx, "zremrangebyrank", |z| {
        let ranks = access::range(start, end, z.len());
        (ranks.start, ranks.end)
    })
}

/// ZREMRANGEBYSCORE key min max
fn zremrangebyscore(ctx: &mut Ctx<'_>) -> CmdResult {
    let range = ScoreRange::parse(ctx.arg(2), ctx.arg(3))?;
    remove_range_generic(ctx, "zremrangebyscore", |z| range.ranks(z))
}

/// ZREMRANGEBYLEX key min max
fn zremrangebylex(ctx: &mut Ctx<'_>) -> CmdResult {
    let range = LexRange::parse(ctx.arg(2), ctx.arg(3))?;
    remove_range_generic(ctx, "zremrangebylex", |z| range.ranks(z, false))
}

// ---------------------------------------------------------------------------------------------
// Pops.
// ---------------------------------------------------------------------------------------------

/// Pops up to `count` members from the low (`max` false) or high end of the sorted set at `key`
/// in database `db_index`, whose shard `locked` holds, and returns them in pop order. Emits
/// `zpopmin`/`zpopmax` and, when the set empties, deletes the key with a `del` event. A missing
/// key pops nothing; another type is WRONGTYPE. For the blocking pops (BZPOPMIN, BZPOPMAX,
/// BZMPOP), which serve blocked clients with it.
pub fn pop(
    ctx: &Ctx<'_>,
    locked: &mut Locked<'_>,
    db_index: usize,
    key: &[u8],
    count: usize,
    max: bool,
) -> Result<Vec<(SmallBytes, f64)>, CommandError> {
    let (db, hash) = locked.db(db_index, key);
    let Some(z) = access::write::<ZSet>(ctx, db, hash, key)? else {
        return Ok(Vec::new());
    };
    let len = z.len();
    let n = count.min(len);
    let items = if max {
        let mut items = z.remove_range(len - n, len);
        items.reverse();
        items
    } else {
        z.remove_range(0, n)
    };
    let event = if max { "zpopmax" } else { "zpopmin" };
    let now_empty = z.is_empty();
    removed(ctx, db, hash, key, event, items.len(), now_empty);
    Ok(items)
}

/// How a pop replies: ZPOPMIN/MAX without a count (flat), with one (pairs in RESP3), or ZMPOP
/// (the key, then pairs; null when nothing was found).
#[derive(Clone, Copy, PartialEq, Eq)]
enum PopReply {
    Single,
    Counted,
    Multi,
    /// BZPOPMIN/BZPOPMAX: key, member and score, flat.
    Keyed,
}

/// Pops from the first of `keys` that holds a sorted set.
fn pop_generic(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    count: usize,
    max: bool,
    reply: PopReply,
    timeout: Option<u64>,
) -> CmdResult {
    let mut locked = ctx.lock(keys.iter().copied());
    let mut found = None;
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        let zset = access::write::<ZSet>(ctx, db, hash, key).map(|z| z.map(|z| z.len()));
        if let Some(len) = ctx.past_other_types(zset)? {
            found = Some((*key, len));
            break;
        }
    }
    let Some((key, len)) = found.filter(|_| count > 0) else {
        match (reply, timeout) {
            (_, Some(ms)) => ctx.block(keys, ms, |out| out.null_array()),
            (PopReply::Multi | PopReply::Keyed, None) => ctx.out.null_array(),
            _ => ctx.out.array(0),
        }
        return Ok(());
    };
    // The blocking and multi-key forms are logged as the ZPOPMIN/ZPOPMAX they amount to (with
    // the count actually popped), as Redis does.
    let verb: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
    match reply {
        PopReply::Keyed => ctx.propagate_as(&[verb, key]),
        PopReply::Multi => {
            let popped = count.min(len).to_string();
            ctx.propagate_as(&[verb, key, popped.as_bytes()]);
        }
        PopReply::Single | PopReply::Counted => {}
    }
    let items = pop(ctx, &mut locked, ctx.client.db, key, count, max)?;
    drop(locked);
    let shape = Shape {
        scores: true,
        pairs: reply == PopReply::Multi || (reply == PopReply::Counted && ctx.out.is_resp3()),
    };
    if reply == PopReply::Keyed {
        let (member, score) = &items[0];
        ctx.out.array(3);
        ctx.out.bulk(key);
        ctx.out.bulk(member);
        ctx.out.double(*score);
        return Ok(());
    }
    if reply == PopReply::Multi {
        ctx.out.array(2);
        ctx.out.bulk(key);
    }
    shape.header(&mut ctx.out, items.len());
    for (member, score) in &items {
        shape.item(&mut ctx.out, member, *score);
    }
    Ok(())
}

/// ZPOPMIN / ZPOPMAX's body.
fn zpop(ctx: &mut Ctx<'_>, max: bool) -> CmdResult {
    if ctx.arg_count() > 3 {
        return Err(CommandError::Syntax);
    }
    let (count, reply) = match ctx.arg_count() {
        3 => {
            let n = parse_i64(ctx.arg(2))
                .filter(|n| *n >= 0)
                .ok_or(CommandError::err("value is out of range, must be positive"))?;
            (n as usize, PopReply::Counted)
        }
        _ => (1, PopReply::Single),
    };
    pop_generic(ctx, &[ctx.arg(1)], count, max, reply, None)
}

/// ZPOPMIN key [count]
fn zpopmin(ctx: &mut Ctx<'_>) -> CmdResult {
    zpop(ctx, false)
}

/// ZPOPMAX key [count]
fn zpopmax(ctx: &mut Ctx<'_>) -> CmdResult {
    zpop(ctx, true)
}

/// ZMPOP numkeys key [key ...] MIN | MAX [COUNT count]
fn zmpop(ctx: &mut Ctx<'_>) -> CmdResult {
    mpop(ctx, false)
}

/// BZMPOP timeout numkeys key [key ...] MIN | MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx<'_>) -> CmdResult {
    mpop(ctx, true)
}

/// ZMPOP and BZMPOP (`blocking`, whose timeout comes first and is checked last, as Redis does).
fn mpop(ctx: &mut Ctx<'_>, blocking: bool) -> CmdResult {
    let sides = [("MIN", false), ("MAX", true)];
    let MultiPop {
        keys,
        side: max,
        count,
    } = MultiPop::parse(ctx, 1 + blocking as usize, &sides)?;
    let timeout = match blocking {
        true => Some(parse_timeout(ctx.arg(1))?),
        false => None,
    };
    pop_generic(ctx, keys, count, max, PopReply::Multi, timeout)
}

/// BZPOPMIN key [key ...] timeout
fn bzpopmin(ctx: &mut Ctx<'_>) -> CmdResult {
    bzpop(ctx, false)
}

/// BZPOPMAX key [key ...] timeout
fn bzpopmax(ctx: &mut Ctx<'_>) -> CmdResult {
    bzpop(ctx, true)
}

fn bzpop(ctx: &mut Ctx<'_>, max: bool) -> CmdResult {
    let timeout = parse_timeout(ctx.arg(ctx.arg_count() - 1))?;
    let keys = &ctx.args[1..ctx.arg_count() - 1];
    pop_generic(ctx, keys, 1, max, PopReply::Keyed, Some(timeout))
}

// ---------------------------------------------------------------------------------------------
// Set algebra.
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// Folds `value` into `target`, as Redis does (inf + -inf sums to 0, not NaN).
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => {
                if value < *target {
                    *target = value;
                }
            }
            Aggregate::Max => {
                if value > *target {
                    *target = value;
                }
            }
        }
    }
}

/// Calls `f` with every (member, score) of the sorted set at `key`, if any.
fn each_entry(ctx: &Ctx<'_>, locked: &mut Locked<'_>, key: &[u8], mut f: impl FnMut(&[u8], f64)) {
    let (db, hash) = locked.db(ctx.client.db, key);
    match db.peek(hash, key, ctx.now_ms).map(Input::of) {
        Some(Ok(Input::Sorted(z))) => z.range(0, z.len(), false, f),
        Some(Ok(Input::Plain(s))) => s.iter().for_each(|m| f(&m.to_bytes(), 1.0)),
        _ => {}
    }
}

/// An input of ZUNION, ZINTER and ZDIFF: a sorted set, or a plain set whose members all score 1,
/// as Redis accepts.
enum Input<'a> {
    Sorted(&'a ZSet),
    Plain(&'a Set),
}

impl<'a> Input<'a> {
    fn of(entry: &'a Entry) -> Result<Input<'a>, CommandError> {
        match entry.boxed_value() {
            Some(Value::Set(s)) => Ok(Input::Plain(s)),
            Some(Value::ZSet(z)) => Ok(Input::Sorted(z)),
            _ => Err(CommandError::WrongType),
        }
    }

    fn len(&self) -> usize {
        match self {
            Input::Sorted(z) => z.len(),
            Input::Plain(s) => s.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Sorted(z) => z.score(member),
            Input::Plain(s) => s.contains(member).then_some(1.0),
        }
    }
}

/// The body of ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD.
fn setop_generic(ctx: &mut Ctx<'_>, op: SetOp, store_to: bool, card_only: bool) -> CmdResult {
    let numkeys_at = if store_to { 2 } else { 1 };
    let n = ctx.arg_i64(numkeys_at)?;
    if n < 1 {
        return Err(CommandError::err(format!(
            "at least 1 input key is needed for '{}' command",
            ctx.command.full_name
        )));
    }
    let first = numkeys_at + 1;
    if n as u64 > (ctx.arg_count() - first) as u64 {
        return Err(CommandError::Syntax);
    }
    let n = n as usize;
    let keys: &[&[u8]] = &ctx.args[first..first + n];
    let dest = store_to.then(|| ctx.arg(1));
    let mut locked = ctx.lock(dest.into_iter().chain(keys.iter().copied()));
    // Types are checked before the options are parsed, as in Redis.
    let mut lens = Vec::with_capacity(n);
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        let entry = db.get(hash, key, ctx.now_ms);
        if !store_to {
            ctx.count_lookup(ctx.client.db, key, entry.is_some());
        }
        lens.push(match entry {
            None => 0,
            Some(e) => Input::of(e)?.len(),
        });
    }
    let mut weights = vec![1.0; n];
    let mut aggregate = Aggregate::Sum;
    let (mut withscores, mut limit) = (false, 0usize);
    let algebra = op != SetOp::Diff && !card_only;
    let mut i = first + n;
    while i < ctx.arg_count() {
        let left = ctx.arg_count() - i;
        if algebra && left > n && ctx.arg_is(i, "WEIGHTS") {
            for (j, w) in weights.iter_mut().enumerate() {
                *w = parse_score(ctx.arg(i + 1 + j))
                    .ok_or(CommandError::err("weight value is not a float"))?;
            }
            i += n + 1;
        } else if algebra && left >= 2 && ctx.arg_is(i, "AGGREGATE") {
            aggregate = match () {
                _ if ctx.arg_is(i + 1, "SUM") => Aggregate::Sum,
                _ if ctx.arg_is(i + 1, "MIN") => Aggregate::Min,
                _ if ctx.arg_is(i + 1, "MAX") => Aggregate::Max,
                _ => return Err(CommandError::Syntax),
            };
            i += 2;
        } else if !store_to && !card_only && ctx.arg_is(i, "WITHSCORES") {
            withscores = true;
            i += 1;
        } else if card_only && left >= 2 && ctx.arg_is(i, "LIMIT") {
            limit = parse_i64(ctx.arg(i + 1))
                .filter(|l| *l >= 0)
                .ok_or(CommandError::err("LIMIT can't be negative"))? as usize;
            i += 2;
        } else {
            return Err(CommandError::Syntax);
        }
    }
    // Smallest inputs first, as Redis orders them (it decides the order sums are taken in).
    let mut order: Vec<usize> = (0..n).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&j| lens[j]);
    }
    let weighted = |j: usize, score: f64| {
        let v = score * weights[j];
        if v.is_nan() {
            0.0
        } else {
            v
        }
    };
    let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
    match op {
        SetOp::Union => {
            for &j in &order {
                each_entry(ctx, &mut locked, keys[j], |m, s| {
                    let v = weighted(j, s);
                    match acc.get_mut(m) {
                        Some(t) => aggregate.apply(t, v),
                        None => {
                            acc.insert(m.to_vec(), v);
                        }
                    }
                });
            }
        }
        SetOp::Inter | SetOp::Diff => {
            let base = order[0];
            each_entry(ctx, &mut locked, keys[base], |m, s| {
                let v = if op == SetOp::Inter {
                    weighted(base, s)
                } else {
                    s
                };
                acc.insert(m.to_vec(), v);
            });
            for &j in &order[1..] {
                let (db, hash) = locked.db(ctx.client.db, keys[j]);
                let input = db.peek(hash, keys[j], ctx.now_ms).map(Input::of);
                let input = input.and_then(Result::ok);
                acc.retain(|m, t| match (op, input.as_ref().and_then(|i| i.score(m))) {
                    (SetOp::Inter, Some(s)) => {
                        aggregate.apply(t, s * weights[j]);
                        true
                    }
                    (SetOp::Inter, None) => false,
                    (_, found) => found.is_none(),
                });
            }
        }
    }
    if card_only {
        let card = acc.len();
        ctx.out
            .integer(if limit > 0 { card.min(limit) } else { card } as i64);
        return Ok(());
    }
    let mut items: Vec<(Vec<u8>, f64)> = acc.into_iter().collect();
    items.sort_by(|a, b| {
        a.1.partial_cmp(&b.1)
            .unwrap_or(std::cmp::Ordering::Equal)
            .then_with(|| a.0.cmp(&b.0))
    });
    if let Some(dest) = dest {
        let event = match op {
            SetOp::Union => "zunionstore",
            SetOp::Inter => "zinterstore",
            SetOp::Diff => "zdiffstore",
        };
        store(ctx, &mut locked, dest, items, event, 1);
        return Ok(());
    }
    drop(locked);
    let shape = Shape::range(&ctx.out, withscores);
    shape.header(&mut ctx.out, items.len());
    for (member, score) in &items {
        shape.item(&mut ctx.out, member, *score);
    }
    Ok(())
}

/// ZUNION numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
fn zunion(ctx: &mut Ctx<'_>) -> CmdResult {
    setop_generic(ctx, SetOp::Union, false, false)
}

/// ZINTER numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE SUM | MIN | MAX] [WITHSCORES]
fn zinter(ctx: &mut Ctx<'_>) -> CmdResult {
    setop_generic(ctx, SetOp::Inter, false, false)
}

/// ZDIFF numkeys key [key ...] [WITHSCORES]
fn zdiff(ctx: &mut Ctx<'_>) -> CmdResult {
    setop_generic(ctx, SetOp::Diff, false, false)
}

/// ZUNIONSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE ...]
fn zunionstore(ctx: &mut Ctx<'_>) -> CmdResult {
    setop_generic(ctx, SetOp::Union, true, false)
}

/// ZINTERSTORE destination numkeys key [key ...] [WEIGHTS weight ...] [AGGREGATE ...]
fn zinterstore(ctx: &mut Ctx<'_>) -> CmdResult {
    setop_generic(ctx, SetOp::Inter, true, false)
}

/// ZDIFFSTORE destination numkeys key [key ...]
fn zdiffstore(ctx: &mut Ctx<'_>) -> CmdResult {
    setop_generic(ctx, SetOp::Diff, true, false)
}

/// ZINTERCARD numkeys key [key ...] [LIMIT limit]
fn zintercard(ctx: &mut Ctx<'_>) -> CmdResult {
    setop_generic(ctx, SetOp::Inter, false, true)
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN.
// ---------------------------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]]
fn zrandmember(ctx: &mut Ctx<'_>) -> CmdResult {
    let mut count = None;
    let mut withscores = false;
    if ctx.arg_count() >= 3 {
        let n = ctx.arg_i64(2)?;
        if n == i64::MIN {
            return Err(CommandError::err(
                "value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ));
        }
        if ctx.arg_count() > 4 || (ctx.arg_count() == 4 && !ctx.arg_is(3, "WITHSCORES")) {
            return Err(CommandError::Syntax);
        }
        withscores = ctx.arg_count() == 4;
        if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&n) {
            return Err(CommandError::err("value is out of range"));
        }
        count = Some(n);
    }
    let key = ctx.arg(1);
    let mut locked = ctx.lock([key]);
    let (db, hash) = locked.db(ctx.client.db, key);
    let z = access::read::<ZSet>(ctx, db, hash, key)?;
    let mut rng = rand::thread_rng();
    let Some(count) = count else {
        match z {
            Some(z) => ctx.out.bulk(z.get(rng.gen_range(0..z.len())).0),
            None => ctx.out.null(),
        }
        return Ok(());
    };
    let Some(z) = z.filter(|_| count != 0) else {
        ctx.out.array(0);
        return Ok(());
    };
    let wanted = count.unsigned_abs() as usize;
    let repeats = count < 0 || count == 1;
    let per_pick = if withscores { 2 } else { 1 };
    if repeats && !super::reply_fits(ctx, wanted as u64 * per_pick, super::MIN_BULK_BYTES)? {
        return Ok(());
    }
    let shape = Shape::range(&ctx.out, withscores);
    let out = &mut ctx.out;
    let size = z.len();
    if repeats {
        // Repetitions allowed: independent picks.
        shape.header(out, wanted);
        for _ in 0..wanted {
            let (m, s) = z.get(rng.gen_range(0..size));
            shape.item(out, m, s);
        }
    } else if wanted >= size {
        // The whole set, which Redis gives from the highest score down.
        shape.header(out, size);
        z.range(0, size, true, |m, s| shape.item(out, m, s));
    } else {
        shape.header(out, wanted);
        for rank in rand::seq::index::sample(&mut rng, size, wanted) {
            let (m, s) = z.get(rank);
            shape.item(out, m, s);
        }
    }
    Ok(())
}

/// A score as ZSCAN prints it. The compact encoding stores scores as text, and Redis writes
/// integral ones there as integers (so 1e17 reads back as 100000000000000000).
fn scan_score(score: f64, compact: bool, out: &mut Vec<u8>) {
    let half = (i64::MAX / 2) as f64;
    if compact && score.fract() == 0.0 && (-half..=half).contains(&score) {
        out.extend_from_slice(itoa::Buffer::new().format(score as i64).as_bytes());
    } else {
        format_f64(score, out);
    }
}

/// ZSCAN key cursor [MATCH pattern] [COUNT count]
fn zscan(ctx: &mut Ctx<'_>) -> CmdResult {
    access::scan_collection(ctx, |out, z: &ZSet, cursor, options| {
        let ScanOptions { pattern, count, .. } = options;
        let compact = z.encoding() == "listpack";
        let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
        let mut next = cursor;
        // As Redis: walk buckets until `count` reply items (a member and its score are two)
        // are collected, the walk ends, or ten times `count` buckets were visited.
        let mut budget = count.saturating_mul(10);
        loop {
            next = z.scan(next, |m, s| found.push((m.to_vec(), s)));
            if next == 0 || budget == 0 || found.len() * 2 >= count {
                break;
            }
            budget -= 1;
        }
        if let Some(p) = pattern {
            found.retain(|(m, _)| glob_match(p, m, false));
        }
        scan_reply(out, next, found.len() * 2);
        let mut text = Vec::with_capacity(24);
        for (member, score) in &found {
            out.bulk(member);
            text.clear();
            scan_score(*score, compact, &mut text);
            out.bulk(&text);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_parse_like_redis() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"0x10"), Some(16.0));
        for bad in [&b""[..], b" 1", b"1e400", b"1e-400", b"nan", b"1x"] {
            assert_eq!(parse_score(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
        assert_eq!(parse_score_bound(b"("), Some((0.0, true)));
        assert_eq!(parse_score_bound(b" 1"), Some((1.0, false)));
        assert_eq!(parse_score_bound(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_score_bound(b"(a"), None);
    }
}
