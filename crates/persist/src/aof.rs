//! The append-only file's formats, as Redis 7.0 writes them: the multi-part manifest
//! (`appendonly.aof.manifest`), file naming, and the RESP command stream of base and
//! incremental files (a base may open with an RDB preamble). Pure format code over `Read`.

use std::fmt;
use std::io::{self, BufRead, Read};

use redis_lite_engine::EncodingLimits;
use redis_lite_protocol::split_args;

use crate::rdb::{self, RdbError};

// ---------------------------------------------------------------------------------------------
// Names

/// `appendonly.aof.manifest` for `appendfilename appendonly.aof`.
pub fn manifest_name(prefix: &str) -> String {
    format!("{prefix}.manifest")
}

/// `appendonly.aof.3.base.rdb` (RDB preamble) or `appendonly.aof.3.base.aof` (commands).
pub fn base_name(prefix: &str, seq: u64, rdb: bool) -> String {
    format!("{prefix}.{seq}.base.{}", if rdb { "rdb" } else { "aof" })
}

/// `appendonly.aof.3.incr.aof`.
pub fn incr_name(prefix: &str, seq: u64) -> String {
    format!("{prefix}.{seq}.incr.aof")
}

/// The name a manifest is written under before it is renamed into place.
pub fn temp_manifest_name(prefix: &str) -> String {
    format!("temp-{}", manifest_name(prefix))
}

// ---------------------------------------------------------------------------------------------
// Manifest

/// A manifest line's `type`: `b`ase, `h`istory (being deleted), `i`ncremental.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileKind {
    Base,
    History,
    Incr,
}

impl FileKind {
    fn letter(self) -> char {
        match self {
            FileKind::Base => 'b',
            FileKind::History => 'h',
            FileKind::Incr => 'i',
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManifestFile {
    pub name: String,
    pub seq: u64,
    pub kind: FileKind,
}

/// The set of files that make up an AOF. Loading replays `base` then `incr` in order;
/// `history` files are leftovers of a finished rewrite, to be deleted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Manifest {
    pub base: Option<ManifestFile>,
    pub incr: Vec<ManifestFile>,
    pub history: Vec<ManifestFile>,
}

/// Longest manifest line Redis accepts (`AOF_MANIFEST_MAX_LINE`).
const MANIFEST_MAX_LINE: usize = 1024;

impl Manifest {
    /// Parses a manifest with Redis's rules: `#` comments, `key value` pairs quoted as in
    /// redis.conf, unknown keys ignored; the error texts are Redis's.
    pub fn parse(text: &[u8]) -> Result<Manifest, String> {
        let invalid = || "Invalid AOF manifest file format".to_string();
        let mut manifest = Manifest::default();
        let mut lines = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let end = rest.iter().position(|&b| b == b'\n');
            let (line, next) = match end {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &rest[rest.len()..]),
            };
            rest = next;
            if line.first() == Some(&b'#') {
                continue;
            }
            if end.is_none() || line.len() >= MANIFEST_MAX_LINE {
                return Err("The AOF manifest file contains too long line".into());
            }
            let words = split_args(line).ok_or_else(invalid)?;
            if words.len() < 6 || words.len() % 2 != 0 {
                return Err(invalid());
            }
            let (mut name, mut seq, mut kind) = (None, 0u64, None);
            for pair in words.chunks(2) {
                let value = &pair[1];
                match pair[0].to_ascii_lowercase().as_slice() {
                    b"file" => {
                        let text = String::from_utf8(value.clone()).map_err(|_| invalid())?;
                        if text.contains('/') {
                            return Err("File can't be a path, just a filename".into());
                        }
                        name = Some(text);
                    }
                    // atoll: leading digits, anything else reads as 0 (and is refused below).
                    b"seq" => {
                        let digits: Vec<u8> = value
                            .iter()
                            .copied()
                            .take_while(u8::is_ascii_digit)
                            .collect();
                        seq = std::str::from_utf8(&digits)
                            .ok()
                            .and_then(|d| d.parse().ok())
                            .unwrap_or(0);
                    }
                    b"type" => kind = value.first().copied(),
                    _ => {}
                }
            }
            let (Some(name), Some(kind)) = (name, kind) else {
                return Err(invalid());
            };
            if seq == 0 {
                return Err(invalid());
            }
            let kind = match kind {
                b'b' => FileKind::Base,
                b'h' => FileKind::History,
                b'i' => FileKind::Incr,
                _ => return Err("Unknown AOF file type".into()),
            };
            let file = ManifestFile { name, seq, kind };
            match kind {
                FileKind::Base if manifest.base.is_some() => {
                    return Err("Found duplicate base file information".into())
                }
                FileKind::Base => manifest.base = Some(file),
                FileKind::History => manifest.history.push(file),
                FileKind::Incr => {
                    if manifest.incr.last().is_some_and(|l| l.seq >= seq) {
                        return Err("Found a non-monotonic sequence number".into());
                    }
                    manifest.incr.push(file);
                }
            }
            lines += 1;
        }
        if lines == 0 {
            return Err("Found an empty AOF manifest".into());
        }
        Ok(manifest)
    }

    /// The manifest text, in Redis's order (base, history, incr) and quoting.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let files = self.base.iter().chain(&self.history).chain(&self.incr);
        for f in files {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                repr_if_needed(&f.name),
                f.seq,
                f.kind.letter()
            ));
        }
        out
    }

    /// The files to replay, in order.
    pub fn load_order(&self) -> impl Iterator<Item = &ManifestFile> {
        self.base.iter().chain(&self.incr)
    }

    /// The sequence number of the newest base (0 when there is none).
    pub fn base_seq(&self) -> u64 {
        self.base.as_ref().map_or(0, |b| b.seq)
    }

    /// The sequence number of the newest incremental file (0 when there is none).
    pub fn incr_seq(&self) -> u64 {
        self.incr.last().map_or(0, |i| i.seq)
    }
}

/// A file name as Redis writes it in the manifest: bare, or quoted and escaped (sdscatrepr)
/// when it has spaces, quotes, backslashes or unprintable bytes.
fn repr_if_needed(name: &str) -> String {
    // An empty name, and one with a single quote, are quoted too: bare, the line would lose a
    // word or open a quote (Redis writes them bare, and then cannot read its own manifest).
    let needs = name.is_empty()
        || name
            .bytes()
            .any(|b| b == b'\\' || b == b'"' || b == b'\'' || !b.is_ascii_graphic());
    if !needs {
        return name.to_string();
    }
    let mut out = Vec::new();
    redis_lite_protocol::repr(&mut out, name.as_bytes());
    String::from_utf8(out).expect("repr escapes every byte outside printable ASCII")
}

// ---------------------------------------------------------------------------------------------
// Commands

/// Appends one command as a RESP multibulk, the form every AOF record takes.
pub fn encode_command<A: AsRef<[u8]>>(out: &mut Vec<u8>, args: &[A]) {
    out.push(b'*');
    out.extend_from_slice(args.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for arg in args {
        let arg = arg.as_ref();
        out.push(b'$');
        out.extend_from_slice(arg.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// One command read from an AOF file.
#[derive(Debug, PartialEq, Eq)]
pub struct Command {
    /// Byte offset of its `*` in the file.
    pub offset: u64,
    pub args: Vec<Vec<u8>>,
}

/// What went wrong reading an AOF file.
#[derive(Debug)]
pub enum ErrorKind {
    /// The file ends in the middle of a command (or of a MULTI block): what a crash during
    /// a write leaves. `aof-load-truncated yes` drops the tail.
    Truncated,
    /// Bad bytes before the end.
    Corrupt(String),
    /// The RDB preamble is damaged.
    Rdb(RdbError),
    Io(io::Error),
    /// The caller's visitor refused a command (e.g. an unknown command).
    Visitor(String),
}

/// An error reading one AOF file, with where it happened.
#[derive(Debug)]
pub struct AofError {
    pub file: String,
    /// Where the bad (or missing) bytes are.
    pub offset: u64,
    /// The length of the file's valid prefix: every command before it is complete (and not
    /// inside an unfinished MULTI). `redis-lite-check aof --fix` truncates here.
    pub valid_up_to: u64,
    pub kind: ErrorKind,
}

impl AofError {
    pub fn is_truncated(&self) -> bool {
        matches!(self.kind, ErrorKind::Truncated)
    }
}

impl fmt::Display for AofError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (file, offset) = (&self.file, self.offset);
        match &self.kind {
            ErrorKind::Truncated => write!(
                f,
                "Unexpected end of file reading the append only file {file} at offset {offset} \
                 (valid up to {})",
                self.valid_up_to
            ),
            ErrorKind::Corrupt(reason) => write!(
                f,
                "Bad file format reading the append only file {file} at offset {offset}: {reason}"
            ),
            ErrorKind::Rdb(e) => write!(
                f,
                "Bad RDB preamble in the append only file {file} at offset {offset}: {e}"
            ),
            ErrorKind::Io(e) => write!(
                f,
                "Error reading the append only file {file} at offset {offset}: {e}"
            ),
            ErrorKind::Visitor(reason) => write!(
                f,
                "Error replaying the append only file {file} at offset {offset}: {reason}"
            ),
        }
    }
}

impl std::error::Error for AofError {}

/// Longest `*<n>` / `$<n>` line accepted; anything longer is not a count.
const MAX_COUNT_LINE: u64 = 32;

/// Why a command could not be read: the file ended, or it is malformed at an offset.
enum ReadFailure {
    Eof { at: u64 },
    Corrupt { at: u64, reason: String },
    Io { at: u64, source: io::Error },
}

/// Streams the commands of an AOF body (after any RDB preamble), with their offsets.
pub struct CommandReader<R> {
    r: R,
    offset: u64,
    line: Vec<u8>,
}

impl<R: BufRead> CommandReader<R> {
    /// `offset` is where `r` starts in the file, for error messages.
    pub fn new(r: R, offset: u64) -> Self {
        CommandReader {
            r,
            offset,
            line: Vec::new(),
        }
    }

    /// The offset just past the last command returned.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Skips annotation lines where a command would start (`#TS:<unix time>`, written with
    /// `aof-timestamp-enabled`): Redis ignores a line that starts with `#` there.
    fn skip_annotations(&mut self) -> Result<(), ReadFailure> {
        loop {
            let at = self.offset;
            let head = self
                .r
                .fill_buf()
                .map_err(|source| ReadFailure::Io { at, source })?;
            if head.first() != Some(&b'#') {
                return Ok(());
            }
            self.line.clear();
            let n = (&mut self.r)
                .take(MAX_COUNT_LINE)
                .read_until(b'\n', &mut self.line)
                .map_err(|source| ReadFailure::Io { at, source })?;
            self.offset += n as u64;
        }
    }

    /// The next command, None at a clean end of file.
    fn next_command(&mut self) -> Result<Option<Command>, ReadFailure> {
        self.skip_annotations()?;
        let start = self.offset;
        let mut at = start;
        let Some(count) = self.count_line(&mut at, b'*')? else {
            return Ok(None);
        };
        if count < 1 {
            return Err(ReadFailure::Corrupt {
                at: start,
                reason: "invalid argument count".into(),
            });
        }
        let mut args = Vec::with_capacity(count.min(1024) as usize);
        for _ in 0..count {
            let len_at = at;
            let len = self
                .count_line(&mut at, b'$')?
                .ok_or(ReadFailure::Eof { at })?;
            if len < 0 {
                return Err(ReadFailure::Corrupt {
                    at: len_at,
                    reason: "invalid bulk length".into(),
                });
            }
            let mut arg = Vec::new();
            let read = (&mut self.r)
                .take(len as u64 + 2)
                .read_to_end(&mut arg)
                .map_err(|source| ReadFailure::Io { at, source })?;
            at += read as u64;
            if read < len as usize + 2 {
                return Err(ReadFailure::Eof { at });
            }
            if !arg.ends_with(b"\r\n") {
                return Err(ReadFailure::Corrupt {
                    at: at - 2,
                    reason: "expected CRLF after a bulk argument".into(),
                });
            }
            arg.truncate(len as usize);
            args.push(arg);
        }
        self.offset = at;
        Ok(Some(Command {
            offset: start,
            args,
        }))
    }

    /// Reads a `<prefix><integer>\r\n` line. None at end of file before any byte.
    fn count_line(&mut self, at: &mut u64, prefix: u8) -> Result<Option<i64>, ReadFailure> {
        self.line.clear();
        let start = *at;
        let n = (&mut self.r)
            .take(MAX_COUNT_LINE)
            .read_until(b'\n', &mut self.line)
            .map_err(|source| ReadFailure::Io { at: start, source })?;
        *at += n as u64;
        if n == 0 && prefix == b'*' {
            return Ok(None);
        }
        let corrupt = |reason: String| ReadFailure::Corrupt { at: start, reason };
        if self.line.first() != Some(&prefix) && !self.line.is_empty() {
            return Err(corrupt(format!("expected '{}'", prefix as char)));
        }
        if !self.line.ends_with(b"\n") {
            return if (n as u64) < MAX_COUNT_LINE {
                Err(ReadFailure::Eof { at: *at })
            } else {
                Err(corrupt("line too long".into()))
            };
        }
        let digits = self.line[1..self.line.len() - 1]
            .strip_suffix(b"\r")
            .ok_or_else(|| corrupt("expected CRLF".into()))?;
        redis_lite_protocol::number::parse_i64(digits)
            .map(Some)
            .ok_or_else(|| corrupt("invalid number".into()))
    }
}

/// What one file held.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// Whether it opened with an RDB preamble, and that preamble's summary.
    pub rdb: Option<rdb::Summary>,
    pub commands: u64,
    /// Bytes read (the whole file when it is valid).
    pub bytes: u64,
}

/// Reads one AOF file (base or incremental): an RDB preamble if it opens with `REDIS`, whose
/// events go to `on_rdb`, then RESP commands, each handed to `on_command`. MULTI blocks are
/// checked for balance: a file that ends inside one is truncated before its MULTI. `name`
/// labels errors. Every command given to `on_command` is complete; on a truncated tail the
/// caller may keep what it applied up to `valid_up_to` (and must discard an unfinished MULTI,
/// which `on_command` has seen open).
pub fn read_file<R: BufRead>(
    name: &str,
    mut r: R,
    limits: EncodingLimits,
    on_rdb: impl FnMut(rdb::Event) -> Result<(), String>,
    mut on_command: impl FnMut(Command) -> Result<(), String>,
) -> Result<FileSummary, AofError> {
    let error = |offset, valid_up_to, kind| AofError {
        file: name.to_string(),
        offset,
        valid_up_to,
        kind,
    };
    let mut summary = FileSummary::default();
    let head = r.fill_buf().map_err(|e| error(0, 0, ErrorKind::Io(e)))?;
    if head.starts_with(b"REDIS") {
        let rdb = rdb::read_rdb(&mut r, limits, on_rdb).map_err(|e| match e {
            RdbError::Visitor(msg) => error(0, 0, ErrorKind::Visitor(msg)),
            e => error(e.offset().unwrap_or(0), 0, ErrorKind::Rdb(e)),
        })?;
        summary.bytes = rdb.bytes;
        summary.rdb = Some(rdb);
    }
    let mut reader = CommandReader::new(r, summary.bytes);
    // Where the open MULTI began: the file is valid only up to there until its EXEC.
    let mut multi_at: Option<u64> = None;
    loop {
        let valid = multi_at.unwrap_or(reader.offset());
        let command = match reader.next_command() {
            Ok(Some(c)) => c,
            Ok(None) if multi_at.is_some() => {
                return Err(error(reader.offset(), valid, ErrorKind::Truncated))
            }
            Ok(None) => break,
            Err(ReadFailure::Eof { at }) => return Err(error(at, valid, ErrorKind::Truncated)),
            Err(ReadFailure::Corrupt { at, reason }) => {
                return Err(error(at, valid, ErrorKind::Corrupt(reason)))
            }
            Err(ReadFailure::Io { at, source }) => {
                return Err(error(at, valid, ErrorKind::Io(source)))
            }
        };
        let offset = command.offset;
        let name = command.args[0].to_ascii_lowercase();
        match name.as_slice() {
            b"multi" if multi_at.is_some() => {
                return Err(error(
                    offset,
                    valid,
                    ErrorKind::Corrupt("Unexpected MULTI".into()),
                ))
            }
            b"multi" => multi_at = Some(offset),
            b"exec" if multi_at.is_none() => {
                return Err(error(
                    offset,
                    valid,
                    ErrorKind::Corrupt("Unexpected EXEC".into()),
                ))
            }
            b"exec" => multi_at = None,
            _ => {}
        }
        summary.commands += 1;
        on_command(command).map_err(|msg| error(offset, valid, ErrorKind::Visitor(msg)))?;
    }
    summary.bytes = reader.offset();
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commands(data: &[u8]) -> (Vec<Vec<Vec<u8>>>, Result<FileSummary, AofError>) {
        let mut seen = Vec::new();
        let result = read_file(
            "f.aof",
            data,
            EncodingLimits::default(),
            |_| Ok(()),
            |c| {
                seen.push(c.args);
                Ok(())
            },
        );
        (seen, result)
    }

    fn encoded(cmds: &[&[&str]]) -> Vec<u8> {
        let mut out = Vec::new();
        for c in cmds {
            encode_command(&mut out, c);
        }
        out
    }

    #[test]
    fn reads_commands_with_offsets() {
        let data = encoded(&[&["SELECT", "0"], &["SET", "k", "v\r\nx"]]);
        let mut reader = CommandReader::new(&data[..], 0);
        let first = reader.next_command().ok().unwrap().unwrap();
        assert_eq!(first.offset, 0);
        let second = reader.next_command().ok().unwrap().unwrap();
        assert_eq!(second.offset, 23);
        assert_eq!(second.args[2], b"v\r\nx");
        assert!(reader.next_command().ok().unwrap().is_none());
        assert_eq!(reader.offset(), data.len() as u64);
    }

    #[test]
    fn every_truncation_is_reported_as_truncated_at_the_last_whole_command() {
        let data = encoded(&[&["SET", "a", "1"], &["SET", "bb", "22"]]);
        let first_len = encoded(&[&["SET", "a", "1"]]).len() as u64;
        for cut in first_len as usize + 1..data.len() {
            let (seen, result) = commands(&data[..cut]);
            let e = result.unwrap_err();
            assert!(e.is_truncated(), "cut at {cut}: {e}");
            assert_eq!(e.valid_up_to, first_len);
            assert_eq!(seen.len(), 1);
        }
        assert_eq!(commands(&data).1.unwrap().commands, 2);
    }

    #[test]
    fn corruption_in_the_middle_names_file_and_offset() {
        let mut data = encoded(&[&["SET", "a", "1"], &["SET", "b", "2"], &["SET", "c", "3"]]);
        let second = encoded(&[&["SET", "a", "1"]]).len();
        data[second] = b'X';
        let e = commands(&data).1.unwrap_err();
        assert!(matches!(e.kind, ErrorKind::Corrupt(_)));
        assert_eq!((e.offset, e.valid_up_to), (second as u64, second as u64));
        assert!(
            e.to_string().contains(&format!("f.aof at offset {second}")),
            "{e}"
        );
        // A bulk length that runs past its argument: the CRLF check catches it.
        let mut data = encoded(&[&["SET", "a", "1"], &["SET", "b", "2"]]);
        let pos = data.windows(2).position(|w| w == b"$1").unwrap();
        data[pos + 1] = b'3';
        assert!(matches!(
            commands(&data).1.unwrap_err().kind,
            ErrorKind::Corrupt(_)
        ));
    }

    #[test]
    fn an_unfinished_multi_is_truncated_before_it() {
        let data = encoded(&[&["SET", "a", "1"], &["MULTI"], &["SET", "b", "2"]]);
        let (seen, result) = commands(&data);
        let e = result.unwrap_err();
        assert!(e.is_truncated());
        assert_eq!(e.valid_up_to, encoded(&[&["SET", "a", "1"]]).len() as u64);
        assert_eq!(seen.len(), 3);
        let data = encoded(&[&["MULTI"], &["SET", "b", "2"], &["EXEC"]]);
        assert_eq!(commands(&data).1.unwrap().commands, 3);
        let e = commands(&encoded(&[&["EXEC"]])).1.unwrap_err();
        assert!(e.to_string().contains("Unexpected EXEC"), "{e}");
    }

    #[test]
    fn rdb_preamble_then_commands() {
        let mut data = Vec::new();
        let mut w = crate::RdbWriter::new(&mut data, crate::WriteOptions::default());
        w.write_header().unwrap();
        w.select_db(0, 1, 0).unwrap();
        w.entry(b"k", &redis_lite_engine::Value::string(b"v"), None)
            .unwrap();
        w.finish().unwrap();
        let rdb_len = data.len() as u64;
        encode_command(&mut data, &["SET", "x", "y"]);
        let mut keys = 0;
        let summary = read_file(
            "base",
            &data[..],
            EncodingLimits::default(),
            |e| {
                keys += matches!(e, rdb::Event::Entry { .. }) as u32;
                Ok(())
            },
            |c| {
                assert_eq!(c.offset, rdb_len);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!((keys, summary.commands), (1, 1));
        assert_eq!(summary.bytes, data.len() as u64);
    }

    #[test]
    fn manifest_round_trip_and_redis_errors() {
        let text = "file appendonly.aof.1.base.rdb seq 1 type b\n\
                    file appendonly.aof.1.incr.aof seq 1 type i\n\
                    file appendonly.aof.2.incr.aof seq 2 type i\n";
        let m = Manifest::parse(text.as_bytes()).unwrap();
        assert_eq!(m.base_seq(), 1);
        assert_eq!(m.incr_seq(), 2);
        assert_eq!(m.to_text(), text);
        let names: Vec<_> = m.load_order().map(|f| f.name.as_str()).collect();
        assert_eq!(names.len(), 3);
        let quoted = Manifest {
            base: Some(ManifestFile {
                name: "my file\".1.base.rdb".into(),
                seq: 1,
                kind: FileKind::Base,
            }),
            ..Manifest::default()
        };
        let text = quoted.to_text();
        assert_eq!(text, "file \"my file\\\".1.base.rdb\" seq 1 type b\n");
        assert_eq!(Manifest::parse(text.as_bytes()).unwrap(), quoted);
        let err = |t: &str| Manifest::parse(t.as_bytes()).unwrap_err();
        assert_eq!(err(""), "Found an empty AOF manifest");
        assert_eq!(err("# only a comment\n"), "Found an empty AOF manifest");
        assert_eq!(err("file a seq 1\n"), "Invalid AOF manifest file format");
        assert_eq!(
            err("file a seq 1 type b"),
            "The AOF manifest file contains too long line"
        );
        assert_eq!(
            err("file a/b seq 1 type b\n"),
            "File can't be a path, just a filename"
        );
        assert_eq!(err("file a seq 1 type x\n"), "Unknown AOF file type");
        assert_eq!(
            err("file a seq 2 type i\nfile b seq 1 type i\n"),
            "Found a non-monotonic sequence number"
        );
        assert_eq!(
            err("file a seq 1 type b\nfile b seq 2 type b\n"),
            "Found duplicate base file information"
        );
    }

    /// Found by the `aof_manifest` fuzz target: a manifest naming a file "" (Redis accepts
    /// it) was written back as `file  seq ...`, which no longer parses.
    #[test]
    fn fuzz_manifest_empty_file_name_round_trips() {
        let crash =
            b"file \"\" \r\te*\"\"  \x13e*\r\x1e8s\x82 \"\"\t\x82 \r\r \"\"  ee\x07\x07\x07\x07\
                      \x07\x07\x07.ale ee\x07\x07\x07\x07\x07\x07\x07.aly.ly.0.rdb seq 2 type i\n";
        let m = Manifest::parse(crash).unwrap();
        assert_eq!(Manifest::parse(m.to_text().as_bytes()), Ok(m));
        let empty = Manifest::parse(b"file \"\" seq 1 type b\n").unwrap();
        assert_eq!(empty.base.as_ref().unwrap().name, "");
        assert_eq!(empty.to_text(), "file \"\" seq 1 type b\n");
    }

    /// Found by the `aof_manifest` fuzz target: a file name with a single quote was written
    /// bare, and read back as an unbalanced quote.
    #[test]
    fn fuzz_manifest_single_quote_in_file_name_round_trips() {
        let m = Manifest::parse(b"file \"pp'ty\" seq 2 type i\n").unwrap();
        assert_eq!(m.to_text(), "file \"pp'ty\" seq 2 type i\n");
        assert_eq!(Manifest::parse(m.to_text().as_bytes()), Ok(m));
    }
}
