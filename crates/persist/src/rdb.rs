//! The RDB file: writer, streaming reader, and the DUMP/RESTORE payload.
//!
//! A file is `REDIS` + four version digits, then a sequence of opcodes and keys, then
//! `0xFF` and the CRC-64 of everything before it (8 bytes LE; 0 = not computed):
//! - `0xFA` aux field (two strings), `0xFE` select db (length), `0xFB` resize db (two
//!   lengths), `0xFC` expiry of the next key (i64 LE, ms), `0xFD` expiry (i32 LE, seconds),
//!   `0xF8` LRU idle (length), `0xF7` LFU frequency (one byte), `0xF5` function library.
//! - anything else is a value type byte, followed by the key (a string) and the value.
//!
//! Lengths: the top two bits of the first byte say `00` 6-bit length, `01` 14-bit
//! (big-endian over two bytes), `10` with `0x80` a u32 BE / `0x81` a u64 BE following, `11`
//! a special string encoding in the low bits: 0/1/2 an int8/int16/int32 LE, 3 LZF
//! (compressed length, original length, data).

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use redis_lite_engine::hash::Hash;
use redis_lite_engine::list::{Container, Elem, End, List};
use redis_lite_engine::set::{Member, Set};
use redis_lite_engine::stream::{Consumer, ConsumerGroup, PendingEntry, Stream, StreamId};
use redis_lite_engine::zset::ZSet;
use redis_lite_engine::{EncodingLimits, Value};
use redis_lite_protocol::number::{format_f64, parse_f64, parse_i64};

use crate::listpack::{self, Entry};
use crate::{crc64, intset, lzf, ziplist, zipmap};

/// The version this module writes (Redis 7.0's).
pub const RDB_VERSION: u16 = 10;

pub mod opcode {
    /// A function library (what Redis 7.0 GA writes).
    pub const FUNCTION2: u8 = 0xf5;
    /// The 7.0 release candidates' function format; not supported.
    pub const FUNCTION_PRE_GA: u8 = 0xf6;
    pub const FREQ: u8 = 0xf7;
    pub const IDLE: u8 = 0xf8;
    pub const MODULE_AUX: u8 = 0xf9;
    pub const AUX: u8 = 0xfa;
    pub const RESIZEDB: u8 = 0xfb;
    pub const EXPIRETIME_MS: u8 = 0xfc;
    pub const EXPIRETIME: u8 = 0xfd;
    pub const SELECTDB: u8 = 0xfe;
    pub const EOF: u8 = 0xff;
}

/// Value type bytes.
pub mod types {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Quicklist node containers (QUICKLIST_2).
const CONTAINER_PLAIN: u64 = 1;
const CONTAINER_PACKED: u64 = 2;

/// Reads of unknown-size data grow in steps of this, so a corrupt length costs no more memory
/// than the input actually supplies.
const READ_CHUNK: usize = 64 * 1024;

// ---------------------------------------------------------------------------------------------
// Errors

/// The reason given for an input that ends before its RDB does, in Redis's words.
pub const UNEXPECTED_EOF: &str = "Unexpected EOF reading RDB file";

/// Why a file (or payload) could not be read, with the byte offset where it went wrong.
#[derive(Debug)]
pub enum RdbError {
    /// The data is not a valid RDB stream.
    Corrupt { offset: u64, reason: String },
    /// The CRC at the end does not match the data.
    Checksum {
        offset: u64,
        expected: u64,
        computed: u64,
    },
    /// The underlying reader failed (not an end of file, which is `Corrupt`).
    Io { offset: u64, source: io::Error },
    /// The visitor stopped the load.
    Visitor(String),
}

impl RdbError {
    fn corrupt(offset: u64, reason: impl Into<String>) -> Self {
        RdbError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }

    /// What was wrong, in the words Redis's loader logs where it has them ("RDB CRC error",
    /// "Unexpected EOF reading RDB file", "Hash ziplist integrity check failed."...), for its
    /// "Internal error in RDB reading" line.
    pub fn reason(&self) -> String {
        match self {
            RdbError::Corrupt { reason, .. } => reason.clone(),
            RdbError::Checksum { .. } => "RDB CRC error".to_string(),
            RdbError::Io { source, .. } => source.to_string(),
            RdbError::Visitor(reason) => reason.clone(),
        }
    }

    /// Whether the input ended before the RDB did.
    pub fn is_unexpected_eof(&self) -> bool {
        matches!(self, RdbError::Corrupt { reason, .. } if reason == UNEXPECTED_EOF)
    }

    /// The byte offset the error refers to, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            RdbError::Corrupt { offset, .. }
            | RdbError::Checksum { offset, .. }
            | RdbError::Io { offset, .. } => Some(*offset),
            RdbError::Visitor(_) => None,
        }
    }
}

impl fmt::Display for RdbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RdbError::Corrupt { offset, reason } => {
                write!(f, "RDB file corrupted at offset {offset}: {reason}")
            }
            RdbError::Checksum {
                offset,
                expected,
                computed,
            } => write!(
                f,
                "RDB file corrupted at offset {offset}: wrong checksum (RDB CRC error: expected \
                 {expected:016x}, computed {computed:016x})"
            ),
            RdbError::Io { offset, source } => {
                write!(f, "error reading RDB file at offset {offset}: {source}")
            }
            RdbError::Visitor(msg) => write!(f, "RDB load aborted: {msg}"),
        }
    }
}

impl std::error::Error for RdbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RdbError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

type Result<T, E = RdbError> = std::result::Result<T, E>;

// ---------------------------------------------------------------------------------------------
// Writer

/// How a snapshot is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WriteOptions {
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes when it saves space.
    pub compression: bool,
    /// `rdbchecksum`: write the CRC-64 (else 0).
    pub checksum: bool,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            compression: true,
            checksum: true,
        }
    }
}

/// A `Write` that counts and checksums what passes through.
struct CrcWriter<W> {
    inner: W,
    crc: u64,
    checksum: bool,
    written: u64,
}

impl<W: Write> CrcWriter<W> {
    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        if self.checksum {
            self.crc = crc64::update(self.crc, data);
        }
        self.written += data.len() as u64;
        self.inner.write_all(data)
    }
}

/// Where a snapshot stands in the replication stream: written for a replica's sync, and by
/// any save of a server that is part of a replication chain, as Redis's `rdbPopulateSaveInfo`.
#[derive(Clone, Copy, Debug)]
pub struct ReplicationAux<'a> {
    pub stream_db: u64,
    pub replid: &'a str,
    pub offset: u64,
}

/// The replication place an RDB's aux fields recorded, read back at start-up so that a
/// restarted server can continue its replication stream (PSYNC after a restart).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SavedReplication {
    /// `repl-stream-db`; Redis ignores the place when it is missing or -1.
    stream_db: Option<i64>,
    /// `repl-id`, kept only with a replication ID's length (40), as Redis keeps it.
    replid: Option<String>,
    /// `repl-offset`; -1 or missing means none.
    offset: Option<i64>,
}

/// A complete place from [`SavedReplication::place`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicationPlace {
    pub stream_db: usize,
    pub replid: String,
    pub offset: u64,
}

impl ReplicationPlace {
    /// The aux fields that record it.
    pub fn aux(&self) -> ReplicationAux<'_> {
        ReplicationAux {
            stream_db: self.stream_db as u64,
            replid: &self.replid,
            offset: self.offset,
        }
    }
}

impl SavedReplication {
    /// Takes one aux field (any; those that are not about replication are ignored).
    pub fn take_aux(&mut self, key: &[u8], value: &[u8]) {
        let number = || std::str::from_utf8(value).ok()?.parse::<i64>().ok();
        match key {
            b"repl-stream-db" => self.stream_db = number(),
            b"repl-id" if value.len() == 40 => {
                self.replid = Some(String::from_utf8_lossy(value).into_owned())
            }
            b"repl-offset" => self.offset = number(),
            _ => {}
        }
    }

    /// The place, when the file recorded all of it.
    pub fn place(&self) -> Option<ReplicationPlace> {
        Some(ReplicationPlace {
            stream_db: usize::try_from(self.stream_db?).ok()?,
            replid: self.replid.clone()?,
            offset: u64::try_from(self.offset?).ok()?,
        })
    }
}

/// Streams an RDB file: `write_header`, then aux fields, then per database `select_db` and
/// its `entry`s, then `finish`.
pub struct RdbWriter<W: Write> {
    out: CrcWriter<W>,
    opts: WriteOptions,
    buf: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    pub fn new(inner: W, opts: WriteOptions) -> Self {
        RdbWriter {
            out: CrcWriter {
                inner,
                crc: 0,
                checksum: opts.checksum,
                written: 0,
            },
            opts,
            buf: Vec::new(),
        }
    }

    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.out.written
    }

    /// `REDIS0010`.
    pub fn write_header(&mut self) -> io::Result<()> {
        self.out.put(format!("REDIS{RDB_VERSION:04}").as_bytes())
    }

    /// The aux fields Redis 7.0 writes first: redis-ver, redis-bits, ctime (seconds),
    /// used-mem, aof-base.
    pub fn write_default_aux(&mut self, ctime_secs: u64, used_mem: u64) -> io::Result<()> {
        self.write_aux_fields(ctime_secs, used_mem, None)
    }

    /// The default aux fields of an AOF's RDB base, which Redis marks `aof-base` 1.
    pub fn write_aof_base_aux(&mut self, ctime_secs: u64, used_mem: u64) -> io::Result<()> {
        self.write_aux(ctime_secs, used_mem, None, true)
    }

    /// The default aux fields, with the replication stream's place (repl-stream-db, repl-id,
    /// repl-offset) before aof-base when the snapshot is for a replica, as Redis orders them.
    pub fn write_aux_fields(
        &mut self,
        ctime_secs: u64,
        used_mem: u64,
        replication: Option<ReplicationAux<'_>>,
    ) -> io::Result<()> {
        self.write_aux(ctime_secs, used_mem, replication, false)
    }

    fn write_aux(
        &mut self,
        ctime_secs: u64,
        used_mem: u64,
        replication: Option<ReplicationAux<'_>>,
        aof_base: bool,
    ) -> io::Result<()> {
        self.aux(b"redis-ver", b"7.0.15")?;
        self.aux(b"redis-bits", b"64")?;
        self.aux(b"ctime", ctime_secs.to_string().as_bytes())?;
        self.aux(b"used-mem", used_mem.to_string().as_bytes())?;
        if let Some(repl) = replication {
            self.aux(b"repl-stream-db", repl.stream_db.to_string().as_bytes())?;
            self.aux(b"repl-id", repl.replid.as_bytes())?;
            self.aux(b"repl-offset", repl.offset.to_string().as_bytes())?;
        }
        self.aux(b"aof-base", if aof_base { b"1" } else { b"0" })
    }

    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> io::Result<()> {
        self.buf.clear();
        self.buf.push(opcode::AUX);
        encode_string(&mut self.buf, key, self.opts.compression);
        encode_string(&mut self.buf, value, self.opts.compression);
        self.flush_buf()
    }

    /// A function library (its FUNCTION LOAD source); Redis writes these after the aux
    /// fields, before the databases.
    pub fn function(&mut self, code: &[u8]) -> io::Result<()> {
        self.buf.clear();
        self.buf.push(opcode::FUNCTION2);
        encode_string(&mut self.buf, code, self.opts.compression);
        self.flush_buf()
    }

    /// SELECTDB and RESIZEDB (the key and expiry counts are sizing hints for the loader).
    pub fn select_db(&mut self, db: u64, keys: u64, expires: u64) -> io::Result<()> {
        self.buf.clear();
        self.buf.push(opcode::SELECTDB);
        encode_len(&mut self.buf, db);
        self.buf.push(opcode::RESIZEDB);
        encode_len(&mut self.buf, keys);
        encode_len(&mut self.buf, expires);
        self.flush_buf()
    }

    /// One key: its expiry (absolute Unix ms) if any, type, key and value.
    pub fn entry(
        &mut self,
        key: &[u8],
        value: &Value,
        expire_at_ms: Option<i64>,
    ) -> io::Result<()> {
        self.buf.clear();
        if let Some(ms) = expire_at_ms {
            self.buf.push(opcode::EXPIRETIME_MS);
            self.buf.extend_from_slice(&ms.to_le_bytes());
        }
        self.buf.push(value_type(value));
        encode_string(&mut self.buf, key, self.opts.compression);
        encode_value(&mut self.buf, value, &self.opts);
        self.flush_buf()
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        let buf = std::mem::take(&mut self.buf);
        let r = self.out.put(&buf);
        self.buf = buf;
        // Don't keep a huge value's buffer around for the rest of the file.
        if self.buf.capacity() > 1 << 20 {
            self.buf = Vec::new();
        }
        r
    }

    /// EOF and the checksum; flushes and returns the inner writer.
    pub fn finish(mut self) -> io::Result<W> {
        self.out.put(&[opcode::EOF])?;
        let crc = if self.opts.checksum { self.out.crc } else { 0 };
        self.out.inner.write_all(&crc.to_le_bytes())?;
        self.out.written += 8;
        self.out.inner.flush()?;
        Ok(self.out.inner)
    }
}

/// The type byte Redis 7.0 writes for `value`.
pub fn value_type(value: &Value) -> u8 {
    match value {
        Value::Int(_) | Value::Str(_) | Value::RawStr(_) => types::STRING,
        Value::List(_) => types::LIST_QUICKLIST_2,
        Value::Set(s) if s.encoding() == "intset" => types::SET_INTSET,
        Value::Set(_) => types::SET,
        Value::Hash(h) if h.encoding() == "listpack" => types::HASH_LISTPACK,
        Value::Hash(_) => types::HASH,
        Value::ZSet(z) if z.encoding() == "listpack" => types::ZSET_LISTPACK,
        Value::ZSet(_) => types::ZSET_2,
        Value::Stream(_) => types::STREAM_LISTPACKS_2,
    }
}

/// An RDB length.
pub fn encode_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// An integer as Redis's INT string encodings, when it fits 32 bits.
fn encode_int(out: &mut Vec<u8>, v: i64) -> bool {
    if let Ok(b) = i8::try_from(v) {
        out.extend_from_slice(&[0xc0, b as u8]);
    } else if let Ok(h) = i16::try_from(v) {
        out.push(0xc1);
        out.extend_from_slice(&h.to_le_bytes());
    } else if let Ok(w) = i32::try_from(v) {
        out.push(0xc2);
        out.extend_from_slice(&w.to_le_bytes());
    } else {
        return false;
    }
    true
}

/// A string as Redis writes one: an INT encoding when it is a short canonical integer that
/// fits 32 bits, LZF when longer than 20 bytes and compression saves at least 4 bytes, else
/// length-prefixed.
pub fn encode_string(out: &mut Vec<u8>, s: &[u8], compression: bool) {
    if s.len() <= 11 {
        if let Some(v) = parse_i64(s) {
            if encode_int(out, v) {
                return;
            }
        }
    }
    if compression && s.len() > 20 {
        let c = lzf::compress(s);
        if c.len() + 4 <= s.len() {
            return encode_lzf(out, &c, s.len());
        }
    }
    encode_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// An LZF-compressed string: its encoding byte, both lengths, the stream.
fn encode_lzf(out: &mut Vec<u8>, packed: &[u8], raw_len: usize) {
    out.push(0xc3);
    encode_len(out, packed.len() as u64);
    encode_len(out, raw_len as u64);
    out.extend_from_slice(packed);
}

fn encode_i64_string(out: &mut Vec<u8>, v: i64) {
    if !encode_int(out, v) {
        let text = v.to_string();
        encode_len(out, text.len() as u64);
        out.extend_from_slice(text.as_bytes());
    }
}

/// A score's text as Redis's `d2string` gives it: integral values in ±2^52 as integers,
/// otherwise `%.17g` (and `inf`/`-inf`).
pub fn score_text(score: f64) -> Vec<u8> {
    let mut out = Vec::new();
    if score == 0.0 {
        out.extend_from_slice(if score.is_sign_negative() {
            b"-0"
        } else {
            b"0"
        });
    } else if score.is_finite()
        && score > -4_503_599_627_370_495.0
        && score < 4_503_599_627_370_496.0
        && score == (score as i64) as f64
    {
        out.extend_from_slice((score as i64).to_string().as_bytes());
    } else {
        format_f64(score, &mut out);
    }
    out
}

fn encode_value(out: &mut Vec<u8>, value: &Value, opts: &WriteOptions) {
    let c = opts.compression;
    match value {
        Value::Int(n) => encode_i64_string(out, *n),
        Value::Str(s) => encode_string(out, s, c),
        Value::RawStr(s) => encode_string(out, s, c),
        Value::List(l) => {
            let nodes = list_nodes(l);
            let count = nodes.len();
            encode_len(out, count as u64);
            for (i, (container, node)) in nodes.into_iter().enumerate() {
                encode_len(
                    out,
                    match container {
                        Container::Plain => CONTAINER_PLAIN,
                        Container::Packed => CONTAINER_PACKED,
                    },
                );
                // Redis writes a node it holds compressed as its LZF blob, even without
                // `rdbcompression`.
                if List::node_stays_plain(i, count, l.compress_depth())
                    || !encode_compressed_node(out, &node)
                {
                    encode_string(out, &node, c);
                }
            }
        }
        Value::Set(s) if s.encoding() == "intset" => {
            let ints: Vec<i64> = s
                .iter()
                .map(|m| match m {
                    Member::Int(n) => n,
                    Member::Bytes(b) => parse_i64(b).unwrap_or_default(),
                })
                .collect();
            encode_string(out, &intset::encode(&ints), c);
        }
        Value::Set(s) => {
            encode_len(out, s.len() as u64);
            for m in s.iter() {
                encode_string(out, &m.to_bytes(), c);
            }
        }
        Value::Hash(h) if h.encoding() == "listpack" => {
            let mut lp = listpack::Builder::new();
            for (f, v) in h.iter() {
                lp.push(f);
                lp.push(v);
            }
            encode_string(out, &lp.finish(), c);
        }
        Value::Hash(h) => {
            encode_len(out, h.len() as u64);
            for (f, v) in h.iter() {
                encode_string(out, f, c);
                encode_string(out, v, c);
            }
        }
        Value::ZSet(z) if z.encoding() == "listpack" => {
            let mut lp = listpack::Builder::new();
            z.range(0, z.len(), false, |m, s| {
                lp.push(m);
                lp.push(&score_text(s));
            });
            encode_string(out, &lp.finish(), c);
        }
        Value::ZSet(z) => {
            encode_len(out, z.len() as u64);
            // Highest score first, as Redis writes it, so a loader inserting at the head of a
            // skiplist does no searching.
            z.range(0, z.len(), true, |m, s| {
                encode_string(out, m, c);
                out.extend_from_slice(&s.to_le_bytes());
            });
        }
        Value::Stream(stream) => encode_stream(out, stream, types::STREAM_LISTPACKS_2, c),
    }
}

/// A stream as Redis 7.0 writes `STREAM_LISTPACKS_2`: the nodes (master ID, listpack), the
/// metadata, then each group with its PEL and consumers. `format` may also name the older
/// `STREAM_LISTPACKS` (no first ID, largest deleted ID, entries added or entries read) or 7.2's
/// `STREAM_LISTPACKS_3` (each consumer's active time too, taken as its seen time), which only
/// tests write, to check how such files load.
fn encode_stream(out: &mut Vec<u8>, stream: &Stream, format: u8, c: bool) {
    let encode_id = |out: &mut Vec<u8>, id: StreamId| {
        encode_len(out, id.ms);
        encode_len(out, id.seq);
    };
    let nodes: Vec<_> = stream.nodes().collect();
    encode_len(out, nodes.len() as u64);
    for (master, listpack) in nodes {
        encode_string(out, &master.to_be_bytes(), c);
        encode_string(out, &listpack, c);
    }
    encode_len(out, stream.len());
    encode_id(out, stream.last_id());
    if format != types::STREAM_LISTPACKS {
        encode_id(out, stream.first_id());
        encode_id(out, stream.max_deleted_id());
        encode_len(out, stream.entries_added());
    }
    encode_len(out, stream.groups.len() as u64);
    for (name, group) in &stream.groups {
        encode_string(out, name, c);
        encode_id(out, group.last_id);
        if format != types::STREAM_LISTPACKS {
            // Unknown is -1, written as a length the way Redis casts it.
            encode_len(out, group.entries_read.unwrap_or(u64::MAX));
        }
        encode_len(out, group.pending.len() as u64);
        for (id, pending) in &group.pending {
            out.extend_from_slice(&id.to_be_bytes());
            out.extend_from_slice(&pending.delivery_time.to_le_bytes());
            encode_len(out, pending.delivery_count);
        }
        encode_len(out, group.consumers.len() as u64);
        for (name, consumer) in &group.consumers {
            encode_string(out, name, c);
            out.extend_from_slice(&consumer.seen_time.to_le_bytes());
            if format == types::STREAM_LISTPACKS_3 {
                out.extend_from_slice(&consumer.seen_time.to_le_bytes());
            }
            encode_len(out, consumer.pending.len() as u64);
            for id in &consumer.pending {
                out.extend_from_slice(&id.to_be_bytes());
            }
        }
    }
}

/// Writes a node (a listpack, or a plain node's element) as an LZF string when a list would
/// hold it compressed; false, writing nothing, otherwise.
fn encode_compressed_node(out: &mut Vec<u8>, node: &[u8]) -> bool {
    match redis_lite_engine::list::compress_node_data(node, node.len()) {
        Some(packed) => {
            encode_lzf(out, &packed, node.len());
            true
        }
        None => false,
    }
}

/// A list's nodes as the list holds them, which is how Redis writes them: a plain node as its
/// bare element, a packed node as a listpack.
fn list_nodes(l: &List) -> Vec<(Container, Vec<u8>)> {
    let mut items = l.iter();
    let mut nodes = Vec::new();
    for shape in l.node_shapes() {
        let mut node_items = items.by_ref().take(shape.count);
        let bytes = match shape.container {
            Container::Plain => node_items.next().map(|e| e.to_vec()).unwrap_or_default(),
            Container::Packed => {
                let mut lp = listpack::Builder::new();
                for item in node_items {
                    match item.elem() {
                        Elem::Int(n) => lp.push_int(n),
                        Elem::Str(s) => lp.push(s),
                    }
                }
                lp.finish()
            }
        };
        nodes.push((shape.container, bytes));
    }
    nodes
}

/// Writes a snapshot to `path` as Redis's SAVE does: into a temporary file beside it, then
/// fsync and rename over `path`, so `path` always holds a complete file. With a keyring the
/// temporary file is sealed from its first byte. The header is written before `body` and
/// EOF/checksum after it; `body` writes aux fields and databases. Returns the RDB's size
/// (before sealing).
pub fn save_atomically(
    path: &std::path::Path,
    opts: WriteOptions,
    keyring: Option<&crate::seal::Keyring>,
    body: impl FnOnce(&mut RdbWriter<crate::seal::OutFile>) -> io::Result<()>,
) -> io::Result<u64> {
    let mut size = 0;
    write_atomically(path, "rdb", |file| {
        let mut w = RdbWriter::new(crate::seal::OutFile::new(file, keyring)?, opts);
        w.write_header()?;
        body(&mut w)?;
        size = w.written() + 9;
        w.finish()?.finish()
    })?;
    Ok(size)
}

/// The start of this process's temporary file names: `temp-<pid>`, as Redis names the file
/// its own (foreground) saves write, so tools and tests that look for it find it.
pub fn temp_file_prefix() -> String {
    format!("temp-{}", std::process::id())
}

/// The numbers of the temporary files being written now (`temp-<pid>-<n>`).
static TEMP_NUMBERS_IN_USE: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// A temporary file being written under a number of its own: dropped (done, failed or
/// unwinding from a panic), it gives its number back and removes the file unless it was
/// renamed into place.
struct TempFile {
    number: u32,
    path: std::path::PathBuf,
    renamed: bool,
}

impl TempFile {
    fn new(dir: &std::path::Path, extension: &str) -> TempFile {
        let number = {
            let mut in_use = TEMP_NUMBERS_IN_USE
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            let free = (0..).find(|n| !in_use.contains(n)).expect("a free number");
            in_use.push(free);
            free
        };
        let path = dir.join(match number {
            0 => format!("{}.{extension}", temp_file_prefix()),
            n => format!("{}-{n}.{extension}", temp_file_prefix()),
        });
        TempFile {
            number,
            path,
            renamed: false,
        }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = std::fs::remove_file(&self.path);
        }
        TEMP_NUMBERS_IN_USE
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|&n| n != self.number);
    }
}

/// Creates `path` atomically: `write` fills a temporary file beside it (and returns it),
/// which is then fsynced and renamed over `path`. On failure the temporary file is removed.
/// The file is `temp-<pid>.<extension>` as Redis's; one written meanwhile by another job gets
/// the lowest free number after the pid (`temp-<pid>-1.<extension>`...).
pub fn write_atomically(
    path: &std::path::Path,
    extension: &str,
    write: impl FnOnce(std::fs::File) -> io::Result<std::fs::File>,
) -> io::Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let mut temp = TempFile::new(dir, extension);
    let file = write(std::fs::File::create(&temp.path)?)?;
    file.sync_all()?;
    std::fs::rename(&temp.path, path)?;
    temp.renamed = true;
    // Make the rename itself durable; not every platform can open a directory.
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// DUMP / RESTORE payloads

/// DUMP's payload: the type byte and value as in an RDB file, then the RDB version (u16 LE)
/// and the CRC-64 of everything before it (u64 LE).
pub fn dump_value(value: &Value, opts: &WriteOptions) -> Vec<u8> {
    let mut out = vec![value_type(value)];
    encode_value(&mut out, value, opts);
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// DEBUG SET-SKIP-CHECKSUM-VALIDATION, process-wide as Redis's switch is: DUMP payloads and
/// RDB files are let through whatever their CRC-64, so tests can feed damaged data to the
/// decoders without forging a checksum. Everything else is still checked.
static SKIP_CHECKSUM_VALIDATION: AtomicBool = AtomicBool::new(false);

/// Turns [`SKIP_CHECKSUM_VALIDATION`] on or off.
pub fn set_skip_checksum_validation(skip: bool) {
    SKIP_CHECKSUM_VALIDATION.store(skip, Ordering::Relaxed);
}

fn checksums_skipped() -> bool {
    SKIP_CHECKSUM_VALIDATION.load(Ordering::Relaxed)
}

/// Whether a DUMP payload has a version this build reads and an intact CRC-64 footer: what
/// RESTORE checks before it decodes (a failure is its "version or checksum" error).
pub fn verify_dump_payload(payload: &[u8]) -> bool {
    let Some(footer) = payload.len().checked_sub(10) else {
        return false;
    };
    let version = u16::from_le_bytes([payload[footer], payload[footer + 1]]);
    let expected = u64::from_le_bytes(payload[footer + 2..].try_into().expect("8 bytes"));
    version <= RDB_VERSION
        && (checksums_skipped() || expected == crc64::crc64(&payload[..footer + 2]))
}

/// RESTORE's check and decode of a DUMP payload. Payloads from newer RDB versions, with a
/// wrong checksum or with trailing bytes are rejected.
pub fn restore_value(payload: &[u8], limits: EncodingLimits) -> Result<Value> {
    if !verify_dump_payload(payload) {
        return Err(RdbError::corrupt(
            0,
            "DUMP payload version or checksum are wrong",
        ));
    }
    let footer = payload.len() - 10;
    let mut input = Input::new(&payload[..footer]);
    let t = input.u8()?;
    let value = input
        .value(t, &limits)?
        .ok_or_else(|| RdbError::corrupt(0, "empty collection"))?;
    if input.offset != footer as u64 {
        return Err(RdbError::corrupt(
            input.offset,
            "trailing bytes after the value",
        ));
    }
    Ok(value)
}

/// FUNCTION DUMP's payload: each library's code as an RDB function record, then DUMP's
/// version and CRC-64 footer.
pub fn dump_functions(codes: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        out.push(opcode::FUNCTION2);
        encode_string(&mut out, code, true);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64::crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// FUNCTION RESTORE's check and decode of a payload: the libraries' code, in order.
pub fn restore_functions(payload: &[u8]) -> Result<Vec<Vec<u8>>> {
    if !verify_dump_payload(payload) {
        return Err(RdbError::corrupt(
            0,
            "payload version or checksum are wrong",
        ));
    }
    let footer = payload.len() - 10;
    let mut input = Input::new(&payload[..footer]);
    let mut codes = Vec::new();
    while input.offset < footer as u64 {
        let at = input.offset;
        if input.u8()? != opcode::FUNCTION2 {
            return Err(RdbError::corrupt(at, "given type is not a function"));
        }
        codes.push(input.string()?);
    }
    Ok(codes)
}

// ---------------------------------------------------------------------------------------------
// Reader

/// What [`read_rdb`] reports, in file order.
#[derive(Debug, PartialEq)]
pub enum Event {
    /// The file's version (first event).
    Version(u16),
    Aux {
        key: Vec<u8>,
        value: Vec<u8>,
    },
    /// Keys that follow belong to this database.
    SelectDb(u64),
    /// Sizing hints for the current database.
    ResizeDb {
        keys: u64,
        expires: u64,
    },
    /// A key. `expire_at_ms` is absolute Unix time in ms; already-expired keys are reported
    /// too (Redis drops them on a master's load, keeps them on a replica's).
    Entry {
        key: Vec<u8>,
        value: Value,
        expire_at_ms: Option<i64>,
    },
    /// A function library's code (FUNCTION LOAD's argument).
    Function(Vec<u8>),
    /// A key whose collection is empty, which is skipped (Redis logs each).
    EmptyKeySkipped(Vec<u8>),
}

/// Totals from a load.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    pub version: u16,
    pub keys: u64,
    /// Empty collections in the file, skipped as Redis does.
    pub empty_keys_skipped: u64,
    /// Whether a checksum was present and verified.
    pub checksum_verified: bool,
    /// Bytes read, up to and including the checksum.
    pub bytes: u64,
}

/// Reads an RDB stream from `r` (buffer it: reads are small), calling `visit` for each
/// event. Collections are built in the encodings the engine would choose under `limits`.
/// The CRC is computed as the data streams past and checked at the end.
pub fn read_rdb<R: Read>(
    mut r: R,
    limits: EncodingLimits,
    mut visit: impl FnMut(Event) -> Result<(), String>,
) -> Result<Summary> {
    read_rdb_once(&mut r, limits, &mut visit)
}

/// [`read_rdb`]'s body, compiled once for every reader and visitor: each caller's own copy of
/// the whole parser cost about 25 KB of the server binary, where the indirect calls cost a few
/// nanoseconds per field of a load.
fn read_rdb_once(
    r: &mut dyn Read,
    limits: EncodingLimits,
    visit: &mut dyn FnMut(Event) -> Result<(), String>,
) -> Result<Summary> {
    let mut input = Input::new(r);
    let mut magic = [0u8; 9];
    input.exact(&mut magic)?;
    if &magic[..5] != b"REDIS" {
        return Err(RdbError::corrupt(0, "wrong signature (not an RDB file)"));
    }
    let version = std::str::from_utf8(&magic[5..])
        .ok()
        .filter(|v| v.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|v| v.parse::<u16>().ok())
        .ok_or_else(|| RdbError::corrupt(5, "invalid version number"))?;
    if version == 0 || version > RDB_VERSION {
        return Err(RdbError::corrupt(
            5,
            format!("can't handle RDB format version {version}"),
        ));
    }
    let mut visit = |e: Event| visit(e).map_err(RdbError::Visitor);
    visit(Event::Version(version))?;
    let mut summary = Summary {
        version,
        ..Summary::default()
    };
    let mut expire: Option<i64> = None;
    loop {
        let at = input.offset;
        let op = input.u8()?;
        match op {
            opcode::AUX => {
                let key = input.string()?;
                let value = input.string()?;
                visit(Event::Aux { key, value })?;
            }
            opcode::SELECTDB => {
                let db = input.len()?;
                visit(Event::SelectDb(db))?;
            }
            opcode::RESIZEDB => {
                let keys = input.len()?;
                let expires = input.len()?;
                visit(Event::ResizeDb { keys, expires })?;
            }
            opcode::EXPIRETIME_MS => {
                let mut b = [0u8; 8];
                input.exact(&mut b)?;
                expire = Some(i64::from_le_bytes(b));
            }
            opcode::EXPIRETIME => {
                let mut b = [0u8; 4];
                input.exact(&mut b)?;
                expire = Some(i32::from_le_bytes(b) as i64 * 1000);
            }
            opcode::IDLE => {
                input.len()?;
            }
            opcode::FREQ => {
                input.u8()?;
            }
            opcode::FUNCTION2 => {
                let code = input.string()?;
                visit(Event::Function(code))?;
            }
            opcode::FUNCTION_PRE_GA | opcode::MODULE_AUX => {
                return Err(RdbError::corrupt(
                    at,
                    format!("unsupported opcode {op} (module or pre-release function data)"),
                ));
            }
            opcode::EOF => {
                let computed = input.crc;
                let sum_at = input.offset;
                if version >= 5 {
                    let mut b = [0u8; 8];
                    input.exact(&mut b)?;
                    let expected = u64::from_le_bytes(b);
                    if expected != 0 && !checksums_skipped() {
                        if expected != computed {
                            return Err(RdbError::Checksum {
                                offset: sum_at,
                                expected,
                                computed,
                            });
                        }
                        summary.checksum_verified = true;
                    }
                }
                summary.bytes = input.offset;
                return Ok(summary);
            }
            t => {
                if t > types::STREAM_LISTPACKS_3 || t == 8 {
                    return Err(RdbError::corrupt(at, format!("unknown value type {t}")));
                }
                let key = input.string()?;
                match input.value(t, &limits)? {
                    Some(value) => {
                        summary.keys += 1;
                        visit(Event::Entry {
                            key,
                            value,
                            expire_at_ms: expire.take(),
                        })?;
                    }
                    None => {
                        expire = None;
                        summary.empty_keys_skipped += 1;
                        visit(Event::EmptyKeySkipped(key))?;
                    }
                }
            }
        }
    }
}

/// One key as loaded.
#[derive(Debug, PartialEq)]
pub struct LoadedKey {
    pub db: u64,
    pub key: Vec<u8>,
    pub value: Value,
    pub expire_at_ms: Option<i64>,
}

/// Loads a whole stream into memory (DEBUG RELOAD-style uses and tests); prefer
/// [`read_rdb`] for anything large.
pub fn read_all<R: Read>(r: R, limits: EncodingLimits) -> Result<(Summary, Vec<LoadedKey>)> {
    let mut db = 0;
    let mut keys = Vec::new();
    let summary = read_rdb(r, limits, |e| {
        match e {
            Event::SelectDb(d) => db = d,
            Event::Entry {
                key,
                value,
                expire_at_ms,
            } => keys.push(LoadedKey {
                db,
                key,
                value,
                expire_at_ms,
            }),
            _ => {}
        }
        Ok(())
    })?;
    Ok((summary, keys))
}

/// Length or special encoding, as read.
enum Len {
    Len(u64),
    Encoded(u8),
}

/// The input with its offset and running CRC.
struct Input<R> {
    r: R,
    offset: u64,
    crc: u64,
}

impl<R: Read> Input<R> {
    fn new(r: R) -> Self {
        Input {
            r,
            offset: 0,
            crc: 0,
        }
    }

    fn exact(&mut self, buf: &mut [u8]) -> Result<()> {
        let mut done = 0;
        while done < buf.len() {
            match self.r.read(&mut buf[done..]) {
                Ok(0) => return Err(RdbError::corrupt(self.offset + done as u64, UNEXPECTED_EOF)),
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(RdbError::Io {
                        offset: self.offset + done as u64,
                        source,
                    })
                }
            }
        }
        self.crc = crc64::update(self.crc, buf);
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn u8(&mut self) -> Result<u8> {
        let mut b = [0u8; 1];
        self.exact(&mut b)?;
        Ok(b[0])
    }

    /// `len` bytes, allocated as they arrive.
    fn bytes(&mut self, len: u64) -> Result<Vec<u8>> {
        let at = self.offset;
        let len = usize::try_from(len).map_err(|_| RdbError::corrupt(at, "length too large"))?;
        let mut out = Vec::with_capacity(len.min(READ_CHUNK));
        while out.len() < len {
            let start = out.len();
            let step = (len - start).min(READ_CHUNK.max(start));
            out.resize(start + step, 0);
            self.exact(&mut out[start..])?;
        }
        Ok(out)
    }

    fn len_or_encoding(&mut self) -> Result<Len> {
        let at = self.offset;
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Len::Len((b & 0x3f) as u64),
            1 => Len::Len(((b as u64 & 0x3f) << 8) | self.u8()? as u64),
            2 => match b {
                0x80 => {
                    let mut x = [0u8; 4];
                    self.exact(&mut x)?;
                    Len::Len(u32::from_be_bytes(x) as u64)
                }
                0x81 => {
                    let mut x = [0u8; 8];
                    self.exact(&mut x)?;
                    Len::Len(u64::from_be_bytes(x))
                }
                _ => {
                    return Err(RdbError::corrupt(
                        at,
                        format!("unknown length encoding {b}"),
                    ))
                }
            },
            _ => Len::Encoded(b & 0x3f),
        })
    }

    fn len(&mut self) -> Result<u64> {
        let at = self.offset;
        match self.len_or_encoding()? {
            Len::Len(n) => Ok(n),
            Len::Encoded(_) => Err(RdbError::corrupt(
                at,
                "expected a length, found an encoded string",
            )),
        }
    }

    fn string(&mut self) -> Result<Vec<u8>> {
        let at = self.offset;
        match self.len_or_encoding()? {
            Len::Len(n) => self.bytes(n),
            Len::Encoded(0) => Ok((self.u8()? as i8).to_string().into_bytes()),
            Len::Encoded(1) => {
                let mut b = [0u8; 2];
                self.exact(&mut b)?;
                Ok(i16::from_le_bytes(b).to_string().into_bytes())
            }
            Len::Encoded(2) => {
                let mut b = [0u8; 4];
                self.exact(&mut b)?;
                Ok(i32::from_le_bytes(b).to_string().into_bytes())
            }
            Len::Encoded(3) => {
                let clen = self.len()?;
                let ulen = self.len()?;
                if ulen > clen.saturating_mul(lzf::MAX_RATIO as u64) || ulen == 0 {
                    return Err(RdbError::corrupt(
                        at,
                        format!("invalid LZF lengths (compressed {clen}, original {ulen})"),
                    ));
                }
                let data = self.bytes(clen)?;
                lzf::decompress(&data, ulen as usize)
                    .map_err(|e| RdbError::corrupt(at, e.to_string()))
            }
            Len::Encoded(e) => Err(RdbError::corrupt(
                at,
                format!("unknown string encoding {e}"),
            )),
        }
    }

    /// A ZSET (type 3) score: a length byte (253 NaN, 254 +inf, 255 -inf) and that much text.
    fn old_double(&mut self) -> Result<f64> {
        let at = self.offset;
        let n = self.u8()?;
        match n {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            _ => {
                let mut buf = vec![0u8; n as usize];
                self.exact(&mut buf)?;
                parse_f64(&buf).ok_or_else(|| RdbError::corrupt(at, "invalid double"))
            }
        }
    }

    /// A Unix time in milliseconds, as 8 bytes LE.
    fn millis(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        self.exact(&mut b)?;
        Ok(u64::from_le_bytes(b))
    }

    /// A stream ID written as two lengths.
    fn stream_id(&mut self) -> Result<StreamId> {
        Ok(StreamId::new(self.len()?, self.len()?))
    }

    /// A stream ID written raw, 16 bytes big-endian (PEL entries).
    fn raw_stream_id(&mut self) -> Result<StreamId> {
        let mut b = [0u8; 16];
        self.exact(&mut b)?;
        Ok(StreamId::from_be_bytes(&b).expect("16 bytes"))
    }

    /// A stream of type `t`: STREAM_LISTPACKS (Redis 5 and 6) has no first ID, largest
    /// deleted ID, entries-added or group entries-read, derived here as Redis 7.0 derives
    /// them on loading such a file; STREAM_LISTPACKS_3 (7.2) adds each consumer's active
    /// time, which 7.0 has no place for and drops.
    fn stream(&mut self, t: u8) -> Result<Stream> {
        let corrupt = |at: u64, reason: &str| RdbError::corrupt(at, reason.to_string());
        let mut stream = Stream::new();
        let nodes = self.len()?;
        for _ in 0..nodes {
            let at = self.offset;
            let master = StreamId::from_be_bytes(&self.string()?)
                .ok_or_else(|| corrupt(at, "stream node key is not the size of a stream ID"))?;
            let at = self.offset;
            let listpack = self.string()?;
            stream.push_node(master, &listpack).map_err(|detail| {
                corrupt(
                    at,
                    &format!("Stream listpack integrity check failed. ({detail})"),
                )
            })?;
        }
        let at = self.offset;
        let length = self.len()?;
        let last_id = self.stream_id()?;
        let (first_id, max_deleted_id, entries_added) = if t == types::STREAM_LISTPACKS {
            // Every entry counts as added and nothing as deleted: the first ID is the first
            // live entry's, and for an empty stream the largest ID, as Redis 7.0 sets it.
            let first = stream.edge_id(false).unwrap_or(StreamId::MAX);
            (first, StreamId::MIN, length)
        } else {
            (self.stream_id()?, self.stream_id()?, self.len()?)
        };
        stream
            .restore_metadata(length, last_id, first_id, max_deleted_id, entries_added)
            .map_err(|reason| corrupt(at, reason))?;
        let groups = self.len()?;
        for _ in 0..groups {
            let at = self.offset;
            let name = self.string()?;
            let last_id = self.stream_id()?;
            let entries_read = if t == types::STREAM_LISTPACKS {
                stream.estimate_entries_read(last_id)
            } else {
                // Unknown is -1, written as the largest length.
                Some(self.len()?).filter(|&n| n != u64::MAX)
            };
            let group = self.consumer_group(t, last_id, entries_read)?;
            if stream.groups.insert(name, group).is_some() {
                return Err(corrupt(at, "duplicate stream consumer group name"));
            }
        }
        Ok(stream)
    }

    /// A consumer group's PEL and consumers, after its name and IDs. Every pending entry must
    /// belong to exactly one consumer, whose own list names it.
    fn consumer_group(
        &mut self,
        t: u8,
        last_id: StreamId,
        entries_read: Option<u64>,
    ) -> Result<ConsumerGroup> {
        let corrupt = |at: u64, reason: &str| RdbError::corrupt(at, reason.to_string());
        let mut group = ConsumerGroup::new(last_id, entries_read);
        // The PEL as read, waiting for its owners: (delivery time, delivery count).
        let mut unowned = std::collections::BTreeMap::new();
        let pending = self.len()?;
        for _ in 0..pending {
            let at = self.offset;
            let id = self.raw_stream_id()?;
            let delivery_time = self.millis()?;
            let delivery_count = self.len()?;
            if unowned
                .insert(id, (delivery_time, delivery_count))
                .is_some()
            {
                return Err(corrupt(at, "duplicate stream group PEL entry"));
            }
        }
        let consumers = self.len()?;
        for _ in 0..consumers {
            let at = self.offset;
            let name: std::sync::Arc<[u8]> = self.string()?.into();
            let seen_time = self.millis()?;
            if t == types::STREAM_LISTPACKS_3 {
                self.millis()?;
            }
            let mut consumer = Consumer {
                seen_time,
                pending: Default::default(),
            };
            let owned = self.len()?;
            for _ in 0..owned {
                let id_at = self.offset;
                let id = self.raw_stream_id()?;
                let Some((delivery_time, delivery_count)) = unowned.remove(&id) else {
                    let reason = if group.pending.contains_key(&id) {
                        "stream PEL entry claimed twice by consumers"
                    } else {
                        "stream consumer PEL entry not in the group PEL"
                    };
                    return Err(corrupt(id_at, reason));
                };
                group.pending.insert(
                    id,
                    PendingEntry {
                        consumer: name.clone(),
                        delivery_time,
                        delivery_count,
                    },
                );
                consumer.pending.insert(id);
            }
            if group.consumers.insert(name, consumer).is_some() {
                return Err(corrupt(at, "Duplicate stream consumer detected."));
            }
        }
        if !unowned.is_empty() {
            return Err(corrupt(self.offset, "Stream CG PEL entry without consumer"));
        }
        Ok(group)
    }

    fn binary_double(&mut self) -> Result<f64> {
        let mut b = [0u8; 8];
        self.exact(&mut b)?;
        Ok(f64::from_le_bytes(b))
    }

    /// A value of type `t`; `None` for an empty collection.
    fn value(&mut self, t: u8, limits: &EncodingLimits) -> Result<Option<Value>> {
        let at = self.offset;
        let bad = |reason: &str| RdbError::corrupt(at, reason.to_string());
        // A packed encoding that fails its checks, named as Redis names it ("Hash ziplist
        // integrity check failed."), then what was wrong with it.
        let integrity = |encoding: &'static str| {
            move |detail: &str| {
                RdbError::corrupt(at, format!("{encoding} integrity check failed. ({detail})"))
            }
        };
        let value = match t {
            types::STRING => Value::string(&self.string()?),
            types::LIST => {
                let n = self.len()?;
                let mut list = List::with_limits(limits);
                for _ in 0..n {
                    list.push(End::Right, &self.string()?);
                }
                Value::List(Box::new(list))
            }
            types::SET => {
                let n = self.len()?;
                let mut set = Set::new();
                let max = limits.set_max_intset_entries.max(0) as usize;
                for _ in 0..n {
                    if !set.insert(&self.string()?, max) {
                        return Err(bad("Duplicate set members detected"));
                    }
                }
                Value::Set(Box::new(set))
            }
            types::ZSET | types::ZSET_2 => {
                let n = self.len()?;
                let mut z = ZSet::with_hint(n.min(u32::MAX as u64) as usize, 0, limits);
                for _ in 0..n {
                    let member = self.string()?;
                    let score = if t == types::ZSET {
                        self.old_double()?
                    } else {
                        self.binary_double()?
                    };
                    if score.is_nan() {
                        return Err(bad("Zset with NAN score detected"));
                    }
                    if z.insert(&member, score, limits).is_some() {
                        return Err(bad("Duplicate zset fields detected"));
                    }
                }
                Value::ZSet(Box::new(z))
            }
            types::HASH => {
                let n = self.len()?;
                let mut h = Hash::new();
                for _ in 0..n {
                    let f = self.string()?;
                    let v = self.string()?;
                    // Redis's words for a repeated field differ by the encoding it was
                    // building when the field came: a listpack while the hash fit one (its
                    // check comes before the field's own size converts it), a hash table after.
                    let packed = n <= limits.hash_max_listpack_entries.max(0) as u64
                        && h.encoding() == "listpack";
                    if !h.set(&f, &v, limits) {
                        return Err(bad(if packed {
                            "Hash with dup elements"
                        } else {
                            "Duplicate hash fields detected"
                        }));
                    }
                }
                Value::Hash(Box::new(h))
            }
            types::SET_INTSET => {
                let blob = self.string()?;
                let ints = intset::decode(&blob).map_err(integrity("Intset"))?;
                let mut set = Set::new();
                let max = limits.set_max_intset_entries.max(0) as usize;
                for n in ints {
                    set.insert(n.to_string().as_bytes(), max);
                }
                Value::Set(Box::new(set))
            }
            types::SET_LISTPACK => {
                let blob = self.string()?;
                let bad_blob = integrity("Set listpack");
                let entries = listpack::decode(&blob).map_err(&bad_blob)?;
                let mut set = Set::new();
                let max = limits.set_max_intset_entries.max(0) as usize;
                for e in entries {
                    if !set.insert(&e.to_vec(), max) {
                        return Err(bad_blob("duplicate member"));
                    }
                }
                Value::Set(Box::new(set))
            }
            types::LIST_ZIPLIST => {
                let blob = self.string()?;
                let entries = ziplist::decode(&blob).map_err(integrity("List ziplist"))?;
                Value::List(Box::new(list_of(&entries, limits)))
            }
            types::LIST_QUICKLIST | types::LIST_QUICKLIST_2 => {
                let nodes = self.len()?;
                let mut list = List::with_limits(limits);
                for _ in 0..nodes {
                    let container = if t == types::LIST_QUICKLIST_2 {
                        self.len()?
                    } else {
                        CONTAINER_PACKED
                    };
                    let blob = self.string()?;
                    match container {
                        CONTAINER_PLAIN if blob.is_empty() => {
                            return Err(bad("empty plain quicklist node"))
                        }
                        // Plain whatever the packed threshold now, as Redis loads it.
                        CONTAINER_PLAIN => list.push_as(End::Right, &blob, Container::Plain),
                        CONTAINER_PACKED => {
                            let is_listpack = t == types::LIST_QUICKLIST_2;
                            let encoding = if is_listpack { "Listpack" } else { "Ziplist" };
                            let entries =
                                decode_blob(&blob, is_listpack).map_err(integrity(encoding))?;
                            // An empty node is skipped, as Redis skips it; a list left with
                            // none is an empty key.
                            for e in entries {
                                push_entry(&mut list, e);
                            }
                        }
                        c => return Err(bad(&format!("unknown quicklist container {c}"))),
                    }
                }
                Value::List(Box::new(list))
            }
            types::HASH_LISTPACK | types::HASH_ZIPLIST => {
                let blob = self.string()?;
                let is_listpack = t == types::HASH_LISTPACK;
                let bad_blob = integrity(if is_listpack {
                    "Hash listpack"
                } else {
                    "Hash ziplist"
                });
                let entries = decode_pairs(&blob, is_listpack).map_err(&bad_blob)?;
                let mut h = Hash::new();
                for pair in entries.chunks_exact(2) {
                    if !h.set(&pair[0].to_vec(), &pair[1].to_vec(), limits) {
                        return Err(bad_blob("duplicate field"));
                    }
                }
                Value::Hash(Box::new(h))
            }
            types::ZSET_LISTPACK | types::ZSET_ZIPLIST => {
                let blob = self.string()?;
                let is_listpack = t == types::ZSET_LISTPACK;
                let bad_blob = integrity(if is_listpack {
                    "Zset listpack"
                } else {
                    "Zset ziplist"
                });
                let entries = decode_pairs(&blob, is_listpack).map_err(&bad_blob)?;
                let max_member = entries
                    .iter()
                    .step_by(2)
                    .map(listpack::len_hint)
                    .max()
                    .unwrap_or(0);
                let mut z = ZSet::with_hint(entries.len() / 2, max_member, limits);
                for pair in entries.chunks_exact(2) {
                    let score = match pair[1] {
                        Entry::Int(n) => n as f64,
                        Entry::Str(s) => parse_f64(s).ok_or_else(|| bad_blob("invalid score"))?,
                    };
                    if z.insert(&pair[0].to_vec(), score, limits).is_some() {
                        return Err(bad_blob("duplicate member"));
                    }
                }
                Value::ZSet(Box::new(z))
            }
            types::MODULE_PRE_GA | types::MODULE_2 => {
                return Err(bad(&format!("unsupported value type {t} (module)")))
            }
            types::HASH_ZIPMAP => {
                let blob = self.string()?;
                let mut h = Hash::new();
                let bad_blob = integrity("Zipmap");
                for (field, value) in zipmap::decode(&blob).map_err(&bad_blob)? {
                    if !h.set(field, value, limits) {
                        return Err(bad_blob("duplicate field"));
                    }
                }
                Value::Hash(Box::new(h))
            }
            types::STREAM_LISTPACKS | types::STREAM_LISTPACKS_2 | types::STREAM_LISTPACKS_3 => {
                // An empty stream is a key like any other: it stays.
                return Ok(Some(Value::Stream(Box::new(self.stream(t)?))));
            }
            _ => return Err(bad(&format!("unknown value type {t}"))),
        };
        let empty = match &value {
            Value::List(l) => l.is_empty(),
            Value::Set(s) => s.is_empty(),
            Value::Hash(h) => h.is_empty(),
            Value::ZSet(z) => z.is_empty(),
            _ => false,
        };
        Ok((!empty).then_some(value))
    }
}

/// A listpack's or a ziplist's entries.
fn decode_blob(blob: &[u8], is_listpack: bool) -> Result<Vec<Entry<'_>>, &'static str> {
    if is_listpack {
        listpack::decode(blob)
    } else {
        ziplist::decode(blob)
    }
}

/// A blob of alternating field/value (or member/score) entries.
fn decode_pairs(blob: &[u8], is_listpack: bool) -> Result<Vec<Entry<'_>>, &'static str> {
    let entries = decode_blob(blob, is_listpack)?;
    if !entries.len().is_multiple_of(2) {
        return Err("blob with an odd number of entries");
    }
    Ok(entries)
}

/// Appends an element of a listpack or ziplist node: packed whatever its size, as Redis keeps
/// such nodes.
fn push_entry(list: &mut List, e: Entry<'_>) {
    match e {
        Entry::Int(n) => list.push_as(End::Right, n.to_string().as_bytes(), Container::Packed),
        Entry::Str(s) => list.push_as(End::Right, s, Container::Packed),
    }
}

fn list_of(entries: &[Entry<'_>], limits: &EncodingLimits) -> List {
    let mut list = List::with_limits(limits);
    for &e in entries {
        push_entry(&mut list, e);
    }
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> EncodingLimits {
        EncodingLimits::default()
    }

    fn read(bytes: &[u8]) -> Result<Vec<LoadedKey>> {
        Ok(read_all(bytes, limits())?.1)
    }

    #[test]
    fn unknown_type_names_its_offset() {
        let err = read(b"REDIS0010\x63\x00").unwrap_err();
        assert_eq!(
            err.to_string(),
            "RDB file corrupted at offset 9: unknown value type 99"
        );
    }

    #[test]
    fn replication_place_reads_back_from_aux_fields() {
        let mut bytes = Vec::new();
        let mut w = RdbWriter::new(&mut bytes, WriteOptions::default());
        w.write_header().unwrap();
        let replid = "a".repeat(40);
        let aux = ReplicationAux {
            stream_db: 3,
            replid: &replid,
            offset: 1234,
        };
        w.write_aux_fields(0, 0, Some(aux)).unwrap();
        w.finish().unwrap();
        let mut saved = SavedReplication::default();
        read_rdb(&bytes[..], limits(), |event| {
            if let Event::Aux { key, value } = event {
                saved.take_aux(&key, &value);
            }
            Ok(())
        })
        .unwrap();
        let place = ReplicationPlace {
            stream_db: 3,
            replid: replid.clone(),
            offset: 1234,
        };
        assert_eq!(saved.place(), Some(place));
        // Redis ignores a place with an ID of the wrong length, or an offset of -1.
        let mut short_id = SavedReplication::default();
        short_id.take_aux(b"repl-stream-db", b"0");
        short_id.take_aux(b"repl-id", b"abc");
        short_id.take_aux(b"repl-offset", b"10");
        assert_eq!(short_id.place(), None);
        saved.take_aux(b"repl-offset", b"-1");
        assert_eq!(saved.place(), None);
        assert_eq!(SavedReplication::default().place(), None);
    }

    #[test]
    fn save_atomically_replaces_the_file() {
        let dir = std::env::temp_dir().join(format!("persist-save-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("dump.rdb");
        std::fs::write(&path, b"old").unwrap();
        let size = save_atomically(&path, WriteOptions::default(), None, |w| {
            w.select_db(0, 1, 0)?;
            w.entry(b"k", &Value::string(b"v"), None)
        })
        .unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len() as u64, size);
        let keys = read_all(&bytes[..], limits()).unwrap().1;
        assert_eq!(keys.len(), 1);
        // A failing body leaves the old file and no temporary behind.
        let err = save_atomically(&path, WriteOptions::default(), None, |_| {
            Err(io::Error::other("stop"))
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        // So does a writer that panics: its temporary file is removed as it unwinds.
        let panicked = std::panic::catch_unwind(|| {
            write_atomically(&path, "rdb", |mut file| {
                io::Write::write_all(&mut file, b"partial")?;
                panic!("a writer's bug")
            })
        });
        assert!(panicked.is_err());
        assert_eq!(std::fs::read(&path).unwrap(), bytes);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn string_encodings() {
        let enc = |s: &[u8]| {
            let mut out = Vec::new();
            encode_string(&mut out, s, true);
            out
        };
        assert_eq!(enc(b"-5"), vec![0xc0, 0xfb]);
        assert_eq!(enc(b"300"), vec![0xc1, 0x2c, 0x01]);
        assert_eq!(enc(b"70000"), vec![0xc2, 0x70, 0x11, 0x01, 0x00]);
        assert_eq!(enc(b"012"), vec![3, b'0', b'1', b'2']);
        assert_eq!(enc(b"abc"), vec![3, b'a', b'b', b'c']);
        assert_eq!(enc(&b"a".repeat(30))[0], 0xc3);
        assert_eq!(enc(&b"a".repeat(20))[0], 20);
        let mut out = Vec::new();
        encode_len(&mut out, 16384);
        assert_eq!(out, vec![0x80, 0, 0, 0x40, 0]);
    }

    /// Nodes a list holds compressed are written as LZF blobs even without `rdbcompression`
    /// (as Redis writes them), and the end nodes plain; both load back.
    #[test]
    fn compressed_list_nodes_are_written_compressed() {
        let values: Vec<Vec<u8>> = (0..5000)
            .map(|i| format!("item-{}-{}", i % 7, "z".repeat(30)).into_bytes())
            .collect();
        let list = |depth| {
            Value::List(Box::new(
                List::from_values(-2, values.iter().map(|v| &v[..])).with_compress_depth(depth),
            ))
        };
        let opts = WriteOptions {
            compression: false,
            ..WriteOptions::default()
        };
        let plain = dump_value(&list(0), &opts);
        let packed = dump_value(&list(1), &opts);
        assert!(
            packed.len() * 3 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        for payload in [plain, packed] {
            let Value::List(back) = restore_value(&payload, limits()).unwrap() else {
                panic!("not a list")
            };
            assert!(back.iter().map(|e| e.to_vec()).eq(values.iter().cloned()));
        }
    }

    #[test]
    fn old_encodings_load() {
        let zl = |items: &[&[u8]]| crate::ziplist::encode(items);
        let mut f = b"REDIS0009".to_vec();
        let mut add = |t: u8, key: &[u8], payload: Vec<u8>| {
            f.push(t);
            encode_string(&mut f, key, false);
            f.extend_from_slice(&payload);
        };
        let blob = |b: Vec<u8>| {
            let mut o = Vec::new();
            encode_string(&mut o, &b, false);
            o
        };
        add(types::LIST_ZIPLIST, b"l1", blob(zl(&[b"a", b"7"])));
        let mut ql = Vec::new();
        encode_len(&mut ql, 2);
        ql.extend(blob(zl(&[b"x"])));
        ql.extend(blob(zl(&[b"y", b"-1000000"])));
        add(types::LIST_QUICKLIST, b"l2", ql);
        add(types::HASH_ZIPLIST, b"h", blob(zl(&[b"f", b"v"])));
        add(
            types::ZSET_ZIPLIST,
            b"z",
            blob(zl(&[b"m", b"1.5", b"n", b"3"])),
        );
        let mut zs = Vec::new();
        encode_len(&mut zs, 2);
        encode_string(&mut zs, b"a", false);
        zs.extend_from_slice(&[3, b'2', b'.', b'5']);
        encode_string(&mut zs, b"b", false);
        zs.push(254);
        add(types::ZSET, b"z0", zs);
        let mut pl = Vec::new();
        encode_len(&mut pl, 2);
        encode_string(&mut pl, b"p", false);
        encode_string(&mut pl, b"q", false);
        add(types::LIST, b"l0", pl);
        f.push(opcode::EOF);
        let crc = crc64::crc64(&f);
        f.extend_from_slice(&crc.to_le_bytes());
        let got = read(&f).unwrap();
        let texts = |v: &Value| match v {
            Value::List(l) => l.iter().map(|e| e.to_vec()).collect::<Vec<_>>(),
            _ => vec![],
        };
        assert_eq!(texts(&got[0].value), vec![b"a".to_vec(), b"7".to_vec()]);
        assert_eq!(got[1].value.encoding(), "quicklist");
        assert_eq!(texts(&got[1].value).len(), 3);
        let Value::Hash(h) = &got[2].value else {
            panic!()
        };
        assert_eq!(h.get(b"f"), Some(&b"v"[..]));
        let Value::ZSet(z) = &got[3].value else {
            panic!()
        };
        assert_eq!(z.score(b"m"), Some(1.5));
        assert_eq!(z.score(b"n"), Some(3.0));
        let Value::ZSet(z) = &got[4].value else {
            panic!()
        };
        assert_eq!(z.score(b"b"), Some(f64::INFINITY));
        assert_eq!(texts(&got[5].value), vec![b"p".to_vec(), b"q".to_vec()]);
    }

    /// A stream of `format` as a DUMP payload.
    fn stream_payload(stream: &Stream, format: u8) -> Vec<u8> {
        let mut out = vec![format];
        encode_stream(&mut out, stream, format, true);
        out.extend_from_slice(&RDB_VERSION.to_le_bytes());
        let crc = crc64::crc64(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        out
    }

    fn restored_stream(payload: &[u8]) -> Result<Stream> {
        match restore_value(payload, limits())? {
            Value::Stream(s) => Ok(*s),
            other => panic!("not a stream: {other:?}"),
        }
    }

    fn id(ms: u64, seq: u64) -> StreamId {
        StreamId::new(ms, seq)
    }

    /// Entries 1-1..=5-1 with 3-1 deleted, in nodes of two entries.
    fn sample_stream() -> Stream {
        let mut s = Stream::new();
        let nodes = redis_lite_engine::stream::NodeLimits {
            max_bytes: 4096,
            max_entries: 2,
        };
        for ms in 1..=5u64 {
            let n = ms.to_string();
            let fields: [&[u8]; 4] = if ms == 4 {
                [b"other", b"x", b"1000", &[b'v'; 5000]]
            } else {
                [b"f", n.as_bytes(), b"g", b"-7"]
            };
            s.append(id(ms, 1), &fields, nodes);
        }
        s.delete(id(3, 1));
        s
    }

    /// A group with two consumers holding 1-1 and 2-1, and one with none.
    fn add_groups(s: &mut Stream) {
        let mut group = ConsumerGroup::new(id(2, 1), Some(2));
        group
            .consumer_or_create(b"alice", 1_700_000_000_123)
            .0
            .pending = [id(1, 1)].into();
        group
            .consumer_or_create(b"bob", 1_700_000_000_456)
            .0
            .pending = [id(2, 1)].into();
        for (entry, owner, count) in [(id(1, 1), &b"alice"[..], 3), (id(2, 1), b"bob", 1)] {
            let consumer = group.consumer_name(owner).unwrap();
            group.pending.insert(
                entry,
                PendingEntry {
                    consumer,
                    delivery_time: 1_700_000_000_000 + count,
                    delivery_count: count,
                },
            );
        }
        s.groups.insert(b"readers".to_vec(), group);
        s.groups
            .insert(b"idle".to_vec(), ConsumerGroup::new(id(0, 0), None));
    }

    #[test]
    fn stream_round_trips_with_groups() {
        let mut s = sample_stream();
        add_groups(&mut s);
        let payload = dump_value(
            &Value::Stream(Box::new(s.clone())),
            &WriteOptions::default(),
        );
        assert_eq!(payload[0], types::STREAM_LISTPACKS_2);
        let back = restored_stream(&payload).unwrap();
        assert!(back == s);
        assert_eq!(back.max_deleted_id(), id(3, 1));
        assert_eq!(back.entries_added(), 5);
        assert_eq!(
            dump_value(&Value::Stream(Box::new(back)), &WriteOptions::default()),
            payload
        );
        // An empty stream is a key and loads as one.
        let mut empty = Stream::new();
        empty.append(id(7, 7), &[b"f", b"v"], Default::default());
        empty.delete(id(7, 7));
        let payload = dump_value(&Value::Stream(Box::new(empty.clone())), &Default::default());
        assert!(restored_stream(&payload).unwrap() == empty);
    }

    /// What Redis 7.0.15 makes of these files, read back from it with DUMP after RESTORE.
    #[test]
    fn stream_listpacks_1_derives_what_it_lacks_as_redis_does() {
        let mut s = sample_stream();
        for (name, last) in [
            (&b"g0"[..], id(0, 0)),
            (b"gfirst", id(1, 1)),
            (b"gmid", id(2, 1)),
            (b"glast", id(5, 1)),
            (b"gfut", id(9, 9)),
        ] {
            s.groups
                .insert(name.to_vec(), ConsumerGroup::new(last, None));
        }
        let back = restored_stream(&stream_payload(&s, types::STREAM_LISTPACKS)).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.first_id(), id(1, 1));
        assert_eq!(back.max_deleted_id(), id(0, 0));
        assert_eq!(back.entries_added(), 4);
        let read = |g: &[u8]| back.groups[g].entries_read;
        assert_eq!(read(b"g0"), Some(0));
        assert_eq!(read(b"gfirst"), Some(1));
        assert_eq!(read(b"gmid"), None);
        assert_eq!(read(b"glast"), Some(4));
        assert_eq!(read(b"gfut"), None);
        // An emptied stream: nothing counts as added, and the first ID is the largest.
        let mut empty = Stream::new();
        empty.append(id(7, 7), &[b"f", b"v"], Default::default());
        empty.delete(id(7, 7));
        empty
            .groups
            .insert(b"h".to_vec(), ConsumerGroup::new(id(7, 7), None));
        let back = restored_stream(&stream_payload(&empty, types::STREAM_LISTPACKS)).unwrap();
        assert_eq!((back.len(), back.last_id()), (0, id(7, 7)));
        assert_eq!(back.first_id(), StreamId::MAX);
        assert_eq!(back.entries_added(), 0);
        assert_eq!(back.groups[&b"h"[..]].entries_read, Some(0));
    }

    #[test]
    fn stream_listpacks_3_drops_consumer_active_time() {
        let mut s = sample_stream();
        add_groups(&mut s);
        let back = restored_stream(&stream_payload(&s, types::STREAM_LISTPACKS_3)).unwrap();
        assert!(back == s);
    }

    /// Corrupt streams are refused with a reason, whichever part is wrong.
    #[test]
    fn corrupt_streams_are_refused_with_a_reason() {
        let corrupt = |edit: &dyn Fn(&mut Stream)| {
            let mut s = sample_stream();
            add_groups(&mut s);
            edit(&mut s);
            match restored_stream(&stream_payload(&s, types::STREAM_LISTPACKS_2)) {
                Err(e) => e.to_string(),
                Ok(_) => panic!("accepted"),
            }
        };
        let readers = |s: &mut Stream| s.groups.get_mut(&b"readers"[..]).unwrap().clone();
        let reason = corrupt(&|s| {
            let mut g = readers(s);
            g.pending.remove(&id(2, 1));
            s.groups.insert(b"readers".to_vec(), g);
        });
        assert!(
            reason.ends_with("stream consumer PEL entry not in the group PEL"),
            "{reason}"
        );
        let reason = corrupt(&|s| {
            let mut g = readers(s);
            g.consumers.get_mut(&b"bob"[..]).unwrap().pending.clear();
            s.groups.insert(b"readers".to_vec(), g);
        });
        assert!(
            reason.ends_with("Stream CG PEL entry without consumer"),
            "{reason}"
        );
        let reason = corrupt(&|s| {
            let mut g = readers(s);
            g.consumers
                .get_mut(&b"bob"[..])
                .unwrap()
                .pending
                .insert(id(1, 1));
            s.groups.insert(b"readers".to_vec(), g);
        });
        assert!(
            reason.ends_with("stream PEL entry claimed twice by consumers"),
            "{reason}"
        );
        let reason = corrupt(&|s| s.set_last_id(id(4, 0)));
        assert!(
            reason.ends_with("stream last ID below its last entry"),
            "{reason}"
        );

        // Byte-level damage: a node key of the wrong size, a length that disagrees, a cut.
        let s = sample_stream();
        let mut body = vec![types::STREAM_LISTPACKS_2];
        encode_len(&mut body, 1);
        encode_string(&mut body, b"short", false);
        encode_string(&mut body, &s.nodes().next().unwrap().1, false);
        let seal = |mut body: Vec<u8>| {
            body.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = crc64::crc64(&body);
            body.extend_from_slice(&crc.to_le_bytes());
            body
        };
        let reason = restored_stream(&seal(body)).unwrap_err().to_string();
        assert!(
            reason.ends_with("stream node key is not the size of a stream ID"),
            "{reason}"
        );
        let good = stream_payload(&s, types::STREAM_LISTPACKS_2);
        let mut body = good[..good.len() - 10].to_vec();
        let nodes_end = {
            let mut out = vec![types::STREAM_LISTPACKS_2];
            let nodes: Vec<_> = s.nodes().collect();
            encode_len(&mut out, nodes.len() as u64);
            for (master, lp) in nodes {
                encode_string(&mut out, &master.to_be_bytes(), true);
                encode_string(&mut out, &lp, true);
            }
            out.len()
        };
        body[nodes_end] = 9;
        let reason = restored_stream(&seal(body.clone()))
            .unwrap_err()
            .to_string();
        assert!(
            reason.ends_with("stream length does not match its nodes"),
            "{reason}"
        );
        for cut in [1, nodes_end / 2, nodes_end + 3, body.len() - 1] {
            assert!(restored_stream(&seal(body[..cut].to_vec())).is_err());
        }
    }

    /// Whatever byte of a stream's payload is damaged, loading refuses it or yields a stream
    /// that can be read end to end and saved again: never a panic.
    #[test]
    fn damaged_stream_bytes_never_panic() {
        let mut s = Stream::new();
        let nodes = redis_lite_engine::stream::NodeLimits {
            max_bytes: 4096,
            max_entries: 2,
        };
        for ms in 1..=5u64 {
            let fields: [&[u8]; 4] = if ms == 4 {
                [b"other", b"x", b"1000", &[b'v'; 80]]
            } else {
                [b"f", b"1", b"g", b"-7"]
            };
            s.append(id(ms, 1), &fields, nodes);
        }
        s.delete(id(3, 1));
        add_groups(&mut s);
        // Uncompressed, so that damage reaches the nodes' listpacks rather than LZF's data.
        let mut body = vec![types::STREAM_LISTPACKS_2];
        encode_stream(&mut body, &s, types::STREAM_LISTPACKS_2, false);
        let mut loaded_damaged = 0;
        for at in 1..body.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut damaged = body.to_vec();
                damaged[at] ^= flip;
                damaged.extend_from_slice(&RDB_VERSION.to_le_bytes());
                let crc = crc64::crc64(&damaged);
                damaged.extend_from_slice(&crc.to_le_bytes());
                if let Ok(loaded) = restored_stream(&damaged) {
                    loaded_damaged += 1;
                    for entry in loaded.range(StreamId::MIN, StreamId::MAX, false) {
                        entry.fields().for_each(drop);
                    }
                    loaded
                        .range(StreamId::MIN, StreamId::MAX, true)
                        .for_each(drop);
                    dump_value(&Value::Stream(Box::new(loaded)), &WriteOptions::default());
                }
            }
        }
        // Some damage is harmless (a value's bytes, a delivery time): those loads are tested.
        assert!(loaded_damaged > 0);
    }
}
