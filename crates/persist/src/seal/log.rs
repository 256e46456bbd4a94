//! The appendable sealed log, for AOF increment files: [`SealedAppender`] seals each batch
//! (one write, or one fsync group) as one segment, or as a run of `CONTINUED` segments when
//! larger than the segment size, so a batch is applied whole or not at all; [`read_log`]
//! replays the verified batches and tells a torn tail (truncation) from tampering.
//! Reopening after a restart starts a new epoch (fresh salt and key, linked to the verified
//! prefix) instead of continuing the counter; the module docs of [`seal`](super) say why.

use std::io::{Read, Seek, SeekFrom, Write};

use sha2::{Digest, Sha256};

use super::format::{
    chain_digest, check_segment_size, counter, Header, Input, Kind, Record, SegmentCipher,
    CONTINUED, DEFAULT_SEGMENT_SIZE, FINAL, FRAME_HEAD_LEN,
};
use super::{Keyring, SealError};

/// How a sealed log ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogEnd {
    /// The last epoch ends with a final segment: the writer closed it in order.
    Closed,
    /// The file ends after a complete batch but was not closed: a crash or a running
    /// writer, or whole trailing batches removed (the two look the same; see module docs).
    Open,
    /// The file ends inside a header, segment or multi-segment batch: a torn write. Every
    /// batch before `LogSummary::valid_len` was replayed; cut the file there
    /// (`aof-load-truncated yes`) or refuse to start.
    Truncated { file_len: u64 },
}

/// The outcome of [`read_log`]; pass it to [`SealedAppender::resume`] to keep appending.
#[derive(Clone, Debug)]
pub struct LogSummary {
    pub end: LogEnd,
    /// Length of the verified prefix: the whole file unless [`LogEnd::Truncated`].
    pub valid_len: u64,
    /// Non-empty batches replayed.
    pub batches: u64,
    /// The key id of each epoch, in file order.
    pub key_ids: Vec<String>,
    /// The chain hash at `valid_len`, which a resumed epoch links to.
    chain: Sha256,
}

struct Epoch {
    cipher: SegmentCipher,
    next: u64,
    segment_size: u32,
    closed: bool,
}

/// Reads a sealed log, calling `visit` with the plaintext of each complete, authenticated
/// batch in order. An authentication failure or corruption anywhere is an error naming the
/// offset; only an incomplete record at the very end counts as [`LogEnd::Truncated`]. An
/// empty file is `Truncated` at 0 (a crash before the header was written).
pub fn read_log<R: Read>(
    r: R,
    keyring: &Keyring,
    mut visit: impl FnMut(&[u8]) -> Result<(), String>,
) -> Result<LogSummary, SealError> {
    let mut input = Input::new(r);
    let mut chain = Sha256::new();
    let mut summary = LogSummary {
        end: LogEnd::Open,
        valid_len: 0,
        batches: 0,
        key_ids: Vec::new(),
        chain: chain.clone(),
    };
    let mut epoch: Option<Epoch> = None;
    let mut buf = Vec::new();
    // The plaintext of a batch whose segments so far were all CONTINUED.
    let mut pending = Vec::new();
    loop {
        let at = input.offset;
        let current = epoch.as_ref().map(|e| (&e.cipher, e.next, e.segment_size));
        match input.record(current, &mut buf)? {
            Record::Eof if at > 0 && pending.is_empty() => {
                summary.end = match epoch {
                    Some(Epoch { closed: true, .. }) => LogEnd::Closed,
                    _ => LogEnd::Open,
                };
                return Ok(summary);
            }
            Record::Eof | Record::Torn => {
                summary.end = LogEnd::Truncated {
                    file_len: input.offset,
                };
                return Ok(summary);
            }
            Record::Header(h) => {
                if !pending.is_empty() {
                    return Err(SealError::corrupt(
                        at,
                        "a header inside an unfinished batch",
                    ));
                }
                if h.info.kind != Kind::Log {
                    return Err(SealError::WrongKind {
                        expected: Kind::Log,
                        found: h.info.kind,
                    });
                }
                if h.link != chain_digest(&chain) {
                    return Err(SealError::corrupt(
                        at,
                        "this epoch does not follow the data before it (segments were \
                         removed, replaced or spliced)",
                    ));
                }
                let cipher = h.open(keyring, at)?;
                chain.update(&h.bytes);
                summary.key_ids.push(h.info.key_id);
                epoch = Some(Epoch {
                    cipher,
                    next: 0,
                    segment_size: h.info.segment_size,
                    closed: false,
                });
            }
            Record::Segment { flags, len } => {
                let e = epoch
                    .as_mut()
                    .ok_or_else(|| SealError::corrupt(at, "a segment before any header"))?;
                if e.closed {
                    return Err(SealError::corrupt(at, "a segment after the final segment"));
                }
                if flags == FINAL | CONTINUED {
                    return Err(SealError::corrupt(at, "a final segment cannot continue"));
                }
                let tag = e
                    .cipher
                    .open_segment(counter(e.next)?, flags, &mut buf, at)?;
                e.next += 1;
                e.closed = flags & FINAL != 0;
                chain.update(tag);
                pending.extend_from_slice(&buf[..len]);
                if flags & CONTINUED != 0 {
                    continue;
                }
                if !pending.is_empty() {
                    visit(&pending).map_err(SealError::Visitor)?;
                    summary.batches += 1;
                    pending.clear();
                }
            }
        }
        summary.valid_len = input.offset;
        summary.chain = chain.clone();
    }
}

/// Appends batches to a sealed log. Give it the file itself: each batch is one `write_all`,
/// so `appendfsync always` is `append` then `get_ref().sync_data()`.
pub struct SealedAppender<W: Write> {
    w: W,
    cipher: SegmentCipher,
    next: u64,
    segment_size: usize,
    chain: Sha256,
    len: u64,
    out: Vec<u8>,
    failed: bool,
}

impl<W: Write> SealedAppender<W> {
    /// Starts a new sealed log in an empty `w`, under the keyring's current key, with
    /// 64 KiB segments.
    pub fn create(w: W, keyring: &Keyring) -> Result<Self, SealError> {
        Self::create_with_segment_size(w, keyring, DEFAULT_SEGMENT_SIZE)
    }

    /// As [`create`](Self::create), splitting batches at `segment_size` bytes (1 ..= 16 MiB).
    pub fn create_with_segment_size(
        w: W,
        keyring: &Keyring,
        segment_size: u32,
    ) -> Result<Self, SealError> {
        Self::start(
            w,
            keyring,
            Sha256::new(),
            0,
            check_segment_size(segment_size)?,
        )
    }

    /// Writes a new epoch header after `len` bytes whose chain is `chain`.
    fn start(
        mut w: W,
        keyring: &Keyring,
        mut chain: Sha256,
        len: u64,
        segment_size: u32,
    ) -> Result<Self, SealError> {
        let (header, cipher) =
            Header::create(keyring, Kind::Log, segment_size, chain_digest(&chain))?;
        w.write_all(&header.bytes)?;
        chain.update(&header.bytes);
        Ok(SealedAppender {
            w,
            cipher,
            next: 0,
            segment_size: segment_size as usize,
            chain,
            len: len + header.bytes.len() as u64,
            out: Vec::new(),
            failed: false,
        })
    }

    /// Seals `batch` and writes it with one `write_all`. Empty batches write nothing. After
    /// an error the appender refuses further appends: the file may end in a partial batch,
    /// so reopen it (`read_log`, cut to `valid_len`, `resume`).
    pub fn append(&mut self, batch: &[u8]) -> Result<(), SealError> {
        if self.failed {
            return Err(SealError::NotResumable(
                "an earlier append failed; reopen the log with read_log and resume".into(),
            ));
        }
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.seal_and_write(batch, 0);
        self.failed = result.is_err();
        result
    }

    /// Seals `batch` in segments (the last one carrying `last_flags`) and writes them.
    fn seal_and_write(&mut self, batch: &[u8], last_flags: u8) -> Result<(), SealError> {
        self.out.clear();
        let chunks = batch.len().div_ceil(self.segment_size).max(1);
        for i in 0..chunks {
            let chunk = &batch[(i * self.segment_size).min(batch.len())
                ..((i + 1) * self.segment_size).min(batch.len())];
            let flags = if i + 1 < chunks {
                CONTINUED
            } else {
                last_flags
            };
            let c = counter(self.next)?;
            self.next += 1;
            let start = self.out.len();
            self.out.resize(start + FRAME_HEAD_LEN, 0);
            self.out.extend_from_slice(chunk);
            let tag = self.cipher.seal_frame(c, flags, &mut self.out, start);
            self.chain.update(tag);
        }
        self.w.write_all(&self.out)?;
        self.len += self.out.len() as u64;
        Ok(())
    }

    /// Closes the log in order with an empty final segment (see [`LogEnd::Closed`]), flushes
    /// and returns the writer.
    pub fn close(mut self) -> Result<W, SealError> {
        if self.failed {
            return Err(SealError::NotResumable(
                "an earlier append failed; the log cannot be closed in order".into(),
            ));
        }
        self.seal_and_write(&[], FINAL)?;
        self.w.flush()?;
        Ok(self.w)
    }

    /// The file's length so far (`aof_current_size`).
    pub fn file_len(&self) -> u64 {
        self.len
    }

    /// The file, for fsync.
    pub fn get_ref(&self) -> &W {
        &self.w
    }
}

impl<W: Write + Seek> SealedAppender<W> {
    /// Continues a log that `read_log` verified (`log`), in a new epoch under the keyring's
    /// current key. The file must be exactly `log.valid_len` long: after
    /// [`LogEnd::Truncated`], cut it first (`File::set_len`). An empty or torn-at-0 file
    /// gets a first epoch, as with [`create`](Self::create).
    pub fn resume(mut w: W, keyring: &Keyring, log: &LogSummary) -> Result<Self, SealError> {
        let len = w.seek(SeekFrom::End(0))?;
        if len != log.valid_len {
            return Err(SealError::NotResumable(format!(
                "the file is {len} bytes but only its first {} were verified; truncate it \
                 to that length first",
                log.valid_len
            )));
        }
        Self::start(
            w,
            keyring,
            log.chain.clone(),
            log.valid_len,
            DEFAULT_SEGMENT_SIZE,
        )
    }
}
