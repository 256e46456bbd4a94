//! One connection to a server over TCP (plain or TLS) or a unix socket: blocking writes of
//! commands, buffered reads of replies, and the set-up redis-cli does on connect (AUTH, SELECT,
//! HELLO 3).

use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::unix::net::UnixStream;
use std::time::Duration;

use redis_lite_protocol::{parse_response, Response};

use redis_lite_tls::rustls::{ClientConnection, StreamOwned};
use redis_lite_tls::{client_builder, load_certs, load_key, rustls, server_name, Trust};

use crate::args::{Options, TlsOptions};

/// Where to connect.
#[derive(Clone, Debug, PartialEq)]
pub enum Endpoint {
    Tcp(String, u16),
    Unix(String),
}

impl Endpoint {
    pub fn from_options(o: &Options) -> Endpoint {
        match &o.socket {
            Some(path) => Endpoint::Unix(path.clone()),
            None => Endpoint::Tcp(o.host.clone(), o.port),
        }
    }
}

impl std::fmt::Display for Endpoint {
    /// As redis-cli names a server in messages and prompts: `host:port`, `[v6]:port` or the path.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Endpoint::Tcp(host, port) if host.contains(':') => write!(f, "[{host}]:{port}"),
            Endpoint::Tcp(host, port) => write!(f, "{host}:{port}"),
            Endpoint::Unix(path) => f.write_str(path),
        }
    }
}

/// The OS's own text for an error, without Rust's " (os error N)" suffix and resolver prefix,
/// so messages read like redis-cli's.
pub fn plain_error(e: &io::Error) -> String {
    let text = e.to_string();
    let text = text
        .strip_prefix("failed to lookup address information: ")
        .unwrap_or(&text);
    match text.rfind(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text.to_string(),
    }
}

pub enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// A second handle for another thread (`--pipe`); a TLS session has one owner only.
    pub fn try_clone(&self) -> io::Result<Stream> {
        Ok(match self {
            Stream::Tcp(s) => Stream::Tcp(s.try_clone()?),
            Stream::Unix(s) => Stream::Unix(s.try_clone()?),
            Stream::Tls(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::Unsupported,
                    "--pipe does not work over TLS",
                ))
            }
        })
    }

    pub fn set_read_timeout(&self, t: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(s) => s.set_read_timeout(t),
            Stream::Unix(s) => s.set_read_timeout(t),
            Stream::Tls(s) => s.sock.set_read_timeout(t),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.read(buf),
            Stream::Unix(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(s) => s.write(buf),
            Stream::Unix(s) => s.write(buf),
            // rustls holds the record until flushed: send it now, as a plain write would.
            Stream::Tls(s) => s.write(buf).and_then(|n| s.flush().map(|()| n)),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Tls(s) => s.flush(),
            _ => Ok(()),
        }
    }
}

/// Wraps `socket` in TLS as redis-cli's `--tls` options say, the handshake done. The error
/// reads as redis-cli's.
fn tls_stream(socket: TcpStream, host: &str, o: &TlsOptions) -> io::Result<Stream> {
    let failed = |why: String| io::Error::other(why);
    let trust = match o.insecure {
        true => Trust::Anything,
        false => Trust::from_files(&o.cacert, &o.cacertdir)
            .map_err(|e| failed(format!("Could not create SSL context: {e}")))?,
    };
    let versions = rustls::DEFAULT_VERSIONS;
    let builder = client_builder(redis_lite_tls::provider(), versions, trust).map_err(failed)?;
    let config = match o.cert.is_empty() {
        true => builder.with_no_client_auth(),
        false => {
            let certs = load_certs(&o.cert).map_err(failed)?;
            let key = load_key(&o.key, "").map_err(failed)?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| failed(e.to_string()))?
        }
    };
    let name = server_name(o.sni.as_deref().unwrap_or(host));
    let session = ClientConnection::new(std::sync::Arc::new(config), name)
        .map_err(|e| failed(e.to_string()))?;
    let mut stream = StreamOwned::new(session, socket);
    while stream.conn.is_handshaking() {
        stream
            .conn
            .complete_io(&mut stream.sock)
            .map_err(|e| failed(format!("SSL_connect failed: {e}")))?;
    }
    Ok(Stream::Tls(Box::new(stream)))
}

/// Encodes a command as a RESP multibulk.
pub fn encode(out: &mut Vec<u8>, args: &[Vec<u8>]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Bytes of buffered input above which an incomplete reply is re-parsed only after the buffer
/// has doubled, so one huge aggregate costs linear, not quadratic, time.
const RESCAN_THRESHOLD: usize = 1 << 20;

pub struct Connection {
    pub stream: Stream,
    buf: Vec<u8>,
    start: usize,
    /// Don't try to parse again before the buffer holds this many bytes.
    retry_at: usize,
}

impl Connection {
    /// Connects to `endpoint`, over TLS when `tls` says so.
    pub fn open(endpoint: &Endpoint, tls: &TlsOptions) -> io::Result<Connection> {
        let stream = match endpoint {
            Endpoint::Unix(path) => Stream::Unix(UnixStream::connect(path)?),
            Endpoint::Tcp(host, port) => {
                let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
                let mut found = None;
                for addr in (host.as_str(), *port).to_socket_addrs()? {
                    match TcpStream::connect(addr) {
                        Ok(s) => {
                            found = Some(s);
                            break;
                        }
                        Err(e) => last = e,
                    }
                }
                let s = found.ok_or(last)?;
                s.set_nodelay(true)?;
                match tls.enabled {
                    true => tls_stream(s, host, tls)?,
                    false => Stream::Tcp(s),
                }
            }
        };
        Ok(Connection::from_stream(stream))
    }

    pub fn from_stream(stream: Stream) -> Connection {
        Connection {
            stream,
            buf: Vec::with_capacity(16 * 1024),
            start: 0,
            retry_at: 0,
        }
    }

    pub fn send(&mut self, args: &[Vec<u8>]) -> io::Result<()> {
        let mut out = Vec::new();
        encode(&mut out, args);
        self.stream.write_all(&out)
    }

    /// Reads the next reply, waiting for as many bytes as it takes. End of stream before a whole
    /// reply is an error with redis-cli's text.
    pub fn read_reply(&mut self) -> io::Result<Response> {
        loop {
            if self.buf.len() > self.start && self.buf.len() >= self.retry_at {
                match parse_response(&self.buf[self.start..]) {
                    Ok(Some((reply, used))) => {
                        self.start += used;
                        self.retry_at = 0;
                        if self.start == self.buf.len() {
                            self.buf.clear();
                            self.start = 0;
                        }
                        return Ok(reply);
                    }
                    Ok(None) => {
                        let pending = self.buf.len() - self.start;
                        if pending > RESCAN_THRESHOLD {
                            self.retry_at = self.buf.len() + pending;
                        }
                    }
                    Err(e) => return Err(io::Error::new(io::ErrorKind::InvalidData, e.0)),
                }
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.retry_at = self.retry_at.saturating_sub(self.start);
                self.start = 0;
            }
            let len = self.buf.len();
            self.buf.resize(len + 64 * 1024, 0);
            let n = match self.stream.read(&mut self.buf[len..]) {
                Ok(n) => n,
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            };
            self.buf.truncate(len + n);
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "Server closed the connection",
                ));
            }
        }
    }

    pub fn command(&mut self, args: &[Vec<u8>]) -> io::Result<Response> {
        self.send(args)?;
        self.read_reply()
    }

    /// Bytes read but not yet parsed, for the raw RDB transfer that follows SYNC's header.
    pub fn take_buffered(&mut self) -> Vec<u8> {
        let rest = self.buf[self.start..].to_vec();
        self.buf.clear();
        self.start = 0;
        rest
    }
}

pub fn args(words: &[&str]) -> Vec<Vec<u8>> {
    words.iter().map(|w| w.as_bytes().to_vec()).collect()
}

/// Connects and prepares the connection as redis-cli does: AUTH, SELECT, then HELLO 3 with
/// `-3`. Failures of those print redis-cli's warnings but keep the connection, as it does.
pub fn connect(o: &Options, endpoint: &Endpoint, db: i64) -> Result<Connection, String> {
    let mut c = Connection::open(endpoint, &o.tls).map_err(|e| {
        format!(
            "Could not connect to Redis at {endpoint}: {}",
            plain_error(&e)
        )
    })?;
    let lost = |e: io::Error| format!("Error: {}", plain_error(&e));
    if let Some(pass) = &o.pass {
        let mut cmd = args(&["AUTH"]);
        if let Some(user) = &o.user {
            cmd.push(user.as_bytes().to_vec());
        }
        cmd.push(pass.as_bytes().to_vec());
        if let Response::Error(e) = c.command(&cmd).map_err(lost)? {
            eprintln!("AUTH failed: {}", String::from_utf8_lossy(&e));
        }
    }
    if db != 0 {
        let reply = c
            .command(&args(&["SELECT", &db.to_string()]))
            .map_err(lost)?;
        if let Response::Error(e) = reply {
            eprintln!("SELECT {db} failed: {}", String::from_utf8_lossy(&e));
        }
    }
    if o.resp3 {
        if let Response::Error(e) = c.command(&args(&["HELLO", "3"])).map_err(lost)? {
            eprintln!("HELLO 3 failed: {}", String::from_utf8_lossy(&e));
        }
    }
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_are_named_like_redis_cli() {
        assert_eq!(
            Endpoint::Tcp("127.0.0.1".into(), 6379).to_string(),
            "127.0.0.1:6379"
        );
        assert_eq!(Endpoint::Tcp("::1".into(), 7000).to_string(), "[::1]:7000");
        assert_eq!(
            Endpoint::Unix("/tmp/r.sock".into()).to_string(),
            "/tmp/r.sock"
        );
    }

    #[test]
    fn os_errors_lose_the_rust_suffix() {
        let e = io::Error::from_raw_os_error(libc::ECONNREFUSED);
        assert_eq!(plain_error(&e), "Connection refused");
    }

    #[test]
    fn replies_split_across_reads_are_reassembled() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let mut c = Connection::from_stream(Stream::Unix(a));
        let writer = std::thread::spawn(move || {
            for chunk in [&b"*2\r\n$5\r\nhel"[..], b"lo\r\n:4", b"2\r\n+OK\r\n"] {
                b.write_all(chunk).unwrap();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        assert_eq!(
            c.read_reply().unwrap(),
            Response::Array(vec![
                Response::Bulk(b"hello".to_vec()),
                Response::Integer(42)
            ])
        );
        assert_eq!(c.read_reply().unwrap(), Response::Status(b"OK".to_vec()));
        writer.join().unwrap();
        assert_eq!(
            c.read_reply().unwrap_err().to_string(),
            "Server closed the connection"
        );
    }
}
