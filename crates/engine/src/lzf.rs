//! LZF (the liblzf stream format): the compression RDB uses for long strings, and lists use for
//! their inner nodes under `list-compress-depth`.
//!
//! A compressed stream is a sequence of items, each opened by a control byte `c`:
//! - `c < 32`: a literal run; the next `c + 1` bytes are copied to the output.
//! - otherwise a back-reference: `len = c >> 5` (when 7, the next byte is added to it), then
//!   one byte `low`; `len + 2` bytes are copied from `((c & 0x1f) << 8 | low) + 1` bytes back
//!   in the output (the copy may overlap what it produces).
//!
//! The decompressed length is not stored in the stream; RDB records it beside it.

/// Longest back-reference: 7 + 255 + 2.
const MAX_REF: usize = 264;
/// Farthest back-reference: 13 bits of offset, plus one.
const MAX_OFF: usize = 1 << 13;
/// Longest literal run.
const MAX_LIT: usize = 32;
/// The most output one input byte can yield (a 3-byte back-reference of 264 bytes), so no
/// stream of `n` bytes decompresses to more than `n * MAX_RATIO`.
pub const MAX_RATIO: usize = MAX_REF / 3;

/// Largest hash table: 2^14 slots. Smaller inputs get smaller tables (each string of a
/// snapshot is compressed on its own, so the table's set-up cost matters).
const MAX_HASH_LOG: u32 = 14;

fn hash3(b: &[u8], log: u32) -> usize {
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    (v.wrapping_mul(2_654_435_761) >> (32 - log)) as usize
}

fn flush_literals(out: &mut Vec<u8>, lit: &[u8]) {
    for chunk in lit.chunks(MAX_LIT) {
        out.push((chunk.len() - 1) as u8);
        out.extend_from_slice(chunk);
    }
}

/// Compresses `input` (greedy matching over a hash table of 3-byte prefixes).
pub fn compress(input: &[u8]) -> Vec<u8> {
    let n = input.len();
    let mut out = Vec::with_capacity(n + n / MAX_LIT + 1);
    let log = (usize::BITS - n.leading_zeros()).clamp(4, MAX_HASH_LOG);
    let mut table = vec![usize::MAX; 1 << log];
    let mut lit_start = 0;
    let mut i = 0;
    while i + 2 < n {
        let h = hash3(&input[i..], log);
        let cand = table[h];
        table[h] = i;
        if cand != usize::MAX && i - cand <= MAX_OFF && input[cand..cand + 3] == input[i..i + 3] {
            let max = MAX_REF.min(n - i);
            let mut len = 3;
            while len < max && input[cand + len] == input[i + len] {
                len += 1;
            }
            flush_literals(&mut out, &input[lit_start..i]);
            let off = i - cand - 1;
            let l = len - 2;
            if l < 7 {
                out.push(((l << 5) | (off >> 8)) as u8);
            } else {
                out.push(((7 << 5) | (off >> 8)) as u8);
                out.push((l - 7) as u8);
            }
            out.push((off & 0xff) as u8);
            // Index the positions inside the match too, so later repeats find them.
            for p in i + 1..(i + len).min(n.saturating_sub(2)) {
                table[hash3(&input[p..], log)] = p;
            }
            i += len;
            lit_start = i;
        } else {
            i += 1;
        }
    }
    flush_literals(&mut out, &input[lit_start..]);
    out
}

/// Why a stream did not decompress.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LzfError {
    /// The stated output length is more than the input could produce.
    ImplausibleLength,
    /// An item runs past the end of the input.
    Truncated,
    /// A back-reference points before the start of the output.
    BadReference,
    /// The stream produces more or fewer bytes than stated.
    LengthMismatch,
}

impl std::fmt::Display for LzfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LzfError::ImplausibleLength => "LZF length larger than the data can hold",
            LzfError::Truncated => "LZF stream truncated",
            LzfError::BadReference => "LZF back-reference out of range",
            LzfError::LengthMismatch => "LZF output length mismatch",
        })
    }
}

/// Decompresses `input`, which must produce exactly `out_len` bytes. Never allocates more than
/// `input.len() * MAX_RATIO` bytes, whatever `out_len` says.
pub fn decompress(input: &[u8], out_len: usize) -> Result<Vec<u8>, LzfError> {
    if out_len > input.len().saturating_mul(MAX_RATIO) {
        return Err(LzfError::ImplausibleLength);
    }
    let mut out = Vec::with_capacity(out_len);
    let mut ip = 0;
    while ip < input.len() {
        let ctrl = input[ip] as usize;
        ip += 1;
        if ctrl < 32 {
            let run = ctrl + 1;
            let lit = input.get(ip..ip + run).ok_or(LzfError::Truncated)?;
            if out.len() + run > out_len {
                return Err(LzfError::LengthMismatch);
            }
            out.extend_from_slice(lit);
            ip += run;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(ip).ok_or(LzfError::Truncated)? as usize;
                ip += 1;
            }
            len += 2;
            let low = *input.get(ip).ok_or(LzfError::Truncated)? as usize;
            ip += 1;
            let off = ((ctrl & 0x1f) << 8 | low) + 1;
            if off > out.len() {
                return Err(LzfError::BadReference);
            }
            if out.len() + len > out_len {
                return Err(LzfError::LengthMismatch);
            }
            let from = out.len() - off;
            for k in 0..len {
                let b = out[from + k];
                out.push(b);
            }
        }
    }
    if out.len() != out_len {
        return Err(LzfError::LengthMismatch);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_streams() {
        // One literal run of "abc".
        assert_eq!(decompress(&[2, b'a', b'b', b'c'], 3).unwrap(), b"abc");
        // "a" then a 9-byte reference one byte back (overlapping copy): ctrl = (7 << 5), len
        // extension 0 => 9 bytes, offset 0 => 1 back.
        assert_eq!(
            decompress(&[0, b'a', 0xe0, 0, 0], 10).unwrap(),
            b"aaaaaaaaaa"
        );
        assert_eq!(compress(b""), Vec::<u8>::new());
    }

    #[test]
    fn compresses_repetition() {
        let input = b"abcdefghij".repeat(100);
        let c = compress(&input);
        assert!(c.len() < 60, "{}", c.len());
        assert_eq!(decompress(&c, input.len()).unwrap(), input);
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(decompress(&[5, b'a'], 6), Err(LzfError::Truncated));
        assert_eq!(decompress(&[0x20, 0], 3), Err(LzfError::BadReference));
        assert_eq!(decompress(&[0, b'a'], 2), Err(LzfError::LengthMismatch));
        assert_eq!(
            decompress(&[0, b'a'], 1 << 40),
            Err(LzfError::ImplausibleLength)
        );
        assert_eq!(decompress(&[0xe0], 10), Err(LzfError::Truncated));
    }

    proptest! {
        #[test]
        fn round_trip(data in proptest::collection::vec(0u8..4, 0..3000)) {
            let c = compress(&data);
            prop_assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }

        #[test]
        fn round_trip_any_bytes(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            let c = compress(&data);
            prop_assert_eq!(decompress(&c, data.len()).unwrap(), data);
        }

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..200), len in 0usize..20000) {
            let _ = decompress(&data, len);
        }
    }
}
