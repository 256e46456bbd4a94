//! The parameter table: what each parameter is called, its default, how it is parsed, shown
//! and checked, and which parts of the running server keep a copy of it. Grouped by the
//! subsystem that reads it; `all` lists them in that order.

use std::path::Path;
use std::sync::Arc;

use redis_lite_engine::Policy;
use redis_lite_persist::Keyring;

use super::sections::{OomScoreAdj, Supervised};
use super::{Config, DisklessLoad, FSYNC_POLICIES, LOG_LEVELS};
use crate::client::{BufferLimit, OutputClass};
use crate::notify;

/// One configuration parameter.
pub struct Param {
    pub name: &'static str,
    /// Whether CONFIG SET may change it at runtime.
    pub mutable: bool,
    /// The default, in config-file syntax.
    pub default: &'static str,
    pub get: fn(&Config) -> String,
    /// Sets from the words after the directive; the error is Redis's explanation.
    pub set: fn(&mut Config, &[String]) -> Result<(), String>,
    /// Whether the directive takes any number of words (bind) rather than exactly one.
    pub variadic: bool,
    /// The older name Redis still accepts and lists (`hash-max-ziplist-entries`...).
    pub alias: Option<&'static str>,
    /// A "protected config", as Redis calls it: CONFIG SET may change it only where
    /// `enable-protected-configs` allows (default: never). Mark here every mutable parameter
    /// that names a path the server reads or writes: changed at runtime, it lets a client write
    /// files anywhere the server may (`dir` + `dbfilename` + SAVE) or read them.
    pub protected: bool,
    /// Left out of CONFIG GET's pattern matches (only its exact name shows it), as Redis's
    /// test knobs (`key-load-delay`...) are.
    pub hidden: bool,
    /// The parts of the running server that keep their own copy of this parameter, told when
    /// it changes (see [`Apply`]).
    pub informs: &'static [Apply],
    /// How CONFIG REWRITE writes the value.
    pub rewrite: Rewrite,
}

/// How CONFIG REWRITE writes a parameter's value, as Redis writes that type of parameter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rewrite {
    /// As CONFIG GET shows it: numbers, words, lists.
    AsShown,
    /// Always in double quotes, as Redis writes its string parameters (`logfile "log.txt"`).
    Quoted,
    /// In the largest of gb, mb and kb that divides it (`100mb`), as Redis writes sizes.
    Memory,
    /// One line for each pair of words, `""` when there is none (`save 3600 1`, `save 300
    /// 100`...), as Redis writes its snapshot rules.
    PairPerLine,
    /// One line for each client class (four words: class, hard, soft, seconds) that differs
    /// from its default or takes the place of one of the file's lines, sizes in units and
    /// `slave` named `replica`, as Redis writes `client-output-buffer-limit`.
    LimitPerClass,
}

impl Param {
    /// The same parameter, informing `parts` of its changes.
    const fn informs(self, parts: &'static [Apply]) -> Param {
        Param {
            informs: parts,
            ..self
        }
    }

    /// The same parameter, listed by CONFIG GET only under its exact name.
    const fn hidden(self) -> Param {
        Param {
            hidden: true,
            ..self
        }
    }

    /// The same parameter, written by CONFIG REWRITE as `form` says.
    const fn rewritten_as(self, form: Rewrite) -> Param {
        Param {
            rewrite: form,
            ..self
        }
    }

    /// The same parameter, also known by an older name.
    const fn alias(self, old_name: &'static str) -> Param {
        Param {
            alias: Some(old_name),
            ..self
        }
    }
}

/// A part of the running server that keeps its own copy of some parameters (so the hot path
/// reads them without the config lock) and is told when they change: all of them at start-up,
/// and after CONFIG SET those its parameters list, each once (`Server::apply`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Apply {
    /// Collection encoding thresholds, read by the commands that build collections.
    Encoding,
    /// `notify-keyspace-events`, read by every change.
    Notifications,
    /// The output limit pub/sub delivery checks.
    PubSubLimit,
    LogLevel,
    /// The AOF: on or off, fsync policy, encryption, the clean-up of history files, timestamp
    /// annotations.
    Aof,
    /// `maxmemory`, `maxkeys` and the eviction loop's knobs.
    EvictionLimits,
    /// The keyspace's eviction policy and LFU parameters.
    EvictionPolicy,
    /// The settings each connection caches (idle timeout, buffer limits, bulk length).
    Connections,
    /// Replication's settings kept outside the lock: the backlog's size, the
    /// `min-replicas-*` rule.
    Replication,
    /// The process's settings the system keeps: its OOM score, its title, the crash log.
    Process,
    /// jemalloc's own settings: its background purging thread.
    Allocator,
    /// The `lazyfree-lazy-*` settings the keyspace applies to its deletions.
    LazyFree,
    /// `tracking-table-max-keys`, which client tracking checks after commands, and the
    /// output limit of the normal clients it sends invalidations to.
    Tracking,
    /// The slow log's and latency monitor's thresholds, `latency-tracking`.
    Observability,
    /// `dir`: the process's working directory, which relative paths are taken from (see
    /// `server::run`).
    WorkingDir,
    /// `requirepass`: the default user's one password. Not in `ALL`: the default user is
    /// built with it, and `user default` lines of the config file may change it after.
    DefaultUserPassword,
}

impl Apply {
    pub const ALL: &'static [Apply] = &[
        Apply::Encoding,
        Apply::Notifications,
        Apply::PubSubLimit,
        Apply::LogLevel,
        Apply::Aof,
        Apply::EvictionLimits,
        Apply::EvictionPolicy,
        Apply::Connections,
        Apply::Replication,
        Apply::Process,
        Apply::Allocator,
        Apply::LazyFree,
        Apply::Tracking,
        Apply::Observability,
    ];
}

/// What must be told after CONFIG SET of the parameters `names` (known ones), each part once.
pub fn applies_of<'a>(names: impl IntoIterator<Item = &'a [u8]>) -> Vec<Apply> {
    let mut parts = Vec::new();
    for name in names {
        let Some(param) = find_param(&String::from_utf8_lossy(name)) else {
            continue;
        };
        for part in param.informs {
            if !parts.contains(part) {
                parts.push(*part);
            }
        }
    }
    parts
}

fn one(words: &[String]) -> Result<&str, String> {
    match words {
        [w] => Ok(w),
        _ => Err("wrong number of arguments".into()),
    }
}

fn parse_bool(words: &[String]) -> Result<bool, String> {
    match one(words)?.to_ascii_lowercase().as_str() {
        "yes" => Ok(true),
        "no" => Ok(false),
        _ => Err("argument must be 'yes' or 'no'".into()),
    }
}

fn parse_int(words: &[String], min: i64, max: i64) -> Result<i64, String> {
    let v = redis_lite_protocol::number::parse_i64(one(words)?.as_bytes())
        .ok_or("argument couldn't be parsed into an integer")?;
    check_range(v, min, max)
}

fn parse_memory_value(words: &[String], min: i64, max: i64) -> Result<i64, String> {
    // Sizes are never negative: Redis says so with the same words as for text.
    let v = parse_memory(one(words)?)
        .filter(|v| *v >= 0)
        .ok_or("argument must be a memory value")?;
    check_range(v, min, max)
}

fn check_range(v: i64, min: i64, max: i64) -> Result<i64, String> {
    if v < min || v > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(v)
}

/// A size with Redis's units: `k`=1000, `kb`=1024, `m`, `mb`, `g`, `gb`, case-insensitive.
pub fn parse_memory(text: &str) -> Option<i64> {
    let lower = text.to_ascii_lowercase();
    let units: &[(&str, i64)] = &[
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
    ];
    let (digits, mul) = units
        .iter()
        .find_map(|(suffix, mul)| lower.strip_suffix(suffix).map(|d| (d, *mul)))
        .unwrap_or((lower.as_str(), 1));
    let n: i64 = redis_lite_protocol::number::parse_i64(digits.as_bytes())?;
    n.checked_mul(mul)
}

pub(super) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn choice(words: &[String], options: &[&'static str]) -> Result<&'static str, String> {
    let w = one(words)?.to_ascii_lowercase();
    options.iter().find(|o| **o == w).copied().ok_or_else(|| {
        format!(
            "argument(s) must be one of the following: {}",
            options.join(", ")
        )
    })
}

/// Who may take a protected action (DEBUG, MODULE LOAD, CONFIG SET of a protected parameter):
/// Redis's `no` / `yes` / `local` settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Allow {
    No,
    Yes,
    /// Clients on this host only: loopback TCP or the unix socket.
    Local,
}

impl Allow {
    /// The one decision for every protected action: may a client (local or not) take it?
    pub fn permits(self, client_is_local: bool) -> bool {
        match self {
            Allow::No => false,
            Allow::Yes => true,
            Allow::Local => client_is_local,
        }
    }
}

const ALLOW_MODES: &[(&str, Allow)] = &[
    ("no", Allow::No),
    ("yes", Allow::Yes),
    ("local", Allow::Local),
];

/// A parameter stored as an integer field, parsed with a range check.
macro_rules! int_param {
    ($name:literal, $($field:ident).+ : $ty:ty, $min:expr, $max:expr, default $default:literal, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| c.$($field).+.to_string(),
            set: |c, w| {
                c.$($field).+ = parse_int(w, $min, $max)? as $ty;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            hidden: false,
            informs: &[],
            rewrite: Rewrite::AsShown,
        }
    };
}

/// A parameter stored in bytes, written with Redis's size units.
macro_rules! memory_param {
    ($name:literal, $($field:ident).+, $min:expr, default $default:literal) => {
        Param {
            name: $name,
            mutable: true,
            default: $default,
            get: |c| c.$($field).+.to_string(),
            set: |c, w| {
                c.$($field).+ = parse_memory_value(w, $min, i64::MAX)? as u64;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            hidden: false,
            informs: &[],
            rewrite: Rewrite::Memory,
        }
    };
}

/// A collection-encoding threshold (`EncodingLimits`), with its old `ziplist` name as an alias
/// where it has one: a count (`parse_int`) or a size in bytes (`parse_memory_value`), as Redis
/// types each.
macro_rules! encoding_param {
    ($name:literal, $alias:expr, $field:ident, $parse:ident, $min:expr, default $default:literal) => {
        Param {
            name: $name,
            mutable: true,
            default: $default,
            get: |c| c.encoding.$field.to_string(),
            set: |c, w| {
                c.encoding.$field = $parse(w, $min, i64::MAX)?;
                Ok(())
            },
            variadic: false,
            alias: $alias,
            protected: false,
            hidden: false,
            informs: &[],
            rewrite: Rewrite::AsShown,
        }
    };
}

/// A parameter whose value is one of the names in `$table` (name, value pairs).
macro_rules! named_param {
    ($name:literal, $($field:ident).+, $table:expr, default $default:literal) => {
        named_param!($name, $($field).+, $table, default $default, mutable true)
    };
    ($name:literal, $($field:ident).+, $table:expr, default $default:literal, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| {
                let (name, _) = $table
                    .iter()
                    .find(|(_, v)| *v == c.$($field).+)
                    .expect("all named");
                name.to_string()
            },
            set: |c, w| {
                let names: Vec<&str> = $table.iter().map(|(n, _)| *n).collect();
                let name = choice(w, &names)?;
                c.$($field).+ = $table
                    .iter()
                    .find(|(n, _)| *n == name)
                    .expect("validated")
                    .1;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            hidden: false,
            informs: &[],
            rewrite: Rewrite::AsShown,
        }
    };
}

/// A yes/no parameter.
macro_rules! bool_param {
    ($name:literal, $($field:ident).+, default $default:literal, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| yes_no(c.$($field).+),
            set: |c, w| {
                c.$($field).+ = parse_bool(w)?;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            hidden: false,
            informs: &[],
            rewrite: Rewrite::AsShown,
        }
    };
}

/// A file or directory name inside `dir`: not empty and not a path, as in Redis.
macro_rules! file_name_param {
    ($name:literal, $($field:ident).+, $what:literal, default $default:literal, mutable $mutable:expr, protected $protected:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| c.$($field).+.clone(),
            set: |c, w| {
                let name = one(w)?;
                if name.is_empty() {
                    return Err(concat!($name, " can't be empty").into());
                }
                if name.contains('/') {
                    return Err(concat!($name, " can't be a path, just a ", $what).into());
                }
                c.$($field).+ = name.to_string();
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: $protected,
            hidden: false,
            informs: &[],
            rewrite: Rewrite::Quoted,
        }
    };
}

/// A free-form string parameter (empty by default unless given).
macro_rules! string_param {
    ($name:literal, $($field:ident).+, mutable $mutable:expr) => {
        string_param!($name, $($field).+, default "\"\"", mutable $mutable)
    };
    ($name:literal, $($field:ident).+, default $default:literal, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| c.$($field).+.clone(),
            set: |c, w| {
                c.$($field).+ = one(w)?.to_string();
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            hidden: false,
            informs: &[],
            rewrite: Rewrite::Quoted,
        }
    };
}

/// A parameter whose value is one of a few words, kept as the word.
macro_rules! word_param {
    ($name:literal, $($field:ident).+, $options:expr, default $default:literal, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| c.$($field).+.to_string(),
            set: |c, w| {
                c.$($field).+ = choice(w, $options)?;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            hidden: false,
            informs: &[],
            rewrite: Rewrite::AsShown,
        }
    };
}

/// Every parameter the server has.
/// Listening and connections (`net/`, `client.rs`): sockets, limits on what a client may send and be sent.
const NETWORK: &[Param] = &[
    Param {
        name: "bind",
        mutable: true,
        default: "* -::*",
        get: |c| c.bind.join(" "),
        // No address (`bind ""`, or CONFIG SET bind "") means no TCP listener, as in Redis.
        set: |c, w| {
            c.bind = w.iter().filter(|a| !a.is_empty()).cloned().collect();
            Ok(())
        },
        variadic: true,
        alias: None,
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::AsShown,
    },
    int_param!("port", port: u16, 0, 65535, default "6379", mutable true),
    string_param!("unixsocket", unixsocket, mutable false),
    Param {
        name: "unixsocketperm",
        mutable: false,
        default: "0",
        get: |c| format!("{:o}", c.unixsocketperm),
        // Octal, like chmod: `700`.
        set: |c, w| {
            let v = u32::from_str_radix(one(w)?, 8)
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            c.unixsocketperm = check_range(v as i64, 0, 0o777)? as u32;
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::AsShown,
    },
    int_param!("tcp-backlog", tcp_backlog: u32, 0, i32::MAX as i64, default "511", mutable false),
    int_param!("tcp-keepalive", tcp_keepalive: u64, 0, i32::MAX as i64, default "300", mutable true),
    int_param!("timeout", timeout: u64, 0, i32::MAX as i64, default "0", mutable true).informs(&[Apply::Connections]),
    int_param!("maxclients", maxclients: u64, 1, u32::MAX as i64, default "10000", mutable true),
    memory_param!("proto-max-bulk-len", proto_max_bulk_len, 1 << 20, default "512mb").informs(&[Apply::Connections]),
    memory_param!("client-query-buffer-limit", client_query_buffer_limit, 1 << 20, default "1gb").informs(&[Apply::Connections]),
    Param {
        name: "client-output-buffer-limit",
        mutable: true,
        default: "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
        get: |c| {
            let classes = ["normal", "slave", "pubsub"];
            let parts: Vec<String> = classes
                .iter()
                .zip(c.output_buffer_limits)
                .map(|(name, l)| format!("{name} {} {} {}", l.hard, l.soft, l.soft_seconds))
                .collect();
            parts.join(" ")
        },
        set: |c, w| {
            if w.is_empty() || w.len() % 4 != 0 {
                return Err("Wrong number of arguments in buffer limit configuration.".into());
            }
            for group in w.chunks(4) {
                let class = match group[0].to_ascii_lowercase().as_str() {
                    "normal" => OutputClass::Normal,
                    "slave" | "replica" => OutputClass::Replica,
                    "pubsub" => OutputClass::PubSub,
                    _ => {
                        return Err(
                            "Invalid client class specified in buffer limit configuration.".into(),
                        )
                    }
                };
                let size = |t: &str| parse_memory(t).filter(|v| *v >= 0);
                let limits = (size(&group[1]), size(&group[2]), size(&group[3]));
                let (Some(hard), Some(soft), Some(secs)) = limits else {
                    return Err("Error in hard, soft or soft_seconds setting in buffer limit configuration.".into());
                };
                c.output_buffer_limits[class as usize] = BufferLimit {
                    hard: hard as u64,
                    soft: soft as u64,
                    soft_seconds: secs as u64,
                };
            }
            Ok(())
        },
        variadic: true,
        alias: None,
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::LimitPerClass,
    }.informs(&[Apply::PubSubLimit, Apply::Connections, Apply::Tracking]),
];

/// Who may connect and what they may run (`dispatch/check.rs`, `admin/`).
const SECURITY: &[Param] = &[
    bool_param!("protected-mode", protected_mode, default "yes", mutable true),
    string_param!("requirepass", requirepass, mutable true).informs(&[Apply::DefaultUserPassword]),
    named_param!("enable-protected-configs", enable_protected_configs, ALLOW_MODES, default "no", mutable false),
    named_param!("enable-debug-command", enable_debug_command, ALLOW_MODES, default "no", mutable false),
    named_param!("enable-module-command", enable_module_command, ALLOW_MODES, default "no", mutable false),
];

/// The process and its threads (`server.rs`, `log.rs`).
const GENERAL: &[Param] = &[
    int_param!("databases", databases: usize, 1, i32::MAX as i64, default "16", mutable false),
    named_param!("loglevel", loglevel, LOG_LEVELS, default "notice").informs(&[Apply::LogLevel]),
    string_param!("logfile", logfile, mutable false),
    Param {
        name: "hz",
        mutable: true,
        default: "10",
        get: |c| c.hz.to_string(),
        // Redis accepts any non-negative value and clamps it to 1..=500.
        set: |c, w| {
            c.hz = parse_int(w, 0, i32::MAX as i64)?.clamp(1, 500) as u32;
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::AsShown,
    },
    Param {
        name: "threads",
        mutable: false,
        default: "0",
        get: |c| c.threads.to_string(),
        // 0 means as many event loops as suit the machine's cores.
        set: |c, w| {
            let n = parse_int(w, 0, 1024)? as usize;
            c.threads = if n == 0 {
                default_event_loops(std::thread::available_parallelism().map_or(1, |n| n.get()))
            } else {
                n
            };
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        // redis-lite's own, as the others below: left out of CONFIG GET *, so that a tool
        // that sets back every parameter listed there meets only Redis's.
        hidden: true,
        informs: &[],
        rewrite: Rewrite::AsShown,
    },
];

/// Values and keyspace events (the engine's encodings, `notify.rs`).
const KEYSPACE: &[Param] = &[
    Param {
        name: "list-max-listpack-size",
        mutable: true,
        default: "-2",
        get: |c| c.encoding.list_max_listpack_size.to_string(),
        set: |c, w| {
            c.encoding.list_max_listpack_size = parse_int(w, i32::MIN as i64, i32::MAX as i64)?;
            Ok(())
        },
        variadic: false,
        alias: Some("list-max-ziplist-size"),
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::AsShown,
    }.informs(&[Apply::Encoding]),
    encoding_param!("hash-max-listpack-entries", Some("hash-max-ziplist-entries"), hash_max_listpack_entries, parse_int, 0, default "512").informs(&[Apply::Encoding]),
    encoding_param!("hash-max-listpack-value", Some("hash-max-ziplist-value"), hash_max_listpack_value, parse_memory_value, 0, default "64").informs(&[Apply::Encoding]).rewritten_as(Rewrite::Memory),
    encoding_param!("set-max-intset-entries", None, set_max_intset_entries, parse_int, 0, default "512").informs(&[Apply::Encoding]),
    encoding_param!("zset-max-listpack-entries", Some("zset-max-ziplist-entries"), zset_max_listpack_entries, parse_int, 0, default "128").informs(&[Apply::Encoding]),
    encoding_param!("zset-max-listpack-value", Some("zset-max-ziplist-value"), zset_max_listpack_value, parse_memory_value, 0, default "64").informs(&[Apply::Encoding]).rewritten_as(Rewrite::Memory),
    encoding_param!("stream-node-max-bytes", None, stream_node_max_bytes, parse_memory_value, 0, default "4096").informs(&[Apply::Encoding]).rewritten_as(Rewrite::Memory),
    encoding_param!("stream-node-max-entries", None, stream_node_max_entries, parse_int, 0, default "100").informs(&[Apply::Encoding]),
    Param {
        name: "notify-keyspace-events",
        mutable: true,
        default: "\"\"",
        get: |c| notify::format_flags(c.notify_keyspace_events),
        set: |c, w| {
            c.notify_keyspace_events = notify::parse_flags(one(w)?)?;
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::AsShown,
    }.informs(&[Apply::Notifications]),
];

/// RDB snapshots (`persistence/rdb.rs`).
const SNAPSHOTS: &[Param] = &[
    Param {
        name: "dir",
        mutable: true,
        default: "./",
        get: |c| c.dir.display().to_string(),
        // Kept absolute, so files named from it do not depend on the working directory,
        // which follows it too (`server::run` at start-up, `Apply::WorkingDir` after), as
        // Redis's does.
        set: |c, w| {
            let dir = one(w)?;
            let path = std::fs::canonicalize(dir).map_err(|e| crate::error::strerror(&e))?;
            if !path.is_dir() {
                return Err("Not a directory".into());
            }
            c.dir = path;
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: true,
        hidden: false,
        informs: &[Apply::WorkingDir],
        rewrite: Rewrite::Quoted,
    },
    file_name_param!("dbfilename", dbfilename, "filename", default "dump.rdb", mutable true, protected true),
    Param {
        name: "save",
        mutable: true,
        default: "3600 1 300 100 60 10000",
        get: |c| {
            let pairs: Vec<String> = c
                .save_rules
                .iter()
                .map(|(secs, changes)| format!("{secs} {changes}"))
                .collect();
            pairs.join(" ")
        },
        set: |c, w| {
            let words = flat_words(w);
            if !words.len().is_multiple_of(2) {
                return Err("Invalid save parameters".into());
            }
            // At least a second, and any number of changes.
            let number = |t: &str, least: i64| {
                redis_lite_protocol::number::parse_i64(t.as_bytes())
                    .filter(|n| *n >= least)
                    .map(|n| n as u64)
                    .ok_or_else(|| "Invalid save parameters".to_string())
            };
            c.save_rules = words
                .chunks(2)
                .map(|pair| Ok((number(pair[0], 1)?, number(pair[1], 0)?)))
                .collect::<Result<_, String>>()?;
            Ok(())
        },
        variadic: true,
        alias: None,
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::PairPerLine,
    },
    bool_param!("rdbcompression", rdbcompression, default "yes", mutable true),
    bool_param!("rdbchecksum", rdbchecksum, default "yes", mutable false),
    bool_param!("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error, default "yes", mutable true),
    int_param!("rdb-key-save-delay", rdb_key_save_delay: i64, i32::MIN as i64, i32::MAX as i64, default "0", mutable true).hidden(),
    int_param!("key-load-delay", key_load_delay: i64, i32::MIN as i64, i32::MAX as i64, default "0", mutable true).hidden(),
];

/// The append-only file (`persistence/aof/`).
const APPEND_ONLY: &[Param] = &[
    bool_param!("appendonly", appendonly, default "no", mutable true).informs(&[Apply::Aof]),
    file_name_param!("appendfilename", appendfilename, "filename", default "appendonly.aof", mutable false, protected false),
    file_name_param!("appenddirname", appenddirname, "dirname", default "appendonlydir", mutable false, protected false),
    named_param!("appendfsync", appendfsync, FSYNC_POLICIES, default "everysec")
        .informs(&[Apply::Aof]),
    bool_param!("no-appendfsync-on-rewrite", no_appendfsync_on_rewrite, default "no", mutable true)
        .informs(&[Apply::Aof]),
    int_param!("auto-aof-rewrite-percentage", auto_aof_rewrite_percentage: u64, 0, i32::MAX as i64, default "100", mutable true),
    memory_param!("auto-aof-rewrite-min-size", auto_aof_rewrite_min_size, 0, default "64mb"),
    bool_param!("aof-use-rdb-preamble", aof_use_rdb_preamble, default "yes", mutable true),
    bool_param!("aof-load-truncated", aof_load_truncated, default "yes", mutable true),
    bool_param!("aof-timestamp-enabled", aof_timestamp_enabled, default "no", mutable true)
        .informs(&[Apply::Aof]),
];

/// Memory limits and eviction (`eviction.rs`, the engine's policies).
const MEMORY: &[Param] = &[
    memory_param!("maxmemory", maxmemory, 0, default "0").informs(&[Apply::EvictionLimits]),
    named_param!("maxmemory-policy", maxmemory_policy, Policy::NAMES, default "noeviction").informs(&[Apply::EvictionPolicy]),
    int_param!("maxmemory-samples", maxmemory_samples: usize, 1, 64, default "5", mutable true).informs(&[Apply::EvictionLimits]),
    int_param!("maxmemory-eviction-tenacity", maxmemory_eviction_tenacity: u32, 0, 100, default "10", mutable true).informs(&[Apply::EvictionLimits]),
    int_param!("lfu-log-factor", lfu_log_factor: u32, 0, i32::MAX as i64, default "10", mutable true).informs(&[Apply::EvictionPolicy]),
    int_param!("lfu-decay-time", lfu_decay_time: u32, 0, i32::MAX as i64, default "1", mutable true).informs(&[Apply::EvictionPolicy]),
    int_param!("maxkeys", maxkeys: u64, 0, i64::MAX, default "0", mutable true).informs(&[Apply::EvictionLimits]).hidden(),
];

/// Encryption at rest (`persist`'s seal).
const ENCRYPTION: &[Param] = &[
    bool_param!("encryption", encryption, default "no", mutable true)
        .informs(&[Apply::Aof])
        .hidden(),
    Param {
        name: "encryption-key-file",
        mutable: true,
        default: "\"\"",
        get: |c| c.encryption_key_file.clone(),
        // Read at once (CONFIG SET re-reads a rotated file), so a bad key file, or one others
        // can read, is refused where it is named.
        set: |c, w| {
            let path = one(w)?;
            c.keyring = if path.is_empty() {
                None
            } else {
                let ring = Keyring::from_file(Path::new(path)).map_err(|e| e.to_string())?;
                Some(Arc::new(ring))
            };
            c.encryption_key_file = path.to_string();
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: true,
        hidden: true,
        informs: &[],
        rewrite: Rewrite::AsShown,
    }
    .informs(&[Apply::Aof]),
];

/// Replication (`replication/`): the link to a master, serving replicas, the backlog.
const REPLICATION: &[Param] = &[
    Param {
        name: "replicaof",
        mutable: false,
        default: "\"\"",
        get: |c| {
            c.replicaof
                .as_ref()
                .map_or_else(String::new, |(host, port)| format!("{host} {port}"))
        },
        // `replicaof <host> <port>`; REPLICAOF changes it at runtime, CONFIG SET cannot.
        set: |c, w| {
            c.replicaof = match w {
                [] => None,
                [empty] if empty.is_empty() => None,
                [no, one] if no.eq_ignore_ascii_case("no") && one.eq_ignore_ascii_case("one") => None,
                [host, port] => {
                    let port = redis_lite_protocol::number::parse_i64(port.as_bytes())
                        .filter(|p| (0..=65535).contains(p))
                        .ok_or("Invalid master port")?;
                    Some((host.clone(), port as u16))
                }
                _ => return Err("wrong number of arguments".into()),
            };
            Ok(())
        },
        variadic: true,
        alias: Some("slaveof"),
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::AsShown,
    },
    string_param!("masterauth", masterauth, mutable true),
    string_param!("masteruser", masteruser, mutable true),
    bool_param!("replica-serve-stale-data", replica_serve_stale_data, default "yes", mutable true)
        .alias("slave-serve-stale-data"),
    bool_param!("replica-read-only", replica_read_only, default "yes", mutable true).alias("slave-read-only"),
    bool_param!("replica-ignore-maxmemory", replica_ignore_maxmemory, default "yes", mutable true)
        .alias("slave-ignore-maxmemory"),
    bool_param!("replica-lazy-flush", replica_lazy_flush, default "no", mutable true).alias("slave-lazy-flush"),
    bool_param!("replica-ignore-disk-write-errors", replica_ignore_disk_write_errors, default "no", mutable true),
    int_param!("replica-priority", replica_priority: u64, 0, i32::MAX as i64, default "100", mutable true)
        .alias("slave-priority"),
    bool_param!("replica-announced", replica_announced, default "yes", mutable true),
    string_param!("replica-announce-ip", replica_announce_ip, mutable true).alias("slave-announce-ip"),
    int_param!("replica-announce-port", replica_announce_port: u16, 0, 65535, default "0", mutable true)
        .alias("slave-announce-port"),
    bool_param!("repl-diskless-sync", repl_diskless_sync, default "yes", mutable true),
    int_param!("repl-diskless-sync-delay", repl_diskless_sync_delay: u64, 0, i32::MAX as i64, default "5", mutable true),
    int_param!("repl-diskless-sync-max-replicas", repl_diskless_sync_max_replicas: u64, 0, i32::MAX as i64, default "0", mutable true),
    named_param!("repl-diskless-load", repl_diskless_load, DISKLESS_LOAD_MODES, default "disabled"),
    int_param!("repl-ping-replica-period", repl_ping_replica_period: u64, 1, i32::MAX as i64, default "10", mutable true)
        .alias("repl-ping-slave-period"),
    int_param!("repl-timeout", repl_timeout: u64, 1, i32::MAX as i64, default "60", mutable true),
    bool_param!("repl-disable-tcp-nodelay", repl_disable_tcp_nodelay, default "no", mutable true),
    Param {
        name: "repl-backlog-size",
        mutable: true,
        default: "1mb",
        get: |c| c.repl_backlog_size.to_string(),
        // Redis raises anything smaller to its minimum, 16 KiB.
        set: |c, w| {
            let size = parse_memory_value(w, 1, i64::MAX)? as u64;
            c.repl_backlog_size = size.max(MIN_BACKLOG_SIZE);
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::Memory,
    }
    .informs(&[Apply::Replication]),
    int_param!("repl-backlog-ttl", repl_backlog_ttl: u64, 0, i32::MAX as i64, default "3600", mutable true),
    int_param!("min-replicas-to-write", min_replicas_to_write: u64, 0, i32::MAX as i64, default "0", mutable true)
        .alias("min-slaves-to-write")
        .informs(&[Apply::Replication]),
    int_param!("min-replicas-max-lag", min_replicas_max_lag: u64, 0, i32::MAX as i64, default "10", mutable true)
        .alias("min-slaves-max-lag")
        .informs(&[Apply::Replication]),
];

/// Redis's smallest replication backlog.
const MIN_BACKLOG_SIZE: u64 = 16 * 1024;

/// `repl-diskless-load`, in Redis's order.
const DISKLESS_LOAD_MODES: &[(&str, DisklessLoad)] = &[
    ("disabled", DisklessLoad::Disabled),
    ("on-empty-db", DisklessLoad::OnEmptyDb),
    ("swapdb", DisklessLoad::Swapdb),
];

/// Lua scripts and functions (`scripting/`).
const SCRIPTING: &[Param] = &[
    int_param!("busy-reply-threshold", busy_reply_threshold: i64, 0, i64::MAX, default "5000", mutable true)
        .alias("lua-time-limit"),
];

/// A parameter with its own parsing and display, mutable unless marked.
const fn special(
    name: &'static str,
    default: &'static str,
    get: fn(&Config) -> String,
    set: fn(&mut Config, &[String]) -> Result<(), String>,
) -> Param {
    Param {
        name,
        mutable: true,
        default,
        get,
        set,
        variadic: false,
        alias: None,
        protected: false,
        hidden: false,
        informs: &[],
        rewrite: Rewrite::AsShown,
    }
}

impl Param {
    /// The same parameter, which CONFIG SET may not change.
    const fn immutable(self) -> Param {
        Param {
            mutable: false,
            ..self
        }
    }

    /// The same parameter, taking any number of words (one CONFIG SET value split at spaces).
    const fn variadic(self) -> Param {
        Param {
            variadic: true,
            ..self
        }
    }
}

/// The event loops `threads 0` (the default) starts on a machine with `cores` cores: one loop
/// per core from four cores up, and a single loop below that. On two cores shared with the
/// clients, a second loop cost more server CPU per request on 17 of the 20 rows of
/// `bench/row_throughput.sh` (each loop sleeps and wakes more often with half the connections,
/// and two loops writing one hot key contend for its shard) and was slower on 12 of them
/// (BENCHMARKS.md, "Session 10"); Redis's own advice is likewise to use I/O threads only
/// from four cores.
pub fn default_event_loops(cores: usize) -> usize {
    if cores < 4 {
        1
    } else {
        cores
    }
}

/// The words of a variadic value. The config reader and CONFIG SET already split a value given
/// as one word (`--save "900 1"`); what is left here is that an empty value (`--save ""`) is
/// no words.
fn flat_words(words: &[String]) -> Vec<&str> {
    words.iter().flat_map(|w| w.split_whitespace()).collect()
}

/// `supervised`, in Redis's order.
const SUPERVISED_MODES: &[(&str, Supervised)] = &[
    ("upstart", Supervised::Upstart),
    ("systemd", Supervised::Systemd),
    ("auto", Supervised::Auto),
    ("no", Supervised::No),
];

/// `oom-score-adj`: `yes` is the old name of `relative`, and shown for it.
const OOM_SCORE_ADJ_MODES: &[(&str, OomScoreAdj)] = &[
    ("no", OomScoreAdj::No),
    ("yes", OomScoreAdj::Relative),
    ("relative", OomScoreAdj::Relative),
    ("absolute", OomScoreAdj::Absolute),
];

const SYSLOG_FACILITIES: &[&str] = &[
    "user", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

const SHUTDOWN_FLAGS: &[&str] = &["default", "save", "nosave", "now", "force"];

/// `shutdown-on-sigint` / `-sigterm`: any of SHUTDOWN's flags, SAVE and NOSAVE not together.
/// Redis keeps them as a bit set, so the value reads back once each, in `SHUTDOWN_FLAGS`'s
/// order, `default` (no bit) only when alone.
fn parse_shutdown_flags(words: &[String]) -> Result<String, String> {
    let words = flat_words(words);
    let mut flags = Vec::new();
    for word in &words {
        flags.push(choice(&[word.to_string()], SHUTDOWN_FLAGS)?);
    }
    if flags.is_empty() {
        return Err(choice(&[String::new()], SHUTDOWN_FLAGS).unwrap_err());
    }
    if flags.contains(&"save") && flags.contains(&"nosave") {
        return Err("shutdown options SAVE and NOSAVE can't be used simultaneously".into());
    }
    let set: Vec<&str> = SHUTDOWN_FLAGS[1..]
        .iter()
        .copied()
        .filter(|flag| flags.contains(flag))
        .collect();
    Ok(if set.is_empty() {
        SHUTDOWN_FLAGS[0].to_string()
    } else {
        set.join(" ")
    })
}

/// The process (`main.rs`, `server.rs`, `log.rs`, `proctitle.rs`): running as a daemon,
/// supervision, the title, crash reports, the OOM killer, shutdown on signals.
const PROCESS: &[Param] = &[
    bool_param!("daemonize", process.daemonize, default "no", mutable false),
    string_param!("pidfile", process.pidfile, mutable false),
    named_param!("supervised", process.supervised, SUPERVISED_MODES, default "no", mutable false),
    bool_param!("always-show-logo", process.always_show_logo, default "no", mutable false),
    bool_param!("set-proc-title", process.set_proc_title, default "yes", mutable false),
    special(
        "proc-title-template",
        "\"{title} {listen-addr} {server-mode}\"",
        |c| c.process.proc_title_template.clone(),
        |c, w| {
            let template = one(w)?;
            crate::proctitle::validate_template(template)?;
            c.process.proc_title_template = template.to_string();
            Ok(())
        },
    )
    .informs(&[Apply::Process]),
    bool_param!("syslog-enabled", process.syslog_enabled, default "no", mutable false),
    string_param!("syslog-ident", process.syslog_ident, default "redis", mutable false),
    word_param!("syslog-facility", process.syslog_facility, SYSLOG_FACILITIES, default "local0", mutable false),
    bool_param!("crash-log-enabled", process.crash_log_enabled, default "yes", mutable true)
        .informs(&[Apply::Process]),
    bool_param!("crash-memcheck-enabled", process.crash_memcheck_enabled, default "yes", mutable true),
    bool_param!("use-exit-on-panic", process.use_exit_on_panic, default "no", mutable true)
        .hidden(),
    special(
        "watchdog-period",
        "0",
        |c| c.process.watchdog_period.to_string(),
        // As Redis, a period under two cron ticks (at the `hz` of the moment) is raised to it:
        // the watchdog could not tell a stuck thread from one between two checks.
        |c, w| {
            let period = parse_int(w, 0, i32::MAX as i64)?;
            let min_period = 2 * (1000 / c.hz.max(1) as i64);
            c.process.watchdog_period = if period == 0 {
                0
            } else {
                period.max(min_period)
            };
            Ok(())
        },
    )
    .hidden()
    .informs(&[Apply::Observability]),
    named_param!("oom-score-adj", process.oom_score_adj, OOM_SCORE_ADJ_MODES, default "no")
        .informs(&[Apply::Process]),
    special(
        "oom-score-adj-values",
        "0 200 800",
        |c| {
            let [master, replica, child] = c.process.oom_score_adj_values;
            format!("{master} {replica} {child}")
        },
        |c, w| {
            let words = flat_words(w);
            if words.len() != 3 {
                return Err("wrong number of arguments".into());
            }
            for (slot, word) in c.process.oom_score_adj_values.iter_mut().zip(words) {
                *slot = redis_lite_protocol::number::parse_i64(word.as_bytes())
                    .filter(|v| (-2000..=2000).contains(v))
                    .ok_or(
                        "Invalid oom-score-adj-values, elements must be between -2000 and 2000.",
                    )?;
            }
            Ok(())
        },
    )
    .variadic()
    .informs(&[Apply::Process]),
    bool_param!("disable-thp", process.disable_thp, default "yes", mutable false),
    string_param!("ignore-warnings", process.ignore_warnings, mutable true),
    string_param!("server_cpulist", process.server_cpulist, mutable false),
    string_param!("bio_cpulist", process.bio_cpulist, mutable false),
    string_param!("aof_rewrite_cpulist", process.aof_rewrite_cpulist, mutable false),
    string_param!("bgsave_cpulist", process.bgsave_cpulist, mutable false),
    bool_param!("jemalloc-bg-thread", process.jemalloc_bg_thread, default "yes", mutable true)
        .informs(&[Apply::Allocator]),
    special(
        "shutdown-on-sigint",
        "default",
        |c| c.process.shutdown_on_sigint.clone(),
        |c, w| {
            c.process.shutdown_on_sigint = parse_shutdown_flags(w)?;
            Ok(())
        },
    )
    .variadic(),
    special(
        "shutdown-on-sigterm",
        "default",
        |c| c.process.shutdown_on_sigterm.clone(),
        |c, w| {
            c.process.shutdown_on_sigterm = parse_shutdown_flags(w)?;
            Ok(())
        },
    )
    .variadic(),
    int_param!("shutdown-timeout", process.shutdown_timeout: i64, 0, i32::MAX as i64, default "10", mutable true),
    word_param!("propagation-error-behavior", process.propagation_error_behavior, &["ignore", "panic", "panic-on-replicas"], default "ignore", mutable true),
    string_param!("bind-source-addr", process.bind_source_addr, mutable true),
    int_param!("socket-mark-id", process.socket_mark_id: i64, 0, u32::MAX as i64, default "0", mutable false),
    int_param!("io-threads", process.io_threads: i64, 1, 128, default "1", mutable false),
    bool_param!("io-threads-do-reads", process.io_threads_do_reads, default "no", mutable false),
];

/// Keyspace and memory tuning Redis has (see `sections::TuningConfig`).
const TUNING: &[Param] = &[
    bool_param!("activerehashing", tuning.activerehashing, default "yes", mutable true),
    int_param!("loading-process-events-interval-bytes", tuning.loading_process_events_interval_bytes: i64, 1024, i32::MAX as i64, default "2097152", mutable true).hidden(),
    bool_param!("dynamic-hz", tuning.dynamic_hz, default "yes", mutable true),
    int_param!("active-expire-effort", tuning.active_expire_effort: i64, 1, 10, default "1", mutable true),
    bool_param!("lazyfree-lazy-eviction", tuning.lazyfree_lazy_eviction, default "no", mutable true).informs(&[Apply::LazyFree]),
    bool_param!("lazyfree-lazy-expire", tuning.lazyfree_lazy_expire, default "no", mutable true).informs(&[Apply::LazyFree]),
    bool_param!("lazyfree-lazy-server-del", tuning.lazyfree_lazy_server_del, default "no", mutable true).informs(&[Apply::LazyFree]),
    bool_param!("lazyfree-lazy-user-del", tuning.lazyfree_lazy_user_del, default "no", mutable true).informs(&[Apply::LazyFree]),
    bool_param!("lazyfree-lazy-user-flush", tuning.lazyfree_lazy_user_flush, default "no", mutable true),
    int_param!("list-compress-depth", encoding.list_compress_depth: i64, 0, i32::MAX as i64, default "0", mutable true).informs(&[Apply::Encoding]),
    memory_param!("hll-sparse-max-bytes", tuning.hll_sparse_max_bytes, 0, default "3000"),
    int_param!("tracking-table-max-keys", tuning.tracking_table_max_keys: i64, 0, i64::MAX, default "1000000", mutable true).informs(&[Apply::Tracking]),
    word_param!("sanitize-dump-payload", tuning.sanitize_dump_payload, &["no", "yes", "clients"], default "no", mutable true),
    special(
        "maxmemory-clients",
        "0",
        |c| match c.tuning.maxmemory_clients {
            percent if percent < 0 => format!("{}%", -percent),
            bytes => bytes.to_string(),
        },
        |c, w| {
            const INVALID: &str = "argument must be a memory or percent value";
            let value = one(w)?;
            c.tuning.maxmemory_clients = match value.strip_suffix('%') {
                Some(digits) => {
                    let percent = redis_lite_protocol::number::parse_i64(digits.as_bytes())
                        .filter(|p| *p >= 0)
                        .ok_or(INVALID)?;
                    if percent > 100 {
                        return Err("percentage argument must be less or equal to 100".into());
                    }
                    -percent
                }
                None => parse_memory(value).filter(|b| *b >= 0).ok_or(INVALID)?,
            };
            Ok(())
        },
    )
    .informs(&[Apply::EvictionLimits])
    .rewritten_as(Rewrite::Memory),
    special(
        "activedefrag",
        "no",
        |c| yes_no(c.tuning.activedefrag),
        |c, w| {
            if parse_bool(w)? {
                // Redis's own refusal where its allocator cannot move allocations.
                return Err("Active defragmentation cannot be enabled: it requires a Redis server compiled with a modified Jemalloc like the one shipped by default with the Redis source distribution".into());
            }
            c.tuning.activedefrag = false;
            Ok(())
        },
    ),
    memory_param!("active-defrag-ignore-bytes", tuning.active_defrag_ignore_bytes, 1, default "100mb"),
    int_param!("active-defrag-threshold-lower", tuning.active_defrag_threshold_lower: i64, 0, 1000, default "10", mutable true),
    int_param!("active-defrag-threshold-upper", tuning.active_defrag_threshold_upper: i64, 0, 1000, default "100", mutable true),
    int_param!("active-defrag-cycle-min", tuning.active_defrag_cycle_min: i64, 1, 99, default "1", mutable true),
    int_param!("active-defrag-cycle-max", tuning.active_defrag_cycle_max: i64, 1, 99, default "25", mutable true),
    int_param!("active-defrag-max-scan-fields", tuning.active_defrag_max_scan_fields: i64, 1, i64::MAX, default "1000", mutable true),
    bool_param!("rdb-del-sync-files", tuning.rdb_del_sync_files, default "no", mutable true),
    bool_param!("rdb-save-incremental-fsync", tuning.rdb_save_incremental_fsync, default "yes", mutable true),
    bool_param!("aof-rewrite-incremental-fsync", tuning.aof_rewrite_incremental_fsync, default "yes", mutable true),
    bool_param!("aof-disable-auto-gc", tuning.aof_disable_auto_gc, default "no", mutable true)
        .informs(&[Apply::Aof]),
];

/// The slow log, the latency monitor, latency tracking.
const OBSERVABILITY: &[Param] = &[
    int_param!("slowlog-log-slower-than", observability.slowlog_log_slower_than: i64, -1, i64::MAX, default "10000", mutable true).informs(&[Apply::Observability]),
    int_param!("slowlog-max-len", observability.slowlog_max_len: i64, 0, i64::MAX, default "128", mutable true).informs(&[Apply::Observability]),
    int_param!("latency-monitor-threshold", observability.latency_monitor_threshold: i64, 0, i64::MAX, default "0", mutable true).informs(&[Apply::Observability]),
    bool_param!("latency-tracking", observability.latency_tracking, default "yes", mutable true).informs(&[Apply::Observability]),
    special(
        "latency-tracking-info-percentiles",
        "50 99 99.9",
        |c| {
            let shown: Vec<String> = c
                .observability
                .latency_tracking_info_percentiles
                .iter()
                .map(|&p| crate::observability::percentile_label(p))
                .collect();
            shown.join(" ")
        },
        |c, w| {
            let mut percentiles = Vec::new();
            for word in flat_words(w) {
                let p: f64 = redis_lite_protocol::number::parse_f64(word.as_bytes())
                    .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
                if !(0.0..=100.0).contains(&p) {
                    return Err("latency-tracking-info-percentiles parameters should sit between [0.0,100.0]".into());
                }
                percentiles.push(p);
            }
            c.observability.latency_tracking_info_percentiles = percentiles;
            Ok(())
        },
    )
    .variadic(),
    int_param!("metrics-port", observability.metrics_port: u16, 0, 65535, default "0", mutable false).hidden(),
];

/// Access control lists.
const ACL: &[Param] = &[
    special(
        "aclfile",
        "\"\"",
        |c| c.acl.aclfile.clone(),
        |c, w| {
            c.acl.aclfile = one(w)?.to_string();
            Ok(())
        },
    )
    .immutable(),
    int_param!("acllog-max-len", acl.acllog_max_len: i64, 0, i64::MAX, default "128", mutable true),
    word_param!("acl-pubsub-default", acl.pubsub_default, &["allchannels", "resetchannels"], default "resetchannels", mutable true),
];

/// Redis Cluster (`cluster/`). The bus is not built yet: the failover, migration and link
/// parameters are kept and shown but nothing reads them.
const CLUSTER: &[Param] = &[
    bool_param!("cluster-enabled", cluster.enabled, default "no", mutable false),
    string_param!("cluster-config-file", cluster.config_file, default "nodes.conf", mutable false),
    int_param!("cluster-node-timeout", cluster.node_timeout: i64, 0, i64::MAX, default "15000", mutable true),
    int_param!("cluster-port", cluster.port: i64, 0, 65535, default "0", mutable false),
    string_param!("cluster-announce-ip", cluster.announce_ip, mutable true),
    special(
        "cluster-announce-hostname",
        "\"\"",
        |c| c.cluster.announce_hostname.clone(),
        |c, w| {
            let name = one(w)?;
            if name.len() >= 256 {
                return Err("Hostnames must be less than 256 characters".into());
            }
            if !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Err("Hostnames may only contain alphanumeric characters, hyphens or dots".into());
            }
            c.cluster.announce_hostname = name.to_string();
            Ok(())
        },
    ),
    int_param!("cluster-announce-port", cluster.announce_port: i64, 0, 65535, default "0", mutable true),
    int_param!("cluster-announce-bus-port", cluster.announce_bus_port: i64, 0, 65535, default "0", mutable true),
    int_param!("cluster-announce-tls-port", cluster.announce_tls_port: i64, 0, 65535, default "0", mutable true),
    word_param!("cluster-preferred-endpoint-type", cluster.preferred_endpoint_type, &["ip", "hostname", "unknown-endpoint"], default "ip", mutable true),
    bool_param!("cluster-require-full-coverage", cluster.require_full_coverage, default "yes", mutable true),
    bool_param!("cluster-replica-no-failover", cluster.replica_no_failover, default "no", mutable true)
        .alias("cluster-slave-no-failover"),
    int_param!("cluster-replica-validity-factor", cluster.replica_validity_factor: i64, 0, i32::MAX as i64, default "10", mutable true)
        .alias("cluster-slave-validity-factor"),
    int_param!("cluster-migration-barrier", cluster.migration_barrier: i64, 0, i32::MAX as i64, default "1", mutable true),
    bool_param!("cluster-allow-replica-migration", cluster.allow_replica_migration, default "yes", mutable true),
    bool_param!("cluster-allow-reads-when-down", cluster.allow_reads_when_down, default "no", mutable true),
    bool_param!("cluster-allow-pubsubshard-when-down", cluster.allow_pubsubshard_when_down, default "yes", mutable true),
    memory_param!("cluster-link-sendbuf-limit", cluster.link_sendbuf_limit, 0, default "0"),
];

/// TLS (`net::tls`): the listeners of `tls-port` and the contexts, rebuilt by CONFIG SET.
/// `tls-cluster` makes new cluster bus links TLS.
const TLS: &[Param] = &[
    int_param!("tls-port", tls.port: i64, 0, 65535, default "0", mutable true),
    bool_param!("tls-replication", tls.replication, default "no", mutable true),
    bool_param!("tls-cluster", tls.cluster, default "no", mutable true),
    string_param!("tls-cert-file", tls.cert_file, mutable true),
    string_param!("tls-key-file", tls.key_file, mutable true),
    string_param!("tls-key-file-pass", tls.key_file_pass, mutable true),
    string_param!("tls-client-cert-file", tls.client_cert_file, mutable true),
    string_param!("tls-client-key-file", tls.client_key_file, mutable true),
    string_param!("tls-client-key-file-pass", tls.client_key_file_pass, mutable true),
    string_param!("tls-dh-params-file", tls.dh_params_file, mutable true),
    string_param!("tls-ca-cert-file", tls.ca_cert_file, mutable true),
    string_param!("tls-ca-cert-dir", tls.ca_cert_dir, mutable true),
    string_param!("tls-protocols", tls.protocols, mutable true),
    string_param!("tls-ciphers", tls.ciphers, mutable true),
    string_param!("tls-ciphersuites", tls.ciphersuites, mutable true),
    word_param!("tls-auth-clients", tls.auth_clients, &["no", "yes", "optional"], default "yes", mutable true),
    bool_param!("tls-prefer-server-ciphers", tls.prefer_server_ciphers, default "no", mutable true),
    bool_param!("tls-session-caching", tls.session_caching, default "yes", mutable true),
    int_param!("tls-session-cache-size", tls.session_cache_size: i64, 0, i32::MAX as i64, default "20480", mutable true),
    int_param!("tls-session-cache-timeout", tls.session_cache_timeout: i64, 0, i32::MAX as i64, default "300", mutable true),
];

/// The parameters, grouped by the subsystem that reads them.
static GROUPS: &[&[Param]] = &[
    NETWORK,
    SECURITY,
    GENERAL,
    KEYSPACE,
    SNAPSHOTS,
    APPEND_ONLY,
    MEMORY,
    ENCRYPTION,
    SCRIPTING,
    REPLICATION,
    PROCESS,
    TUNING,
    OBSERVABILITY,
    ACL,
    CLUSTER,
    TLS,
];

/// Every parameter, group by group.
pub fn all() -> impl Iterator<Item = &'static Param> {
    GROUPS.iter().flat_map(|group| group.iter())
}

pub fn find_param(name: &str) -> Option<&'static Param> {
    all().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}
