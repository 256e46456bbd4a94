//! The RDB loader on the raw bytes, CRC-64 checked at the end as on load: the parser runs on
//! every record before the checksum is reached, so this covers the framing, the opcodes and
//! every value type, and the checksum's own path.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_engine::EncodingLimits;
use redis_lite_persist::read_all;

fuzz_target!(|data: &[u8]| {
    let _ = read_all(data, EncodingLimits::default());
});
