//! Master keys and the keyring: where key material comes from, how it is named, and that it
//! is wiped from memory when dropped. There is never a default or built-in key.
//!
//! A key is 32 bytes, written as 32 raw bytes, 64 hex digits or standard base64 (surrounding
//! white space is ignored). A key file or `REDIS_LITE_ENCRYPTION_KEY` holds either:
//! - one bare key, whose id is the first 8 hex digits of its SHA-256 (for a raw key file,
//!   `sha256sum keyfile | cut -c1-8`); or
//! - a keyring: lines `id:key` (id `[A-Za-z0-9._-]`, 1–64 chars), blank lines and `#`
//!   comments allowed. The **last** line is the current key, which seals new files; every
//!   key opens files. To rotate, append a new line, and drop an old one only once nothing
//!   sealed with it remains.
//!
//! Errors never quote what a key file or the variable holds, not even the ids: a key file path
//! can be set at runtime, and pointed at any file (`/proc/self/environ`), so an error about a
//! key file names only the path and a fixed reason. The file is accepted only as a whole,
//! well-formed key or keyring.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use sha2::{Digest, Sha256};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// The environment variable a key (or keyring) may be given in.
pub const ENV_VAR: &str = "REDIS_LITE_ENCRYPTION_KEY";

/// The longest key id, so that it fits the header's one-byte length.
pub(crate) const MAX_ID_LEN: usize = 64;

/// A 256-bit master key. Zeroized on drop; it has no `Debug`/`Display` and no accessor that
/// copies it out of the crate.
pub struct MasterKey([u8; 32]);

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        MasterKey(bytes)
    }

    /// Parses a key written as 32 raw bytes, 64 hex digits or base64 of 32 bytes.
    pub fn parse(text: &[u8]) -> Result<Self, KeyError> {
        if text.len() == 32 {
            // Exactly 32 bytes can only be raw: hex and base64 forms are longer.
            let mut k = [0u8; 32];
            k.copy_from_slice(text);
            return Ok(MasterKey(k));
        }
        let t = text.trim_ascii();
        let mut k = [0u8; 32];
        if t.len() == 64 && hex::decode_to_slice(t, &mut k).is_ok() {
            return Ok(MasterKey(k));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(t)
            .map(Zeroizing::new);
        match decoded {
            Ok(d) if d.len() == 32 => {
                k.copy_from_slice(&d);
                Ok(MasterKey(k))
            }
            _ => Err(KeyError::Invalid(
                "a key must be 32 raw bytes, 64 hex digits or the base64 of 32 bytes \
                 (e.g. `openssl rand -hex 32`)"
                    .into(),
            )),
        }
    }

    /// The id a bare key gets: the first 8 hex digits of its SHA-256, which reveals nothing
    /// usable about a random 256-bit key.
    pub fn derived_id(&self) -> String {
        hex::encode(&Sha256::digest(self.0)[..4])
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for MasterKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl ZeroizeOnDrop for MasterKey {}

/// Master keys by id. The last one seals new files; all of them open files.
pub struct Keyring {
    keys: Vec<(String, MasterKey)>,
}

impl Keyring {
    /// A keyring of one key, under its derived id.
    pub fn single(key: MasterKey) -> Self {
        Keyring {
            keys: vec![(key.derived_id(), key)],
        }
    }

    /// A keyring from `(id, key)` pairs, oldest first. Ids must be valid and distinct.
    pub fn new(keys: Vec<(String, MasterKey)>) -> Result<Self, KeyError> {
        if keys.is_empty() {
            return Err(KeyError::Invalid("the keyring holds no key".into()));
        }
        for (i, (id, _)) in keys.iter().enumerate() {
            check_id(id).map_err(|e| e.context(&format!("key {}", i + 1)))?;
            if keys[..i].iter().any(|(other, _)| other == id) {
                return Err(KeyError::Invalid(format!(
                    "key {}: its id appears twice",
                    i + 1
                )));
            }
        }
        Ok(Keyring { keys })
    }

    /// Parses a key file's (or the environment variable's) contents: one bare key, or
    /// `id:key` lines (see the module docs).
    pub fn parse(text: &[u8]) -> Result<Self, KeyError> {
        if text.len() == 32 {
            return Ok(Keyring::single(MasterKey::parse(text)?));
        }
        let text = std::str::from_utf8(text).map_err(|_| {
            KeyError::Invalid("not 32 raw bytes, and not text (hex, base64 or id:key lines)".into())
        })?;
        let lines = || {
            text.lines()
                .enumerate()
                .map(|(n, l)| (n + 1, l.trim()))
                .filter(|(_, l)| !l.is_empty() && !l.starts_with('#'))
        };
        if !lines().any(|(_, l)| l.contains(':')) {
            return Ok(Keyring::single(MasterKey::parse(text.as_bytes())?));
        }
        let mut keys = Vec::new();
        for (n, line) in lines() {
            let (id, key) = line.split_once(':').ok_or_else(|| {
                KeyError::Invalid(format!("line {n}: expected 'id:key' (hex or base64 key)"))
            })?;
            let key = MasterKey::parse(key.trim().as_bytes())
                .map_err(|e| e.context(&format!("line {n}")))?;
            let id = id.trim();
            check_id(id).map_err(|e| e.context(&format!("line {n}")))?;
            if keys.iter().any(|(other, _)| other == id) {
                return Err(KeyError::Invalid(format!(
                    "line {n}: its key id appears on an earlier line too"
                )));
            }
            keys.push((id.to_string(), key));
        }
        Keyring::new(keys)
    }

    /// Reads a key file, refusing one that group or others may access, one that is not a
    /// regular file, and one that is not, as a whole, a key or keyring. Whatever is wrong with
    /// the file, the error names the path and a fixed reason, never the file's bytes.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let io_err = |source| KeyError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bad = |reason| KeyError::BadFile {
            path: path.to_path_buf(),
            reason,
        };
        // Before opening: opening a FIFO would wait for a writer, and a device may never end.
        if !std::fs::metadata(path).map_err(io_err)?.is_file() {
            return Err(bad(NOT_REGULAR));
        }
        let file = std::fs::File::open(path).map_err(io_err)?;
        let meta = file.metadata().map_err(io_err)?;
        if !meta.is_file() {
            return Err(bad(NOT_REGULAR));
        }
        check_private(path, &meta)?;
        let mut text = Zeroizing::new(Vec::new());
        io::Read::read_to_end(&mut io::Read::take(&file, MAX_KEY_FILE_LEN + 1), &mut text)
            .map_err(io_err)?;
        if text.len() as u64 > MAX_KEY_FILE_LEN {
            return Err(bad(TOO_LARGE));
        }
        // The parser's reasons (line numbers, which rule a line breaks) would tell a little
        // about an arbitrary file's content: a key file error keeps to one fixed reason.
        Keyring::parse(&text).map_err(|_| bad(NOT_A_KEYRING))
    }

    /// The keyring in `REDIS_LITE_ENCRYPTION_KEY`, or `None` when it is unset.
    pub fn from_env() -> Result<Option<Self>, KeyError> {
        let Some(value) = std::env::var_os(ENV_VAR) else {
            return Ok(None);
        };
        let value = Zeroizing::new(value.into_encoded_bytes());
        Keyring::parse(&value)
            .map(Some)
            .map_err(|e| e.context(ENV_VAR))
    }

    /// The id of the key that seals new files.
    pub fn current_id(&self) -> &str {
        self.current().0
    }

    pub(crate) fn current(&self) -> (&str, &MasterKey) {
        let (id, key) = self.keys.last().expect("a keyring is never empty");
        (id, key)
    }

    /// Every id on the ring, oldest first.
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|(id, _)| id.clone()).collect()
    }

    pub(crate) fn get(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|(k, _)| k == id).map(|(_, key)| key)
    }
}

/// Shows the ids only.
impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("ids", &self.ids()).finish()
    }
}

fn check_id(id: &str) -> Result<(), KeyError> {
    let ok = (1..=MAX_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(KeyError::Invalid(format!(
            "invalid key id: use 1 to {MAX_ID_LEN} of A-Z a-z 0-9 . _ -"
        )))
    }
}

#[cfg(unix)]
fn check_private(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeyError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(KeyError::Insecure {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_: &Path, _: &std::fs::Metadata) -> Result<(), KeyError> {
    Ok(())
}

/// The largest key file read: a keyring of a thousand keys fits many times over.
const MAX_KEY_FILE_LEN: u64 = 64 * 1024;

const NOT_A_KEYRING: &str = "is not a valid keyring: it must hold one key (32 raw bytes, 64 hex \
                             digits or base64 of 32 bytes) or 'id:key' lines, and nothing else";
const NOT_REGULAR: &str = "is not a regular file";
const TOO_LARGE: &str = "is too large to be a keyring";

/// Why a key or keyring could not be loaded. Never contains key material, nor anything read
/// from a key file.
#[derive(Debug)]
pub enum KeyError {
    Io {
        path: PathBuf,
        source: io::Error,
    },
    /// The key file is accessible to group or others.
    Insecure {
        path: PathBuf,
        mode: u32,
    },
    /// A key file that is not a well-formed key or keyring; `reason` is fixed text.
    BadFile {
        path: PathBuf,
        reason: &'static str,
    },
    /// Text given directly (the environment variable) that is not a key or keyring; the reason
    /// says where, never what.
    Invalid(String),
}

impl KeyError {
    /// Prefixes an `Invalid` reason with where the key came from.
    fn context(self, place: &str) -> Self {
        match self {
            KeyError::Invalid(why) => KeyError::Invalid(format!("{place}: {why}")),
            e => e,
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Io { path, source } => {
                write!(f, "cannot read key file {}: {source}", path.display())
            }
            KeyError::Insecure { path, mode } => write!(
                f,
                "key file {} is accessible to group or others (mode {mode:03o}); run `chmod 600 {}`",
                path.display(),
                path.display()
            ),
            KeyError::BadFile { path, reason } => {
                write!(f, "key file {} {reason}", path.display())
            }
            KeyError::Invalid(why) => write!(f, "invalid encryption key: {why}"),
        }
    }
}

impl std::error::Error for KeyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            KeyError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
