//! Glob patterns as Redis matches them in KEYS, SCAN MATCH, CONFIG GET and PSUBSCRIBE:
//! `*`, `?`, `[abc]`, `[^a-z]`, and `\` escapes, over bytes.

/// Whether `text` matches `pattern`. `nocase` folds ASCII case, as CONFIG GET does.
pub fn glob_match(pattern: &[u8], text: &[u8], nocase: bool) -> bool {
    // Guard the recursion on `*`, as an adversarial pattern could otherwise take exponential time.
    let mut budget: u32 = 1_000_000;
    matches(pattern, text, nocase, &mut budget)
}

fn eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

fn matches(mut p: &[u8], mut s: &[u8], nocase: bool, budget: &mut u32) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    while !p.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for start in 0..=s.len() {
                    if matches(&p[1..], &s[start..], nocase, budget) {
                        return true;
                    }
                    if *budget == 0 {
                        return false;
                    }
                }
                return false;
            }
            b'?' => {
                if s.is_empty() {
                    return false;
                }
                s = &s[1..];
            }
            b'[' => {
                if s.is_empty() {
                    return false;
                }
                p = &p[1..];
                let negate = p.first() == Some(&b'^');
                if negate {
                    p = &p[1..];
                }
                let mut hit = false;
                loop {
                    match p {
                        [] => break,
                        [b']', ..] => break,
                        [b'\\', c, ..] => {
                            hit |= eq(*c, s[0], nocase);
                            p = &p[2..];
                        }
                        [lo, b'-', hi, ..] if *hi != b']' => {
                            let (mut lo, mut hi, mut c) = (*lo, *hi, s[0]);
                            if lo > hi {
                                std::mem::swap(&mut lo, &mut hi);
                            }
                            if nocase {
                                lo = lo.to_ascii_lowercase();
                                hi = hi.to_ascii_lowercase();
                                c = c.to_ascii_lowercase();
                            }
                            hit |= c >= lo && c <= hi;
                            p = &p[3..];
                        }
                        [c, ..] => {
                            hit |= eq(*c, s[0], nocase);
                            p = &p[1..];
                        }
                    }
                }
                if hit == negate {
                    return false;
                }
                s = &s[1..];
                if p.is_empty() {
                    // An unterminated class ends the pattern, as in Redis.
                    return s.is_empty();
                }
            }
            b'\\' if p.len() >= 2 => {
                if s.is_empty() || !eq(p[1], s[0], nocase) {
                    return false;
                }
                p = &p[1..];
                s = &s[1..];
            }
            c => {
                if s.is_empty() || !eq(c, s[0], nocase) {
                    return false;
                }
                s = &s[1..];
            }
        }
        p = &p[1..];
    }
    s.is_empty()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn redis_glob_cases() {
        let yes: &[(&str, &str)] = &[
            ("*", "anything"),
            ("h?llo", "hello"),
            ("h*llo", "heeeello"),
            ("h[ae]llo", "hallo"),
            ("h[^e]llo", "hallo"),
            ("h[a-b]llo", "hbllo"),
            ("h\\*llo", "h*llo"),
            ("*:*", "user:1"),
            ("", ""),
        ];
        for (p, s) in yes {
            assert!(glob_match(p.as_bytes(), s.as_bytes(), false), "{p} {s}");
        }
        let no: &[(&str, &str)] = &[
            ("h?llo", "hllo"),
            ("h[^e]llo", "hello"),
            ("a*b", "acbd"),
            ("", "x"),
        ];
        for (p, s) in no {
            assert!(!glob_match(p.as_bytes(), s.as_bytes(), false), "{p} {s}");
        }
        assert!(glob_match(b"MAX*", b"maxmemory", true));
    }

    #[test]
    fn pathological_patterns_terminate() {
        let p = "a*".repeat(40) + "b";
        assert!(!glob_match(p.as_bytes(), "a".repeat(60).as_bytes(), false));
    }
}
