//! Loading the AOF at start-up: the manifest's base and incremental files, replayed in order
//! through the normal command dispatch by an internal client whose clock stands still (no key
//! expires mid-replay, as Redis does not expire keys while loading) and with nothing logged.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use redis_lite_persist::aof::{manifest_name, read_file, Command, Manifest};
use redis_lite_persist::seal::{Kind, HEADER_MAX_LEN};
use redis_lite_persist::{
    is_sealed, open_stream, peek_header, read_log, Keyring, LogEnd, SealError,
};

use super::aof_dir;
use crate::client::{ClientHandle, ClientKind, ClientState, ExecMode};
use crate::command::{self, Lookup};
use crate::log;
use crate::persistence::rdb::{KeyLoader, OnDuplicate};
use crate::server::Server;
use crate::stats::WorkerStats;

/// What a load read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadStats {
    pub files: usize,
    /// Keys read from RDB preambles.
    pub keys: u64,
    pub commands: u64,
    pub bytes: u64,
    /// The last file's truncated tail was dropped (`aof-load-truncated yes`).
    pub truncated: bool,
}

/// Why the AOF could not be loaded; start-up must stop.
#[derive(Debug)]
pub struct LoadError(pub String);

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LoadError {}

/// Commands of a file replayed between two serving points (see `persistence::loading`).
const SERVE_EVERY: u64 = 1024;

/// Loads the AOF when `appendonly yes` and its manifest exists (None otherwise). The dataset is
/// complete or the load fails: a truncated tail of the last file is cut off (and the file
/// truncated) only with `aof-load-truncated yes`; anything else wrong is an error naming the
/// file and offset.
pub fn load(server: &Arc<Server>) -> Result<Option<LoadStats>, LoadError> {
    if !server.config.read().appendonly {
        return Ok(None);
    }
    load_files(server, false)
}

/// [`load`] run by a command that holds every gate already (DEBUG LOADAOF): the replayed
/// commands take none. As Redis's DEBUG LOADAOF, it loads the AOF files it finds whether or
/// not `appendonly` is on (None when there are none).
pub fn load_holding_gates(server: &Arc<Server>) -> Result<Option<LoadStats>, LoadError> {
    load_files(server, true)
}

/// Loads the manifest's files in order, serving clients (`persistence::loading`) as Redis
/// does: every interval of an RDB preamble's bytes, and before the first command of each file
/// and every 1024 commands after.
fn load_files(server: &Arc<Server>, holding_gates: bool) -> Result<Option<LoadStats>, LoadError> {
    let config = server.config.read().clone();
    super::upgrade_old_style(&config).map_err(|e| {
        LoadError(format!(
            "Can't migrate the old-style AOF {} into {}: {e}",
            config.appendfilename, config.appenddirname
        ))
    })?;
    let dir = aof_dir(&config);
    let manifest_path = dir.join(manifest_name(&config.appendfilename));
    let text = match std::fs::read(&manifest_path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(LoadError(format!(
                "Can't open the AOF manifest {}: {e}",
                manifest_path.display()
            )))
        }
    };
    let manifest = Manifest::parse(&text).map_err(LoadError)?;
    let files: Vec<_> = manifest.load_order().collect();
    let mut total = 0;
    for file in &files {
        let meta = std::fs::metadata(dir.join(&file.name)).map_err(|e| {
            LoadError(format!(
                "Unable to obtain the AOF file {} length. stat: {}",
                file.name,
                crate::error::strerror(&e)
            ))
        })?;
        total += meta.len();
    }
    let loading = &server.persistence.loading;
    loading.total_bytes.store(total, Relaxed);

    let started = Instant::now();
    let mut replay = Replay::new(server, holding_gates);
    let mut stats = LoadStats::default();
    let limits = server.config.encoding.load();
    let keyring = config.keyring.as_deref();
    for (i, file) in files.iter().enumerate() {
        let file_started = Instant::now();
        let last = i + 1 == files.len();
        let is_base = i == 0 && manifest.base.is_some();
        let path = dir.join(&file.name);
        let mut reader = File::open(&path)
            .map(|f| BufReader::with_capacity(1 << 16, f))
            .map_err(|e| {
                LoadError(format!(
                    "Can't open the append only file {}: {e}",
                    file.name
                ))
            })?;
        let done_before = stats.bytes;
        let mut preamble = KeyLoader::new(server, OnDuplicate::Replace, false);
        let mut file_commands = 0u64;
        // `base` is where the command's plaintext starts, for the progress report.
        let mut on_command = |command: Command, base: u64| {
            if file_commands.is_multiple_of(SERVE_EVERY) {
                loading.serve(done_before + base + command.offset);
            }
            file_commands += 1;
            replay.command(&command.args)
        };
        let head = reader.fill_buf().map_err(|e| {
            LoadError(format!(
                "Can't read the append only file {}: {e}",
                file.name
            ))
        })?;
        let sealed_log = is_sealed(head) && peek_header(head).is_ok_and(|h| h.kind == Kind::Log);
        let outcome = if sealed_log {
            load_sealed_log(&file.name, reader, keyring, last, |batch, base| {
                read_file(
                    &file.name,
                    batch,
                    limits,
                    |_| Err("an RDB preamble inside a sealed log batch".into()),
                    |command| on_command(command, base),
                )
                .map(|_| ())
                .map_err(|e| e.to_string())
            })
        } else {
            match open_stream(reader, keyring) {
                Err(e) => Outcome::Fatal(format!(
                    "Can't read the append only file {}: {e}",
                    file.name
                )),
                Ok(input) => {
                    let mut in_preamble = false;
                    let result = read_file(
                        &file.name,
                        loading.counting(BufReader::with_capacity(1 << 16, input), done_before),
                        limits,
                        |event| {
                            if !in_preamble {
                                in_preamble = true;
                                log!(
                                    Notice,
                                    "{}",
                                    if is_base {
                                        "Reading RDB base file on AOF loading..."
                                    } else {
                                        "Reading RDB preamble from AOF file..."
                                    }
                                );
                            }
                            preamble.event(event)
                        },
                        |command| on_command(command, 0),
                    );
                    if in_preamble && result.is_ok() {
                        preamble.finish();
                    }
                    match result {
                        Ok(summary) => Outcome::Loaded(summary.bytes),
                        Err(e) if e.is_truncated() => Outcome::Truncated {
                            message: e.to_string(),
                            valid: e.valid_up_to,
                        },
                        Err(e) => Outcome::Fatal(format!(
                            "{e}. Make a backup of your AOF file, then use ./redis-check-aof --fix \
                             <filename.manifest>"
                        )),
                    }
                }
            }
        };
        stats.keys += preamble.stats.keys_loaded;
        match outcome {
            Outcome::Loaded(bytes) => stats.bytes += bytes,
            Outcome::Truncated { valid, .. } if last && config.aof_load_truncated => {
                log!(
                    Warning,
                    "!!! Warning: short read while loading the AOF file {}!!!",
                    file.name
                );
                log!(
                    Warning,
                    "!!! Truncating the AOF {} at offset {valid} !!!",
                    file.name,
                );
                let truncated = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(valid).and_then(|()| f.sync_all()));
                if let Err(err) = truncated {
                    return Err(LoadError(format!(
                        "Error truncating the AOF file {}: {err}",
                        file.name
                    )));
                }
                log!(
                    Warning,
                    "AOF {} loaded anyway because aof-load-truncated is enabled",
                    file.name
                );
                // Commands queued by a MULTI whose EXEC was cut off never ran.
                replay.client.multi = None;
                stats.bytes += valid;
                stats.truncated = true;
            }
            Outcome::Truncated { message, .. } if !last => {
                return Err(LoadError(format!(
                    "{message}. Fatal error: the truncated file is not the last file"
                )))
            }
            Outcome::Truncated { message, .. } => {
                return Err(LoadError(format!(
                    "{message}. You can: 1) Make a backup of your AOF file, then use \
                     ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set \
                     the 'aof-load-truncated' configuration option to yes and restart the server."
                )))
            }
            Outcome::Fatal(message) => return Err(LoadError(message)),
        }
        stats.files += 1;
        log!(
            Notice,
            "DB loaded from {} file {}: {:.3} seconds",
            if is_base { "base" } else { "incr" },
            file.name,
            file_started.elapsed().as_secs_f64()
        );
    }
    loading.loaded_bytes.store(total, Relaxed);
    stats.commands = replay.commands;
    log!(
        Notice,
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(Some(stats))
}

/// How reading one file went.
enum Outcome {
    /// Loaded whole: its length.
    Loaded(u64),
    /// Cut off at the end: everything before `valid` was replayed.
    Truncated {
        message: String,
        valid: u64,
    },
    Fatal(String),
}

/// Replays a sealed log (an incremental file written with `encryption yes`): `replay` gets
/// each authenticated batch (whole commands and MULTI blocks) and where its plaintext starts.
/// A torn last batch is truncation; anything that fails authentication is fatal. A file
/// other than the last must have been closed in order (rotation closes it), so one that
/// ends open was cut at a segment boundary.
fn load_sealed_log(
    name: &str,
    reader: impl Read,
    keyring: Option<&Keyring>,
    last: bool,
    mut replay: impl FnMut(&[u8], u64) -> Result<(), String>,
) -> Outcome {
    let Some(keyring) = keyring else {
        let mut head = Vec::new();
        let id = reader
            .take(HEADER_MAX_LEN as u64)
            .read_to_end(&mut head)
            .map_err(SealError::from)
            .and_then(|_| peek_header(&head))
            .map_or_else(|e| e.to_string(), |h| h.key_id);
        return Outcome::Fatal(format!(
            "Can't read the append only file {name}: {}",
            SealError::NoKeyring { id }
        ));
    };
    let (mut batches, mut plain) = (0u64, 0u64);
    let result = read_log(reader, keyring, |batch| {
        batches += 1;
        replay(batch, plain).map_err(|e| format!("{e} (in sealed batch {batches})"))?;
        plain += batch.len() as u64;
        Ok(())
    });
    match result {
        Ok(summary) => match summary.end {
            LogEnd::Truncated { file_len } => Outcome::Truncated {
                message: format!(
                    "The sealed AOF file {name} ends inside a segment (file length {file_len}, \
                     valid up to offset {})",
                    summary.valid_len
                ),
                valid: summary.valid_len,
            },
            LogEnd::Open if !last => Outcome::Fatal(format!(
                "The sealed AOF file {name} is not the last file but ends at offset {} \
                 without its final segment: it was cut short",
                summary.valid_len
            )),
            LogEnd::Open | LogEnd::Closed => Outcome::Loaded(summary.valid_len),
        },
        Err(SealError::Visitor(message)) => Outcome::Fatal(format!(
            "Bad file format reading the append only file {name}: {message}"
        )),
        Err(e) => Outcome::Fatal(format!(
            "Can't load the sealed append only file {name}: {e}"
        )),
    }
}

/// The loader's client and counts.
struct Replay<'s> {
    server: &'s Arc<Server>,
    client: ClientState,
    out: Vec<u8>,
    commands: u64,
}

impl<'s> Replay<'s> {
    fn new(server: &'s Arc<Server>, holding_gates: bool) -> Self {
        let handle = ClientHandle::new(0, "aof".into(), String::new(), -1);
        // Its statistics go nowhere: loading is not client traffic.
        let stats = Arc::new(WorkerStats::new(command::table().entries.len()));
        let mut client = ClientState::new(Arc::new(handle), stats, true);
        client.kind = ClientKind::AofLoader;
        // The cron thread's gate: loading runs beside no event loop's commands.
        client.worker = server.gates.len() - 1;
        if holding_gates {
            // Nested, as EXEC's commands are: inside gates taken already.
            client.mode = ExecMode::Nested {
                now_ms: 0,
                journaled: None,
            };
        }
        Replay {
            server,
            client,
            out: Vec::new(),
            commands: 0,
        }
    }

    fn command(&mut self, args: &[Vec<u8>]) -> Result<(), String> {
        let args: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        if matches!(command::table().lookup(&args), Lookup::Unknown) {
            return Err(format!(
                "Unknown command '{}' reading the append only file",
                String::from_utf8_lossy(args[0])
            ));
        }
        self.out.clear();
        crate::dispatch::execute(self.server, &mut self.client, &args, &mut self.out);
        self.commands += 1;
        if let Some(error) = self.out.strip_prefix(b"-") {
            // Loading is not client traffic, but Redis counts the errors it meets (and logs
            // them): a command that worked when it was logged failed here.
            let command = String::from_utf8_lossy(args[0]).to_lowercase();
            crate::replication::log_error_on_link(
                "server",
                "AOF-loading-client",
                &self.out,
                &command,
            );
            let stats = self.server.stats.workers.last().expect("the cron thread's");
            stats.count_error(String::from_utf8_lossy(error).trim_end());
            (self.server.stats.unexpected_error_replies)
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(())
    }
}
