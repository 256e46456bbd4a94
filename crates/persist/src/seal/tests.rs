//! Tests of the sealed envelope: round trips, tampering of every kind, truncation, keys,
//! rotation and the appendable log.

use std::io::{self, Cursor, Read, Write};

use proptest::prelude::*;
use zeroize::ZeroizeOnDrop;

use super::format::{FRAME_HEAD_LEN, TAG_LEN};
use super::*;
use crate::rdb::{read_all, RdbWriter, WriteOptions};

fn key(byte: u8) -> MasterKey {
    MasterKey::from_bytes([byte; 32])
}

fn ring(ids: &[(&str, u8)]) -> Keyring {
    Keyring::new(
        ids.iter()
            .map(|&(id, b)| (id.to_string(), key(b)))
            .collect(),
    )
    .unwrap()
}

fn old() -> Keyring {
    ring(&[("old", 1)])
}

fn seal(data: &[u8], segment_size: u32, keyring: &Keyring) -> Vec<u8> {
    let mut w = SealedWriter::with_segment_size(Vec::new(), keyring, segment_size).unwrap();
    // Uneven writes, so segment boundaries fall inside writes.
    for chunk in data.chunks(777) {
        w.write_all(chunk).unwrap();
    }
    w.finish().unwrap()
}

/// Opens a sealed stream, returning the typed error however it surfaced.
fn unseal(bytes: &[u8], keyring: &Keyring) -> Result<Vec<u8>, SealError> {
    let mut r = SealedReader::new(bytes, keyring)?;
    let mut out = Vec::new();
    match r.read_to_end(&mut out) {
        Ok(_) => Ok(out),
        Err(e) => Err(*e
            .into_inner()
            .expect("a sealed-stream error")
            .downcast::<SealError>()
            .expect("a SealError")),
    }
}

fn header_len(id: &str) -> usize {
    95 + id.len()
}

/// The byte ranges of each segment of a stream sealed with key id "old".
fn segments(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let mut at = header_len("old");
    let mut out = Vec::new();
    while at < bytes.len() {
        let len = u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
        let end = at + FRAME_HEAD_LEN + len + TAG_LEN;
        out.push(at..end);
        at = end;
    }
    out
}

fn splice(bytes: &[u8], parts: &[std::ops::Range<usize>]) -> Vec<u8> {
    parts
        .iter()
        .flat_map(|r| bytes[r.clone()].to_vec())
        .collect()
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn round_trip_of_many_sizes() {
    let k = old();
    let s = 64 * 1024;
    for len in [0, 1, s - 1, s, s + 1, 3 * s, 3 * 1024 * 1024 + 7] {
        let plain = data(len);
        let mut w = SealedWriter::new(Vec::new(), &k).unwrap();
        w.write_all(&plain).unwrap();
        w.flush().unwrap();
        let sealed = w.finish().unwrap();
        let segs = len.div_ceil(s).max(1);
        assert_eq!(
            sealed.len(),
            header_len("old") + len + segs * (FRAME_HEAD_LEN + TAG_LEN),
            "len {len}"
        );
        let mut r = SealedReader::new(&sealed[..], &k).unwrap();
        assert_eq!(r.header().segment_size, 64 * 1024);
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, plain, "len {len}");
    }
}

#[test]
fn an_rdb_file_runs_through_unchanged_and_hides_its_contents() {
    use redis_lite_engine::{EncodingLimits, Value};
    let k = old();
    let marker = b"plaintext-marker-7f3a";
    let mut rdb = RdbWriter::new(
        SealedWriter::new(Vec::new(), &k).unwrap(),
        Default::default(),
    );
    rdb.write_header().unwrap();
    rdb.select_db(0, 1, 0).unwrap();
    rdb.entry(marker, &Value::string(marker), None).unwrap();
    let sealed = rdb.finish().unwrap().finish().unwrap();
    assert!(!sealed.windows(marker.len()).any(|w| w == marker));
    assert!(!sealed.windows(5).any(|w| w == b"REDIS"));
    let reader = SealedReader::new(&sealed[..], &k).unwrap();
    let keys = read_all(reader, EncodingLimits::default()).unwrap().1;
    assert_eq!(keys[0].key, marker);
    // With compression off too (the value is then stored verbatim inside).
    let opts = WriteOptions {
        compression: false,
        ..Default::default()
    };
    let mut rdb = RdbWriter::new(SealedWriter::new(Vec::new(), &k).unwrap(), opts);
    rdb.aux(marker, marker).unwrap();
    let sealed = rdb.finish().unwrap().finish().unwrap();
    assert!(!sealed.windows(marker.len()).any(|w| w == marker));
}

#[test]
fn every_flipped_bit_is_rejected() {
    let k = old();
    let sealed = seal(&data(40), 16, &k);
    assert_eq!(segments(&sealed).len(), 3);
    for i in 0..sealed.len() {
        for bit in [0, 3, 7] {
            let mut bad = sealed.clone();
            bad[i] ^= 1 << bit;
            assert!(
                unseal(&bad, &k).is_err(),
                "flip of bit {bit} at {i} accepted"
            );
        }
    }
}

#[test]
fn segment_errors_name_the_offset() {
    let k = old();
    let sealed = seal(&data(40), 16, &k);
    let s = segments(&sealed);
    let mut bad = sealed.clone();
    bad[s[1].start + 10] ^= 1;
    let err = unseal(&bad, &k).unwrap_err();
    assert!(matches!(err, SealError::Auth { offset } if offset == s[1].start as u64));
    assert_eq!(
        err.to_string(),
        format!(
            "segment at offset {} failed authentication: the data was altered, reordered or \
             spliced from another file",
            s[1].start
        )
    );
    // The header is checked on its own, before any segment.
    let mut bad = sealed.clone();
    bad[20] ^= 1;
    assert!(matches!(
        SealedReader::new(&bad[..], &k),
        Err(SealError::HeaderAuth { offset: 0, .. })
    ));
}

#[test]
fn dropped_duplicated_and_reordered_segments_are_rejected() {
    let k = old();
    let sealed = seal(&data(40), 16, &k);
    let s = segments(&sealed);
    let h = 0..s[0].start;
    let cases = [
        (
            "drop the first",
            vec![h.clone(), s[1].clone(), s[2].clone()],
        ),
        (
            "drop the middle",
            vec![h.clone(), s[0].clone(), s[2].clone()],
        ),
        (
            "duplicate",
            vec![
                h.clone(),
                s[0].clone(),
                s[0].clone(),
                s[1].clone(),
                s[2].clone(),
            ],
        ),
        (
            "swap",
            vec![h.clone(), s[1].clone(), s[0].clone(), s[2].clone()],
        ),
    ];
    for (what, parts) in cases {
        let err = unseal(&splice(&sealed, &parts), &k).unwrap_err();
        assert!(matches!(err, SealError::Auth { .. }), "{what}: {err}");
    }
    // Without the final segment the stream is truncated; a segment after it is trailing.
    let err = unseal(
        &splice(&sealed, &[h.clone(), s[0].clone(), s[1].clone()]),
        &k,
    );
    assert!(matches!(err, Err(SealError::Truncated { offset }) if offset == s[2].start as u64));
    let err = unseal(
        &splice(
            &sealed,
            &[h, s[0].clone(), s[1].clone(), s[2].clone(), s[2].clone()],
        ),
        &k,
    );
    assert!(matches!(err, Err(SealError::TrailingData { offset }) if offset == s[2].end as u64));
}

#[test]
fn every_truncation_of_a_finished_stream_is_rejected() {
    let k = old();
    let sealed = seal(&data(40), 16, &k);
    for len in 0..sealed.len() {
        let err = unseal(&sealed[..len], &k).unwrap_err();
        assert!(
            matches!(err, SealError::Truncated { .. }),
            "cut at {len}: {err}"
        );
    }
}

#[test]
fn wrong_or_unknown_key_is_refused_naming_the_id() {
    let sealed = seal(b"x", 16, &old());
    let err = SealedReader::new(&sealed[..], &ring(&[("new", 2)]))
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "sealed with key id 'old', which is not on the keyring (it has: new); add that key to \
         the key file as a line 'old:<key>' (keep it after rotation until every file sealed \
         with it has been rewritten)"
    );
    // The same id holding another key.
    let err = SealedReader::new(&sealed[..], &ring(&[("old", 9)]))
        .err()
        .unwrap();
    assert!(matches!(&err, SealError::HeaderAuth { offset: 0, id } if id == "old"));
    assert!(err.to_string().contains("key id 'old'"));
}

#[test]
fn rotation_old_files_open_new_files_use_the_new_key() {
    let both = ring(&[("old", 1), ("new", 2)]);
    assert_eq!(both.current_id(), "new");
    let old_file = seal(b"before", 16, &old());
    assert_eq!(unseal(&old_file, &both).unwrap(), b"before");
    let new_file = seal(b"after", 16, &both);
    assert_eq!(peek_header(&new_file).unwrap().key_id, "new");
    assert_eq!(unseal(&new_file, &both).unwrap(), b"after");
    assert!(matches!(
        unseal(&new_file, &old()),
        Err(SealError::UnknownKey { .. })
    ));
}

#[test]
fn detection_and_key_id_without_the_key() {
    let sealed = seal(b"x", 16, &old());
    assert!(is_sealed(&sealed));
    assert!(!is_sealed(b"REDIS0010"));
    assert!(!is_sealed(b"*2\r\n$6\r\nSELECT"));
    assert!(!is_sealed(b""));
    let info = peek_header(&sealed[..HEADER_MAX_LEN.min(sealed.len())]).unwrap();
    assert_eq!(
        info,
        HeaderInfo {
            version: 1,
            kind: Kind::Stream,
            key_id: "old".into(),
            segment_size: 16
        }
    );
    assert!(matches!(
        peek_header(b"REDIS0010"),
        Err(SealError::BadMagic)
    ));
    assert!(matches!(peek_header(b"*2\r\n"), Err(SealError::BadMagic)));
    assert!(matches!(
        peek_header(&sealed[..20]),
        Err(SealError::Truncated { offset: 0 })
    ));
}

#[test]
fn typed_header_errors() {
    let k = old();
    let sealed = seal(b"x", 16, &k);
    let mut v2 = sealed.clone();
    v2[7] = 2;
    let err = SealedReader::new(&v2[..], &k).err().unwrap();
    assert!(matches!(err, SealError::UnsupportedVersion(2)));
    assert!(err.to_string().contains("reads version 1"));
    let mut c = sealed.clone();
    c[8] = 7;
    assert!(matches!(
        SealedReader::new(&c[..], &k),
        Err(SealError::UnsupportedCipher(7))
    ));
    assert!(matches!(
        SealedReader::new(&b"REDIS0010"[..], &k),
        Err(SealError::BadMagic)
    ));
    // A log is not a stream, and the other way round.
    let log = SealedAppender::create(Vec::new(), &k)
        .unwrap()
        .close()
        .unwrap();
    assert!(matches!(
        SealedReader::new(&log[..], &k),
        Err(SealError::WrongKind {
            expected: Kind::Stream,
            found: Kind::Log
        })
    ));
    let err = read_log(&sealed[..], &k, |_| Ok(())).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sealed file is a sealed stream, expected a sealed log"
    );
}

#[test]
fn a_reader_stays_failed_after_an_error() {
    let k = old();
    let sealed = seal(&data(40), 16, &k);
    let mut r = SealedReader::new(&sealed[..sealed.len() - 1], &k).unwrap();
    let mut out = Vec::new();
    assert!(r.read_to_end(&mut out).is_err());
    assert!(r.read(&mut [0u8; 4]).is_err());
}

#[test]
fn segment_sizes_are_bounded() {
    let k = old();
    for bad in [0, (16 << 20) + 1] {
        let err = SealedWriter::with_segment_size(Vec::new(), &k, bad)
            .err()
            .unwrap();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(SealedAppender::create_with_segment_size(Vec::new(), &k, bad).is_err());
    }
}

#[test]
fn the_counter_never_wraps() {
    let k = old();
    let mut w = SealedWriter::with_segment_size(Vec::new(), &k, 1).unwrap();
    w.next = u32::MAX as u64;
    w.write_all(b"ab").unwrap(); // seals segment 2^32-1, the last counter
    let err = w.write_all(b"c").unwrap_err();
    let err = err.into_inner().unwrap().downcast::<SealError>().unwrap();
    assert!(matches!(*err, SealError::CounterExhausted));
}

// ---------------------------------------------------------------------------------------------
// The appendable log

fn read_batches(bytes: &[u8], keyring: &Keyring) -> Result<(Vec<Vec<u8>>, LogSummary), SealError> {
    let mut batches = Vec::new();
    let summary = read_log(bytes, keyring, |b| {
        batches.push(b.to_vec());
        Ok(())
    })?;
    Ok((batches, summary))
}

fn batch(i: usize) -> Vec<u8> {
    format!("*3\r\n$3\r\nSET\r\n$4\r\nk{i:03}\r\n$5\r\nv{i:04}\r\n").into_bytes()
}

#[test]
fn log_round_trip_open_and_closed() {
    let k = old();
    let mut a = SealedAppender::create(Vec::new(), &k).unwrap();
    for i in 0..5 {
        a.append(&batch(i)).unwrap();
    }
    a.append(b"").unwrap();
    assert_eq!(a.file_len(), a.get_ref().len() as u64);
    let open = a.get_ref().clone();
    let (got, s) = read_batches(&open, &k).unwrap();
    assert_eq!(got, (0..5).map(batch).collect::<Vec<_>>());
    assert_eq!(
        (s.end, s.valid_len, s.batches),
        (LogEnd::Open, open.len() as u64, 5)
    );
    assert_eq!(s.key_ids, ["old"]);
    assert!(!open.windows(4).any(|w| w == b"k001"));
    let closed = a.close().unwrap();
    let (got, s) = read_batches(&closed, &k).unwrap();
    assert_eq!((got.len(), s.end), (5, LogEnd::Closed));
    // Dropping the close marker makes it look open: the caller must know it was closed.
    assert_eq!(read_batches(&open, &k).unwrap().1.end, LogEnd::Open);
}

#[test]
fn big_batches_span_segments_and_apply_whole() {
    let k = old();
    let mut a = SealedAppender::create_with_segment_size(Vec::new(), &k, 16).unwrap();
    a.append(&data(10)).unwrap();
    let after_first = a.file_len();
    a.append(&data(50)).unwrap(); // four segments, three CONTINUED
    let bytes = a.get_ref().clone();
    let (got, s) = read_batches(&bytes, &k).unwrap();
    assert_eq!(got, [data(10), data(50)]);
    assert_eq!(s.valid_len, bytes.len() as u64);
    // Cut anywhere inside the big batch, even at a segment boundary: only the first
    // batch survives, and the cut point is the end of the first batch.
    for len in after_first as usize + 1..bytes.len() {
        let (got, s) = read_batches(&bytes[..len], &k).unwrap();
        assert_eq!(got, [data(10)], "cut at {len}");
        assert_eq!(s.valid_len, after_first);
        assert_eq!(
            s.end,
            LogEnd::Truncated {
                file_len: len as u64
            }
        );
    }
}

#[test]
fn torn_tail_is_truncation_then_cut_resume_and_append() {
    let k = old();
    let mut a = SealedAppender::create(Vec::new(), &k).unwrap();
    a.append(&batch(0)).unwrap();
    a.append(&batch(1)).unwrap();
    let good = a.file_len();
    a.append(&batch(2)).unwrap();
    let full = a.get_ref().clone();
    for cut in good as usize + 1..full.len() {
        let (got, s) = read_batches(&full[..cut], &k).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(s.valid_len, good);
        assert_eq!(
            s.end,
            LogEnd::Truncated {
                file_len: cut as u64
            }
        );
    }
    // The loader cuts the torn tail (aof-load-truncated) and keeps appending.
    let torn = &full[..full.len() - 3];
    let (_, s) = read_batches(torn, &k).unwrap();
    let mut file = Cursor::new(torn.to_vec());
    let err = SealedAppender::resume(&mut file, &k, &s).err().unwrap();
    assert!(
        err.to_string().contains("truncate it to that length first"),
        "{err}"
    );
    file.get_mut().truncate(s.valid_len as usize);
    let mut a = SealedAppender::resume(&mut file, &k, &s).unwrap();
    a.append(&batch(3)).unwrap();
    a.close().unwrap();
    let (got, s) = read_batches(file.get_ref(), &k).unwrap();
    assert_eq!(got, [batch(0), batch(1), batch(3)]);
    assert_eq!(s.end, LogEnd::Closed);
    assert_eq!(s.key_ids, ["old", "old"]);
}

#[test]
fn a_real_file_is_cut_and_resumed() {
    let k = old();
    let path = std::env::temp_dir().join(format!("seal-log-{}.aof", std::process::id()));
    let mut a = SealedAppender::create(std::fs::File::create(&path).unwrap(), &k).unwrap();
    a.append(&batch(0)).unwrap();
    a.append(&batch(1)).unwrap();
    a.get_ref().sync_data().unwrap();
    drop(a);
    let len = std::fs::metadata(&path).unwrap().len();
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&path)
        .unwrap();
    f.set_len(len - 5).unwrap(); // a torn write
    let s = read_log(&f, &k, |_| Ok(())).unwrap();
    assert!(matches!(s.end, LogEnd::Truncated { .. }));
    f.set_len(s.valid_len).unwrap();
    let mut a = SealedAppender::resume(f, &k, &s).unwrap();
    a.append(&batch(2)).unwrap();
    drop(a);
    let (got, _) = read_batches(&std::fs::read(&path).unwrap(), &k).unwrap();
    assert_eq!(got, [batch(0), batch(2)]);
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn an_empty_or_headerless_log_is_truncated_at_zero_and_resumes_as_new() {
    let k = old();
    let full = SealedAppender::create(Vec::new(), &k)
        .unwrap()
        .close()
        .unwrap();
    for cut in [0, 1, 50] {
        let (_, s) = read_batches(&full[..cut], &k).unwrap();
        assert_eq!(
            (s.valid_len, s.end),
            (
                0,
                LogEnd::Truncated {
                    file_len: cut as u64
                }
            )
        );
    }
    let (_, s) = read_batches(&[], &k).unwrap();
    let mut file = Cursor::new(Vec::new());
    let mut a = SealedAppender::resume(&mut file, &k, &s).unwrap();
    a.append(b"x").unwrap();
    let (got, s) = read_batches(file.get_ref(), &k).unwrap();
    assert_eq!((got, s.key_ids.len()), (vec![b"x".to_vec()], 1));
}

#[test]
fn tampering_inside_a_log_is_corruption_with_the_offset() {
    let k = old();
    let mut a = SealedAppender::create(Vec::new(), &k).unwrap();
    let mut starts = Vec::new();
    for i in 0..3 {
        starts.push(a.file_len() as usize);
        a.append(&batch(i)).unwrap();
    }
    let bytes = a.get_ref().clone();
    // Every flip is an error, lengths included: the head tag keeps an altered length from
    // passing for a torn tail (which the loader would cut off).
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        assert!(read_batches(&bad, &k).is_err(), "flip at {i} accepted");
    }
    let mut bad = bytes.clone();
    bad[starts[1] + 8] ^= 1;
    let err = read_batches(&bad, &k).unwrap_err();
    assert!(matches!(err, SealError::Auth { offset } if offset == starts[1] as u64));
    // Dropping or swapping whole batches.
    let drop_middle = [&bytes[..starts[1]], &bytes[starts[2]..]].concat();
    assert!(matches!(
        read_batches(&drop_middle, &k),
        Err(SealError::Auth { .. })
    ));
    let swap = [
        &bytes[..starts[1]],
        &bytes[starts[2]..],
        &bytes[starts[1]..starts[2]],
    ]
    .concat();
    assert!(matches!(
        read_batches(&swap, &k),
        Err(SealError::Auth { .. })
    ));
}

#[test]
fn a_resumed_epoch_cannot_be_spliced_onto_a_shortened_log() {
    let k = old();
    let mut a = SealedAppender::create(Vec::new(), &k).unwrap();
    a.append(&batch(0)).unwrap();
    let one = a.file_len() as usize;
    a.append(&batch(1)).unwrap();
    let bytes = a.get_ref().clone();
    let (_, s) = read_batches(&bytes, &k).unwrap();
    let mut file = Cursor::new(bytes.clone());
    let mut a = SealedAppender::resume(&mut file, &k, &s).unwrap();
    a.append(&batch(2)).unwrap();
    let resumed = file.into_inner();
    // Remove batch 1 from under the second epoch.
    let spliced = [&resumed[..one], &resumed[bytes.len()..]].concat();
    let err = read_batches(&spliced, &k).unwrap_err();
    assert!(
        matches!(&err, SealError::Corrupt { offset, .. } if *offset == one as u64),
        "{err}"
    );
    assert!(err
        .to_string()
        .contains("does not follow the data before it"));
}

#[test]
fn a_closed_log_resumes_and_rotation_applies_to_new_epochs() {
    let mut a = SealedAppender::create(Vec::new(), &old()).unwrap();
    a.append(&batch(0)).unwrap();
    let closed = a.close().unwrap();
    let both = ring(&[("old", 1), ("new", 2)]);
    let (_, s) = read_batches(&closed, &both).unwrap();
    let mut file = Cursor::new(closed);
    let mut a = SealedAppender::resume(&mut file, &both, &s).unwrap();
    a.append(&batch(1)).unwrap();
    let (got, s) = read_batches(file.get_ref(), &both).unwrap();
    assert_eq!(got, [batch(0), batch(1)]);
    assert_eq!(
        (s.end, s.key_ids),
        (LogEnd::Open, vec!["old".into(), "new".into()])
    );
    assert!(matches!(
        read_batches(file.get_ref(), &old()),
        Err(SealError::UnknownKey { .. })
    ));
}

#[test]
fn a_failed_append_poisons_the_appender_and_the_visitor_can_stop() {
    struct Full(usize);
    impl Write for Full {
        fn write(&mut self, b: &[u8]) -> io::Result<usize> {
            if self.0 < b.len() {
                return Err(io::Error::other("disk full"));
            }
            self.0 -= b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    let k = old();
    let mut a = SealedAppender::create(Full(200), &k).unwrap();
    assert!(matches!(a.append(&data(300)), Err(SealError::Io(_))));
    assert!(matches!(a.append(b"x"), Err(SealError::NotResumable(_))));
    assert!(a.close().is_err());

    let mut a = SealedAppender::create(Vec::new(), &k).unwrap();
    a.append(b"one").unwrap();
    a.append(b"two").unwrap();
    let err = read_log(&a.get_ref()[..], &k, |b| {
        if b == b"two" {
            Err("stop here".into())
        } else {
            Ok(())
        }
    })
    .unwrap_err();
    assert_eq!(err.to_string(), "sealed log read aborted: stop here");
}

// ---------------------------------------------------------------------------------------------
// Keys

const HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

fn raw() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Two keyrings hold the same key if a file sealed by one opens with the other.
fn same_key(a: &Keyring, b: &Keyring) -> bool {
    let sealed = seal(b"probe", 16, a);
    let b_as_a = Keyring::new(vec![(a.current_id().into(), key_of(b))]).unwrap();
    unseal(&sealed, &b_as_a).is_ok()
}

fn key_of(k: &Keyring) -> MasterKey {
    MasterKey::from_bytes(*k.current().1.bytes())
}

#[test]
fn keys_parse_from_raw_hex_and_base64() {
    let expected = Keyring::single(MasterKey::from_bytes(raw()));
    for text in [
        raw().to_vec(),
        HEX.as_bytes().to_vec(),
        format!("{}\n", HEX.to_uppercase()).into_bytes(),
        format!("  {B64}\r\n").into_bytes(),
    ] {
        let k = Keyring::parse(&text).unwrap();
        assert_eq!(k.current_id(), expected.current_id());
        assert!(same_key(&k, &expected));
    }
    // Raw bytes that happen to include white space or a colon are still raw.
    let mut odd = [b' '; 32];
    odd[5] = b':';
    assert!(Keyring::parse(&odd).is_ok());
    for bad in [
        &b""[..],
        b"abc",
        &HEX.as_bytes()[..62],
        b"AAECAwQF",
        b"\xff\xfe not text",
    ] {
        let err = Keyring::parse(bad).unwrap_err();
        assert!(
            err.to_string().starts_with("invalid encryption key:"),
            "{err}"
        );
    }
}

#[test]
fn a_bare_key_id_is_the_start_of_its_sha256() {
    use sha2::{Digest, Sha256};
    let k = MasterKey::from_bytes(raw());
    let id = k.derived_id();
    assert_eq!(id, hex::encode(&Sha256::digest(raw())[..4]));
    assert_eq!(id.len(), 8);
    assert!(!HEX.contains(&id));
}

#[test]
fn keyring_lines_last_one_writes() {
    let text = format!(
        "# rotated 2024-05\n2024a:{HEX}\n\n  2024b : {B64}  \nk3:{}\n",
        "ab".repeat(32)
    );
    let k = Keyring::parse(text.as_bytes()).unwrap();
    assert_eq!(k.ids(), ["2024a", "2024b", "k3"]);
    assert_eq!(k.current_id(), "k3");
    assert_eq!(
        format!("{k:?}"),
        r#"Keyring { ids: ["2024a", "2024b", "k3"] }"#
    );
    let errors = [
        (
            format!("a:{HEX}\nno-colon-here"),
            "line 2: expected 'id:key'",
        ),
        (format!("a:{HEX}\nb:zz"), "line 2: a key must be"),
        (
            format!("a:{HEX}\na:{B64}"),
            "line 2: its key id appears on an earlier line too",
        ),
        (
            format!("bad id:{HEX}"),
            "line 1: invalid key id: use 1 to 64",
        ),
        (format!(":{HEX}"), "line 1: invalid key id"),
        ("secret-ish-id:zz".to_string(), "line 1: a key must be"),
    ];
    for (text, want) in errors {
        let err = Keyring::parse(text.as_bytes()).unwrap_err().to_string();
        assert!(err.contains(want), "{err}");
        // Nothing from the text comes back: neither keys nor ids.
        for word in ["a:", "bad id", "secret-ish", HEX, B64] {
            assert!(!err.contains(word), "{err}");
        }
    }
    assert!(Keyring::new(Vec::new()).is_err());
}

#[cfg(unix)]
#[test]
fn key_files_must_be_private() {
    use std::os::unix::fs::PermissionsExt;
    let path = std::env::temp_dir().join(format!("seal-key-{}", std::process::id()));
    std::fs::write(&path, format!("{HEX}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = Keyring::from_file(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "key file {0} is accessible to group or others (mode 644); run `chmod 600 {0}`",
            path.display()
        )
    );
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let k = Keyring::from_file(&path).unwrap();
    assert_eq!(k.current_id(), MasterKey::from_bytes(raw()).derived_id());
    // A bad file is named with a fixed reason, and nothing it holds.
    for content in [
        &b"not a key"[..],
        b"SECRET=abc\0PATH=/usr/bin:/bin\0",
        b"id-from-file:zz\n",
        format!("a:{HEX}\nsecret-line\n").as_bytes(),
    ] {
        std::fs::write(&path, content).unwrap();
        let err = Keyring::from_file(&path).unwrap_err().to_string();
        assert_eq!(
            err,
            format!(
                "key file {} is not a valid keyring: it must hold one key (32 raw bytes, 64 hex \
                 digits or base64 of 32 bytes) or 'id:key' lines, and nothing else",
                path.display()
            )
        );
    }
    std::fs::write(&path, vec![b'a'; 100_000]).unwrap();
    let err = Keyring::from_file(&path).unwrap_err().to_string();
    assert!(err.ends_with("is too large to be a keyring"), "{err}");
    let err = Keyring::from_file(std::path::Path::new("/dev/null"))
        .unwrap_err()
        .to_string();
    assert_eq!(err, "key file /dev/null is not a regular file");
    std::fs::remove_file(&path).unwrap();
    let err = Keyring::from_file(&path).unwrap_err();
    assert!(err.to_string().starts_with("cannot read key file"));
}

#[test]
fn keys_come_from_the_environment() {
    // The only test that touches this variable.
    std::env::remove_var(ENV_VAR);
    assert!(Keyring::from_env().unwrap().is_none());
    std::env::set_var(ENV_VAR, B64);
    let k = Keyring::from_env().unwrap().unwrap();
    assert_eq!(k.current_id(), MasterKey::from_bytes(raw()).derived_id());
    std::env::set_var(ENV_VAR, "nope");
    let err = Keyring::from_env().unwrap_err().to_string();
    assert!(
        err.starts_with(&format!("invalid encryption key: {ENV_VAR}:")),
        "{err}"
    );
    std::env::remove_var(ENV_VAR);
}

#[test]
fn master_keys_are_zeroized_on_drop() {
    fn zeroized_on_drop<T: ZeroizeOnDrop>() {}
    zeroized_on_drop::<MasterKey>();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prop_round_trip_any_chunking(
        plain in proptest::collection::vec(any::<u8>(), 0..3000),
        seg in 1u32..300,
        chunk in 1usize..500,
    ) {
        let k = old();
        let mut w = SealedWriter::with_segment_size(Vec::new(), &k, seg).unwrap();
        for c in plain.chunks(chunk) {
            w.write_all(c).unwrap();
        }
        let sealed = w.finish().unwrap();
        let mut r = SealedReader::new(&sealed[..], &k).unwrap();
        let mut out = Vec::new();
        // Read in odd sizes too.
        let mut buf = vec![0u8; chunk];
        loop {
            let n = r.read(&mut buf).unwrap();
            if n == 0 { break; }
            out.extend_from_slice(&buf[..n]);
        }
        prop_assert_eq!(out, plain);
    }

    #[test]
    fn prop_any_flipped_bit_is_rejected(
        plain in proptest::collection::vec(any::<u8>(), 0..400),
        seg in 1u32..64,
        at in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let k = old();
        let mut sealed = seal(&plain, seg, &k);
        let i = at.index(sealed.len());
        sealed[i] ^= 1 << bit;
        prop_assert!(unseal(&sealed, &k).is_err());
    }

    #[test]
    fn prop_log_replays_what_was_appended(
        batches in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 1..100), 0..20),
        seg in 1u32..64,
        cut in any::<prop::sample::Index>(),
    ) {
        let k = old();
        let mut a = SealedAppender::create_with_segment_size(Vec::new(), &k, seg).unwrap();
        let mut ends = vec![a.file_len()];
        for b in &batches {
            a.append(b).unwrap();
            ends.push(a.file_len());
        }
        let bytes = a.get_ref().clone();
        let (got, s) = read_batches(&bytes, &k).unwrap();
        prop_assert_eq!(&got, &batches);
        // Any cut keeps exactly the batches that ended before it.
        let cut = cut.index(bytes.len() + 1);
        let (got, s2) = read_batches(&bytes[..cut], &k).unwrap();
        let whole = ends.iter().filter(|&&e| e <= cut as u64).count().saturating_sub(1);
        prop_assert_eq!(&got[..], &batches[..whole]);
        if cut as u64 == s.valid_len {
            prop_assert_eq!(s2.end, LogEnd::Open);
        } else {
            prop_assert_eq!(s2.valid_len, if whole == 0 && cut < ends[0] as usize { 0 } else { ends[whole] });
        }
    }
}
