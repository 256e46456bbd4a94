//! Redis Cluster's key → hash slot mapping: CRC16 (CCITT, XMODEM variant) of the key, or of its
//! hash tag, modulo 16384. Everything that routes or indexes keys by slot calls [`key_slot`].

use std::cell::Cell;

/// Hash slots in a cluster.
pub const SLOTS: usize = 16384;

/// Bits a slot number needs.
pub const SLOT_BITS: u32 = SLOTS.trailing_zeros();

/// CRC16 lookup tables for polynomial 0x1021 (MSB first), built at compile time: `TABLES[0]`
/// is the classic byte-at-a-time table, `TABLES[k][x]` the checksum of byte `x` followed by `k`
/// zero bytes, so eight bytes are folded in at once ("slicing by 8"): a key's slot is computed
/// for every command a cluster node routes, several times, and the byte-at-a-time loop took
/// some 120 instructions for a 16-byte key. A `static`, as an unoptimized build copies a
/// `const` array at every lookup.
static TABLES: [[u16; 256]; 8] = {
    let mut tables = [[0u16; 256]; 8];
    let mut byte = 0;
    while byte < 256 {
        let mut crc = (byte as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        tables[0][byte] = crc;
        byte += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut byte = 0;
        while byte < 256 {
            let previous = tables[k - 1][byte];
            tables[k][byte] = (previous << 8) ^ tables[0][(previous >> 8) as usize];
            byte += 1;
        }
        k += 1;
    }
    tables
};

/// CRC16-CCITT, XMODEM variant (initial value 0, no reflection, no final xor): the checksum
/// Redis Cluster hashes keys with.
pub fn crc16(bytes: &[u8]) -> u16 {
    let mut chunks = bytes.chunks_exact(8);
    let crc = (&mut chunks).fold(0, |crc, chunk| {
        fold_chunk(crc, chunk.try_into().expect("eight bytes"))
    });
    fold_bytes(crc, chunks.remainder())
}

/// The checksum `crc` continued over eight bytes at once.
#[inline]
fn fold_chunk(crc: u16, c: &[u8; 8]) -> u16 {
    let t = &TABLES;
    // The checksum so far is XORed into the first two bytes; each byte then contributes its
    // table entry for the bytes that follow it in the chunk.
    let first = usize::from(c[0] ^ (crc >> 8) as u8);
    let second = usize::from(c[1] ^ crc as u8);
    t[7][first]
        ^ t[6][second]
        ^ t[5][usize::from(c[2])]
        ^ t[4][usize::from(c[3])]
        ^ t[3][usize::from(c[4])]
        ^ t[2][usize::from(c[5])]
        ^ t[1][usize::from(c[6])]
        ^ t[0][usize::from(c[7])]
}

/// The checksum `crc` continued over `bytes`, one at a time.
#[inline]
fn fold_bytes(crc: u16, bytes: &[u8]) -> u16 {
    bytes.iter().fold(crc, |crc, &b| {
        (crc << 8) ^ TABLES[0][usize::from((crc >> 8) as u8 ^ b)]
    })
}

/// The part of `key` that decides its slot: what lies between the first `{` and the first `}`
/// after it, when that is not empty; otherwise the whole key.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = find_byte(key, b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = find_byte(rest, b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
}

/// Where `byte` first is in `bytes`, looked for eight bytes at a time: keys are short, and a
/// general search (memchr's) spent more on choosing its method than a 16-byte key takes.
fn find_byte(bytes: &[u8], byte: u8) -> Option<usize> {
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        if let Some(at) = first_match(word, byte) {
            return Some(offset + at);
        }
        offset += 8;
    }
    let tail = chunks.remainder();
    tail.iter().position(|&b| b == byte).map(|i| offset + i)
}

/// The first of the eight bytes of `word` (read little-endian: the first in memory is the
/// lowest) that equals `byte`.
#[inline]
fn first_match(word: u64, byte: u8) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    let word = word ^ (ONES * u64::from(byte));
    // A byte equal to `byte` is zero in `word`; the lowest flag is exact (a borrow only moves
    // up).
    let zeros = word.wrapping_sub(ONES) & !word & HIGHS;
    (zeros != 0).then(|| (zeros.trailing_zeros() / 8) as usize)
}

/// The hash slot of `key` (0..16384), as `CLUSTER KEYSLOT` answers.
pub fn key_slot(key: &[u8]) -> u16 {
    if key.len() > MEMO_BYTES {
        return computed_slot(key);
    }
    let words = Memo::words_of(key);
    LAST_KEY.with(|last| {
        let memo = last.get();
        if memo.len == key.len() && memo.words == words {
            return memo.slot;
        }
        let slot = computed_slot(key);
        last.set(Memo {
            words,
            len: key.len(),
            slot,
        });
        slot
    })
}

/// The longest key [`LAST_KEY`] keeps.
const MEMO_BYTES: usize = 32;

/// A key of at most [`MEMO_BYTES`], as words padded with zeros (compared in four steps, where
/// comparing bytes called `memcmp`), and its slot.
#[derive(Clone, Copy)]
struct Memo {
    words: [u64; MEMO_BYTES / 8],
    len: usize,
    slot: u16,
}

impl Memo {
    fn words_of(key: &[u8]) -> [u64; MEMO_BYTES / 8] {
        let mut padded = [0u8; MEMO_BYTES];
        padded[..key.len()].copy_from_slice(key);
        std::array::from_fn(|i| {
            u64::from_ne_bytes(padded[i * 8..i * 8 + 8].try_into().expect("eight bytes"))
        })
    }
}

thread_local! {
    /// The last short key whose slot this thread computed. A cluster node computes a
    /// command's key's slot to route it, then again each time the keyspace hashes the key (the
    /// hash carries the slot): to lock its shard, to find it, to store it. Keyed by the bytes
    /// themselves (and the length, as the padding is zeros), so it never answers for another
    /// key; -P 16 GET in cluster mode 3,379 -> 3,284 instructions a request.
    static LAST_KEY: Cell<Memo> = const {
        Cell::new(Memo {
            words: [0; MEMO_BYTES / 8],
            len: usize::MAX,
            slot: 0,
        })
    };
}

/// [`key_slot`] computed. Most keys have no `{`: the key is checksummed whole while being
/// searched for one, in one pass.
fn computed_slot(key: &[u8]) -> u16 {
    let mut chunks = key.chunks_exact(8);
    let mut crc = 0;
    for chunk in &mut chunks {
        let chunk: &[u8; 8] = chunk.try_into().expect("eight bytes");
        if first_match(u64::from_le_bytes(*chunk), b'{').is_some() {
            return tagged_slot(key);
        }
        crc = fold_chunk(crc, chunk);
    }
    let tail = chunks.remainder();
    if tail.contains(&b'{') {
        return tagged_slot(key);
    }
    fold_bytes(crc, tail) & (SLOTS as u16 - 1)
}

/// The slot of a key with a `{`: of its hash tag, if it has one.
fn tagged_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_matches_the_xmodem_check_value() {
        // The catalogued check value of CRC-16/XMODEM over "123456789".
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    /// The byte-at-a-time definition, which the sliced one must equal at every length.
    fn crc16_bytewise(bytes: &[u8]) -> u16 {
        bytes.iter().fold(0u16, |crc, &b| {
            (0..8).fold(crc ^ (u16::from(b) << 8), |crc, _| match crc & 0x8000 {
                0 => crc << 1,
                _ => (crc << 1) ^ 0x1021,
            })
        })
    }

    #[test]
    fn sliced_crc16_equals_the_bytewise_one() {
        let bytes: Vec<u8> = (0..200u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for start in 0..9 {
            for end in start..bytes.len() {
                let part = &bytes[start..end];
                assert_eq!(
                    crc16(part),
                    crc16_bytewise(part),
                    "{} bytes from {start}",
                    part.len()
                );
            }
        }
    }

    #[test]
    fn find_byte_finds_the_first() {
        for len in 0..40 {
            for at in 0..len {
                for other in [None, Some(at + 1), Some(len - 1)] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b'{';
                    if let Some(other) = other.filter(|&o| o < len) {
                        bytes[other] = b'{';
                    }
                    // Bytes next to the pattern's value in every position of a word.
                    bytes
                        .iter_mut()
                        .filter(|b| **b == b'a')
                        .enumerate()
                        .for_each(|(i, b)| {
                            *b = [b'z', b'|', 0xfb, 0x7a][i % 4];
                        });
                    assert_eq!(find_byte(&bytes, b'{'), Some(at), "{bytes:?}");
                }
            }
            assert_eq!(find_byte(&vec![b'}'; len], b'{'), None);
        }
    }

    #[test]
    fn one_pass_slots_equal_the_tag_checksum() {
        let shapes: [&[u8]; 6] = [b"", b"{", b"{}", b"{t}", b"}{", b"{x"];
        for len in 0..40 {
            for at in 0..=len {
                for shape in shapes {
                    let mut key: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
                    key.splice(at..at, shape.iter().copied());
                    assert_eq!(
                        computed_slot(&key),
                        crc16(hash_tag(&key)) & 16383,
                        "{key:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_remembered_slot_is_only_ever_the_same_keys() {
        let long = [b'k'; 40];
        // Keys that differ only in length (zeros pad the memo's copy) or in their last byte.
        let keys: [&[u8]; 10] = [
            b"a",
            b"a\0",
            b"",
            b"\0",
            b"{a}x",
            b"user:1",
            b"user:2",
            &long[..MEMO_BYTES],
            &long[..MEMO_BYTES + 1],
            &long,
        ];
        for _ in 0..2 {
            for key in keys {
                assert_eq!(key_slot(key), computed_slot(key), "{key:?}");
                assert_eq!(key_slot(key), computed_slot(key), "{key:?} again");
            }
        }
    }

    #[test]
    fn hash_tags_follow_the_first_braces() {
        assert_eq!(hash_tag(b"{user1000}.following"), b"user1000");
        assert_eq!(
            hash_tag(b"foo{}{bar}"),
            b"foo{}{bar}",
            "an empty first tag: whole key"
        );
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"foo{bar}{zap}"), b"bar");
        assert_eq!(hash_tag(b"{"), b"{");
        assert_eq!(hash_tag(b"}{"), b"}{");
        assert_eq!(hash_tag(b"a{b"), b"a{b");
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
    }
}
