//! The state one-shot and interactive mode share: the connection, the selected database, MULTI
//! state and the protocol, and running a command (with `-r`/`-i` repeats) the way redis-cli
//! does, including the endless read loops of SUBSCRIBE and MONITOR, and with `-c` following a
//! cluster's -MOVED and -ASK redirections to the node that serves the key.

use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use redis_lite_protocol::Response;

use crate::args::{Mode, Options, Output};
use crate::conn::{self, Connection, Endpoint};
use crate::format;

pub struct Session {
    pub opts: Options,
    pub endpoint: Endpoint,
    pub conn: Option<Connection>,
    pub in_multi: bool,
    /// Push messages (client tracking, RESP3 pub/sub) are shown only on a terminal, as in
    /// redis-cli.
    show_pushes: bool,
}

impl Session {
    pub fn new(opts: Options) -> Session {
        Session {
            endpoint: Endpoint::from_options(&opts),
            opts,
            conn: None,
            in_multi: false,
            show_pushes: io::stdout().is_terminal(),
        }
    }

    /// (Re)connects, replacing any current connection.
    pub fn connect(&mut self) -> Result<(), String> {
        self.conn = None;
        self.in_multi = false;
        self.conn = Some(conn::connect(&self.opts, &self.endpoint, self.opts.db)?);
        Ok(())
    }

    /// `127.0.0.1:6379[2](TX)> `, or redis-cli's text when there is no connection.
    pub fn prompt(&self) -> String {
        if self.conn.is_none() {
            return "not connected> ".into();
        }
        let mut p = match &self.endpoint {
            Endpoint::Unix(path) => format!("redis {path}"),
            tcp => tcp.to_string(),
        };
        if self.opts.db != 0 {
            p.push_str(&format!("[{}]", self.opts.db));
        }
        if self.in_multi {
            p.push_str("(TX)");
        }
        p.push_str("> ");
        p
    }

    fn write_out(bytes: &[u8]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        out.write_all(bytes)?;
        out.flush()
    }

    /// Reads the command's reply, printing any push messages that come first.
    fn read_reply(&mut self, text_report: bool) -> io::Result<Response> {
        let conn = self.conn.as_mut().ok_or_else(not_connected)?;
        loop {
            match conn.read_reply()? {
                Response::Push(items) => {
                    if self.show_pushes {
                        let r = Response::Push(items);
                        Self::write_out(&format::reply(&r, self.opts.output, text_report))?;
                    }
                }
                reply => return Ok(reply),
            }
        }
    }

    /// Prints replies as they arrive until the connection ends (SUBSCRIBE, MONITOR). An error
    /// as the first reply (a server without MONITOR) ends the stream instead.
    fn stream_replies(&mut self) -> io::Result<()> {
        let conn = self.conn.as_mut().ok_or_else(not_connected)?;
        let mut first = true;
        loop {
            let reply = conn.read_reply()?;
            Self::write_out(&format::reply(&reply, self.opts.output, false))?;
            if first && matches!(reply, Response::Error(_)) {
                return Ok(());
            }
            first = false;
        }
    }

    /// Runs `args` `repeat` times (negative: forever), printing each reply. An error means the
    /// connection failed; the caller decides whether to reconnect.
    pub fn run(&mut self, args: &[Vec<u8>], repeat: i64) -> io::Result<()> {
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        let text_report = format::is_text_report(args);
        let mut left = repeat;
        while left != 0 {
            if left > 0 {
                left -= 1;
            }
            self.conn.as_mut().ok_or_else(not_connected)?.send(args)?;
            match name.as_str() {
                "monitor" => {
                    // The OK, then every command the server runs, until Ctrl-C.
                    return self.stream_replies();
                }
                "subscribe" | "psubscribe" | "ssubscribe" => {
                    if self.opts.output != Output::Raw {
                        Self::write_out(b"Reading messages... (press Ctrl-C to quit)\n")?;
                    }
                    return self.stream_replies();
                }
                _ => {}
            }
            let reply = self.read_following_redirections(args, text_report)?;
            Self::write_out(&format::reply(&reply, self.opts.output, text_report))?;
            self.track(&name, args, &reply);
            if self.opts.interval > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(self.opts.interval));
            }
        }
        Ok(())
    }

    /// Reads the reply to `args`, just sent; with `-c`, a -MOVED or -ASK error instead moves the
    /// session to the node it names (for good, as redis-cli does, ASK included) and sends the
    /// command there again, after ASKING for an ASK. Unlike redis-cli, which would loop for
    /// ever between nodes that disagree, it gives up after [`MAX_REDIRECTIONS`] and shows the
    /// last redirection as the reply.
    fn read_following_redirections(
        &mut self,
        args: &[Vec<u8>],
        text_report: bool,
    ) -> io::Result<Response> {
        let mut followed = 0;
        loop {
            let reply = self.read_reply(text_report)?;
            let redirect = match &reply {
                Response::Error(text) if self.opts.cluster && followed < MAX_REDIRECTIONS => {
                    Redirection::parse(text)
                }
                _ => None,
            };
            let Some(redirect) = redirect else {
                return Ok(reply);
            };
            followed += 1;
            if self.opts.mode == Mode::Interactive {
                println!(
                    "-> Redirected to slot [{}] located at {}:{}",
                    redirect.slot, redirect.host, redirect.port
                );
            }
            self.endpoint = Endpoint::Tcp(redirect.host, redirect.port);
            self.connect().map_err(io::Error::other)?;
            let conn = self.conn.as_mut().ok_or_else(not_connected)?;
            if redirect.ask {
                // Its reply says nothing the command's own will not.
                conn.command(&[b"ASKING".to_vec()])?;
            }
            conn.send(args)?;
        }
    }

    /// Follows the commands that change what the prompt shows, or what a reconnect restores.
    fn track(&mut self, name: &str, args: &[Vec<u8>], reply: &Response) {
        if matches!(reply, Response::Error(_)) {
            return;
        }
        let argc = args.len();
        match name {
            "select" if argc == 2 => {
                self.opts.db = String::from_utf8_lossy(&args[1]).parse().unwrap_or(0);
            }
            "multi" if argc == 1 => self.in_multi = true,
            "exec" | "discard" if argc == 1 => self.in_multi = false,
            "reset" if argc == 1 => {
                self.in_multi = false;
                self.opts.db = 0;
                self.opts.resp3 = false;
            }
            "hello" if argc > 1 => self.opts.resp3 = args[1] == b"3",
            _ => {}
        }
    }
}

/// How many redirections one command follows before its last one is shown as its reply.
const MAX_REDIRECTIONS: usize = 16;

/// Where a cluster node sent a command: `MOVED slot host:port` or `ASK slot host:port`.
#[derive(Debug, PartialEq)]
struct Redirection {
    slot: u16,
    host: String,
    port: u16,
    ask: bool,
}

impl Redirection {
    /// The redirection an error reply is, if it is one. The host is everything before the last
    /// colon, so IPv6 addresses and hostnames parse too.
    fn parse(error: &[u8]) -> Option<Redirection> {
        let text = std::str::from_utf8(error).ok()?;
        let (ask, rest) = match text.split_once(' ')? {
            ("MOVED", rest) => (false, rest),
            ("ASK", rest) => (true, rest),
            _ => return None,
        };
        let (slot, address) = rest.split_once(' ')?;
        let (host, port) = address.rsplit_once(':')?;
        Some(Redirection {
            slot: slot.parse().ok()?,
            host: host.to_string(),
            port: port.parse().ok()?,
            ask,
        })
    }
}

fn not_connected() -> io::Error {
    io::Error::new(io::ErrorKind::NotConnected, "not connected")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirections_parse_from_moved_and_ask_errors_only() {
        assert_eq!(
            Redirection::parse(b"MOVED 3300 127.0.0.1:7001"),
            Some(Redirection {
                slot: 3300,
                host: "127.0.0.1".into(),
                port: 7001,
                ask: false
            })
        );
        let ask = Redirection::parse(b"ASK 0 ::1:7002").unwrap();
        assert_eq!((ask.host.as_str(), ask.port, ask.ask), ("::1", 7002, true));
        for other in [
            &b"ERR unknown command"[..],
            b"TRYAGAIN Multiple keys request during rehashing of slot",
            b"MOVED x 127.0.0.1:1",
            b"MOVED 1 nohost",
        ] {
            assert_eq!(Redirection::parse(other), None);
        }
    }
}
