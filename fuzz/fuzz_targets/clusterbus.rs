//! The cluster bus message decoder: frame delimiting and decoding of every message type, as a
//! node reads what arrives on its bus port. Oracle: a decoded message encodes to bytes that
//! decode to the same message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_clusterbus::{frame_len, Message};

fuzz_target!(|data: &[u8]| {
    let Ok(Some(len)) = frame_len(data) else {
        return;
    };
    let Some(frame) = data.get(..len) else {
        return;
    };
    if let Ok(message) = Message::decode(frame) {
        let encoded = message.encode();
        assert_eq!(Message::decode(&encoded).as_ref(), Ok(&message));
    }
});
