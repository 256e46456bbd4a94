//! Encryption at rest: the sealed-file envelope (authenticated AES-256-GCM in segments) and
//! the keyring of master keys. Pure library code over `Read`/`Write`: the server decides which
//! files are sealed and with which keyring.
//!
//! Layout:
//! - [`keyring`]: [`MasterKey`] (32 bytes, zeroized on drop) and [`Keyring`] (ids, newest
//!   writes, all read), parsed from a key file or `REDIS_LITE_ENCRYPTION_KEY`.
//! - [`format`]: the header, per-file key derivation and the segment cipher shared by both
//!   kinds of file, plus [`is_sealed`] / [`peek_header`] for callers without a key.
//! - [`stream`]: [`SealedWriter`] / [`SealedReader`], a one-shot sealed stream (snapshots,
//!   exports, the AOF base file); `RdbWriter` and `read_rdb` run over them unchanged.
//! - [`file`]: [`OutFile`] / [`open_stream`], plaintext-or-sealed files for callers that
//!   support both.
//! - [`log`]: [`SealedAppender`] / [`read_log`], an appendable sealed log (AOF increment
//!   files): one batch per append, torn tails reported as truncation.
//!
//! # Format (version 1)
//!
//! A sealed file is one or more *epochs*. A stream file has exactly one; a log file gets a
//! new epoch each time it is reopened for appending. An epoch is a header and segments.
//!
//! **Header** (all integers big-endian), 95 + key-id-length bytes:
//!
//! | bytes | field |
//! |---|---|
//! | 7 | magic `RLSEAL\0` |
//! | 1 | format version, `1` |
//! | 1 | cipher id, `1` = AES-256-GCM |
//! | 1 | kind, `1` = stream, `2` = log |
//! | 4 | segment size: the most plaintext bytes one segment holds (1 ..= 16 MiB) |
//! | 32 | salt, random for every epoch |
//! | 32 | link: SHA-256 of the chain (below) of everything before this header |
//! | 1 + n | key id: length (1..=64) and the id, `[A-Za-z0-9._-]` |
//! | 16 | header tag |
//!
//! **Keys.** `HKDF-SHA256(ikm = master key, salt = salt, info = "redis-lite seal v1\0" ‖
//! header-without-tag)` gives 39 bytes: the epoch's AES-256 data key and a 7-byte nonce
//! prefix. The master key never encrypts anything itself, and since the salt is fresh per
//! epoch, so is the data key. Because the info holds the whole header, changing any header
//! field (key id, kind, segment size, link) changes the key. The header tag is GCM over no
//! plaintext with the header as associated data, under the nonce `prefix ‖ 0xFFFFFFFF ‖
//! 0x80`, so a damaged header is reported as such before any segment is read.
//!
//! **Segments** (the STREAM construction of Hoang, Reyhanitabar, Rogaway and Vizár):
//!
//! | bytes | field |
//! |---|---|
//! | 1 | flags: bit 0 `FINAL` (last segment), bit 1 `CONTINUED` (log only: the batch goes on in the next segment); others 0 |
//! | 4 | plaintext length, at most the segment size |
//! | 8 | head tag: GCM over no plaintext, the 5 bytes above as associated data, nonce `prefix ‖ i ‖ 0x40 \| flags`, first 8 bytes |
//! | len | ciphertext |
//! | 16 | GCM tag |
//!
//! The nonce of segment *i* (counted from 0 within its epoch) is `prefix ‖ i as u32 ‖
//! flags`. So a segment decrypts only at its own position with its own flags: reordering,
//! dropping or duplicating segments, or moving the `FINAL` mark, fails authentication. A
//! writer stops with [`SealError::CounterExhausted`] rather than wrap the counter, so no
//! nonce repeats under one key. The head tag makes the length trustworthy before the body
//! is read: a log reader must tell a torn last write (the file ends inside a segment) from
//! an altered length (which would otherwise make the rest of the file look torn and get
//! cut off by `aof-load-truncated`). The flag byte of a segment never equals `b'R'`, the first
//! byte of a header, which is how a reader tells the two apart.
//!
//! **Chain.** Readers and writers feed every header (with its tag) and every segment tag into
//! a running SHA-256. A new epoch's link must equal that hash of everything before it, so an
//! epoch cannot be spliced onto a shortened or altered log. The first epoch's link is
//! SHA-256 of nothing.
//!
//! **Ends.** A stream ends with exactly one `FINAL` segment (possibly empty) and nothing
//! after it; anything else is truncation or trailing data. A log's epochs end either with a
//! `FINAL` segment (closed in order) or without one (the writer crashed or is still
//! running); only a new epoch header may follow an epoch.
//!
//! **Why a log reopens with a new epoch.** After a crash the loader cuts a torn tail off
//! and appending resumes. Continuing the old counter would reuse the nonce of the torn
//! segment, whose bytes may survive in a backup or in freed blocks; a fresh salt gives a
//! fresh data key instead, and the link binds the new epoch to the exact verified prefix.
//!
//! **What a log cannot prove.** While an epoch is open, its last segment is by design not
//! marked `FINAL`, so a file cut at a segment boundary looks exactly like one whose writer
//! crashed before writing the rest: no tag can vouch for segments that were never written.
//! [`read_log`] therefore reports [`LogEnd::Open`] versus [`LogEnd::Closed`], and the caller
//! must compare with what it knows independently: an orderly shutdown or rotation closes the
//! file (a `FINAL` segment), so a file the manifest says was closed but which reads as `Open`
//! was cut. The same holds for any append-only log, sealed or not.

pub mod file;
pub mod format;
pub mod keyring;
pub mod log;
pub mod stream;

use std::fmt;
use std::io;

pub use file::{open_stream, seal_error, InFile, OutFile};
pub use format::{is_sealed, peek_header, HeaderInfo, Kind, HEADER_MAX_LEN};
pub use keyring::{KeyError, Keyring, MasterKey, ENV_VAR};
pub use log::{read_log, LogEnd, LogSummary, SealedAppender};
pub use stream::{SealedReader, SealedWriter};

/// Why a sealed file could not be read or written. Offsets are bytes into the sealed file.
#[derive(Debug)]
pub enum SealError {
    /// The file does not start with the sealed-file magic.
    BadMagic,
    UnsupportedVersion(u8),
    UnsupportedCipher(u8),
    /// A stream was opened as a log or the other way round.
    WrongKind {
        expected: Kind,
        found: Kind,
    },
    /// The file is sealed (with key `id`) but no keyring was given.
    NoKeyring {
        id: String,
    },
    /// The file's key id is not on the keyring.
    UnknownKey {
        id: String,
        known: Vec<String>,
    },
    /// The header at `offset` failed authentication: the key under its id is not the one
    /// that sealed it, or the header was altered.
    HeaderAuth {
        offset: u64,
        id: String,
    },
    /// The segment at `offset` failed authentication: altered, moved, or from another file.
    Auth {
        offset: u64,
    },
    /// Structurally invalid data at `offset` (bad flags, oversized segment, broken chain).
    Corrupt {
        offset: u64,
        reason: String,
    },
    /// A stream ends at `offset` without its final segment.
    Truncated {
        offset: u64,
    },
    /// Bytes follow a stream's final segment, from `offset`.
    TrailingData {
        offset: u64,
    },
    /// 2^32 segments were sealed under one key; the writer must stop rather than reuse a nonce.
    CounterExhausted,
    /// A log cannot be resumed as it stands (torn tail not cut off, or size mismatch).
    NotResumable(String),
    /// The log visitor stopped the read.
    Visitor(String),
    Io(io::Error),
}

impl SealError {
    fn corrupt(offset: u64, reason: impl Into<String>) -> Self {
        SealError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for SealError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SealError::BadMagic => write!(f, "not a sealed file (bad magic)"),
            SealError::UnsupportedVersion(v) => write!(
                f,
                "sealed file format version {v} is not supported (this build reads version {})",
                format::VERSION
            ),
            SealError::UnsupportedCipher(c) => {
                write!(f, "sealed file uses unknown cipher id {c}")
            }
            SealError::WrongKind { expected, found } => {
                write!(f, "sealed file is a {found}, expected a {expected}")
            }
            SealError::NoKeyring { id } => write!(
                f,
                "sealed with key id '{id}', but no encryption key is configured; set \
                 encryption-key-file (or {}) to the keyring holding that key",
                keyring::ENV_VAR
            ),
            SealError::UnknownKey { id, known } => write!(
                f,
                "sealed with key id '{id}', which is not on the keyring (it has: {}); add that \
                 key to the key file as a line '{id}:<key>' (keep it after rotation until \
                 every file sealed with it has been rewritten)",
                known.join(", ")
            ),
            SealError::HeaderAuth { offset, id } => write!(
                f,
                "header at offset {offset} failed authentication with key id '{id}': the key \
                 under that id is not the one that sealed the file, or the header was altered"
            ),
            SealError::Auth { offset } => write!(
                f,
                "segment at offset {offset} failed authentication: the data was altered, \
                 reordered or spliced from another file"
            ),
            SealError::Corrupt { offset, reason } => {
                write!(f, "sealed file corrupted at offset {offset}: {reason}")
            }
            SealError::Truncated { offset } => write!(
                f,
                "sealed file truncated at offset {offset}: the final segment is missing"
            ),
            SealError::TrailingData { offset } => write!(
                f,
                "unexpected data at offset {offset} after the final segment"
            ),
            SealError::CounterExhausted => write!(
                f,
                "segment counter exhausted (2^32 segments under one key); start a new file"
            ),
            SealError::NotResumable(why) => write!(f, "cannot resume the sealed log: {why}"),
            SealError::Visitor(msg) => write!(f, "sealed log read aborted: {msg}"),
            SealError::Io(e) => write!(f, "I/O error on sealed file: {e}"),
        }
    }
}

impl std::error::Error for SealError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SealError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for SealError {
    fn from(e: io::Error) -> Self {
        SealError::Io(e)
    }
}

/// Carries a [`SealError`] through `io::Read`/`io::Write` (as `InvalidData`), so RDB code
/// running over a sealed stream reports it; `get_ref()` + `downcast_ref` recovers it.
impl From<SealError> for io::Error {
    fn from(e: SealError) -> Self {
        match e {
            SealError::Io(e) => e,
            e => io::Error::new(io::ErrorKind::InvalidData, e),
        }
    }
}

#[cfg(test)]
mod tests;
