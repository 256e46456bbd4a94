//! One client connection's I/O: read, hand every complete command to the pipeline
//! ([`crate::dispatch`]), write the replies (once the AOF has the writes they acknowledge), with
//! pending output bounded by `client-output-buffer-limit`.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::BufMut;
use redis_lite_protocol::request::peek_frames;
use redis_lite_protocol::{Limits, ReplyWriter, RequestParser};
use smallvec::SmallVec;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use super::buffers;
use crate::blocking::{self, Wake};
use crate::client::{BufferLimit, ClientHandle, ClientState, OutputCheck, OutputClass};
use crate::command::{self, CommandSpec};
use crate::dispatch::{execute_held, HeldGates, NeedsFiber};
use crate::log;
use crate::pubsub::Push;
use crate::scripting::fiber;
use crate::server::Server;

/// Most commands have few arguments: a batch gathers them on the stack, without allocating.
const INLINE_ARGS: usize = 16;

/// The most keys of a pipeline [`Connection::warm_pipeline`] loads ahead: redis-benchmark's
/// `-P 16` of one-key commands, and no more than a batch's commands find in the cache.
const WARMED_KEYS: usize = 16;

/// How many commands [`Connection::warm_pipeline`] reads before it gives up on a pipeline
/// that names one key only.
const ONE_KEY_FRAMES: usize = 4;

/// The most arguments of a command [`Connection::warm_pipeline`] reads past.
const PEEKED_ARGS: usize = 2 * INLINE_ARGS;

/// The size of a core's own cache (L2), from sysfs, read once; 1 MiB where it does not say.
/// [`Keyspace::outgrows_cache`](redis_lite_engine::keyspace::Keyspace::outgrows_cache)
/// compares the key tables with it: beyond it a lookup's loads go to the shared cache or
/// memory, and reading a pipeline's keys ahead pays.
pub(crate) fn core_cache_bytes() -> usize {
    static BYTES: std::sync::LazyLock<usize> = std::sync::LazyLock::new(|| {
        let text = std::fs::read_to_string("/sys/devices/system/cpu/cpu0/cache/index2/size");
        text.ok()
            .and_then(|text| {
                let text = text.trim();
                let (digits, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
                let scale = match unit {
                    "K" => 1 << 10,
                    "M" => 1 << 20,
                    _ => return None,
                };
                digits.parse::<usize>().ok().map(|n| n * scale)
            })
            .unwrap_or(1 << 20)
    });
    *BYTES
}

/// Where a command's keys are, for [`Connection::warm_pipeline`]: COMMAND INFO's first and
/// last key (the last counted from the end when negative), or None for a command of no key.
#[derive(Clone, Copy)]
enum KeyPlace {
    None,
    Range(usize, i32),
}

/// The keys of one request, for [`Connection::warm_pipeline`].
enum RequestKeys {
    None,
    One(usize),
    Many,
}

impl KeyPlace {
    fn of(spec: &CommandSpec) -> KeyPlace {
        match spec.legacy_range() {
            (first, last, step, _) if first > 0 && step > 0 => {
                KeyPlace::Range(first as usize, last)
            }
            _ => KeyPlace::None,
        }
    }

    /// In a request of `args`: a range to the end (DEL, MGET) may hold one key; a request too
    /// short for its first key (an arity error to come) has none.
    fn keys_in(self, args: &[&[u8]]) -> RequestKeys {
        let KeyPlace::Range(first, last) = self else {
            return RequestKeys::None;
        };
        let last = if last < 0 {
            args.len() as i64 + last as i64
        } else {
            last as i64
        };
        if first >= args.len() {
            RequestKeys::None
        } else if last <= first as i64 {
            RequestKeys::One(first)
        } else {
            RequestKeys::Many
        }
    }
}

/// Output past this size is written out between commands of one batch (when the socket
/// takes it), so a pipeline of large replies to a client that reads does not pile up first.
const WRITE_EARLY: usize = 1 << 20;

/// A pipeline that took this long to run has its replies written after the event loop's other
/// ready connections ran theirs (see `serve`): 16 one-command scripts take about 25µs, 16 GETs
/// about 3µs.
const SLOW_BATCH: Duration = Duration::from_micros(10);

/// Input a connection may read and run before letting the other connections of its event
/// loop run (it has more to read only when its client pipelines).
const FAIR_SHARE: usize = 256 * 1024;

/// Room for queued pushes a connection keeps once it took them: a burst (invalidations of
/// many keys, a flood of messages) gives the rest back once written, as Redis frees a client's
/// reply blocks once written, so that it does not stay counted as used memory.
const PUSH_QUEUE_KEPT: usize = 8;

/// Seconds CLIENT LIST's `rbp` (the reply buffer's peak) looks back over, as Redis's.
const OUTPUT_PEAK_SECONDS: u64 = 5;
/// The longest a client waits for the blocked clients its command woke to re-run before it
/// replies anyway (a re-run takes microseconds; this only bounds a stalled connection).
const WOKEN_RERUN_WAIT: Duration = Duration::from_secs(1);

/// An argument this long is read on its own, as Redis reads one (its `PROTO_MBULK_BIG_ARG`).
const BIG_ARG: usize = 32 * 1024;

/// A client whose requests outgrow the pooled input buffer (a 100 KB SET) keeps its grown
/// buffer between them, as Redis keeps a client's query buffer, so that its next request is
/// read whole at once: handing the buffer back after each request left the next read only the
/// pooled 16 KB (3.2 system calls per 100 KB SET against Redis's 2.0). The kept buffer goes
/// back to the pool once the client has sent nothing for this long (Redis's cron frees an idle
/// client's query buffer after 2 seconds)...
const KEPT_INPUT_IDLE: Duration = Duration::from_secs(2);
/// ... or once this many batches in a row fitted in the pooled buffer.
const KEPT_INPUT_SMALL_BATCHES: u32 = 16;

/// Settings a connection caches, refreshed when CONFIG SET changes the epoch.
struct Settings {
    epoch: u64,
    idle_timeout: Option<Duration>,
    query_buffer_limit: usize,
    output_limits: [BufferLimit; 3],
}

impl Settings {
    fn load(server: &Server, parser: &mut RequestParser) -> Settings {
        let epoch = server.config.epoch.load(Relaxed);
        let config = server.config.read();
        parser.set_limits(Limits {
            max_bulk_len: config.proto_max_bulk_len,
            ..Limits::default()
        });
        Settings {
            epoch,
            idle_timeout: (config.timeout > 0).then(|| Duration::from_secs(config.timeout)),
            query_buffer_limit: config.client_query_buffer_limit as usize,
            output_limits: config.output_buffer_limits,
        }
    }
}

/// A client's socket, TCP, unix or TLS. The connection waits for it to be readable and
/// writable at the same time, so it keeps reading commands while replies are pending (as Redis
/// does) and holds no buffer while idle; then it reads and writes by polling once
/// (`poll_now`), which lets tokio note a short read or write as "drained" without another
/// system call.
pub trait ClientStream: AsyncRead + AsyncWrite + Unpin {
    /// Ready when the stream has input (or an error or its end); otherwise the task is woken
    /// when it does. This keeps the one waiting task's waker in the socket's reader slot,
    /// where tokio's `readable()` future joins a list of waiters under a lock when it waits
    /// and leaves it when dropped (together about 400 instructions of an unpipelined request).
    fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    /// [`Self::poll_read_ready`] for room to write.
    fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
    fn readable(&self) -> impl Future<Output = io::Result<()>> {
        std::future::poll_fn(|cx| self.poll_read_ready(cx))
    }
    fn writable(&self) -> impl Future<Output = io::Result<()>> {
        std::future::poll_fn(|cx| self.poll_write_ready(cx))
    }
    /// Bytes the stream itself holds after a write took them (TLS records the socket did not
    /// take yet): a flush sends them once the socket is writable.
    fn has_unsent(&self) -> bool {
        false
    }
    /// The plain socket under the stream, which the Lua debugger uses directly; None for TLS.
    fn plain_fd(&self) -> Option<std::os::fd::RawFd> {
        None
    }
}

macro_rules! client_stream {
    ($stream:ty) => {
        impl ClientStream for $stream {
            fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$stream>::poll_read_ready(self, cx)
            }
            fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                <$stream>::poll_write_ready(self, cx)
            }
            fn plain_fd(&self) -> Option<std::os::fd::RawFd> {
                Some(std::os::fd::AsRawFd::as_raw_fd(self))
            }
        }
    };
}
client_stream!(tokio::net::TcpStream);
client_stream!(tokio::net::UnixStream);

/// A connection's state between events. The server is borrowed from `serve`, so a batch holds
/// it without cloning the `Arc`: a clone per batch wrote the count beside the server's fields
/// from every event loop.
struct Connection<'s, S> {
    server: &'s Arc<Server>,
    stream: S,
    client: ClientState,
    parser: RequestParser,
    settings: Settings,
    /// Received bytes not yet consumed by a complete command; unallocated when empty, unless
    /// kept (see `KEPT_INPUT_IDLE`).
    input: Vec<u8>,
    /// While the grown input buffer is kept: when it goes back if the client sends nothing.
    input_kept_until: Option<Instant>,
    /// Batches in a row that fitted in the pooled buffer while the input buffer was kept.
    small_batches: u32,
    /// Replies; `output[sent..]` is not written yet. Unallocated when empty.
    output: Vec<u8>,
    sent: usize,
    /// Commands wait in `input` while the output is over its soft limit.
    paused: bool,
    /// QUIT or a protocol error: write what is pending, read nothing more, then close.
    closing: bool,
    /// The last batch was a slow pipeline: its replies wait for the loop's other ready
    /// connections.
    flush_after_others: bool,
    /// The most reply bytes one batch left in `output` this period (CLIENT LIST's `rbp`), and
    /// the period (five-second step of the cron's clock) it belongs to.
    output_peak: usize,
    output_peak_period: u64,
    /// The parser's last command may run a script and was met by a batch on the task's own
    /// stack: the batch goes on from it on a fiber (see `run_commands`).
    script_command: bool,
}

/// What a read found.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Read {
    /// `bytes` arrived; `drained`: fewer than there was room for, so the socket had no more
    /// (tokio then clears its readiness, and another read before waiting would find nothing).
    Data { bytes: usize, drained: bool },
    /// Nothing to read now: the socket's readiness is cleared, so waiting for it is next.
    Nothing,
    /// The client went away, or overran its query buffer.
    Closed,
}

/// What woke the connection.
enum Event {
    Close,
    Read,
    Writable,
    /// Killed, or pub/sub messages were queued.
    Attention,
    Woken(Wake),
    /// The output stayed over the soft limit for too long.
    SoftLimit,
    /// The earliest of the deadlines (the blocked command's, the soft limit's, the idle
    /// timeout's) came; which one is sorted out after the wait.
    Deadline,
}

/// Polls `future` once, with no waker to call back: None if it is not ready. The connection
/// waits for readiness in its select; a read or write that then finds nothing after all just
/// waits for the next readiness there.
pub(crate) fn poll_now<F: Future>(future: F) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(future).poll(&mut cx) {
        std::task::Poll::Ready(output) => Some(output),
        std::task::Poll::Pending => None,
    }
}

/// Awaits `future` if there is one; otherwise never completes (a disabled `select!` branch
/// whose future cannot even be built).
async fn maybe<F: Future>(future: Option<F>) -> F::Output {
    match future {
        Some(future) => future.await,
        None => std::future::pending().await,
    }
}

pub async fn serve(
    server: Arc<Server>,
    stream: impl ClientStream,
    handle: Arc<ClientHandle>,
    worker: usize,
) {
    let stats = server.stats.workers[worker].clone();
    let authenticated = !server.acl.auth_required();
    handle.set_socket_open(true);
    let mut client = ClientState::new(handle.clone(), stats.clone(), authenticated);
    client.worker = worker;
    client.socket_fd = stream.plain_fd();
    let mut parser = RequestParser::new(Limits::default());
    parser.authenticated = authenticated;
    let settings = Settings::load(&server, &mut parser);
    let mut conn = Connection {
        server: &server,
        stream,
        client,
        parser,
        settings,
        input: Vec::new(),
        input_kept_until: None,
        small_batches: 0,
        output: Vec::new(),
        sent: 0,
        paused: false,
        closing: false,
        flush_after_others: false,
        output_peak: 0,
        output_peak_period: 0,
        script_command: false,
    };
    // One notification for kills and pub/sub messages, renewed only when it fires: building a
    // new one per read showed up in profiles.
    let mut attention = std::pin::pin!(handle.attention());
    let mut pushes = VecDeque::new();
    let mut more_to_read = false;
    let mut read_since_yield = 0;

    loop {
        // SYNC or PSYNC made the client a replica: its connection now carries the stream.
        if let Some(request) = conn.client.replica.as_mut().and_then(|r| r.sync.take()) {
            // Unregisters this loop's wait for a kill, so the replica's own wait gets it.
            attention.set(handle.attention());
            handle.uncount_memory();
            conn.release_unkept_input();
            if conn.write_all_pending().await {
                let Connection {
                    server,
                    stream,
                    client,
                    input,
                    ..
                } = &mut conn;
                crate::replication::master::serve_replica(server, stream, client, input, request)
                    .await;
            }
            break;
        }
        if read_since_yield >= FAIR_SHARE {
            // A client that keeps sending lets the others on this loop have their turn, as
            // Redis serves each ready client once per event-loop round.
            read_since_yield = 0;
            tokio::task::yield_now().await;
        }
        if conn.server.config.epoch.load(Relaxed) != conn.settings.epoch {
            conn.settings = Settings::load(conn.server, &mut conn.parser);
        }
        if std::mem::take(&mut conn.flush_after_others) && conn.pending() > 0 {
            // The loop's other ready connections run their commands first, so the replies of
            // a round go out together, as Redis writes them all before it sleeps: writing each
            // connection's replies as soon as they were made woke a pipelining client's
            // sleeping thread once per batch (an inter-processor interrupt on a VM), about a
            // sixth of the server's CPU with 50 clients running scripts at -P 16.
            tokio::task::yield_now().await;
        }
        if !conn.flush() {
            break;
        }
        if conn.closing && conn.pending() == 0 {
            break;
        }
        let soft_deadline = match conn.check_output() {
            OutputCheck::Exceeded => {
                handle.close_for_output_limit();
                break;
            }
            OutputCheck::OverSoft { close_at_ms } => {
                let wait = close_at_ms.saturating_sub(redis_lite_engine::now_ms()) + 1;
                Some(Instant::now() + Duration::from_millis(wait))
            }
            OutputCheck::Within => None,
        };
        if conn.paused && soft_deadline.is_none() {
            // The output drained below the soft limit: run the commands that waited.
            conn.paused = false;
            if !conn.run_commands().await {
                break;
            }
            continue;
        }
        // Replies waiting for their AOF records hold further reading back until the records
        // are written (a moment: see `Aof::wait_durable`), so a client streaming commands
        // cannot pile up replies and records faster than they are written.
        let reading = !conn.closing
            && !conn.paused
            && (conn.pending() == 0 || conn.server.aof.is_durable(conn.client.journal_offset));
        if reading && std::mem::take(&mut more_to_read) {
            // After a read that filled its room, read once more before waiting: this either
            // finds more or clears the socket's readiness, which waiting would otherwise report
            // again (one trip through the select below per request saved); a shorter read
            // cleared it already. Only once, so a client that never stops sending still lets
            // the others on this loop run.
            match conn.read() {
                Read::Data { bytes, .. } => {
                    read_since_yield += bytes;
                    if !conn.run_commands().await {
                        break;
                    }
                    continue;
                }
                Read::Nothing => {}
                Read::Closed => break,
            }
        }
        // A waiting connection holds no buffer it does not need (see `buffers`).
        conn.release_unkept_input();
        // Subscribers wait for messages, so the idle timeout does not apply to them.
        let idle_deadline = conn
            .settings
            .idle_timeout
            .filter(|_| reading && !conn.client.is_subscriber() && conn.client.blocked.is_none())
            .map(|limit| Instant::now() + limit);
        let blocked_deadline = conn.client.blocked.as_ref().and_then(|b| b.deadline);
        // One timer for all the deadlines, built only when there is one, and boxed: the
        // select's futures are moved several times each time round, and three inline timers
        // made those moves a tenth of a GET's instructions at -c 50.
        let input_kept_until = conn.input_kept_until;
        let deadline = [
            idle_deadline,
            blocked_deadline,
            soft_deadline,
            input_kept_until,
        ]
        .into_iter()
        .flatten()
        .min();
        let event = {
            let Connection {
                server,
                stream,
                client,
                sent,
                output,
                ..
            } = &conn;
            let pending = output.len() > *sent || stream.has_unsent();
            // Replies go out once the AOF records they acknowledge are written. Boxed, as the
            // others that a plain read-reply-read client never needs.
            let write = pending.then(|| {
                Box::pin(async {
                    server.aof.wait_durable(client.journal_offset).await;
                    stream.writable().await
                })
            });
            let woken = client.blocked.as_ref().map(|b| Box::pin(b.waiter.woken()));
            let timer = deadline.map(|at| Box::pin(tokio::time::sleep_until(at.into())));
            let read = reading.then(|| stream.readable());
            // The conditions keep absent futures from being polled at all.
            let (writing, blocked, timed) = (write.is_some(), woken.is_some(), timer.is_some());
            tokio::select! {
                biased;
                _ = attention.as_mut() => Event::Attention,
                r = maybe(write), if writing => match r {
                    Ok(()) => Event::Writable,
                    Err(_) => Event::Close,
                },
                wake = maybe(woken), if blocked => Event::Woken(wake),
                _ = maybe(timer), if timed => Event::Deadline,
                r = maybe(read), if reading => match r {
                    Ok(()) => Event::Read,
                    Err(_) => Event::Close,
                },
            }
        };
        // Which deadline passed, in the order the separate timers had: the blocked command's
        // timeout, the output's soft limit, the idle timeout; then the kept input buffer's.
        let event = match event {
            Event::Deadline => {
                let now = Instant::now();
                let passed = |at: Option<Instant>| at.is_some_and(|at| at <= now);
                if passed(blocked_deadline) {
                    Event::Woken(Wake::Timeout)
                } else if passed(soft_deadline) {
                    Event::SoftLimit
                } else if passed(idle_deadline) {
                    log!(Verbose, "Closing idle client");
                    Event::Close
                } else if passed(input_kept_until) {
                    conn.give_back_input();
                    conn.publish_memory();
                    Event::Deadline
                } else {
                    Event::Deadline
                }
            }
            event => event,
        };
        let keep_open = match event {
            Event::Close => false,
            // Checked again at the top of the loop, where it closes the client.
            Event::SoftLimit | Event::Writable | Event::Deadline => true,
            Event::Attention => {
                attention.set(handle.attention());
                if handle.is_killed() {
                    break;
                }
                // A client closing after its last reply (QUIT) gets no more messages.
                if !conn.closing {
                    handle.take_pushes(&mut pushes);
                }
                for push in pushes.drain(..) {
                    conn.push(push);
                }
                pushes.shrink_to(PUSH_QUEUE_KEPT);
                true
            }
            Event::Woken(wake) => {
                // A command a load held is answered at the serving point that woke it, even
                // while the load replays a busy script.
                if !conn.client.loading_rounds.held() {
                    conn.server.scripting.running.ended().await;
                }
                let waiter = conn.client.blocked.as_ref().map(|b| b.waiter.clone());
                let postponed = conn.client.blocked.as_ref().is_some_and(|b| b.postponed);
                match postponed {
                    // A command held by CLIENT PAUSE may run a script.
                    true => fiber::run(|| conn.finish_blocked(wake)).await,
                    false => conn.finish_blocked(wake),
                }
                // The re-run ends once the clients it woke in turn have re-run too; only then
                // does the client whose push woke this one run its next command.
                conn.flush();
                conn.await_woken().await;
                if let Some(waiter) = waiter {
                    // Blocked again, it keeps its waiter and may be woken again; served or
                    // timed out, it has left every line and no re-run will follow.
                    let waits_on = conn.client.blocked.as_ref();
                    if waits_on.is_some_and(|b| Arc::ptr_eq(&b.waiter, &waiter)) {
                        waiter.finish_rerun();
                    } else {
                        waiter.abandon();
                    }
                }
                conn.server.tracking.after_batch();
                conn.run_commands().await
            }
            Event::Read => match conn.read() {
                Read::Data { bytes, drained } => {
                    read_since_yield += bytes;
                    more_to_read = !drained;
                    conn.run_commands().await
                }
                Read::Nothing => true,
                Read::Closed => false,
            },
        };
        if !keep_open {
            break;
        }
    }
    conn.close().await;
}

impl<S> Drop for Connection<'_, S> {
    /// Before the stream closes its descriptor (the fields drop after this), so a kill from
    /// another thread no longer shuts it down.
    fn drop(&mut self) {
        self.client.handle.set_socket_open(false);
    }
}

impl<'s, S: ClientStream> Connection<'s, S> {
    /// Bytes of replies not yet written.
    fn pending(&self) -> usize {
        self.output.len() - self.sent
    }

    /// Writes as much pending output as the socket takes without waiting, once the AOF has
    /// the records it acknowledges. Returns false when the connection is broken.
    fn flush(&mut self) -> bool {
        if self.stream.has_unsent() && matches!(poll_now(self.stream.flush()), Some(Err(_))) {
            return false;
        }
        if self.pending() == 0 || !self.server.aof.is_durable(self.client.journal_offset) {
            return true;
        }
        while self.pending() > 0 {
            let write = poll_now(self.stream.write(&self.output[self.sent..]));
            match write.unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into())) {
                Ok(0) => return false,
                Ok(n) => {
                    self.sent += n;
                    self.client
                        .stats
                        .net_output_bytes
                        .fetch_add(n as u64, Relaxed);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
        if self.pending() == 0 {
            self.client.stats.writes_processed.fetch_add(1, Relaxed);
            self.output.clear();
            self.sent = 0;
            buffers::release_output_if_empty(&mut self.output);
        }
        let handle = &self.client.handle;
        handle.pending_output_bytes.store(self.pending(), Relaxed);
        handle
            .memory
            .output_capacity
            .store(self.output.capacity(), Relaxed);
        handle.recount_memory();
        true
    }

    /// Writes every pending reply, waiting as long as it takes. Returns false when the
    /// connection is broken.
    async fn write_all_pending(&mut self) -> bool {
        self.server
            .aof
            .wait_durable(self.client.journal_offset)
            .await;
        let ok = self
            .stream
            .write_all(&self.output[self.sent..])
            .await
            .is_ok();
        self.output.clear();
        self.sent = 0;
        ok
    }

    /// The `client-output-buffer-limit` of the client's class.
    fn output_limit(&self) -> BufferLimit {
        let class = if self.client.is_subscriber() {
            OutputClass::PubSub
        } else {
            OutputClass::Normal
        };
        self.settings.output_limits[class as usize]
    }

    /// The client's pending output against its limit.
    fn check_output(&mut self) -> OutputCheck {
        let handle = &self.client.handle;
        handle.pending_output_bytes.store(self.pending(), Relaxed);
        let pending = handle.pending_output();
        self.server.clients.peaks.record_output(pending);
        handle.check_output(pending, self.output_limit())
    }

    /// Reads what arrived.
    fn read(&mut self) -> Read {
        buffers::ensure(&mut self.input);
        let big_arg_missing = self.parser.big_arg_missing(self.input.len(), BIG_ARG);
        if let Some(missing) = big_arg_missing {
            // Room for the rest of the big argument at once, as Redis makes room for one:
            // growing a chunk at a time copied what had arrived at every step (for a 100 KB
            // SET, 11% more instructions than Redis spent on the whole request). A little more
            // than that, so that when the buffer is kept (see `KEPT_INPUT_IDLE`) the next such
            // request does not fill it: a read that fills the buffer leaves tokio unsure the
            // socket is drained, which cost one more read per request.
            self.input.reserve(missing + buffers::CHUNK / 4);
        } else if self.input.capacity() - self.input.len() < buffers::CHUNK / 4 {
            self.input.reserve(buffers::CHUNK);
        }
        // Inside a big argument, read no further than its end (see `big_arg_missing`).
        let mut room = self.input.capacity() - self.input.len();
        let read = match big_arg_missing {
            Some(missing) if missing > 0 => {
                room = room.min(missing);
                let limited = &mut (&mut self.input).limit(missing);
                poll_now(self.stream.read_buf(limited))
            }
            _ => poll_now(self.stream.read_buf(&mut self.input)),
        };
        let n = match read.unwrap_or_else(|| Err(io::ErrorKind::WouldBlock.into())) {
            Ok(0) => return Read::Closed,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Read::Nothing,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {
                return Read::Data {
                    bytes: 0,
                    drained: false,
                }
            }
            Err(_) => return Read::Closed,
        };
        let stats = &self.client.stats;
        stats.net_input_bytes.fetch_add(n as u64, Relaxed);
        stats.reads_processed.fetch_add(1, Relaxed);
        // As Redis, before parsing: the unparsed rest of the frame being received, a partial
        // argument whole, counts (arguments already parsed do not).
        let unparsed = self.input.len() - self.parser.parsed();
        if unparsed > self.settings.query_buffer_limit {
            log!(
                Warning,
                "Closing client that reached max query buffer length: {} (qbuf initial bytes: {:?})",
                self.client.handle.describe(Instant::now()).trim_end(),
                String::from_utf8_lossy(&self.input[..self.input.len().min(64)])
            );
            return Read::Closed;
        }
        self.server
            .clients
            .peaks
            .record_input(self.input.capacity());
        Read::Data {
            bytes: n,
            drained: n < room,
        }
    }

    /// Appends a pub/sub message to the output.
    fn push(&mut self, push: Push) {
        push.received_by(&mut self.client);
        buffers::ensure(&mut self.output);
        let mut writer = ReplyWriter::new(&mut self.output, self.client.protocol);
        let written = push.write(&mut writer);
        self.client.handle.push_written(written);
    }

    /// Runs every complete command in the input (see `run_batch`), then publishes what the
    /// client's buffers hold and applies `maxmemory-clients`. Returns false to close it at
    /// once.
    ///
    /// The batch goes on on a fiber from a command that may run a script, so that the event
    /// loop can serve its other connections while the script is busy.
    async fn run_commands(&mut self) -> bool {
        let open = loop {
            let open = match self.run_batch() {
                Ok(open) => open,
                Err(NeedsFiber) => {
                    let on_fiber = fiber::run(|| self.run_batch()).await;
                    on_fiber.unwrap_or_else(|NeedsFiber| unreachable!("scripts run on a fiber"))
                }
            };
            // The clients a command woke are served before the next command runs, as in Redis;
            // then the batch goes on. The reply goes out first: the wait then mostly overlaps
            // the client's own round trip instead of adding to it.
            if !open || self.client.woken.is_empty() {
                break open;
            }
            if !self.flush() {
                break false;
            }
            self.await_woken().await;
        };
        self.publish_memory();
        // As Redis before it sleeps: what the batch left in the buffers may put the clients
        // over `maxmemory-clients`.
        if open && crate::memory::clients::enforce(self.server) {
            return !self.client.handle.is_killed();
        }
        open
    }

    /// Waits until the blocked clients this client's commands woke have re-run (and those their
    /// re-runs woke in turn). Bounded: a woken client whose connection stalls must not stall
    /// this one for long.
    async fn await_woken(&mut self) {
        let woken = std::mem::take(&mut self.client.woken);
        let all = async {
            for (waiter, wake) in &woken {
                waiter.rerun_finished(*wake).await;
            }
        };
        let _ = tokio::time::timeout(WOKEN_RERUN_WAIT, all).await;
    }

    /// Stores the client's buffer sizes in its handle (CLIENT LIST, client eviction, INFO).
    fn publish_memory(&mut self) {
        let memory = &self.client.handle.memory;
        let parsed = self.parser.parsed().min(self.input.len());
        memory
            .query_buffer
            .store(self.input.len() - parsed, Relaxed);
        // An input buffer to give back is as good as given back: the connection gives it back
        // before it waits (see `serve`).
        let input_held = match self.input_to_give_back() {
            true => 0,
            false => self.input.capacity() - self.input.len(),
        };
        memory.query_buffer_free.store(input_held, Relaxed);
        let argv = match &self.client.blocked {
            Some(blocked) => blocked.args.iter().map(Vec::len).sum(),
            None => self.parser.partial_args_len(),
        };
        memory.argv.store(argv, Relaxed);
        memory
            .output_capacity
            .store(self.output.capacity(), Relaxed);
        let period = self.server.clients.peaks.second() / OUTPUT_PEAK_SECONDS;
        if period != self.output_peak_period {
            self.output_peak_period = period;
            self.output_peak = 0;
        }
        self.output_peak = self.output_peak.max(self.pending());
        memory.output_peak.store(self.output_peak, Relaxed);
        memory
            .bookkeeping
            .store(self.client.bookkeeping_memory(), Relaxed);
        self.client.handle.recount_memory();
    }

    /// Before a pipeline's commands run, loads the table slots of their keys into the cache
    /// ([`Keyspace::warm`](redis_lite_engine::keyspace::Keyspace::warm)): the keys of the
    /// one-key commands waiting whole in the input, up to [`WARMED_KEYS`]. Returns how many
    /// commands it read, or None when the rest of the batch is better left alone: a pipeline
    /// that keeps naming one key (LPUSH mylist ...), which stays in the cache anyway, or one of
    /// many-key commands (MSET of 10), for which reading ahead repeated the hashing and locking
    /// of every key and cost more than the waits it saved.
    fn warm_pipeline(&mut self) -> Option<usize> {
        let waiting = &self.input[self.parser.parsed()..];
        let mut keys: SmallVec<[&[u8]; WARMED_KEYS]> = SmallVec::new();
        let mut covered = 0;
        let mut many_keys = false;
        // Pipelines mostly repeat one command: where its key is is found once.
        let mut known: Option<(&[u8], KeyPlace)> = None;
        peek_frames::<PEEKED_ARGS>(waiting, |args| {
            let place = match known {
                Some((name, place)) if name == args[0] => place,
                _ => {
                    let place = command::table()
                        .get(args[0])
                        .map_or(KeyPlace::None, |entry| KeyPlace::of(entry.spec));
                    known = Some((args[0], place));
                    place
                }
            };
            match place.keys_in(args) {
                RequestKeys::Many => {
                    many_keys = true;
                    return false;
                }
                RequestKeys::One(position) if keys.last() != Some(&args[position]) => {
                    keys.push(args[position]);
                }
                _ => {}
            }
            covered += 1;
            keys.len() < WARMED_KEYS && (covered < ONE_KEY_FRAMES || keys.len() > 1)
        });
        if (many_keys && covered == 0) || (covered == ONE_KEY_FRAMES && keys.len() <= 1) {
            return None;
        }
        self.server.keyspace.warm(self.client.db, &keys);
        Some(covered)
    }

    /// Runs every complete command in the input, until the client blocks, its output goes
    /// over the soft limit, or it is to be closed. Returns false to close it at once, or
    /// NeedsFiber at a command that may run a script (`script_command`), from which the rest
    /// of the batch is to run on a fiber.
    fn run_batch(&mut self) -> Result<bool, NeedsFiber> {
        if !self.script_command && (self.client.blocked.is_some() || self.input.is_empty()) {
            return Ok(true);
        }
        buffers::ensure(&mut self.output);
        let batch_input = self.input.len();
        // The batch's own input and reply buffer, which CLIENT INFO shows to its caller.
        let memory = &self.client.handle.memory;
        memory.query_buffer.store(self.input.len(), Relaxed);
        memory
            .query_buffer_free
            .store(self.input.capacity() - self.input.len(), Relaxed);
        memory
            .output_capacity
            .store(self.output.capacity(), Relaxed);
        let mut last_command = None;
        let server = self.server;
        let mut held = HeldGates::on_event_loop();
        let mut commands_run = 0;
        let mut warm_at = 1;
        let started = Instant::now();
        loop {
            let command = match std::mem::take(&mut self.script_command) {
                true => self.parser.again(&self.input),
                false => match self.parser.next(&self.input) {
                    Ok(Some(command)) => command,
                    Ok(None) => break,
                    Err(e) => {
                        log!(
                            Verbose,
                            "Protocol error ({e}) from client: {}",
                            self.client.handle.addr
                        );
                        self.client.stats.count_error("ERR");
                        // The offending byte goes back raw, as Redis sends it.
                        let text = [&b"ERR "[..], &e.reply_text()].concat();
                        ReplyWriter::new(&mut self.output, self.client.protocol).error_bytes(&text);
                        self.closing = true;
                        break;
                    }
                },
            };
            let ran = if command.len() <= INLINE_ARGS {
                let mut args: [&[u8]; INLINE_ARGS] = [&[]; INLINE_ARGS];
                for (slot, arg) in args.iter_mut().zip(command.iter()) {
                    *slot = arg;
                }
                execute_held(
                    server,
                    &mut self.client,
                    &args[..command.len()],
                    &mut self.output,
                    &mut held,
                )
            } else {
                let args: Vec<&[u8]> = command.iter().collect();
                execute_held(server, &mut self.client, &args, &mut self.output, &mut held)
            };
            let Ok(ran) = ran else {
                // Untouched: the parser keeps it for the fiber (`RequestParser::again`).
                self.script_command = true;
                return Err(NeedsFiber);
            };
            commands_run += 1;
            last_command = ran.or(last_command);
            // A pipeline's next commands: their keys are loaded ahead, [`WARMED_KEYS`] at a
            // time (a lone command's batch never gets here with input left), once the key
            // tables outgrow the cache: with them in it, the look ahead is all cost (GETs of
            // missing keys on a small table: 18% more CPU per request).
            if commands_run == warm_at
                && self.parser.parsed() < self.input.len()
                && server.keyspace.outgrows_cache()
            {
                warm_at = match self.warm_pipeline() {
                    Some(covered) => warm_at + covered.max(1),
                    None => usize::MAX,
                };
            }
            // AUTH lifts the small-frame limits from the very next frame, even in this read.
            self.parser.authenticated = self.client.authenticated;
            if self.client.close_after_reply || self.client.handle.is_killed() {
                self.closing = true;
                break;
            }
            // The commands after a blocking one wait until it completes, those after one that
            // woke blocked clients until they are served; those after SYNC or PSYNC are the
            // replica's, for the replication link to run.
            if self.client.blocked.is_some()
                || !self.client.woken.is_empty()
                || self
                    .client
                    .replica
                    .as_ref()
                    .is_some_and(|r| r.sync.is_some())
            {
                break;
            }
            // Checked after every command only where there is a limit (not for normal clients
            // by default), and before any of the output is written early: a client over its
            // hard limit is sent none of it, as in Redis. The peak for INFO is recorded once
            // per batch, by the caller.
            let limit = self.output_limit();
            if limit.hard > 0 || limit.soft > 0 {
                match self.check_output() {
                    OutputCheck::Within => {}
                    // As in Redis, a client over the soft limit goes on until the hard limit or
                    // the soft seconds close it; without a hard limit nothing would bound its
                    // output meanwhile, so its further commands wait for the output to drain.
                    OutputCheck::OverSoft { .. } if limit.hard == 0 => {
                        self.paused = true;
                        break;
                    }
                    OutputCheck::OverSoft { .. } => {}
                    OutputCheck::Exceeded => {
                        self.client.handle.close_for_output_limit();
                        return Ok(false);
                    }
                }
            }
            if self.pending() > WRITE_EARLY && !self.flush() {
                return Ok(false);
            }
            // Under `maxmemory-clients`, what the command's reply added counts before the next
            // command is admitted (and may evict this client), as Redis updates a client's
            // memory after each command: counted once per batch, a pipeline of big replies
            // grew unseen and keys were evicted first.
            if server.limits.client_memory() > 0 {
                self.publish_memory();
            }
        }
        // A single command's reply goes out at once: its client waits for it, and deferring
        // would cost a ping-pong client a trip through the event loop's poll. So do the replies
        // of a quick pipeline: its client is still busy with the previous replies, and holding
        // them back only leaves its pipeline empty longer (-5% for GET at -c 50 -P 16).
        self.flush_after_others = commands_run > 1 && started.elapsed() >= SLOW_BATCH;
        server.tracking.after_batch();
        if let Some(node) = server.cluster.node() {
            node.before_sleep();
        }
        let consumed = self.parser.consumed();
        if consumed > 0 {
            self.input.drain(..consumed);
            self.parser.discard(consumed);
        }
        self.release_input(batch_input);
        buffers::release_output_if_empty(&mut self.output);
        // Before the replies go out, so a client that saw its reply sees its own state in
        // CLIENT LIST from another connection.
        self.client.publish_info(last_command);
        Ok(true)
    }

    /// After a batch that found `batch_input` bytes of input: gives the input buffer back to
    /// the pool if it is empty, unless the client's requests outgrow the pooled buffer (see
    /// `KEPT_INPUT_IDLE`).
    fn release_input(&mut self, batch_input: usize) {
        if !self.input.is_empty() {
            return;
        }
        let kept = self.input_kept_until.is_some();
        if batch_input > buffers::CHUNK {
            self.small_batches = 0;
        } else if kept && self.small_batches + 1 < KEPT_INPUT_SMALL_BATCHES {
            self.small_batches += 1;
        } else {
            // Given back when the connection waits (see `serve`), not now: the read that
            // follows a batch reads into it, where giving it back here made that read take a
            // buffer from the pool again only to find the socket drained.
            self.input_kept_until = None;
            return;
        }
        self.input_kept_until = Some(Instant::now() + KEPT_INPUT_IDLE);
    }

    /// Whether the input buffer goes back to the pool before the connection waits: it is empty
    /// and not kept (see `release_input`).
    fn input_to_give_back(&self) -> bool {
        self.input.is_empty() && self.input_kept_until.is_none()
    }

    /// Gives the input buffer back if [`Self::input_to_give_back`]: before the connection waits,
    /// or hands its socket to a replica's stream.
    fn release_unkept_input(&mut self) {
        if self.input_to_give_back() {
            buffers::release_if_empty(&mut self.input);
        }
    }

    /// Stops keeping the input buffer, and gives it back to the pool if it is empty.
    fn give_back_input(&mut self) {
        self.input_kept_until = None;
        buffers::release_if_empty(&mut self.input);
    }

    /// Ends a blocked command: woken for data (it runs again, and may block again), timed out,
    /// or unblocked by CLIENT UNBLOCK.
    fn finish_blocked(&mut self, wake: Wake) {
        let Some(blocked) = self.client.blocked.take() else {
            return;
        };
        let server = &self.server;
        let client = &mut self.client;
        buffers::ensure(&mut self.output);
        if blocked.postponed {
            let args: Vec<&[u8]> = blocked.args.iter().map(Vec::as_slice).collect();
            let ran = crate::dispatch::execute(server, client, &args, &mut self.output);
            client.publish_info(ran);
            return;
        }
        // A client woken for data stays first in line while it re-runs its command, so no later
        // waiter can be served before it however fast pushes come.
        if wake != Wake::Ready {
            server
                .blocking
                .deregister(blocked.db, &blocked.keys, &blocked.waiter);
        }
        // A client woken for data stays unblockable while it re-runs: a CLIENT UNBLOCK then
        // applies if the re-run blocks it again.
        if wake != Wake::Ready {
            *client.handle.blocked.lock() = None;
        }
        let output = &mut self.output;
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
                // The blocked command failed, as commandstats counts it.
                client.stats.commands[blocked.command]
                    .failed
                    .fetch_add(1, Relaxed);
                writer.error(text);
            }
            // Re-run the command; if it blocks again it keeps its place and its deadline.
            Wake::Ready => {
                blocking::rerun(server, client, blocked, output);
                if client.blocked.is_none() {
                    *client.handle.blocked.lock() = None;
                }
            }
        }
        let unblocked = self.client.blocked.as_ref();
        if let Some(reason) = unblocked.and_then(|b| b.waiter.take_unblock_after_rerun()) {
            self.finish_blocked(reason);
        }
    }

    /// Leaves the client list and releases what the client held.
    async fn close(&mut self) {
        // Leave the client list first, so nobody sees a closed connection as still connected.
        self.server.unregister(self.client.handle.id);
        self.client.handle.uncount_memory();
        self.client.unwatch_all(&self.server.keyspace);
        if let Some(blocked) = self.client.blocked.take() {
            // A client that woke this one does not wait for a re-run that will not come.
            blocked.waiter.abandon();
            if !blocked.postponed {
                self.server
                    .blocking
                    .deregister(blocked.db, &blocked.keys, &blocked.waiter);
            }
        }
        buffers::give_back(std::mem::take(&mut self.input));
        buffers::give_back(std::mem::take(&mut self.output));
        self.client.handle.buffers_freed();
        let _ = self.stream.shutdown().await;
    }
}
