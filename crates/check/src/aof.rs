//! `aof`: checks one AOF file, or a Redis 7 AOF directory (its manifest's base and
//! incremental files, in load order), through the persist crate's reader, and with `--fix`
//! truncates a damaged last file to its last valid command, as redis-check-aof does.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use redis_lite_engine::EncodingLimits;
use redis_lite_persist::aof::{read_file, AofError, ErrorKind, FileKind, Manifest};
use redis_lite_persist::Keyring;

pub struct FixOptions {
    pub fix: bool,
    /// Skip the confirmation prompt.
    pub yes: bool,
}

pub fn check(path: &Path, opts: &FixOptions, keyring: Option<&Keyring>) -> Result<(), String> {
    let files = files_of(path)?;
    let last = files.len() - 1;
    for (i, (file, label)) in files.iter().enumerate() {
        let Err(e) = check_file(file, label, keyring)? else {
            continue;
        };
        // Only the last file may lose its tail: truncating an earlier one would drop writes
        // that later files build on. A damaged preamble has no command to cut back to.
        let fixable = i == last && !matches!(e.kind, ErrorKind::Rdb(_));
        if !opts.fix {
            let hint = if fixable {
                " (run with --fix to truncate it to the last valid command)"
            } else {
                ""
            };
            return Err(format!("{e}{hint}"));
        }
        if !fixable {
            return Err(format!("{e}; this cannot be fixed by truncation"));
        }
        return fix(file, &e, opts.yes);
    }
    Ok(())
}

/// The manifest `path` names: a directory holding exactly one, or the manifest itself (the
/// way redis-check-aof takes it). None when `path` is neither (a single AOF file, an RDB).
pub fn find_manifest(path: &Path) -> Result<Option<PathBuf>, String> {
    let is_manifest = |p: &Path| p.extension().is_some_and(|x| x == "manifest");
    if !path.is_dir() {
        return Ok(is_manifest(path).then(|| path.to_path_buf()));
    }
    let manifests: Vec<PathBuf> = std::fs::read_dir(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| is_manifest(p))
        .collect();
    match <[PathBuf; 1]>::try_from(manifests) {
        Ok([manifest]) => Ok(Some(manifest)),
        Err(found) => Err(format!(
            "{}: expected one AOF manifest (*.manifest), found {}",
            path.display(),
            found.len()
        )),
    }
}

/// The files to check with their labels: the one file, or the files its manifest lists, in
/// load order.
fn files_of(path: &Path) -> Result<Vec<(PathBuf, String)>, String> {
    let Some(manifest_path) = find_manifest(path)? else {
        return Ok(vec![(path.to_path_buf(), String::new())]);
    };
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let text =
        std::fs::read(&manifest_path).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    let manifest =
        Manifest::parse(&text).map_err(|e| format!("{}: {e}", manifest_path.display()))?;
    println!("{}: manifest OK", manifest_path.display());
    let files: Vec<_> = manifest
        .load_order()
        .map(|f| {
            let kind = if f.kind == FileKind::Base {
                "base"
            } else {
                "incr"
            };
            (dir.join(&f.name), format!(" ({kind}, seq {})", f.seq))
        })
        .collect();
    if files.is_empty() {
        return Err(format!(
            "{}: the manifest lists no base or incremental file",
            manifest_path.display()
        ));
    }
    Ok(files)
}

/// Reads one file, printing what it holds; the outer error is one that stops the check (the
/// file cannot be opened), the inner one a problem in its contents.
fn check_file(
    file: &Path,
    label: &str,
    keyring: Option<&Keyring>,
) -> Result<Result<(), AofError>, String> {
    let name = file.display().to_string();
    let size = std::fs::metadata(file)
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    // A sealed log authenticates whole batches: only a torn last one can be cut off.
    match crate::seal::check_log(file, keyring)? {
        Some(Ok(batches)) => {
            println!("{name}{label}: OK, sealed log, {batches} batches, {size} bytes");
            return Ok(Ok(()));
        }
        Some(Err(valid)) => {
            println!("{name}{label}: sealed log, {size} bytes, valid up to offset {valid}");
            return Ok(Err(AofError {
                file: name,
                offset: valid,
                valid_up_to: valid,
                kind: ErrorKind::Truncated,
            }));
        }
        None => {}
    }
    let mut commands = 0u64;
    let result = read_file(
        &name,
        crate::seal::open_input(file, keyring)?,
        EncodingLimits::default(),
        |_| Ok(()),
        |_| {
            commands += 1;
            Ok(())
        },
    );
    match result {
        Ok(summary) => {
            let preamble = summary.rdb.map_or(String::new(), |r| {
                format!(
                    "RDB preamble (version {}, {} keys), then ",
                    r.version, r.keys
                )
            });
            println!(
                "{name}{label}: OK, {preamble}{} commands, {size} bytes",
                summary.commands
            );
            Ok(Ok(()))
        }
        Err(e) => {
            println!(
                "{name}{label}: {commands} valid commands, {size} bytes, valid up to offset {}",
                e.valid_up_to
            );
            Ok(Err(e))
        }
    }
}

/// Truncates `file` to the error's valid prefix, after asking unless `yes`.
fn fix(file: &Path, e: &AofError, yes: bool) -> Result<(), String> {
    let name = file.display();
    println!("{e}");
    let size = std::fs::metadata(file)
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    let keep = e.valid_up_to;
    if !yes {
        print!(
            "This will shrink {name} from {size} bytes to {keep} bytes, dropping {} bytes. \
             Continue? [y/N]: ",
            size - keep
        );
        std::io::stdout().flush().map_err(|e| e.to_string())?;
        let mut answer = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| format!("reading the answer: {e}"))?;
        if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
            return Err(format!("{name} was not changed"));
        }
    }
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(file)
        .map_err(|e| format!("{name}: {e}"))?;
    f.set_len(keep)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("{name}: truncating: {e}"))?;
    println!(
        "Successfully truncated {name} to {keep} bytes (dropped {} bytes)",
        size - keep
    );
    Ok(())
}
