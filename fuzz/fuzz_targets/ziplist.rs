//! Ziplist decoding (small collections in RDB files written before Redis 7.0).
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_persist::ziplist::decode;

fuzz_target!(|data: &[u8]| {
    let _ = decode(data);
});
