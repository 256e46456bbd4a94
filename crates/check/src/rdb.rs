//! `rdb`: reads a whole RDB file through the persist crate's streaming reader (which checks
//! every structure and the CRC-64 as it goes) and prints what it found.

use std::collections::BTreeMap;
use std::path::Path;

use redis_lite_engine::EncodingLimits;
use redis_lite_persist::{Event, Keyring};

/// The types in the order the summary lists them.
const TYPES: [&str; 6] = ["string", "list", "hash", "set", "zset", "stream"];

#[derive(Default)]
struct DbStats {
    /// Per entry of [`TYPES`].
    by_type: [u64; TYPES.len()],
    expires: u64,
    already_expired: u64,
}

pub fn check(path: &Path, keyring: Option<&Keyring>) -> Result<(), String> {
    let size = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let now = redis_lite_engine::now_ms() as i64;
    let mut aux = Vec::new();
    let mut functions = 0u64;
    let mut dbs: BTreeMap<u64, DbStats> = BTreeMap::new();
    let mut db = 0;
    let mut keys = 0u64;
    let summary = redis_lite_persist::read_rdb(
        crate::seal::open_input(path, keyring)?,
        EncodingLimits::default(),
        |event| {
            match event {
                Event::Aux { key, value } => aux.push((key, value)),
                Event::Function(_) => functions += 1,
                Event::SelectDb(d) => db = d,
                Event::Entry {
                    value,
                    expire_at_ms,
                    ..
                } => {
                    keys += 1;
                    let stats = dbs.entry(db).or_default();
                    let t = TYPES.iter().position(|&t| t == value.type_name());
                    stats.by_type[t.expect("every value type is listed")] += 1;
                    if let Some(at) = expire_at_ms {
                        stats.expires += 1;
                        stats.already_expired += u64::from(at <= now);
                    }
                }
                // Counted in the summary.
                Event::EmptyKeySkipped(_) | Event::Version(_) | Event::ResizeDb { .. } => {}
            }
            Ok(())
        },
    )
    .map_err(|e| format!("{}: {e} (after {keys} valid keys)", path.display()))?;

    println!("{}: OK", path.display());
    println!("  RDB version: {}", summary.version);
    for (k, v) in &aux {
        println!("  aux {}: {}", k.escape_ascii(), v.escape_ascii());
    }
    if functions > 0 {
        println!("  function libraries: {functions}");
    }
    for (db, stats) in &dbs {
        let total: u64 = stats.by_type.iter().sum();
        let types: Vec<String> = TYPES
            .iter()
            .zip(stats.by_type)
            .filter(|(_, n)| *n > 0)
            .map(|(t, n)| format!("{n} {t}"))
            .collect();
        print!(
            "  db {db}: {total} keys ({}), {} with an expiry",
            types.join(", "),
            stats.expires
        );
        if stats.already_expired > 0 {
            print!(" ({} already past)", stats.already_expired);
        }
        println!();
    }
    println!("  keys: {}", summary.keys);
    if summary.empty_keys_skipped > 0 {
        println!(
            "  empty collections skipped (as Redis does): {}",
            summary.empty_keys_skipped
        );
    }
    if summary.checksum_verified {
        println!("  checksum: CRC-64 verified");
    } else {
        println!("  checksum: none stored (written with rdbchecksum no, or RDB version < 5)");
    }
    print!("  size: {size} bytes");
    if size > summary.bytes {
        // Redis ignores what follows the checksum; say so rather than fail.
        print!(
            " ({} bytes after the checksum ignored)",
            size - summary.bytes
        );
    }
    println!();
    Ok(())
}
