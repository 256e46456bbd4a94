//! Intset decoding (small integer sets in RDB files). Oracle: a valid intset's values,
//! encoded again, decode to the same values.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_persist::intset::{decode, encode};

fuzz_target!(|data: &[u8]| {
    if let Ok(values) = decode(data) {
        assert_eq!(decode(&encode(&values)), Ok(values));
    }
});
