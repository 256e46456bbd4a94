//! Argument helpers that commands of several subsystems share (data-type families, admin,
//! pub/sub, memory...): a keyword out of a fixed set, and the `<COMMAND> HELP` reply. They live
//! below the command families so that no subsystem imports a family for them.

use crate::context::Ctx;
use crate::error::CommandError;

/// Argument `i` as one of `choices` (keywords, matched ignoring ASCII case) and the value it
/// stands for; Redis's syntax error for anything else. `keyword(ctx, 2, &[("ON", true),
/// ("OFF", false)])`.
pub fn keyword<T: Copy>(ctx: &Ctx<'_>, i: usize, choices: &[(&str, T)]) -> Result<T, CommandError> {
    choices
        .iter()
        .find(|(word, _)| ctx.arg_is(i, word))
        .map(|&(_, value)| value)
        .ok_or(CommandError::Syntax)
}

/// The reply to `<COMMAND> HELP`: Redis's header line, the given lines, and the HELP entry.
pub fn reply_help(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(&format!(
        "{command} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    ));
    for line in lines {
        ctx.out.simple(line);
    }
    ctx.out.simple("HELP");
    ctx.out.simple("    Prints this help.");
}

/// A size as Redis's `memtoull` reads it (DEBUG's sizes): decimal digits, possibly none, then
/// an optional unit (`b`, `k`, `kb`, `m`, `mb`, `g`, `gb`, any case). As in C, digits past
/// 2^64 - 1 read as 2^64 - 1 and the product with the unit wraps; a sign, white space or any
/// other text is refused.
pub fn parse_memtoull(text: &[u8]) -> Option<u64> {
    const MAX_DIGITS: usize = 127;
    let digits = text.iter().take_while(|b| b.is_ascii_digit()).count();
    let unit: u64 = match text[digits..].to_ascii_lowercase().as_slice() {
        b"" | b"b" => 1,
        b"k" => 1_000,
        b"kb" => 1 << 10,
        b"m" => 1_000_000,
        b"mb" => 1 << 20,
        b"g" => 1_000_000_000,
        b"gb" => 1 << 30,
        _ => return None,
    };
    if digits > MAX_DIGITS {
        return None;
    }
    let value = text[..digits].iter().fold(0u64, |n, d| {
        n.saturating_mul(10).saturating_add(u64::from(d - b'0'))
    });
    Some(value.wrapping_mul(unit))
}

/// The whole of `text` as C's `strtoull`/`strtoul` reads a number when nothing may follow it:
/// an optional sign (a minus negates modulo 2^64), then decimal digits, without overflow. No
/// leading white space: callers that allow it strip it first.
pub fn parse_c_unsigned(text: &[u8]) -> Option<u64> {
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value = digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })?;
    Some(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// C's `atoi` (and `strtoll` where nothing else is read after the number): leading white
/// space, a sign, then digits up to the first other byte; 0 without digits, saturated past
/// the range.
pub fn atoi(text: &[u8]) -> i64 {
    let text = match text.iter().position(|b| !b" \t\n\r\x0b\x0c".contains(b)) {
        Some(start) => &text[start..],
        None => return 0,
    };
    let (negative, digits) = match text.first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let magnitude = digits
        .iter()
        .take_while(|b| b.is_ascii_digit())
        .fold(0i64, |n, &d| {
            n.saturating_mul(10).saturating_add(i64::from(d - b'0'))
        });
    if negative {
        -magnitude
    } else {
        magnitude
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atoi_reads_as_c_does() {
        assert_eq!(atoi(b"6379"), 6379);
        assert_eq!(atoi(b" +12abc"), 12);
        assert_eq!(atoi(b"-5"), -5);
        assert_eq!(atoi(b"abc"), 0);
        assert_eq!(atoi(b""), 0);
    }
}
