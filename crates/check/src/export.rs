//! `export --json`: streams a dataset to JSON Lines, one key at a time, so memory use is
//! bounded by the largest single key rather than the file.

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
    let result = export_rdb(input, &mut out, &out_name)
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

fn write_record(out: &mut dyn Write, record: &Record<'_>) -> io::Result<()> {
    serde_json::to_writer(&mut *out, record)?;
    out.write_all(b"\n")
}
