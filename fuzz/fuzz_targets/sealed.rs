//! The sealed (encrypted at rest) file readers: the header peek every loader does first, the
//! stream reader an RDB runs through, and the appendable log an AOF is kept in. The keyring
//! holds [`FUZZ_KEY`], the key the seed files were sealed with (FUZZING.md), so records that
//! stay intact authenticate and the fuzzer reaches past the header.
#![no_main]

use std::io::Read;

use libfuzzer_sys::fuzz_target;
use redis_lite_persist::{peek_header, read_log, Keyring, MasterKey, SealedReader};

/// 64 hex digits of the seed corpus's key.
const FUZZ_KEY: &[u8] = b"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

fuzz_target!(|data: &[u8]| {
    let keyring = Keyring::single(MasterKey::parse(FUZZ_KEY).unwrap());
    let _ = peek_header(data);
    if let Ok(mut reader) = SealedReader::new(data, &keyring) {
        let mut plain = Vec::new();
        let _ = reader.read_to_end(&mut plain);
    }
    if let Ok(summary) = read_log(data, &keyring, |_| Ok(())) {
        assert!(summary.valid_len <= data.len() as u64);
    }
});
