//! One client connection: read, run every complete command in what arrived, write all the
//! replies at once. Also the dispatch step shared by every command: lookup, arity, auth,
//! statistics and CLIENT REPLY handling.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_lite_protocol::{Limits, Protocol, ReplyWriter, RequestParser};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::blocking::{BlockedCommand, Wake};
use crate::client::{ClientHandle, ClientState, PushReceiver, ReplyMode};
use crate::command::{self, Lookup};
use crate::commands::transactions;
use crate::context::Ctx;
use crate::error::{truncated, CommandError};
use crate::log;
use crate::pubsub::Push;
use crate::server::Server;

/// Smallest free space offered to each read; the buffer grows beyond it for large requests.
const READ_CHUNK: usize = 16 * 1024;
/// Output kept allocated between batches; a larger buffer is released after use.
const OUTPUT_KEEP: usize = 64 * 1024;

/// Settings a connection caches, refreshed when CONFIG SET changes the epoch.
struct Settings {
    epoch: u64,
    idle_timeout: Option<Duration>,
    query_buffer_limit: usize,
}

impl Settings {
    fn load(server: &Server, parser: &mut RequestParser) -> Settings {
        let epoch = server.config_epoch.load(Relaxed);
        let config = server.config.read();
        parser.set_limits(Limits {
            max_bulk_len: config.proto_max_bulk_len,
            ..Limits::default()
        });
        Settings {
            epoch,
            idle_timeout: (config.timeout > 0).then(|| Duration::from_secs(config.timeout)),
            query_buffer_limit: config.client_query_buffer_limit as usize,
        }
    }
}

/// A client's byte stream: a TCP connection or a unix socket one.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin {}
impl<S: AsyncRead + AsyncWrite + Unpin> ClientStream for S {}

pub async fn serve(
    server: Arc<Server>,
    mut stream: impl ClientStream,
    handle: Arc<ClientHandle>,
    mut pushes: PushReceiver,
    worker: usize,
) {
    let stats = server.workers[worker].clone();
    let authenticated = server.config.read().requirepass.is_empty();
    let mut client = ClientState::new(handle.clone(), stats.clone(), authenticated);
    client.worker = worker;
    let mut parser = RequestParser::new(Limits::default());
    parser.authenticated = authenticated;
    let mut settings = Settings::load(&server, &mut parser);
    let mut input: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    let mut output: Vec<u8> = Vec::with_capacity(READ_CHUNK);
    // One kill notification for the connection's life: building a new one per read showed up in
    // profiles.
    let mut killed = std::pin::pin!(handle.killed());

    'connection: loop {
        if server.config_epoch.load(Relaxed) != settings.epoch {
            settings = Settings::load(&server, &mut parser);
        }
        if let Some(blocked) = client.blocked.take() {
            // Blocked: wait to be woken, timed out or killed, then continue with whatever
            // commands arrived meanwhile, without reading first.
            if !finish_blocked(
                &server,
                &mut client,
                &mut stream,
                &mut input,
                blocked,
                &mut output,
                killed.as_mut(),
            )
            .await
            {
                break;
            }
            if !output.is_empty() {
                server.aof.wait_durable(client.aof_seq).await;
                if !write_unless_killed(&mut stream, &output, killed.as_mut()).await {
                    break;
                }
                output.clear();
            }
            if client.blocked.is_some() {
                continue;
            }
        } else {
            if input.capacity() - input.len() < READ_CHUNK / 4 {
                input.reserve(READ_CHUNK);
            }
            // Subscribers wait for messages, so the idle timeout does not apply to them.
            let idle_timeout = settings
                .idle_timeout
                .filter(|_| client.subscriptions() == 0);
            let read = async {
                match idle_timeout {
                    Some(limit) => tokio::time::timeout(limit, stream.read_buf(&mut input))
                        .await
                        .ok(),
                    None => Some(stream.read_buf(&mut input).await),
                }
            };
            let event = tokio::select! {
                biased;
                                _ = killed.as_mut() => Event::Close,
                Some(push) = pushes.recv() => Event::Push(push),
                r = read => match r {
                    Some(Ok(n)) if n > 0 => Event::Read(n),
                    Some(_) => Event::Close,
                    None => {
                        log!(Verbose, "Closing idle client");
                        Event::Close
                    }
                },
            };
            let n = match event {
                Event::Close => break,
                Event::Read(n) => n,
                Event::Push(push) => {
                    // Write this message and any others already queued, in one write.
                    let mut writer = ReplyWriter::new(&mut output, client.protocol);
                    let mut written = write_push(&mut writer, &push);
                    while let Ok(more) = pushes.try_recv() {
                        written += write_push(&mut writer, &more);
                    }
                    handle.pending_push_bytes.fetch_sub(written, Relaxed);
                    if !write_unless_killed(&mut stream, &output, killed.as_mut()).await {
                        break;
                    }
                    stats
                        .net_output_bytes
                        .fetch_add(output.len() as u64, Relaxed);
                    output.clear();
                    continue;
                }
            };
            stats.net_input_bytes.fetch_add(n as u64, Relaxed);
            stats.reads_processed.fetch_add(1, Relaxed);
        }
        let mut last_command = None;
        let mut close = false;
        loop {
            let command = match parser.next(&input) {
                Ok(Some(command)) => command,
                Ok(None) => break,
                Err(e) => {
                    let text = format!("ERR {e}");
                    log!(Verbose, "Protocol error ({e}) from client: {}", handle.addr);
                    client.stats.count_error(&text);
                    ReplyWriter::new(&mut output, client.protocol).error(&text);
                    close = true;
                    break;
                }
            };
            // Most commands have few arguments: gather them on the stack, without allocating.
            const INLINE_ARGS: usize = 16;
            let ran = if command.len() <= INLINE_ARGS {
                let mut args: [&[u8]; INLINE_ARGS] = [&[]; INLINE_ARGS];
                for (slot, arg) in args.iter_mut().zip(command.iter()) {
                    *slot = arg;
                }
                execute(&server, &mut client, &args[..command.len()], &mut output)
            } else {
                let args: Vec<&[u8]> = command.iter().collect();
                execute(&server, &mut client, &args, &mut output)
            };
            last_command = ran.or(last_command);
            // AUTH lifts the small-frame limits from the very next frame, even in this read.
            parser.authenticated = client.authenticated;
            if client.close_after_reply || handle.is_killed() {
                close = true;
                break;
            }
            // The commands after a blocking one wait until it completes.
            if client.blocked.is_some() {
                break;
            }
        }
        let consumed = parser.consumed();
        if consumed > 0 {
            input.drain(..consumed);
            parser.discard(consumed);
        }
        if input.len() - parser.parsed() > settings.query_buffer_limit {
            log!(
                Warning,
                "Closing client that reached max query buffer length: {} (qbuf={})",
                handle.addr,
                input.len()
            );
            break 'connection;
        }

        // Before the replies go out, so a client that saw its reply sees its own state in
        // CLIENT LIST from another connection.
        client.publish_info(last_command);
        {
            let mut info = handle.info.lock();
            info.query_buffer = input.len();
            info.query_buffer_free = input.capacity() - input.len();
        }
        if !output.is_empty() {
            // With `appendfsync always`, the replies wait for their writes to be on disk; the
            // event loop serves other connections meanwhile.
            server.aof.wait_durable(client.aof_seq).await;
            if !write_unless_killed(&mut stream, &output, killed.as_mut()).await {
                break;
            }
            stats
                .net_output_bytes
                .fetch_add(output.len() as u64, Relaxed);
            stats.writes_processed.fetch_add(1, Relaxed);
            output.clear();
            if output.capacity() > OUTPUT_KEEP {
                output.shrink_to(READ_CHUNK);
            }
        }
        if input.is_empty() && input.capacity() > OUTPUT_KEEP {
            input.shrink_to(READ_CHUNK);
        }
        if close {
            break;
        }
    }
    // Leave the client list first, so nobody sees a closed connection as still connected.
    server.unregister(handle.id);
    client.unwatch_all(&server.keyspace);
    if let Some(blocked) = client.blocked.take() {
        server
            .blocking
            .deregister(blocked.db, &blocked.keys, &blocked.waiter);
    }
    let _ = stream.shutdown().await;
}

/// Waits out a blocked command: until a key it waits on is ready (then re-runs it, which may
/// block it again), its timeout passes, CLIENT UNBLOCK, or the client goes away. Input that
/// arrives meanwhile is kept for later. Returns false when the connection should close.
async fn finish_blocked(
    server: &Arc<Server>,
    client: &mut ClientState,
    stream: &mut impl ClientStream,
    input: &mut Vec<u8>,
    blocked: BlockedCommand,
    output: &mut Vec<u8>,
    mut killed: Pin<&mut impl Future<Output = ()>>,
) -> bool {
    let handle = client.handle.clone();
    let wake = loop {
        if input.capacity() - input.len() < READ_CHUNK / 4 {
            input.reserve(READ_CHUNK);
        }
        let deadline = async {
            match blocked.deadline {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
                        _ = killed.as_mut() => break None,
            wake = blocked.waiter.woken() => break Some(wake),
            _ = deadline => break Some(Wake::Timeout),
            read = stream.read_buf(input) => match read {
                Ok(n) if n > 0 => continue,
                _ => break None,
            },
        }
    };
    // A client woken for data stays first in line while it re-runs its command, so no later
    // waiter can be served before it however fast pushes come.
    if wake != Some(Wake::Ready) {
        server
            .blocking
            .deregister(blocked.db, &blocked.keys, &blocked.waiter);
    }
    *handle.blocked.lock() = None;
    let Some(wake) = wake else { return false };
    let mut writer = ReplyWriter::new(output, client.protocol);
    if wake != Wake::Ready {
        client.stats.commands[blocked.command]
            .calls
            .fetch_add(1, Relaxed);
    }
    match wake {
        Wake::Timeout => (blocked.on_timeout)(&mut writer),
        Wake::Error => {
            let text = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
            client.stats.count_error(text);
            writer.error(text);
        }
        Wake::Ready => {
            // Re-run the command; if it blocks again it keeps its place and its deadline.
            client.requeue = Some((blocked.waiter.clone(), blocked.deadline));
            let args: Vec<&[u8]> = blocked.args.iter().map(Vec::as_slice).collect();
            execute(server, client, &args, output);
            client.requeue = None;
            if client.blocked.is_none() {
                server
                    .blocking
                    .deregister(blocked.db, &blocked.keys, &blocked.waiter);
                // Served: the next client in line may be served too if data is left.
                for key in &blocked.keys {
                    server.blocking.signal(blocked.db, key);
                }
            }
        }
    }
    true
}

/// Writes `bytes`, giving up if the client is killed meanwhile: a reader that stopped reading
/// must not keep its connection (and its subscriptions) alive by blocking the write forever.
async fn write_unless_killed(
    stream: &mut impl ClientStream,
    bytes: &[u8],
    killed: Pin<&mut impl Future<Output = ()>>,
) -> bool {
    tokio::select! {
        result = stream.write_all(bytes) => result.is_ok(),
        _ = killed => false,
    }
}

enum Event {
    Read(usize),
    Push(Push),
    Close,
}

/// Encodes a pub/sub message; returns the bytes it had counted against the buffer limit.
fn write_push(out: &mut ReplyWriter<'_>, push: &Push) -> usize {
    match push {
        Push::Message { channel, message } => {
            out.push(3);
            out.bulk(b"message");
            out.bulk(channel);
            out.bulk(message);
        }
        Push::PMessage {
            pattern,
            channel,
            message,
        } => {
            out.push(4);
            out.bulk(b"pmessage");
            out.bulk(pattern);
            out.bulk(channel);
            out.bulk(message);
        }
    }
    push.size()
}

/// Runs one command and writes its reply. Returns the command's full name for CLIENT LIST.
pub fn execute(
    server: &Arc<Server>,
    client: &mut ClientState,
    args: &[&[u8]],
    out: &mut Vec<u8>,
) -> Option<&'static str> {
    let table = command::table();
    let start = out.len();
    if client.reply_mode == ReplyMode::SkipNext {
        client.reply_mode = ReplyMode::Skip;
    }
    let entry = match table.lookup(args) {
        Lookup::Found(entry) => entry,
        Lookup::Unknown => {
            let mut quoted = String::new();
            for arg in &args[1..] {
                if quoted.len() >= 128 {
                    break;
                }
                quoted.push_str(&format!("'{}' ", truncated(arg, 128 - quoted.len())));
            }
            let error = CommandError::err(format!(
                "unknown command '{}', with args beginning with: {quoted}",
                truncated(args[0], 128)
            ));
            reject(client, None, error, out, start);
            return None;
        }
        Lookup::UnknownSubcommand(entry) => {
            let error =
                CommandError::unknown_subcommand(&String::from_utf8_lossy(args[0]), args[1]);
            reject(client, Some(entry.id), error, out, start);
            return None;
        }
    };
    if !entry.spec.arity_ok(args.len()) {
        reject(
            client,
            Some(entry.id),
            CommandError::WrongArity(entry.full_name.clone()),
            out,
            start,
        );
        return None;
    }
    if !client.authenticated && !entry.spec.has(command::flags::NO_AUTH) {
        // A password set after this client connected applies; one removed since lifts the check.
        if server.config.read().requirepass.is_empty() {
            client.authenticated = true;
        } else {
            reject(client, Some(entry.id), CommandError::NoAuth, out, start);
            return None;
        }
    }
    if client.protocol == Protocol::Resp2 && client.subscriptions() > 0 {
        let top = entry.full_name.split('|').next().unwrap_or_default();
        if !crate::commands::pubsub::allowed_while_subscribed(top) {
            let error = CommandError::err(format!(
                "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed \
                 in this context",
                entry.full_name
            ));
            reject(client, Some(entry.id), error, out, start);
            return None;
        }
    }
    // The loader's own client replays the AOF while everyone else gets -LOADING.
    let refusal = (!client.loading)
        .then(|| {
            crate::persistence::refusal(server, entry.spec.flags)
                .or_else(|| crate::eviction::before_command(server, entry.spec.flags))
        })
        .flatten();
    if let Some(error) = refusal {
        reject(client, Some(entry.id), error, out, start);
        return None;
    }
    let top_name = entry.full_name.split('|').next().unwrap_or_default();
    if let Some(multi) = client.multi.as_mut() {
        if !transactions::runs_inside_multi(top_name) {
            if entry.spec.has(command::flags::NO_MULTI) {
                let error = CommandError::err("Command not allowed inside a transaction");
                reject(client, Some(entry.id), error, out, start);
                return None;
            }
            multi.queue.push(args.iter().map(|a| a.to_vec()).collect());
            ReplyWriter::new(out, client.protocol).simple("QUEUED");
            finish_reply(client, out, start);
            return Some(entry.full_name.as_str());
        }
    }
    // Every command runs inside its event loop's gate; EXEC and the other exclusive commands
    // close all of them (see `Server::gates`), and commands run by EXEC are already inside.
    let exclusive = !client.in_exec && entry.spec.exclusive;
    let _shared = (!client.in_exec && !exclusive).then(|| server.gates[client.worker].read());
    let _exclusive: Vec<_> = if exclusive {
        server.gates.iter().map(|g| g.write()).collect()
    } else {
        Vec::new()
    };
    let handler = entry
        .spec
        .handler
        .expect("lookup resolves containers to subcommands");
    let started = Instant::now();
    let stats = client.stats.clone();
    let protocol = client.protocol;
    // The AOF loader's clock stands still, so nothing expires mid-replay.
    let now_ms = if client.loading {
        0
    } else {
        redis_lite_engine::now_ms()
    };
    let mut ctx = Ctx {
        server,
        client: &mut *client,
        args,
        out: ReplyWriter::new(&mut *out, protocol),
        command: entry,
        now_ms,
        rewritten: Default::default(),
        logged: Default::default(),
    };
    let result = handler(&mut ctx);
    if entry.spec.has(command::flags::WRITE) {
        crate::eviction::after_write(server, entry.spec, args, ctx.client.db);
    }
    let logged = ctx.logged.get();
    let counters = &stats.commands[entry.id];
    if let Err(error) = result {
        counters.failed.fetch_add(1, Relaxed);
        let text = error.to_string();
        stats.count_error(&text);
        ctx.out.error(&text);
    }
    if let Some(seq) = logged {
        client.aof_seq = client.aof_seq.max(seq);
    }
    for (db, key) in std::mem::take(&mut client.ready_keys) {
        server.blocking.signal(db, &key);
    }
    // A command that blocked is counted once, when it completes, as Redis does.
    if client.blocked.is_none() {
        counters.calls.fetch_add(1, Relaxed);
    }
    counters
        .usec
        .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
    stats.total_commands.fetch_add(1, Relaxed);
    finish_reply(client, out, start);
    Some(entry.full_name.as_str())
}

/// Runs a command queued by MULTI, from EXEC, appending its reply to EXEC's.
pub fn execute_queued(ctx: &mut Ctx<'_>, args: &[&[u8]]) {
    execute(ctx.server, ctx.client, args, ctx.out.buffer());
}

/// A command refused before it ran: counted as rejected, as Redis does.
fn reject(
    client: &mut ClientState,
    id: Option<usize>,
    error: CommandError,
    out: &mut Vec<u8>,
    start: usize,
) {
    // Inside MULTI, a refused command dooms the transaction, as in Redis.
    if let Some(multi) = client.multi.as_mut() {
        multi.failed = true;
    }
    if let Some(id) = id {
        client.stats.commands[id].rejected.fetch_add(1, Relaxed);
    }
    let text = error.to_string();
    client.stats.count_error(&text);
    ReplyWriter::new(out, client.protocol).error(&text);
    finish_reply(client, out, start);
}

/// Drops the reply when CLIENT REPLY OFF or SKIP says so.
fn finish_reply(client: &mut ClientState, out: &mut Vec<u8>, start: usize) {
    match client.reply_mode {
        ReplyMode::On => {}
        ReplyMode::Off | ReplyMode::SkipNext => out.truncate(start),
        ReplyMode::Skip => {
            out.truncate(start);
            client.reply_mode = ReplyMode::On;
        }
    }
}
