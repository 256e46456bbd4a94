//! MIGRATE: moves keys to another Redis (or redis-lite) instance as `RESTORE` commands carrying
//! their DUMP payloads, then deletes them here unless COPY. Owns the cache of connections to
//! targets: one per `host:port` as the client wrote it, reused by the next MIGRATE there and
//! closed after 10 seconds unused, as Redis's migrate cache (`migrate_cached_sockets` in INFO).
//!
//! Why two steps: Redis does the network exchange synchronously and the whole server waits for
//! it. Here only the calling client waits. The first step reads and serializes the keys under
//! their shard locks, releases them, and hands the exchange to another thread; the client
//! is blocked meanwhile (its later commands queue behind it), without holding a gate or a lock.
//! When the thread is done it wakes the client, whose connection runs MIGRATE again: the second
//! step deletes the keys the target acknowledged (logged as one `DEL`, as Redis rewrites MIGRATE)
//! and replies. A key that another client wrote between the two steps (its payload or expiry is
//! no longer what was sent) is kept: deleting it would lose that write, where in Redis no write
//! could have come between. Inside MULTI or a script every other client is paused already, as
//! Redis's semantics there need, and the exchange runs inline.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rand::Rng;

use crate::args::atoi;
use crate::blocking::{BlockedCommand, Waiter, Wake, WakeOrder};
use crate::client::ClientKind;
use crate::command::acl;
use crate::command::flags::*;
use crate::command::key_flags::*;
use crate::command::{CommandSpec, Group, KeyRef, KeySpec};
use crate::context::Ctx;
use crate::error::{CmdResult, CommandError};
use crate::notify::Class;
use crate::server::Server;
use redis_lite_engine::Locked;

pub static COMMANDS: &[CommandSpec] = &[CommandSpec::new("migrate", -6, WRITE, migrate)
    .exclusive_when(moves_resharded_keys)
    .key_specs(&[
        KeySpec::index(3).range(0, 1, 0).flags(RW | ACCESS | DELETE),
        KeySpec::keyword("KEYS", -2)
            .range(-1, 1, 0)
            .flags(RW | ACCESS | DELETE | INCOMPLETE),
    ])
    .keys_proc(migrate_keys)
    .tips(&["nondeterministic_output"])
    .doc(
        Group::Generic,
        "2.6.0",
        "Atomically transfer a key from a Redis instance to another one.",
    )
    .complexity(
        "This command actually executes a DUMP+DEL in the source instance, and a RESTORE in the \
         target instance. See the pages of these commands for time complexity. Also an O(N) data \
         transfer between the two instances is performed.",
    )
    .syntax(
        "host port:integer key_or_empty_string=(key | \
                                                 empty_string:pure-token{t=}) \
                                                 destination-db:integer timeout:integer \
                                                 [COPY{s=3.0.0}] [REPLACE{s=3.0.0}] \
                                                 authentication=[[AUTH password{s=4.0.7}] | [AUTH2 \
                                                 username_password=(username password){s=6.0.0}]] \
                                                 [KEYS key{k=1 s=3.0.6}...]",
    )
    .acl(acl::DANGEROUS)
    .history(&[
        ("3.0.0", "Added the `COPY` and `REPLACE` options."),
        ("3.0.6", "Added the `KEYS` option."),
        ("4.0.7", "Added the `AUTH` option."),
        ("6.0.0", "Added the `AUTH2` option."),
    ])];

/// Redis's `MIGRATE_SOCKET_CACHE_ITEMS`: beyond it a new target's connection closes a random one.
const CACHE_ITEMS: usize = 64;
/// Redis's `MIGRATE_SOCKET_CACHE_TTL`: a connection unused for longer (in whole seconds of the
/// wall clock, as Redis counts) is closed.
const CACHE_IDLE_SECS: u64 = 10;
/// Longer timeouts are this one, which is forever for any purpose, and keeps deadlines within
/// what the clock can count.
const LONGEST_TIMEOUT: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
/// The request goes out in chunks of this size, each within the timeout, as Redis writes it.
const WRITE_CHUNK: usize = 64 * 1024;

const IOERR_CONNECTING: &str = "IOERR error or timeout connecting to the client";
const IOERR_WRITING: &str = "IOERR error or timeout writing to target instance";
const IOERR_READING: &str = "IOERR error or timeout reading to target instance";

/// The connections to targets, by `host:port` as written in the command: one per target, as in
/// Redis, so MIGRATEs to the same target take turns on it (its selected database is known),
/// while those to other targets go on at once.
#[derive(Default)]
pub struct SocketCache {
    targets: Mutex<HashMap<Vec<u8>, Arc<Slot>>>,
}

/// One target's place in the cache, locked for the whole of an exchange there.
#[derive(Default)]
struct Slot {
    connection: Mutex<Option<Target>>,
}

impl SocketCache {
    /// Connections cached now (INFO's `migrate_cached_sockets`); one in use counts, as in Redis.
    pub fn connections(&self) -> usize {
        let targets = self.targets.lock();
        targets
            .values()
            .filter(|slot| slot.connection.try_lock().is_none_or(|c| c.is_some()))
            .count()
    }

    /// Closes the connections unused for longer than [`CACHE_IDLE_SECS`] (one in use is not
    /// idle); the cron calls it.
    pub fn close_idle(&self) {
        let now = unix_secs();
        self.targets.lock().retain(|_, slot| {
            let Some(mut connection) = slot.connection.try_lock() else {
                return true;
            };
            if connection
                .as_ref()
                .is_some_and(|c| now.saturating_sub(c.last_used) > CACHE_IDLE_SECS)
            {
                *connection = None;
            }
            connection.is_some()
        });
    }

    /// The slot of `name`, made when new. Beyond [`CACHE_ITEMS`] targets a random one not in
    /// use is closed, as Redis does.
    fn slot(&self, name: &[u8]) -> Arc<Slot> {
        let mut targets = self.targets.lock();
        if let Some(slot) = targets.get(name) {
            return slot.clone();
        }
        if targets.len() >= CACHE_ITEMS {
            let victim = rand::thread_rng().gen_range(0..targets.len());
            let idle = targets
                .iter()
                .cycle()
                .skip(victim)
                .take(targets.len())
                .find(|(_, slot)| slot.connection.try_lock().is_some())
                .map(|(name, _)| name.clone());
            if let Some(name) = idle {
                targets.remove(&name);
            }
        }
        targets.entry(name.to_vec()).or_default().clone()
    }
}

fn unix_secs() -> u64 {
    redis_lite_engine::now_ms() / 1000
}

/// A connection to a target instance.
struct Target {
    stream: TcpStream,
    /// Bytes read past the last reply line.
    unread: Vec<u8>,
    /// The database the connection has selected, -1 when unknown (Redis's `last_dbid`, whose
    /// quirk follows: MIGRATE to database -1 on a new connection sends no SELECT).
    selected: i64,
    last_used: u64,
}

impl Target {
    /// Connects to `host:port` within `timeout`, trying each address the host resolves to.
    /// The port is read as C's `atoi` reads it and passed on as Redis passes it (a negative one
    /// resolves to nothing; one above 65535 wraps).
    fn connect(host: &[u8], port: &[u8], timeout: Duration) -> Result<Target, Unreachable> {
        let host = std::str::from_utf8(host).map_err(|_| Unreachable::Connecting)?;
        let port = atoi(port);
        if port < 0 {
            return Err(Unreachable::Connecting);
        }
        let addresses = (host, port as u16)
            .to_socket_addrs()
            .map_err(|_| Unreachable::Connecting)?;
        let mut refused = false;
        for address in addresses {
            match TcpStream::connect_timeout(&address, timeout) {
                Ok(stream) => {
                    stream
                        .set_nodelay(true)
                        .map_err(|_| Unreachable::Connecting)?;
                    return Ok(Target {
                        stream,
                        unread: Vec::new(),
                        selected: -1,
                        last_used: unix_secs(),
                    });
                }
                Err(e) => {
                    refused |= matches!(
                        e.kind(),
                        io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
                    )
                }
            }
        }
        Err(match refused {
            true => Unreachable::Refused,
            false => Unreachable::Connecting,
        })
    }

    /// Writes `bytes` in [`WRITE_CHUNK`]s, each within `timeout`.
    fn send(&mut self, bytes: &[u8], timeout: Duration) -> io::Result<()> {
        for chunk in bytes.chunks(WRITE_CHUNK) {
            let deadline = Instant::now() + timeout;
            let mut rest = chunk;
            while !rest.is_empty() {
                self.stream.set_write_timeout(Some(time_left(deadline)?))?;
                match self.stream.write(rest) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => rest = &rest[n..],
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(())
    }

    /// Reads one reply line within `timeout`, without its CRLF. An empty line is a failure,
    /// as Redis's `syncReadLine` reports it.
    fn read_line(&mut self, timeout: Duration) -> io::Result<Vec<u8>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.unread.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.unread.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if line.is_empty() {
                    return Err(io::ErrorKind::InvalidData.into());
                }
                return Ok(line);
            }
            self.stream.set_read_timeout(Some(time_left(deadline)?))?;
            let mut buf = [0u8; 4096];
            match self.stream.read(&mut buf) {
                Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                Ok(n) => self.unread.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// Why no connection could be had.
enum Unreachable {
    /// No address, or none answered within the timeout.
    Connecting,
    /// Refused. Redis connects without blocking and counts a connection as made once its
    /// socket is writable, which a refused one is: the failure shows when it writes, so it
    /// tries once more and then says so as a write error.
    Refused,
}

/// The time left before `deadline`, or a timeout error once it passed.
fn time_left(deadline: Instant) -> io::Result<Duration> {
    match deadline.checked_duration_since(Instant::now()) {
        Some(left) if !left.is_zero() => Ok(left),
        _ => Err(io::ErrorKind::TimedOut.into()),
    }
}

/// Whether an I/O error is a timeout, after which Redis does not try a fresh connection.
fn timed_out(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// A key to move: its name, its DUMP payload and expiry when it was read.
struct Moved {
    key: Vec<u8>,
    payload: Vec<u8>,
    /// Absolute, in Unix ms; 0 for none.
    expire_at: u64,
    /// The RESTORE's TTL in ms: what was left of it when read, at least 1; 0 for none.
    ttl: u64,
}

/// One MIGRATE's exchange with its target.
struct Request {
    /// The cache's name for the target, `host:port`.
    name: Vec<u8>,
    host: Vec<u8>,
    port: Vec<u8>,
    db: i64,
    timeout: Duration,
    replace: bool,
    /// AUTH's password, or AUTH2's username and password.
    auth: Option<(Option<Vec<u8>>, Vec<u8>)>,
    keys: Vec<Moved>,
    /// How the payloads were serialized, to compare with the keys afterwards.
    dump: redis_lite_persist::WriteOptions,
    /// A cluster node sends RESTORE-ASKING, which the target serves in a slot it is importing.
    asking: bool,
}

/// How an exchange ended.
struct Outcome {
    /// For each key in order, whether the target restored it; shorter when the connection
    /// failed before every reply came.
    restored: Vec<bool>,
    /// The reply when not OK: the target's first error, or an IOERR.
    error: Option<CommandError>,
}

impl Outcome {
    fn failed(error: &'static str) -> Outcome {
        Outcome {
            restored: Vec::new(),
            error: Some(CommandError::coded(error)),
        }
    }
}

/// An exchange running on another thread while its client waits (see the module's notes).
pub struct Transfer {
    waiter: Arc<Waiter>,
    /// The MIGRATE as sent, which completes it when run again.
    args: Vec<Vec<u8>>,
    request: Request,
    copy: bool,
    outcome: Mutex<Option<Outcome>>,
}

/// MIGRATE host port key|"" destination-db timeout [COPY] [REPLACE] [AUTH password |
/// AUTH2 username password] [KEYS key ...]
fn migrate(ctx: &mut Ctx<'_>) -> CmdResult {
    if let Some((transfer, outcome)) = finished_transfer(ctx) {
        return finish(ctx, None, &transfer.request, transfer.copy, outcome);
    }
    let (mut copy, mut replace, mut auth) = (false, false, None);
    let (mut first_key, mut key_count) = (3, 1);
    let mut i = 6;
    while i < ctx.arg_count() {
        let more = ctx.arg_count() - 1 - i;
        if ctx.arg_is(i, "COPY") {
            copy = true;
        } else if ctx.arg_is(i, "REPLACE") {
            replace = true;
        } else if ctx.arg_is(i, "AUTH") {
            if more < 1 {
                return Err(CommandError::Syntax);
            }
            auth = Some((None, ctx.arg(i + 1).to_vec()));
            i += 1;
        } else if ctx.arg_is(i, "AUTH2") {
            if more < 2 {
                return Err(CommandError::Syntax);
            }
            auth = Some((Some(ctx.arg(i + 1).to_vec()), ctx.arg(i + 2).to_vec()));
            i += 2;
        } else if ctx.arg_is(i, "KEYS") {
            if !ctx.arg(3).is_empty() {
                return Err(CommandError::err(
                    "When using MIGRATE KEYS option, the key argument must be set to the empty string",
                ));
            }
            first_key = i + 1;
            key_count = ctx.arg_count() - first_key;
            break;
        } else {
            return Err(CommandError::Syntax);
        }
        i += 1;
    }
    // Redis parses the timeout before the database.
    let timeout = ctx.arg_i64(5)?;
    let db = ctx.arg_i64(4)?;
    let timeout = match timeout {
        ..=0 => Duration::from_secs(1),
        ms => Duration::from_millis(ms as u64).min(LONGEST_TIMEOUT),
    };
    let dump = crate::commands::keys::dump_options(ctx);
    let keys = &ctx.args[first_key..first_key + key_count];
    // Asked before the keys are locked: the cluster rule takes the state's lock, then a shard's.
    let resharding = moves_resharded_keys(ctx.server, ctx.args);
    let mut locked = ctx.lock(keys.iter().copied());
    let mut moved = Vec::new();
    for key in keys {
        let (db, hash) = locked.db(ctx.client.db, key);
        if let Some(entry) = ctx.read(db, hash, key) {
            let ttl = match entry.expire_at() {
                0 => 0,
                at => at.saturating_sub(ctx.now_ms).max(1),
            };
            moved.push(Moved {
                key: key.to_vec(),
                payload: redis_lite_persist::dump_value(&entry.value(), &dump),
                expire_at: entry.expire_at(),
                ttl,
            });
        }
    }
    if moved.is_empty() {
        // Not an error: the keys often expired meanwhile, as Redis explains.
        ctx.out.simple("NOKEY");
        return Ok(());
    }
    let (host, port) = (ctx.arg(1), ctx.arg(2));
    let request = Request {
        name: [host, b":", port].concat(),
        host: host.to_vec(),
        port: port.to_vec(),
        db,
        timeout,
        replace,
        auth,
        keys: moved,
        dump,
        asking: ctx.server.cluster.enabled(),
    };
    // Keys of a slot being resharded move with every gate held (see `moves_resharded_keys`)
    // and their shard locked throughout, as Redis moves them with the whole server stopped: a
    // write between the copy and the delete would be kept here (see the module's notes) while
    // the target keeps the copy, and the next MIGRATE of the key (redis-cli's next batch) would
    // find it there: BUSYKEY, a failed reshard.
    if resharding {
        let outcome = exchange(&ctx.server.migrate, &request);
        return finish(ctx, Some(locked), &request, copy, outcome);
    }
    drop(locked);
    // Only a connection's own commands can wait: inside MULTI or a script (everyone else
    // paused, as in Redis) and for the AOF loader or a master link, the exchange runs inline.
    if ctx.client.mode.nested() || ctx.client.kind != ClientKind::Normal {
        let outcome = exchange(&ctx.server.migrate, &request);
        return finish(ctx, None, &request, copy, outcome);
    }
    start_transfer(ctx, request, copy)
}

/// Whether this is a cluster node migrating the slot of one of the keys to another node: then
/// MIGRATE is exclusive, as in Redis, where the whole server waits for it. The cluster rule
/// judges a command before it takes its gate and judges it again inside while slots are open
/// (`cluster::redirect::recheck`), so no write judged to find its key here runs after MIGRATE
/// moved the key away.
fn moves_resharded_keys(server: &Server, args: &[&[u8]]) -> bool {
    let Some(node) = server.cluster.node() else {
        return false;
    };
    if !node.has_open_slots() {
        return false;
    }
    let mut keys = Vec::new();
    migrate_keys(args, &mut keys);
    let state = node.read();
    keys.iter().any(|key| {
        let slot = usize::from(redis_lite_engine::slot::key_slot(args[key.pos]));
        state.migrating_to(slot).is_some()
    })
}

/// Hands the exchange to a thread of the event loop's blocking pool and blocks the client until
/// it is over.
fn start_transfer(ctx: &mut Ctx<'_>, request: Request, copy: bool) -> CmdResult {
    let waiter = Waiter::new(WakeOrder::Fifo);
    let args: Vec<Vec<u8>> = ctx.args.iter().map(|a| a.to_vec()).collect();
    let transfer = Arc::new(Transfer {
        waiter: waiter.clone(),
        args: args.clone(),
        request,
        copy,
        outcome: Mutex::new(None),
    });
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        // Not on an event loop: wait here, as Redis always does.
        let outcome = exchange(&ctx.server.migrate, &transfer.request);
        return finish(ctx, None, &transfer.request, copy, outcome);
    };
    let server: Arc<Server> = ctx.server.clone();
    let running = transfer.clone();
    // The runtime's pool of threads for blocking work: a thread per MIGRATE started fresh
    // cost some 300µs a call (2.3k MIGRATEs/s on one connection against 15k inline).
    runtime.spawn_blocking(move || {
        let outcome = exchange(&server.migrate, &running.request);
        *running.outcome.lock() = Some(outcome);
        running.waiter.wake(Wake::Ready);
    });
    // Counted as blocked while it waits; the re-run's completion releases it.
    let db = ctx.client.db;
    ctx.server.blocking.register(db, &[], &waiter);
    ctx.client.blocked = Some(BlockedCommand {
        waiter,
        db,
        keys: Vec::new(),
        args,
        command: ctx.command.id,
        deadline: None,
        // No timeout of its own (the exchange has one), and CLIENT UNBLOCK does not see it.
        on_timeout: Box::new(|_| {}),
        postponed: false,
    });
    ctx.client.migration = Some(transfer);
    Ok(())
}

/// The client's finished transfer and its outcome, when this run completes it: the re-run its
/// completion woke, or that re-run held back by a write pause and run later. A transfer left
/// by a re-run that was refused (the server became a replica meanwhile, say) is completed by
/// the client's next identical MIGRATE, and dropped by any other.
fn finished_transfer(ctx: &mut Ctx<'_>) -> Option<(Arc<Transfer>, Outcome)> {
    if ctx.client.mode.nested() {
        return None;
    }
    let transfer = ctx.client.migration.take()?;
    if transfer.args.len() != ctx.args.len()
        || transfer.args.iter().zip(ctx.args).any(|(a, b)| a != b)
    {
        return None;
    }
    let outcome = transfer.outcome.lock().take()?;
    Some((transfer, outcome))
}

/// The second step: deletes the keys the target restored (unless COPY) that nobody wrote since
/// they were read, logs them as one DEL, and replies. `held`: the keys' locks, when they were
/// kept through the exchange.
fn finish<'a>(
    ctx: &mut Ctx<'a>,
    held: Option<Locked<'a>>,
    request: &Request,
    copy: bool,
    outcome: Outcome,
) -> CmdResult {
    let restored: Vec<&Moved> = request
        .keys
        .iter()
        .zip(&outcome.restored)
        .filter_map(|(moved, &restored)| restored.then_some(moved))
        .collect();
    if !copy && !restored.is_empty() {
        let mut locked =
            held.unwrap_or_else(|| ctx.lock(restored.iter().map(|m| m.key.as_slice())));
        let unchanged: Vec<&Moved> = restored
            .into_iter()
            .filter(|moved| {
                let (db, hash) = locked.db(ctx.client.db, &moved.key);
                db.get(hash, &moved.key, ctx.now_ms).is_some_and(|entry| {
                    entry.expire_at() == moved.expire_at
                        && redis_lite_persist::dump_value(&entry.value(), &request.dump)
                            == moved.payload
                })
            })
            .collect();
        if !unchanged.is_empty() {
            let mut record: Vec<&[u8]> = vec![b"DEL"];
            record.extend(unchanged.iter().map(|m| m.key.as_slice()));
            ctx.propagate_as(&record);
            for moved in &unchanged {
                let (db, hash) = locked.db(ctx.client.db, &moved.key);
                db.remove(hash, &moved.key);
                ctx.changed(db, &moved.key, Class::Generic, "del");
            }
            drop(locked);
            ctx.dirty(unchanged.len() as u64);
        }
    }
    match outcome.error {
        Some(error) => Err(error),
        None => {
            ctx.out.ok();
            Ok(())
        }
    }
}

/// Sends the request's commands and reads their replies as Redis's MIGRATE does: a cached
/// connection that fails before any RESTORE reply came (the target closed it while idle, say)
/// is replaced by a fresh one once, unless the failure was a timeout.
fn exchange(cache: &SocketCache, request: &Request) -> Outcome {
    let slot = cache.slot(&request.name);
    let mut cached = slot.connection.lock();
    let mut may_retry = true;
    loop {
        let retry = |error: &io::Error, may_retry: &mut bool| {
            !timed_out(error) && std::mem::take(may_retry)
        };
        let connected = match cached.take() {
            Some(mut target) => {
                target.last_used = unix_secs();
                Ok(target)
            }
            None => Target::connect(&request.host, &request.port, request.timeout),
        };
        let mut target = match connected {
            Ok(target) => target,
            Err(Unreachable::Connecting) => return Outcome::failed(IOERR_CONNECTING),
            Err(Unreachable::Refused) if std::mem::take(&mut may_retry) => continue,
            Err(Unreachable::Refused) => return Outcome::failed(IOERR_WRITING),
        };
        let select = target.selected != request.db;
        if let Err(error) = target.send(&encode(request, select), request.timeout) {
            if retry(&error, &mut may_retry) {
                continue;
            }
            return Outcome::failed(IOERR_WRITING);
        }
        let mut prelude = Vec::new();
        let mut prelude_failed = None;
        for _ in 0..usize::from(request.auth.is_some()) + usize::from(select) {
            match target.read_line(request.timeout) {
                Ok(line) => prelude.push(line),
                Err(error) => {
                    prelude_failed = Some(error);
                    break;
                }
            }
        }
        if let Some(error) = prelude_failed {
            if retry(&error, &mut may_retry) {
                continue;
            }
            return Outcome::failed(IOERR_READING);
        }
        let mut restored = Vec::with_capacity(request.keys.len());
        let mut target_error = None;
        let mut socket_error = None;
        for _ in &request.keys {
            let line = match target.read_line(request.timeout) {
                Ok(line) => line,
                Err(error) => {
                    socket_error = Some(error);
                    break;
                }
            };
            // An AUTH or SELECT that failed fails every key, reported before the key's own.
            let failed = prelude.iter().chain([&line]).find(|r| r.starts_with(b"-"));
            if let Some(reply) = failed {
                target_error.get_or_insert_with(|| {
                    CommandError::err_quoting(
                        "Target instance replied with error: ",
                        &reply[1..],
                        "",
                    )
                });
            }
            restored.push(failed.is_none());
        }
        if let Some(error) = socket_error {
            // The connection is dropped, so closed: out of step with the target.
            if target_error.is_none() && restored.is_empty() && retry(&error, &mut may_retry) {
                continue;
            }
            let error = target_error.unwrap_or(CommandError::coded(IOERR_READING));
            return Outcome {
                restored,
                error: Some(error),
            };
        }
        // After an error the database selected is in doubt: the next MIGRATE selects again.
        target.selected = match target_error {
            Some(_) => -1,
            None => request.db,
        };
        *cached = Some(target);
        return Outcome {
            restored,
            error: target_error,
        };
    }
}

/// The commands of one attempt, as Redis sends them: AUTH, SELECT when the connection is not in
/// the database already, then a RESTORE per key.
fn encode(request: &Request, select: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut command = |args: &[&[u8]]| {
        out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for arg in args {
            out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
            out.extend_from_slice(arg);
            out.extend_from_slice(b"\r\n");
        }
    };
    match &request.auth {
        Some((Some(user), password)) => command(&[b"AUTH", user, password]),
        Some((None, password)) => command(&[b"AUTH", password]),
        None => {}
    }
    if select {
        command(&[b"SELECT", request.db.to_string().as_bytes()]);
    }
    let restore: &[u8] = if request.asking {
        b"RESTORE-ASKING"
    } else {
        b"RESTORE"
    };
    for moved in &request.keys {
        let ttl = moved.ttl.to_string();
        let mut args: Vec<&[u8]> = vec![restore, &moved.key, ttl.as_bytes(), &moved.payload];
        if request.replace {
            args.push(b"REPLACE");
        }
        command(&args);
    }
    out
}

/// MIGRATE's keys as Redis's `migrateGetKeys` finds them, which replace what the specs found:
/// the key argument, or with KEYS (when that argument is empty) every argument after it. AUTH's
/// and AUTH2's values are skipped on the way, so a password spelled KEYS is not the keyword.
fn migrate_keys(args: &[&[u8]], keys: &mut Vec<KeyRef>) {
    let flags = RW | ACCESS | DELETE;
    keys.clear();
    let mut i = 6;
    while i < args.len() {
        let word = args[i];
        if word.eq_ignore_ascii_case(b"KEYS") {
            if args[3].is_empty() {
                keys.extend((i + 1..args.len()).map(|pos| KeyRef { pos, flags }));
            }
            return;
        }
        if word.eq_ignore_ascii_case(b"AUTH") {
            i += 1;
        } else if word.eq_ignore_ascii_case(b"AUTH2") {
            i += 2;
        }
        i += 1;
    }
    keys.push(KeyRef { pos: 3, flags });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(args: &[&str]) -> Vec<usize> {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        let mut keys = vec![KeyRef { pos: 9, flags: 0 }];
        migrate_keys(&args, &mut keys);
        keys.iter().map(|k| k.pos).collect()
    }

    #[test]
    fn keys_follow_migrate_get_keys() {
        let m = ["MIGRATE", "h", "1", ""];
        let with = |rest: &[&'static str]| [&m[..], &["0", "0"], rest].concat();
        assert_eq!(keys_of(&with(&[])), vec![3]);
        assert_eq!(keys_of(&with(&["KEYS", "a", "KEYS", "b"])), vec![7, 8, 9]);
        assert_eq!(
            keys_of(&with(&["AUTH", "KEYS", "KEYS", "a", "b"])),
            vec![9, 10]
        );
        assert_eq!(keys_of(&with(&["AUTH2", "u", "KEYS", "a"])), vec![3]);
        let named = ["MIGRATE", "h", "1", "k", "0", "0", "KEYS", "a"];
        assert_eq!(keys_of(&named), Vec::<usize>::new());
    }

    #[test]
    fn restores_carry_auth_select_and_replace() {
        let request = Request {
            name: b"h:1".to_vec(),
            host: b"h".to_vec(),
            port: b"1".to_vec(),
            db: 3,
            timeout: Duration::from_secs(1),
            replace: true,
            auth: Some((Some(b"u".to_vec()), b"p".to_vec())),
            keys: vec![Moved {
                key: b"k".to_vec(),
                payload: b"x".to_vec(),
                expire_at: 0,
                ttl: 0,
            }],
            dump: Default::default(),
            asking: false,
        };
        assert_eq!(
            encode(&request, true),
            b"*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n\
              *5\r\n$7\r\nRESTORE\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nx\r\n$7\r\nREPLACE\r\n"
        );
        let cluster = Request {
            asking: true,
            replace: false,
            auth: None,
            ..request
        };
        assert_eq!(
            encode(&cluster, false),
            b"*4\r\n$14\r\nRESTORE-ASKING\r\n$1\r\nk\r\n$1\r\n0\r\n$1\r\nx\r\n"
        );
    }
}
