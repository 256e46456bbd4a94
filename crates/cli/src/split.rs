//! Splitting an interactive line into arguments, with redis-cli's (`sdssplitargs`) quoting:
//! `"..."` with C escapes and `\xNN`, `'...'` with only `\'`, and a closing quote that must
//! end the argument.

/// The arguments of `line`, or `None` for unbalanced quotes (redis-cli's "Invalid argument(s)").
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut p = 0;
    let at = |i: usize| line.get(i).copied();
    loop {
        while at(p).is_some_and(|c| c.is_ascii_whitespace()) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let (mut in_double, mut in_single) = (false, false);
        let mut cur = Vec::new();
        loop {
            let Some(c) = at(p) else {
                if in_double || in_single {
                    return None;
                }
                break;
            };
            if in_double {
                let hex = |i| at(i).and_then(|b: u8| (b as char).to_digit(16));
                if c == b'\\'
                    && at(p + 1) == Some(b'x')
                    && hex(p + 2).is_some()
                    && hex(p + 3).is_some()
                {
                    cur.push((hex(p + 2)? * 16 + hex(p + 3)?) as u8);
                    p += 3;
                } else if c == b'\\' && at(p + 1).is_some() {
                    p += 1;
                    cur.push(match line[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    p = closing_quote(line, p)?;
                    break;
                } else {
                    cur.push(c);
                }
            } else if in_single {
                if c == b'\\' && at(p + 1) == Some(b'\'') {
                    p += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    p = closing_quote(line, p)?;
                    break;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => in_double = true,
                    b'\'' => in_single = true,
                    _ => cur.push(c),
                }
            }
            p += 1;
        }
        args.push(cur);
    }
}

/// Past the closing quote at `p`, which must end the argument.
fn closing_quote(line: &[u8], p: usize) -> Option<usize> {
    match line.get(p + 1) {
        Some(n) if !n.is_ascii_whitespace() => None,
        _ => Some(p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::split_args;

    fn s(line: &str) -> Option<Vec<String>> {
        split_args(line.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8_lossy(&a).into_owned())
                .collect()
        })
    }

    #[test]
    fn words_and_quotes() {
        assert_eq!(
            s("  set  k v "),
            Some(vec!["set".into(), "k".into(), "v".into()])
        );
        assert_eq!(
            s(r#"set k "a b\n\x41""#),
            Some(vec!["set".into(), "k".into(), "a b\nA".into()])
        );
        assert_eq!(
            s(r"set k 'it\'s \n'"),
            Some(vec!["set".into(), "k".into(), "it's \\n".into()])
        );
        assert_eq!(s(r#"a"b c"d"#), None);
        assert_eq!(s(r#"a"b c""#), Some(vec!["ab c".into()]));
        assert_eq!(s(r#"set "k"#), None);
        assert_eq!(s("''"), Some(vec![String::new()]));
        assert_eq!(s(""), Some(vec![]));
    }
}
