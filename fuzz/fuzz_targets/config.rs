//! The config file parser (redis.conf syntax: quoting, every parameter's value parser, `save`
//! lines, `rename-command`, `user` lines checked against the command table), applied to the
//! defaults as at start-up. `include` lines are refused without opening anything.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_server::config::parse_text_for_fuzzing;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = parse_text_for_fuzzing(data) {
        let _ = e.to_string();
    }
});
