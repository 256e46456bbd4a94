//! The parts of the sealed format both file kinds share: the epoch header (building,
//! parsing, authenticating), the per-epoch key derivation, the segment cipher, and the
//! record reader that tells headers, segments, end of file and torn tails apart.
//! The byte layout is specified in the [`seal`](super) module docs.

use std::fmt;
use std::io::{self, Read};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use hkdf::Hkdf;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::keyring::{Keyring, MAX_ID_LEN};
use super::SealError;

pub(crate) const MAGIC: &[u8; 7] = b"RLSEAL\0";
pub(crate) const VERSION: u8 = 1;
const CIPHER_AES_256_GCM: u8 = 1;
const INFO: &[u8] = b"redis-lite seal v1\0";
/// Header bytes before the key id.
const FIXED_LEN: usize = 79;
pub(crate) const TAG_LEN: usize = 16;
/// Flags, length and the head tag.
pub(crate) const FRAME_HEAD_LEN: usize = 13;
const HEAD_TAG_LEN: usize = 8;
/// The longest possible header, so a caller knows how much to read for [`peek_header`].
pub const HEADER_MAX_LEN: usize = FIXED_LEN + MAX_ID_LEN + TAG_LEN;
pub(crate) const DEFAULT_SEGMENT_SIZE: u32 = 64 * 1024;
pub(crate) const MAX_SEGMENT_SIZE: u32 = 16 << 20;

pub(crate) const FINAL: u8 = 1;
pub(crate) const CONTINUED: u8 = 2;
/// The nonce flag bytes of the header tag and of head tags; no segment uses either, so
/// their nonces are never a segment's.
const HEADER_NONCE_FLAG: u8 = 0x80;
const HEAD_NONCE_FLAG: u8 = 0x40;

/// Which rules a sealed file follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Written once, ends with a final segment (snapshots, exports, the AOF base).
    Stream,
    /// Appended to over time, batch by batch (AOF increment files).
    Log,
}

impl Kind {
    fn byte(self) -> u8 {
        match self {
            Kind::Stream => 1,
            Kind::Log => 2,
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Stream => "sealed stream",
            Kind::Log => "sealed log",
        })
    }
}

/// What a header says, readable without the key (for INFO and error messages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeaderInfo {
    pub version: u8,
    pub kind: Kind,
    pub key_id: String,
    pub segment_size: u32,
}

/// Whether a file starting with `first_bytes` is sealed (pass at least 7 bytes). Plaintext
/// RDB files start with `REDIS` and AOF files with `*` or `REDIS`, so they never match.
pub fn is_sealed(first_bytes: &[u8]) -> bool {
    first_bytes.starts_with(MAGIC)
}

/// Parses the first header of a sealed file without a key (pass its first
/// [`HEADER_MAX_LEN`] bytes, or the whole file if shorter). Not authenticated: use it to
/// name the key a file needs, not to trust the file.
pub fn peek_header(first_bytes: &[u8]) -> Result<HeaderInfo, SealError> {
    match Input::new(first_bytes).record(None, &mut Vec::new())? {
        Record::Header(h) => Ok(h.info),
        Record::Eof | Record::Torn => Err(SealError::Truncated { offset: 0 }),
        Record::Segment { .. } => Err(SealError::BadMagic),
    }
}

/// A parsed epoch header.
pub(crate) struct Header {
    pub info: HeaderInfo,
    salt: [u8; 32],
    pub link: [u8; 32],
    /// The encoded header, tag included.
    pub bytes: Vec<u8>,
}

impl Header {
    /// A new header with a fresh random salt, sealed under the keyring's current key.
    pub fn create(
        keyring: &Keyring,
        kind: Kind,
        segment_size: u32,
        link: [u8; 32],
    ) -> Result<(Header, SegmentCipher), SealError> {
        let mut salt = [0u8; 32];
        getrandom::getrandom(&mut salt).map_err(|e| SealError::Io(io::Error::other(e)))?;
        let (id, key) = keyring.current();
        let mut bytes = Vec::with_capacity(FIXED_LEN + id.len() + TAG_LEN);
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&[VERSION, CIPHER_AES_256_GCM, kind.byte()]);
        bytes.extend_from_slice(&segment_size.to_be_bytes());
        bytes.extend_from_slice(&salt);
        bytes.extend_from_slice(&link);
        // Ids are checked to be at most 64 bytes when the keyring is built.
        bytes.push(id.len() as u8);
        bytes.extend_from_slice(id.as_bytes());
        let cipher = SegmentCipher::derive(key.bytes(), &salt, &bytes);
        let tag = cipher.header_tag(&bytes);
        bytes.extend_from_slice(&tag);
        let info = HeaderInfo {
            version: VERSION,
            kind,
            key_id: id.to_string(),
            segment_size,
        };
        Ok((
            Header {
                info,
                salt,
                link,
                bytes,
            },
            cipher,
        ))
    }

    /// Finds the header's key on `keyring`, derives the epoch's cipher and checks the
    /// header tag. `offset` is where the header starts, for errors.
    pub fn open(&self, keyring: &Keyring, offset: u64) -> Result<SegmentCipher, SealError> {
        let id = &self.info.key_id;
        let key = keyring.get(id).ok_or_else(|| SealError::UnknownKey {
            id: id.clone(),
            known: keyring.ids(),
        })?;
        let (body, tag) = self.bytes.split_at(self.bytes.len() - TAG_LEN);
        let cipher = SegmentCipher::derive(key.bytes(), &self.salt, body);
        if cipher.header_tag(body)[..] != *tag {
            return Err(SealError::HeaderAuth {
                offset,
                id: id.clone(),
            });
        }
        Ok(cipher)
    }
}

/// The running SHA-256 over headers and segment tags that links epochs (see module docs).
pub(crate) fn chain_digest(chain: &Sha256) -> [u8; 32] {
    chain.clone().finalize().into()
}

/// One epoch's AES-256-GCM data key and nonce prefix.
pub(crate) struct SegmentCipher {
    aead: Aes256Gcm,
    prefix: [u8; 7],
}

impl SegmentCipher {
    fn derive(master: &[u8; 32], salt: &[u8; 32], header: &[u8]) -> Self {
        let mut okm = Zeroizing::new([0u8; 39]);
        Hkdf::<Sha256>::new(Some(salt), master)
            .expand_multi_info(&[INFO, header], &mut okm[..])
            .expect("39 bytes is far below HKDF-SHA256's output limit");
        let aead = Aes256Gcm::new_from_slice(&okm[..32]).expect("the key is 32 bytes");
        let mut prefix = [0u8; 7];
        prefix.copy_from_slice(&okm[32..]);
        SegmentCipher { aead, prefix }
    }

    fn nonce(&self, counter: u32, flags: u8) -> Nonce<aes_gcm::aead::consts::U12> {
        let mut n = [0u8; 12];
        n[..7].copy_from_slice(&self.prefix);
        n[7..11].copy_from_slice(&counter.to_be_bytes());
        n[11] = flags;
        n.into()
    }

    fn header_tag(&self, header: &[u8]) -> Tag {
        self.aead
            .encrypt_in_place_detached(&self.nonce(u32::MAX, HEADER_NONCE_FLAG), header, &mut [])
            .expect("GCM encrypts up to 64 GiB per call")
    }

    /// The head tag: GCM over no plaintext with the flags and length as associated data,
    /// cut to 8 bytes. It lets a reader trust a segment's length before reading its body, so
    /// an altered length is reported as tampering, not mistaken for a torn tail.
    fn head_tag(&self, counter: u32, head: &[u8]) -> [u8; HEAD_TAG_LEN] {
        let tag = self
            .aead
            .encrypt_in_place_detached(
                &self.nonce(counter, HEAD_NONCE_FLAG | head[0]),
                head,
                &mut [],
            )
            .expect("GCM encrypts up to 64 GiB per call");
        tag[..HEAD_TAG_LEN].try_into().expect("8 of 16 bytes")
    }

    /// Seals the frame starting at `out[start..]`: `FRAME_HEAD_LEN` placeholder bytes, then
    /// the plaintext. Fills in the head, encrypts in place and appends the tag, which it
    /// also returns (for the chain).
    pub fn seal_frame(
        &self,
        counter: u32,
        flags: u8,
        out: &mut Vec<u8>,
        start: usize,
    ) -> [u8; TAG_LEN] {
        let len = out.len() - start - FRAME_HEAD_LEN;
        out[start] = flags;
        // Segments are at most MAX_SEGMENT_SIZE (16 MiB), so the length fits.
        out[start + 1..start + 5].copy_from_slice(&(len as u32).to_be_bytes());
        let head_tag = self.head_tag(counter, &out[start..start + 5]);
        out[start + 5..start + FRAME_HEAD_LEN].copy_from_slice(&head_tag);
        let tag = self
            .aead
            .encrypt_in_place_detached(
                &self.nonce(counter, flags),
                &[],
                &mut out[start + FRAME_HEAD_LEN..],
            )
            .expect("GCM encrypts up to 64 GiB per call");
        out.extend_from_slice(&tag);
        tag.into()
    }

    /// Verifies and decrypts in place a segment read by [`Input::record`]: `data` is the
    /// ciphertext followed by the tag. Returns the tag (for the chain).
    pub fn open_segment(
        &self,
        counter: u32,
        flags: u8,
        data: &mut [u8],
        offset: u64,
    ) -> Result<[u8; TAG_LEN], SealError> {
        let (ct, tag) = data.split_at_mut(data.len() - TAG_LEN);
        let tag: [u8; TAG_LEN] = (&*tag).try_into().expect("split at TAG_LEN");
        self.aead
            .decrypt_in_place_detached(&self.nonce(counter, flags), &[], ct, &tag.into())
            .map_err(|_| SealError::Auth { offset })?;
        Ok(tag)
    }
}

/// Turns a segment index into its nonce counter, refusing to wrap.
pub(crate) fn counter(index: u64) -> Result<u32, SealError> {
    u32::try_from(index).map_err(|_| SealError::CounterExhausted)
}

/// Checks a segment size chosen by a writer.
pub(crate) fn check_segment_size(size: u32) -> Result<u32, SealError> {
    if (1..=MAX_SEGMENT_SIZE).contains(&size) {
        Ok(size)
    } else {
        Err(SealError::Io(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("segment size {size} is outside 1..={MAX_SEGMENT_SIZE}"),
        )))
    }
}

/// What comes next in a sealed file.
pub(crate) enum Record {
    /// End of file exactly at a record boundary.
    Eof,
    /// End of file inside a record.
    Torn,
    Header(Header),
    /// A segment of `len` plaintext bytes; its ciphertext and tag are in the caller's buffer.
    Segment {
        flags: u8,
        len: usize,
    },
}

/// A reader that counts the sealed-file offset.
pub(crate) struct Input<R> {
    r: R,
    pub offset: u64,
}

impl<R: Read> Input<R> {
    pub fn new(r: R) -> Self {
        Input { r, offset: 0 }
    }

    /// Fills `buf` as far as the file goes; returns how much it got.
    pub fn fill(&mut self, buf: &mut [u8]) -> Result<usize, SealError> {
        let mut got = 0;
        while got < buf.len() {
            match self.r.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        self.offset += got as u64;
        Ok(got)
    }

    /// Reads the next record. `epoch` is the current epoch's cipher, next segment index and
    /// segment size, to check a segment's head before trusting its length (`None` before
    /// any header). The ciphertext and tag of a segment go into `buf`.
    pub fn record(
        &mut self,
        epoch: Option<(&SegmentCipher, u64, u32)>,
        buf: &mut Vec<u8>,
    ) -> Result<Record, SealError> {
        let at = self.offset;
        let mut head = [0u8; FRAME_HEAD_LEN];
        if self.fill(&mut head[..1])? == 0 {
            return Ok(Record::Eof);
        }
        if head[0] == MAGIC[0] {
            return self.header(at);
        }
        let Some((cipher, index, max_len)) = epoch.filter(|_| at > 0) else {
            return Err(SealError::BadMagic);
        };
        if self.fill(&mut head[1..])? < FRAME_HEAD_LEN - 1 {
            return Ok(Record::Torn);
        }
        let flags = head[0];
        if flags & !(FINAL | CONTINUED) != 0 {
            return Err(SealError::corrupt(
                at,
                format!("bad segment flags {flags:#04x}"),
            ));
        }
        if cipher.head_tag(counter(index)?, &head[..5])[..] != head[5..] {
            return Err(SealError::Auth { offset: at });
        }
        let len = u32::from_be_bytes(head[1..5].try_into().expect("4 bytes"));
        if len > max_len {
            return Err(SealError::corrupt(
                at,
                format!("segment of {len} bytes is longer than the segment size {max_len}"),
            ));
        }
        buf.resize(len as usize + TAG_LEN, 0);
        if self.fill(buf)? < buf.len() {
            return Ok(Record::Torn);
        }
        Ok(Record::Segment {
            flags,
            len: len as usize,
        })
    }

    /// Reads a header whose first byte was read; bad magic is reported before a short file.
    fn header(&mut self, at: u64) -> Result<Record, SealError> {
        let mut bytes = vec![0u8; FIXED_LEN];
        bytes[0] = MAGIC[0];
        let got = 1 + self.fill(&mut bytes[1..])?;
        let seen = got.min(MAGIC.len());
        if bytes[..seen] != MAGIC[..seen] {
            return Err(if at == 0 {
                SealError::BadMagic
            } else {
                SealError::corrupt(at, "bad header magic")
            });
        }
        if got < FIXED_LEN {
            return Ok(Record::Torn);
        }
        if bytes[7] != VERSION {
            return Err(SealError::UnsupportedVersion(bytes[7]));
        }
        if bytes[8] != CIPHER_AES_256_GCM {
            return Err(SealError::UnsupportedCipher(bytes[8]));
        }
        let kind = match bytes[9] {
            1 => Kind::Stream,
            2 => Kind::Log,
            k => return Err(SealError::corrupt(at + 9, format!("unknown file kind {k}"))),
        };
        let segment_size = u32::from_be_bytes(bytes[10..14].try_into().expect("4 bytes"));
        if !(1..=MAX_SEGMENT_SIZE).contains(&segment_size) {
            return Err(SealError::corrupt(
                at + 10,
                format!("segment size {segment_size} is out of range"),
            ));
        }
        let id_len = bytes[FIXED_LEN - 1] as usize;
        if !(1..=MAX_ID_LEN).contains(&id_len) {
            return Err(SealError::corrupt(at + 78, "bad key id length"));
        }
        bytes.resize(FIXED_LEN + id_len + TAG_LEN, 0);
        if self.fill(&mut bytes[FIXED_LEN..])? < id_len + TAG_LEN {
            return Ok(Record::Torn);
        }
        let key_id = String::from_utf8_lossy(&bytes[FIXED_LEN..FIXED_LEN + id_len]).into_owned();
        Ok(Record::Header(Header {
            info: HeaderInfo {
                version: VERSION,
                kind,
                key_id,
                segment_size,
            },
            salt: bytes[14..46].try_into().expect("32 bytes"),
            link: bytes[46..78].try_into().expect("32 bytes"),
            bytes,
        }))
    }
}
