//! Intsets: sorted, distinct integers at one width, which RDB stores as a string.
//!
//! Layout: `encoding: u32 LE` (the width in bytes: 2, 4 or 8), `length: u32 LE`, then the
//! values in ascending order, little-endian, each `encoding` bytes wide. The width is the
//! smallest that holds every value.

/// Encodes ascending, distinct `values`.
pub fn encode(values: &[i64]) -> Vec<u8> {
    let width: usize = if values.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if values.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * values.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u32).to_le_bytes());
    for &v in values {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

/// Decodes and validates an intset (width, length and strict ascending order).
pub fn decode(blob: &[u8]) -> Result<Vec<i64>, &'static str> {
    if blob.len() < 8 {
        return Err("intset too short");
    }
    let width = u32::from_le_bytes(blob[..4].try_into().unwrap()) as usize;
    if !matches!(width, 2 | 4 | 8) {
        return Err("intset invalid encoding");
    }
    let len = u32::from_le_bytes(blob[4..8].try_into().unwrap()) as usize;
    if (blob.len() - 8) / width != len || !(blob.len() - 8).is_multiple_of(width) {
        return Err("intset size mismatch");
    }
    let mut out = Vec::with_capacity(len);
    for chunk in blob[8..].chunks_exact(width) {
        let v = match width {
            2 => i16::from_le_bytes(chunk.try_into().unwrap()) as i64,
            4 => i32::from_le_bytes(chunk.try_into().unwrap()) as i64,
            _ => i64::from_le_bytes(chunk.try_into().unwrap()),
        };
        if out.last().is_some_and(|&last| last >= v) {
            return Err("intset not sorted");
        }
        out.push(v);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_bytes() {
        assert_eq!(
            encode(&[-1, 2]),
            vec![2, 0, 0, 0, 2, 0, 0, 0, 0xff, 0xff, 2, 0]
        );
        assert_eq!(encode(&[1, 70000])[..4], [4, 0, 0, 0]);
        assert_eq!(encode(&[i64::MIN])[..4], [8, 0, 0, 0]);
        assert!(decode(&[2, 0, 0, 0, 2, 0, 0, 0, 2, 0, 1, 0]).is_err());
        assert!(decode(&[3, 0, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[2, 0, 0, 0, 9, 0, 0, 0, 1, 0]).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(mut v in proptest::collection::vec(any::<i64>(), 0..50), narrow in any::<bool>()) {
            if narrow { v.iter_mut().for_each(|x| *x %= 1000); }
            v.sort();
            v.dedup();
            prop_assert_eq!(decode(&encode(&v)).unwrap(), v);
        }
    }
}
