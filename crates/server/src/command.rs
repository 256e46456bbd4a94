//! The command table. Each command is declared once, as a [`CommandSpec`] in its family's file;
//! dispatch, arity and unknown-command errors, COMMAND (INFO, DOCS, LIST, COUNT, GETKEYS), INFO
//! commandstats and ACL categories all read these specs.

/// Command names are looked up on every request: a fast hasher matters, and the names are ours,
/// not client-controlled keys, so flooding resistance does not.
type HashMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;
use std::sync::OnceLock;

use crate::context::Ctx;
use crate::error::CmdResult;
use crate::server::Server;

pub type Handler = fn(&mut Ctx<'_>) -> CmdResult;

/// Command flags, as COMMAND INFO names them.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const SKIP_MONITOR: u32 = 1 << 9;
    pub const SKIP_SLOWLOG: u32 = 1 << 10;
    pub const FAST: u32 = 1 << 11;
    pub const NO_AUTH: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const NO_MANDATORY_KEYS: u32 = 1 << 14;
    pub const NO_MULTI: u32 = 1 << 15;
    pub const ALLOW_BUSY: u32 = 1 << 16;
    pub const SENTINEL: u32 = 1 << 17;
    pub const NO_ASYNC_LOADING: u32 = 1 << 18;
    /// Keys that the first/last/step range does not describe. Never declared: COMMAND INFO
    /// derives it from the key specs (see [`super::CommandSpec::legacy_range`]).
    pub const MOVABLE_KEYS: u32 = 1 << 19;
    /// Runs on a cluster node for a slot being imported (RESTORE-ASKING, which MIGRATE sends
    /// from a cluster node).
    pub const ASKING: u32 = 1 << 20;

    /// Flag names in COMMAND INFO order. `may_replicate` and `sentinel` are internal: Redis
    /// does not show them either.
    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (SKIP_MONITOR, "skip_monitor"),
        (SKIP_SLOWLOG, "skip_slowlog"),
        (ASKING, "asking"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MANDATORY_KEYS, "no_mandatory_keys"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
        (MOVABLE_KEYS, "movablekeys"),
        (ALLOW_BUSY, "allow_busy"),
    ];
}

/// Per-key flags of a key spec, as Redis 7 defines them. A `u16`, so that a command flag (`u32`)
/// mixed in by mistake does not compile.
pub mod key_flags {
    pub type KeyFlags = u16;
    /// Reads the key's value (or only its metadata, without ACCESS).
    pub const RO: KeyFlags = 1 << 0;
    /// Reads and modifies the value.
    pub const RW: KeyFlags = 1 << 1;
    /// Overwrites the value without reading it.
    pub const OW: KeyFlags = 1 << 2;
    /// Removes the key.
    pub const RM: KeyFlags = 1 << 3;
    /// Returns or exposes user data from the value.
    pub const ACCESS: KeyFlags = 1 << 4;
    pub const UPDATE: KeyFlags = 1 << 5;
    pub const INSERT: KeyFlags = 1 << 6;
    pub const DELETE: KeyFlags = 1 << 7;
    /// The argument is not a key, though it is treated like one (cluster slot checks).
    pub const NOT_KEY: KeyFlags = 1 << 8;
    /// The spec may miss some keys; the command is then `movablekeys`.
    pub const INCOMPLETE: KeyFlags = 1 << 9;
    /// The flags depend on other arguments: the command's [`super::KeysProc`] sets them.
    pub const VARIABLE_FLAGS: KeyFlags = 1 << 10;

    /// Names in COMMAND INFO and GETKEYSANDFLAGS order.
    pub const NAMES: &[(KeyFlags, &str)] = &[
        (RO, "RO"),
        (RW, "RW"),
        (OW, "OW"),
        (RM, "RM"),
        (ACCESS, "access"),
        (UPDATE, "update"),
        (INSERT, "insert"),
        (DELETE, "delete"),
        (NOT_KEY, "not_key"),
        (INCOMPLETE, "incomplete"),
        (VARIABLE_FLAGS, "variable_flags"),
    ];

    pub fn names(flags: KeyFlags) -> impl Iterator<Item = &'static str> {
        NAMES
            .iter()
            .filter(move |(f, _)| flags & f != 0)
            .map(|(_, n)| *n)
    }
}

use key_flags::KeyFlags;

/// Where a key spec starts looking for its keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BeginSearch {
    /// At this argument (the command name is 0).
    Index(i32),
    /// After the argument equal to `keyword` (any case), searched from `startfrom` towards the
    /// end, or from the end backwards when `startfrom` is negative.
    Keyword {
        keyword: &'static str,
        startfrom: i32,
    },
    /// The keys cannot be found from the arguments' positions: the command's [`KeysProc`]
    /// finds them (SORT's STORE), or they are not arguments at all (SORT's BY/GET patterns).
    Unknown,
}

/// How a key spec finds its keys from where the search began.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FindKeys {
    /// Keys up to `lastkey` (relative to the first; negative counts from the end), every
    /// `keystep`; `limit` > 1 keeps only the first 1/limit of the remaining arguments.
    Range {
        lastkey: i32,
        keystep: i32,
        limit: i32,
    },
    /// The argument at `keynumidx` (relative to the first) counts the keys, which start at
    /// `firstkey` (relative to the first) every `keystep`.
    KeyNum {
        keynumidx: i32,
        firstkey: i32,
        keystep: i32,
    },
    Unknown,
}

/// One key spec, as in Redis 7's command table and COMMAND INFO. Build with the `const fn`s:
/// `KeySpec::index(1).range(0, 1, 0).flags(RW | ACCESS)`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeySpec {
    pub notes: &'static str,
    pub flags: KeyFlags,
    pub begin_search: BeginSearch,
    pub find_keys: FindKeys,
}

impl KeySpec {
    const fn begin(begin_search: BeginSearch) -> Self {
        KeySpec {
            notes: "",
            flags: 0,
            begin_search,
            find_keys: FindKeys::Unknown,
        }
    }

    pub const fn index(index: i32) -> Self {
        Self::begin(BeginSearch::Index(index))
    }

    pub const fn keyword(keyword: &'static str, startfrom: i32) -> Self {
        Self::begin(BeginSearch::Keyword { keyword, startfrom })
    }

    pub const fn unknown() -> Self {
        Self::begin(BeginSearch::Unknown)
    }

    pub const fn range(self, lastkey: i32, keystep: i32, limit: i32) -> Self {
        KeySpec {
            find_keys: FindKeys::Range {
                lastkey,
                keystep,
                limit,
            },
            ..self
        }
    }

    pub const fn keynum(self, keynumidx: i32, firstkey: i32, keystep: i32) -> Self {
        KeySpec {
            find_keys: FindKeys::KeyNum {
                keynumidx,
                firstkey,
                keystep,
            },
            ..self
        }
    }

    pub const fn flags(self, flags: KeyFlags) -> Self {
        KeySpec { flags, ..self }
    }

    pub const fn notes(self, notes: &'static str) -> Self {
        KeySpec { notes, ..self }
    }

    /// The plain `first..=last` range COMMAND INFO's legacy triple can describe.
    fn plain_range(&self) -> Option<(i32, i32, i32)> {
        match (self.begin_search, self.find_keys) {
            (
                BeginSearch::Index(first),
                FindKeys::Range {
                    lastkey, keystep, ..
                },
            ) => Some((first, lastkey, keystep)),
            _ => None,
        }
    }

    /// Appends this spec's keys in `args` to `out`; Invalid when the arguments do not fit the
    /// spec (a key count that is not a positive number, or keys past the end). `strict`: as
    /// COMMAND GETKEYS reads specs, where a spec that begins past the end is invalid too
    /// (PFMERGE with no source key), instead of finding no keys.
    fn find(&self, args: &[&[u8]], out: &mut Vec<KeyRef>, strict: bool) -> Found {
        let argc = args.len() as i64;
        let mut result = Found::Keys;
        let first = match self.begin_search {
            BeginSearch::Index(i) => i as i64,
            BeginSearch::Keyword { keyword, startfrom } => {
                let found = if startfrom >= 0 {
                    (startfrom as i64..argc - 1)
                        .find(|&i| args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                } else {
                    (1..=argc + startfrom as i64)
                        .rev()
                        .filter(|&i| i < argc - 1)
                        .find(|&i| args[i as usize].eq_ignore_ascii_case(keyword.as_bytes()))
                };
                match found {
                    Some(i) => i + 1,
                    None => return Found::Keys,
                }
            }
            BeginSearch::Unknown => return Found::Keys,
        };
        if first >= argc {
            let by_index = matches!(self.begin_search, BeginSearch::Index(_));
            return if strict && by_index {
                Found::Invalid
            } else {
                Found::Keys
            };
        }
        let (first, last, step) = match self.find_keys {
            FindKeys::Range {
                lastkey,
                keystep,
                limit,
            } => {
                let lastkey = lastkey as i64;
                let last = if lastkey >= 0 {
                    first + lastkey
                } else if limit <= 1 {
                    argc + lastkey
                } else {
                    first + ((argc - first) / limit as i64 + lastkey)
                };
                (first, last, keystep as i64)
            }
            FindKeys::KeyNum {
                keynumidx,
                firstkey,
                keystep,
            } => {
                let Some(&count) = args.get((first + keynumidx as i64) as usize) else {
                    return Found::Invalid;
                };
                let step = keystep.max(1) as i64;
                let start = first + firstkey as i64;
                let fits = |count: i64| count >= 1 && count <= (argc - start) / step;
                // A count that is not a plain integer is read again as Redis's fallback
                // procedures read it (atoi: " 1", "+1" and "1.0" count one key), and then
                // the keys come without flags, as they do from those procedures.
                let count = match redis_lite_protocol::number::parse_i64(count) {
                    Some(n) if fits(n) => n,
                    _ if fits(atoi(count)) => {
                        result = Found::Flagless;
                        atoi(count)
                    }
                    _ => return Found::Invalid,
                };
                (start, start + (count - 1) * step, step)
            }
            FindKeys::Unknown => return Found::Keys,
        };
        let mut i = first;
        while i <= last {
            if i >= argc {
                return Found::Invalid;
            }
            out.push(KeyRef {
                pos: i as usize,
                flags: self.flags,
            });
            i += step.max(1);
        }
        result
    }
}

/// What one key spec found.
#[derive(PartialEq)]
enum Found {
    Keys,
    /// Keys, but by Redis's lenient fallback: they are reported without flags.
    Flagless,
    /// The arguments do not fit the spec: the command has no valid keys.
    Invalid,
}

/// C's `atoi`, as the key counts are read: leading blanks, a sign, then digits up to the first
/// non-digit. An overflowing count is treated as no count.
fn atoi(s: &[u8]) -> i64 {
    let s = match s.iter().position(|b| !b.is_ascii_whitespace()) {
        Some(start) => &s[start..],
        None => return 0,
    };
    let (negative, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let mut n: i64 = 0;
    for &b in digits.iter().take_while(|b| b.is_ascii_digit()) {
        match n
            .checked_mul(10)
            .and_then(|n| n.checked_add((b - b'0') as i64))
        {
            Some(next) if next <= i32::MAX as i64 => n = next,
            _ => return 0,
        }
    }
    if negative {
        -n
    } else {
        n
    }
}

/// A key found in a command's arguments: its index in `args` and its key-spec flags.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KeyRef {
    pub pos: usize,
    pub flags: KeyFlags,
}

/// For the commands whose keys the specs cannot fully describe: adds the keys of `Unknown` specs
/// (SORT's STORE) and sets the flags of `VARIABLE_FLAGS` specs (SET ... GET), after the keys the
/// specs found are in `keys`.
pub type KeysProc = fn(args: &[&[u8]], keys: &mut Vec<KeyRef>);

/// Whether a command runs with every other command paused, holding every event loop's gate.
#[derive(Clone, Copy)]
pub enum Exclusive {
    Never,
    /// EXEC, scripts, and the commands that lock every shard themselves (FLUSHALL...), whose
    /// AOF record must follow their effect with nothing between.
    Always,
    /// Only for some arguments: MIGRATE of a slot being resharded.
    When(fn(&Server, &[&[u8]]) -> bool),
}

/// One command's declaration. Build with [`CommandSpec::new`] and the `const` setters.
pub struct CommandSpec {
    /// Lower-case name; a subcommand's name without its parent.
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments including the name, -N means at least N.
    pub arity: i32,
    pub flags: u32,
    /// Where the keys are and what the command does to each; every key lookup (GETKEYS,
    /// eviction's admission, COMMAND INFO's legacy first/last/step) reads them.
    pub key_specs: &'static [KeySpec],
    /// Finds what the specs cannot: see [`KeysProc`].
    pub keys_proc: Option<KeysProc>,
    /// The group COMMAND DOCS shows, which also implies an ACL category.
    pub group: Group,
    pub since: &'static str,
    pub complexity: &'static str,
    pub summary: &'static str,
    /// Argument syntax, from which COMMAND DOCS is generated. See [`parse_syntax`].
    pub syntax: &'static str,
    /// COMMAND DOCS `history`: the versions that changed the command, and how.
    pub history: &'static [(&'static str, &'static str)],
    /// COMMAND DOCS `deprecated_since` and `replaced_by`, for a deprecated command.
    pub deprecated: Option<&'static Deprecation>,
    /// An internal command (REPLCONF, PFDEBUG...): COMMAND DOCS flags it `syscmd`.
    pub syscmd: bool,
    /// ACL categories beyond those that follow from the flags and group.
    pub acl: acl::Categories,
    /// Whether the group implies an ACL category (`generic` → `@keyspace`...). SORT is in the
    /// generic group but Redis does not put it in `@keyspace`.
    pub group_acl: bool,
    /// Command tips for clients (`nondeterministic_output_order`...), as COMMAND INFO lists them.
    pub tips: &'static [&'static str],
    pub handler: Option<Handler>,
    pub subcommands: &'static [CommandSpec],
    /// Whether it runs with every other command paused (see [`Exclusive`]).
    pub exclusive: Exclusive,
    /// May run a script (EVAL, FCALL, EXEC): runs on a fiber when a client sends it, so that
    /// a busy script lets its event loop serve the others (see [`crate::scripting::fiber`]).
    pub runs_scripts: bool,
}

impl CommandSpec {
    pub const fn new(name: &'static str, arity: i32, flags: u32, handler: Handler) -> Self {
        CommandSpec {
            name,
            arity,
            flags,
            key_specs: &[],
            keys_proc: None,
            group: Group::None,
            since: "1.0.0",
            complexity: "O(1)",
            summary: "",
            syntax: "",
            history: &[],
            deprecated: None,
            syscmd: false,
            acl: 0,
            group_acl: true,
            tips: &[],
            handler: Some(handler),
            subcommands: &[],
            exclusive: Exclusive::Never,
            runs_scripts: false,
        }
    }

    /// A command such as CLIENT whose first argument names a subcommand.
    pub const fn container(name: &'static str, subcommands: &'static [CommandSpec]) -> Self {
        CommandSpec {
            arity: -2,
            handler: None,
            subcommands,
            ..CommandSpec::new(name, -2, 0, no_handler)
        }
    }

    /// Subcommands of a command that also runs on its own (COMMAND).
    pub const fn subcommands(self, subcommands: &'static [CommandSpec]) -> Self {
        CommandSpec {
            subcommands,
            ..self
        }
    }

    pub const fn key_specs(self, key_specs: &'static [KeySpec]) -> Self {
        CommandSpec { key_specs, ..self }
    }

    pub const fn keys_proc(self, keys_proc: KeysProc) -> Self {
        CommandSpec {
            keys_proc: Some(keys_proc),
            ..self
        }
    }

    /// Whether COMMAND GETKEYS can find keys in this command at all.
    pub fn has_keys(&self) -> bool {
        self.keys_proc.is_some()
            || self
                .key_specs
                .iter()
                .any(|k| k.flags & key_flags::NOT_KEY == 0)
    }

    /// The keys in a full command line (`args[0]` is the name), in key-spec order, with their
    /// flags. None when the arguments do not fit the specs (a bad key count).
    pub fn find_keys(&self, args: &[&[u8]]) -> Option<Vec<KeyRef>> {
        self.collect_keys(args, false)
    }

    /// [`CommandSpec::find_keys`] as COMMAND GETKEYS finds them: a spec that begins past the
    /// last argument makes the arguments invalid, as in Redis 7.0.
    pub fn find_keys_strictly(&self, args: &[&[u8]]) -> Option<Vec<KeyRef>> {
        self.collect_keys(args, true)
    }

    /// [`CommandSpec::find_keys`] into `keys` (emptied first), which a caller on the hot path
    /// reuses instead of allocating; false when the arguments are not valid key positions.
    pub fn find_keys_into(&self, args: &[&[u8]], keys: &mut Vec<KeyRef>) -> bool {
        keys.clear();
        self.collect_keys_into(args, false, keys)
    }

    fn collect_keys(&self, args: &[&[u8]], strict: bool) -> Option<Vec<KeyRef>> {
        let mut keys = Vec::new();
        self.collect_keys_into(args, strict, &mut keys)
            .then_some(keys)
    }

    fn collect_keys_into(&self, args: &[&[u8]], strict: bool, keys: &mut Vec<KeyRef>) -> bool {
        let mut counted = None;
        for spec in self.key_specs {
            let before = keys.len();
            match spec.find(args, keys, strict) {
                Found::Keys => {}
                Found::Flagless => counted = Some(before..keys.len()),
                Found::Invalid => return false,
            }
        }
        if let Some(proc_) = self.keys_proc {
            proc_(args, keys);
        }
        if let Some(counted) = counted {
            // Redis's fallback procedures list the counted keys first, then a destination
            // (ZINTERSTORE's `d` after its sources).
            keys[..counted.end].rotate_left(counted.start);
            keys.iter_mut().for_each(|k| k.flags = 0);
        }
        true
    }

    /// Where the command's keys are in `args`. None when the arguments do not describe valid key
    /// positions (a count out of range).
    pub fn key_positions(&self, args: &[&[u8]]) -> Option<Vec<usize>> {
        Some(self.find_keys(args)?.iter().map(|k| k.pos).collect())
    }

    /// COMMAND INFO's first/last/step triple and whether the command is `movablekeys`, derived
    /// from the key specs as Redis 7 does: one plain range spec is the triple itself; otherwise
    /// the step-1 ranges that follow each other are merged, and every spec left out (a key
    /// count, a keyword or unknown search, a step above 1, a gap) or INCOMPLETE makes the keys
    /// movable.
    pub fn legacy_range(&self) -> (i32, i32, i32, bool) {
        let specs = self.key_specs;
        let incomplete = |k: &KeySpec| k.flags & key_flags::INCOMPLETE != 0;
        if let [only] = specs {
            if let Some((first, lastkey, step)) = only.plain_range() {
                let last = if lastkey < 0 {
                    lastkey
                } else {
                    first + lastkey
                };
                return (first, last, step, incomplete(only));
            }
        }
        let mut movable = false;
        let mut first = i32::MAX;
        // Compared as unsigned, so a range to the end (negative) is the largest.
        let mut last: i32 = 0;
        for spec in specs {
            let range = spec
                .plain_range()
                .filter(|&(begin, _, step)| step == 1 && (last == 0 || begin == last + 1));
            let Some((begin, lastkey, _)) = range else {
                movable = true;
                continue;
            };
            movable |= incomplete(spec);
            first = first.min(begin);
            let abs_last = if lastkey < 0 {
                lastkey
            } else {
                begin + lastkey
            };
            if abs_last as u32 > last as u32 {
                last = abs_last;
            }
        }
        if first == i32::MAX {
            return (0, 0, 0, movable);
        }
        (first, last, 1, movable)
    }

    pub const fn doc(self, group: Group, since: &'static str, summary: &'static str) -> Self {
        CommandSpec {
            group,
            since,
            summary,
            ..self
        }
    }

    pub const fn exclusive(self) -> Self {
        CommandSpec {
            exclusive: Exclusive::Always,
            ..self
        }
    }

    /// Exclusive when `when` says so of the command's arguments.
    pub const fn exclusive_when(self, when: fn(&Server, &[&[u8]]) -> bool) -> Self {
        CommandSpec {
            exclusive: Exclusive::When(when),
            ..self
        }
    }

    /// Whether this call runs with every other command paused.
    pub fn takes_every_gate(&self, server: &Server, args: &[&[u8]]) -> bool {
        match self.exclusive {
            Exclusive::Never => false,
            Exclusive::Always => true,
            Exclusive::When(when) => when(server, args),
        }
    }

    pub const fn runs_scripts(self) -> Self {
        CommandSpec {
            runs_scripts: true,
            ..self
        }
    }

    pub const fn complexity(self, complexity: &'static str) -> Self {
        CommandSpec { complexity, ..self }
    }

    pub const fn syntax(self, syntax: &'static str) -> Self {
        CommandSpec { syntax, ..self }
    }

    pub const fn history(self, history: &'static [(&'static str, &'static str)]) -> Self {
        CommandSpec { history, ..self }
    }

    pub const fn deprecated(self, deprecation: &'static Deprecation) -> Self {
        CommandSpec {
            deprecated: Some(deprecation),
            ..self
        }
    }

    pub const fn syscmd(self) -> Self {
        CommandSpec {
            syscmd: true,
            ..self
        }
    }

    pub const fn acl(self, acl: acl::Categories) -> Self {
        CommandSpec { acl, ..self }
    }

    /// The group implies no ACL category for this command (see `group_acl`).
    pub const fn no_group_acl(self) -> Self {
        CommandSpec {
            group_acl: false,
            ..self
        }
    }

    pub const fn tips(self, tips: &'static [&'static str]) -> Self {
        CommandSpec { tips, ..self }
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    /// The flags COMMAND INFO shows, in Redis's order, `movablekeys` derived from the key specs.
    pub fn info_flags(&self) -> impl Iterator<Item = &'static str> {
        let flags = if self.legacy_range().3 {
            self.flags | flags::MOVABLE_KEYS
        } else {
            self.flags
        };
        flags::NAMES
            .iter()
            .filter(move |(f, _)| flags & f != 0)
            .map(|(_, n)| *n)
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }
}

/// Since when a command is deprecated, and what replaces it, as COMMAND DOCS shows them.
pub type Deprecation = (&'static str, &'static str);

/// Containers are dispatched to a subcommand and never run themselves.
fn no_handler(_: &mut Ctx<'_>) -> CmdResult {
    unreachable!("container commands dispatch to their subcommands")
}

/// A command or subcommand in the flattened table.
pub struct CommandEntry {
    pub spec: &'static CommandSpec,
    /// `get`, or `client|list` for a subcommand.
    pub full_name: String,
    /// Index into the table, used for per-command statistics.
    pub id: usize,
    pub parent: Option<usize>,
    subcommands: HashMap<Box<[u8]>, usize>,
    pub doc_args: Vec<DocArg>,
}

impl CommandEntry {
    /// A pure container (CLIENT, CONFIG): it only dispatches to its subcommands.
    pub fn is_container(&self) -> bool {
        self.spec.handler.is_none()
    }

    pub fn has_subcommands(&self) -> bool {
        !self.spec.subcommands.is_empty()
    }

    /// Every ACL category of the command: the declared ones plus those implied by its flags and
    /// group, as Redis derives them.
    pub fn acl_categories(&self) -> acl::Categories {
        let spec = self.spec;
        if self.is_container() {
            return acl::SLOW;
        }
        let implied = [
            (spec.has(flags::WRITE), acl::WRITE),
            (
                spec.has(flags::READONLY) && spec.group != Group::Scripting,
                acl::READ,
            ),
            (spec.has(flags::ADMIN), acl::ADMIN | acl::DANGEROUS),
            (spec.has(flags::PUBSUB), acl::PUBSUB),
            (spec.has(flags::FAST), acl::FAST),
            (spec.has(flags::BLOCKING), acl::BLOCKING),
            (!spec.has(flags::FAST), acl::SLOW),
        ];
        let mut cats = implied
            .iter()
            .filter(|(applies, _)| *applies)
            .fold(spec.acl, |cats, (_, cat)| cats | cat);
        let group_cat = spec.group.acl_category();
        if spec.group_acl {
            cats |= group_cat;
        }
        cats
    }
}

/// The command groups of Redis 7 (COMMAND DOCS `group`), those redis-lite has commands in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// Not declared (a container's subcommands carry their own).
    None,
    Bitmap,
    Cluster,
    Connection,
    Generic,
    Geo,
    Hash,
    HyperLogLog,
    List,
    PubSub,
    Scripting,
    Server,
    Set,
    SortedSet,
    Stream,
    String,
    Transactions,
}

impl Group {
    /// The name COMMAND DOCS shows.
    pub fn name(self) -> &'static str {
        match self {
            Group::None => "",
            Group::Bitmap => "bitmap",
            Group::Cluster => "cluster",
            Group::Connection => "connection",
            Group::Generic => "generic",
            Group::Geo => "geo",
            Group::Hash => "hash",
            Group::HyperLogLog => "hyperloglog",
            Group::List => "list",
            Group::PubSub => "pubsub",
            Group::Scripting => "scripting",
            Group::Server => "server",
            Group::Set => "set",
            Group::SortedSet => "sorted-set",
            Group::Stream => "stream",
            Group::String => "string",
            Group::Transactions => "transactions",
        }
    }

    /// The ACL category the group implies, as Redis derives it (none for pub/sub and server).
    pub fn acl_category(self) -> acl::Categories {
        match self {
            Group::String => acl::STRING,
            Group::Generic => acl::KEYSPACE,
            Group::Geo => acl::GEO,
            Group::Connection => acl::CONNECTION,
            Group::List => acl::LIST,
            Group::Hash => acl::HASH,
            Group::Set => acl::SET,
            Group::SortedSet => acl::SORTEDSET,
            Group::Stream => acl::STREAM,
            Group::Bitmap => acl::BITMAP,
            Group::HyperLogLog => acl::HYPERLOGLOG,
            Group::Transactions => acl::TRANSACTION,
            Group::Scripting => acl::SCRIPTING,
            Group::None | Group::Cluster | Group::PubSub | Group::Server => 0,
        }
    }
}

/// ACL categories as bits of one word; bit order is the order Redis lists them in.
pub mod acl {
    /// A set of ACL categories.
    pub type Categories = u32;

    pub const KEYSPACE: Categories = 1 << 0;
    pub const READ: Categories = 1 << 1;
    pub const WRITE: Categories = 1 << 2;
    pub const SET: Categories = 1 << 3;
    pub const SORTEDSET: Categories = 1 << 4;
    pub const LIST: Categories = 1 << 5;
    pub const HASH: Categories = 1 << 6;
    pub const STRING: Categories = 1 << 7;
    pub const BITMAP: Categories = 1 << 8;
    pub const HYPERLOGLOG: Categories = 1 << 9;
    pub const GEO: Categories = 1 << 10;
    pub const STREAM: Categories = 1 << 11;
    pub const PUBSUB: Categories = 1 << 12;
    pub const ADMIN: Categories = 1 << 13;
    pub const FAST: Categories = 1 << 14;
    pub const SLOW: Categories = 1 << 15;
    pub const BLOCKING: Categories = 1 << 16;
    pub const DANGEROUS: Categories = 1 << 17;
    pub const CONNECTION: Categories = 1 << 18;
    pub const TRANSACTION: Categories = 1 << 19;
    pub const SCRIPTING: Categories = 1 << 20;

    /// Every category with its name, in Redis's order.
    pub const NAMES: &[(Categories, &str)] = &[
        (KEYSPACE, "keyspace"),
        (READ, "read"),
        (WRITE, "write"),
        (SET, "set"),
        (SORTEDSET, "sortedset"),
        (LIST, "list"),
        (HASH, "hash"),
        (STRING, "string"),
        (BITMAP, "bitmap"),
        (HYPERLOGLOG, "hyperloglog"),
        (GEO, "geo"),
        (STREAM, "stream"),
        (PUBSUB, "pubsub"),
        (ADMIN, "admin"),
        (FAST, "fast"),
        (SLOW, "slow"),
        (BLOCKING, "blocking"),
        (DANGEROUS, "dangerous"),
        (CONNECTION, "connection"),
        (TRANSACTION, "transaction"),
        (SCRIPTING, "scripting"),
    ];

    /// The names of the categories in `set`, in Redis's order.
    pub fn names(set: Categories) -> impl Iterator<Item = &'static str> {
        NAMES
            .iter()
            .filter(move |(bit, _)| set & bit != 0)
            .map(|(_, name)| *name)
    }

    /// The category named `name` (without `@`, any case).
    pub fn parse(name: &[u8]) -> Option<Categories> {
        NAMES
            .iter()
            .find(|(_, n)| n.as_bytes().eq_ignore_ascii_case(name))
            .map(|(bit, _)| *bit)
    }
}

/// All commands, built once from the families' declarations.
pub struct CommandTable {
    pub entries: Vec<CommandEntry>,
    /// The names requests use: each top-level command's own, unless `rename-command` moved or
    /// removed it at start-up. The entries keep their names (COMMAND, INFO commandstats and
    /// error texts show those, as Redis shows a renamed command's original name).
    by_name: HashMap<Box<[u8]>, usize>,
    /// Top-level commands `rename-command` removed: no name reaches them, and COMMAND no longer
    /// lists them.
    disabled: Vec<usize>,
}

impl std::fmt::Debug for CommandTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandTable")
            .field("commands", &self.by_name.len())
            .field("disabled", &self.disabled.len())
            .finish_non_exhaustive()
    }
}

/// Why a `rename-command` directive is refused, in Redis's words.
#[derive(Debug, PartialEq, Eq)]
pub enum RenameError {
    NoSuchCommand,
    TargetExists,
}

impl std::fmt::Display for RenameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            RenameError::NoSuchCommand => "No such command in rename-command",
            RenameError::TargetExists => "Target command name already exists",
        })
    }
}

/// The last top-level command a connection looked up, under the name it sent. Pipelines and
/// benchmarks repeat one command, and comparing a short name is cheaper than lowering and
/// hashing it: the table's lookup was about 250 instructions of a pipelined SET's 4,000.
/// The table never changes once the server runs (`install`), so a remembered entry stays right.
#[derive(Default)]
pub struct LastCommand {
    name: [u8; 16],
    len: u8,
    entry: Option<&'static CommandEntry>,
}

/// What a command name in a request resolves to.
pub enum Lookup<'t> {
    Found(&'t CommandEntry),
    Unknown,
    /// The container exists but the subcommand does not.
    UnknownSubcommand(&'t CommandEntry),
}

impl CommandTable {
    pub fn build(families: &[&'static [CommandSpec]]) -> Self {
        let mut table = CommandTable {
            entries: Vec::new(),
            by_name: HashMap::default(),
            disabled: Vec::new(),
        };
        for family in families {
            for spec in family.iter() {
                let id = table.push(spec, spec.name.to_string(), None);
                let previous = table.by_name.insert(spec.name.as_bytes().into(), id);
                assert!(previous.is_none(), "command {} declared twice", spec.name);
                for sub in spec.subcommands {
                    let sub_id = table.push(sub, format!("{}|{}", spec.name, sub.name), Some(id));
                    table.entries[id]
                        .subcommands
                        .insert(sub.name.as_bytes().into(), sub_id);
                }
            }
        }
        table
    }

    fn push(
        &mut self,
        spec: &'static CommandSpec,
        full_name: String,
        parent: Option<usize>,
    ) -> usize {
        let id = self.entries.len();
        let doc_args =
            parse_syntax(spec.syntax).unwrap_or_else(|e| panic!("bad syntax for {full_name}: {e}"));
        self.entries.push(CommandEntry {
            spec,
            full_name,
            id,
            parent,
            subcommands: HashMap::default(),
            doc_args,
        });
        id
    }

    /// Resolves a request's command (and, for containers, subcommand) name, case-insensitively.
    pub fn lookup(&self, args: &[&[u8]]) -> Lookup<'_> {
        let Some(entry) = self.get(args[0]) else {
            return Lookup::Unknown;
        };
        if !entry.has_subcommands() || args.len() < 2 {
            return Lookup::Found(entry);
        }
        match lowercase(args[1], |name| entry.subcommands.get(name).copied()) {
            Some(id) => Lookup::Found(&self.entries[id]),
            None => Lookup::UnknownSubcommand(entry),
        }
    }

    /// [`lookup`](Self::lookup) that first compares the name with the connection's last
    /// command, and remembers a top-level command without subcommands it finds.
    pub fn lookup_remembering(
        &'static self,
        args: &[&[u8]],
        last: &mut LastCommand,
    ) -> Lookup<'static> {
        if let Some(entry) = last.entry {
            if args[0].eq_ignore_ascii_case(&last.name[..last.len as usize]) {
                return Lookup::Found(entry);
            }
        }
        let found = self.lookup(args);
        if let Lookup::Found(entry) = found {
            let name = args[0];
            if entry.parent.is_none() && !entry.has_subcommands() && name.len() <= last.name.len() {
                last.name[..name.len()].copy_from_slice(name);
                last.len = name.len() as u8;
                last.entry = Some(entry);
            }
        }
        found
    }

    /// A top-level command by name, case-insensitively.
    pub fn get(&self, name: &[u8]) -> Option<&CommandEntry> {
        lowercase(name, |lower| {
            self.by_name.get(lower).map(|&id| &self.entries[id])
        })
    }

    /// A command named as COMMAND INFO/DOCS and LATENCY HISTOGRAM name them, any case: `get`,
    /// or `config|get` for a subcommand (the container under the name requests use).
    pub fn by_full_name(&self, name: &[u8]) -> Option<&CommandEntry> {
        let mut parts = name.split(|&b| b == b'|');
        let (top, sub) = (parts.next()?, parts.next());
        if parts.next().is_some() {
            return None;
        }
        let entry = self.get(top)?;
        let Some(sub) = sub else {
            return Some(entry);
        };
        let id = lowercase(sub, |lower| entry.subcommands.get(lower).copied())?;
        Some(&self.entries[id])
    }

    /// The commands and subcommands requests can reach: all but those `rename-command`
    /// disabled, which COMMAND no longer lists.
    pub fn reachable(&self) -> impl Iterator<Item = &CommandEntry> {
        self.entries
            .iter()
            .filter(|e| !self.disabled.contains(&e.parent.unwrap_or(e.id)))
    }

    /// The top-level commands requests can reach, under their own names.
    pub fn top_level(&self) -> impl Iterator<Item = &CommandEntry> {
        self.reachable().filter(|e| e.parent.is_none())
    }

    /// `rename-command from to`, as Redis applies it while reading its configuration: the
    /// command named `from` (a top-level name, any case) is reached as `to` from now on, or by
    /// no name when `to` is empty. The old name is free at once, so `rename-command get ""`
    /// then `rename-command set get` is allowed, as in Redis.
    pub fn rename(&mut self, from: &[u8], to: &[u8]) -> Result<(), RenameError> {
        let id = self
            .by_name
            .remove(from.to_ascii_lowercase().as_slice())
            .ok_or(RenameError::NoSuchCommand)?;
        if to.is_empty() {
            self.disabled.push(id);
            return Ok(());
        }
        let to = to.to_ascii_lowercase().into_boxed_slice();
        if self.by_name.contains_key(&to) {
            self.by_name.insert(from.to_ascii_lowercase().into(), id);
            return Err(RenameError::TargetExists);
        }
        self.by_name.insert(to, id);
        Ok(())
    }

    pub fn subcommands<'t>(
        &'t self,
        entry: &'t CommandEntry,
    ) -> impl Iterator<Item = &'t CommandEntry> {
        self.entries
            .iter()
            .filter(move |e| e.parent == Some(entry.id))
    }
}

/// Calls `f` with the ASCII-lowercased `name`, without allocating for ordinary names.
fn lowercase<R>(name: &[u8], f: impl FnOnce(&[u8]) -> R) -> R {
    let mut buf = [0u8; 64];
    if name.len() <= buf.len() {
        for (d, s) in buf.iter_mut().zip(name) {
            *d = s.to_ascii_lowercase();
        }
        f(&buf[..name.len()])
    } else {
        f(&name.to_ascii_lowercase())
    }
}

static TABLE: OnceLock<CommandTable> = OnceLock::new();

/// The server's command table.
pub fn table() -> &'static CommandTable {
    TABLE.get_or_init(CommandTable::default)
}

impl Default for CommandTable {
    /// Every command the families declare, under its own name.
    fn default() -> Self {
        CommandTable::build(crate::commands::FAMILIES)
    }
}

/// Makes `renamed` (a table that `rename-command` directives changed) the server's table.
/// Start-up does this before anything looks a command up, so requests pay nothing for renames:
/// the lookup is the same map either way.
pub fn install(renamed: CommandTable) {
    assert!(
        TABLE.set(renamed).is_ok(),
        "the command table was in use before rename-command applied"
    );
}

/// An argument in COMMAND DOCS.
#[derive(Debug, Clone, PartialEq)]
pub struct DocArg {
    pub name: String,
    /// key, string, integer, double, pattern, unix-time, pure-token, oneof or block.
    pub kind: &'static str,
    pub token: Option<String>,
    /// Which of the command's key specs the argument is a key of (keys default to the first).
    pub key_spec_index: Option<i32>,
    /// The version that added the argument, when later than the command's.
    pub since: Option<String>,
    pub deprecated_since: Option<String>,
    pub optional: bool,
    pub multiple: bool,
    /// Each repetition repeats the token too (`GET pattern [GET pattern ...]`).
    pub multiple_token: bool,
    pub args: Vec<DocArg>,
}

impl DocArg {
    fn leaf(name: &str, kind: &'static str) -> Self {
        DocArg {
            name: name.into(),
            kind,
            token: None,
            key_spec_index: (kind == "key").then_some(0),
            since: None,
            deprecated_since: None,
            optional: false,
            multiple: false,
            multiple_token: false,
            args: Vec::new(),
        }
    }
}

/// Parses a syntax line into COMMAND DOCS arguments. The notation:
/// - `name` is an argument (`key` and `newkey` are keys; `name:key`, `name:integer`, `:double`,
///   `:pattern`, `:unix-time` give a type, the default is string);
/// - an UPPERCASE word is a token; it takes the lower-case words after it as its value
///   (one word: a token argument; several: a block introduced by the token; none: a pure token);
/// - `[ ... ]` is optional, `( ... )` groups, `a | b` inside either is a choice (oneof), and a
///   `label=` prefix names a group;
/// - `...` after an item means it repeats;
/// - `{attr attr}` after an item sets what the notation cannot say otherwise: `k=1` the key
///   spec index, `s=6.2.0` since, `d=2.8.12` deprecated since, `mt` multiple_token, `n=name` the
///   name, `t=TOKEN` the token (`t=` an empty one), in Redis's words; `block` after a group
///   of one item makes it a block of that item.
pub fn parse_syntax(syntax: &str) -> Result<Vec<DocArg>, String> {
    let tokens = tokenize(syntax);
    let mut pos = 0;
    let args = parse_sequence(&tokens, &mut pos)?;
    if pos != tokens.len() {
        return Err(format!("unexpected '{}'", tokens[pos]));
    }
    Ok(args)
}

fn tokenize(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut Vec<String>| {
        if !word.is_empty() {
            out.push(std::mem::take(word));
        }
    };
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '[' | ']' | '(' | ')' | '|' => {
                // A `label=` directly before a group stays attached to the bracket.
                if (c == '[' || c == '(') && word.ends_with('=') {
                    word.push(c);
                    flush(&mut word, &mut out);
                    continue;
                }
                flush(&mut word, &mut out);
                out.push(c.to_string());
            }
            '.' if chars.peek() == Some(&'.') => {
                flush(&mut word, &mut out);
                chars.next();
                chars.next();
                out.push("...".into());
            }
            '{' => {
                flush(&mut word, &mut out);
                word.push(c);
                for c in chars.by_ref() {
                    word.push(c);
                    if c == '}' {
                        break;
                    }
                }
                flush(&mut word, &mut out);
            }
            c if c.is_whitespace() => flush(&mut word, &mut out),
            c => word.push(c),
        }
    }
    flush(&mut word, &mut out);
    out
}

/// Parses items until `]`, `)`, `|` or the end; the caller handles alternatives.
fn parse_sequence(tokens: &[String], pos: &mut usize) -> Result<Vec<DocArg>, String> {
    let mut items: Vec<DocArg> = Vec::new();
    while *pos < tokens.len() {
        let tok = tokens[*pos].as_str();
        match tok {
            "]" | ")" | "|" => break,
            _ if tok.starts_with('{') => {
                let last = items
                    .last_mut()
                    .ok_or("attributes with nothing before them")?;
                set_attributes(last, tok)?;
                *pos += 1;
            }
            "..." => {
                let last = items.last_mut().ok_or("'...' with nothing before it")?;
                last.multiple = true;
                *pos += 1;
            }
            _ if tok.ends_with('[') || tok.ends_with('(') => {
                let (label, open) = tok.split_at(tok.len() - 1);
                let label = label.trim_end_matches('=');
                *pos += 1;
                let mut group = parse_group(tokens, pos, if open == "[" { "]" } else { ")" })?;
                if open == "[" {
                    group.optional = true;
                }
                if !label.is_empty() {
                    group.name = label.to_string();
                }
                items.push(group);
            }
            _ if is_token(tok) => {
                *pos += 1;
                let mut values = Vec::new();
                while *pos < tokens.len() && is_value(&tokens[*pos]) {
                    values.push(value_arg(&tokens[*pos]));
                    *pos += 1;
                }
                let name = tok.to_ascii_lowercase();
                let opens_group = tokens
                    .get(*pos)
                    .is_some_and(|t| t.ends_with('[') || t.ends_with('('));
                if values.is_empty() && opens_group {
                    // `TOKEN (a | b)`: the token introduces the group that follows it.
                    let mut group = parse_sequence(tokens, pos)?;
                    let mut first = group.remove(0);
                    first.token = Some(tok.into());
                    items.push(first);
                    items.extend(group);
                    continue;
                }
                let arg = match values.len() {
                    0 => DocArg {
                        token: Some(tok.into()),
                        ..DocArg::leaf(&name, "pure-token")
                    },
                    1 => DocArg {
                        token: Some(tok.into()),
                        ..values.pop().expect("one value")
                    },
                    _ => DocArg {
                        token: Some(tok.into()),
                        args: values,
                        ..DocArg::leaf(&name, "block")
                    },
                };
                items.push(arg);
            }
            _ => {
                items.push(value_arg(tok));
                *pos += 1;
            }
        }
    }
    Ok(items)
}

/// Parses the inside of `[..]` or `(..)` up to `close`, into one argument.
fn parse_group(tokens: &[String], pos: &mut usize, close: &str) -> Result<DocArg, String> {
    let mut alternatives = Vec::new();
    loop {
        let seq = parse_sequence(tokens, pos)?;
        alternatives.push(seq);
        match tokens.get(*pos).map(String::as_str) {
            Some("|") => *pos += 1,
            Some(t) if t == close => {
                *pos += 1;
                break;
            }
            other => return Err(format!("expected '{close}', found {other:?}")),
        }
    }
    // A group of one item is that item, unless its attributes ask for a block around it.
    let block_of_one = tokens
        .get(*pos)
        .and_then(|t| t.strip_prefix('{'))
        .is_some_and(|t| {
            t.trim_end_matches('}')
                .split_whitespace()
                .any(|a| a == "block")
        });
    let as_one = |mut seq: Vec<DocArg>| -> Result<DocArg, String> {
        match seq.len() {
            0 => Err("empty group".into()),
            1 if !block_of_one => Ok(seq.pop().expect("one item")),
            _ => Ok(DocArg {
                args: seq,
                ..DocArg::leaf("", "block")
            }),
        }
    };
    let mut arg = if alternatives.len() == 1 {
        as_one(alternatives.pop().expect("one alternative"))?
    } else {
        let args = alternatives
            .into_iter()
            .map(as_one)
            .collect::<Result<Vec<_>, _>>()?;
        DocArg {
            args,
            ..DocArg::leaf("", "oneof")
        }
    };
    if arg.name.is_empty() {
        arg.name = arg
            .args
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>()
            .join("-");
    }
    Ok(arg)
}

/// Applies a `{...}` attribute list (see [`parse_syntax`]) to `arg`.
fn set_attributes(arg: &mut DocArg, list: &str) -> Result<(), String> {
    let inner = list
        .strip_prefix('{')
        .and_then(|l| l.strip_suffix('}'))
        .ok_or_else(|| format!("unclosed attributes {list}"))?;
    for attr in inner.split_whitespace() {
        match attr.split_once('=') {
            Some(("k", index)) => {
                arg.key_spec_index = Some(index.parse().map_err(|_| format!("bad {attr}"))?)
            }
            Some(("s", version)) => arg.since = Some(version.into()),
            Some(("d", version)) => arg.deprecated_since = Some(version.into()),
            Some(("n", name)) => arg.name = name.into(),
            Some(("t", token)) => arg.token = Some(token.into()),
            None if attr == "mt" => arg.multiple_token = true,
            // Read by `parse_group`, which builds the block.
            None if attr == "block" => {}
            _ => return Err(format!("unknown attribute {attr}")),
        }
    }
    Ok(())
}

fn is_token(word: &str) -> bool {
    word.bytes().any(|b| b.is_ascii_uppercase()) && !word.bytes().any(|b| b.is_ascii_lowercase())
}

fn is_value(word: &str) -> bool {
    !is_token(word)
        && !word.starts_with('{')
        && !matches!(word, "[" | "]" | "(" | ")" | "|" | "...")
        && !word.ends_with('[')
        && !word.ends_with('(')
}

fn value_arg(word: &str) -> DocArg {
    const TYPES: &[&str] = &[
        "key",
        "integer",
        "double",
        "pattern",
        "unix-time",
        "string",
        "pure-token",
    ];
    // A suffix that is no type is part of the name (`ip:port`).
    let typed = word
        .rsplit_once(':')
        .and_then(|(name, kind)| Some((name, *TYPES.iter().find(|t| **t == kind)?)));
    let (name, kind) = match typed {
        Some(typed) => typed,
        None if word.contains(':') => (word, "string"),
        None if word == "key" || word.ends_with("key") && !word.contains('-') => (word, "key"),
        None => (word, "string"),
    };
    DocArg::leaf(name, kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rename_moves_or_removes_a_name_and_keeps_the_entry() {
        let mut table = CommandTable::default();
        let count = table.top_level().count();
        let config = table.get(b"config").unwrap().id;
        table.rename(b"CONFIG", b"Cfg").unwrap();
        assert!(table.get(b"config").is_none());
        assert_eq!(table.get(b"cFG").unwrap().id, config);
        assert_eq!(table.get(b"cfg").unwrap().full_name, "config");
        assert_eq!(
            table.by_full_name(b"CFG|GET").unwrap().full_name,
            "config|get"
        );
        assert!(table.by_full_name(b"config|get").is_none());
        assert_eq!(
            table.rename(b"config", b"x"),
            Err(RenameError::NoSuchCommand)
        );
        assert_eq!(
            table.rename(b"config|get", b"x"),
            Err(RenameError::NoSuchCommand)
        );
        // Refused, the command keeps its name.
        assert_eq!(table.rename(b"cfg", b"GET"), Err(RenameError::TargetExists));
        assert!(table.get(b"cfg").is_some());
        // A command may keep its own name.
        table.rename(b"cfg", b"CFG").unwrap();
        assert_eq!(table.top_level().count(), count);

        table.rename(b"cfg", b"").unwrap();
        assert!(table.get(b"cfg").is_none());
        assert_eq!(table.top_level().count(), count - 1);
        assert!(table
            .reachable()
            .all(|e| !e.full_name.starts_with("config")));
        table.rename(b"flushall", b"cfg").unwrap();
        assert_eq!(table.get(b"cfg").unwrap().full_name, "flushall");
    }

    #[test]
    fn set_syntax_matches_redis_docs_shape() {
        let args = parse_syntax(
            "key value condition=[NX | XX] [GET] expiration=[EX seconds:integer | PX milliseconds:integer | \
             EXAT unix-time-seconds:unix-time | PXAT unix-time-milliseconds:unix-time | KEEPTTL]",
        )
        .unwrap();
        assert_eq!(args.len(), 5);
        assert_eq!((args[0].name.as_str(), args[0].kind), ("key", "key"));
        assert_eq!((args[1].name.as_str(), args[1].kind), ("value", "string"));
        assert_eq!(
            (args[2].name.as_str(), args[2].kind, args[2].optional),
            ("condition", "oneof", true)
        );
        assert_eq!(args[2].args[0].token.as_deref(), Some("NX"));
        assert_eq!((args[3].kind, args[3].optional), ("pure-token", true));
        let ex = &args[4].args[0];
        assert_eq!(
            (ex.name.as_str(), ex.kind, ex.token.as_deref()),
            ("seconds", "integer", Some("EX"))
        );
        assert_eq!(args[4].args[4].kind, "pure-token");
    }

    #[test]
    fn repeats_blocks_and_tokens_with_several_values() {
        let args =
            parse_syntax("(key value)... [LIMIT offset:integer count:integer] key...").unwrap();
        assert_eq!(
            (args[0].kind, args[0].multiple, args[0].args.len()),
            ("block", true, 2)
        );
        assert_eq!(
            (args[1].kind, args[1].token.as_deref(), args[1].optional),
            ("block", Some("LIMIT"), true)
        );
        assert!(args[2].multiple);
    }

    /// The `{...}` attributes and blocks of one, as Redis's docs of SORT, MIGRATE, CLIENT KILL
    /// and CONFIG GET need them.
    #[test]
    fn attributes_say_what_the_shape_cannot() {
        let args = parse_syntax(
            "key [GET pattern:pattern{k=1 mt}...] [ALPHA{n=sorting s=2.6.0}] \
             (key | empty_string:pure-token{t=}) ip:port{d=2.8.12} parameter=(parameter...){block}",
        )
        .unwrap();
        assert_eq!(args[0].key_spec_index, Some(0));
        let get = &args[1];
        assert_eq!(
            (
                get.key_spec_index,
                get.optional,
                get.multiple,
                get.multiple_token
            ),
            (Some(1), true, true, true)
        );
        assert_eq!(get.token.as_deref(), Some("GET"));
        let alpha = &args[2];
        assert_eq!(
            (alpha.name.as_str(), alpha.kind, alpha.since.as_deref()),
            ("sorting", "pure-token", Some("2.6.0"))
        );
        let empty = &args[3].args[1];
        assert_eq!(
            (empty.name.as_str(), empty.kind, empty.token.as_deref()),
            ("empty_string", "pure-token", Some(""))
        );
        let ip = &args[4];
        assert_eq!(
            (ip.name.as_str(), ip.kind, ip.deprecated_since.as_deref()),
            ("ip:port", "string", Some("2.8.12"))
        );
        let block = &args[5];
        assert_eq!((block.name.as_str(), block.kind), ("parameter", "block"));
        assert!(block.args[0].multiple && !block.multiple);
        assert!(parse_syntax("key{x=1}").is_err());
    }

    fn handler_for_tests(_: &mut Ctx<'_>) -> CmdResult {
        Ok(())
    }

    fn keys_of(spec: &CommandSpec, line: &str) -> Option<Vec<(String, KeyFlags)>> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let keys = spec.find_keys(&args)?;
        Some(
            keys.iter()
                .map(|k| (line.split(' ').nth(k.pos).unwrap().to_string(), k.flags))
                .collect(),
        )
    }

    /// Keyword searches and range limits, which no command here uses yet, checked with Redis
    /// 7.0.15's specs of XREAD and GEORADIUS and what its COMMAND GETKEYS returns for them.
    #[test]
    fn keyword_search_and_range_limit_find_what_redis_finds() {
        use key_flags::*;
        static XREAD: &[KeySpec] = &[KeySpec::keyword("STREAMS", 1)
            .range(-1, 1, 2)
            .flags(RO | ACCESS)];
        let xread = CommandSpec::new("xread", -4, 0, handler_for_tests).key_specs(XREAD);
        let found = keys_of(&xread, "xread count 1 streams a b c 0 0 0").unwrap();
        let names: Vec<&str> = found.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert_eq!(found[0].1, RO | ACCESS);
        assert_eq!(xread.legacy_range(), (0, 0, 0, true));

        static GEORADIUS: &[KeySpec] = &[
            KeySpec::index(1).range(0, 1, 0).flags(RO | ACCESS),
            KeySpec::keyword("STORE", 6)
                .range(0, 1, 0)
                .flags(OW | UPDATE),
            KeySpec::keyword("STOREDIST", 6)
                .range(0, 1, 0)
                .flags(OW | UPDATE),
        ];
        let geo = CommandSpec::new("georadius", -6, 0, handler_for_tests).key_specs(GEORADIUS);
        let names = |line| {
            keys_of(&geo, line)
                .unwrap()
                .into_iter()
                .map(|(k, _)| k)
                .collect::<Vec<_>>()
        };
        assert_eq!(names("georadius k 1 2 3 m STORE d"), ["k", "d"]);
        // A keyword in last place has no key after it.
        assert_eq!(names("georadius k 1 2 3 m STORE"), ["k"]);
        assert_eq!(
            names("georadius k 1 2 3 m store d storedist e"),
            ["k", "d", "e"]
        );
        assert_eq!(geo.legacy_range(), (1, 1, 1, true));
    }

    /// The legacy triple: one range is itself; consecutive step-1 ranges merge (a range to the
    /// end wins); anything else is left out and makes the keys movable.
    #[test]
    fn legacy_range_is_derived_as_redis_derives_it() {
        use key_flags::*;
        let spec = |specs| CommandSpec::new("x", -2, 0, handler_for_tests).key_specs(specs);
        static MSET: &[KeySpec] = &[KeySpec::index(1).range(-1, 2, 0).flags(OW)];
        static BITOP: &[KeySpec] = &[
            KeySpec::index(2).range(0, 1, 0).flags(OW),
            KeySpec::index(3).range(-1, 1, 0).flags(RO),
        ];
        static ZUNIONSTORE: &[KeySpec] = &[
            KeySpec::index(1).range(0, 1, 0).flags(OW),
            KeySpec::index(2).keynum(0, 1, 1).flags(RO),
        ];
        static GAP: &[KeySpec] = &[
            KeySpec::index(1).range(0, 1, 0).flags(RO),
            KeySpec::index(3).range(0, 1, 0).flags(RO),
        ];
        static INCOMPLETE_ONE: &[KeySpec] =
            &[KeySpec::index(1).range(0, 1, 0).flags(RO | INCOMPLETE)];
        assert_eq!(spec(MSET).legacy_range(), (1, -1, 2, false));
        assert_eq!(spec(BITOP).legacy_range(), (2, -1, 1, false));
        assert_eq!(spec(ZUNIONSTORE).legacy_range(), (1, 1, 1, true));
        assert_eq!(spec(GAP).legacy_range(), (1, 1, 1, true));
        assert_eq!(spec(INCOMPLETE_ONE).legacy_range(), (1, 1, 1, true));
        assert_eq!(spec(&[]).legacy_range(), (0, 0, 0, false));
    }

    /// A handler with no spec cannot be reached and fails the build as dead code (clippy runs
    /// with -D warnings); this checks the other direction: every spec is complete and dispatchable.
    #[test]
    fn every_spec_is_complete_and_dispatchable() {
        let table = table();
        assert!(crate::commands::FAMILIES.iter().all(|f| !f.is_empty()));
        for entry in &table.entries {
            assert!(
                !entry.spec.summary.is_empty(),
                "{} has no summary",
                entry.full_name
            );
            assert!(
                entry.spec.group != Group::None || entry.parent.is_some(),
                "{} has no group",
                entry.full_name
            );
            assert!(
                !entry.is_container() || entry.has_subcommands(),
                "{}: a spec without a handler must have subcommands",
                entry.full_name
            );
        }
    }
}
