//! The multi-part AOF manifest (`appendonly.aof.manifest`). Oracle: a manifest that parses,
//! written back as redis-lite writes it, parses to the same manifest, unless quoting a file
//! name made a line longer than the manifest's line limit (Redis's format has the same
//! bound: `\x02` in a name is written as four bytes).
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_persist::aof::Manifest;

/// Redis's `AOF_MANIFEST_MAX_LINE`: longer lines are refused on load.
const MANIFEST_MAX_LINE: usize = 1024;

fuzz_target!(|data: &[u8]| {
    if let Ok(manifest) = Manifest::parse(data) {
        let text = manifest.to_text();
        if text.lines().all(|line| line.len() < MANIFEST_MAX_LINE) {
            let again = Manifest::parse(text.as_bytes()).expect("the written manifest parses");
            assert_eq!(manifest, again);
        }
    }
});
