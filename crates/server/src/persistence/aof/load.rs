//! Loading the AOF at start-up: the manifest's base and incremental files, replayed in order
//! through the normal command dispatch by an internal client whose clock stands still (no key
//! expires mid-replay, as Redis does not expire keys while loading) and with nothing logged.

use std::fmt;
use std::fs::File;
use std::io::BufReader;
use std::sync::Arc;
use std::time::Instant;

use redis_lite_persist::aof::{manifest_name, read_file, Manifest};
use redis_lite_persist::Event;

use super::aof_dir;
use crate::client::{ClientHandle, ClientState};
use crate::command::{self, Lookup};
use crate::log;
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

/// Commands replayed between two progress reports.
const PROGRESS_EVERY: u64 = 1024;

/// Loads the AOF when `appendonly yes` and its manifest exists (None otherwise). The dataset is
/// complete or the load fails: a truncated tail of the last file is cut off (and the file
/// truncated) only with `aof-load-truncated yes`; anything else wrong is an error naming the
/// file and offset.
pub fn load(
    server: &Server,
    on_progress: &mut dyn FnMut(u64, u64),
) -> Result<Option<LoadStats>, LoadError> {
    let config = server.config.read().clone();
    if !config.appendonly {
        return Ok(None);
    }
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
        let kind = if manifest.base.as_ref() == Some(*file) {
            "base"
        } else {
            "incr"
        };
        let meta = std::fs::metadata(dir.join(&file.name)).map_err(|e| {
            LoadError(format!(
                "The {kind} AOF file {} doesn't exist ({e})",
                file.name
            ))
        })?;
        total += meta.len();
    }

    let started = Instant::now();
    let mut replay = Replay::new(server);
    let mut stats = LoadStats::default();
    let limits = server.encoding.load();
    for (i, file) in files.iter().enumerate() {
        let last = i + 1 == files.len();
        let path = dir.join(&file.name);
        let reader = File::open(&path).map_err(|e| {
            LoadError(format!(
                "Can't open the append only file {}: {e}",
                file.name
            ))
        })?;
        let done_before = stats.bytes;
        let mut db = 0usize;
        let result = read_file(
            &file.name,
            BufReader::with_capacity(1 << 16, reader),
            limits,
            |event| store_rdb_event(server, &mut db, &mut stats.keys, event),
            |command| {
                replay.command(&command.args)?;
                if replay.commands.is_multiple_of(PROGRESS_EVERY) {
                    on_progress(done_before + command.offset, total);
                }
                Ok(())
            },
        );
        match result {
            Ok(summary) => stats.bytes += summary.bytes,
            Err(e) if e.is_truncated() && last && config.aof_load_truncated => {
                log!(
                    Warning,
                    "!!! Warning: short read while loading the AOF file {}!!!",
                    file.name
                );
                log!(
                    Warning,
                    "!!! Truncating the AOF {} at offset {} !!!",
                    file.name,
                    e.valid_up_to
                );
                let truncated = std::fs::OpenOptions::new()
                    .write(true)
                    .open(&path)
                    .and_then(|f| f.set_len(e.valid_up_to).and_then(|()| f.sync_all()));
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
                stats.bytes += e.valid_up_to;
                stats.truncated = true;
            }
            Err(e) if e.is_truncated() && !last => {
                return Err(LoadError(format!(
                    "{e}. Fatal error: the truncated file is not the last file"
                )))
            }
            Err(e) if e.is_truncated() => {
                return Err(LoadError(format!(
                    "{e}. You can: 1) Make a backup of your AOF file, then use \
                     ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set \
                     the 'aof-load-truncated' configuration option to yes and restart the server."
                )))
            }
            Err(e) => {
                return Err(LoadError(format!(
                    "{e}. Make a backup of your AOF file, then use ./redis-check-aof --fix \
                     <filename.manifest>"
                )))
            }
        }
        stats.files += 1;
        log!(
            Notice,
            "DB loaded from {} file {}",
            if i == 0 && manifest.base.is_some() {
                "base"
            } else {
                "incr"
            },
            file.name
        );
    }
    on_progress(total, total);
    stats.commands = replay.commands;
    log!(
        Notice,
        "DB loaded from append only file: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(Some(stats))
}

/// A key of an RDB preamble, stored as is (expired ones too: later commands may use them).
fn store_rdb_event(
    server: &Server,
    db: &mut usize,
    keys: &mut u64,
    event: Event,
) -> Result<(), String> {
    match event {
        Event::SelectDb(index) => {
            *db = usize::try_from(index)
                .ok()
                .filter(|&i| i < server.keyspace.databases())
                .ok_or_else(|| format!("database {index} is out of range"))?;
        }
        Event::Entry {
            key,
            value,
            expire_at_ms,
        } => {
            let mut locked = server.keyspace.lock_keys([key.as_slice()]);
            let (table, hash) = locked.db(*db, &key);
            table.set(hash, &key, value, false, 0);
            if let Some(at) = expire_at_ms {
                table.set_expire(hash, &key, at.max(1) as u64);
            }
            *keys += 1;
        }
        Event::Function(_) => return Err("function libraries are not supported".into()),
        _ => {}
    }
    Ok(())
}

/// The loader's client and counts.
struct Replay<'s> {
    server: &'s Server,
    client: ClientState,
    out: Vec<u8>,
    commands: u64,
}

impl<'s> Replay<'s> {
    fn new(server: &'s Server) -> Self {
        let (handle, _pushes) = ClientHandle::new(0, "aof".into(), String::new(), -1);
        // Its statistics go nowhere: loading is not client traffic.
        let stats = Arc::new(WorkerStats::new(command::table().entries.len()));
        let mut client = ClientState::new(Arc::new(handle), stats, true);
        client.loading = true;
        // The cron thread's gate: loading runs beside no event loop's commands.
        client.worker = server.gates.len() - 1;
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
        crate::connection::execute(self.server, &mut self.client, &args, &mut self.out);
        self.commands += 1;
        Ok(())
    }
}
