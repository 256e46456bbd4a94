//! Redis's `sdscatrepr`: a string quoted and escaped so any bytes print on one line. MONITOR,
//! redis-cli and the AOF manifest show strings this way.

/// Appends `s` quoted and escaped as `sdscatrepr` does: printable ASCII as is, C escapes for
/// the usual controls, `\xNN` for every other byte.
pub fn repr(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &b in s {
        match b {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', b]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(b),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[(b >> 4) as usize],
                    HEX[(b & 15) as usize],
                ]);
            }
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::repr;

    fn quoted(s: &[u8]) -> String {
        let mut out = Vec::new();
        repr(&mut out, s);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn strings_are_quoted_and_escaped_like_sdscatrepr() {
        assert_eq!(
            quoted(b"a\x01b\xffc\"d\\e\n\t\r\x07\x08 ~\x7f"),
            "\"a\\x01b\\xffc\\\"d\\\\e\\n\\t\\r\\a\\b ~\\x7f\""
        );
        assert_eq!(quoted("héllo".as_bytes()), "\"h\\xc3\\xa9llo\"");
        assert_eq!(quoted(b""), "\"\"");
    }
}
