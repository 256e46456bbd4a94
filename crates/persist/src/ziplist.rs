//! Ziplists: the compact sequence before listpacks (Redis up to 6.2), which Redis 7.0 still
//! loads from older RDB files. Decoding only.
//!
//! Layout: `zlbytes: u32 LE`, `zltail: u32 LE` (offset of the last entry), `zllen: u16 LE`
//! (65535 = "count it"), entries, `0xFF`. Each entry is `prevlen encoding [data]`: `prevlen`
//! is the previous entry's size in one byte, or `0xFE` and a u32 LE when 254 or more. The
//! encoding's first byte:
//! - `00xxxxxx`: string of up to 63 bytes; `01xxxxxx yyyyyyyy`: up to 16383 (big-endian);
//!   `10000000` + u32 big-endian length.
//! - `11000000` int16, `11010000` int32, `11100000` int64, `11110000` int24,
//!   `11111110` int8 (all little-endian); `1111xxxx` with xxxx in 1..=13: the value xxxx - 1.

use crate::listpack::{le_int, Entry};

/// Decodes and validates a whole ziplist.
pub fn decode(zl: &[u8]) -> Result<Vec<Entry<'_>>, &'static str> {
    const OOR: &str = "ziplist entry out of range";
    if zl.len() < 11 {
        return Err("ziplist too short");
    }
    if u32::from_le_bytes(zl[..4].try_into().unwrap()) as usize != zl.len() {
        return Err("ziplist size mismatch");
    }
    let tail = u32::from_le_bytes(zl[4..8].try_into().unwrap()) as usize;
    let count = u16::from_le_bytes([zl[8], zl[9]]) as usize;
    if zl[zl.len() - 1] != 0xff {
        return Err("ziplist missing terminator");
    }
    let body = &zl[..zl.len() - 1];
    let mut entries = Vec::new();
    let mut p = 10;
    let mut prev_size = 0usize;
    let mut last_start = 10;
    while p < body.len() {
        let start = p;
        let (prevlen, mut q) = if body[p] < 254 {
            (body[p] as usize, p + 1)
        } else if body[p] == 254 {
            let b = body.get(p + 1..p + 5).ok_or(OOR)?;
            (u32::from_le_bytes(b.try_into().unwrap()) as usize, p + 5)
        } else {
            return Err("ziplist invalid prevlen");
        };
        if prevlen != prev_size {
            return Err("ziplist prevlen mismatch");
        }
        let enc = *body.get(q).ok_or(OOR)?;
        q += 1;
        let take =
            |from: usize, n: usize| body.get(from..from.checked_add(n).ok_or(OOR)?).ok_or(OOR);
        let entry = match enc >> 6 {
            0 => {
                let n = (enc & 0x3f) as usize;
                let s = take(q, n)?;
                q += n;
                Entry::Str(s)
            }
            1 => {
                let n = ((enc as usize & 0x3f) << 8) | *body.get(q).ok_or(OOR)? as usize;
                q += 1;
                let s = take(q, n)?;
                q += n;
                Entry::Str(s)
            }
            2 => {
                if enc != 0x80 {
                    return Err("ziplist invalid encoding");
                }
                let n = u32::from_be_bytes(take(q, 4)?.try_into().unwrap()) as usize;
                q += 4;
                let s = take(q, n)?;
                q += n;
                Entry::Str(s)
            }
            _ => {
                let width = match enc {
                    0xc0 => 2,
                    0xd0 => 4,
                    0xe0 => 8,
                    0xf0 => 3,
                    0xfe => 1,
                    0xf1..=0xfd => 0,
                    _ => return Err("ziplist invalid encoding"),
                };
                if width == 0 {
                    Entry::Int((enc & 0x0f) as i64 - 1)
                } else {
                    let v = le_int(take(q, width)?);
                    q += width;
                    Entry::Int(v)
                }
            }
        };
        prev_size = q - start;
        last_start = start;
        p = q;
        entries.push(entry);
    }
    if !entries.is_empty() && tail != last_start {
        return Err("ziplist tail offset mismatch");
    }
    if count != 65535 && count != entries.len() {
        return Err("ziplist count mismatch");
    }
    Ok(entries)
}

/// Encodes a ziplist (for tests of the older RDB types; Redis 7.0 never writes them).
#[cfg(test)]
pub fn encode(items: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![0u8; 10];
    let mut prev = 0usize;
    let mut tail = 10;
    for item in items {
        let start = out.len();
        tail = start;
        if prev < 254 {
            out.push(prev as u8);
        } else {
            out.push(254);
            out.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        match redis_lite_protocol::number::parse_i64(item) {
            Some(v) if (0..=12).contains(&v) => out.push(0xf1 + v as u8),
            Some(v) if i8::try_from(v).is_ok() => out.extend_from_slice(&[0xfe, v as u8]),
            Some(v) if i16::try_from(v).is_ok() => {
                out.push(0xc0);
                out.extend_from_slice(&(v as i16).to_le_bytes());
            }
            Some(v) if i32::try_from(v).is_ok() => {
                out.push(0xd0);
                out.extend_from_slice(&(v as i32).to_le_bytes());
            }
            Some(v) => {
                out.push(0xe0);
                out.extend_from_slice(&v.to_le_bytes());
            }
            None => {
                let n = item.len();
                if n < 64 {
                    out.push(n as u8);
                } else if n < 16384 {
                    out.extend_from_slice(&[0x40 | (n >> 8) as u8, n as u8]);
                } else {
                    out.push(0x80);
                    out.extend_from_slice(&(n as u32).to_be_bytes());
                }
                out.extend_from_slice(item);
            }
        }
        prev = out.len() - start;
    }
    out.push(0xff);
    let total = out.len() as u32;
    out[..4].copy_from_slice(&total.to_le_bytes());
    out[4..8].copy_from_slice(&(tail as u32).to_le_bytes());
    out[8..10].copy_from_slice(&(items.len().min(65535) as u16).to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The example in the published ziplist layout description: the integers 2 and 5.
    #[test]
    fn documented_example() {
        let zl = [
            0x0f, 0, 0, 0, 0x0c, 0, 0, 0, 2, 0, 0x00, 0xf3, 0x02, 0xf6, 0xff,
        ];
        assert_eq!(decode(&zl).unwrap(), vec![Entry::Int(2), Entry::Int(5)]);
        let items: [&[u8]; 2] = [b"2", b"5"];
        assert_eq!(encode(&items), zl);
    }

    #[test]
    fn empty_and_bad() {
        let zl = encode(&[]);
        assert_eq!(zl, vec![11, 0, 0, 0, 10, 0, 0, 0, 0, 0, 0xff]);
        assert_eq!(decode(&zl).unwrap(), vec![]);
        assert!(decode(&[11, 0, 0, 0, 10, 0, 0, 0, 1, 0, 0xff]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(items in proptest::collection::vec(
            prop_oneof![any::<i64>().prop_map(|n| n.to_string().into_bytes()),
                        (-20i64..20).prop_map(|n| n.to_string().into_bytes()),
                        proptest::collection::vec(any::<u8>(), 0..400)], 0..30)) {
            let refs: Vec<&[u8]> = items.iter().map(|v| v.as_slice()).collect();
            let zl = encode(&refs);
            let got: Vec<Vec<u8>> = decode(&zl).unwrap().into_iter().map(Entry::to_vec).collect();
            prop_assert_eq!(got, items);
        }

        /// Every blob decoder (ziplist, listpack, intset) on garbage, with and without a
        /// plausible size header: errors, never panics.
        #[test]
        fn garbage_blobs_never_panic(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let mut sized = data.clone();
            if sized.len() >= 4 {
                let n = sized.len() as u32;
                sized[..4].copy_from_slice(&n.to_le_bytes());
            }
            for d in [&data, &sized] {
                let _ = decode(d);
                let _ = crate::listpack::decode(d);
                let _ = crate::intset::decode(d);
            }
        }
    }
}
