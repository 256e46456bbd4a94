//! Configuration: one declarative table of parameters drives the config file (redis.conf
//! syntax), command-line options, CONFIG GET, CONFIG SET and CONFIG REWRITE.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use parking_lot::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use redis_lite_engine::encoding::SharedEncodingLimits;

use redis_lite_engine::glob::glob_match;
use redis_lite_engine::{EncodingLimits, Policy};
use redis_lite_persist::Keyring;

use crate::client::BufferLimit;
use crate::command::CommandTable;

mod params;
pub mod sections;
pub use params::{applies_of, find_param, parse_memory, Allow, Apply, Param, Rewrite};

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
    /// `busy-reply-threshold` (`lua-time-limit`): ms a script runs before other clients get BUSY.
    pub busy_reply_threshold: i64,
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
    /// `replicaof`: the master this server replicates, if any (REPLICAOF changes it).
    pub replicaof: Option<(String, u16)>,
    pub masterauth: String,
    pub masteruser: String,
    pub replica_serve_stale_data: bool,
    pub replica_read_only: bool,
    pub replica_ignore_maxmemory: bool,
    pub replica_lazy_flush: bool,
    pub replica_ignore_disk_write_errors: bool,
    pub replica_priority: u64,
    pub replica_announced: bool,
    pub replica_announce_ip: String,
    pub replica_announce_port: u16,
    pub repl_diskless_sync: bool,
    /// Seconds a diskless full sync waits for more replicas to share its snapshot.
    pub repl_diskless_sync_delay: u64,
    /// Start the diskless sync at once when this many replicas wait (0: no limit).
    pub repl_diskless_sync_max_replicas: u64,
    pub repl_diskless_load: DisklessLoad,
    pub repl_ping_replica_period: u64,
    pub repl_timeout: u64,
    pub repl_disable_tcp_nodelay: bool,
    /// Bytes of the replication stream kept for partial resynchronisation.
    pub repl_backlog_size: u64,
    /// Seconds the backlog is kept after the last replica left (0: forever).
    pub repl_backlog_ttl: u64,
    pub min_replicas_to_write: u64,
    pub min_replicas_max_lag: u64,
    pub process: sections::ProcessConfig,
    pub tuning: sections::TuningConfig,
    pub observability: sections::ObservabilityConfig,
    pub cluster: sections::ClusterConfig,
    pub tls: sections::TlsConfig,
    pub acl: sections::AclConfig,
}

/// `repl-diskless-load`: how a replica loads the snapshot of a full sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisklessLoad {
    /// Into a file first, then loaded from it.
    Disabled,
    /// Straight from the socket when the dataset is empty, else through a file.
    OnEmptyDb,
    /// Straight from the socket into a new dataset, the old one kept until it succeeds.
    Swapdb,
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
            busy_reply_threshold: 0,
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
            replicaof: None,
            masterauth: String::new(),
            masteruser: String::new(),
            replica_serve_stale_data: false,
            replica_read_only: false,
            replica_ignore_maxmemory: false,
            replica_lazy_flush: false,
            replica_ignore_disk_write_errors: false,
            replica_priority: 0,
            replica_announced: false,
            replica_announce_ip: String::new(),
            replica_announce_port: 0,
            repl_diskless_sync: false,
            repl_diskless_sync_delay: 0,
            repl_diskless_sync_max_replicas: 0,
            repl_diskless_load: DisklessLoad::Disabled,
            repl_ping_replica_period: 0,
            repl_timeout: 0,
            repl_disable_tcp_nodelay: false,
            repl_backlog_size: 0,
            repl_backlog_ttl: 0,
            min_replicas_to_write: 0,
            min_replicas_max_lag: 0,
            process: Default::default(),
            tuning: Default::default(),
            observability: Default::default(),
            cluster: Default::default(),
            tls: Default::default(),
            acl: Default::default(),
        };
        for param in params::all() {
            // Read as a file's line is, after the name: alone, a default such as `bind`'s
            // `* -::*` would open like a protocol frame.
            let line = format!("{} {}", param.name, param.default);
            let words = split_words(line).expect("defaults are well-formed");
            (param.set)(&mut config, &words[1..]).expect("defaults are valid");
        }
        config
    }
}

/// The running server's configuration: the parameters, where they came from, and the copies
/// kept outside the lock for the hot path.
pub struct LiveConfig {
    values: RwLock<Config>,
    /// The config file given at start-up, for CONFIG REWRITE and INFO.
    pub file: Option<PathBuf>,
    /// Bumped when a parameter connections cache changes, so they re-read their settings.
    pub epoch: AtomicU64,
    /// Collection encoding thresholds, read by every collection write.
    pub encoding: SharedEncodingLimits,
}

impl LiveConfig {
    pub fn new(config: Config, file: Option<PathBuf>) -> Self {
        LiveConfig {
            values: RwLock::new(config),
            file,
            epoch: AtomicU64::new(0),
            encoding: SharedEncodingLimits::default(),
        }
    }

    pub fn read(&self) -> RwLockReadGuard<'_, Config> {
        self.values.read()
    }

    pub fn write(&self) -> RwLockWriteGuard<'_, Config> {
        self.values.write()
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

/// A start-up configuration error, reported byte for byte as Redis 7.0.15 reports it (see
/// [`ConfigError::report`]).
#[derive(Debug)]
pub struct ConfigError {
    /// The line at fault, numbered as Redis numbers it: in its own file, or, for the command
    /// line, in the text Redis makes of the config file and the options (see [`from_args`]).
    /// 0 when no one line is at fault.
    pub line: usize,
    pub text: String,
    pub reason: String,
    /// The config file could not be read: Redis logs that instead of its FATAL block.
    unreadable_file: bool,
}

impl ConfigError {
    fn at(line: usize, text: &str, reason: String) -> ConfigError {
        ConfigError {
            line,
            text: text.to_string(),
            reason,
            unreadable_file: false,
        }
    }

    /// Prints the error where Redis does before it exits with status 1: its FATAL block on
    /// standard error, or a log line on standard output for a config file it cannot read. The
    /// block names Redis's version, not redis-lite's, as every other place a client or tool
    /// reads the version from does (INFO's `redis_version`, HELLO).
    pub fn report(&self) {
        match self.unreadable_file {
            true => crate::log::before_start(&self.reason),
            false => eprintln!("{self}"),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (Redis {}) ***",
            crate::server::REDIS_VERSION
        )?;
        if self.line > 0 {
            writeln!(f, "Reading the configuration file, at line {}", self.line)?;
            writeln!(f, ">>> '{}'", self.text)?;
        }
        write!(f, "{}", self.reason)
    }
}

/// Splits a config line into words with redis.conf's quoting (the same as inline commands).
/// The line is bytes, as Redis reads it: bytes that are not UTF-8 (in a comment, or a value)
/// do not stop the server.
pub fn split_words(line: impl AsRef<[u8]>) -> Result<Vec<String>, String> {
    let mut parser = redis_lite_protocol::RequestParser::new(Default::default());
    let mut text = line.as_ref().to_vec();
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
#[derive(Debug)]
struct Directive {
    line: usize,
    text: String,
    words: Vec<String>,
}

const MAX_INCLUDE_DEPTH: usize = 16;

/// Reads an included file's directives into the list (`include` lines): [`read_file`] for a
/// real start, a refusal where no file may be read.
type IncludeReader = dyn Fn(&Path, usize, &mut Vec<Directive>) -> Result<(), ConfigError>;

fn read_file(path: &Path, depth: usize, out: &mut Vec<Directive>) -> Result<(), ConfigError> {
    let content = read_config_file(path)?;
    parse_lines(&content, depth, out, &read_file)
}

fn read_config_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|e| ConfigError {
        line: 0,
        text: String::new(),
        reason: format!(
            "Fatal error, can't open config file '{}': {}",
            path.display(),
            crate::error::strerror(&e)
        ),
        unreadable_file: true,
    })
}

/// A config file's directives, in order, `include`s expanded by `include`.
fn parse_lines(
    content: &[u8],
    depth: usize,
    out: &mut Vec<Directive>,
    include: &IncludeReader,
) -> Result<(), ConfigError> {
    for (i, raw) in content.split(|b| *b == b'\n').enumerate() {
        let bytes = raw.trim_ascii();
        if bytes.is_empty() || bytes.starts_with(b"#") {
            continue;
        }
        let text = String::from_utf8_lossy(bytes);
        let text = text.as_ref();
        let err = |reason: String| ConfigError::at(i + 1, text, reason);
        let words = split_words(bytes).map_err(err)?;
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
            include(Path::new(&words[1]), depth + 1, out)?;
            continue;
        }
        out.push(Directive {
            line: i + 1,
            text: text.into(),
            words,
        });
    }
    Ok(())
}

/// The config file parser on bytes, for the fuzz targets (`fuzz/`), which cannot reach the
/// private parser otherwise: the text is read as a file's and applied to the defaults as at
/// start-up, and `user` lines are checked against the command table. `include` lines are
/// refused as unreadable files, so a fuzzed input never makes the parser open a path (a FIFO
/// would block it); `rename-command` lines are parsed but not installed, since the table is
/// the process's and is installed once.
#[doc(hidden)]
pub fn parse_text_for_fuzzing(text: &[u8]) -> Result<Config, ConfigError> {
    let mut directives = Vec::new();
    let refuse = |path: &Path, _: usize, _: &mut Vec<Directive>| {
        Err(ConfigError::at(
            0,
            "",
            format!(
                "can't open config file '{}' (includes are not read here)",
                path.display()
            ),
        ))
    };
    parse_lines(text, 0, &mut directives, &refuse)?;
    let mut startup = apply_directives(directives, None)?;
    startup.renamed_commands = None;
    startup.install_commands()?;
    Ok(startup.config)
}

/// What the command line asked for besides configuration.
#[derive(Debug)]
pub struct Startup {
    pub config: Config,
    pub config_file: Option<PathBuf>,
    /// The command table as `rename-command` directives left it, for `command::install`; None
    /// when there were none.
    renamed_commands: Option<CommandTable>,
    /// The `user` lines, checked once the command table is final (their rules name commands).
    user_declarations: Vec<Directive>,
}

impl Startup {
    /// Makes the command table final (`rename-command`), then checks the `user` lines against
    /// it, in file order: an error names its line as a parameter's would. Start-up calls this
    /// once, before anything looks a command up.
    pub fn install_commands(&mut self) -> Result<(), ConfigError> {
        if let Some(renamed) = self.renamed_commands.take() {
            crate::command::install(renamed);
        }
        let mut earlier: Vec<Vec<String>> = Vec::new();
        for d in &self.user_declarations {
            crate::acl::file::check_declaration(&d.words, &earlier)
                .map_err(|reason| ConfigError::at(d.line, &d.text, reason))?;
            earlier.push(d.words.clone());
        }
        Ok(())
    }
}

/// Builds the configuration from `redis-server`-style arguments: an optional config file first,
/// then `--directive value...` options, which override the file. As Redis does, the options
/// become config lines (see [`option_lines`]) appended to the file's text after a newline, so
/// an error in one is numbered as a line of that text.
pub fn from_args(args: &[String]) -> Result<Startup, ConfigError> {
    let mut directives = Vec::new();
    let mut rest = args;
    let mut config_file = None;
    let mut file_newlines = 0;
    if let Some(first) = args.first().filter(|first| !first.starts_with('-')) {
        let path = PathBuf::from(first);
        let content = read_config_file(&path)?;
        file_newlines = content.iter().filter(|&&b| b == b'\n').count();
        parse_lines(&content, 0, &mut directives, &read_file)?;
        config_file = Some(std::fs::canonicalize(&path).unwrap_or(path));
        rest = &args[1..];
    }
    let first_option_line = file_newlines + 2;
    for (k, text) in option_lines(rest).iter().enumerate() {
        let line = first_option_line + k;
        let words = split_words(text).map_err(|e| ConfigError::at(line, text, e))?;
        if words.is_empty() {
            continue;
        }
        directives.push(Directive {
            line,
            text: text.clone(),
            words,
        });
    }
    apply_directives(directives, config_file)
}

/// The config lines Redis 7.0 makes of its command-line options: each `--name` starts a line,
/// each argument after it is appended quoted (`sdscatrepr`). An argument right after a bare
/// `--name` is its value even when it starts with `--`, except after `--save`, which then
/// gets an empty value (`--save --port 7000` is `save ""`), as it does at the end.
fn option_lines(args: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut text = Vec::new();
    let mut has_value = true;
    for (j, arg) in args.iter().enumerate() {
        if has_value && arg.starts_with("--") {
            if !text.is_empty() {
                lines.push(String::from_utf8_lossy(&text).trim().to_string());
                text.clear();
            }
            text.extend_from_slice(&arg.as_bytes()[2..]);
            text.push(b' ');
            // "--port 6380" as one argument brings its value along.
            has_value = split_words(arg).map_or(true, |words| words.len() > 1);
            let next_is_option = args.get(j + 1).is_none_or(|next| next.starts_with("--"));
            if !has_value && next_is_option {
                if arg.eq_ignore_ascii_case("--save") {
                    text.extend_from_slice(b"\"\"");
                    has_value = true;
                } else if arg.eq_ignore_ascii_case("--sentinel") {
                    has_value = true;
                }
            }
        } else {
            redis_lite_protocol::repr::repr(&mut text, arg.as_bytes());
            text.push(b' ');
            has_value = true;
        }
    }
    if !text.is_empty() {
        lines.push(String::from_utf8_lossy(&text).trim().to_string());
    }
    lines
}

/// Applies the directives of the file and the command line, in order, to the defaults.
fn apply_directives(
    directives: Vec<Directive>,
    config_file: Option<PathBuf>,
) -> Result<Startup, ConfigError> {
    let mut config = Config::default();
    let mut save_words: Option<Vec<String>> = None;
    let mut renamed_commands: Option<CommandTable> = None;
    let mut user_declarations = Vec::new();
    for d in directives {
        let err = |reason: String| ConfigError::at(d.line, &d.text, reason);
        // Users are checked once renames are applied (`Startup::install_commands`) and created
        // at start-up (`acl::file`).
        if d.words[0].eq_ignore_ascii_case("user") && d.words.len() >= 2 {
            config.acl.users.push(d.words.clone());
            user_declarations.push(d);
            continue;
        }
        // Not a parameter: CONFIG GET does not show it, and CONFIG REWRITE keeps its lines.
        if d.words[0].eq_ignore_ascii_case("rename-command") && d.words.len() == 3 {
            renamed_commands
                .get_or_insert_with(CommandTable::default)
                .rename(d.words[1].as_bytes(), d.words[2].as_bytes())
                .map_err(|e| err(e.to_string()))?;
            continue;
        }
        let param = find_param(&d.words[0])
            .ok_or_else(|| err("Bad directive or wrong number of arguments".into()))?;
        let mut values = d.words[1..].to_vec();
        // A multi-word parameter given as one quoted value (`--save "900 1"`,
        // `client-output-buffer-limit "replica 8mb 0 0"`) is split into its words, as Redis 7
        // does; an empty one (`--save ""`) stays as it is.
        if param.variadic && values.len() == 1 && !values[0].is_empty() {
            values = split_words(&values[0]).map_err(err)?;
        }
        if !param.variadic && values.len() != 1 {
            return Err(err("wrong number of arguments".into()));
        }
        // Old configs list one `save` rule per line: the first line replaces the default
        // rules and later ones add to it, as in Redis; `save ""` drops the rules so far.
        if param.name == "save" {
            let resets = values.len() == 1 && values[0].is_empty();
            if let Some(earlier) = save_words.as_ref().filter(|_| !resets) {
                values = [earlier, &values[..]].concat();
            }
            save_words = Some(values.clone());
        }
        (param.set)(&mut config, &values).map_err(err)?;
    }
    config
        .resolve_keyring()
        .map_err(|reason| ConfigError::at(0, "", reason))?;
    Ok(Startup {
        config,
        config_file,
        renamed_commands,
        user_declarations,
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
    for p in params::all() {
        // An alias is listed under its own name too, as Redis does.
        for name in std::iter::once(p.name).chain(p.alias) {
            let shown = if p.hidden {
                patterns
                    .iter()
                    .any(|pat| pat.eq_ignore_ascii_case(name.as_bytes()))
            } else {
                matches(name)
            };
            if shown {
                out.push((name, (p.get)(config)));
            }
        }
    }
    out
}

/// The parameters Redis 7.0 refuses to change while the dataset loads (`-LOADING`).
const DENIED_WHILE_LOADING: &[&str] = &["dir", "appendonly"];

fn set_failed(name: &str, why: &str) -> Vec<u8> {
    format!("CONFIG SET failed (possibly related to argument '{name}') - {why}").into_bytes()
}

/// The parameter a CONFIG SET pair names, or why its name alone refuses the whole command:
/// unknown, immutable, protected, or named twice (`earlier` holds the pairs before it).
fn settable_param(
    config: &Config,
    name: &[u8],
    earlier: &[&'static Param],
    client_is_local: bool,
) -> Result<&'static Param, Vec<u8>> {
    let name_text = String::from_utf8_lossy(name);
    let Some(param) = find_param(&name_text).filter(|_| !name.is_empty()) else {
        // The name as the client sent it, bytes and all, as Redis quotes it.
        let mut error = b"Unknown option or number of arguments for CONFIG SET - '".to_vec();
        error.extend_from_slice(crate::error::truncated_bytes(name, usize::MAX));
        error.push(b'\'');
        return Err(error);
    };
    if !param.mutable {
        return Err(set_failed(&name_text, "can't set immutable config"));
    }
    if param.protected && !config.enable_protected_configs.permits(client_is_local) {
        return Err(set_failed(&name_text, "can't set protected config"));
    }
    if earlier.iter().any(|p| p.name == param.name) {
        return Err(set_failed(&name_text, "duplicate parameter"));
    }
    Ok(param)
}

/// Whether a CONFIG SET sent while the dataset loads is answered `-LOADING`: a parameter
/// Redis denies then comes before any pair refused by its name, as Redis checks each in turn.
pub fn denied_while_loading(
    config: &Config,
    pairs: &[(&[u8], &[u8])],
    client_is_local: bool,
) -> bool {
    let mut earlier = Vec::with_capacity(pairs.len());
    for (name, _) in pairs {
        match settable_param(config, name, &earlier, client_is_local) {
            Ok(param) if DENIED_WHILE_LOADING.contains(&param.name) => return true,
            Ok(param) => earlier.push(param),
            Err(_) => return false,
        }
    }
    false
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
) -> Result<(), Vec<u8>> {
    let mut params: Vec<&'static Param> = Vec::with_capacity(pairs.len());
    for (name, _) in pairs {
        params.push(settable_param(config, name, &params, client_is_local)?);
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
            .map_err(|why| set_failed(&String::from_utf8_lossy(name), &why))?;
    }
    next.resolve_keyring()
        .map_err(|why| format!("CONFIG SET failed - {why}").into_bytes())?;
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
                ).into_bytes());
            }
        }
    }
    *config = next;
    Ok(())
}

/// Puts back the values `before` had for the parameters `pairs` named, after a CONFIG SET whose
/// effect could not be applied (the listeners could not move).
pub fn restore(config: &mut Config, before: &Config, pairs: &[(&[u8], &[u8])]) {
    for (name, _) in pairs {
        let Some(param) = find_param(&String::from_utf8_lossy(name)) else {
            continue;
        };
        let value = (param.get)(before);
        let words = if param.variadic {
            value.split_whitespace().map(String::from).collect()
        } else {
            vec![value]
        };
        // A value the parameter itself showed parses back.
        let _ = (param.set)(config, &words);
    }
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
    quoted(value)
}

/// `value` in double quotes, escaped as Redis's `sdscatrepr` escapes the strings it writes
/// (the config parser reads the escapes back).
fn quoted(value: &str) -> String {
    let mut out = Vec::new();
    redis_lite_protocol::repr(&mut out, value.as_bytes());
    // Only printable ASCII comes out.
    String::from_utf8_lossy(&out).into_owned()
}

/// A size as Redis's CONFIG REWRITE writes it: in the largest of gb, mb and kb that divides
/// it, else in bytes (a percentage, `maxmemory-clients 10%`, as it is).
fn memory_text(value: &str) -> String {
    const UNITS: [(i64, &str); 3] = [(1 << 30, "gb"), (1 << 20, "mb"), (1 << 10, "kb")];
    match value.parse::<i64>() {
        Ok(bytes) if bytes != 0 => UNITS
            .iter()
            .find(|(size, _)| bytes % size == 0)
            .map_or_else(
                || value.to_string(),
                |(size, unit)| format!("{}{unit}", bytes / size),
            ),
        _ => value.to_string(),
    }
}

/// The line (or lines) CONFIG REWRITE writes for `param`: `old_lines` is how many lines the
/// file has for it, whose places Redis fills in turn.
fn directive_line(param: &Param, config: &Config, defaults: &Config, old_lines: usize) -> String {
    let value = (param.get)(config);
    let text = match param.rewrite {
        Rewrite::PairPerLine if value.is_empty() => "\"\"".to_string(),
        Rewrite::PairPerLine => {
            let words: Vec<&str> = value.split(' ').collect();
            let pairs: Vec<String> = words.chunks(2).map(|pair| pair.join(" ")).collect();
            pairs.join(&format!("\n{} ", param.name))
        }
        Rewrite::LimitPerClass => {
            let default = (param.get)(defaults);
            let words: Vec<&str> = value.split(' ').collect();
            let default_words: Vec<&str> = default.split(' ').collect();
            let classes: Vec<String> = words
                .chunks(4)
                .zip(default_words.chunks(4))
                .enumerate()
                .filter(|(index, (class, default))| *index < old_lines || class != default)
                .map(|(_, (class, _))| {
                    let name = match class[0] {
                        "slave" => "replica",
                        other => other,
                    };
                    let (hard, soft) = (memory_text(class[1]), memory_text(class[2]));
                    format!("{name} {hard} {soft} {}", class[3])
                })
                .collect();
            classes.join(&format!("\n{} ", param.name))
        }
        _ if param.variadic => value,
        Rewrite::AsShown => quote(&value),
        Rewrite::Quoted => quoted(&value),
        Rewrite::Memory => memory_text(&value),
    };
    format!("{} {}", param.name, text)
}

/// CONFIG REWRITE: rewrites `path` so it reflects `config`, keeping comments and layout. A
/// parameter's first line is updated in place, its repeats are dropped, and parameters that
/// differ from their default but are not in the file are appended (`dir`, `save` and the
/// INFO percentiles even at their default, as Redis pins them). `users` (the ACL users as
/// `user` lines, none when they live in an ACL file) take the places of the file's `user`
/// lines in turn, and those left over are appended last, as Redis writes them. `force_all`
/// (DEBUG CONFIG-REWRITE-FORCE-ALL) appends the parameters at their default too.
pub fn rewrite(
    path: &Path,
    config: &Config,
    users: &[Vec<u8>],
    force_all: bool,
) -> std::io::Result<()> {
    // Bytes: lines that are not UTF-8 (comments in another encoding) are kept as they are.
    let original = std::fs::read(path).unwrap_or_default();
    let defaults = Config::default();
    let mut written: Vec<&'static str> = Vec::new();
    let mut lines: Vec<Vec<u8>> = Vec::new();
    const MARKER: &str = "# Generated by CONFIG REWRITE";
    let body = original.strip_suffix(b"\n").unwrap_or(&original);
    let mut users = users.iter();
    let mut has_marker = false;
    // How many lines the file has for each parameter.
    let mut old_counts: std::collections::HashMap<&'static str, usize> = Default::default();
    for raw in body.split(|b| *b == b'\n') {
        let words = split_words(raw.trim_ascii()).unwrap_or_default();
        if let Some(p) = words.first().and_then(|w| find_param(w)) {
            *old_counts.entry(p.name).or_default() += 1;
        }
    }
    let old_lines = |name: &str| old_counts.get(name).copied().unwrap_or(0);
    for raw in body.split(|b| *b == b'\n').filter(|_| !original.is_empty()) {
        let trimmed = raw.trim_ascii();
        if trimmed == MARKER.as_bytes() {
            has_marker = true;
            lines.push(raw.to_vec());
            continue;
        }
        let words = split_words(trimmed).unwrap_or_default();
        if words
            .first()
            .is_some_and(|w| w.eq_ignore_ascii_case("user"))
        {
            lines.extend(users.next().cloned());
            continue;
        }
        let param = words
            .first()
            .filter(|_| !trimmed.starts_with(b"#"))
            .and_then(|w| find_param(w));
        match param {
            Some(p) if written.contains(&p.name) => {}
            Some(p) => {
                written.push(p.name);
                lines.push(directive_line(p, config, &defaults, old_lines(p.name)).into_bytes());
            }
            None => lines.push(raw.to_vec()),
        }
    }
    // Redis pins the directory it runs in even when it was not named: a restart from another
    // directory finds its files where they were.
    // Redis pins its snapshot rules and INFO's percentiles the same way.
    const ALWAYS_WRITTEN: &[&str] = &["dir", "save", "latency-tracking-info-percentiles"];
    // What the file lacks goes at its end, after an empty line and the marker (unless the
    // file has it from an earlier rewrite), as Redis appends.
    let mut appended = false;
    let mut append = |lines: &mut Vec<Vec<u8>>, line: Vec<u8>| {
        if !appended {
            if lines.last().is_some_and(|last| !last.is_empty()) {
                lines.push(Vec::new());
            }
            if !has_marker {
                lines.push(MARKER.into());
            }
            appended = true;
        }
        lines.push(line);
    };
    for p in params::all() {
        let at_default = (p.get)(config) == (p.get)(&defaults) && !ALWAYS_WRITTEN.contains(&p.name);
        if written.contains(&p.name) || (!force_all && at_default) {
            continue;
        }
        // Forced, every class of a parameter written one per class.
        let every = if force_all { usize::MAX } else { 0 };
        append(
            &mut lines,
            directive_line(p, config, &defaults, every).into_bytes(),
        );
    }
    for user in users {
        append(&mut lines, user.clone());
    }
    // Redis turns each run of empty lines into one.
    lines.dedup_by(|line, before| line.is_empty() && before.is_empty());
    let tmp = path.with_extension("rewrite.tmp");
    let mut text = lines.join(&b'\n');
    text.push(b'\n');
    std::fs::write(&tmp, text)?;
    std::fs::File::open(&tmp)?.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A CONFIG SET error as text.
    fn text(error: Vec<u8>) -> String {
        String::from_utf8(error).unwrap()
    }

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn defaults_match_redis() {
        let c = Config::default();
        assert_eq!(c.port, 6379);
        assert_eq!(c.bind, vec!["*", "-::*"]);
        assert_eq!(c.proto_max_bulk_len, 512 << 20);
        assert_eq!(c.client_query_buffer_limit, 1 << 30);
        assert_eq!(c.databases, 16);
        assert!(c.threads >= 1);
    }

    #[test]
    fn one_event_loop_below_four_cores_then_one_per_core() {
        let loops: Vec<usize> = (1..=5)
            .chain([16])
            .map(params::default_event_loops)
            .collect();
        assert_eq!(loops, [1, 1, 1, 4, 5, 16]);
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
            text(set_many(c, &[(n.as_bytes(), v.as_bytes())], true).unwrap_err())
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
        let marked: Vec<&str> = params::all()
            .filter(|p| p.protected)
            .map(|p| p.name)
            .collect();
        assert_eq!(marked, PROTECTED);
        assert!(params::all().filter(|p| p.protected).all(|p| p.mutable));
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
                assert_eq!(text(e.unwrap_err()), refused(name));
            }
        }
        // Checked for every pair before any value is parsed, and named as typed, as Redis does.
        let e = set_many(
            &mut c,
            &[(b"timeout", b"abc"), (b"DIR", tmp.as_bytes())],
            true,
        );
        assert_eq!(text(e.unwrap_err()), refused("DIR"));
        let e = set_many(
            &mut c,
            &[(b"timeout", b"1"), (b"timeout", b"2"), (b"dir", b"/")],
            true,
        );
        assert!(text(e.unwrap_err()).ends_with("- duplicate parameter"));
        let e = set_many(&mut c, &[(b"enable-protected-configs", b"yes")], true);
        assert!(text(e.unwrap_err()).ends_with("- can't set immutable config"));

        c.enable_protected_configs = Allow::Local;
        assert_eq!(
            text(set_many(&mut c, &[(b"dir", tmp.as_bytes())], false).unwrap_err()),
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

    /// Redis 7 splits a multi-word parameter given as one value; `--save ""` stays empty.
    #[test]
    fn multi_word_parameter_as_one_value_is_split() {
        let s = from_args(&args(&[
            "--client-output-buffer-limit",
            "replica 8mb 0 0",
            "--save",
            "900 1 300 10",
            "--replicaof",
            "127.0.0.1 6380",
        ]))
        .unwrap();
        let got = get_matching(&s.config, &[b"client-output-buffer-limit", b"save"]);
        assert!(got.contains(&(
            "client-output-buffer-limit",
            "normal 0 0 0 slave 8388608 0 0 pubsub 33554432 8388608 60".into()
        )));
        assert!(got.contains(&("save", "900 1 300 10".into())));
        assert_eq!(s.config.replicaof, Some(("127.0.0.1".to_string(), 6380)));
        let s = from_args(&args(&["--save", ""])).unwrap();
        assert!(get_matching(&s.config, &[b"save"]).contains(&("save", String::new())));
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
                // Client eviction's limit too: maxmemory-clients may be a share of it.
                Apply::EvictionLimits,
                Apply::EvictionPolicy,
                Apply::Encoding,
                Apply::Connections,
                Apply::PubSubLimit,
                // Invalidations count against the normal clients' output limit.
                Apply::Tracking,
            ]
        );
        assert!(applies_of([b"save".as_slice()]).is_empty());
        assert_eq!(
            applies_of([b"requirepass".as_slice()]),
            [Apply::DefaultUserPassword]
        );
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
        rewrite(&path, &c, &[], false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // `dir`, `save` and the percentiles too, though at their default, as Redis writes them.
        assert_eq!(
            text,
            format!(
                "# keep me\ntimeout 9\nport 7000\n\n# Generated by CONFIG REWRITE\nrequirepass \"p w\"\ndir \"{}\"\n\
                 save 3600 1\nsave 300 100\nsave 60 10000\nlatency-tracking-info-percentiles 50 99 99.9\n",
                c.dir.display()
            )
        );
        std::fs::remove_file(&path).unwrap();
    }
}
