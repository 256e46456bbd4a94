//! `encrypt`, `decrypt` and `verify`: sealed files (encryption at rest) given a key. An RDB
//! file or AOF base is a sealed stream; an AOF incremental file (`*.incr.aof`) a sealed log,
//! batched at command boundaries (never inside MULTI/EXEC) as the server writes it.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use redis_lite_engine::EncodingLimits;
use redis_lite_persist::aof::{encode_command, read_file};
use redis_lite_persist::rdb::write_atomically;
use redis_lite_persist::seal::{Kind, HEADER_MAX_LEN};
use redis_lite_persist::{
    is_sealed, peek_header, read_log, Keyring, LogEnd, OutFile, SealedAppender, SealedReader,
};

/// Plaintext bytes per sealed batch when encrypting an AOF incremental file.
const BATCH: usize = 1 << 16;

/// The first bytes of `path`, enough to tell sealed from plaintext and read a header.
fn head(path: &Path) -> Result<Vec<u8>, String> {
    let mut head = Vec::new();
    File::open(path)
        .and_then(|f| f.take(HEADER_MAX_LEN as u64).read_to_end(&mut head))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(head)
}

fn is_incr(path: &Path) -> bool {
    path.to_string_lossy().ends_with(".incr.aof")
}

pub fn encrypt(input: &Path, output: &Path, keyring: &Keyring) -> Result<(), String> {
    if is_sealed(&head(input)?) {
        return Err(format!("{}: already sealed", input.display()));
    }
    let name = input.display().to_string();
    let mut source = crate::open(input)?;
    write_atomically(output, "seal", |file| {
        if !is_incr(input) {
            let mut out = OutFile::new(file, Some(keyring))?;
            io::copy(&mut source, &mut out)?;
            return out.finish();
        }
        let mut log = SealedAppender::create(file, keyring)?;
        let mut batch = Vec::new();
        let mut in_multi = false;
        read_file(
            &name,
            source,
            EncodingLimits::default(),
            |_| Err("an incremental file has no RDB preamble".into()),
            |command| {
                encode_command(&mut batch, &command.args);
                let verb = command.args[0].to_ascii_lowercase();
                in_multi = (in_multi || verb == b"multi") && verb != b"exec";
                if batch.len() >= BATCH && !in_multi {
                    log.append(&batch).map_err(|e| e.to_string())?;
                    batch.clear();
                }
                Ok(())
            },
        )
        .map_err(|e| io::Error::other(format!("{e} (run `aof --fix` first)")))?;
        log.append(&batch)?;
        Ok(log.close()?)
    })
    .map_err(|e| format!("{}: {e}", output.display()))?;
    println!(
        "{}: sealed with key id '{}'",
        output.display(),
        keyring.current_id()
    );
    Ok(())
}

pub fn decrypt(input: &Path, output: &Path, keyring: &Keyring) -> Result<(), String> {
    let kind = sealed_kind(input)?;
    let mut source = crate::open(input)?;
    write_atomically(output, "plain", |mut file| {
        match kind {
            Kind::Stream => {
                io::copy(&mut SealedReader::new(source, keyring)?, &mut file)?;
            }
            Kind::Log => {
                let summary = read_log(&mut source, keyring, |batch| {
                    file.write_all(batch).map_err(|e| e.to_string())
                })?;
                if let LogEnd::Truncated { .. } = summary.end {
                    return Err(io::Error::other(format!(
                        "ends inside a segment (valid up to offset {}); run `aof --fix` first",
                        summary.valid_len
                    )));
                }
            }
        }
        Ok(file)
    })
    .map_err(|e| format!("{}: {e}", input.display()))?;
    println!("{}: decrypted to {}", input.display(), output.display());
    Ok(())
}

/// Authenticates every header and segment of a sealed file and reports what it holds.
pub fn verify(input: &Path, keyring: &Keyring) -> Result<(), String> {
    let name = input.display();
    let size = std::fs::metadata(input)
        .map_err(|e| format!("{name}: {e}"))?
        .len();
    match sealed_kind(input)? {
        Kind::Stream => {
            let mut reader = SealedReader::new(crate::open(input)?, keyring)
                .map_err(|e| format!("{name}: {e}"))?;
            let plain =
                io::copy(&mut reader, &mut io::sink()).map_err(|e| format!("{name}: {e}"))?;
            println!(
                "{name}: OK, sealed stream, key id '{}', {} segments, {plain} plaintext bytes, \
                 {size} bytes",
                reader.header().key_id,
                reader.segments()
            );
        }
        Kind::Log => {
            let mut plain = 0u64;
            let summary = read_log(crate::open(input)?, keyring, |batch| {
                plain += batch.len() as u64;
                Ok(())
            })
            .map_err(|e| format!("{name}: {e}"))?;
            let end = match summary.end {
                LogEnd::Closed => "closed".to_string(),
                LogEnd::Open => {
                    "open (not closed in order: the writer is running or crashed)".into()
                }
                LogEnd::Truncated { file_len } => {
                    return Err(format!(
                        "{name}: torn tail: ends inside a segment at {file_len} bytes, valid up \
                         to offset {} ({} batches before it)",
                        summary.valid_len, summary.batches
                    ))
                }
            };
            println!(
                "{name}: OK, sealed log, key ids {}, {} batches, {plain} plaintext bytes, \
                 {size} bytes, {end}",
                summary.key_ids.join(","),
                summary.batches
            );
        }
    }
    Ok(())
}

fn sealed_kind(input: &Path) -> Result<Kind, String> {
    let head = head(input)?;
    if !is_sealed(&head) {
        return Err(format!("{}: not a sealed file", input.display()));
    }
    peek_header(&head)
        .map(|h| h.kind)
        .map_err(|e| format!("{}: {e}", input.display()))
}

/// Whether `file` is a sealed log, and if so its check: Ok(Ok(batches)) when whole, Ok(Err)
/// with the valid length when its tail is torn.
pub fn check_log(
    file: &Path,
    keyring: Option<&Keyring>,
) -> Result<Option<Result<u64, u64>>, String> {
    let head = head(file)?;
    if !is_sealed(&head) || peek_header(&head).map_or(true, |h| h.kind != Kind::Log) {
        return Ok(None);
    }
    let name = file.display();
    let keyring = keyring.ok_or_else(|| {
        let id = peek_header(&head).map(|h| h.key_id).unwrap_or_default();
        format!(
            "{name}: sealed with key id '{id}'; give its key with --key-file or {}",
            redis_lite_persist::seal::ENV_VAR
        )
    })?;
    let summary =
        read_log(crate::open(file)?, keyring, |_| Ok(())).map_err(|e| format!("{name}: {e}"))?;
    Ok(Some(match summary.end {
        LogEnd::Truncated { .. } => Err(summary.valid_len),
        _ => Ok(summary.batches),
    }))
}

/// The input of `file`: plaintext as it is, or a sealed stream opened with `keyring`.
pub fn open_input(
    file: &Path,
    keyring: Option<&Keyring>,
) -> Result<io::BufReader<redis_lite_persist::InFile<io::BufReader<File>>>, String> {
    let input = redis_lite_persist::open_stream(crate::open(file)?, keyring).map_err(|e| {
        format!(
            "{}: {e} (give the key with --key-file or the environment)",
            file.display()
        )
    })?;
    Ok(io::BufReader::with_capacity(1 << 16, input))
}
