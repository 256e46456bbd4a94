//! `import --json`: JSON Lines back to an RDB file. Two passes over the input: the first
//! validates every line's syntax and counts keys and expiries per database (the RDB's RESIZEDB
//! hints come before the keys), the second builds each value and writes it. Only the set of
//! key names is held in memory, to refuse duplicates, which Redis would refuse to load.

use std::collections::{BTreeMap, HashSet};
use std::io::{self, BufRead};
use std::path::Path;

use redis_lite_engine::EncodingLimits;
use redis_lite_persist::{save_atomically, WriteOptions};

use crate::json::{parse_line, syntax, Placement};

pub fn run(input: &Path, output: &Path) -> Result<(), String> {
    let at = |n: usize, e: &dyn std::fmt::Display| format!("{}:{n}: {e}", input.display());
    // db -> (keys, keys with an expiry)
    let mut sizes: BTreeMap<u64, (u64, u64)> = BTreeMap::new();
    for_each_line(input, |n, line| {
        let p: Placement = serde_json::from_str(line).map_err(|e| at(n, &syntax(e)))?;
        let size = sizes.entry(p.db).or_default();
        size.0 += 1;
        size.1 += u64::from(p.expire_at_ms.is_some());
        Ok(())
    })?;

    let limits = EncodingLimits::default();
    let ctime = redis_lite_engine::now_ms() / 1000;
    let mut seen: HashSet<(u64, Vec<u8>)> = HashSet::new();
    let mut current_db = None;
    let written = save_atomically(output, WriteOptions::default(), None, |w| {
        w.write_default_aux(ctime, 0)?;
        for_each_line(input, |n, line| {
            let rec = parse_line(line, &limits).map_err(|e| at(n, &e))?;
            if current_db != Some(rec.db) {
                // Hints only: a file that changed since the first pass still imports.
                let (keys, expires) = sizes.get(&rec.db).copied().unwrap_or_default();
                w.select_db(rec.db, keys, expires)
                    .map_err(|e| format!("{}: {e}", output.display()))?;
                current_db = Some(rec.db);
            }
            if !seen.insert((rec.db, rec.key.clone())) {
                let key = rec.key.escape_ascii();
                return Err(at(n, &format!("duplicate key {key} in db {}", rec.db)));
            }
            w.entry(&rec.key, &rec.value, rec.expire_at_ms)
                .map_err(|e| format!("{}: {e}", output.display()))
        })
        .map_err(io::Error::other)
    })
    .map_err(|e| match e.get_ref() {
        // Already a full message (line errors from the body).
        Some(inner) if e.kind() == io::ErrorKind::Other => inner.to_string(),
        _ => format!("{}: {e}", output.display()),
    })?;
    let keys: u64 = sizes.values().map(|s| s.0).sum();
    eprintln!(
        "redis-lite-check: wrote {keys} keys in {} databases to {} ({written} bytes)",
        sizes.len(),
        output.display()
    );
    Ok(())
}

/// Calls `f(line_number, line)` for each non-blank line, numbering from 1.
pub fn for_each_line(
    input: &Path,
    mut f: impl FnMut(usize, &str) -> Result<(), String>,
) -> Result<(), String> {
    for (i, line) in crate::open(input)?.lines().enumerate() {
        let line = line.map_err(|e| format!("{}:{}: {e}", input.display(), i + 1))?;
        if !line.trim().is_empty() {
            f(i + 1, &line)?;
        }
    }
    Ok(())
}
