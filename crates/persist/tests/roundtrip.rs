//! Property tests: random datasets survive write → read with data, encodings and expiries
//! intact; damaged files fail with an offset and never panic.

use proptest::prelude::*;
use redis_lite_engine::hash::Hash;
use redis_lite_engine::list::{End, List};
use redis_lite_engine::set::Set;
use redis_lite_engine::zset::ZSet;
use redis_lite_engine::{EncodingLimits, Value};
use redis_lite_persist::rdb::WriteOptions;
use redis_lite_persist::{dump_value, restore_value};

mod common;
use common::{limits, read, same, write, Item};

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        any::<i64>().prop_map(|n| n.to_string().into_bytes()),
        (-200i64..200).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 0..30),
        (1usize..200, any::<u8>()).prop_map(|(n, b)| vec![b; n]),
        proptest::collection::vec(b'a'..b'e', 0..120),
    ]
}

fn value_strategy() -> impl Strategy<Value = Value> {
    let l = EncodingLimits::default();
    prop_oneof![
        bytes_strategy().prop_map(|b| Value::string(&b)),
        // Lists written node by node as they hold them: several node fills.
        (
            proptest::collection::vec(bytes_strategy(), 1..300),
            prop_oneof![Just(-2i64), Just(-1), Just(3), Just(128)],
        )
            .prop_map(|(items, fill)| {
                let mut list = List::new(fill);
                for i in &items {
                    list.push(End::Right, i);
                }
                Value::List(Box::new(list))
            }),
        proptest::collection::vec(bytes_strategy(), 1..200).prop_map(|items| {
            let mut s = Set::new();
            for i in &items {
                s.insert(i, 64);
            }
            Value::Set(Box::new(s))
        }),
        proptest::collection::vec((bytes_strategy(), bytes_strategy()), 1..200).prop_map(
            move |items| {
                let mut h = Hash::new();
                for (f, v) in &items {
                    h.set(f, v, &l);
                }
                Value::Hash(Box::new(h))
            }
        ),
        proptest::collection::vec((bytes_strategy(), -1e6f64..1e6), 1..200).prop_map(
            move |items| {
                let mut z = ZSet::new();
                for (m, s) in &items {
                    z.insert(m, *s, &l);
                }
                Value::ZSet(Box::new(z))
            }
        ),
    ]
}

fn dataset_strategy() -> impl Strategy<Value = Vec<Item>> {
    proptest::collection::vec(
        (
            0u64..4,
            value_strategy(),
            proptest::option::of(0i64..i64::MAX),
        ),
        0..12,
    )
    .prop_map(|items| {
        let mut out: Vec<Item> = items
            .into_iter()
            .enumerate()
            .map(|(i, (db, v, e))| (db, format!("key{i}").into_bytes(), v, e))
            .collect();
        out.sort_by_key(|x| x.0);
        out
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn datasets_round_trip(data in dataset_strategy(), compression: bool, checksum: bool) {
        let opts = WriteOptions { compression, checksum };
        let bytes = write(&data, opts);
        let got = read(&bytes).unwrap();
        prop_assert_eq!(got.len(), data.len());
        for (a, b) in got.iter().zip(&data) {
            prop_assert_eq!((a.0, &a.1, a.3), (b.0, &b.1, b.3));
            prop_assert!(same(&a.2, &b.2), "{:?} vs {:?}", a.2, b.2);
        }
    }

    #[test]
    fn dump_restore_round_trip(v in value_strategy()) {
        let p = dump_value(&v, &WriteOptions::default());
        let back = restore_value(&p, EncodingLimits::default()).unwrap();
        prop_assert!(same(&back, &v));
    }

    #[test]
    fn damaged_files_fail_cleanly(data in dataset_strategy(), flips in proptest::collection::vec((any::<prop::sample::Index>(), 1u8..=255), 1..4), cut in any::<prop::sample::Index>(), truncate: bool) {
        let mut bytes = write(&data, WriteOptions::default());
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        // With a checksum, any change is detected; the error always names an offset.
        match read(&bytes) {
            Ok(_) => prop_assert!(false, "damage went unnoticed"),
            Err(e) => {
                prop_assert!(e.offset().is_some());
                prop_assert!(e.to_string().contains("at offset"), "{}", e);
            }
        }
        // The same damage in a DUMP payload is caught too.
        if let Some((_, _, v, _)) = data.first() {
            let mut p = dump_value(v, &WriteOptions::default());
            let (at, x) = flips[0];
            let i = at.index(p.len());
            p[i] ^= x;
            prop_assert!(restore_value(&p, EncodingLimits::default()).is_err());
        }
    }

    #[test]
    fn damaged_unchecksummed_files_never_panic(data in dataset_strategy(), flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6)) {
        let opts = WriteOptions { checksum: false, ..WriteOptions::default() };
        let mut bytes = write(&data, opts);
        for (at, x) in &flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        // Without a checksum the damage may parse; it must not panic either way.
        if let Err(e) = read(&bytes) {
            prop_assert!(e.to_string().contains("at offset"), "{}", e);
        }
    }

    #[test]
    fn garbage_never_panics(mut data in proptest::collection::vec(any::<u8>(), 0..400), header: bool) {
        if header && data.len() >= 9 {
            data[..9].copy_from_slice(b"REDIS0010");
        }
        let _ = read(&data);
        let _ = restore_value(&data, EncodingLimits::default());
    }
}

// Fixed cases.

fn sample() -> Vec<Item> {
    let l = limits();
    let mut out: Vec<Item> = Vec::with_capacity(16);
    out.push((0, b"int".to_vec(), Value::string(b"12345"), None));
    out.push((
        0,
        b"bigint".to_vec(),
        Value::string(b"-9223372036854775808"),
        None,
    ));
    out.push((
        0,
        b"emb".to_vec(),
        Value::string(b"hello"),
        Some(1_900_000_000_000),
    ));
    out.push((0, b"raw".to_vec(), Value::raw(b"x".repeat(100)), None));
    out.push((
        0,
        b"rnd".to_vec(),
        Value::string(&(0..200u8).collect::<Vec<_>>()),
        None,
    ));
    let small = List::from_values(-2, [&b"a"[..], b"1", b"-300", b"99999999999"]);
    out.push((0, b"list".to_vec(), Value::List(Box::new(small)), None));
    let mut big = List::new(-2);
    for i in 0..5000 {
        big.push(End::Right, format!("element-{i}").as_bytes());
    }
    out.push((1, b"biglist".to_vec(), Value::List(Box::new(big)), Some(5)));
    let mut s = Set::new();
    for i in [5i64, -3, 100000, 7_000_000_000] {
        s.insert(i.to_string().as_bytes(), 512);
    }
    out.push((1, b"intset".to_vec(), Value::Set(Box::new(s)), None));
    let mut s = Set::new();
    for m in ["a", "b", "1"] {
        s.insert(m.as_bytes(), 512);
    }
    out.push((1, b"set".to_vec(), Value::Set(Box::new(s)), None));
    let mut h = Hash::new();
    h.set(b"f", b"v", &l);
    h.set(b"n", b"42", &l);
    out.push((2, b"hash".to_vec(), Value::Hash(Box::new(h)), None));
    let mut h = Hash::new();
    for i in 0..300 {
        h.set(format!("f{i}").as_bytes(), format!("{i}").as_bytes(), &l);
    }
    out.push((2, b"bighash".to_vec(), Value::Hash(Box::new(h)), None));
    let mut z = ZSet::new();
    for (m, s) in [("a", 1.0), ("b", -2.5), ("c", f64::INFINITY), ("d", 0.1)] {
        z.insert(m.as_bytes(), s, &l);
    }
    out.push((2, b"zset".to_vec(), Value::ZSet(Box::new(z)), None));
    let mut z = ZSet::new();
    for i in 0..200 {
        z.insert(format!("m{i}").as_bytes(), i as f64 / 3.0, &l);
    }
    out.push((2, b"bigzset".to_vec(), Value::ZSet(Box::new(z)), None));
    out
}

#[test]
fn round_trip_every_type() {
    let data = sample();
    for opts in [
        WriteOptions::default(),
        WriteOptions {
            compression: false,
            checksum: false,
        },
    ] {
        let bytes = write(&data, opts);
        assert_eq!(&bytes[..9], b"REDIS0010");
        let got = read(&bytes).unwrap();
        assert_eq!(got.len(), data.len());
        for (a, b) in got.iter().zip(&data) {
            assert_eq!((a.0, &a.1, a.3), (b.0, &b.1, b.3));
            assert!(same(&a.2, &b.2), "{:?}: {:?} vs {:?}", a.1, a.2, b.2);
        }
    }
}

#[test]
fn dump_restore() {
    for (_, _, v, _) in sample() {
        let p = dump_value(&v, &WriteOptions::default());
        let back = restore_value(&p, limits()).unwrap();
        assert!(same(&back, &v));
        let mut bad = p.clone();
        bad[0] ^= 0xff;
        assert!(restore_value(&bad, limits()).is_err());
    }
}

#[test]
fn flipped_byte_is_a_checksum_error() {
    let mut bytes = write(&sample(), WriteOptions::default());
    // Inside the big list's string data, where a flip still parses.
    let pos = bytes
        .windows(10)
        .position(|w| w == b"element-10")
        .unwrap_or(bytes.len() / 2);
    bytes[pos + 3] ^= 0x01;
    let err = read(&bytes).unwrap_err();
    assert!(err.offset().is_some());
    assert!(
        err.to_string().contains("RDB file corrupted at offset"),
        "{err}"
    );
}

#[test]
fn truncated_and_garbage() {
    let bytes = write(&sample(), WriteOptions::default());
    for cut in [0, 5, 9, 20, bytes.len() / 2, bytes.len() - 1] {
        let err = read(&bytes[..cut]).unwrap_err();
        assert!(err.to_string().contains("corrupted at offset"), "{err}");
    }
    let err = read(b"hello world, not an rdb").unwrap_err();
    assert!(err.to_string().contains("wrong signature"), "{err}");
    // Huge declared lengths and counts cost no huge allocation: the input runs out first.
    let err = read(b"REDIS0010\x00\x81\x7f\xff\xff\xff\xff\xff\xff\xffabc").unwrap_err();
    assert!(
        err.to_string().contains("Unexpected EOF reading RDB file"),
        "{err}"
    );
    let err = read(b"REDIS0010\x02\x01k\x81\x3f\xff\xff\xff\xff\xff\xff\xff\x01a").unwrap_err();
    assert!(
        err.to_string().contains("Unexpected EOF reading RDB file"),
        "{err}"
    );
    // LZF claiming 4 GiB from 3 bytes.
    let err = read(b"REDIS0010\x00\x01k\xc3\x03\x80\xff\xff\xff\xff\x00ab").unwrap_err();
    assert!(err.to_string().contains("invalid LZF lengths"), "{err}");
}
