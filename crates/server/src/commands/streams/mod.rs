//! Stream commands, in two families over the engine's [`Stream`]: `entries.rs` (XADD, XRANGE,
//! XREAD, XDEL, XTRIM, XSETID, XLEN...) and `groups.rs` (XGROUP, XREADGROUP, XACK, XPENDING,
//! XCLAIM, XAUTOCLAIM, XINFO). This file has what both speak: IDs as arguments and entries as
//! replies.

use redis_lite_engine::list::Elem;
use redis_lite_engine::stream::{EntryRef, StreamId};
use redis_lite_protocol::ReplyWriter;

use crate::context::Ctx;
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
    // Redis copies the argument into a 128-byte buffer first.
    if arg.len() > 127 {
        return Err(invalid_id());
    }
    let number = |text: &[u8]| parse_id_number(text).ok_or_else(invalid_id);
    match arg.iter().position(|&b| b == b'-') {
        Some(dash) => Ok(StreamId::new(
            number(&arg[..dash])?,
            number(&arg[dash + 1..])?,
        )),
        None => Ok(StreamId::new(number(arg)?, missing_seq)),
    }
}

/// One part of an ID as Redis reads it (`string2ull`): a canonical decimal integer, which must
/// not be negative; otherwise what C's `strtoull` accepts in full: leading white space, a sign
/// (a minus negates modulo 2^64), digits, nothing after them, no overflow. So `007`, ` 7` and
/// `+7` are 7, and `-0` is 0.
pub fn parse_id_number(text: &[u8]) -> Option<u64> {
    if let Some(n) = redis_lite_protocol::number::parse_i64(text) {
        return u64::try_from(n).ok();
    }
    let start = text.iter().position(|b| !b" \t\n\x0b\x0c\r".contains(b))?;
    crate::args::parse_c_unsigned(&text[start..])
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
    // At most 20 digits, a dash and 20 digits: no allocation.
    let mut text = [0u8; 41];
    let mut digits = itoa::Buffer::new();
    let ms = digits.format(id.ms).as_bytes();
    let dash = ms.len();
    text[..dash].copy_from_slice(ms);
    text[dash] = b'-';
    let seq = digits.format(id.seq).as_bytes();
    let end = dash + 1 + seq.len();
    text[dash + 1..end].copy_from_slice(seq);
    out.bulk(&text[..end]);
}

/// Writes an entry as Redis replies it: `[id, [field, value, ...]]`.
pub fn write_entry(out: &mut ReplyWriter<'_>, entry: &EntryRef<'_>) {
    out.array(2);
    write_id(out, entry.id);
    out.array(2 * entry.num_fields());
    for (field, value) in entry.fields() {
        for item in [field, value] {
            match item {
                Elem::Int(n) => out.bulk_integer(n),
                Elem::Str(s) => out.bulk(s),
            }
        }
    }
}

/// XREAD's and XREADGROUP's BLOCK argument: milliseconds as an integer, 0 for ever.
pub fn parse_block_ms(arg: &[u8]) -> Result<u64, CommandError> {
    let ms = redis_lite_protocol::number::parse_i64(arg).ok_or(CommandError::err(
        "timeout is not an integer or out of range",
    ))?;
    u64::try_from(ms).map_err(|_| CommandError::err("timeout is negative"))
}

/// The options of XREAD and XREADGROUP, which Redis reads with one parser: the options of
/// XREADGROUP given to XREAD are refused by name, and the first bad option answers.
pub struct ReadOptions<'a> {
    /// GROUP's group and consumer (XREADGROUP only).
    pub group: Option<(&'a [u8], &'a [u8])>,
    /// 0: no limit.
    pub count: u64,
    /// BLOCK's milliseconds (0: for ever).
    pub block: Option<u64>,
    /// NOACK (XREADGROUP only).
    pub noack: bool,
    pub keys: &'a [&'a [u8]],
    pub ids: &'a [&'a [u8]],
}

impl<'a> ReadOptions<'a> {
    /// Parses the arguments after the command name; `group_read` for XREADGROUP.
    pub fn parse(ctx: &Ctx<'a>, group_read: bool) -> Result<ReadOptions<'a>, CommandError> {
        let args = ctx.args;
        let only_xreadgroup = |option: &str| {
            CommandError::err(format!(
                "The {option} option is only supported by XREADGROUP. You called XREAD instead."
            ))
        };
        let mut options = ReadOptions {
            group: None,
            count: 0,
            block: None,
            noack: false,
            keys: &[],
            ids: &[],
        };
        let mut streams = None;
        let mut i = 1;
        while i < args.len() {
            let more = args.len() - i - 1;
            if ctx.arg_is(i, "BLOCK") && more > 0 {
                if ctx.in_script() {
                    return Err(CommandError::err(format!(
                        "{} command is not allowed with BLOCK option from scripts",
                        String::from_utf8_lossy(args[0])
                    )));
                }
                i += 1;
                options.block = Some(parse_block_ms(args[i])?);
            } else if ctx.arg_is(i, "COUNT") && more > 0 {
                i += 1;
                options.count = ctx.arg_i64(i)?.max(0) as u64;
            } else if ctx.arg_is(i, "STREAMS") && more > 0 {
                let rest = &args[i + 1..];
                if !rest.len().is_multiple_of(2) {
                    return Err(CommandError::err(
                        "Unbalanced XREAD list of streams: for each stream key an ID or '$' must \
                         be specified.",
                    ));
                }
                streams = Some(rest.split_at(rest.len() / 2));
                break;
            } else if ctx.arg_is(i, "GROUP") && more >= 2 {
                if !group_read {
                    return Err(only_xreadgroup("GROUP"));
                }
                options.group = Some((args[i + 1], args[i + 2]));
                i += 2;
            } else if ctx.arg_is(i, "NOACK") {
                if !group_read {
                    return Err(only_xreadgroup("NOACK"));
                }
                options.noack = true;
            } else {
                return Err(CommandError::Syntax);
            }
            i += 1;
        }
        (options.keys, options.ids) = streams.ok_or(CommandError::Syntax)?;
        Ok(options)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_parts_are_read_as_redis_reads_them() {
        assert_eq!(parse_id_number(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_id_number(b"18446744073709551616"), None);
        for (text, n) in [("007", 7), (" 7", 7), ("+7", 7), ("-0", 0), ("\t1", 1)] {
            assert_eq!(parse_id_number(text.as_bytes()), Some(n), "{text}");
        }
        // strtoull negates what string2ll did not take.
        assert_eq!(parse_id_number(b"-007"), Some(7u64.wrapping_neg()));
        for text in ["-5", "", " ", "1 ", "0x10", "-", "+"] {
            assert_eq!(parse_id_number(text.as_bytes()), None, "{text:?}");
        }
        assert_eq!(parse_exact_id(b"1--0", 0).unwrap(), StreamId::new(1, 0));
        assert!(parse_exact_id(b"1--5", 0).is_err());
        assert!(parse_exact_id(b"1-", 0).is_err());
        assert!(parse_exact_id(&[b' '; 130], 0).is_err());
    }
}
