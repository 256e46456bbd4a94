//! The multi-part AOF manifest (`appendonly.aof.manifest`). Oracle: a manifest that parses,
//! written back as redis-lite writes it, parses to the same manifest.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_persist::aof::Manifest;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = Manifest::parse(data) {
        let text = manifest.to_text();
        let again = Manifest::parse(text.as_bytes()).expect("the written manifest parses");
        assert_eq!(manifest, again);
    }
});
