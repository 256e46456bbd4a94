//! Command errors. Handlers return typed errors; the text, exactly as Redis 7 words it, is made
//! only when the reply is written.

use std::borrow::Cow;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandError {
    WrongType,
    NotInteger,
    NotFloat,
    Syntax,
    NoSuchKey,
    Overflow,
    DbIndexOutOfRange,
    /// `ERR wrong number of arguments for '<name>' command`.
    WrongArity(String),
    /// `ERR invalid expire time in '<name>' command`.
    InvalidExpire(&'static str),
    NoAuth,
    /// A command an `enable-*-command` setting keeps from this client: DEBUG or MODULE.
    NotAllowed {
        command: &'static str,
        option: &'static str,
    },
    /// `ERR <text>`.
    Err(Cow<'static, str>),
    /// A complete error line with its own code, such as `NOPROTO ...` or `WRONGPASS ...`.
    Coded(Cow<'static, str>),
    /// A command's error that a script passed on (raised by `redis.call`, returned from
    /// `redis.pcall`): the command already counted it in the error stats, so passing it on
    /// counts only as the script command's failure, as in Redis.
    AlreadyCounted(Vec<u8>),
    /// A complete error line, code included, quoting client bytes that need not be UTF-8:
    /// Redis copies them into the reply as they are.
    Raw(Vec<u8>),
}

pub type CmdResult = Result<(), CommandError>;

impl CommandError {
    pub fn err(text: impl Into<Cow<'static, str>>) -> Self {
        CommandError::Err(text.into())
    }

    pub fn coded(text: impl Into<Cow<'static, str>>) -> Self {
        CommandError::Coded(text.into())
    }

    /// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`, quoting the client's bytes.
    pub fn unknown_subcommand(command: &str, sub: &[u8]) -> Self {
        let mut line = b"ERR unknown subcommand '".to_vec();
        line.extend_from_slice(truncated_bytes(sub, 128));
        line.extend_from_slice(format!("'. Try {} HELP.", command.to_ascii_uppercase()).as_bytes());
        CommandError::Raw(line)
    }

    /// `ERR <before><quoted><after>`, quoting client bytes as Redis's `%s` does (up to a NUL;
    /// cut them with [`truncated_bytes`] first where Redis writes `%.128s`).
    pub fn err_quoting(before: &str, quoted: &[u8], after: &str) -> Self {
        let lead = format!("ERR {before}");
        CommandError::raw_parts(&[lead.as_bytes(), quoted, after.as_bytes()])
    }

    /// An error line, code included, of text and quoted client bytes, each quoted part up to
    /// its first NUL as Redis's C formats copy it.
    pub fn raw_parts(parts: &[&[u8]]) -> Self {
        let mut line = Vec::new();
        for (i, part) in parts.iter().enumerate() {
            // The literal parts (even positions) are whole; the quoted ones stop at a NUL.
            let part = if i % 2 == 1 {
                truncated_bytes(part, usize::MAX)
            } else {
                part
            };
            line.extend_from_slice(part);
        }
        CommandError::Raw(line)
    }

    /// `ERR unknown subcommand or wrong number of arguments for '<sub>'. Try <CMD> HELP.`, as
    /// Redis's subcommand syntax error words it (the subcommand cut to 128 bytes).
    pub fn subcommand_syntax(command: &str, sub: &[u8]) -> Self {
        CommandError::err_quoting(
            "unknown subcommand or wrong number of arguments for '",
            truncated_bytes(sub, 128),
            &format!("'. Try {} HELP.", command.to_ascii_uppercase()),
        )
    }

    /// The error line as the client gets it: bytes, since a quoted argument need not be UTF-8.
    pub fn reply_text(&self) -> Cow<'_, [u8]> {
        match self {
            CommandError::Raw(line) | CommandError::AlreadyCounted(line) => Cow::Borrowed(line),
            error => Cow::Owned(error.to_string().into_bytes()),
        }
    }
}

/// Client-supplied bytes quoted in an error as Redis's `%.128s` does: cut at the first NUL (it
/// formats C strings) and to `max` bytes.
pub fn truncated_bytes(bytes: &[u8], max: usize) -> &[u8] {
    let end = bytes
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(bytes.len())
        .min(max);
    &bytes[..end]
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CommandError::WrongType => {
                f.write_str("WRONGTYPE Operation against a key holding the wrong kind of value")
            }
            CommandError::NotInteger => f.write_str("ERR value is not an integer or out of range"),
            CommandError::NotFloat => f.write_str("ERR value is not a valid float"),
            CommandError::Syntax => f.write_str("ERR syntax error"),
            CommandError::NoSuchKey => f.write_str("ERR no such key"),
            CommandError::Overflow => f.write_str("ERR increment or decrement would overflow"),
            CommandError::DbIndexOutOfRange => f.write_str("ERR DB index is out of range"),
            CommandError::WrongArity(name) => {
                write!(f, "ERR wrong number of arguments for '{name}' command")
            }
            CommandError::InvalidExpire(name) => {
                write!(f, "ERR invalid expire time in '{name}' command")
            }
            CommandError::NoAuth => f.write_str("NOAUTH Authentication required."),
            CommandError::NotAllowed { command, option } => write!(
                f,
                "ERR {command} command not allowed. If the {option} option is set to \"local\", \
                 you can run it from a local connection, otherwise you need to set this option in \
                 the configuration file, and then restart the server."
            ),
            CommandError::Err(text) => write!(f, "ERR {text}"),
            CommandError::Coded(text) => f.write_str(text),
            CommandError::AlreadyCounted(line) => f.write_str(&String::from_utf8_lossy(line)),
            CommandError::Raw(line) => f.write_str(&String::from_utf8_lossy(line)),
        }
    }
}

/// An I/O error as C's `strerror` words it, which Redis's messages quote: without Rust's
/// " (os error N)" suffix.
pub fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_redis() {
        assert_eq!(
            CommandError::WrongArity("get".into()).to_string(),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            CommandError::unknown_subcommand("client", b"foo").to_string(),
            "ERR unknown subcommand 'foo'. Try CLIENT HELP."
        );
    }
}
