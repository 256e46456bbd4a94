//! Stream commands, in two families over the engine's [`Stream`]: `entries.rs` (XADD, XRANGE,
//! XREAD, XDEL, XTRIM, XSETID, XLEN...) and `groups.rs` (XGROUP, XREADGROUP, XACK, XPENDING,
//! XCLAIM, XAUTOCLAIM, XINFO). This file has what both speak: IDs as arguments and entries as
//! replies.

use redis_lite_engine::stream::{EntryRef, StreamId};
use redis_lite_protocol::ReplyWriter;

use crate::error::CommandError;

pub mod entries;
pub mod groups;

pub use redis_lite_engine::stream::Stream;

fn invalid_id() -> CommandError {
    CommandError::err("Invalid stream ID specified as stream command argument")
}

/// Parses `ms-seq` or `ms` (then the sequence is `missing_seq`); `-` and `+` are the smallest
/// and largest IDs.
pub fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CommandError> {
    match arg {
        b"-" => Ok(StreamId::MIN),
        b"+" => Ok(StreamId::MAX),
        _ => parse_exact_id(arg, missing_seq),
    }
}

/// Parses `ms-seq` or `ms` without the `-`/`+` shorthands (XDEL, XACK, XCLAIM's IDs...).
pub fn parse_exact_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CommandError> {
    let number = |digits: &[u8]| -> Result<u64, CommandError> {
        if digits.is_empty() || digits.len() > 20 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(invalid_id());
        }
        std::str::from_utf8(digits)
            .ok()
            .and_then(|t| t.parse().ok())
            .ok_or_else(invalid_id)
    };
    match arg.iter().position(|&b| b == b'-') {
        Some(dash) => Ok(StreamId::new(
            number(&arg[..dash])?,
            number(&arg[dash + 1..])?,
        )),
        None => Ok(StreamId::new(number(arg)?, missing_seq)),
    }
}

/// A range's start as XRANGE and XPENDING take it: an ID, `-`, or `(ID` (exclusive).
pub fn parse_range_start(arg: &[u8]) -> Result<StreamId, CommandError> {
    match arg.strip_prefix(b"(").filter(|rest| !rest.is_empty()) {
        Some(id) => parse_exact_id(id, 0)?
            .next()
            .ok_or_else(|| CommandError::err("invalid start ID for the interval")),
        None => parse_id(arg, 0),
    }
}

/// A range's end: an ID, `+`, or `(ID` (exclusive).
pub fn parse_range_end(arg: &[u8]) -> Result<StreamId, CommandError> {
    match arg.strip_prefix(b"(").filter(|rest| !rest.is_empty()) {
        Some(id) => parse_exact_id(id, u64::MAX)?
            .prev()
            .ok_or_else(|| CommandError::err("invalid end ID for the interval")),
        None => parse_id(arg, u64::MAX),
    }
}

/// Writes an ID as a bulk string.
pub fn write_id(out: &mut ReplyWriter<'_>, id: StreamId) {
    let mut text = Vec::with_capacity(24);
    id.write_text(&mut text);
    out.bulk(&text);
}

/// Writes an entry as Redis replies it: `[id, [field, value, ...]]`.
pub fn write_entry(out: &mut ReplyWriter<'_>, entry: &EntryRef<'_>) {
    out.array(2);
    write_id(out, entry.id);
    out.array(2 * entry.num_fields());
    let mut text = Vec::new();
    for (field, value) in entry.fields() {
        for item in [field, value] {
            text.clear();
            item.write_text(&mut text);
            out.bulk(&text);
        }
    }
}

/// XREAD's and XREADGROUP's BLOCK argument: milliseconds as an integer, 0 for ever, and not so
/// far ahead that the deadline would overflow Redis's clock.
pub fn parse_block_ms(arg: &[u8], now_ms: u64) -> Result<u64, CommandError> {
    let ms = redis_lite_protocol::number::parse_i64(arg)
        .ok_or(CommandError::err("timeout is not an integer or out of range"))?;
    if ms < 0 {
        return Err(CommandError::err("timeout is negative"));
    }
    if ms > 0 && ms > i64::MAX - now_ms as i64 {
        return Err(CommandError::err("timeout is out of range"));
    }
    Ok(ms as u64)
}
