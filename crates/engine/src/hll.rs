//! HyperLogLog sketches stored as plain strings, in the exact byte layout Redis uses, so a value
//! written by either server can be read (and grown) by the other.
//!
//! Layout (from Redis's published HLL design notes): a 16-byte header — the magic `HYLL`, an
//! encoding byte (0 dense, 1 sparse), three unused bytes, and the cached cardinality as a
//! little-endian `u64` whose top bit marks the cache invalid — followed by 16384 registers:
//! - dense: 6 bits each, packed least-significant-bit first, 12288 bytes in all;
//! - sparse: run-length opcodes, `00xxxxxx` ZERO (1..64 zero registers), `01xxxxxx yyyyyyyy`
//!   XZERO (1..16384 zero registers), `1vvvvvxx` VAL (1..4 registers holding 1..32).
//!
//! Elements are hashed with MurmurHash64A (seed 0xadc83b19): the low 14 bits pick the register,
//! the run of trailing zeros in the rest (plus one) is the value it may be raised to. Counting
//! uses Otmar Ertl's improved raw estimator ("New cardinality estimation algorithms for
//! HyperLogLog sketches", 2017), which is what Redis 7 answers with.
//!
//! Byte compatibility of the sparse form depends on editing it the way Redis does: a register
//! update splits the opcode that covers it into at most three (left run, the new VAL, right
//! run), and then neighbouring VAL opcodes with equal values are merged, scanning at most five
//! opcodes from the one before the edit.

/// Registers in a sketch (2^14).
pub const REGISTERS: usize = 1 << P;
/// The header before the registers.
pub const HEADER_LEN: usize = 16;
/// The full length of a dense sketch.
pub const DENSE_LEN: usize = HEADER_LEN + REGISTERS * BITS / 8;
/// Redis's default `hll-sparse-max-bytes`: past it a sparse sketch becomes dense.
pub const DEFAULT_SPARSE_MAX_BYTES: usize = 3000;

const P: usize = 14;
/// Hash bits left after the register index; the longest run counted is Q + 1.
const Q: usize = 64 - P;
const BITS: usize = 6;
const REGISTER_MAX: u8 = (1 << BITS) - 1;
const MAGIC: &[u8; 4] = b"HYLL";
const DENSE: u8 = 0;
const SPARSE: u8 = 1;
const ENCODING_AT: usize = 4;
const CARD_AT: usize = 8;
const CACHE_INVALID: u8 = 0x80;
const HASH_SEED: u64 = 0xadc8_3b19;

const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;

/// Opcodes scanned for merges after an update (counting the merges themselves).
const MERGE_SCAN: usize = 5;

/// A string that has the HyperLogLog header but registers that don't add up: Redis's
/// `INVALIDOBJ Corrupted HLL object detected`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// Whether `bytes` passes Redis's check for a HyperLogLog value: long enough for the header,
/// the magic, a known encoding, and the exact length when dense. (Sparse opcodes are only
/// validated when walked, as in Redis.)
pub fn is_valid(bytes: &[u8]) -> bool {
    bytes.len() >= HEADER_LEN
        && &bytes[..4] == MAGIC
        && bytes[ENCODING_AT] <= SPARSE
        && (bytes[ENCODING_AT] != DENSE || bytes.len() == DENSE_LEN)
}

/// A new, empty sketch: sparse, one XZERO covering every register, cached count 0.
pub fn new_sparse() -> Vec<u8> {
    let mut hll = Vec::with_capacity(HEADER_LEN + 2);
    hll.extend_from_slice(MAGIC);
    hll.push(SPARSE);
    hll.extend_from_slice(&[0; HEADER_LEN - ENCODING_AT - 1]);
    push_zero_run(&mut hll, REGISTERS);
    hll
}

pub fn is_dense(hll: &[u8]) -> bool {
    hll[ENCODING_AT] == DENSE
}

/// The cached cardinality, if the cache is valid.
pub fn cached_count(hll: &[u8]) -> Option<u64> {
    if hll[CARD_AT + 7] & CACHE_INVALID != 0 {
        return None;
    }
    let card: [u8; 8] = hll[CARD_AT..CARD_AT + 8].try_into().expect("8 bytes");
    Some(u64::from_le_bytes(card))
}

/// Stores `count` as the cached cardinality (which marks the cache valid).
pub fn set_cached_count(hll: &mut [u8], count: u64) {
    hll[CARD_AT..CARD_AT + 8].copy_from_slice(&count.to_le_bytes());
}

/// Marks the cached cardinality stale; its old bytes stay, as in Redis.
pub fn invalidate_cache(hll: &mut [u8]) {
    hll[CARD_AT + 7] |= CACHE_INVALID;
}

/// MurmurHash64A (Austin Appleby), reading 8-byte blocks little-endian.
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut blocks = data.chunks_exact(8);
    for block in &mut blocks {
        let mut k = u64::from_le_bytes(block.try_into().expect("8 bytes"));
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let tail = blocks.remainder();
    if !tail.is_empty() {
        for (i, &b) in tail.iter().enumerate() {
            h ^= (b as u64) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element falls in and the value it proposes for it: one more than the
/// number of trailing zeros in the hash bits above the index (at most Q + 1).
pub fn register_for(element: &[u8]) -> (usize, u8) {
    let hash = murmur64a(element, HASH_SEED);
    let index = (hash as usize) & (REGISTERS - 1);
    let rest = (hash >> P) | (1 << Q);
    (index, rest.trailing_zeros() as u8 + 1)
}

/// Adds an element. Returns whether a register grew (the caller then invalidates the cache).
pub fn add(hll: &mut Vec<u8>, element: &[u8], sparse_max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, value) = register_for(element);
    set_register(hll, index, value, sparse_max_bytes)
}

/// Raises register `index` to `value` if it is lower, converting a sparse sketch to dense when
/// the value doesn't fit a VAL opcode or the edit would grow it past `sparse_max_bytes`.
/// Returns whether the register changed.
pub fn set_register(
    hll: &mut Vec<u8>,
    index: usize,
    value: u8,
    sparse_max_bytes: usize,
) -> Result<bool, Corrupt> {
    if !is_dense(hll) {
        match sparse_set(hll, index, value, sparse_max_bytes)? {
            SparseSet::Done(changed) => return Ok(changed),
            SparseSet::NeedsDense => to_dense(hll)?,
        }
    }
    Ok(dense_raise(&mut hll[HEADER_LEN..], index, value))
}

/// Converts a sparse sketch to the dense encoding in place (the header, with its cache, kept).
pub fn to_dense(hll: &mut Vec<u8>) -> Result<(), Corrupt> {
    if is_dense(hll) {
        return Ok(());
    }
    let registers = registers(hll)?;
    let mut dense = vec![0u8; DENSE_LEN];
    dense[..HEADER_LEN].copy_from_slice(&hll[..HEADER_LEN]);
    dense[ENCODING_AT] = DENSE;
    for (i, &r) in registers.iter().enumerate() {
        if r != 0 {
            dense_write(&mut dense[HEADER_LEN..], i, r);
        }
    }
    *hll = dense;
    Ok(())
}

/// Every register's value, one byte each.
pub fn registers(hll: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut out = vec![0u8; REGISTERS];
    merge_into(&mut out, hll)?;
    Ok(out)
}

/// Raises each of `max`'s registers to the sketch's, as PFMERGE and multi-key PFCOUNT do.
pub fn merge_into(max: &mut [u8], hll: &[u8]) -> Result<(), Corrupt> {
    if is_dense(hll) {
        let regs = &hll[HEADER_LEN..];
        for (i, m) in max.iter_mut().enumerate() {
            *m = (*m).max(dense_read(regs, i));
        }
        return Ok(());
    }
    let mut at = 0;
    for op in ops(hll) {
        if at + op.span > REGISTERS {
            return Err(Corrupt);
        }
        if op.value != 0 {
            for m in &mut max[at..at + op.span] {
                *m = (*m).max(op.value);
            }
        }
        at += op.span;
    }
    if at != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// A sparse sketch's opcodes as PFDEBUG DECODE shows them: `z:<run>` (ZERO), `Z:<run>` (XZERO),
/// `v:<value>,<run>` (VAL), space-separated.
pub fn describe_sparse(hll: &[u8]) -> String {
    let words: Vec<String> = ops(hll)
        .map(|op| match (op.value, op.len) {
            (0, 1) => format!("z:{}", op.span),
            (0, _) => format!("Z:{}", op.span),
            (v, _) => format!("v:{v},{}", op.span),
        })
        .collect();
    words.join(" ")
}

/// The estimated cardinality of the sketch.
pub fn count(hll: &[u8]) -> Result<u64, Corrupt> {
    let mut histogram = [0u32; 64];
    if is_dense(hll) {
        let regs = &hll[HEADER_LEN..];
        for i in 0..REGISTERS {
            histogram[dense_read(regs, i) as usize] += 1;
        }
    } else {
        let mut total = 0;
        for op in ops(hll) {
            histogram[op.value as usize] += op.span as u32;
            total += op.span;
        }
        if total != REGISTERS {
            return Err(Corrupt);
        }
    }
    Ok(estimate(&histogram))
}

/// The estimated cardinality of registers held one per byte (a merge result).
pub fn count_registers(registers: &[u8]) -> u64 {
    let mut histogram = [0u32; 64];
    for &r in registers {
        histogram[r as usize & 63] += 1;
    }
    estimate(&histogram)
}

/// PFSELFTEST: checks register packing, that the sparse and dense encodings stay equivalent
/// while elements are added, and that estimates stay within five standard errors
/// (1.04/sqrt(m) each) of the true cardinality. Returns the first failure.
pub fn self_test() -> Result<(), String> {
    let mut regs = vec![0u8; REGISTERS * BITS / 8];
    for pass in 0..2u8 {
        for i in 0..REGISTERS {
            dense_write(
                &mut regs,
                i,
                (i as u8).wrapping_mul(7).wrapping_add(pass) & REGISTER_MAX,
            );
        }
        for i in 0..REGISTERS {
            let expected = (i as u8).wrapping_mul(7).wrapping_add(pass) & REGISTER_MAX;
            if dense_read(&regs, i) != expected {
                return Err(format!("TESTFAILED Register error at {i}"));
            }
        }
    }
    let mut sparse = new_sparse();
    let mut dense = new_sparse();
    to_dense(&mut dense).map_err(|_| "TESTFAILED dense conversion".to_string())?;
    let tolerance = 5.0 * 1.04 / (REGISTERS as f64).sqrt();
    let mut checkpoint = 10u64;
    for n in 1..=100_000u64 {
        let element = n.to_le_bytes();
        let a = add(&mut sparse, &element, DEFAULT_SPARSE_MAX_BYTES);
        let b = add(&mut dense, &element, DEFAULT_SPARSE_MAX_BYTES);
        if a != b {
            return Err(format!("TESTFAILED sparse and dense disagree at {n}"));
        }
        if n == checkpoint {
            checkpoint *= 10;
            let (s, d) = (count(&sparse), count(&dense));
            let estimate = d.map_err(|_| "TESTFAILED corrupt sketch".to_string())?;
            let error = (estimate as f64 - n as f64).abs() / n as f64;
            if s != d || error > tolerance {
                return Err(format!("TESTFAILED Too big error. card:{n} abserr:{error}"));
            }
        }
    }
    Ok(())
}

/// Ertl's improved raw estimator over the histogram of register values.
fn estimate(histogram: &[u32; 64]) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - histogram[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += histogram[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(histogram[0] as f64 / m);
    // alpha_inf = 1 / (2 ln 2)
    const ALPHA_INF: f64 = 0.721_347_520_444_481_7;
    (ALPHA_INF * m * m / z).round() as u64
}

/// sigma(x) = x + sum_{k>=1} x^(2^k) 2^(k-1), summed until it stops changing.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let mut y = 1.0;
    let mut z = x;
    loop {
        x *= x;
        let previous = z;
        z += x * y;
        y += y;
        if z == previous {
            return z;
        }
    }
}

/// tau(x) = (1 - x - sum_{k>=1} (1 - x^(2^-k))^2 2^-k) / 3, summed until it stops changing.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let mut y = 1.0;
    let mut z = 1.0 - x;
    loop {
        x = x.sqrt();
        let previous = z;
        y *= 0.5;
        z -= (1.0 - x).powi(2) * y;
        if z == previous {
            return z / 3.0;
        }
    }
}

fn dense_read(regs: &[u8], i: usize) -> u8 {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let low = regs[byte] >> shift;
    let high = regs
        .get(byte + 1)
        .map_or(0, |&b| ((b as u16) << (8 - shift)) as u8);
    (low | high) & REGISTER_MAX
}

fn dense_write(regs: &mut [u8], i: usize, value: u8) {
    let bit = i * BITS;
    let (byte, shift) = (bit / 8, bit % 8);
    let word = ((REGISTER_MAX as u16) << shift, (value as u16) << shift);
    regs[byte] = (regs[byte] & !(word.0 as u8)) | word.1 as u8;
    if let Some(next) = regs.get_mut(byte + 1) {
        *next = (*next & !((word.0 >> 8) as u8)) | (word.1 >> 8) as u8;
    }
}

/// Raises a dense register; returns whether it changed.
fn dense_raise(regs: &mut [u8], i: usize, value: u8) -> bool {
    if dense_read(regs, i) >= value {
        return false;
    }
    dense_write(regs, i, value);
    true
}

/// One decoded sparse opcode.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Op {
    /// Byte position in the sketch.
    at: usize,
    /// 1 for ZERO and VAL, 2 for XZERO.
    len: usize,
    /// Registers covered.
    span: usize,
    /// 0 for the zero runs.
    value: u8,
}

fn decode(hll: &[u8], at: usize) -> Op {
    let b = hll[at];
    match b >> 6 {
        0 => Op {
            at,
            len: 1,
            span: (b & 0x3f) as usize + 1,
            value: 0,
        },
        1 => {
            // A truncated XZERO reads a zero second byte, as Redis does (it hits the string's
            // terminating NUL).
            let low = hll.get(at + 1).copied().unwrap_or(0) as usize;
            Op {
                at,
                len: 2,
                span: (((b & 0x3f) as usize) << 8 | low) + 1,
                value: 0,
            }
        }
        _ => Op {
            at,
            len: 1,
            span: (b & 0x3) as usize + 1,
            value: ((b >> 2) & 0x1f) + 1,
        },
    }
}

/// The opcodes of a sparse sketch, in order.
fn ops(hll: &[u8]) -> impl Iterator<Item = Op> + '_ {
    let mut at = HEADER_LEN;
    std::iter::from_fn(move || {
        if at >= hll.len() {
            return None;
        }
        let op = decode(hll, at);
        at += op.len;
        Some(op)
    })
}

fn val_op(value: u8, span: usize) -> u8 {
    0x80 | ((value - 1) << 2) | (span - 1) as u8
}

/// Appends the opcode for a run of `span` zero registers (1..=16384).
fn push_zero_run(out: &mut Vec<u8>, span: usize) {
    if span <= ZERO_MAX_LEN {
        out.push((span - 1) as u8);
    } else {
        let n = span - 1;
        out.push(0x40 | (n >> 8) as u8);
        out.push(n as u8);
    }
}

enum SparseSet {
    Done(bool),
    NeedsDense,
}

fn sparse_set(
    hll: &mut Vec<u8>,
    index: usize,
    value: u8,
    sparse_max_bytes: usize,
) -> Result<SparseSet, Corrupt> {
    if value > VAL_MAX_VALUE {
        return Ok(SparseSet::NeedsDense);
    }
    // Find the opcode covering `index`, and the one before it (where merging starts).
    let mut first = 0;
    let mut previous = None;
    let mut found = None;
    for op in ops(hll) {
        if index < first + op.span {
            found = Some(op);
            break;
        }
        previous = Some(op.at);
        first += op.span;
    }
    let op = found.ok_or(Corrupt)?;
    if op.value >= value {
        return Ok(SparseSet::Done(false));
    }
    if op.span == 1 && op.len == 1 {
        // A single-register VAL or ZERO is rewritten in place.
        hll[op.at] = val_op(value, 1);
    } else {
        let last = first + op.span - 1;
        let mut seq = Vec::with_capacity(5);
        let run = |seq: &mut Vec<u8>, span: usize| match op.value {
            0 => push_zero_run(seq, span),
            v => seq.push(val_op(v, span)),
        };
        if index != first {
            run(&mut seq, index - first);
        }
        seq.push(val_op(value, 1));
        if index != last {
            run(&mut seq, last - index);
        }
        if seq.len() > op.len && hll.len() + seq.len() - op.len > sparse_max_bytes {
            return Ok(SparseSet::NeedsDense);
        }
        hll.splice(op.at..op.at + op.len, seq);
    }
    merge_vals(hll, previous.unwrap_or(HEADER_LEN));
    Ok(SparseSet::Done(true))
}

/// Merges adjacent VAL opcodes of equal value whose spans fit one opcode, scanning a few
/// opcodes from `at`. After a merge the merged opcode is tried again against its new
/// neighbour.
fn merge_vals(hll: &mut Vec<u8>, mut at: usize) {
    for _ in 0..MERGE_SCAN {
        if at >= hll.len() {
            return;
        }
        let op = decode(hll, at);
        if op.value == 0 {
            at += op.len;
            continue;
        }
        if let Some(&next_byte) = hll.get(at + 1) {
            let next = decode(hll, at + 1);
            if next_byte & 0x80 != 0 && next.value == op.value && op.span + next.span <= VAL_MAX_LEN
            {
                hll[at + 1] = val_op(op.value, op.span + next.span);
                hll.remove(at);
                continue;
            }
        }
        at += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = DEFAULT_SPARSE_MAX_BYTES;

    #[test]
    fn elements_map_to_registers_as_in_redis() {
        // Register and value of "a" and "b", as Redis 7.0's PFDEBUG DECODE shows them after
        // PFADD h a b: "Z:12711 v:2,1 Z:3068 v:1,1 Z:603".
        assert_eq!(register_for(b"a"), (12711, 2));
        assert_eq!(register_for(b"b"), (15780, 1));
        // The empty input with a zero seed stays zero through every mixing step.
        assert_eq!(murmur64a(b"", 0), 0);
    }

    #[test]
    fn empty_sketch_layout() {
        let hll = new_sparse();
        assert_eq!(hll, b"HYLL\x01\0\0\0\0\0\0\0\0\0\0\0\x7f\xff");
        assert!(is_valid(&hll));
        assert_eq!(count(&hll), Ok(0));
        assert_eq!(cached_count(&hll), Some(0));
    }

    #[test]
    fn matches_bytes_redis_wrote() {
        // PFADD h a b c on Redis 7.0.15, then GET h.
        let mut hll = new_sparse();
        for e in [&b"a"[..], b"b", b"c"] {
            assert_eq!(add(&mut hll, e, MAX), Ok(true));
        }
        invalidate_cache(&mut hll);
        assert_eq!(
            &hll[HEADER_LEN..],
            b"\x60\xf3\x80\x50\xb1\x84\x4b\xfb\x80\x42\x5a"
        );
        assert_eq!(count(&hll), Ok(3));
        assert_eq!(add(&mut hll, b"a", MAX), Ok(false));
    }

    #[test]
    fn dense_registers_round_trip() {
        let mut regs = vec![0u8; REGISTERS * BITS / 8];
        for i in 0..REGISTERS {
            dense_write(&mut regs, i, (i % 64) as u8);
        }
        for i in 0..REGISTERS {
            assert_eq!(dense_read(&regs, i), (i % 64) as u8);
        }
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = new_sparse();
        let mut dense = new_sparse();
        to_dense(&mut dense).unwrap();
        assert_eq!(dense.len(), DENSE_LEN);
        for i in 0..2000u32 {
            let e = i.to_string();
            assert_eq!(
                add(&mut sparse, e.as_bytes(), usize::MAX),
                add(&mut dense, e.as_bytes(), usize::MAX)
            );
        }
        assert!(!is_dense(&sparse) || sparse.len() == DENSE_LEN);
        assert_eq!(registers(&sparse), registers(&dense));
        assert_eq!(count(&sparse), count(&dense));
        let estimate = count(&dense).unwrap();
        assert!((1900..2100).contains(&estimate), "{estimate}");
    }

    #[test]
    fn sparse_grows_dense_past_the_limit() {
        let mut hll = new_sparse();
        let mut i = 0u32;
        while !is_dense(&hll) {
            assert!(hll.len() <= 300);
            add(&mut hll, i.to_string().as_bytes(), 300).unwrap();
            i += 1;
        }
        assert_eq!(hll.len(), DENSE_LEN);
    }

    #[test]
    fn corrupt_sparse_is_detected() {
        let mut hll = new_sparse();
        hll.truncate(HEADER_LEN);
        hll.push(0x01);
        assert_eq!(count(&hll), Err(Corrupt));
        assert_eq!(add(&mut hll, b"a", MAX), Err(Corrupt));
        assert_eq!(registers(&hll), Err(Corrupt));
        assert!(!is_valid(b"HYLL\x00\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"));
        assert!(!is_valid(b"HYLL\x02\0\0\0\0\0\0\0\0\0\0\0\x7f\xff"));
    }

    #[test]
    fn values_past_32_need_dense() {
        let mut hll = new_sparse();
        assert_eq!(set_register(&mut hll, 5, 32, MAX), Ok(true));
        assert!(!is_dense(&hll));
        assert_eq!(set_register(&mut hll, 6, 33, MAX), Ok(true));
        assert!(is_dense(&hll));
        let regs = registers(&hll).unwrap();
        assert_eq!((regs[5], regs[6], regs[7]), (32, 33, 0));
    }

    #[test]
    fn self_test_passes() {
        assert_eq!(self_test(), Ok(()));
    }

    #[test]
    fn estimator_limits() {
        assert_eq!(count_registers(&[0; REGISTERS]), 0);
        assert!(count_registers(&[1; REGISTERS]) > 10000);
    }
}
