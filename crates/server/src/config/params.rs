//! The parameter table: what each parameter is called, its default, how it is parsed, shown
//! and checked, and which parts of the running server keep a copy of it. Grouped by the
//! subsystem that reads it; `all` lists them in that order.

use std::path::Path;
use std::sync::Arc;

use redis_lite_engine::Policy;
use redis_lite_persist::Keyring;

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
    /// The parts of the running server that keep their own copy of this parameter, told when
    /// it changes (see [`Apply`]).
    pub informs: &'static [Apply],
}

impl Param {
    /// The same parameter, informing `parts` of its changes.
    const fn informs(self, parts: &'static [Apply]) -> Param {
        Param {
            informs: parts,
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
    /// The AOF: on or off, fsync policy, encryption.
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
    let v = parse_memory(one(words)?).ok_or("argument must be a memory value")?;
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
    ($name:literal, $field:ident: $ty:ty, $min:expr, $max:expr, default $default:literal, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| c.$field.to_string(),
            set: |c, w| {
                c.$field = parse_int(w, $min, $max)? as $ty;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            informs: &[],
        }
    };
}

/// A parameter stored in bytes, written with Redis's size units.
macro_rules! memory_param {
    ($name:literal, $field:ident, $min:expr, default $default:literal) => {
        Param {
            name: $name,
            mutable: true,
            default: $default,
            get: |c| c.$field.to_string(),
            set: |c, w| {
                c.$field = parse_memory_value(w, $min, i64::MAX)? as u64;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            informs: &[],
        }
    };
}

/// A collection-encoding threshold, with its old `ziplist` name as an alias.
macro_rules! encoding_param {
    ($name:literal, $alias:literal, $field:ident, $min:expr, default $default:literal) => {
        Param {
            name: $name,
            mutable: true,
            default: $default,
            get: |c| c.encoding.$field.to_string(),
            set: |c, w| {
                c.encoding.$field = parse_int(w, $min, i64::MAX)?;
                Ok(())
            },
            variadic: false,
            alias: Some($alias),
            protected: false,
            informs: &[],
        }
    };
}

/// A parameter whose value is one of the names in `$table` (name, value pairs).
macro_rules! named_param {
    ($name:literal, $field:ident, $table:expr, default $default:literal) => {
        named_param!($name, $field, $table, default $default, mutable true)
    };
    ($name:literal, $field:ident, $table:expr, default $default:literal, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| {
                let (name, _) = $table
                    .iter()
                    .find(|(_, v)| *v == c.$field)
                    .expect("all named");
                name.to_string()
            },
            set: |c, w| {
                let names: Vec<&str> = $table.iter().map(|(n, _)| *n).collect();
                let name = choice(w, &names)?;
                c.$field = $table
                    .iter()
                    .find(|(n, _)| *n == name)
                    .expect("validated")
                    .1;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            informs: &[],
        }
    };
}

/// A yes/no parameter.
macro_rules! bool_param {
    ($name:literal, $field:ident, default $default:literal, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| yes_no(c.$field),
            set: |c, w| {
                c.$field = parse_bool(w)?;
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            informs: &[],
        }
    };
}

/// A file or directory name inside `dir`: not empty and not a path, as in Redis.
macro_rules! file_name_param {
    ($name:literal, $field:ident, $what:literal, default $default:literal, mutable $mutable:expr, protected $protected:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: $default,
            get: |c| c.$field.clone(),
            set: |c, w| {
                let name = one(w)?;
                if name.is_empty() {
                    return Err(concat!($name, " can't be empty").into());
                }
                if name.contains('/') {
                    return Err(concat!($name, " can't be a path, just a ", $what).into());
                }
                c.$field = name.to_string();
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: $protected,
            informs: &[],
        }
    };
}

/// A free-form string parameter.
macro_rules! string_param {
    ($name:literal, $field:ident, mutable $mutable:expr) => {
        Param {
            name: $name,
            mutable: $mutable,
            default: "\"\"",
            get: |c| c.$field.clone(),
            set: |c, w| {
                c.$field = one(w)?.to_string();
                Ok(())
            },
            variadic: false,
            alias: None,
            protected: false,
            informs: &[],
        }
    };
}

/// Every parameter the server has.
/// Listening and connections (`net/`, `client.rs`): sockets, limits on what a client may send and be sent.
const NETWORK: &[Param] = &[
    Param {
        name: "bind",
        mutable: false,
        default: "127.0.0.1 -::1",
        get: |c| c.bind.join(" "),
        set: |c, w| {
            if w.is_empty() {
                return Err("wrong number of arguments".into());
            }
            c.bind = w.to_vec();
            Ok(())
        },
        variadic: true,
        alias: None,
        protected: false,
        informs: &[],
    },
    int_param!("port", port: u16, 0, 65535, default "6379", mutable false),
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
        informs: &[],
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
        informs: &[],
    }.informs(&[Apply::PubSubLimit, Apply::Connections]),
];

/// Who may connect and what they may run (`dispatch/check.rs`, `admin/`).
const SECURITY: &[Param] = &[
    bool_param!("protected-mode", protected_mode, default "yes", mutable true),
    string_param!("requirepass", requirepass, mutable true),
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
        informs: &[],
    },
    Param {
        name: "threads",
        mutable: false,
        default: "0",
        get: |c| c.threads.to_string(),
        // 0 means one event loop per core.
        set: |c, w| {
            let n = parse_int(w, 0, 1024)? as usize;
            c.threads = if n == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                n
            };
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        informs: &[],
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
        informs: &[],
    }.informs(&[Apply::Encoding]),
    encoding_param!("hash-max-listpack-entries", "hash-max-ziplist-entries", hash_max_listpack_entries, 0, default "512").informs(&[Apply::Encoding]),
    encoding_param!("hash-max-listpack-value", "hash-max-ziplist-value", hash_max_listpack_value, 0, default "64").informs(&[Apply::Encoding]),
    Param {
        name: "set-max-intset-entries",
        mutable: true,
        default: "512",
        get: |c| c.encoding.set_max_intset_entries.to_string(),
        set: |c, w| {
            c.encoding.set_max_intset_entries = parse_int(w, 0, i64::MAX)?;
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        informs: &[],
    }.informs(&[Apply::Encoding]),
    encoding_param!("zset-max-listpack-entries", "zset-max-ziplist-entries", zset_max_listpack_entries, 0, default "128").informs(&[Apply::Encoding]),
    encoding_param!("zset-max-listpack-value", "zset-max-ziplist-value", zset_max_listpack_value, 0, default "64").informs(&[Apply::Encoding]),
    Param {
        name: "stream-node-max-bytes",
        mutable: true,
        default: "4096",
        get: |c| c.encoding.stream_node_max_bytes.to_string(),
        set: |c, w| {
            c.encoding.stream_node_max_bytes = parse_memory_value(w, 0, i64::MAX)?;
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        informs: &[],
    }.informs(&[Apply::Encoding]),
    Param {
        name: "stream-node-max-entries",
        mutable: true,
        default: "100",
        get: |c| c.encoding.stream_node_max_entries.to_string(),
        set: |c, w| {
            c.encoding.stream_node_max_entries = parse_int(w, 0, i64::MAX)?;
            Ok(())
        },
        variadic: false,
        alias: None,
        protected: false,
        informs: &[],
    }.informs(&[Apply::Encoding]),
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
        informs: &[],
    }.informs(&[Apply::Notifications]),
];

/// RDB snapshots (`persistence/rdb.rs`).
const SNAPSHOTS: &[Param] = &[
    Param {
        name: "dir",
        mutable: true,
        default: "./",
        get: |c| c.dir.display().to_string(),
        // Redis changes its working directory; keeping an absolute path has the same effect
        // on every file the server writes, without changing the process's directory.
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
        informs: &[],
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
            // `--save "900 1 300 10"` arrives as one word.
            let words: Vec<&str> = w.iter().flat_map(|w| w.split_whitespace()).collect();
            if !words.len().is_multiple_of(2) {
                return Err("Invalid save parameters".into());
            }
            let number = |t: &str| {
                redis_lite_protocol::number::parse_i64(t.as_bytes())
                    .filter(|n| *n >= 0)
                    .map(|n| n as u64)
                    .ok_or_else(|| "Invalid save parameters".to_string())
            };
            c.save_rules = words
                .chunks(2)
                .map(|pair| Ok((number(pair[0])?, number(pair[1])?)))
                .collect::<Result<_, String>>()?;
            Ok(())
        },
        variadic: true,
        alias: None,
        protected: false,
        informs: &[],
    },
    bool_param!("rdbcompression", rdbcompression, default "yes", mutable true),
    bool_param!("rdbchecksum", rdbchecksum, default "yes", mutable true),
    bool_param!("stop-writes-on-bgsave-error", stop_writes_on_bgsave_error, default "yes", mutable true),
    int_param!("rdb-key-save-delay", rdb_key_save_delay: i64, i32::MIN as i64, i32::MAX as i64, default "0", mutable true),
    int_param!("key-load-delay", key_load_delay: i64, i32::MIN as i64, i32::MAX as i64, default "0", mutable true),
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
    bool_param!("aof-timestamp-enabled", aof_timestamp_enabled, default "no", mutable true),
];

/// Memory limits and eviction (`eviction.rs`, the engine's policies).
const MEMORY: &[Param] = &[
    memory_param!("maxmemory", maxmemory, 0, default "0").informs(&[Apply::EvictionLimits]),
    named_param!("maxmemory-policy", maxmemory_policy, Policy::NAMES, default "noeviction").informs(&[Apply::EvictionPolicy]),
    int_param!("maxmemory-samples", maxmemory_samples: usize, 1, 64, default "5", mutable true).informs(&[Apply::EvictionLimits]),
    int_param!("maxmemory-eviction-tenacity", maxmemory_eviction_tenacity: u32, 0, 100, default "10", mutable true).informs(&[Apply::EvictionLimits]),
    int_param!("lfu-log-factor", lfu_log_factor: u32, 0, i32::MAX as i64, default "10", mutable true).informs(&[Apply::EvictionPolicy]),
    int_param!("lfu-decay-time", lfu_decay_time: u32, 0, i32::MAX as i64, default "1", mutable true).informs(&[Apply::EvictionPolicy]),
    int_param!("maxkeys", maxkeys: u64, 0, i64::MAX, default "0", mutable true).informs(&[Apply::EvictionLimits]),
];

/// Encryption at rest (`persist`'s seal).
const ENCRYPTION: &[Param] = &[
    bool_param!("encryption", encryption, default "no", mutable true).informs(&[Apply::Aof]),
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
        informs: &[],
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
        informs: &[],
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
        informs: &[],
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
