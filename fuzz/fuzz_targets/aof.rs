//! One AOF file (base or incremental) as the loader reads it: an optional RDB preamble, then
//! RESP commands, with MULTI balance and truncated-tail detection. Oracle: a truncated file's
//! valid prefix is within the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_engine::EncodingLimits;
use redis_lite_persist::aof::read_file;

fuzz_target!(|data: &[u8]| {
    let result = read_file(
        "appendonly.aof.1.incr.aof",
        data,
        EncodingLimits::default(),
        |_| Ok(()),
        |command| {
            assert!(!command.args.is_empty());
            Ok(())
        },
    );
    match result {
        Ok(summary) => assert!(summary.bytes <= data.len() as u64),
        Err(e) => {
            if e.is_truncated() {
                assert!(e.valid_up_to <= data.len() as u64);
            }
            let _ = e.to_string();
        }
    }
});
