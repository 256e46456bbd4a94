//! MONITOR: the commands the server runs, streamed to the clients that asked, in Redis 7.0's
//! line format (`+1700000000.123456 [0 127.0.0.1:54321] "SET" "k" "v"`, `[0 lua]` for a
//! script's commands, `[0 unix:/path]` for the unix socket), whatever protocol they speak.
//!
//! `dispatch::call` feeds every command here, whoever runs it (a connection, EXEC, a script, a
//! replica's master link), as Redis's `call()` does: after it ran, so a SELECT shows the
//! database it selected and EXEC comes after the commands it ran; a script run (EVAL, EVALSHA,
//! FCALL: `skip_monitor` in the table) before, so it comes before its own commands. Not shown,
//! as in Redis: `admin` commands (CONFIG, DEBUG, MONITOR...), commands refused before they ran,
//! the AOF loader's replay, and a blocked command's re-run (it was shown when it first ran).
//! The passwords of AUTH, HELLO's AUTH and MIGRATE's AUTH/AUTH2 show as `(redacted)`.
//!
//! With nobody monitoring, a command pays one relaxed atomic load (a script run two).

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::RwLock;

use crate::client::{ClientHandle, ClientKind, ClientState, ExecMode, OutputCheck, OutputClass};
use crate::command::flags::*;
use crate::command::{CommandEntry, CommandSpec, Group};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::pubsub::Push;
use crate::server::Server;

pub static COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE, monitor)
            .doc(
                Group::Server,
                "1.0.0",
                "Listen for all requests received by the server in real time",
            )
            .complexity(""),
    ];

/// The clients in MONITOR mode.
#[derive(Default)]
pub struct Monitors {
    /// How many there are: the one load a command pays when there are none.
    count: AtomicUsize,
    clients: RwLock<Vec<Arc<ClientHandle>>>,
}

impl Monitors {
    fn add(&self, client: &Arc<ClientHandle>) {
        let mut clients = self.clients.write();
        clients.push(client.clone());
        self.count.store(clients.len(), Relaxed);
    }

    /// Ends MONITOR mode for the client `id` (RESET, or the connection closed).
    pub fn remove(&self, id: u64) {
        if self.count.load(Relaxed) == 0 {
            return;
        }
        let mut clients = self.clients.write();
        clients.retain(|c| {
            let keep = c.id != id;
            if !keep {
                c.set_monitor(false);
            }
            keep
        });
        self.count.store(clients.len(), Relaxed);
    }

    fn active(&self) -> bool {
        self.count.load(Relaxed) > 0
    }
}

/// MONITOR
fn monitor(ctx: &mut Ctx<'_>) -> CmdResult {
    // Inside EXEC the client expects one reply per command, as Redis says.
    if ctx.client.mode.nested() {
        return Err(CommandError::err(
            "MONITOR isn't allowed for DENY BLOCKING client",
        ));
    }
    // A replica, or a client already monitoring, gets no reply at all, as in Redis.
    if ctx.client.replica.is_some() || ctx.client.handle.is_monitor() {
        return Ok(());
    }
    ctx.client.handle.set_monitor(true);
    ctx.server.monitors.add(&ctx.client.handle);
    ctx.out.ok();
    Ok(())
}

/// Before a command's handler: a script run is shown before the commands it runs.
#[inline]
pub fn before_call(server: &Server, client: &ClientState, entry: &CommandEntry, args: &[&[u8]]) {
    // The spec's flag first: a command that is no script run pays no atomic load here.
    if entry.spec.has(SKIP_MONITOR) && server.monitors.active() && shown(client, entry.spec) {
        feed(server, client, &entry.full_name, args);
    }
}

/// After a command's handler: every other command not hidden from MONITOR.
#[inline]
pub fn after_call(server: &Server, client: &ClientState, entry: &CommandEntry, args: &[&[u8]]) {
    if server.monitors.active() && !entry.spec.has(SKIP_MONITOR) && shown(client, entry.spec) {
        feed(server, client, &entry.full_name, args);
    }
}

fn shown(client: &ClientState, spec: &CommandSpec) -> bool {
    !spec.has(ADMIN)
        && client.kind != ClientKind::AofLoader
        && !matches!(client.mode, ExecMode::Rerun { .. })
}

/// Sends the command's line to every monitor.
#[cold]
fn feed(server: &Server, client: &ClientState, full_name: &str, args: &[&[u8]]) {
    let line: Arc<[u8]> = line(server, client, full_name, args).into();
    let limit = server.config.read().output_buffer_limits[OutputClass::Normal as usize];
    let monitors = server.monitors.clients.read();
    for monitor in monitors.iter().filter(|m| !m.is_killed()) {
        let pending = monitor.pending_output() + line.len() as u64;
        if monitor.check_output(pending, limit) == OutputCheck::Exceeded {
            monitor.close_for_output_limit();
            continue;
        }
        monitor.send_push(Push::Encoded(line.clone()));
    }
}

/// `+<seconds>.<microseconds> [<db> <client>] "<arg>" ...\r\n`
fn line(server: &Server, client: &ClientState, full_name: &str, args: &[&[u8]]) -> Vec<u8> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut line = format!(
        "+{}.{:06} [{} ",
        now.as_secs(),
        now.subsec_micros(),
        client.db
    )
    .into_bytes();
    // Scripts hold every gate, so a nested command that sees a script running is the script's.
    if client.mode.nested() && server.scripting.running.is_running() {
        line.extend_from_slice(b"lua");
    } else if client.handle.unix_socket {
        line.extend_from_slice(b"unix:");
        line.extend_from_slice(server.config.read().unixsocket.as_bytes());
    } else {
        line.extend_from_slice(client.handle.addr.as_bytes());
    }
    line.push(b']');
    let redacted = crate::observability::redacted_args(full_name, args);
    for (i, arg) in args.iter().enumerate() {
        line.push(b' ');
        match redacted.contains(&i) {
            true => line.extend_from_slice(b"\"(redacted)\""),
            false => redis_lite_protocol::repr(&mut line, arg),
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}
