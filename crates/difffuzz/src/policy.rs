//! Which commands are fuzzed, which are not (each with its reason), and how each reply is
//! compared: byte for byte unless this file says otherwise, with the reason. Anything not
//! listed here that differs is a divergence.

use crate::docs::CommandModel;
use crate::frame::Frame;

/// The COMMAND DOCS groups fuzzed whole: the data types and the keyspace.
const FUZZED_GROUPS: &[&str] = &[
    "string",
    "list",
    "set",
    "sorted-set",
    "hash",
    "stream",
    "bitmap",
    "hyperloglog",
    "geo",
    "generic",
];

/// Commands of other groups that are fuzzed too: those that act on the keyspace, the
/// transaction commands (queued commands' replies are compared inside EXEC's, see
/// [`Transaction`]), the connection's echoes, scripts (from a pool of deterministic ones, see
/// `generate.rs`), and COMMAND GETKEYS over generated commands (the key specs).
const FUZZED_EXTRAS: &[&str] = &[
    "dbsize",
    "flushdb",
    "flushall",
    "swapdb",
    "select",
    "multi",
    "exec",
    "discard",
    "watch",
    "unwatch",
    "ping",
    "echo",
    "eval",
    "eval_ro",
    "evalsha",
    "evalsha_ro",
    "script|load",
    "script|exists",
    "script|flush",
    "fcall",
    "fcall_ro",
    "function|load",
    "function|delete",
    "function|flush",
    "function|list",
    "function|stats",
    "function|kill",
    "function|help",
    "command|getkeys",
    "command|getkeysandflags",
];

/// Commands of the fuzzed groups that are never generated, and why.
pub const NOT_FUZZED: &[(&str, &str)] = &[
    (
        "spop",
        "removes random members: without a seed both servers choose differently and the \
         datasets part (SRANDMEMBER, which only reads, is compared by shape instead)",
    ),
    (
        "migrate",
        "moves keys to another server over the network: needs a target and measures time",
    ),
    (
        "wait",
        "waits for replicas: none here, and its reply depends on time",
    ),
    (
        "pfselftest",
        "tests the HyperLogLog implementation itself for seconds; its reply is only OK",
    ),
];

/// Blocking commands stay out (the `blocking` flag): whether they block, and for how long,
/// depends on timing. XREAD and XREADGROUP are fuzzed without their BLOCK option, where they
/// never block.
const BLOCKING_BUT_FUZZED: &[&str] = &["xread", "xreadgroup"];

/// Tokens never generated, and why.
pub const TOKENS_NOT_GENERATED: &[(&str, &str, &str)] = &[
    ("xread", "BLOCK", "blocks for a time"),
    ("xreadgroup", "BLOCK", "blocks for a time"),
    (
        "xadd",
        "*",
        "an automatic stream ID is the server's clock: explicit IDs (also `<ms>-*`) are used",
    ),
];

/// How a command's reply is compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReplyCheck {
    /// Byte for byte.
    Exact,
    /// The elements (a map's pairs) sorted first: the order is unspecified.
    Unordered,
    /// The reply's kind and element count only (errors exactly): the values are random.
    Shape,
    /// A time to live or expiry time: positive values only as "positive" (the milliseconds
    /// between the two servers' clocks differ), -1 and -2 exactly.
    TimeToLive,
    /// A SCAN-family reply from cursor 0: when both servers finished (cursor 0), the same
    /// elements (sorted); otherwise by shape. How much one call covers depends on the table
    /// layout (redis-lite's keyspace is sharded, Redis's one table), and cursors are positions
    /// in each server's own tables.
    Scan,
    /// SORT by numeric weights: exact, except that Redis's "One or more scores can't be
    /// converted into double" against a sorted reply is excused (see [`SORT_STALE_ERRNO`]).
    SortWeights,
    /// SORT ... ALPHA BY pattern with STORE: the stored list's order among equal weights is
    /// unspecified, so the reply (a count) is compared and then the episode ends.
    Resync,
    /// SORT ... ALPHA without STORE: Redis collates C strings, so elements equal up to a NUL
    /// byte tie, and ties come in the order of its unstable quicksort: such elements may swap
    /// places, nothing else may.
    AlphaTies,
    /// EXEC: each queued command's reply under its own check, when the transaction ran with
    /// as many replies as commands were queued; otherwise (an abort, a WATCH) exactly.
    Exec(Vec<ReplyCheck>),
}

/// Follows MULTI ... EXEC on one connection, so that the replies of queued commands are
/// compared inside EXEC's reply under their own checks.
#[derive(Default)]
pub struct Transaction {
    /// Inside MULTI: the checks of the commands queued so far.
    queued: Option<Vec<ReplyCheck>>,
}

impl Transaction {
    /// How the reply to `args` (a command of `model`) is compared, given the transaction
    /// state, which it updates.
    pub fn check(&mut self, model: &CommandModel, args: &[Vec<u8>]) -> ReplyCheck {
        let name = model.full_name();
        let bare = args.len() == 1;
        match (&mut self.queued, name.as_str()) {
            (None, "multi") if bare => {
                self.queued = Some(Vec::new());
                ReplyCheck::Exact
            }
            // EXEC ends the transaction even when malformed (Redis then aborts it).
            (Some(queued), "exec") => {
                let queued = std::mem::take(queued);
                self.queued = None;
                if bare {
                    ReplyCheck::Exec(queued)
                } else {
                    ReplyCheck::Exact
                }
            }
            (Some(_), "discard") if bare => {
                self.queued = None;
                ReplyCheck::Exact
            }
            // Refused inside MULTI, and not queued: a nested MULTI, WATCH, a malformed DISCARD.
            (Some(_), "multi" | "watch" | "discard") => ReplyCheck::Exact,
            (Some(queued), _) => {
                queued.push(reply_check(model, args));
                ReplyCheck::Exact // +QUEUED, or the error that refused it
            }
            (None, _) => reply_check(model, args),
        }
    }
}

/// Why an excused SORT conversion error ends the episode.
pub const SORT_STALE_ERRNO: &str = "Redis's SORT converts weights with strtod and then reads \
     errno without clearing it first, so an ERANGE left by an earlier command (a double like \
     1e309, a SCAN cursor past 2^64) makes it refuse weights that convert fine. redis-lite \
     sorts them. The datasets may then differ (SORT ... STORE), so the episode ends there";

/// The error Redis's stale errno produces.
const SORT_CONVERSION_ERROR: &[u8] = b"-ERR One or more scores can't be converted into double\r\n";

/// How one reply compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Same,
    Differs,
    /// An intended difference after which the datasets may differ: the episode ends.
    SameThenResync,
}

/// Compares Redis's reply with redis-lite's under `check`.
pub fn verdict(redis: &[u8], lite: &[u8], check: &ReplyCheck) -> Verdict {
    match check {
        ReplyCheck::SortWeights if redis == SORT_CONVERSION_ERROR && !lite.starts_with(b"-") => {
            Verdict::SameThenResync
        }
        ReplyCheck::Resync if redis == lite => Verdict::SameThenResync,
        ReplyCheck::AlphaTies if redis != lite => {
            let (a, b) = (Frame::parse(redis), Frame::parse(lite));
            let c_string = |f: &Frame| f.scalar().split(|&c| c == 0).next().map(<[u8]>::to_vec);
            let swapped_ties = a.head == b.head
                && a.children.len() == b.children.len()
                && a.clone().sorted() == b.clone().sorted()
                && a.children
                    .iter()
                    .zip(&b.children)
                    .all(|(x, y)| c_string(x) == c_string(y));
            same_if(swapped_ties)
        }
        ReplyCheck::Exec(queued) => {
            let (a, b) = (Frame::parse(redis), Frame::parse(lite));
            let ran = |f: &Frame| f.is_aggregate() && f.children.len() == queued.len();
            if !(ran(&a) && ran(&b) && a.head == b.head) {
                return same_if(redis == lite);
            }
            let mut result = Verdict::Same;
            for ((x, y), check) in a.children.iter().zip(&b.children).zip(queued) {
                match verdict(&x.to_bytes(), &y.to_bytes(), check) {
                    Verdict::Same => {}
                    Verdict::SameThenResync => result = Verdict::SameThenResync,
                    Verdict::Differs => return Verdict::Differs,
                }
            }
            result
        }
        ReplyCheck::Scan => {
            let (a, b) = (Frame::parse(redis), Frame::parse(lite));
            let finished = |f: &Frame| f.children.len() == 2 && f.children[0].scalar() == b"0";
            let check = if finished(&a) && finished(&b) {
                ReplyCheck::Scan
            } else {
                ReplyCheck::Shape
            };
            same_if(canonical(redis, &check) == canonical(lite, &check))
        }
        _ => same_if(canonical(redis, check) == canonical(lite, check)),
    }
}

fn same_if(equal: bool) -> Verdict {
    if equal {
        Verdict::Same
    } else {
        Verdict::Differs
    }
}

/// The intended differences: commands whose replies are not compared byte for byte.
pub const INTENDED_DIFFERENCES: &[(&str, ReplyCheck, &str)] = &[
    (
        "srandmember",
        ReplyCheck::Shape,
        "random members, without a seed both servers choose differently",
    ),
    (
        "zrandmember",
        ReplyCheck::Shape,
        "random members, without a seed both servers choose differently",
    ),
    (
        "hrandfield",
        ReplyCheck::Shape,
        "random fields, without a seed both servers choose differently",
    ),
    (
        "randomkey",
        ReplyCheck::Shape,
        "a random key, without a seed both servers choose differently",
    ),
    (
        "dump",
        ReplyCheck::Shape,
        "strings over 20 bytes are LZF-compressed in the payload, and redis-lite's LZF \
         compressor (same format, its own matcher) finds other matches than liblzf: the bytes \
         differ, and each server restores the other's payload",
    ),
    (
        "object|refcount",
        ReplyCheck::Shape,
        "redis-lite shares no objects: it reports Redis's shared-integer count for every small \
         integer, where Redis's copies of one (COPY, RESTORE) are unshared with a count of 1",
    ),
    (
        "object|idletime",
        ReplyCheck::Shape,
        "seconds since the last access, on each server's own clock",
    ),
    (
        "xinfo|consumers",
        ReplyCheck::Shape,
        "each consumer's idle time is milliseconds on each server's own clock",
    ),
    (
        "ttl",
        ReplyCheck::TimeToLive,
        "the time left depends on when each server ran the command",
    ),
    (
        "pttl",
        ReplyCheck::TimeToLive,
        "the time left depends on when each server ran the command",
    ),
    (
        "expiretime",
        ReplyCheck::TimeToLive,
        "a relative expiry set on each server's own clock",
    ),
    (
        "pexpiretime",
        ReplyCheck::TimeToLive,
        "a relative expiry set on each server's own clock",
    ),
];

/// Replies compared by shape for some arguments only (see [`reply_check`]).
pub const CONDITIONAL_DIFFERENCES: &[(&str, &str)] = &[
    (
        "xinfo|stream",
        "FULL adds each consumer's seen-time, milliseconds on each server's clock: compared by \
         shape; without FULL exactly (radix tree counts included)",
    ),
    (
        "xpending",
        "the extended form (with a range) reports idle milliseconds on each server's clock; \
         the summary form is compared exactly",
    ),
    (
        "sort, sort_ro",
        "BY without `*` (no sorting) returns a set in hash-table order: compared unordered, \
         or by shape with LIMIT (which picks a different slice). ALPHA with BY leaves equal \
         weights in the order of Redis's unstable quicksort: compared the same way (with \
         STORE, the count, then the episode ends). ALPHA without BY or STORE collates C \
         strings: elements equal up to a NUL byte may swap places. By numeric weights: see \
         SORT_STALE_ERRNO",
    ),
    (
        "scan, sscan, hscan, zscan",
        "a cursor the server did not return means nothing (each server's cursors are positions \
         in its own hash tables): from any cursor but 0 the reply is compared by shape",
    ),
];

/// Commands Redis marks `nondeterministic_output` that are deterministic as the fuzzer calls
/// them, and so compared exactly.
pub const DETERMINISTIC_HERE: &[(&str, &str)] = &[
    (
        "xadd",
        "the new entry's ID is the clock only with `*`, which is never generated",
    ),
    (
        "xclaim",
        "idle times are 0 or years, never near the few milliseconds a run takes",
    ),
    (
        "xautoclaim",
        "idle times are 0 or years, never near the few milliseconds a run takes",
    ),
    (
        "xtrim",
        "with `~` it trims whole nodes: redis-lite's stream nodes fill as Redis's do",
    ),
    (
        "object|encoding",
        "redis-lite converts encodings at Redis's thresholds",
    ),
    (
        "function|stats",
        "it describes the running script, and none runs while the fuzzer's one connection waits",
    ),
    (
        "object|freq",
        "refused unless an LFU policy is set, which the fuzzer never does",
    ),
];

/// The commands to fuzz out of everything the server documents. Panics when a command Redis
/// marks `nondeterministic_output` has no entry above: its reply cannot be compared exactly,
/// so the list must say how it is.
pub fn fuzzed(models: Vec<CommandModel>) -> Vec<CommandModel> {
    let selected: Vec<CommandModel> = models
        .into_iter()
        .filter(|m| {
            let name = m.full_name();
            let top = m.words[0].to_ascii_lowercase();
            (FUZZED_GROUPS.contains(&m.group.as_str()) || FUZZED_EXTRAS.contains(&name.as_str()))
                && !NOT_FUZZED.iter().any(|(n, _)| *n == top || *n == name)
                && (!m.flags.iter().any(|f| f == "blocking")
                    || BLOCKING_BUT_FUZZED.contains(&name.as_str()))
        })
        .collect();
    let unclassified: Vec<String> = selected
        .iter()
        .filter(|m| m.tips.iter().any(|t| t == "nondeterministic_output"))
        .map(CommandModel::full_name)
        .filter(|name| {
            !INTENDED_DIFFERENCES.iter().any(|(n, _, _)| n == name)
                && !DETERMINISTIC_HERE.iter().any(|(n, _)| n == name)
                && !CONDITIONAL_DIFFERENCES
                    .iter()
                    .any(|(names, _)| names.split(", ").any(|n| n == name))
        })
        .collect();
    assert!(
        unclassified.is_empty(),
        "commands with random output and no comparison rule: {unclassified:?}"
    );
    selected
}

/// How the reply to `args` (a command of `model`) is compared.
pub fn reply_check(model: &CommandModel, args: &[Vec<u8>]) -> ReplyCheck {
    let name = model.full_name();
    if let Some((_, check, _)) = INTENDED_DIFFERENCES.iter().find(|(n, _, _)| *n == name) {
        return check.clone();
    }
    let upper: Vec<Vec<u8>> = args.iter().map(|a| a.to_ascii_uppercase()).collect();
    match name.as_str() {
        // XPENDING key group: the summary.
        "xpending" if args.len() > 3 => ReplyCheck::Shape,
        "xinfo|stream" if upper.iter().skip(3).any(|a| a == b"FULL") => ReplyCheck::Shape,
        "sort" | "sort_ro" => {
            let SortOptions {
                unsorted,
                by,
                alpha,
                limit,
                store,
            } = SortOptions::of(&upper);
            if unsorted || (alpha && by) {
                if store {
                    ReplyCheck::Resync
                } else if limit {
                    ReplyCheck::Shape
                } else {
                    ReplyCheck::Unordered
                }
            } else if alpha && !store {
                ReplyCheck::AlphaTies
            } else if alpha {
                ReplyCheck::Exact
            } else {
                ReplyCheck::SortWeights
            }
        }
        "scan" | "sscan" | "hscan" | "zscan" => {
            let at = if name == "scan" { 1 } else { 2 };
            let from_start = args.get(at).is_some_and(|cursor| {
                let text = cursor.split(|&b| b == 0).next().unwrap_or_default();
                text.iter().all(|&c| c == b'0')
            });
            if from_start {
                ReplyCheck::Scan
            } else {
                ReplyCheck::Shape
            }
        }
        _ if model
            .tips
            .iter()
            .any(|t| t == "nondeterministic_output_order") =>
        {
            ReplyCheck::Unordered
        }
        _ => ReplyCheck::Exact,
    }
}

/// What decides how a SORT's reply is compared, read as Redis reads the options: in order,
/// each keyword taking its values (so `GET BY` names a pattern).
struct SortOptions {
    /// A BY pattern without `*` came: Redis keeps the natural order for good, whatever BY
    /// follows.
    unsorted: bool,
    by: bool,
    alpha: bool,
    limit: bool,
    store: bool,
}

impl SortOptions {
    /// From the command's arguments, upper-cased.
    fn of(upper: &[Vec<u8>]) -> SortOptions {
        let mut options = SortOptions {
            unsorted: false,
            by: false,
            alpha: false,
            limit: false,
            store: false,
        };
        let mut i = 2;
        while i < upper.len() {
            match upper[i].as_slice() {
                b"ALPHA" => options.alpha = true,
                b"LIMIT" => {
                    options.limit = true;
                    i += 2;
                }
                b"STORE" => {
                    options.store = true;
                    i += 1;
                }
                b"BY" => {
                    options.by = true;
                    let pattern = upper.get(i + 1).map(Vec::as_slice).unwrap_or_default();
                    options.unsorted |= !pattern.contains(&b'*');
                    i += 1;
                }
                b"GET" => i += 1,
                _ => {}
            }
            i += 1;
        }
        options
    }
}

/// The reply as it is compared under `check`.
pub fn canonical(reply: &[u8], check: &ReplyCheck) -> Vec<u8> {
    if matches!(
        check,
        ReplyCheck::Exact
            | ReplyCheck::SortWeights
            | ReplyCheck::Resync
            | ReplyCheck::AlphaTies
            | ReplyCheck::Exec(_)
    ) {
        return reply.to_vec();
    }
    let frame = Frame::parse(reply);
    if frame.is_error() {
        return reply.to_vec();
    }
    let canonical = match check {
        ReplyCheck::Exact
        | ReplyCheck::SortWeights
        | ReplyCheck::Resync
        | ReplyCheck::AlphaTies
        | ReplyCheck::Exec(_) => frame,
        ReplyCheck::Unordered => frame.sorted(),
        ReplyCheck::Shape => frame.shape(),
        ReplyCheck::TimeToLive => {
            let positive = frame.head.first() == Some(&b':')
                && frame
                    .scalar()
                    .first()
                    .is_some_and(|c| c.is_ascii_digit() && *c != b'0');
            if positive {
                Frame {
                    head: b":positive\r\n".to_vec(),
                    children: Vec::new(),
                }
            } else {
                frame
            }
        }
        ReplyCheck::Scan => {
            let mut frame = frame;
            if frame.children.len() == 2 {
                let at_end = frame.children[0].scalar() == b"0";
                frame.children[0] = Frame {
                    head: if at_end { b"cursor 0" } else { b"cursor n" }.to_vec(),
                    children: Vec::new(),
                };
                let elements = frame.children.pop().expect("two elements");
                frame.children.push(elements.sorted());
            }
            frame
        }
    };
    canonical.to_bytes()
}

#[cfg(test)]
mod tests {
    use super::SortOptions;

    fn options(command: &str) -> SortOptions {
        let upper: Vec<Vec<u8>> = command
            .split(' ')
            .map(|a| a.to_ascii_uppercase().into_bytes())
            .collect();
        SortOptions::of(&upper)
    }

    #[test]
    fn a_sorts_options_are_read_in_order_as_redis_reads_them() {
        // Seed 3321's divergence: the second BY has no `*`, so nothing is sorted.
        assert!(options("SORT_RO k0 BY w_* BY k[0-3] ASC").unsorted);
        assert!(options("SORT k BY nosort BY w_*").unsorted);
        assert!(!options("SORT k BY w_* BY v_*").unsorted);
        // GET's pattern and LIMIT's values are not keywords.
        let get_by = options("SORT k GET BY ALPHA");
        assert!(!get_by.by && get_by.alpha);
        let limit = options("SORT k LIMIT store by");
        assert!(limit.limit && !limit.store && !limit.by);
        assert!(options("SORT k STORE alpha").store && !options("SORT k STORE alpha").alpha);
    }
}
