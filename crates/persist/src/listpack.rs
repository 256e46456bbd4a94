//! Listpacks: the compact sequence Redis 7.0 stores small hashes, sorted sets and list nodes
//! in, and writes into RDB as one string.
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

/// One listpack (or ziplist) element as stored: the engine's list element type, an integer
/// or bytes.
pub use redis_lite_engine::list::Elem as Entry;

/// An entry's length, as text, at most (for encoding decisions).
pub fn len_hint(e: &Entry<'_>) -> usize {
    match e {
        Entry::Int(_) => 20,
        Entry::Str(s) => s.len(),
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
        match parse_i64(s) {
            Some(n) if s.len() <= 20 => self.push_int(n),
            _ => self.push_str(s),
        }
    }

    pub fn push_int(&mut self, v: i64) {
        let start = self.buf.len();
        if (0..=127).contains(&v) {
            self.buf.push(v as u8);
        } else if (-4096..=4095).contains(&v) {
            let u = (v as u64) & 0x1fff;
            self.buf
                .extend_from_slice(&[0xc0 | (u >> 8) as u8, u as u8]);
        } else if (-32768..=32767).contains(&v) {
            self.buf.push(0xf1);
            self.buf.extend_from_slice(&(v as i16).to_le_bytes());
        } else if (-8_388_608..=8_388_607).contains(&v) {
            self.buf.push(0xf2);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes()[..3]);
        } else if i32::try_from(v).is_ok() {
            self.buf.push(0xf3);
            self.buf.extend_from_slice(&(v as i32).to_le_bytes());
        } else {
            self.buf.push(0xf4);
            self.buf.extend_from_slice(&v.to_le_bytes());
        }
        self.finish_entry(start);
    }

    pub fn push_str(&mut self, s: &[u8]) {
        let start = self.buf.len();
        let n = s.len();
        if n < 64 {
            self.buf.push(0x80 | n as u8);
        } else if n < 4096 {
            self.buf
                .extend_from_slice(&[0xe0 | (n >> 8) as u8, n as u8]);
        } else {
            self.buf.push(0xf0);
            self.buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        self.buf.extend_from_slice(s);
        self.finish_entry(start);
    }

    pub fn push_entry(&mut self, e: Entry<'_>) {
        match e {
            Entry::Int(n) => self.push_int(n),
            Entry::Str(s) => self.push_str(s),
        }
    }

    fn finish_entry(&mut self, start: usize) {
        let l = self.buf.len() - start;
        encode_backlen(l, &mut self.buf);
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

/// The size of an entry of `l` bytes' backlen.
fn encode_backlen(l: usize, out: &mut Vec<u8>) {
    if l <= 127 {
        out.push(l as u8);
    } else if l < 16383 {
        out.extend_from_slice(&[(l >> 7) as u8, (l & 127) as u8 | 128]);
    } else if l < 2_097_151 {
        out.extend_from_slice(&[
            (l >> 14) as u8,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else if l < 268_435_455 {
        out.extend_from_slice(&[
            (l >> 21) as u8,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
    } else {
        out.extend_from_slice(&[
            (l >> 28) as u8,
            ((l >> 21) & 127) as u8 | 128,
            ((l >> 14) & 127) as u8 | 128,
            ((l >> 7) & 127) as u8 | 128,
            (l & 127) as u8 | 128,
        ]);
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
pub(crate) fn le_int(b: &[u8]) -> i64 {
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
