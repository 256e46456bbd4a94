//! Configuration: one declarative table of parameters drives the config file (redis.conf
//! syntax), command-line options, CONFIG GET, CONFIG SET and CONFIG REWRITE.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use redis_lite_engine::glob::glob_match;
use redis_lite_engine::{EncodingLimits, Policy};
use redis_lite_persist::Keyring;

use crate::client::{BufferLimit, OutputClass};
use crate::notify;

/// Log verbosity, as Redis's `loglevel`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Verbose,
    Notice,
    Warning,
}

const LOG_LEVELS: &[(&str, LogLevel)] = &[
    ("debug", LogLevel::Debug),
    ("verbose", LogLevel::Verbose),
    ("notice", LogLevel::Notice),
    ("warning", LogLevel::Warning),
];

#[derive(Clone, Debug)]
pub struct Config {
    pub bind: Vec<String>,
    pub port: u16,
    pub protected_mode: bool,
    /// Empty means no password.
    pub requirepass: String,
    pub timeout: u64,
    pub tcp_keepalive: u64,
    pub tcp_backlog: u32,
    pub maxclients: u64,
    pub databases: usize,
    pub loglevel: LogLevel,
    pub logfile: String,
    /// `unixsocket`: path of a unix socket to listen on as well; empty means none.
    pub unixsocket: String,
    /// `unixsocketperm`: the socket file's permissions (octal, as in Redis); 0 leaves the umask's.
    pub unixsocketperm: u32,
    pub proto_max_bulk_len: u64,
    pub client_query_buffer_limit: u64,
    pub hz: u32,
    pub threads: usize,
    /// `enable-debug-command`, `enable-module-command`, `enable-protected-configs`: who may
    /// run DEBUG, MODULE LOAD/UNLOAD, and CONFIG SET of protected parameters.
    pub enable_debug_command: Allow,
    pub enable_module_command: Allow,
    pub enable_protected_configs: Allow,
    pub encoding: EncodingLimits,
    /// `notify-keyspace-events`, as flag bits (see `notify`).
    pub notify_keyspace_events: u32,
    /// `client-output-buffer-limit`: (hard, soft, soft seconds) for normal, replica and pub/sub
    /// clients.
    pub output_buffer_limits: [BufferLimit; 3],
    /// `dir`: where snapshots (and the AOF directory) live; absolute.
    pub dir: PathBuf,
    pub dbfilename: String,
    /// `save`: snapshot after `seconds` if at least `changes` writes happened.
    pub save_rules: Vec<(u64, u64)>,
    pub rdbcompression: bool,
    pub rdbchecksum: bool,
    pub stop_writes_on_bgsave_error: bool,
    /// Test knobs, as in Redis: microseconds to sleep per key saved / loaded.
    pub rdb_key_save_delay: i64,
    pub key_load_delay: i64,
    pub appendonly: bool,
    pub appendfilename: String,
    pub appenddirname: String,
    pub appendfsync: Fsync,
    pub no_appendfsync_on_rewrite: bool,
    pub auto_aof_rewrite_percentage: u64,
    pub auto_aof_rewrite_min_size: u64,
    pub aof_use_rdb_preamble: bool,
    pub aof_load_truncated: bool,
    pub aof_timestamp_enabled: bool,
    /// Bytes; 0 means no limit.
    pub maxmemory: u64,
    pub maxmemory_policy: Policy,
    pub maxmemory_samples: usize,
    pub maxmemory_eviction_tenacity: u32,
    pub lfu_log_factor: u32,
    pub lfu_decay_time: u32,
    /// redis-lite's key-count capacity; 0 means no limit.
    pub maxkeys: u64,
    /// `encryption`: whether new snapshots and AOF files are sealed.
    pub encryption: bool,
    pub encryption_key_file: String,
    /// The keys from `encryption-key-file` or `REDIS_LITE_ENCRYPTION_KEY`. Loaded even with
    /// `encryption no`, so a sealed dataset still loads (and the next save unseals it).
    pub keyring: Option<Arc<Keyring>>,
}

/// `appendfsync`: when the append-only file is flushed to disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fsync {
    /// After every write, before its reply.
    Always,
    /// Once a second, in the background.
    Everysec,
    /// Left to the operating system.
    No,
}

/// In Redis's order, which its error message lists.
const FSYNC_POLICIES: &[(&str, Fsync)] = &[
    ("everysec", Fsync::Everysec),
    ("always", Fsync::Always),
    ("no", Fsync::No),
];

impl Default for Config {
    fn default() -> Self {
        let mut config = Config {
            bind: Vec::new(),
            port: 0,
            protected_mode: true,
            requirepass: String::new(),
            timeout: 0,
            tcp_keepalive: 0,
            tcp_backlog: 0,
            maxclients: 0,
            databases: 0,
            loglevel: LogLevel::Notice,
            logfile: String::new(),
            unixsocket: String::new(),
            unixsocketperm: 0,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            hz: 0,
            threads: 0,
            enable_debug_command: Allow::No,
            enable_module_command: Allow::No,
            enable_protected_configs: Allow::No,
            encoding: EncodingLimits::default(),
            notify_keyspace_events: 0,
            output_buffer_limits: [BufferLimit::default(); 3],
            dir: PathBuf::new(),
            dbfilename: String::new(),
            save_rules: Vec::new(),
            rdbcompression: false,
            rdbchecksum: false,
            stop_writes_on_bgsave_error: false,
            rdb_key_save_delay: 0,
            key_load_delay: 0,
            appendonly: false,
            appendfilename: String::new(),
            appenddirname: String::new(),
            appendfsync: Fsync::Everysec,
            no_appendfsync_on_rewrite: false,
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
            aof_use_rdb_preamble: false,
            aof_load_truncated: false,
            aof_timestamp_enabled: false,
            maxmemory: 0,
            maxmemory_policy: Policy::NoEviction,
            maxmemory_samples: 0,
            maxmemory_eviction_tenacity: 0,
            lfu_log_factor: 0,
            lfu_decay_time: 0,
            maxkeys: 0,
            encryption: false,
            encryption_key_file: String::new(),
            keyring: None,
        };
        for param in PARAMS {
            let words = split_words(param.default).expect("defaults are well-formed");
            (param.set)(&mut config, &words).expect("defaults are valid");
        }
        config
    }
}

impl Config {
    /// The keyring new files are sealed with: None when `encryption no`.
    pub fn sealing(&self) -> Option<Arc<Keyring>> {
        self.keyring.clone().filter(|_| self.encryption)
    }

    /// Takes the key from `REDIS_LITE_ENCRYPTION_KEY` when no key file is set, and refuses
    /// `encryption yes` without a key: there is never a default key.
    fn resolve_keyring(&mut self) -> Result<(), String> {
        if self.encryption_key_file.is_empty() && self.keyring.is_none() {
            self.keyring = Keyring::from_env()
                .map_err(|e| e.to_string())?
                .map(Arc::new);
        }
        if self.encryption && self.keyring.is_none() {
            return Err(format!(
                "encryption is on but no key is configured: set encryption-key-file to a file \
                 holding 32 random bytes (e.g. `openssl rand -hex 32 > key; chmod 600 key`), or \
                 the {} environment variable",
                redis_lite_persist::seal::ENV_VAR
            ));
        }
        Ok(())
    }
}

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

fn yes_no(b: bool) -> String {
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
pub static PARAMS: &[Param] = &[
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
    bool_param!("protected-mode", protected_mode, default "yes", mutable true),
    string_param!("requirepass", requirepass, mutable true),
    int_param!("timeout", timeout: u64, 0, i32::MAX as i64, default "0", mutable true).informs(&[Apply::Connections]),
    int_param!("tcp-keepalive", tcp_keepalive: u64, 0, i32::MAX as i64, default "300", mutable true),
    int_param!("tcp-backlog", tcp_backlog: u32, 0, i32::MAX as i64, default "511", mutable false),
    int_param!("maxclients", maxclients: u64, 1, u32::MAX as i64, default "10000", mutable true),
    int_param!("databases", databases: usize, 1, i32::MAX as i64, default "16", mutable false),
    named_param!("loglevel", loglevel, LOG_LEVELS, default "notice").informs(&[Apply::LogLevel]),
    string_param!("logfile", logfile, mutable false),
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
    memory_param!("proto-max-bulk-len", proto_max_bulk_len, 1 << 20, default "512mb").informs(&[Apply::Connections]),
    memory_param!("client-query-buffer-limit", client_query_buffer_limit, 1 << 20, default "1gb").informs(&[Apply::Connections]),
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
    named_param!("enable-protected-configs", enable_protected_configs, ALLOW_MODES, default "no", mutable false),
    named_param!("enable-debug-command", enable_debug_command, ALLOW_MODES, default "no", mutable false),
    named_param!("enable-module-command", enable_module_command, ALLOW_MODES, default "no", mutable false),
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
    bool_param!("appendonly", appendonly, default "no", mutable true).informs(&[Apply::Aof]),
    file_name_param!("appendfilename", appendfilename, "filename", default "appendonly.aof", mutable false, protected false),
    file_name_param!("appenddirname", appenddirname, "dirname", default "appendonlydir", mutable false, protected false),
    named_param!("appendfsync", appendfsync, FSYNC_POLICIES, default "everysec").informs(&[Apply::Aof]),
    bool_param!("no-appendfsync-on-rewrite", no_appendfsync_on_rewrite, default "no", mutable true).informs(&[Apply::Aof]),
    int_param!("auto-aof-rewrite-percentage", auto_aof_rewrite_percentage: u64, 0, i32::MAX as i64, default "100", mutable true),
    memory_param!("auto-aof-rewrite-min-size", auto_aof_rewrite_min_size, 0, default "64mb"),
    bool_param!("aof-use-rdb-preamble", aof_use_rdb_preamble, default "yes", mutable true),
    bool_param!("aof-load-truncated", aof_load_truncated, default "yes", mutable true),
    bool_param!("aof-timestamp-enabled", aof_timestamp_enabled, default "no", mutable true),
    memory_param!("maxmemory", maxmemory, 0, default "0").informs(&[Apply::EvictionLimits]),
    named_param!("maxmemory-policy", maxmemory_policy, Policy::NAMES, default "noeviction").informs(&[Apply::EvictionPolicy]),
    int_param!("maxmemory-samples", maxmemory_samples: usize, 1, 64, default "5", mutable true).informs(&[Apply::EvictionLimits]),
    int_param!("maxmemory-eviction-tenacity", maxmemory_eviction_tenacity: u32, 0, 100, default "10", mutable true).informs(&[Apply::EvictionLimits]),
    int_param!("lfu-log-factor", lfu_log_factor: u32, 0, i32::MAX as i64, default "10", mutable true).informs(&[Apply::EvictionPolicy]),
    int_param!("lfu-decay-time", lfu_decay_time: u32, 0, i32::MAX as i64, default "1", mutable true).informs(&[Apply::EvictionPolicy]),
    int_param!("maxkeys", maxkeys: u64, 0, i64::MAX, default "0", mutable true).informs(&[Apply::EvictionLimits]),
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
    }.informs(&[Apply::Aof]),
];

pub fn find_param(name: &str) -> Option<&'static Param> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// A start-up configuration error, reported as Redis does, naming the file and line.
#[derive(Debug)]
pub struct ConfigError {
    pub source: String,
    pub line: usize,
    pub text: String,
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (redis-lite {}) ***",
            env!("CARGO_PKG_VERSION")
        )?;
        writeln!(
            f,
            "Reading the configuration file, at {} line {}",
            self.source, self.line
        )?;
        writeln!(f, ">>> '{}'", self.text)?;
        write!(f, "{}", self.reason)
    }
}

/// Splits a config line into words with redis.conf's quoting (the same as inline commands).
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut parser = redis_lite_protocol::RequestParser::new(Default::default());
    let mut text = line.as_bytes().to_vec();
    text.push(b'\n');
    match parser.next(&text) {
        Ok(Some(cmd)) => Ok(cmd
            .iter()
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect()),
        Ok(None) => Ok(Vec::new()),
        Err(_) => Err("Unbalanced quotes in configuration line".into()),
    }
}

/// One directive as read from a file or the command line.
struct Directive {
    source: String,
    line: usize,
    text: String,
    words: Vec<String>,
}

const MAX_INCLUDE_DEPTH: usize = 16;

fn read_file(path: &Path, depth: usize, out: &mut Vec<Directive>) -> Result<(), ConfigError> {
    let source = path.display().to_string();
    let content = std::fs::read_to_string(path).map_err(|e| ConfigError {
        source: source.clone(),
        line: 0,
        text: String::new(),
        reason: format!("Fatal error, can't open config file '{source}': {e}"),
    })?;
    for (i, raw) in content.lines().enumerate() {
        let text = raw.trim();
        if text.is_empty() || text.starts_with('#') {
            continue;
        }
        let err = |reason: String| ConfigError {
            source: source.clone(),
            line: i + 1,
            text: text.into(),
            reason,
        };
        let words = split_words(text).map_err(err)?;
        if words.is_empty() {
            continue;
        }
        if words[0].eq_ignore_ascii_case("include") {
            if words.len() != 2 {
                return Err(err("Bad directive or wrong number of arguments".into()));
            }
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(err("Too many nested includes".into()));
            }
            read_file(Path::new(&words[1]), depth + 1, out)?;
            continue;
        }
        out.push(Directive {
            source: source.clone(),
            line: i + 1,
            text: text.into(),
            words,
        });
    }
    Ok(())
}

/// What the command line asked for besides configuration.
#[derive(Debug)]
pub struct Startup {
    pub config: Config,
    pub config_file: Option<PathBuf>,
}

/// Builds the configuration from `redis-server`-style arguments: an optional config file first,
/// then `--directive value...` options, which override the file.
pub fn from_args(args: &[String]) -> Result<Startup, ConfigError> {
    let mut directives = Vec::new();
    let mut rest = args;
    let mut config_file = None;
    if let Some(first) = args.first() {
        if !first.starts_with("--") {
            let path = PathBuf::from(first);
            read_file(&path, 0, &mut directives)?;
            config_file = Some(std::fs::canonicalize(&path).unwrap_or(path));
            rest = &args[1..];
        }
    }
    let mut i = 0;
    while i < rest.len() {
        let name = rest[i].strip_prefix("--").ok_or_else(|| ConfigError {
            source: "the command line".into(),
            line: i + 1,
            text: rest[i].clone(),
            reason: "Options must start with '--' (a config file may only come first)".into(),
        })?;
        let mut words = vec![name.to_string()];
        i += 1;
        while i < rest.len() && !rest[i].starts_with("--") {
            words.push(rest[i].clone());
            i += 1;
        }
        directives.push(Directive {
            source: "the command line".into(),
            line: directives.len() + 1,
            text: words.join(" "),
            words,
        });
    }
    let mut config = Config::default();
    let mut save_words: Option<Vec<String>> = None;
    for d in directives {
        let err = |reason: String| ConfigError {
            source: d.source.clone(),
            line: d.line,
            text: d.text.clone(),
            reason,
        };
        let param = find_param(&d.words[0])
            .ok_or_else(|| err("Bad directive or wrong number of arguments".into()))?;
        let mut values = d.words[1..].to_vec();
        if !param.variadic && values.len() != 1 {
            return Err(err("Bad directive or wrong number of arguments".into()));
        }
        // Old configs list one `save` rule per line: the first line replaces the default
        // rules and later ones add to it, as in Redis.
        if param.name == "save" {
            if let Some(earlier) = &save_words {
                values = [earlier, &values[..]].concat();
            }
            save_words = Some(values.clone());
        }
        (param.set)(&mut config, &values).map_err(err)?;
    }
    config.resolve_keyring().map_err(|reason| ConfigError {
        source: "the configuration".into(),
        line: 0,
        text: format!("encryption {}", yes_no(config.encryption)),
        reason,
    })?;
    Ok(Startup {
        config,
        config_file,
    })
}

/// CONFIG GET: every parameter matching any of the patterns, as (name, value).
pub fn get_matching(config: &Config, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
    let matches = |name: &str| {
        patterns
            .iter()
            .any(|pat| glob_match(pat, name.as_bytes(), true))
    };
    let mut out = Vec::new();
    for p in PARAMS {
        // An alias is listed under its own name too, as Redis does.
        for name in std::iter::once(p.name).chain(p.alias) {
            if matches(name) {
                out.push((name, (p.get)(config)));
            }
        }
    }
    out
}

/// CONFIG SET of several parameters at once: all are validated before any takes effect.
/// `client_is_local` is whether the client is on this host (loopback or unix socket), for
/// `enable-protected-configs local`.
///
/// As in Redis, every name is checked first (unknown, immutable, protected, duplicate, in that
/// order for each pair, left to right), and only then are values parsed: a refused parameter is
/// reported whatever the other values are, and a protected path is never opened.
pub fn set_many(
    config: &mut Config,
    pairs: &[(&[u8], &[u8])],
    client_is_local: bool,
) -> Result<(), String> {
    let failed = |name: &str, why: &str| {
        format!("CONFIG SET failed (possibly related to argument '{name}') - {why}")
    };
    let mut params: Vec<&'static Param> = Vec::with_capacity(pairs.len());
    for (name, _) in pairs {
        let name_text = String::from_utf8_lossy(name);
        let Some(param) = find_param(&name_text).filter(|_| !name.is_empty()) else {
            return Err(format!(
                "Unknown option or number of arguments for CONFIG SET - '{name_text}'"
            ));
        };
        if !param.mutable {
            return Err(failed(&name_text, "can't set immutable config"));
        }
        if param.protected && !config.enable_protected_configs.permits(client_is_local) {
            return Err(failed(&name_text, "can't set protected config"));
        }
        if params.iter().any(|p| p.name == param.name) {
            return Err(failed(&name_text, "duplicate parameter"));
        }
        params.push(param);
    }
    let mut next = config.clone();
    for (param, (name, value)) in params.iter().zip(pairs) {
        let value = String::from_utf8_lossy(value).into_owned();
        let words = if param.variadic {
            value.split_whitespace().map(String::from).collect()
        } else {
            vec![value]
        };
        (param.set)(&mut next, &words)
            .map_err(|why| failed(&String::from_utf8_lossy(name), &why))?;
    }
    next.resolve_keyring()
        .map_err(|why| format!("CONFIG SET failed - {why}"))?;
    // More clients need more descriptors: raise the limit, or refuse as Redis 7.0 does,
    // naming the most the limit allows.
    if next.maxclients > config.maxclients {
        if let crate::net::fdlimit::Adjusted::Clients(allowed) =
            crate::net::fdlimit::adjust(next.maxclients)
        {
            if allowed < next.maxclients {
                crate::log!(
                    Warning,
                    "Failed applying new configuration. Possibly related to new maxclients setting. Restoring previous settings."
                );
                return Err(format!(
                    "CONFIG SET failed (possibly related to argument 'maxclients') - The operating system is not able to handle the specified number of clients, try with {allowed}"
                ));
            }
        }
    }
    *config = next;
    Ok(())
}

/// Quotes a value for a config file when it needs it.
fn quote(value: &str) -> String {
    if !value.is_empty()
        && !value
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b == b'"' || b == b'\'' || b == b'\\')
    {
        return value.to_string();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn directive_line(param: &Param, config: &Config) -> String {
    let value = (param.get)(config);
    if param.variadic {
        format!("{} {}", param.name, value)
    } else {
        format!("{} {}", param.name, quote(&value))
    }
}

/// CONFIG REWRITE: rewrites `path` so it reflects `config`, keeping comments and layout. A
/// parameter's first line is updated in place, its repeats are dropped, and parameters that
/// differ from their default but are not in the file are appended.
pub fn rewrite(path: &Path, config: &Config) -> std::io::Result<()> {
    let original = std::fs::read_to_string(path).unwrap_or_default();
    let defaults = Config::default();
    let mut written: Vec<&'static str> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    const MARKER: &str = "# Generated by CONFIG REWRITE";
    for raw in original.lines() {
        if raw.trim() == MARKER {
            continue;
        }
        let words = split_words(raw.trim()).unwrap_or_default();
        let param = words
            .first()
            .filter(|_| !raw.trim_start().starts_with('#'))
            .and_then(|w| find_param(w));
        match param {
            Some(p) if written.contains(&p.name) => {}
            Some(p) => {
                written.push(p.name);
                lines.push(directive_line(p, config));
            }
            None => lines.push(raw.to_string()),
        }
    }
    let mut appended = false;
    for p in PARAMS {
        if written.contains(&p.name) || (p.get)(config) == (p.get)(&defaults) {
            continue;
        }
        if !appended {
            lines.push(MARKER.into());
            appended = true;
        }
        lines.push(directive_line(p, config));
    }
    let tmp = path.with_extension("rewrite.tmp");
    std::fs::write(&tmp, lines.join("\n") + "\n")?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_match_redis() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.bind, vec!["127.0.0.1", "-::1"]);
        assert_eq!(c.proto_max_bulk_len, 512 << 20);
        assert_eq!(c.client_query_buffer_limit, 1 << 30);
        assert_eq!(c.databases, 16);
        assert!(c.threads >= 1);
    }

    #[test]
    fn file_then_command_line() {
        let dir = std::env::temp_dir().join(format!("rl-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let inc = dir.join("inc.conf");
        std::fs::write(&inc, "timeout 7\n").unwrap();
        let main = dir.join("main.conf");
        std::fs::write(
            &main,
            format!(
                "# comment\nport 7000\nproto-max-bulk-len 2mb\ninclude {}\nrequirepass \"a b\"\n",
                inc.display()
            ),
        )
        .unwrap();
        let s = from_args(&args(&[
            main.to_str().unwrap(),
            "--port",
            "7001",
            "--bind",
            "127.0.0.1",
            "::1",
        ]))
        .unwrap();
        assert_eq!(s.config.port, 7001);
        assert_eq!(s.config.timeout, 7);
        assert_eq!(s.config.proto_max_bulk_len, 2 << 20);
        assert_eq!(s.config.requirepass, "a b");
        assert_eq!(s.config.bind, vec!["127.0.0.1", "::1"]);

        std::fs::write(&main, "port 7000\nfrobnicate 1\n").unwrap();
        let e = from_args(&args(&[main.to_str().unwrap()])).unwrap_err();
        assert_eq!((e.line, e.text.as_str()), (2, "frobnicate 1"));
        assert!(e
            .to_string()
            .contains("Bad directive or wrong number of arguments"));
        std::fs::write(&main, "port 70000\n").unwrap();
        let e = from_args(&args(&[main.to_str().unwrap()])).unwrap_err();
        assert!(e.reason.contains("between 0 and 65535"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn config_set_errors_match_redis() {
        let mut c = Config::default();
        let err = |c: &mut Config, n: &str, v: &str| {
            set_many(c, &[(n.as_bytes(), v.as_bytes())], true).unwrap_err()
        };
        assert_eq!(
            err(&mut c, "timeout", "abc"),
            "CONFIG SET failed (possibly related to argument 'timeout') - argument couldn't be parsed into an integer"
        );
        assert_eq!(
            err(&mut c, "databases", "3"),
            "CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config"
        );
        assert_eq!(
            err(&mut c, "foo", "1"),
            "Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            err(&mut c, "loglevel", "x"),
            "CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning"
        );
        assert_eq!(
            err(&mut c, "maxclients", "-5"),
            "CONFIG SET failed (possibly related to argument 'maxclients') - argument must be between 1 and 4294967295 inclusive"
        );
        assert_eq!(
            err(&mut c, "proto-max-bulk-len", "abc"),
            "CONFIG SET failed (possibly related to argument 'proto-max-bulk-len') - argument must be a memory value"
        );
        // Atomic: a bad second pair leaves the first unapplied.
        assert!(set_many(&mut c, &[(b"timeout", b"5"), (b"hz", b"x")], true).is_err());
        assert_eq!(c.timeout, 0);
        set_many(&mut c, &[(b"timeout", b"5"), (b"hz", b"1000")], true).unwrap();
        assert_eq!((c.timeout, c.hz), (5, 500));
    }

    /// The parameters Redis 7.0 marks PROTECTED_CONFIG that redis-lite has, plus redis-lite's
    /// own key file: the table must mark exactly these.
    const PROTECTED: &[&str] = &["dir", "dbfilename", "encryption-key-file"];

    #[test]
    fn protected_configs_are_marked_in_the_table() {
        let marked: Vec<&str> = PARAMS
            .iter()
            .filter(|p| p.protected)
            .map(|p| p.name)
            .collect();
        assert_eq!(marked, PROTECTED);
        assert!(PARAMS.iter().filter(|p| p.protected).all(|p| p.mutable));
    }

    #[test]
    fn protected_configs_need_enable_protected_configs() {
        let refused = |name: &str| {
            format!(
                "CONFIG SET failed (possibly related to argument '{name}') - can't set protected config"
            )
        };
        let tmp = std::env::temp_dir();
        let tmp = tmp.to_str().unwrap();
        let mut c = Config::default();
        for name in PROTECTED {
            for local in [false, true] {
                // Refused before the value is even looked at.
                let e = set_many(&mut c, &[(name.as_bytes(), b"/nonexistent/x")], local);
                assert_eq!(e.unwrap_err(), refused(name));
            }
        }
        // Checked for every pair before any value is parsed, and named as typed, as Redis does.
        let e = set_many(
            &mut c,
            &[(b"timeout", b"abc"), (b"DIR", tmp.as_bytes())],
            true,
        );
        assert_eq!(e.unwrap_err(), refused("DIR"));
        let e = set_many(
            &mut c,
            &[(b"timeout", b"1"), (b"timeout", b"2"), (b"dir", b"/")],
            true,
        );
        assert!(e.unwrap_err().ends_with("- duplicate parameter"));
        let e = set_many(&mut c, &[(b"enable-protected-configs", b"yes")], true);
        assert!(e.unwrap_err().ends_with("- can't set immutable config"));

        c.enable_protected_configs = Allow::Local;
        assert_eq!(
            set_many(&mut c, &[(b"dir", tmp.as_bytes())], false).unwrap_err(),
            refused("dir")
        );
        set_many(
            &mut c,
            &[(b"dir", tmp.as_bytes()), (b"dbfilename", b"x.rdb")],
            true,
        )
        .unwrap();
        assert_eq!(c.dbfilename, "x.rdb");
        c.enable_protected_configs = Allow::Yes;
        set_many(&mut c, &[(b"dbfilename", b"y.rdb")], false).unwrap();
        assert_eq!(c.dbfilename, "y.rdb");
    }

    #[test]
    fn enable_settings_parse_from_the_command_line() {
        let s = from_args(&args(&[
            "--enable-protected-configs",
            "local",
            "--enable-module-command",
            "yes",
        ]))
        .unwrap();
        assert_eq!(s.config.enable_protected_configs, Allow::Local);
        assert_eq!(s.config.enable_module_command, Allow::Yes);
        assert_eq!(s.config.enable_debug_command, Allow::No);
        let got = get_matching(&s.config, &[b"enable-*"]);
        assert!(got.contains(&("enable-protected-configs", "local".into())));
        assert!(got.contains(&("enable-module-command", "yes".into())));
        assert!(got.contains(&("enable-debug-command", "no".into())));
        let e = from_args(&args(&["--enable-protected-configs", "maybe"])).unwrap_err();
        assert!(
            e.reason
                .contains("must be one of the following: no, yes, local"),
            "{e}"
        );
        assert!(Allow::Local.permits(true) && !Allow::Local.permits(false));
        assert!(Allow::Yes.permits(false) && !Allow::No.permits(true));
    }

    #[test]
    fn config_set_tells_each_part_once() {
        let names: [&[u8]; 6] = [
            b"maxmemory",
            b"MAXMEMORY-POLICY",
            b"hash-max-ziplist-entries",
            b"timeout",
            b"client-output-buffer-limit",
            b"maxkeys",
        ];
        assert_eq!(
            applies_of(names),
            vec![
                Apply::EvictionLimits,
                Apply::EvictionPolicy,
                Apply::Encoding,
                Apply::Connections,
                Apply::PubSubLimit,
            ]
        );
        assert!(applies_of([b"save".as_slice(), b"requirepass"]).is_empty());
    }

    #[test]
    fn rewrite_keeps_comments_and_updates_values() {
        let path = std::env::temp_dir().join(format!("rl-rewrite-{}.conf", std::process::id()));
        std::fs::write(&path, "# keep me\ntimeout 1\ntimeout 2\nport 7000\n").unwrap();
        let mut c = from_args(&[path.to_str().unwrap().to_string()])
            .unwrap()
            .config;
        c.timeout = 9;
        c.requirepass = "p w".into();
        rewrite(&path, &c).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "# keep me\ntimeout 9\nport 7000\n# Generated by CONFIG REWRITE\nrequirepass \"p w\"\n"
        );
        std::fs::remove_file(&path).unwrap();
    }
}
