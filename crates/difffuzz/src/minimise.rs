//! Delta debugging: the shortest sequence of commands found that still diverges (dropping
//! chunks, then single commands, while the divergence persists), and its reproduction written
//! as redis-cli lines.

/// Drops commands from `steps` while `diverges` still holds for what is left, testing at most
/// `budget` candidates. `steps` must diverge to begin with.
pub fn minimise<T: Clone>(
    mut steps: Vec<T>,
    budget: usize,
    mut diverges: impl FnMut(&[T]) -> bool,
) -> Vec<T> {
    let mut tries = 0;
    let mut chunks = 2;
    while steps.len() > 1 && tries < budget {
        let size = steps.len().div_ceil(chunks);
        let mut reduced = false;
        let mut start = 0;
        while start < steps.len() && tries < budget {
            let end = (start + size).min(steps.len());
            let candidate: Vec<T> = steps[..start]
                .iter()
                .chain(&steps[end..])
                .cloned()
                .collect();
            tries += 1;
            if !candidate.is_empty() && diverges(&candidate) {
                steps = candidate;
                reduced = true;
                // The same start now names the next chunk.
            } else {
                start = end;
            }
        }
        if reduced {
            chunks = chunks.saturating_sub(1).max(2);
        } else if size == 1 {
            break;
        } else {
            chunks = (chunks * 2).min(steps.len());
        }
    }
    steps
}

/// An argument as redis-cli reads it: bare when it is plain, quoted with escapes otherwise.
pub fn quote(arg: &[u8]) -> String {
    let plain = !arg.is_empty()
        && arg
            .iter()
            .all(|&c| c.is_ascii_graphic() && !matches!(c, b'"' | b'\'' | b'\\'));
    if plain {
        return String::from_utf8_lossy(arg).into_owned();
    }
    let mut out = String::from("\"");
    for &c in arg {
        match c {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\r' => out.push_str("\\r"),
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            c if c == b' ' || c.is_ascii_graphic() => out.push(c as char),
            c => out.push_str(&format!("\\x{c:02x}")),
        }
    }
    out.push('"');
    out
}

/// A command as one redis-cli line.
pub fn command_line(args: &[Vec<u8>]) -> String {
    args.iter().map(|a| quote(a)).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimise_keeps_only_what_the_divergence_needs() {
        let steps: Vec<u32> = (0..100).collect();
        let kept = minimise(steps, 1000, |s| s.contains(&17) && s.contains(&83));
        assert_eq!(kept, vec![17, 83]);
    }

    #[test]
    fn quote_escapes_what_redis_cli_would_split() {
        assert_eq!(quote(b"abc"), "abc");
        assert_eq!(quote(b""), "\"\"");
        assert_eq!(quote(b"a b\x00\"\r\n"), "\"a b\\x00\\\"\\r\\n\"");
    }
}
