//! The RDB loader with the checksum made right: the input is a file without its CRC-64
//! footer, which the target appends, so a mutated file is judged by its parser alone and a
//! file that loads reaches the end-of-file path. Oracle: what loads, saved again by redis-lite
//! and loaded back, is the same keys and values (the writer and the loader agree).
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_engine::EncodingLimits;
use redis_lite_persist::{crc64::crc64, read_all, RdbWriter, WriteOptions};

fuzz_target!(|data: &[u8]| {
    let mut file = data.to_vec();
    let crc = crc64(&file);
    file.extend_from_slice(&crc.to_le_bytes());
    let Ok((_, keys)) = read_all(&file[..], EncodingLimits::default()) else {
        return;
    };
    let mut writer = RdbWriter::new(Vec::new(), WriteOptions::default());
    writer.write_header().unwrap();
    let mut db = None;
    for k in &keys {
        if db != Some(k.db) {
            writer.select_db(k.db, 0, 0).unwrap();
            db = Some(k.db);
        }
        writer.entry(&k.key, &k.value, k.expire_at_ms).unwrap();
    }
    let saved = writer.finish().unwrap();
    let (_, reloaded) = read_all(&saved[..], EncodingLimits::default())
        .expect("redis-lite cannot load what it saved");
    assert_eq!(keys, reloaded, "a save and reload changed the data");
});
