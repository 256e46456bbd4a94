//! What a replica reads from its master after PSYNC: the `+FULLRESYNC`/`+CONTINUE` reply, the
//! snapshot's `$<len>` or `$EOF:<mark>` line, the snapshot (RDB) and the command stream, with
//! the replica link's own parsers. The seeds are what real Redis 7.0.15 sent a replica.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_server::replication::replica::parse_master_stream_for_fuzzing;

fuzz_target!(|data: &[u8]| {
    let _ = parse_master_stream_for_fuzzing(data);
});
