//! RESTORE's payload decoder. The input is the type byte and value; the target appends the
//! version and CRC-64 footer that DUMP writes, so the decoder itself is reached (RESTORE
//! refuses a wrong footer before decoding). Inputs whose first byte is 0xFF are used raw, to
//! keep the footer check fuzzed too. Oracle: DUMP of a restored value restores to the same
//! value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_engine::EncodingLimits;
use redis_lite_persist::{crc64::crc64, dump_value, restore_value, WriteOptions};

/// The RDB version DUMP writes in the footer (Redis 7.0: 10).
const RDB_VERSION: u16 = 10;

fuzz_target!(|data: &[u8]| {
    let payload = match data.split_first() {
        Some((0xff, raw)) => raw.to_vec(),
        _ => {
            let mut p = data.to_vec();
            p.extend_from_slice(&RDB_VERSION.to_le_bytes());
            let crc = crc64(&p);
            p.extend_from_slice(&crc.to_le_bytes());
            p
        }
    };
    let Ok(value) = restore_value(&payload, EncodingLimits::default()) else {
        return;
    };
    let dumped = dump_value(&value, &WriteOptions::default());
    let again =
        restore_value(&dumped, EncodingLimits::default()).expect("RESTORE refuses what DUMP wrote");
    assert_eq!(value, again, "DUMP then RESTORE changed the value");
});
