//! Numbers as Redis reads and writes them: strict integer parsing (no `+`, no leading zeros, no
//! spaces), floats that reject NaN, and doubles printed as C's `%.17g`.

/// Parses a signed 64-bit integer exactly as Redis's `string2ll`: an optional `-`, digits with no
/// leading zero, nothing else, and no overflow.
pub fn parse_i64(s: &[u8]) -> Option<i64> {
    let (negative, digits) = match s.first()? {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits {
        [] => return None,
        [b'0'] => return if negative { None } else { Some(0) },
        [b'0', ..] => return None,
        _ => {}
    }
    let mut value: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(u64::from(c - b'0'))?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            return None;
        }
        Some((value as i64).wrapping_neg())
    } else {
        i64::try_from(value).ok()
    }
}

/// Parses a double as Redis's `string2d`: C `strtod` syntax over the whole input (so `inf`,
/// `1e3` and hex floats are accepted), but no surrounding spaces and never NaN.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() || s.len() > 5000 {
        return None;
    }
    let (value, used, _) = strtod(s);
    (used == s.len() && !value.is_nan()).then_some(value)
}

/// C's `strtod` over `bytes` (up to any NUL, as C sees the string): the value, how many bytes
/// it used, and whether it overflowed or underflowed (ERANGE). Redis's number rules differ by
/// command in what they accept around this; each caller applies its own.
pub fn strtod(bytes: &[u8]) -> (f64, usize, bool) {
    if let Some(value) = small_integer(bytes) {
        return (value, bytes.len(), false);
    }
    c_strtod(bytes)
}

/// [`strtod`] by C's own function.
fn c_strtod(bytes: &[u8]) -> (f64, usize, bool) {
    let text_len = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    let text = std::ffi::CString::new(&bytes[..text_len]).expect("no NUL inside");
    let mut end: *mut libc::c_char = std::ptr::null_mut();
    // SAFETY: `text` is NUL-terminated and outlives the call; strtod writes `end` and errno,
    // which is thread-local.
    unsafe {
        *libc::__errno_location() = 0;
        let value = libc::strtod(text.as_ptr(), &mut end);
        let erange = *libc::__errno_location() == libc::ERANGE;
        (value, end.offset_from(text.as_ptr()) as usize, erange)
    }
}

/// The value of `bytes` when it is a plain decimal integer (an optional `-`, then 1 to 15
/// digits): strtod's own result, which is exact, as every such integer is below 2^53. Scores and
/// increments are mostly such numbers, and strtod's C string copy and general parse cost about
/// 700 instructions of a pipelined ZADD's 8,000.
fn small_integer(bytes: &[u8]) -> Option<f64> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 15 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = digits
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')) as f64;
    // Negating keeps strtod's sign of `-0`.
    Some(if negative { -magnitude } else { magnitude })
}

/// Formats a double as C's `%.17g`, the form Redis 7.0 replies with (`inf` and `-inf` for
/// infinities).
pub fn format_f64(value: f64, out: &mut Vec<u8>) {
    if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    // An integral value below 10^17 is its digits under %.17g, which holds 17 of them: written
    // directly, as snprintf is slow (a tenth of a script's time that does `v + 1` for SET).
    // Negative zero prints as `-0`, so it takes the general path.
    if value.fract() == 0.0 && value.abs() < 1e17 && !(value == 0.0 && value.is_sign_negative()) {
        out.extend_from_slice(itoa::Buffer::new().format(value as i64).as_bytes());
        return;
    }
    let mut buf = [0u8; 64];
    // SAFETY: the buffer is large enough for any %.17g output and snprintf NUL-terminates it.
    let n = unsafe { libc::snprintf(buf.as_mut_ptr().cast(), buf.len(), c"%.17g".as_ptr(), value) };
    out.extend_from_slice(&buf[..n as usize]);
}

/// Formats a finite double as C's `%.<decimals>f` (correctly rounded, as glibc prints it).
pub fn format_fixed(value: f64, decimals: u8, out: &mut Vec<u8>) {
    let format = format!("%.{decimals}f\0");
    // %f of a double can be 309 digits before the point.
    let mut buf = vec![0u8; 330 + usize::from(decimals)];
    // SAFETY: the buffer holds any %f output of a double with this many decimals, the format is
    // NUL-terminated, and snprintf NUL-terminates what it writes.
    let n = unsafe {
        libc::snprintf(
            buf.as_mut_ptr().cast(),
            buf.len(),
            format.as_ptr().cast(),
            value,
        )
    };
    out.extend_from_slice(&buf[..n as usize]);
}

/// Formats a double as Redis's "human" long double form: `%.17f` with the trailing zeros (and
/// a bare point) removed, and `-0` written `0`; `inf`/`-inf` for infinities.
pub fn format_human(value: f64, out: &mut Vec<u8>) {
    if value.is_infinite() {
        out.extend_from_slice(if value > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    let start = out.len();
    format_fixed(value, 17, out);
    while out.last() == Some(&b'0') {
        out.pop();
    }
    if out.last() == Some(&b'.') {
        out.pop();
    }
    if &out[start..] == b"-0" {
        out.truncate(start);
        out.push(b'0');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_follow_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"+1",
            b"01",
            b"-0",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn plain_integers_parse_as_c_strtod_does() {
        let mut inputs: Vec<Vec<u8>> = [
            &b"0"[..],
            b"-0",
            b"00",
            b"-",
            b"",
            b"+1",
            b" 1",
            b"1 ",
            b"1.",
            b"1e3",
            b"0x10",
            b"999999999999999",
            b"-999999999999999",
            b"1000000000000000",
            b"9007199254740993",
        ]
        .iter()
        .map(|v| v.to_vec())
        .collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..20_000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let digits = (seed % 17) as usize + 1;
            let mut text = if seed & (1 << 40) != 0 {
                b"-".to_vec()
            } else {
                Vec::new()
            };
            text.extend((0..digits).map(|i| b'0' + ((seed >> (i * 3 % 60)) % 10) as u8));
            inputs.push(text);
        }
        for input in inputs {
            let (fast, c) = (strtod(&input), c_strtod(&input));
            assert_eq!(
                fast.0.to_bits(),
                c.0.to_bits(),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
            assert_eq!(
                (fast.1, fast.2),
                (c.1, c.2),
                "{:?}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    #[test]
    fn fixed_and_human_forms_follow_printf() {
        let text = |f: fn(f64, &mut Vec<u8>), v: f64| {
            let mut out = Vec::new();
            f(v, &mut out);
            String::from_utf8(out).unwrap()
        };
        let four = |v: f64, out: &mut Vec<u8>| format_fixed(v, 4, out);
        assert_eq!(text(four, 166274.15156960033), "166274.1516");
        assert_eq!(text(four, 0.0), "0.0000");
        assert_eq!(
            text(format_human, 13.361389338970184),
            "13.36138933897018433"
        );
        assert_eq!(text(format_human, 2.0), "2");
        assert_eq!(text(format_human, -0.0), "0");
        assert_eq!(text(format_human, -1e-30), "0");
        assert_eq!(text(format_human, 0.5), "0.5");
    }

    #[test]
    fn floats_follow_string2d() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
        for bad in [&b""[..], b" 1", b"1 ", b"nan", b"1.5x", b"abc"] {
            assert_eq!(parse_f64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn doubles_print_as_percent_17g() {
        let fmt = |v: f64| {
            let mut out = Vec::new();
            format_f64(v, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(fmt(1.1), "1.1000000000000001");
        assert_eq!(fmt(3.0), "3");
        assert_eq!(fmt(f64::INFINITY), "inf");
        assert_eq!(fmt(1e21), "1e+21");
        // The integral ones written without snprintf, and around their edges.
        assert_eq!(fmt(0.0), "0");
        assert_eq!(fmt(-0.0), "-0");
        assert_eq!(fmt(-42.0), "-42");
        assert_eq!(fmt(1e16), "10000000000000000");
        assert_eq!(fmt(99_999_999_999_999_984.0), "99999999999999984");
        assert_eq!(fmt(1e17), "1e+17");
        assert_eq!(fmt(-1e17), "-1e+17");
        assert_eq!(fmt(0.5), "0.5");
        assert!(fmt(f64::NAN).contains("nan"));
    }
}
