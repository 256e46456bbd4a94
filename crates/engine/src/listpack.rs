//! Listpacks: the compact sequence Redis 7.0 stores small hashes, sorted sets, list nodes and
//! stream nodes in, and writes into RDB as one string. The engine's lists and streams keep their
//! nodes' entries in this format (without the header and terminator, which a node's owner
//! knows), so one codec serves memory and files.
//!
//! Layout: `total-bytes: u32 LE`, `count: u16 LE` (65535 = "count it"), the entries, then
//! `0xFF`. Each entry is `encoding [data] backlen`, where `backlen` is the size of
//! `encoding [data]` in 1-5 bytes that read right to left, 7 bits each (the high bit marks
//! "another byte to the left"). Encodings, by the first byte:
//! - `0xxxxxxx`: unsigned 7-bit integer.
//! - `10xxxxxx`: string of up to 63 bytes.
//! - `110xxxxx yyyyyyyy`: signed 13-bit integer.
//! - `1110xxxx yyyyyyyy`: string of up to 4095 bytes (length big-endian across the two).
//! - `11110000` + u32 LE length: longer string.
//! - `11110001`/`11110010`/`11110011`/`11110100`: 16/24/32/64-bit signed integer, LE.
//!
//! Strings that are the canonical text of an `i64` are stored as integers, as Redis does.

use redis_lite_protocol::number::parse_i64;

/// One listpack (or ziplist) element as stored: an integer or bytes.
pub use crate::list::Elem as Entry;
use crate::list::Elem;

/// An entry's length, as text, at most (for encoding decisions).
pub fn len_hint(e: &Entry<'_>) -> usize {
    match e {
        Entry::Int(_) => 20,
        Entry::Str(s) => s.len(),
    }
}

/// The integer a string is stored as, if it is a canonical `i64`.
pub fn as_int(bytes: &[u8]) -> Option<i64> {
    if bytes.len() <= 20 {
        parse_i64(bytes)
    } else {
        None
    }
}

/// Bytes a listpack spends beyond its entries: a 6-byte header and a 1-byte terminator.
pub const LISTPACK_OVERHEAD: usize = 7;

// Header bytes of the fixed-width encodings.
const STR32: u8 = 0xF0;
const INT16: u8 = 0xF1;
const INT24: u8 = 0xF2;
const INT32: u8 = 0xF3;
const INT64: u8 = 0xF4;

/// An element's entry, ready to be written: its header (which holds integers whole) and its
/// payload; its size is known before writing, so buffers grow exactly, as a listpack does.
pub struct Encoded<'a> {
    head: [u8; 9],
    head_len: usize,
    payload: &'a [u8],
}

impl<'a> Encoded<'a> {
    /// A value's entry: an integer when its text is a canonical `i64`, otherwise a string.
    pub fn new(value: &'a [u8]) -> Self {
        match as_int(value) {
            Some(n) => Encoded::int(n),
            None => Encoded::string(value),
        }
    }

    /// An integer's entry, in the smallest width that holds it.
    pub fn int(n: i64) -> Self {
        let mut head = [0u8; 9];
        let head_len = match n {
            0..=127 => {
                head[0] = n as u8;
                1
            }
            -4096..=4095 => {
                let bits = (n as u16) & 0x1FFF;
                head[..2].copy_from_slice(&[0xC0 | (bits >> 8) as u8, bits as u8]);
                2
            }
            _ => {
                let (tag, width) = if i16::try_from(n).is_ok() {
                    (INT16, 2)
                } else if (-(1 << 23)..1 << 23).contains(&n) {
                    (INT24, 3)
                } else if i32::try_from(n).is_ok() {
                    (INT32, 4)
                } else {
                    (INT64, 8)
                };
                head[0] = tag;
                head[1..=width].copy_from_slice(&n.to_le_bytes()[..width]);
                1 + width
            }
        };
        Encoded {
            head,
            head_len,
            payload: &[],
        }
    }

    /// A string's entry, whatever its text.
    pub fn string(value: &'a [u8]) -> Self {
        let mut head = [0u8; 9];
        let len = value.len();
        let head_len = if len < 64 {
            head[0] = 0x80 | len as u8;
            1
        } else if len < 4096 {
            head[..2].copy_from_slice(&[0xE0 | (len >> 8) as u8, len as u8]);
            2
        } else {
            head[0] = STR32;
            head[1..5].copy_from_slice(&(len as u32).to_le_bytes());
            5
        };
        Encoded {
            head,
            head_len,
            payload: value,
        }
    }

    /// Total bytes of the entry, backlen included.
    pub fn size(&self) -> usize {
        let body = self.head_len + self.payload.len();
        body + backlen_size(body)
    }

    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.head[..self.head_len]);
        out.extend_from_slice(self.payload);
        push_backlen(self.head_len + self.payload.len(), out);
    }

    /// Writes the entry over `out`, which is exactly [`Encoded::size`] bytes: an insert into
    /// the middle of a node opens the gap and fills it in place, with no copy of the entry.
    pub fn write_into(&self, out: &mut [u8]) {
        let (head, rest) = out.split_at_mut(self.head_len);
        head.copy_from_slice(&self.head[..self.head_len]);
        let (payload, backlen) = rest.split_at_mut(self.payload.len());
        payload.copy_from_slice(self.payload);
        write_backlen(self.head_len + self.payload.len(), backlen);
    }

    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.size());
        self.write_to(&mut out);
        out
    }
}

/// Bytes the backlen of an entry of `len` bytes takes: 7 bits per byte.
pub fn backlen_size(len: usize) -> usize {
    match len {
        0..128 => 1,
        128..16384 => 2,
        16384..2_097_152 => 3,
        2_097_152..268_435_456 => 4,
        _ => 5,
    }
}

/// Writes `len` so it reads from the right: the last byte holds the lowest 7 bits, and each
/// byte's high bit says another byte lies to its left.
pub fn push_backlen(len: usize, out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + backlen_size(len), 0);
    write_backlen(len, &mut out[start..]);
}

/// [`push_backlen`] over `out`, which is exactly [`backlen_size`] bytes.
fn write_backlen(len: usize, out: &mut [u8]) {
    debug_assert_eq!(out.len(), backlen_size(len));
    let last = out.len() - 1;
    for (i, byte) in out.iter_mut().enumerate() {
        let more = if i > 0 { 0x80 } else { 0 };
        *byte = ((len >> (7 * (last - i))) & 0x7F) as u8 | more;
    }
}

/// The entry's header and payload sizes, from its first byte (and length bytes).
pub fn entry_parts(data: &[u8], pos: usize) -> (usize, usize) {
    let b = data[pos];
    match b {
        0x00..=0x7F => (1, 0),
        0x80..=0xBF => (1, (b & 0x3F) as usize),
        0xC0..=0xDF => (2, 0),
        0xE0..=0xEF => (2, ((b as usize & 0x0F) << 8) | data[pos + 1] as usize),
        STR32 => {
            let len = u32::from_le_bytes(data[pos + 1..pos + 5].try_into().expect("4 bytes"));
            (5, len as usize)
        }
        INT16 => (1, 2),
        INT24 => (1, 3),
        INT32 => (1, 4),
        INT64 => (1, 8),
        _ => unreachable!("invalid listpack entry header {b:#x}"),
    }
}

/// Total bytes of the entry at `pos`, backlen included.
pub fn entry_len(data: &[u8], pos: usize) -> usize {
    let (header, payload) = entry_parts(data, pos);
    header + payload + backlen_size(header + payload)
}

/// Where the entry that ends at `end` starts, read from its backlen.
pub fn entry_start_before(data: &[u8], end: usize) -> usize {
    let mut pos = end - 1;
    let mut len = (data[pos] & 0x7F) as usize;
    let mut shift = 7;
    while data[pos] & 0x80 != 0 {
        pos -= 1;
        len |= ((data[pos] & 0x7F) as usize) << shift;
        shift += 7;
    }
    pos - len
}

/// The element whose entry starts at `pos` (trusted data: the engine's own buffers).
pub fn elem_at(data: &[u8], pos: usize) -> Elem<'_> {
    let b = data[pos];
    let int_le = |width: usize| {
        let mut bytes = [0u8; 8];
        bytes[..width].copy_from_slice(&data[pos + 1..pos + 1 + width]);
        // Sign-extend from the stored width.
        let shift = 64 - 8 * width as u32;
        (i64::from_le_bytes(bytes) << shift) >> shift
    };
    match b {
        0x00..=0x7F => Elem::Int(b as i64),
        0xC0..=0xDF => {
            let bits = (((b & 0x1F) as i64) << 8) | data[pos + 1] as i64;
            Elem::Int((bits << 51) >> 51)
        }
        INT16 => Elem::Int(int_le(2)),
        INT24 => Elem::Int(int_le(3)),
        INT32 => Elem::Int(int_le(4)),
        INT64 => Elem::Int(int_le(8)),
        _ => {
            let (header, len) = entry_parts(data, pos);
            Elem::Str(&data[pos + header..pos + header + len])
        }
    }
}

const HEADER: usize = 6;

/// Builds a listpack entry by entry.
#[derive(Clone, Debug)]
pub struct Builder {
    buf: Vec<u8>,
    count: usize,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            buf: vec![0; HEADER],
            count: 0,
        }
    }

    pub fn count(&self) -> usize {
        self.count
    }

    /// Undoes the last push (for callers that push, then find the entry does not fit).
    pub fn pop_last(&mut self, mark: usize) {
        self.buf.truncate(mark);
        self.count -= 1;
    }

    /// Where the next entry will start; pass to [`Builder::pop_last`] to undo it.
    pub fn mark(&self) -> usize {
        self.buf.len()
    }

    /// The size the finished listpack would have.
    pub fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Appends a string, as an integer when it is one.
    pub fn push(&mut self, s: &[u8]) {
        self.push_encoded(Encoded::new(s));
    }

    pub fn push_int(&mut self, v: i64) {
        self.push_encoded(Encoded::int(v));
    }

    pub fn push_entry(&mut self, e: Entry<'_>) {
        match e {
            Entry::Int(n) => self.push_int(n),
            Entry::Str(s) => self.push_encoded(Encoded::string(s)),
        }
    }

    fn push_encoded(&mut self, entry: Encoded<'_>) {
        entry.write_to(&mut self.buf);
        self.count += 1;
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.buf.push(0xff);
        let total = self.buf.len() as u32;
        self.buf[..4].copy_from_slice(&total.to_le_bytes());
        let count = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&count.to_le_bytes());
        self.buf
    }
}

/// Reads the backlen ending just before `end`; returns (value, bytes used).
fn decode_backlen(buf: &[u8], end: usize) -> Option<(usize, usize)> {
    let mut v = 0usize;
    let mut used = 0;
    loop {
        let b = *buf.get(end.checked_sub(used + 1)?)?;
        v |= ((b & 127) as usize) << (7 * used);
        used += 1;
        if b & 128 == 0 {
            return Some((v, used));
        }
        if used == 5 {
            return None;
        }
    }
}

/// A little-endian two's complement integer of 1-8 bytes.
pub fn le_int(b: &[u8]) -> i64 {
    let mut v: u64 = 0;
    for (i, &x) in b.iter().enumerate() {
        v |= (x as u64) << (8 * i);
    }
    // Sign-extend from b.len() bytes.
    let shift = 64 - 8 * b.len() as u32;
    ((v << shift) as i64) >> shift
}

/// Decodes and validates a whole listpack.
pub fn decode(lp: &[u8]) -> Result<Vec<Entry<'_>>, &'static str> {
    if lp.len() < HEADER + 1 {
        return Err("listpack too short");
    }
    let total = u32::from_le_bytes(lp[..4].try_into().unwrap()) as usize;
    if total != lp.len() {
        return Err("listpack size mismatch");
    }
    let count = u16::from_le_bytes([lp[4], lp[5]]) as usize;
    if lp[lp.len() - 1] != 0xff {
        return Err("listpack missing terminator");
    }
    let body = &lp[..lp.len() - 1];
    let mut entries = Vec::new();
    let mut p = HEADER;
    while p < body.len() {
        let start = p;
        let b = body[p];
        let need = |n: usize| -> Result<&[u8], &'static str> {
            body.get(start + 1..start + 1 + n)
                .ok_or("listpack entry out of range")
        };
        let (entry, len) = if b & 0x80 == 0 {
            (Entry::Int(b as i64), 1)
        } else if b & 0xc0 == 0x80 {
            let n = (b & 0x3f) as usize;
            (Entry::Str(need(n)?), 1 + n)
        } else if b & 0xe0 == 0xc0 {
            let low = need(1)?[0] as u64;
            let u = ((b as u64 & 0x1f) << 8) | low;
            let v = if u >= 1 << 12 {
                u as i64 - (1 << 13)
            } else {
                u as i64
            };
            (Entry::Int(v), 2)
        } else if b & 0xf0 == 0xe0 {
            let n = ((b as usize & 0x0f) << 8) | need(1)?[0] as usize;
            let s = body
                .get(start + 2..start + 2 + n)
                .ok_or("listpack entry out of range")?;
            (Entry::Str(s), 2 + n)
        } else {
            match b {
                0xf0 => {
                    let n = u32::from_le_bytes(need(4)?.try_into().unwrap()) as usize;
                    let s = body
                        .get(start + 5..(start + 5).saturating_add(n))
                        .ok_or("listpack entry out of range")?;
                    (Entry::Str(s), 5 + n)
                }
                0xf1 => (Entry::Int(le_int(need(2)?)), 3),
                0xf2 => (Entry::Int(le_int(need(3)?)), 4),
                0xf3 => (Entry::Int(le_int(need(4)?)), 5),
                0xf4 => (Entry::Int(le_int(need(8)?)), 9),
                _ => return Err("listpack invalid entry encoding"),
            }
        };
        p = start + len;
        p += find_backlen(body, p, len).ok_or("listpack backlen mismatch")?;
        entries.push(entry);
    }
    if p != body.len() {
        return Err("listpack entry out of range");
    }
    if count != 65535 && count != entries.len() {
        return Err("listpack count mismatch");
    }
    Ok(entries)
}

/// Finds the backlen that starts at `p` and records `len`: the shortest 1-5 byte run that
/// reads right to left as exactly `len`.
fn find_backlen(buf: &[u8], p: usize, len: usize) -> Option<usize> {
    (1..=5).find(|&size| decode_backlen(buf, p + size) == Some((len, size)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        let mut b = Builder::new();
        b.push(b"a");
        b.push(b"5");
        b.push(b"-1");
        let lp = b.finish();
        assert_eq!(
            lp,
            vec![
                15, 0, 0, 0, 3, 0, // header
                0x81, b'a', 2, // "a"
                5, 1, // 5
                0xdf, 0xff, 2, // -1 as 13-bit
                0xff
            ]
        );
        assert_eq!(
            decode(&lp).unwrap(),
            vec![Entry::Str(b"a"), Entry::Int(5), Entry::Int(-1)]
        );
    }

    #[test]
    fn every_integer_width() {
        let values = [
            0,
            127,
            128,
            -4096,
            4095,
            4096,
            -32768,
            32767,
            32768,
            -8_388_608,
            8_388_607,
            8_388_608,
            i32::MIN as i64,
            i32::MAX as i64,
            i32::MAX as i64 + 1,
            i64::MIN,
            i64::MAX,
        ];
        let mut b = Builder::new();
        for v in values {
            b.push_int(v);
        }
        let lp = b.finish();
        let got: Vec<_> = decode(&lp).unwrap();
        assert_eq!(got, values.map(Entry::Int).to_vec());
    }

    #[test]
    fn long_strings_and_backlens() {
        for n in [63, 64, 4095, 4096, 16380, 16383, 20000] {
            let s = vec![b'x'; n];
            let mut b = Builder::new();
            b.push(&s);
            b.push(b"z");
            let lp = b.finish();
            assert_eq!(decode(&lp).unwrap(), vec![Entry::Str(&s), Entry::Str(b"z")]);
        }
    }

    #[test]
    fn rejects_bad() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[7, 0, 0, 0, 0, 0, 0xfe]).is_err());
        assert!(decode(&[8, 0, 0, 0, 1, 0, 0xf4, 0xff]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(items in proptest::collection::vec(
            prop_oneof![any::<i64>().prop_map(|n| n.to_string().into_bytes()),
                        proptest::collection::vec(any::<u8>(), 0..300)], 0..40)) {
            let mut b = Builder::new();
            for i in &items { b.push(i); }
            let lp = b.finish();
            let got: Vec<Vec<u8>> = decode(&lp).unwrap().into_iter().map(Entry::to_vec).collect();
            prop_assert_eq!(got, items);
        }
    }
}
