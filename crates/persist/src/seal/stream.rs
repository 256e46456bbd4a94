//! The one-shot sealed stream: [`SealedWriter`] seals whatever is written through it in
//! fixed-size segments and marks the last one final in [`SealedWriter::finish`];
//! [`SealedReader`] releases each segment's plaintext only after verifying it, and insists
//! on the final segment and nothing after it.

use std::io::{self, Read, Write};

use sha2::{Digest, Sha256};

use super::format::{
    chain_digest, check_segment_size, counter, Header, HeaderInfo, Input, Kind, Record,
    SegmentCipher, CONTINUED, DEFAULT_SEGMENT_SIZE, FINAL, FRAME_HEAD_LEN,
};
use super::{Keyring, SealError};

/// Seals a stream written through it. It needs no `BufWriter` in front or behind: it
/// buffers a whole segment and writes each sealed segment with one `write_all`.
pub struct SealedWriter<W: Write> {
    inner: W,
    cipher: SegmentCipher,
    /// The next segment's index (visible to the tests, which start it near the limit).
    pub(super) next: u64,
    segment_size: usize,
    /// The frame being filled: a placeholder for the flags and length, then plaintext.
    frame: Vec<u8>,
}

impl<W: Write> SealedWriter<W> {
    /// Writes the header, sealed under the keyring's current key, with 64 KiB segments.
    pub fn new(inner: W, keyring: &Keyring) -> io::Result<Self> {
        Self::with_segment_size(inner, keyring, DEFAULT_SEGMENT_SIZE)
    }

    /// As [`new`](Self::new), with segments of `segment_size` bytes (1 ..= 16 MiB).
    pub fn with_segment_size(
        mut inner: W,
        keyring: &Keyring,
        segment_size: u32,
    ) -> io::Result<Self> {
        let size = check_segment_size(segment_size)?;
        let (header, cipher) =
            Header::create(keyring, Kind::Stream, size, chain_digest(&Sha256::new()))?;
        inner.write_all(&header.bytes)?;
        let mut frame = Vec::with_capacity(FRAME_HEAD_LEN + size as usize + 16);
        frame.resize(FRAME_HEAD_LEN, 0);
        Ok(SealedWriter {
            inner,
            cipher,
            next: 0,
            segment_size: size as usize,
            frame,
        })
    }

    fn seal(&mut self, flags: u8) -> io::Result<()> {
        let c = counter(self.next)?;
        self.next += 1;
        self.cipher.seal_frame(c, flags, &mut self.frame, 0);
        let written = self.inner.write_all(&self.frame);
        self.frame.truncate(FRAME_HEAD_LEN);
        written
    }

    /// Seals what is buffered as the final segment, flushes, and returns the inner writer
    /// (fsync it before renaming a temp file into place).
    pub fn finish(mut self) -> io::Result<W> {
        self.seal(FINAL)?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for SealedWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // A full segment is sealed only once more data arrives: the last one must be final.
        if self.frame.len() - FRAME_HEAD_LEN == self.segment_size {
            self.seal(0)?;
        }
        let n = data
            .len()
            .min(self.segment_size + FRAME_HEAD_LEN - self.frame.len());
        self.frame.extend_from_slice(&data[..n]);
        Ok(n)
    }

    /// Flushes the inner writer; the partial segment stays buffered (sealing it early would
    /// waste a nonce and a tag, and the file is incomplete until `finish` anyway).
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Opens a sealed stream. Small reads are served from the current segment, so it needs no
/// `BufReader` on either side. Errors are `io::Error`s of kind `InvalidData` wrapping a
/// [`SealError`] with the sealed-file offset.
pub struct SealedReader<R: Read> {
    input: Input<R>,
    cipher: SegmentCipher,
    info: HeaderInfo,
    next: u64,
    /// The current segment: plaintext `[pos..end]` not yet read, then the tag.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    done: bool,
    failed: bool,
}

impl<R: Read> SealedReader<R> {
    /// Reads and authenticates the header, finding its key on `keyring`.
    pub fn new(r: R, keyring: &Keyring) -> Result<Self, SealError> {
        let mut input = Input::new(r);
        let header = match input.record(None, &mut Vec::new())? {
            Record::Header(h) => h,
            _ => return Err(SealError::Truncated { offset: 0 }),
        };
        if header.info.kind != Kind::Stream {
            return Err(SealError::WrongKind {
                expected: Kind::Stream,
                found: header.info.kind,
            });
        }
        let cipher = header.open(keyring, 0)?;
        Ok(SealedReader {
            input,
            cipher,
            info: header.info,
            next: 0,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            done: false,
            failed: false,
        })
    }

    /// The stream's header (key id, segment size).
    pub fn header(&self) -> &HeaderInfo {
        &self.info
    }

    /// Segments authenticated so far (all of them once the reader returned end of file).
    pub fn segments(&self) -> u64 {
        self.next
    }

    fn next_segment(&mut self) -> Result<(), SealError> {
        let at = self.input.offset;
        let epoch = (&self.cipher, self.next, self.info.segment_size);
        let (flags, len) = match self.input.record(Some(epoch), &mut self.buf)? {
            Record::Segment { flags, len } => (flags, len),
            Record::Eof | Record::Torn => return Err(SealError::Truncated { offset: at }),
            Record::Header(_) => {
                return Err(SealError::Corrupt {
                    offset: at,
                    reason: "a second header in a sealed stream".into(),
                })
            }
        };
        if flags & CONTINUED != 0 {
            return Err(SealError::Corrupt {
                offset: at,
                reason: "a log segment in a sealed stream".into(),
            });
        }
        self.cipher
            .open_segment(counter(self.next)?, flags, &mut self.buf, at)?;
        self.next += 1;
        if flags & FINAL != 0 {
            let end = self.input.offset;
            if self.input.fill(&mut [0u8; 1])? != 0 {
                return Err(SealError::TrailingData { offset: end });
            }
            self.done = true;
        }
        self.pos = 0;
        self.end = len;
        Ok(())
    }
}

impl<R: Read> Read for SealedReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.failed {
            return Err(io::Error::other(
                "sealed stream: read after an earlier error",
            ));
        }
        while self.pos == self.end {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            if let Err(e) = self.next_segment() {
                self.failed = true;
                return Err(e.into());
            }
        }
        let n = out.len().min(self.end - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
