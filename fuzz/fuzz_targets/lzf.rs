//! LZF decompression (compressed strings in RDB files and DUMP payloads). The first two
//! bytes are the expected length the file declares. Oracle: compressing any input and
//! decompressing it gives the input back.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_engine::lzf::{compress, decompress};

fuzz_target!(|data: &[u8]| {
    if data.len() >= 2 {
        let declared = u16::from_le_bytes([data[0], data[1]]) as usize;
        if let Ok(out) = decompress(&data[2..], declared) {
            assert_eq!(out.len(), declared);
        }
    }
    let packed = compress(data);
    if !packed.is_empty() {
        assert_eq!(decompress(&packed, data.len()).as_deref(), Ok(data));
    }
});
