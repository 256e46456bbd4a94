//! A master's replication stream as a replica reads it, for tests of what a server propagates:
//! a plain `SYNC` connection whose snapshot is skipped, then the commands one by one, PINGs left
//! out. Expectations are patterns as Redis's own suite writes them
//! (`assert_replication_stream`): the command's words joined by spaces, `*` for any run of
//! characters (`pexpireat k *`), compared ignoring case, so one list checks real Redis and
//! redis-lite alike.

use std::io::Read;
use std::net::TcpStream;

use crate::launch::Server;
use crate::resp::{Raw, Reply};

/// The stream a `SYNC` connection gets once its snapshot is read.
pub struct ReplicationStream {
    raw: Raw,
}

impl ReplicationStream {
    /// Connects to `server` as a replica with `SYNC` and reads past its snapshot: what comes
    /// next is what the server propagates from then on.
    pub fn attach(server: &Server) -> ReplicationStream {
        let mut stream = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        let mut raw = Raw::new(stream.try_clone().unwrap());
        raw.send(b"SYNC\r\n");
        skip_sync_snapshot(&mut stream);
        ReplicationStream { raw }
    }

    /// The next command propagated, PINGs skipped, its words joined by spaces.
    pub fn next_command(&mut self) -> String {
        loop {
            let words: Vec<String> = Reply::parse(&self.raw.read_reply())
                .array()
                .into_iter()
                .map(|word| String::from_utf8_lossy(&word).into_owned())
                .collect();
            if !words[0].eq_ignore_ascii_case("ping") {
                return words.join(" ");
            }
        }
    }

    /// Reads as many commands as `patterns` has and asserts each matches its pattern (`*` any
    /// run of characters, case ignored). `who` names the server in the failure message.
    #[track_caller]
    pub fn expect(&mut self, who: &str, patterns: &[&str]) {
        let mut seen = Vec::new();
        for pattern in patterns {
            let command = self.next_command();
            seen.push(command.clone());
            assert!(
                glob_matches(&pattern.to_lowercase(), &command.to_lowercase()),
                "{who}: expected {pattern:?}, got {command:?}; the stream so far: {seen:?}"
            );
        }
    }
}

/// Reads a plain SYNC's reply up to the end of its snapshot: newlines (keep-alives while the
/// snapshot is made), then `$<length>` and that many bytes (no CRLF follows them).
pub fn skip_sync_snapshot(replica: &mut TcpStream) {
    let mut header = Vec::new();
    let mut byte = [0u8];
    while !header.ends_with(b"\r\n") {
        replica.read_exact(&mut byte).unwrap();
        if !(header.is_empty() && byte[0] == b'\n') {
            header.push(byte[0]);
        }
    }
    let length: u64 = std::str::from_utf8(&header[1..header.len() - 2])
        .unwrap()
        .parse()
        .unwrap();
    std::io::copy(&mut replica.take(length), &mut std::io::sink()).unwrap();
}

/// Whether `text` matches `pattern`, where `*` stands for any run of characters.
fn glob_matches(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            let Some(text) = text.strip_prefix(head) else {
                return false;
            };
            (0..=text.len())
                .filter(|&at| text.is_char_boundary(at))
                .any(|at| glob_matches(rest, &text[at..]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn patterns_match_as_redis_suite_writes_them() {
        assert!(glob_matches("pexpireat k *", "pexpireat k 1700000000000"));
        assert!(glob_matches("select *", "select 9"));
        assert!(glob_matches("del foo*", "del foo2"));
        assert!(!glob_matches("select *", "set k v"));
        assert!(!glob_matches("set k v", "set k v2"));
    }
}
