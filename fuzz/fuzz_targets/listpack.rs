//! Listpack decoding (hashes, sorted sets, lists and streams in RDB files). Oracle: the
//! entries of a valid listpack, built into a new listpack, decode to the same entries.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_engine::listpack::{decode, Builder};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = decode(data) {
        let mut builder = Builder::new();
        for e in &entries {
            builder.push_entry(*e);
        }
        let rebuilt = builder.finish();
        assert_eq!(decode(&rebuilt).expect("a built listpack decodes"), entries);
    }
});
