//! Random but plausible commands from the documented argument trees: keys from a small
//! keyspace (so types mix and collide), values by the argument's type and name (edge integers,
//! doubles with inf/nan/exponents, empty and binary strings, stream IDs, score and lex ranges),
//! and now and then a value of the wrong kind, a repeated option or a mangled argument list.
//!
//! Two rules keep both servers deterministic: relative times are either in the past or years
//! away (never seconds, which would expire mid-run on one server and not yet on the other), and
//! sizes a client controls stay small unless they are past Redis's limits (an offset of
//! 2^32 is refused; 2^32 - 1 would allocate 512 MB on both).

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::docs::{Arg, ArgKind, CommandModel};
use crate::policy::TOKENS_NOT_GENERATED;

/// The shared keys: few enough that commands of every type meet on the same ones.
const KEYS: &[&str] = &["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k\x00\u{ff}"];

/// Members, fields, elements and values: few, so that they collide; numbers so that INCR and
/// friends succeed; a 65-byte one, past the listpack element limit (64), so encodings convert.
const VALUES: &[&str] = &[
    "a",
    "b",
    "c",
    "d",
    "foo",
    "",
    "0",
    "1",
    "-1",
    "10",
    "3.5",
    "-0",
    "inf",
    "nan",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "1e3",
    " 1",
    "\x00\r\n\u{ff}",
    "k1",
    "w_*",
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
];

/// Integers that are not plain small numbers.
const EDGE_INTEGERS: &[&str] = &[
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "-9223372036854775809",
    "4294967296",
    "2147483648",
    "-2147483649",
    "1.5",
    "abc",
    "",
    " 1",
    "+1",
    "01",
    "0x10",
    "1e3",
    "-0",
];

const DOUBLES: &[&str] = &[
    "0",
    "1",
    "-1",
    "2",
    "1.5",
    "-2.5",
    "0.1",
    "inf",
    "-inf",
    "+inf",
    "nan",
    "1e308",
    "1e309",
    "-1e-320",
    "1e-5",
    "5e2",
    ".5",
    "5.",
    "-0",
    "0x10",
    " 1",
    "1 ",
    "abc",
    "",
    "(1",
    "1e",
    "9007199254740993",
    "3.14159265358979",
];

/// Score and lex range ends, and plain indexes: ZRANGE's start and stop are all three.
const RANGE_ENDS: &[&str] = &[
    "0", "1", "-1", "2", "-2", "100", "-100", "(1", "(2.5", "-inf", "+inf", "inf", "(-inf", "-",
    "+", "[a", "(b", "[c", "a", "", "(", "[", "nan", "1.5",
];

const STREAM_IDS: &[&str] = &[
    "0",
    "0-0",
    "0-1",
    "1",
    "1-1",
    "1-2",
    "2-0",
    "5",
    "5-5",
    "1-*",
    "3-*",
    "-",
    "+",
    "$",
    ">",
    "(1-1",
    "(0",
    "18446744073709551615-18446744073709551615",
    "18446744073709551615-*",
    "18446744073709551616",
    "1-18446744073709551615",
    "abc",
    "-1",
    "",
];

/// SCAN-family cursors: the start, and refused ones. A cursor the server did not return means
/// nothing: each server's cursors are positions in its own hash tables.
const CURSORS: &[&str] = &["0", "0", "0", "abc", "18446744073709551616", ""];

const PATTERNS: &[&str] = &[
    "*", "k*", "k?", "k[0-3]", "k[^1]", "*\\", "w_*", "h*llo", "", "nosort", "k0", "[",
];

/// Relative times: none that would run out while a run is going on.
const RELATIVE_TIMES: &[&str] = &[
    "0",
    "-1",
    "-100",
    "100000000",
    "1000000000000",
    "9223372036854775807",
    "-9223372036854775808",
    "abc",
    "1.5",
    "",
];

/// Absolute times: long past, or far ahead.
const ABSOLUTE_TIMES: &[&str] = &[
    "1",
    "0",
    "-1",
    "1000",
    "4102444800",
    "4102444800000",
    "9223372036854775807",
    "abc",
];

/// Counts: small, or at the extremes Redis refuses or clamps (never a huge negative count,
/// which asks SRANDMEMBER and friends for that many random members).
const COUNTS: &[&str] = &[
    "0",
    "1",
    "2",
    "3",
    "5",
    "10",
    "-1",
    "-3",
    "100",
    "9223372036854775807",
    "-9223372036854775808",
    "abc",
    "",
];

const OFFSETS: &[&str] = &[
    "0",
    "1",
    "7",
    "8",
    "15",
    "63",
    "64",
    "100",
    "-1",
    "4294967296",
    "9223372036854775807",
    "abc",
    "#0",
    "#1",
    "#3",
];

const BITFIELD_TYPES: &[&str] = &[
    "i1", "u1", "i8", "u8", "i16", "u15", "i63", "i64", "u63", "u64", "i65", "x8", "i0", "",
];

/// Database indexes: the first few, and refused ones.
const DB_INDEXES: &[&str] = &["0", "1", "2", "0", "1", "16", "-1", "abc"];

/// Commands whose argument 2 is a relative time, in seconds or milliseconds (RESTORE's TTL is
/// absolute with ABSTTL, where a replaced one is in the past: deterministic either way).
const RELATIVE_TIME_AT_2: &[&str] = &["expire", "pexpire", "setex", "psetex", "restore"];

/// Options followed by a relative time.
const RELATIVE_TIME_TOKENS: &[&[u8]] = &[b"EX", b"PX"];

/// Replaces a relative time that would run out within minutes (a stray small number moved
/// there by a substitution or a mangled argument list) with one years away: expiring during
/// a run would happen at a different moment on each server.
fn defuse_relative_times(command: &str, args: &mut [Vec<u8>]) {
    let soon = |arg: &[u8]| {
        std::str::from_utf8(arg)
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|n| (1..=100_000).contains(&n))
    };
    let mut positions: Vec<usize> = Vec::new();
    if RELATIVE_TIME_AT_2.contains(&command) {
        positions.push(2);
    }
    for (i, arg) in args.iter().enumerate() {
        if RELATIVE_TIME_TOKENS
            .iter()
            .any(|t| arg.eq_ignore_ascii_case(t))
        {
            positions.push(i + 1);
        }
    }
    for i in positions {
        if args.get(i).is_some_and(|arg| soon(arg)) {
            args[i] = b"100000000".to_vec();
        }
    }
    if command == "set" {
        defuse_past_times(args);
    }
}

/// SET with an EXAT or PXAT in the past stores a key that is already expired; it lingers until
/// a command touches it, and partial SCAN pages and RANDOMKEY touch different keys on each
/// server (by table layout, by chance). Such times become far-future ones. (The commands that
/// delete at once given a past time, EXPIREAT, GETEX, RESTORE ABSTTL, keep theirs.)
fn defuse_past_times(args: &mut [Vec<u8>]) {
    /// Each option, and a time in 2100 in its unit.
    const FUTURE: &[(&[u8], i64)] = &[(b"EXAT", 4_102_444_800), (b"PXAT", 4_102_444_800_000)];
    for i in 1..args.len() {
        let Some(&(_, future)) = FUTURE
            .iter()
            .find(|(token, _)| args[i - 1].eq_ignore_ascii_case(token))
        else {
            continue;
        };
        let past = std::str::from_utf8(&args[i])
            .ok()
            .and_then(|t| t.parse::<i64>().ok())
            .is_some_and(|t| t < future);
        if past {
            args[i] = future.to_string().into_bytes();
        }
    }
}

/// Lua scripts for EVAL and SCRIPT LOAD: replies of every kind (nested arrays, floats
/// truncated, false and nil, status and error tables), commands called and refused, runtime
/// errors, the libraries. None has a reply in unspecified order or a use of time.
pub const SCRIPTS: &[&str] = &[
    "return 1",
    "return {1, 'two', {3.7, false, true}, -0.5}",
    "return {1, 2, nil, 4}",
    "return 3.99",
    "return redis.call('GET', KEYS[1])",
    "return redis.call('INCR', KEYS[1])",
    "return redis.pcall('LPUSH', KEYS[1], ARGV[1])",
    "return redis.call('TYPE', KEYS[1])",
    "return redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])",
    "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('GET', KEYS[1])",
    "return redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')",
    "redis.setresp(3) return redis.call('ZSCORE', KEYS[1], ARGV[1])",
    "redis.setresp(3) return redis.call('HGET', KEYS[1], ARGV[1])",
    "return {err='My Error'}",
    "return redis.error_reply('E2 oops')",
    "return redis.status_reply('FINE')",
    "error('boom')",
    "return redis.call('nosuchcommand')",
    "return redis.call('EVAL', 'return 1', 0)",
    "return x",
    "return tonumber(ARGV[1])",
    "return #KEYS + #ARGV",
    "return redis.sha1hex(ARGV[1] or '')",
    "return cjson.encode({a = {1, 2}})",
    "return cjson.decode(ARGV[1] or 'null')",
    "return bit.band(7, 3)",
    "return struct.pack('>I2', 258)",
    "return cmsgpack.pack({1, 2})",
    "local t = redis.call('XRANGE', KEYS[1], '-', '+') return #t",
    "return redis.call('LRANGE', KEYS[1], 0, -1)",
    "return 'unterminated",
];

/// Function libraries for FUNCTION LOAD: good ones (two with the same name), and ones Redis
/// refuses (no functions, no shebang, a call while loading, a bad engine).
pub const LIBRARIES: &[&str] = &[
    "#!lua name=lib1\nredis.register_function('f', function(keys, args) return #keys end)",
    "#!lua name=lib1\nredis.register_function('f2', function(keys, args) return args end)",
    "#!lua name=lib2\nredis.register_function{function_name='g', callback=function(keys, args) \
     return redis.call('GET', keys[1]) end, flags={'no-writes'}}",
    "#!lua name=lib3\nredis.register_function('h', function(keys, args) \
     return redis.call('INCR', keys[1]) end)",
    "#!lua name=bad\nreturn 1",
    "return 1",
    "#!lua name=lib4\nredis.call('SET', 'x', 'y')",
    "#!js name=lib5\nfoo",
    "#!lua name=lib6\nredis.register_function('f', function() return 1 end)",
];

/// Builds random commands from models.
pub struct Generator {
    rng: StdRng,
    /// The group of the command being generated (`list`, `hash`...), for its own keys.
    group: String,
    /// Where the command's `numkeys` value is, so the keys that follow can match it.
    numkeys_at: Option<usize>,
    /// The group most of this episode's commands come from, so that one type's state gets
    /// deep (a stream with groups, consumers and pending entries) before the dataset is
    /// flushed.
    focus: Option<String>,
    /// Real DUMP payloads, for RESTORE.
    payloads: Vec<Vec<u8>>,
    /// The digests of the scripts, for EVALSHA.
    shas: Vec<Vec<u8>>,
}

impl Generator {
    pub fn new(rng: StdRng) -> Generator {
        Generator {
            rng,
            group: String::new(),
            numkeys_at: None,
            focus: None,
            payloads: Vec::new(),
            shas: Vec::new(),
        }
    }

    /// DUMP payloads RESTORE is given besides garbage: real Redis's, of every type.
    pub fn with_payloads(mut self, payloads: Vec<Vec<u8>>) -> Generator {
        self.payloads = payloads;
        self
    }

    /// A RESTORE payload: mostly a real one, sometimes garbage or one with a byte flipped (its
    /// checksum then fails).
    fn payload(&mut self) -> Vec<u8> {
        let Some(real) = self.payloads.choose(&mut self.rng).cloned() else {
            return self.from(VALUES);
        };
        match self.rng.gen_range(0..6) {
            0 => self.from(&["", "abc", "\x00\x01a\x09\x00garbage!"]),
            1 => {
                let mut flipped = real;
                let at = self.rng.gen_range(0..flipped.len());
                flipped[at] ^= 0x20;
                flipped
            }
            _ => real,
        }
    }

    /// The SHA1 digests of [`SCRIPTS`], as Redis's SCRIPT LOAD gives them, for EVALSHA.
    pub fn with_shas(mut self, shas: Vec<Vec<u8>>) -> Generator {
        self.shas = shas;
        self
    }

    /// A script digest: mostly one of [`SCRIPTS`]' (cached once EVAL or SCRIPT LOAD ran it),
    /// sometimes none.
    fn sha(&mut self) -> Vec<u8> {
        match self.shas.choose(&mut self.rng) {
            Some(sha) if self.rng.gen_ratio(4, 5) => sha.clone(),
            _ => self.from(&["ffffffffffffffffffffffffffffffffffffffff", "abc", ""]),
        }
    }

    /// Starts an episode: picks the group it focuses on.
    pub fn start_episode(&mut self, models: &[CommandModel]) {
        self.focus = models.choose(&mut self.rng).map(|m| m.group.clone());
    }

    /// A random command of `model`, words first.
    pub fn command(&mut self, model: &CommandModel) -> Vec<Vec<u8>> {
        let mut out: Vec<Vec<u8>> = model.words.iter().map(|w| w.as_bytes().to_vec()).collect();
        let words = out.len();
        let name = model.full_name();
        self.group.clone_from(&model.group);
        self.numkeys_at = None;
        self.args(&name, &model.args, &mut out);
        if self.rng.gen_ratio(1, 12) {
            self.mangle(&mut out, words);
        }
        defuse_relative_times(&name, &mut out);
        out
    }

    /// A random command of `models[index]`. COMMAND GETKEYS and GETKEYSANDFLAGS usually get
    /// a whole generated command as their argument, so that every command's key specs are
    /// tried on plausible arguments.
    pub fn command_of(&mut self, models: &[CommandModel], index: usize) -> Vec<Vec<u8>> {
        let model = &models[index];
        let mut out = self.command(model);
        let nests = matches!(
            model.full_name().as_str(),
            "command|getkeys" | "command|getkeysandflags"
        );
        if nests && self.rng.gen_ratio(4, 5) {
            out.truncate(model.words.len());
            let inner = self.pick(models);
            out.extend(self.command(&models[inner]));
        }
        out
    }

    /// One random command of `models`, by its index.
    pub fn pick(&mut self, models: &[CommandModel]) -> usize {
        if let Some(focus) = self.focus.as_deref().filter(|_| self.rng.gen_bool(0.5)) {
            let focused: Vec<usize> = (0..models.len())
                .filter(|&i| models[i].group == focus)
                .collect();
            if let Some(&i) = focused.choose(&mut self.rng) {
                return i;
            }
        }
        self.rng.gen_range(0..models.len())
    }

    /// A sequence of arguments. Two `multiple` ones in a row (XREAD's `STREAMS key... id...`)
    /// usually get as many values each; a `numkeys` usually counts the keys after it.
    fn args(&mut self, command: &str, args: &[Arg], out: &mut Vec<Vec<u8>>) {
        let mut previous: Option<usize> = None;
        for arg in args {
            let balanced = previous.filter(|_| arg.multiple && self.rng.gen_ratio(4, 5));
            let repeats = self.arg(command, arg, balanced, out);
            previous = arg.multiple.then_some(repeats);
            if arg.multiple {
                if let Some(at) = self.numkeys_at.take() {
                    if self.rng.gen_ratio(4, 5) {
                        out[at] = repeats.to_string().into_bytes();
                    }
                }
            }
        }
    }

    /// One argument (`repeats` times when given and it is `multiple`); returns how many values
    /// it got.
    fn arg(
        &mut self,
        command: &str,
        arg: &Arg,
        repeats: Option<usize>,
        out: &mut Vec<Vec<u8>>,
    ) -> usize {
        if arg.optional && self.rng.gen_bool(0.5) {
            return 0;
        }
        let repeats = if let Some(repeats) = repeats {
            repeats
        } else if arg.multiple {
            // Sometimes none at all, to reach the arity and syntax errors.
            match self.rng.gen_range(0..60) {
                0..=2 => 0,
                // Now and then a long run, to cross the encodings' size limits (128 entries
                // for listpacks, 512 for intsets).
                3 => self.rng.gen_range(100..600),
                4..=30 => 1,
                _ => self.rng.gen_range(2..5),
            }
        } else if arg.optional && self.rng.gen_ratio(1, 15) {
            2 // a repeated option
        } else {
            1
        };
        for i in 0..repeats {
            if let Some(token) = &arg.token {
                if TOKENS_NOT_GENERATED
                    .iter()
                    .any(|(c, t, _)| *c == command && t.eq_ignore_ascii_case(token))
                {
                    return 0;
                }
                if i == 0 || arg.multiple_token || !arg.multiple {
                    out.push(token.as_bytes().to_vec());
                }
            }
            self.value(command, arg, out);
        }
        repeats
    }

    fn value(&mut self, command: &str, arg: &Arg, out: &mut Vec<Vec<u8>>) {
        match &arg.kind {
            ArgKind::PureToken => {}
            ArgKind::OneOf(choices) => {
                let allowed: Vec<&Arg> = choices
                    .iter()
                    .filter(|c| {
                        !c.token.as_ref().is_some_and(|t| {
                            TOKENS_NOT_GENERATED
                                .iter()
                                .any(|(n, tok, _)| *n == command && tok.eq_ignore_ascii_case(t))
                        })
                    })
                    .collect();
                if let Some(choice) = allowed.choose(&mut self.rng) {
                    let mut choice = (*choice).clone();
                    // One of them is chosen: it is not optional within the choice.
                    choice.optional = false;
                    self.arg(command, &choice, None, out);
                }
            }
            ArgKind::Block(parts) => self.args(command, parts, out),
            kind => {
                let value = self.scalar(command, &arg.name, kind);
                if arg.name == "numkeys" {
                    self.numkeys_at = Some(out.len());
                }
                out.push(value);
            }
        }
    }

    /// A value for an argument of this kind and name.
    fn scalar(&mut self, command: &str, name: &str, kind: &ArgKind) -> Vec<u8> {
        // Now and then a value of another kind altogether.
        if !matches!(kind, ArgKind::Key) && self.rng.gen_ratio(1, 25) {
            return self.from(VALUES);
        }
        let name = name.to_ascii_lowercase();
        let stream = command.starts_with('x');
        match kind {
            ArgKind::Key => self.key(),
            ArgKind::UnixTime => self.from(ABSOLUTE_TIMES),
            ArgKind::Pattern => self.from(PATTERNS),
            ArgKind::Double => match name.as_str() {
                "min" | "max" => self.from(RANGE_ENDS),
                // Mostly valid coordinates and sizes, so that geo commands get past parsing.
                "longitude" if self.rng.gen_ratio(4, 5) => self.coordinate(180.0),
                "latitude" if self.rng.gen_ratio(4, 5) => self.coordinate(85.05),
                "radius" | "width" | "height" if self.rng.gen_ratio(4, 5) => {
                    self.from(&["1", "100", "500.5", "20000", "0"])
                }
                _ => self.from(DOUBLES),
            },
            ArgKind::Integer => self.integer(command, &name),
            _ => match name.as_str() {
                "id" | "start" | "end" | "last-id" | "last_id" if stream => self.from(STREAM_IDS),
                "threshold" => {
                    if self.rng.gen_bool(0.5) {
                        self.from(STREAM_IDS)
                    } else {
                        self.from(COUNTS)
                    }
                }
                "start" | "stop" | "min" | "max" | "end" => self.from(RANGE_ENDS),
                "group" | "groupname" => self.from(&["g1", "g2", ""]),
                "consumer" | "consumername" => self.from(&["c1", "c2", ""]),
                "encoding" => self.from(BITFIELD_TYPES),
                "offset" => self.from(OFFSETS),
                "cursor" => self.from(CURSORS),
                "pattern" => self.from(PATTERNS),
                "serialized-value" => self.payload(),
                "operation" => self.from(&["AND", "or", "XOR", "NOT", "nand"]),
                "script" => self.from(SCRIPTS),
                "sha1" => self.sha(),
                "function" => self.from(&["f", "f2", "g", "h", "nosuch", ""]),
                "function-code" => self.from(LIBRARIES),
                "library-name" => self.from(&["lib1", "lib2", "lib3", "nosuch"]),
                "library-name-pattern" => self.from(&["lib*", "lib1", "*", "x"]),
                "subcommand" => self.from(&["GETREG", "DECODE", "ENCODING", "TODENSE", "foo"]),
                "seconds" | "milliseconds" | "ms" | "min-idle-time" | "ttl" => {
                    self.from(RELATIVE_TIMES)
                }
                _ => self.member(),
            },
        }
    }

    /// A key: mostly one of the type's own (`list:0`), so that most commands meet a value of
    /// their type, otherwise one of the shared [`KEYS`] that every type writes (wrong types).
    fn key(&mut self) -> Vec<u8> {
        let own = !matches!(self.group.as_str(), "generic" | "server" | "connection");
        match self.rng.gen_range(0..30) {
            0 => b"missing".to_vec(),
            1..=17 if own => format!("{}:{}", self.group, self.rng.gen_range(0..2)).into_bytes(),
            _ => self.from(KEYS),
        }
    }

    /// A member, field, element or value: mostly from [`VALUES`], sometimes one of many
    /// distinct ones (integers, so sets become intsets, or words), so that collections can
    /// grow past the listpack and intset limits.
    fn member(&mut self) -> Vec<u8> {
        match self.rng.gen_range(0..10) {
            0 => self.rng.gen_range(0..600).to_string().into_bytes(),
            1 => format!("m{}", self.rng.gen_range(0..300)).into_bytes(),
            _ => self.from(VALUES),
        }
    }

    /// A coordinate within ±`limit`, on a coarse grid so that members meet (same points,
    /// points within a radius).
    fn coordinate(&mut self, limit: f64) -> Vec<u8> {
        let steps = self.rng.gen_range(-8i32..=8);
        format!("{}", limit * f64::from(steps) / 8.0).into_bytes()
    }

    fn integer(&mut self, command: &str, name: &str) -> Vec<u8> {
        if command == "setbit" && name == "value" {
            return self.from(&["0", "1", "1", "2"]);
        }
        if name.contains("unix-time") {
            return self.from(ABSOLUTE_TIMES);
        }
        if matches!(
            name,
            "seconds" | "milliseconds" | "ms" | "min-idle-time" | "ttl" | "timeout"
        ) {
            return self.from(RELATIVE_TIMES);
        }
        if name == "cursor" {
            return self.from(CURSORS);
        }
        if name.contains("offset") || command == "setbit" || command == "setrange" {
            return self.from(OFFSETS);
        }
        if name.contains("count") || name == "limit" || name == "len" || name.contains("num") {
            return self.from(COUNTS);
        }
        if name.contains("index") || name.contains("db") {
            return self.from(DB_INDEXES);
        }
        if self.rng.gen_ratio(1, 5) {
            return self.from(EDGE_INTEGERS);
        }
        self.rng.gen_range(-5i64..=12).to_string().into_bytes()
    }

    fn from(&mut self, pool: &[&str]) -> Vec<u8> {
        let choice: &str = pool.choose(&mut self.rng).expect("a non-empty pool");
        choice.as_bytes().to_vec()
    }

    /// An odd argument list: one dropped, duplicated, swapped, or a stray word added.
    fn mangle(&mut self, out: &mut Vec<Vec<u8>>, words: usize) {
        if out.len() <= words {
            out.push(self.from(VALUES));
            return;
        }
        let i = self.rng.gen_range(words..out.len());
        match self.rng.gen_range(0..4) {
            0 => {
                out.remove(i);
            }
            1 => {
                let copy = out[i].clone();
                out.insert(i, copy);
            }
            2 => {
                let j = self.rng.gen_range(words..out.len());
                out.swap(i, j);
            }
            _ => {
                let stray = self.from(VALUES);
                out.insert(i, stray);
            }
        }
    }
}
