//! `import --json --host/--port`: sends each key to a running server as RESTORE (with
//! ABSTTL, so expiries stay absolute), using the same DUMP payload real Redis reads.
//! Commands are pipelined in batches, and every reply is checked and tied to its line.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;

use redis_lite_engine::EncodingLimits;
use redis_lite_persist::aof::encode_command;
use redis_lite_persist::{dump_value, WriteOptions};

use crate::import::for_each_line;
use crate::json::parse_line;

/// Where to send the keys.
pub struct Server {
    pub host: String,
    pub port: u16,
    pub password: Option<String>,
    /// RESTORE ... REPLACE: overwrite existing keys instead of failing on them.
    pub replace: bool,
}

/// Commands written before their replies are read: enough to hide round trips, few enough
/// that unread replies never fill the socket buffers and stall both sides.
const BATCH: usize = 256;

/// A connection with its queue of commands whose replies are pending, each with a label
/// for errors: where it came from (`file:line`) and what it was.
struct Pipeline {
    out: TcpStream,
    replies: BufReader<TcpStream>,
    buf: Vec<u8>,
    pending: Vec<String>,
    name: String,
}

impl Pipeline {
    fn send<A: AsRef<[u8]>>(&mut self, label: String, args: &[A]) -> Result<(), String> {
        encode_command(&mut self.buf, args);
        self.pending.push(label);
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes the queue and checks each reply: `+...` is success, `-...` an error.
    fn flush(&mut self) -> Result<(), String> {
        let name = &self.name;
        self.out
            .write_all(&self.buf)
            .map_err(|e| format!("{name}: {e}"))?;
        self.buf.clear();
        let mut reply = String::new();
        for label in self.pending.drain(..) {
            reply.clear();
            self.replies
                .read_line(&mut reply)
                .map_err(|e| format!("{name}: {e}"))?;
            match reply.as_bytes().first() {
                Some(b'+') => {}
                Some(b'-') => return Err(format!("{label}: {}", reply.trim_end())),
                Some(_) => return Err(format!("{label}: unexpected reply {reply:?}")),
                None => return Err(format!("{name}: the server closed the connection")),
            }
        }
        Ok(())
    }
}

pub fn run(input: &Path, server: &Server) -> Result<(), String> {
    let name = format!("{}:{}", server.host, server.port);
    let stream = TcpStream::connect((server.host.as_str(), server.port))
        .map_err(|e| format!("{name}: {e}"))?;
    let replies = BufReader::new(stream.try_clone().map_err(|e| format!("{name}: {e}"))?);
    let mut p = Pipeline {
        out: stream,
        replies,
        buf: Vec::new(),
        pending: Vec::new(),
        name: name.clone(),
    };
    if let Some(pw) = &server.password {
        p.send(format!("{name}: AUTH"), &["AUTH", pw])?;
    }
    let limits = EncodingLimits::default();
    let opts = WriteOptions::default();
    let mut current_db = None;
    let mut keys = 0u64;
    for_each_line(input, |n, line| {
        let at = format!("{}:{n}", input.display());
        let rec = parse_line(line, &limits).map_err(|e| format!("{at}: {e}"))?;
        if current_db != Some(rec.db) {
            let db = rec.db.to_string();
            p.send(format!("{at}: SELECT {db}"), &["SELECT", &db])?;
            current_db = Some(rec.db);
        }
        let ttl = rec.expire_at_ms.unwrap_or(0).to_string().into_bytes();
        let mut args = vec![
            b"RESTORE".to_vec(),
            rec.key.clone(),
            ttl,
            dump_value(&rec.value, &opts),
        ];
        if rec.expire_at_ms.is_some() {
            args.push(b"ABSTTL".to_vec());
        }
        if server.replace {
            args.push(b"REPLACE".to_vec());
        }
        keys += 1;
        p.send(format!("{at}: RESTORE {}", rec.key.escape_ascii()), &args)
    })?;
    p.flush()?;
    eprintln!("redis-lite-check: restored {keys} keys to {name}");
    Ok(())
}
