//! The client-side RESP2/RESP3 reply parser (`parse_response`), which redis-lite-cli reads
//! every server reply with. Oracle: a complete reply never claims more bytes than it was given,
//! and a prefix of a complete reply is "incomplete", never an error or a different reply.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_protocol::parse_response;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((reply, used))) = parse_response(data) {
        assert!(used > 0 && used <= data.len());
        assert_eq!(parse_response(&data[..used]), Ok(Some((reply, used))));
        if used > 1 {
            assert_eq!(parse_response(&data[..used - 1]), Ok(None));
        }
    }
});
