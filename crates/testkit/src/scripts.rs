//! Command scripts kept as data files instead of long Rust arrays: one command a line, its
//! arguments split as redis-cli splits an interactive line (space-separated; `"..."` with
//! `\n`, `\r`, `\t`, `\b`, `\a`, `\\`, `\"` and `\xHH` escapes; `'...'` with only `\'`), but
//! stricter: a quote inside an unquoted argument and a `\x` without two hex digits are refused
//! instead of read some other way, so that what a line sends is plain to read. Blank lines and
//! lines starting with `#` (a comment saying why the next commands are there) are skipped. A
//! test names its file with [`script!`](crate::script), which looks in its crate's
//! `tests/scripts/` folder.

use std::path::Path;

/// The commands of the script file at `path`, in the borrowed shape every harness function
/// takes. Panics, naming the file and line, when it cannot be read or a line is malformed, so a
/// broken script fails its test instead of running fewer commands.
///
/// The parsed script is leaked: a test process is short-lived, and leaking is what lets the
/// caller pass `&[&[&str]]` straight to [`differential`](crate::differential) and the rest.
#[track_caller]
pub fn load(path: &Path) -> &'static [&'static [&'static str]] {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read script {}: {e}", path.display()));
    let mut commands: Vec<&'static [&'static str]> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let args = split_line(line)
            .unwrap_or_else(|why| panic!("{}:{}: {why}", path.display(), index + 1));
        let args: Vec<&'static str> = args
            .into_iter()
            .map(|arg| &*Box::leak(arg.into_boxed_str()))
            .collect();
        commands.push(Box::leak(args.into_boxed_slice()));
    }
    Box::leak(commands.into_boxed_slice())
}

/// Splits one line into arguments with redis-cli's quoting rules. Arguments are text: a `\xHH`
/// escape that makes invalid UTF-8 is an error, as the harness sends `&str`.
pub fn split_line(line: &str) -> Result<Vec<String>, String> {
    let mut args = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_ascii_whitespace()).is_some() {}
        let Some(&first) = chars.peek() else {
            return Ok(args);
        };
        let mut arg: Vec<u8> = Vec::new();
        match first {
            '"' => {
                chars.next();
                loop {
                    match chars.next().ok_or("unterminated double quote")? {
                        '"' => break,
                        '\\' => match chars.next().ok_or("unterminated escape")? {
                            'n' => arg.push(b'\n'),
                            'r' => arg.push(b'\r'),
                            't' => arg.push(b'\t'),
                            'b' => arg.push(0x08),
                            'a' => arg.push(0x07),
                            'x' => {
                                let hex: String = chars.by_ref().take(2).collect();
                                let byte = u8::from_str_radix(&hex, 16)
                                    .map_err(|_| format!("bad \\x escape \\x{hex}"))?;
                                arg.push(byte);
                            }
                            other => push_char(&mut arg, other),
                        },
                        other => push_char(&mut arg, other),
                    }
                }
            }
            '\'' => {
                chars.next();
                loop {
                    match chars.next().ok_or("unterminated single quote")? {
                        '\'' => break,
                        '\\' if chars.peek() == Some(&'\'') => {
                            chars.next();
                            arg.push(b'\'');
                        }
                        other => push_char(&mut arg, other),
                    }
                }
            }
            _ => {
                while let Some(c) = chars.next_if(|c| !c.is_ascii_whitespace()) {
                    if c == '"' || c == '\'' {
                        return Err(format!("quote inside the unquoted argument at {c:?}"));
                    }
                    push_char(&mut arg, c);
                }
            }
        }
        // redis-cli refuses `"a"b`: a closing quote must end the argument.
        if chars.peek().is_some_and(|c| !c.is_ascii_whitespace()) {
            return Err("a closing quote must be followed by a space".to_string());
        }
        args.push(String::from_utf8(arg).map_err(|_| "argument is not UTF-8".to_string())?);
    }
}

fn push_char(arg: &mut Vec<u8>, c: char) {
    arg.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

/// The commands of `tests/scripts/<name>.redis` in the calling crate, as [`load`] reads them.
#[macro_export]
macro_rules! script {
    ($name:literal) => {
        $crate::scripts::load(
            &::std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/scripts")
                .join(concat!($name, ".redis")),
        )
    };
}

#[cfg(test)]
mod tests {
    use super::split_line;

    #[test]
    fn splits_like_redis_cli() {
        assert_eq!(
            split_line(r#"SET "a b" 'c d' x"#).unwrap(),
            ["SET", "a b", "c d", "x"]
        );
        assert_eq!(
            split_line(r#"SET "\x00\r\n\t\"\\" 'it\'s' """#).unwrap(),
            ["SET", "\0\r\n\t\"\\", "it's", ""]
        );
        assert_eq!(split_line("  GET  é  ").unwrap(), ["GET", "é"]);
        assert_eq!(split_line(r#""\xc3\xa9""#).unwrap(), ["é"]);
    }

    #[test]
    fn refuses_malformed_lines() {
        assert!(split_line(r#"SET "a"#).is_err());
        assert!(split_line(r#"SET "a"b"#).is_err());
        assert!(split_line(r#"SET a"b""#).is_err());
        assert!(split_line(r#"SET "\xzz""#).is_err());
        assert!(split_line(r#"SET "\xff""#).is_err());
    }
}
