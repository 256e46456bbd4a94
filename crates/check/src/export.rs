//! `export --json`: writes a dataset as JSON Lines. An RDB is streamed one key at a time, so
//! memory use is bounded by the largest key rather than the file. An AOF has to be replayed to
//! know its dataset: that is the server's own loader, into an in-process keyspace, which is
//! then written out database by database.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use redis_lite_engine::EncodingLimits;
use redis_lite_persist::{Event, Keyring, OutFile};

use crate::json::Record;

/// How the input is read: the key of sealed files, and for an AOF's replay the config file of
/// the server that wrote it.
pub struct Replay<'a> {
    pub keyring: Option<&'a Arc<Keyring>>,
    pub server_config: Option<&'a Path>,
}

/// Exports `input`; `seal` seals the output file.
pub fn run(
    input: &Path,
    output: Option<&Path>,
    replay: &Replay<'_>,
    seal: Option<&Keyring>,
) -> Result<(), String> {
    let keyring = replay.keyring;
    let export = |out: &mut dyn Write, out_name: &str| match crate::aof::find_manifest(input)? {
        Some(manifest) => export_aof(&manifest, replay, out, out_name),
        None => export_rdb(input, keyring.map(|k| &**k), out, out_name),
    };
    let Some(path) = output else {
        let mut out = BufWriter::new(io::stdout().lock());
        export(&mut out, "stdout")?;
        return out.flush().map_err(|e| format!("stdout: {e}"));
    };
    let out_name = path.display().to_string();
    let result = File::create(path)
        .and_then(|f| OutFile::new(f, seal))
        .map_err(|e| format!("{out_name}: {e}"))
        .and_then(|mut out| {
            export(&mut out, &out_name)?;
            out.finish()
                .and_then(|f| f.sync_all())
                .map_err(|e| format!("{out_name}: {e}"))
        });
    if result.is_err() {
        // A partial export would look like a complete, smaller dataset.
        let _ = std::fs::remove_file(path);
    }
    result
}

fn export_rdb(
    input: &Path,
    keyring: Option<&Keyring>,
    out: &mut dyn Write,
    out_name: &str,
) -> Result<(), String> {
    let mut db = 0;
    let mut functions = 0u64;
    let source = crate::seal::open_input(input, keyring)?;
    redis_lite_persist::read_rdb(source, EncodingLimits::default(), |event| {
        match event {
            Event::SelectDb(d) => db = d,
            Event::Function(_) => functions += 1,
            Event::Entry {
                key,
                value,
                expire_at_ms,
            } => write_record(out, &Record::new(db, &key, &value, expire_at_ms))
                .map_err(|e| format!("{out_name}: {e}"))?,
            _ => {}
        }
        Ok(())
    })
    .map_err(|e| format!("{}: {e}", input.display()))?;
    if functions > 0 {
        eprintln!(
            "redis-lite-check: warning: {functions} function libraries in {} are not keys and \
             were not exported",
            input.display()
        );
    }
    Ok(())
}

/// The configuration the server that wrote the AOF ran with, from its config file: its
/// `rename-command` lines are installed in this process's command table, so the replay knows
/// the commands by the names they were logged under. The defaults without a file.
fn server_config(path: Option<&Path>) -> Result<redis_lite_server::config::Config, String> {
    let Some(path) = path else {
        return Ok(Default::default());
    };
    let config_error = |e: redis_lite_server::config::ConfigError| match e.line {
        0 => format!("{}: {}", path.display(), e.reason),
        line => format!("{}:{line}: '{}': {}", path.display(), e.text, e.reason),
    };
    let arg = path.to_string_lossy().into_owned();
    let mut startup = redis_lite_server::config::from_args(&[arg]).map_err(config_error)?;
    startup.install_commands().map_err(config_error)?;
    Ok(startup.config)
}

fn export_aof(
    manifest: &Path,
    replay: &Replay<'_>,
    out: &mut dyn Write,
    out_name: &str,
) -> Result<(), String> {
    use redis_lite_server::config::{Config, LogLevel};
    use redis_lite_server::persistence::aof;

    let utf8 = |p: &Path| {
        p.to_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{}: the path is not valid UTF-8", p.display()))
    };
    let aof_dir = manifest.parent().unwrap_or(Path::new("."));
    let base = server_config(replay.server_config)?;
    let config = Config {
        appendonly: true,
        // A truncated tail is an error here (run `aof --fix`): the loader would cut the file.
        aof_load_truncated: false,
        dir: aof_dir.parent().unwrap_or(Path::new(".")).to_path_buf(),
        appenddirname: utf8(Path::new(aof_dir.file_name().unwrap_or_default()))?,
        appendfilename: utf8(Path::new(manifest.file_stem().unwrap_or_default()))?,
        keyring: replay.keyring.cloned().or(base.keyring.clone()),
        // The loader's progress notices would land in the JSON on standard output (the
        // server applies its config's level when created).
        loglevel: LogLevel::Warning,
        ..base
    };
    let server = std::sync::Arc::new(redis_lite_server::server::Server::new(config, None));
    let stats = aof::load(&server)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: not found", manifest.display()))?;
    let mut all = server.keyspace.lock_all();
    for db in 0..server.keyspace.databases() {
        for shard in all.shards() {
            for e in shard.dbs()[db].iter() {
                let expire = (e.has_ttl()).then_some(e.expire_at() as i64);
                write_record(out, &Record::new(db as u64, e.key(), &e.value(), expire))
                    .map_err(|e| format!("{out_name}: {e}"))?;
            }
        }
    }
    eprintln!(
        "redis-lite-check: replayed {} files ({} keys from RDB preambles, {} commands)",
        stats.files, stats.keys, stats.commands
    );
    Ok(())
}

fn write_record(out: &mut dyn Write, record: &Record<'_>) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}
