//! Zipmaps: the compact hash encoding of Redis up to 2.4, which Redis 7.0 still loads from
//! old RDB files (converting each to a listpack or a hash table). Decoding only.
//!
//! Layout: `zmlen` (one byte: the pair count, or 254 when there are 254 or more), then pairs
//! `len field len free value [free bytes]`, then `0xFF`. A `len` is one byte below 254, or
//! `0xFE` and a u32 LE; `free` is one byte counting unused bytes after the value.

/// A field and its value, borrowed from the zipmap.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// The pairs of a zipmap, validated as Redis validates one before loading it: every length
/// inside the blob, the end marker last, at least one pair, and the header's count right
/// when it is below 254.
pub fn decode(zm: &[u8]) -> Result<Vec<Pair<'_>>, &'static str> {
    const PAST_THE_END: &str = "zipmap length past the end";
    if zm.len() < 2 || zm[zm.len() - 1] != 0xff {
        return Err("zipmap without its end marker");
    }
    // Everything before the end marker; a field or value must fit in it.
    let body = &zm[..zm.len() - 1];
    let length = |p: &mut usize| -> Result<usize, &'static str> {
        match *body.get(*p).ok_or(PAST_THE_END)? {
            254 => {
                let bytes = body.get(*p + 1..*p + 5).ok_or(PAST_THE_END)?;
                *p += 5;
                Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")) as usize)
            }
            255 => Err("zipmap end marker inside it"),
            n => {
                *p += 1;
                Ok(n as usize)
            }
        }
    };
    let take = |p: &mut usize, n: usize| -> Result<&[u8], &'static str> {
        let end = p
            .checked_add(n)
            .filter(|&end| end <= body.len())
            .ok_or(PAST_THE_END)?;
        let bytes = &body[*p..end];
        *p = end;
        Ok(bytes)
    };
    let mut pairs = Vec::new();
    let mut p = 1;
    while p < body.len() {
        let field_len = length(&mut p)?;
        let field = take(&mut p, field_len)?;
        let value_len = length(&mut p)?;
        let free = *body.get(p).ok_or(PAST_THE_END)? as usize;
        p += 1;
        let value = take(&mut p, value_len)?;
        take(&mut p, free)?;
        pairs.push((field, value));
    }
    if pairs.is_empty() {
        return Err("empty zipmap");
    }
    if zm[0] < 254 && zm[0] as usize != pairs.len() {
        return Err("zipmap count mismatch");
    }
    Ok(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The hash in Redis's tests/assets/hash-zipmap.rdb (written by Redis 2.x): f1=v1, f2=v2,
    /// the second value with two bytes of free space.
    #[test]
    fn redis_2_example() {
        let zm = b"\x02\x02f1\x02\x00v1\x02f2\x02\x02v2xx\xff";
        assert_eq!(
            decode(zm).unwrap(),
            vec![(&b"f1"[..], &b"v1"[..]), (&b"f2"[..], &b"v2"[..])]
        );
        let long = [&b"\x01\xfe\x03\x00\x00\x00abc\x01\x00d"[..], b"\xff"].concat();
        assert_eq!(decode(&long).unwrap(), vec![(&b"abc"[..], &b"d"[..])]);
    }

    #[test]
    fn damaged_zipmaps_are_refused() {
        for bad in [
            &b"\x00\xff"[..],                          // no pair (Redis's "hash empty zipmap")
            b"\x02\x02f1\x02\x00v1\xff",               // the count says two
            b"\x01\x02f1\x02\x00v1",                   // no end marker
            b"\x01\x05f1\x02\x00v1\xff",               // the field runs past the end
            b"\x01\x02f1\x02\x09v1\xff",               // the free space runs past the end
            b"\x01\x02f1\xfe\xff\xff\xff\xff\x00\xff", // a huge value length
            b"\x01\x02f1\xff",                         // no value
        ] {
            assert!(decode(bad).is_err(), "{bad:?}");
        }
        // 254 in the header means "count them".
        assert_eq!(decode(b"\xfe\x01a\x01\x00b\xff").unwrap().len(), 1);
    }

    proptest! {
        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..100)) {
            let _ = decode(&data);
        }
    }
}
