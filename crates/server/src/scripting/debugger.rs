//! The server's side of the Lua debugger (`SCRIPT DEBUG YES|SYNC|NO`, `redis-cli --ldb`): the
//! client's debug mode, the blocking socket I/O a session runs on, and the before-images that
//! discard a YES session's changes. The debugger itself (hook, REPL, formats) is
//! `redis_lite_scripting::ldb`.
//!
//! A session holds the server, as Redis's SYNC mode does: the script runs on its client's
//! event loop with every gate held, and while it is stopped the loop's thread waits on the
//! client's socket with plain blocking `poll`/`read`/`write`, so no other client is served
//! until the session ends (and the connection is then closed, as Redis closes it).
//!
//! YES mode: Redis forks, debugs in the child and throws the child's dataset away, while the
//! parent goes on serving. redis-lite has no fork, so a YES session also holds the server; its
//! writes are not journaled (AOF, replicas), and before a write command runs the keys it names
//! are saved (DUMP and PTTL, once per key); when the session ends they are put back as they
//! were (RESTORE, or DEL for a key that did not exist). Commands that write without naming
//! keys (FLUSHALL, SWAPDB...) cannot be undone this way and are refused in a YES session.

use std::os::fd::RawFd;
use std::time::Duration;

use redis_lite_protocol::{parse_response, Protocol, Response};
use redis_lite_scripting::ldb::DebugIo;

use crate::client::ClientState;
use crate::command::CommandEntry;
use crate::dispatch::{self, check};
use std::sync::Arc;

use crate::server::Server;

/// What SCRIPT DEBUG set for the client's next EVAL.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DebugMode {
    /// YES: the script's changes are discarded when the session ends.
    Discard,
    /// SYNC: the changes stay.
    Keep,
}

impl DebugMode {
    /// What Redis logs when a session starts and ends (a YES session runs in its forked child).
    pub fn log_lines(self) -> (&'static str, &'static str) {
        match self {
            DebugMode::Keep => (
                "Redis synchronous debugging eval session started",
                "Redis synchronous debugging eval session ended",
            ),
            DebugMode::Discard => (
                "Redis forked for debugging eval",
                "Lua debugging session child exiting",
            ),
        }
    }
}

/// How long a write to the debugging client may wait, as Redis's send timeout.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a session waiting for its client looks for a scheduled shutdown.
const SHUTDOWN_CHECK: Duration = Duration::from_millis(100);

/// The client's socket, used blocking while a session runs.
pub struct SocketIo {
    fd: RawFd,
    server: Arc<Server>,
}

impl SocketIo {
    pub fn new(fd: RawFd, server: Arc<Server>) -> SocketIo {
        SocketIo { fd, server }
    }

    /// Waits until the socket is ready for `events`, or `timeout`.
    fn wait(&self, events: libc::c_short, timeout: Duration) -> Readiness {
        let mut poll = libc::pollfd {
            fd: self.fd,
            events,
            revents: 0,
        };
        loop {
            // SAFETY: one valid pollfd.
            let ready = unsafe { libc::poll(&mut poll, 1, timeout.as_millis() as libc::c_int) };
            return match ready {
                0 => Readiness::TimedOut,
                n if n > 0 => Readiness::Ready,
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {
                    continue
                }
                _ => Readiness::Failed,
            };
        }
    }
}

enum Readiness {
    Ready,
    TimedOut,
    Failed,
}

impl DebugIo for SocketIo {
    fn write(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            if !matches!(self.wait(libc::POLLOUT, WRITE_TIMEOUT), Readiness::Ready) {
                return;
            }
            // SAFETY: the pointer and length describe `bytes`.
            let written = unsafe { libc::write(self.fd, bytes.as_ptr().cast(), bytes.len()) };
            match written {
                n if n > 0 => bytes = &bytes[n as usize..],
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::WouldBlock => {}
                _ if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted => {}
                _ => return,
            }
        }
    }

    /// A shutdown (SIGTERM, SIGINT) ends the wait as if the client had gone: the script then
    /// runs to its end and the server stops, as Redis's interrupted read does.
    fn read(&mut self, buf: &mut [u8]) -> usize {
        loop {
            match self.wait(libc::POLLIN, SHUTDOWN_CHECK) {
                Readiness::Ready => {}
                Readiness::TimedOut if !self.server.shutdown.in_progress() => continue,
                Readiness::TimedOut | Readiness::Failed => return 0,
            }
            // SAFETY: the pointer and length describe `buf`.
            let read = unsafe { libc::read(self.fd, buf.as_mut_ptr().cast(), buf.len()) };
            match read {
                n if n > 0 => return n as usize,
                0 => return 0,
                _ => match std::io::Error::last_os_error().kind() {
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted => {}
                    _ => return 0,
                },
            }
        }
    }
}

/// The keys a YES session's script wrote, as they were before.
#[derive(Default)]
pub struct BeforeImages {
    saved: Vec<BeforeImage>,
}

/// One key before the session wrote it.
struct BeforeImage {
    db: usize,
    key: Vec<u8>,
    /// DUMP's payload; None for a key that did not exist.
    dump: Option<Vec<u8>>,
    /// The remaining time to live in milliseconds; 0 for none.
    ttl: i64,
}

impl BeforeImages {
    /// Saves the keys `args` names before the write command `entry` runs. An error text
    /// refuses a write that names no keys.
    pub fn save(
        &mut self,
        server: &Arc<Server>,
        client: &mut ClientState,
        entry: &'static CommandEntry,
        args: &[&[u8]],
    ) -> Result<(), String> {
        let positions = entry.spec.key_positions(args).unwrap_or_default();
        if positions.is_empty() {
            return Err(
                "ERR redis-lite cannot discard this command's changes in a SCRIPT DEBUG YES session (use SYNC)"
                    .to_string(),
            );
        }
        for position in positions {
            let key = args[position];
            let db = client.db;
            if self
                .saved
                .iter()
                .any(|saved| saved.db == db && saved.key == key)
            {
                continue;
            }
            let dump = match run(server, client, &[b"DUMP", key]) {
                Response::Bulk(payload) => Some(payload),
                _ => None,
            };
            let ttl = match run(server, client, &[b"PTTL", key]) {
                Response::Integer(ttl) if ttl > 0 => ttl,
                _ => 0,
            };
            self.saved.push(BeforeImage {
                db,
                key: key.to_vec(),
                dump,
                ttl,
            });
        }
        Ok(())
    }

    /// Puts every saved key back as it was.
    pub fn restore(self, server: &Arc<Server>, client: &mut ClientState) {
        let db = client.db;
        for BeforeImage {
            db: key_db,
            key,
            dump,
            ttl,
        } in self.saved
        {
            client.db = key_db;
            match dump {
                Some(payload) => {
                    let ttl = ttl.to_string();
                    run(
                        server,
                        client,
                        &[b"RESTORE", &key, ttl.as_bytes(), &payload, b"REPLACE"],
                    );
                }
                None => {
                    run(server, client, &[b"DEL", &key]);
                }
            }
        }
        client.db = db;
    }
}

/// Runs one command on the script's client (its gates are held) and returns its reply.
fn run(server: &Arc<Server>, client: &mut ClientState, args: &[&[u8]]) -> Response {
    let Ok(entry) = check::lookup(args) else {
        unreachable!("DUMP, PTTL, RESTORE and DEL are in the command table")
    };
    let protocol = std::mem::replace(&mut client.protocol, Protocol::Resp2);
    let mut out = Vec::new();
    dispatch::call(server, client, entry, args, &mut out);
    client.protocol = protocol;
    match parse_response(&out) {
        Ok(Some((response, _))) => response,
        _ => Response::Nil,
    }
}
