//! `export --json`: writes a dataset as JSON Lines. An RDB is streamed one key at a time, so
//! memory use is bounded by the largest key rather than the file. An AOF has to be replayed to
//! know its dataset: that is the server's own loader, into an in-process keyspace, which is
//! then written out database by database.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use redis_lite_engine::EncodingLimits;
use redis_lite_persist::Event;

use crate::json::Record;

pub fn run(input: &Path, output: Option<&Path>) -> Result<(), String> {
    let (mut out, out_name): (Box<dyn Write>, String) = match output {
        Some(p) => {
            let f = File::create(p).map_err(|e| format!("{}: {e}", p.display()))?;
            (Box::new(BufWriter::new(f)), p.display().to_string())
        }
        None => (
            Box::new(BufWriter::new(io::stdout().lock())),
            "stdout".into(),
        ),
    };
    let result = match crate::aof::find_manifest(input) {
        Ok(Some(manifest)) => export_aof(&manifest, &mut out, &out_name),
        Ok(None) => export_rdb(input, &mut out, &out_name),
        Err(e) => Err(e),
    }
    .and_then(|()| out.flush().map_err(|e| format!("{out_name}: {e}")));
    if result.is_err() {
        if let Some(p) = output {
            // A partial export would look like a complete, smaller dataset.
            let _ = std::fs::remove_file(p);
        }
    }
    result
}

fn export_rdb(input: &Path, out: &mut dyn Write, out_name: &str) -> Result<(), String> {
    let mut db = 0;
    let mut functions = 0u64;
    redis_lite_persist::read_rdb(crate::open(input)?, EncodingLimits::default(), |event| {
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

fn export_aof(manifest: &Path, out: &mut dyn Write, out_name: &str) -> Result<(), String> {
    use redis_lite_server::config::{Config, LogLevel};
    use redis_lite_server::persistence::aof;

    let utf8 = |p: &Path| {
        p.to_str()
            .map(str::to_string)
            .ok_or_else(|| format!("{}: the path is not valid UTF-8", p.display()))
    };
    let aof_dir = manifest.parent().unwrap_or(Path::new("."));
    let config = Config {
        appendonly: true,
        // A truncated tail is an error here (run `aof --fix`): the loader would cut the file.
        aof_load_truncated: false,
        dir: aof_dir.parent().unwrap_or(Path::new(".")).to_path_buf(),
        appenddirname: utf8(Path::new(aof_dir.file_name().unwrap_or_default()))?,
        appendfilename: utf8(Path::new(manifest.file_stem().unwrap_or_default()))?,
        ..Config::default()
    };
    // The loader's progress notices would land in the JSON on standard output.
    redis_lite_server::log::set_level(LogLevel::Warning);
    let server = std::sync::Arc::new(redis_lite_server::server::Server::new(config, None));
    let stats = aof::load(&server, &mut |_, _| {})
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("{}: not found", manifest.display()))?;
    let mut all = server.keyspace.lock_all();
    for db in 0..server.keyspace.databases() {
        for shard in all.shards() {
            for e in shard.dbs()[db].iter() {
                let expire = (e.expire_at != 0).then_some(e.expire_at as i64);
                write_record(out, &Record::new(db as u64, &e.key, &e.value, expire))
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
