//! The server's RESP request parser (multibulk and inline), as a connection drives it: bytes
//! arrive in chunks, each command is taken as soon as it is complete, consumed bytes are
//! discarded. Oracle: the commands (or the protocol error) do not depend on how the stream was
//! split, except where Redis's do too: a line without its newline yet is refused once it
//! outgrows the inline limit, while the same line arriving whole with its newline is parsed.
#![no_main]

use libfuzzer_sys::fuzz_target;
use redis_lite_protocol::{Limits, ProtocolError, RequestParser};

/// Small limits so the fuzzer reaches the "too big" paths with small inputs.
const LIMITS: Limits = Limits {
    max_bulk_len: 4096,
    max_inline_len: 512,
};

type Parsed = (Vec<Vec<Vec<u8>>>, Option<ProtocolError>);

/// Feeds `stream` in chunks of `chunk` bytes (0 = all at once), as a connection reads it.
fn parse(stream: &[u8], chunk: usize, authenticated: bool) -> Parsed {
    let mut parser = RequestParser::new(LIMITS);
    parser.authenticated = authenticated;
    let mut buf: Vec<u8> = Vec::new();
    let mut commands = Vec::new();
    let step = if chunk == 0 {
        stream.len().max(1)
    } else {
        chunk
    };
    for piece in stream.chunks(step) {
        buf.extend_from_slice(piece);
        loop {
            match parser.next(&buf) {
                Ok(Some(cmd)) => {
                    assert!(cmd.frame_end() <= buf.len());
                    commands.push(cmd.iter().map(<[u8]>::to_vec).collect());
                }
                Ok(None) => break,
                Err(e) => return (commands, Some(e)),
            }
        }
        let consumed = parser.consumed();
        assert!(consumed <= parser.parsed() && parser.parsed() <= buf.len());
        buf.drain(..consumed);
        parser.discard(consumed);
    }
    (commands, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&control, stream)) = data.split_first() else {
        return;
    };
    let authenticated = control & 0x80 == 0;
    let chunk = (control & 0x7f) as usize;
    let whole = parse(stream, 0, authenticated);
    let chunked = parse(stream, chunk, authenticated);
    if whole != chunked {
        let line_outgrew_limit = matches!(
            chunked.1,
            Some(
                ProtocolError::TooBigInline
                    | ProtocolError::TooBigMultibulkCount
                    | ProtocolError::TooBigBulkCount
            )
        );
        assert!(
            line_outgrew_limit && whole.0.starts_with(&chunked.0),
            "chunks of {chunk} bytes parse differently: {whole:?} vs {chunked:?}"
        );
    }
    if let Some(e) = &whole.1 {
        let _ = e.reply_text();
    }
});
