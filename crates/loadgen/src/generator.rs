//! The run itself. Connections are opened first; then one thread keeps the schedule, writing
//! each request at its intended time to its connection's socket (non-blocking: a connection
//! whose socket is full keeps the rest and retries, and the schedule goes on), while reader
//! threads (a single-threaded tokio runtime each, with a share of the connections) read the
//! replies and charge each to its request's intended time.
//! Sender and reader meet in each connection's queue of intended times, in request order (a
//! Redis connection answers in order).
//!
//! Why a thread of its own for the schedule: tokio's timers tick in milliseconds, coarser than
//! the latencies measured; the thread sleeps with a 1 µs timer slack instead, and how late it
//! still wakes is measured and reported (the send lag).

use std::collections::VecDeque;
use std::io::{self, ErrorKind, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use redis_lite_protocol::{parse_response, Response};
use tokio::io::AsyncReadExt;
use tokio::sync::watch;

use crate::latency::{self, Tally, Window};
use crate::options::Options;
use crate::schedule::Schedule;
use crate::workload::Requests;

/// What the sender and the reader of one connection share.
#[derive(Default)]
struct Pending {
    /// The intended send times of the requests written and not answered yet, in order.
    due: VecDeque<Instant>,
    /// The connection failed, as either side saw it: nothing more is sent on it, and what is
    /// still due counts as unanswered.
    failed: bool,
}

type Shared = Arc<Mutex<Pending>>;

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, Pending> {
    shared.lock().expect("the sender or a reader panicked")
}

/// How long the sender naps between retries while a connection's socket is full.
const RETRY_FULL_SOCKET: Duration = Duration::from_micros(200);

/// What a run measured.
pub struct Outcome {
    pub window: Window,
    /// The replies, merged over the connections.
    pub tally: Tally,
    /// How late the sender wrote each request of the window, behind its intended time.
    pub send_lag: Histogram<u64>,
    /// Requests meant for the window.
    pub sent_in_window: u64,
    /// Requests not written: their connection had failed.
    pub unsent: u64,
    /// Connections that failed (a write or read error, the server closing, an unreadable or
    /// unexpected reply).
    pub connection_errors: u64,
    /// The generator's CPU time over the window, user and system, in seconds.
    pub cpu_seconds: f64,
    /// The same of its busiest thread (the sender or a reader): one near the window's length
    /// had no time to spare.
    pub busiest_thread_cpu_seconds: f64,
}

/// Runs the load `options` describes and returns what it measured. Fails only when the
/// connections cannot be opened.
pub fn run(options: &Options) -> io::Result<Outcome> {
    let streams = connect(options)?;
    let mut writers = Vec::with_capacity(streams.len());
    // The reader threads' shares of the connections, dealt in turn.
    let mut shares: Vec<Vec<(TcpStream, Shared)>> =
        (0..options.threads).map(|_| Vec::new()).collect();
    let mut connections = Vec::with_capacity(streams.len());
    for (i, stream) in streams.into_iter().enumerate() {
        // A duplicate of the socket for writing; O_NONBLOCK is shared by both.
        let writer = stream.try_clone()?;
        stream.set_nonblocking(true)?;
        let shared = Shared::default();
        writers.push(Writer {
            socket: writer,
            shared: shared.clone(),
            unwritten: Vec::new(),
        });
        shares[i % options.threads as usize].push((stream, shared.clone()));
        connections.push(shared);
    }

    let start = Instant::now();
    let window = Window {
        start: start + options.warmup,
        end: start + options.warmup + options.duration,
    };
    let (finished, drain_deadline) = watch::channel(None);
    let sender = {
        let options = options.clone();
        std::thread::Builder::new()
            .name("loadgen-sender".into())
            .spawn(move || send(&options, start, window, writers, finished))?
    };
    let readers = shares
        .into_iter()
        .map(|share| {
            let drain_deadline = drain_deadline.clone();
            std::thread::Builder::new()
                .name("loadgen-reader".into())
                .spawn(move || read_share(share, window, drain_deadline))
        })
        .collect::<io::Result<Vec<_>>>()?;

    sleep_until(window.start);
    let cpu_at_start = cpu_seconds(libc::RUSAGE_SELF);
    sleep_until(window.end);
    let cpu_seconds = cpu_seconds(libc::RUSAGE_SELF) - cpu_at_start;

    let mut tally = Tally::new();
    let mut busiest_thread_cpu_seconds: f64 = 0.0;
    for reader in readers {
        let (share, reader_cpu) = reader.join().expect("a reader thread panicked")?;
        tally.merge(&share);
        busiest_thread_cpu_seconds = busiest_thread_cpu_seconds.max(reader_cpu);
    }
    let sent = sender.join().expect("the sender thread panicked");
    Ok(Outcome {
        window,
        tally,
        send_lag: sent.lag,
        sent_in_window: sent.in_window,
        unsent: sent.unsent,
        connection_errors: connections.iter().filter(|c| lock(c).failed).count() as u64,
        cpu_seconds,
        busiest_thread_cpu_seconds: busiest_thread_cpu_seconds.max(sent.cpu_seconds),
    })
}

fn sleep_until(deadline: Instant) {
    let now = Instant::now();
    if deadline > now {
        std::thread::sleep(deadline - now);
    }
}

/// One reader thread: a single-threaded tokio runtime reading the replies of its share of the
/// connections. Returns their merged tally and the thread's CPU time over the window.
fn read_share(
    share: Vec<(TcpStream, Shared)>,
    window: Window,
    drain_deadline: watch::Receiver<Option<Instant>>,
) -> io::Result<(Tally, f64)> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        // A task of this thread's runtime, so on this thread.
        let cpu = tokio::spawn(async move {
            tokio::time::sleep_until(window.start.into()).await;
            let at_start = cpu_seconds(libc::RUSAGE_THREAD);
            tokio::time::sleep_until(window.end.into()).await;
            cpu_seconds(libc::RUSAGE_THREAD) - at_start
        });
        let mut tasks = Vec::with_capacity(share.len());
        for (stream, shared) in share {
            let stream = tokio::net::TcpStream::from_std(stream)?;
            tasks.push(tokio::spawn(read_replies(
                stream,
                shared,
                window,
                drain_deadline.clone(),
            )));
        }
        let mut tally = Tally::new();
        for task in tasks {
            tally.merge(&task.await.expect("a reader task panicked"));
        }
        Ok((tally, cpu.await.expect("the CPU probe panicked")))
    })
}

fn connect(options: &Options) -> io::Result<Vec<TcpStream>> {
    (0..options.connections)
        .map(|_| {
            let stream =
                TcpStream::connect((options.host.as_str(), options.port)).map_err(|e| {
                    let hint = if e.raw_os_error() == Some(libc::EMFILE) {
                        " (each connection takes two descriptors here: raise `ulimit -n`)"
                    } else {
                        ""
                    };
                    io::Error::new(
                        e.kind(),
                        format!("connecting to {}:{}: {e}{hint}", options.host, options.port),
                    )
                })?;
            // Requests are small and must leave at once, even with earlier ones unanswered.
            stream.set_nodelay(true)?;
            Ok(stream)
        })
        .collect()
}

/// The sending side of one connection.
struct Writer {
    socket: TcpStream,
    shared: Shared,
    /// Request bytes the socket did not take yet (it was full).
    unwritten: Vec<u8>,
}

impl Writer {
    /// Writes what the socket takes; true when nothing is left to write.
    fn flush(&mut self) -> bool {
        while !self.unwritten.is_empty() {
            match self.socket.write(&self.unwritten) {
                Ok(n) => {
                    self.unwritten.drain(..n);
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => return false,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                // The reader sees the connection end and counts what is due as unanswered.
                Err(_) => {
                    lock(&self.shared).failed = true;
                    self.unwritten.clear();
                }
            }
        }
        true
    }
}

/// What the sender did.
struct Sent {
    lag: Histogram<u64>,
    in_window: u64,
    unsent: u64,
    /// The sender thread's CPU time over the window.
    cpu_seconds: f64,
}

/// The sender thread: every request at its intended time, until the window ends; then the
/// rest of any full socket's bytes; then tells the readers how long to wait for replies.
fn send(
    options: &Options,
    start: Instant,
    window: Window,
    mut writers: Vec<Writer>,
    finished: watch::Sender<Option<Instant>>,
) -> Sent {
    reduce_timer_slack();
    let schedule = Schedule::new(options.arrivals, options.rate, writers.len(), options.seed);
    let mut requests = Requests::new(
        options.ratio,
        options.keyspace,
        options.data_size,
        options.seed.wrapping_add(1),
    );
    let mut sent = Sent {
        lag: latency::histogram(),
        in_window: 0,
        unsent: 0,
        cpu_seconds: 0.0,
    };
    let mut cpu_at_window_start = None;
    // Connections with bytes their socket did not take yet.
    let mut full: Vec<usize> = Vec::new();
    for arrival in schedule {
        let intended = start + arrival.at;
        if intended >= window.end {
            break;
        }
        wait_until(intended, &mut writers, &mut full);
        if intended >= window.start && cpu_at_window_start.is_none() {
            cpu_at_window_start = Some(cpu_seconds(libc::RUSAGE_THREAD));
        }
        let writer = &mut writers[arrival.connection];
        {
            let mut pending = lock(&writer.shared);
            if pending.failed {
                sent.unsent += 1;
                continue;
            }
            // Queued before it is written, so its reply always finds it.
            pending.due.push_back(intended);
        }
        let now = Instant::now();
        if window.contains(intended) {
            latency::record(&mut sent.lag, now - intended);
            sent.in_window += 1;
        }
        let was_waiting = !writer.unwritten.is_empty();
        requests.append_next(&mut writer.unwritten);
        if !was_waiting && !writer.flush() {
            full.push(arrival.connection);
        }
    }
    sent.cpu_seconds =
        cpu_at_window_start.map_or(0.0, |start| cpu_seconds(libc::RUSAGE_THREAD) - start);
    let drain_deadline = Instant::now() + options.drain;
    while !full.is_empty() && Instant::now() < drain_deadline {
        std::thread::sleep(RETRY_FULL_SOCKET);
        full.retain(|&i| !writers[i].flush());
    }
    // The readers stop at the deadline, or as soon as their connection has no reply due.
    let _ = finished.send(Some(drain_deadline));
    sent
}

/// Sleeps until `deadline`, meanwhile retrying the connections whose sockets were full.
fn wait_until(deadline: Instant, writers: &mut [Writer], full: &mut Vec<usize>) {
    loop {
        full.retain(|&i| !writers[i].flush());
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        let nap = deadline - now;
        std::thread::sleep(if full.is_empty() {
            nap
        } else {
            nap.min(RETRY_FULL_SOCKET)
        });
    }
}

/// Asks Linux to wake this thread within 1 µs of the time it asked for instead of the default
/// 50 µs slack, which makes every request late by up to 50 µs more: a bias charged to the
/// server, on latencies of about 100 µs. Measured (5,000 requests/s against Redis, the shared
/// 2-core machine, three runs each): median send lag 18-25 µs with it, 82-184 µs without.
fn reduce_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and changes only this thread's slack.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
    }
}

/// One connection's replies, each charged to its request's intended time. Ends once the
/// sender has finished and no reply is due, at the drain deadline, or when the connection
/// fails; what is still due then counts as unanswered.
async fn read_replies(
    mut stream: tokio::net::TcpStream,
    shared: Shared,
    window: Window,
    mut drain_deadline: watch::Receiver<Option<Instant>>,
) -> Tally {
    let mut tally = Tally::new();
    let mut input = Vec::with_capacity(16 * 1024);
    // Whatever is still due is unanswered; a failed connection sends nothing more.
    let give_up = |tally: &mut Tally, failed: bool| {
        let mut pending = lock(&shared);
        pending.failed |= failed;
        tally.unanswered += pending.due.len() as u64;
        pending.due.clear();
    };
    loop {
        let deadline = *drain_deadline.borrow_and_update();
        if deadline.is_some() && lock(&shared).due.is_empty() {
            return tally;
        }
        let drained = async {
            match deadline {
                Some(deadline) => tokio::time::sleep_until(deadline.into()).await,
                None => std::future::pending().await,
            }
        };
        let read = tokio::select! {
            read = stream.read_buf(&mut input) => read,
            // The sender is done: check again whether anything is still due.
            changed = drain_deadline.changed(), if deadline.is_none() => {
                if changed.is_err() {
                    // The sender is gone without a deadline (it panicked): stop now.
                    give_up(&mut tally, false);
                    return tally;
                }
                continue;
            }
            () = drained => {
                give_up(&mut tally, false);
                return tally;
            }
        };
        match read {
            Ok(n) if n > 0 => {}
            // Closed, or failed.
            _ => {
                give_up(&mut tally, true);
                return tally;
            }
        }
        let arrived = Instant::now();
        let mut used = 0;
        loop {
            let (reply, length) = match parse_response(&input[used..]) {
                Ok(Some(parsed)) => parsed,
                Ok(None) => break,
                // Not RESP: the stream cannot be followed any more.
                Err(_) => {
                    give_up(&mut tally, true);
                    return tally;
                }
            };
            used += length;
            let Some(intended) = lock(&shared).due.pop_front() else {
                // A reply to nothing sent: the stream cannot be trusted any more.
                give_up(&mut tally, true);
                return tally;
            };
            tally.reply(
                &window,
                intended,
                arrived,
                matches!(reply, Response::Error(_)),
            );
        }
        input.drain(..used);
    }
}

/// CPU time so far, user and system, in seconds, of this process (`RUSAGE_SELF`) or of the
/// calling thread (`RUSAGE_THREAD`).
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: an all-zero rusage is a valid value, and getrusage only writes the struct given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(who, &mut usage);
        usage
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}
