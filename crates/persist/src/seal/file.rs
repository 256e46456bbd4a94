//! Files that may or may not be sealed, so callers need one code path: [`OutFile`] writes
//! plaintext (buffered) or a sealed stream, [`open_stream`] reads either, telling them apart
//! by the first bytes. Whether to seal is the caller's choice (`Some(keyring)`).

use std::fs::File;
use std::io::{self, BufRead, BufWriter, Read, Write};

use super::{is_sealed, peek_header, Keyring, SealError, SealedReader, SealedWriter};

/// A file being written: buffered plaintext, or a sealed stream (which needs no buffer).
pub enum OutFile {
    Plain(BufWriter<File>),
    // Boxed: the cipher state is large, and a file is opened once.
    Sealed(Box<SealedWriter<File>>),
}

impl OutFile {
    /// Seals from the first byte when `keyring` is given: no plaintext reaches the file.
    pub fn new(file: File, keyring: Option<&Keyring>) -> io::Result<OutFile> {
        Ok(match keyring {
            Some(ring) => OutFile::Sealed(Box::new(SealedWriter::new(file, ring)?)),
            None => OutFile::Plain(BufWriter::with_capacity(1 << 16, file)),
        })
    }

    /// Writes what is buffered (the final segment when sealed) and returns the file, not yet
    /// fsynced.
    pub fn finish(self) -> io::Result<File> {
        match self {
            OutFile::Plain(w) => w.into_inner().map_err(|e| e.into_error()),
            OutFile::Sealed(w) => w.finish(),
        }
    }
}

impl Write for OutFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            OutFile::Plain(w) => w.write(buf),
            OutFile::Sealed(w) => w.write(buf),
        }
    }

    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        match self {
            OutFile::Plain(w) => w.write_all(buf),
            OutFile::Sealed(w) => w.write_all(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            OutFile::Plain(w) => w.flush(),
            OutFile::Sealed(w) => w.flush(),
        }
    }
}

/// A stream being read: plaintext as it is, or a sealed stream authenticated as it is read.
pub enum InFile<R: Read> {
    Plain(R),
    Sealed(Box<SealedReader<R>>),
}

impl<R: Read> Read for InFile<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            InFile::Plain(r) => r.read(buf),
            InFile::Sealed(r) => r.read(buf),
        }
    }
}

/// Opens `r` as plaintext, or as a sealed stream when it starts with the sealed magic. A
/// sealed stream with no keyring is [`SealError::NoKeyring`], naming the key id it needs.
pub fn open_stream<R: BufRead>(
    mut r: R,
    keyring: Option<&Keyring>,
) -> Result<InFile<R>, SealError> {
    let head = r.fill_buf()?;
    if !is_sealed(head) {
        return Ok(InFile::Plain(r));
    }
    match keyring {
        Some(ring) => Ok(InFile::Sealed(Box::new(SealedReader::new(r, ring)?))),
        None => Err(SealError::NoKeyring {
            id: peek_header(head)?.key_id,
        }),
    }
}

/// The [`SealError`] an `io::Error` carries, if any: RDB and AOF readers running over a
/// sealed stream report its failures as I/O errors.
pub fn seal_error(e: &io::Error) -> Option<&SealError> {
    e.get_ref()?.downcast_ref::<SealError>()
}
