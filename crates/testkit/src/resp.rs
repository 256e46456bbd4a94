//! Raw RESP connections for byte-level checks: send exactly these bytes, read exactly one
//! reply's bytes back; and the same reply parsed ([`Reply`]) for tests that read values.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// A raw TCP connection for byte-level checks.
pub struct Raw {
    pub stream: TcpStream,
    buf: Vec<u8>,
}

/// Encodes a command as a RESP multibulk.
pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

impl Raw {
    /// Wraps a connected stream (to any of the server's addresses), with a 10 s read timeout.
    pub fn new(stream: TcpStream) -> Raw {
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            buf: Vec::new(),
        }
    }

    /// Waits up to `timeout` for each reply from now on, for a command known to be slow.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream.set_read_timeout(Some(timeout)).unwrap();
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).unwrap();
    }

    /// [`Raw::send`] of input the server may close the connection in the middle of (an
    /// oversized frame): a server that closes with input unread resets the connection, so
    /// the rest of the write fails. What it answered before closing can still be read.
    pub fn send_until_closed(&mut self, bytes: &[u8]) {
        if let Err(e) = self.stream.write_all(bytes) {
            assert!(
                matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
                ),
                "send: {e}"
            );
        }
    }

    /// Reads exactly one complete reply and returns its bytes.
    pub fn read_reply(&mut self) -> Vec<u8> {
        loop {
            if let Some(n) = frame_len(&self.buf) {
                return self.buf.drain(..n).collect();
            }
            let mut chunk = [0u8; 65536];
            let n = self.stream.read(&mut chunk).expect("read reply");
            assert!(
                n > 0,
                "connection closed with partial reply {:?}",
                String::from_utf8_lossy(&self.buf)
            );
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// Sends a command and returns its reply bytes.
    pub fn cmd(&mut self, args: &[&str]) -> Vec<u8> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&encode(&args));
        self.read_reply()
    }

    /// Like `cmd`, returning the reply as text for readable assertions.
    pub fn cmd_text(&mut self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.cmd(args)).into_owned()
    }

    /// Sends each command in turn and asserts its reply text is the one paired with it,
    /// stopping at the first that differs: a table for runs of `assert_eq!(cmd_text(..), ..)`.
    #[track_caller]
    pub fn expect_replies(&mut self, exchanges: &[(&[&str], &str)]) {
        for (command, expected) in exchanges {
            assert_eq!(self.cmd_text(command), *expected, "reply to {command:?}");
        }
    }

    /// Sends a command of binary arguments and returns its reply parsed; panics on an error
    /// reply, naming the command.
    pub fn ok(&mut self, args: &[&[u8]]) -> Reply {
        self.send(&encode(args));
        let reply = Reply::parse(&self.read_reply());
        if let Reply::Error(e) = &reply {
            panic!("{}: {e}", String::from_utf8_lossy(args[0]));
        }
        reply
    }

    /// True when the server has closed the connection (reads EOF within a second).
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut chunk = [0u8; 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
                Err(_) => return false,
            }
        }
    }

    /// Whether the server has closed the connection already, without waiting: what it sent
    /// before is read and dropped, and the end must be right behind it. A peer on loopback
    /// has the end queued as soon as the server's close or shutdown returns.
    pub fn is_already_closed(&mut self) -> bool {
        self.stream.set_nonblocking(true).unwrap();
        let mut chunk = [0u8; 65536];
        let closed = loop {
            match self.stream.read(&mut chunk) {
                Ok(0) => break true,
                Ok(_) => continue,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break false,
            }
        };
        self.stream.set_nonblocking(false).unwrap();
        closed
    }
}

/// Length of the first complete RESP2/RESP3 frame in `buf`, if it is complete.
pub fn frame_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    // Only a length is read as text: a simple line (an error quoting client bytes) may be any
    // bytes.
    let head = || std::str::from_utf8(&buf[1..line_end]).ok();
    let after = line_end + 2;
    match buf[0] {
        b'+' | b'-' | b':' | b',' | b'#' | b'_' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let n: i64 = head()?.parse().ok()?;
            if n < 0 {
                return Some(after);
            }
            let end = after + n as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let n: i64 = head()?.parse().ok()?;
            let items = if n < 0 {
                0
            } else if matches!(buf[0], b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut pos = after;
            for _ in 0..items {
                pos += frame_len(&buf[pos..])?;
            }
            if buf[0] == b'|' {
                // An attribute is followed by the reply it annotates.
                pos += frame_len(&buf[pos..])?;
            }
            Some(pos)
        }
        _ => panic!("not a RESP frame: {:?}", String::from_utf8_lossy(buf)),
    }
}

/// A RESP2 reply parsed from its bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    Status(String),
    Error(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
    Array(Vec<Reply>),
}

impl Reply {
    /// Parses one complete RESP2 frame (as [`Raw::read_reply`] returns it).
    pub fn parse(frame: &[u8]) -> Reply {
        let (reply, used) = Reply::parse_at(frame);
        assert_eq!(used, frame.len(), "bytes after the reply: {frame:?}");
        reply
    }

    /// The reply starting at `buf[0]`, and how many bytes it took.
    fn parse_at(buf: &[u8]) -> (Reply, usize) {
        let line_end = buf
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("a complete line");
        let head = String::from_utf8_lossy(&buf[1..line_end]).into_owned();
        let after = line_end + 2;
        let number = || -> i64 {
            head.parse()
                .unwrap_or_else(|_| panic!("bad length {head:?}"))
        };
        match buf[0] {
            b'+' => (Reply::Status(head), after),
            b'-' => (Reply::Error(head), after),
            b':' => (Reply::Int(number()), after),
            b'$' if number() < 0 => (Reply::Bulk(None), after),
            b'$' => {
                let end = after + number() as usize;
                (Reply::Bulk(Some(buf[after..end].to_vec())), end + 2)
            }
            b'*' => {
                let mut items = Vec::new();
                let mut pos = after;
                for _ in 0..number().max(0) {
                    let (item, used) = Reply::parse_at(&buf[pos..]);
                    items.push(item);
                    pos += used;
                }
                (Reply::Array(items), pos)
            }
            other => panic!("not a RESP2 reply: {:?}", other as char),
        }
    }

    /// A bulk string's bytes, or a status line's.
    pub fn bytes(self) -> Vec<u8> {
        match self {
            Reply::Bulk(Some(b)) => b,
            Reply::Status(s) => s.into_bytes(),
            other => panic!("expected a bulk string, got {other:?}"),
        }
    }

    pub fn int(self) -> i64 {
        match self {
            Reply::Int(n) => n,
            other => panic!("expected an integer, got {other:?}"),
        }
    }

    /// An array of bulk strings' bytes.
    pub fn array(self) -> Vec<Vec<u8>> {
        match self {
            Reply::Array(items) => items.into_iter().map(Reply::bytes).collect(),
            other => panic!("expected an array, got {other:?}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_parse_from_their_bytes() {
        let frame = b"*4\r\n+OK\r\n:-7\r\n$-1\r\n*1\r\n$3\r\na\r\n\r\n";
        assert_eq!(frame_len(frame), Some(frame.len()));
        assert_eq!(
            Reply::parse(frame),
            Reply::Array(vec![
                Reply::Status("OK".into()),
                Reply::Int(-7),
                Reply::Bulk(None),
                Reply::Array(vec![Reply::Bulk(Some(b"a\r\n".to_vec()))]),
            ])
        );
        assert_eq!(Reply::parse(b"-ERR no\r\n"), Reply::Error("ERR no".into()));
    }
}
