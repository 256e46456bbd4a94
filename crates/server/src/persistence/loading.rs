//! The loading state (start-up, DEBUG RELOAD, DEBUG LOADAOF, a replica's full sync) and when
//! clients see it. Redis loads on its only thread and serves clients only at *serving points*:
//! each time the load has read another `loading-process-events-interval-bytes` of a snapshot,
//! every 1024 commands of an AOF, and while a replayed script runs past its time limit. A
//! command sent meanwhile waits for the next serving point, where it is refused with
//! `-LOADING` (INFO and the other `loading` commands run), or for the end of the load, after
//! which it runs: a load shorter than one interval is never seen as loading by anyone.
//!
//! redis-lite's event loops keep running while another thread loads, so a client's command is
//! held here instead ([`hold`]): parked as a postponed command until the loader reaches its next
//! serving point ([`Loading::serve`]) or the load ends ([`Loading::finish`]), then run again.
//! A serving point opens a new *round*; a client woken for a round, or already served in it,
//! is answered at once until the next one. The loader does not wait for the clients it woke:
//! one that runs only after the load ended is still answered as at its serving point.
//! A command that waits for its gates when a load starts (DEBUG RELOAD loads holding them all)
//! is held as one that arrives during the load.

use std::io::{self, BufRead, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use crate::blocking::{BlockedCommand, Waiter, Wake, WakeOrder};
use crate::client::{ClientKind, ClientState, ExecMode};
use crate::command::CommandEntry;
use crate::scripting::fiber;

/// What INFO shows of the running load, and the clients waiting for its next serving point.
#[derive(Default)]
pub struct Loading {
    active: AtomicBool,
    pub started_secs: AtomicU64,
    pub total_bytes: AtomicU64,
    /// Bytes read at the last serving point, as Redis updates `loading_loaded_bytes` there.
    pub loaded_bytes: AtomicU64,
    /// `loading-process-events-interval-bytes` when the load started.
    interval: AtomicU64,
    serving: Mutex<Serving>,
}

#[derive(Default)]
struct Serving {
    /// Counts serving points and load ends, over the server's life: a client served in one
    /// round is not taken as served in a later load.
    round: u64,
    /// The round the last load's end opened: a command woken into it runs as it is, one woken
    /// into an earlier round was woken by a serving point.
    finished_round: u64,
    /// A loader running on an event loop's fiber is suspended at a serving point: the loop's
    /// clients are read and answered now, as Redis reads its clients there.
    open: bool,
    /// The clients whose command waits for the next round; registered and woken under this
    /// lock, so none can register after the wake-up it would have needed.
    held: Vec<Weak<Waiter>>,
}

impl Loading {
    pub fn is_active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// Starts a load of `total_bytes` (0 when unknown), serving clients every `interval`
    /// bytes: `loading:1` from now, and commands held until [`Loading::serve`] or
    /// [`Loading::finish`].
    pub fn start(&self, total_bytes: u64, interval: u64) {
        self.record_start(total_bytes);
        self.interval.store(interval.max(1), Relaxed);
        self.active.store(true, Relaxed);
    }

    /// The progress INFO's `loading_*` fields show from now, for a load of `total_bytes`: a
    /// load's (see [`Loading::start`]) or an async load's, which holds no command.
    pub fn record_start(&self, total_bytes: u64) {
        self.started_secs
            .store(redis_lite_engine::now_ms() / 1000, Relaxed);
        self.total_bytes.store(total_bytes, Relaxed);
        self.loaded_bytes.store(0, Relaxed);
    }

    /// [`Loading::start`], ended when the guard drops (on every error path too).
    pub fn begin(&self, total_bytes: u64, interval: u64) -> LoadingGuard<'_> {
        self.start(total_bytes, interval);
        LoadingGuard(self)
    }

    /// Ends the load: the held commands run.
    pub fn finish(&self) {
        let mut serving = self.serving.lock();
        self.active.store(false, Relaxed);
        wake_all(&mut serving);
        serving.finished_round = serving.round;
    }

    /// A serving point: the held commands are answered (`-LOADING`, or run when allowed while
    /// loading), with `loaded` bytes read so far.
    pub fn serve(&self, loaded: u64) {
        self.loaded_bytes.store(loaded, Relaxed);
        self.serving_point();
    }

    /// A serving point with no progress to report: a replayed script past its time limit
    /// serves clients while it runs, as Redis's does. Without a load, it only lets the event
    /// loop serve its other clients (which get BUSY).
    pub fn serve_while_busy(&self) {
        if self.is_active() {
            self.serving_point();
        } else {
            fiber::suspend();
        }
    }

    /// Wakes the held commands; a loader on an event loop's fiber (DEBUG RELOAD, DEBUG
    /// LOADAOF) then lets its loop run its other clients before it goes on, the round open to
    /// the commands they send meanwhile. A loader on a thread of its own goes on at once.
    fn serving_point(&self) {
        {
            let mut serving = self.serving.lock();
            wake_all(&mut serving);
            serving.open = true;
        }
        fiber::suspend();
        self.serving.lock().open = false;
    }

    /// Counts the bytes a load reads from `inner`, from `offset` on, and serves clients at
    /// each interval boundary they cross. Outside a load (a replica reading a snapshot aside
    /// while it serves its old data), it serves nobody.
    pub fn counting<R>(&self, inner: R, offset: u64) -> Counting<'_, R> {
        let interval = match self.is_active() {
            true => self.interval.load(Relaxed).max(1),
            false => u64::MAX,
        };
        Counting {
            inner,
            read: offset,
            next_serving: (offset / interval)
                .saturating_add(1)
                .saturating_mul(interval),
            interval,
            loading: self,
        }
    }
}

fn wake_all(serving: &mut Serving) {
    serving.round += 1;
    for waiter in serving.held.drain(..).filter_map(|w| w.upgrade()) {
        waiter.wake(Wake::Ready);
    }
}

/// Ends a load when dropped (see [`Loading::begin`]).
pub struct LoadingGuard<'a>(&'a Loading);

impl Drop for LoadingGuard<'_> {
    fn drop(&mut self) {
        self.0.finish();
    }
}

/// Where a client stands with the serving rounds.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientRounds {
    /// The round in which its commands are answered at once; none before a serving point
    /// reached it (a client that connected during a start-up load before any serving point
    /// waits for the load's end, as it does in Redis, rather than being taken as served in
    /// the first round).
    served: Option<u64>,
    /// The round in which its command was held: it runs again once that round is over.
    held_in: Option<u64>,
    /// Its command was woken by a serving point but runs after the load ended: it is answered
    /// as Redis answered it at that point, refused unless allowed while loading.
    woken_to_be_refused: bool,
}

impl ClientRounds {
    /// Whether a load holds the client's command (until its next serving point).
    pub fn held(&self) -> bool {
        self.held_in.is_some()
    }

    /// Whether the command being admitted is to be refused as during the load it was woken in
    /// (see `woken_to_be_refused`; [`hold`] decides it for each command).
    pub fn refused_after_load(&self) -> bool {
        self.woken_to_be_refused
    }
}

/// Whether a load holds the commands of `client`. Never held: the commands of EXEC and scripts
/// (admitted as a whole), the AOF loader's and a master's (obeyed), a replica's and a MONITOR
/// client's (never held in Redis's checks either).
pub fn may_hold(client: &ClientState) -> bool {
    !client.kind.obeyed()
        && client.kind != ClientKind::AofLoader
        && matches!(client.mode, ExecMode::Direct)
        && client.replica.as_ref().is_none_or(|r| r.link.is_none())
        && !client.handle.is_monitor()
}

/// Holds the command of `client` until the load's next serving point or its end, unless the
/// client is served in the current round (see the module's notes). True when held: the
/// client runs it again once woken.
pub fn hold(
    loading: &Loading,
    client: &mut ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> bool {
    client.loading_rounds.woken_to_be_refused = false;
    // Every command comes here: without a load, one atomic load decides.
    if (!loading.is_active() && client.loading_rounds.held_in.is_none()) || !may_hold(client) {
        return false;
    }
    let mut serving = loading.serving.lock();
    let round = serving.round;
    let active = loading.is_active();
    let rounds = &mut client.loading_rounds;
    if let Some(held) = rounds.held_in.take().filter(|&held| held < round) {
        if !active {
            // Woken by a serving point, but run once the load was over.
            rounds.woken_to_be_refused = held + 1 != serving.finished_round;
            return false;
        }
        rounds.served = Some(round);
    }
    if serving.open {
        rounds.served = Some(round);
    }
    if !active || rounds.served == Some(round) {
        return false;
    }
    park(&mut serving, client, entry, args);
    true
}

/// Holds the command of `client` until the load's next serving point or its end, even when
/// served in this round: it could not get its gates, which the loading command holds. False
/// when no load runs any more.
pub fn hold_past_this_round(
    loading: &Loading,
    client: &mut ClientState,
    entry: &CommandEntry,
    args: &[&[u8]],
) -> bool {
    let mut serving = loading.serving.lock();
    if !loading.is_active() {
        return false;
    }
    park(&mut serving, client, entry, args);
    true
}

/// Parks the command as postponed, to be woken at the end of the current round.
fn park(serving: &mut Serving, client: &mut ClientState, entry: &CommandEntry, args: &[&[u8]]) {
    let waiter = Waiter::new(WakeOrder::Fifo);
    serving.held.retain(|w| w.strong_count() > 0);
    serving.held.push(Arc::downgrade(&waiter));
    client.loading_rounds.held_in = Some(serving.round);
    client.blocked = Some(BlockedCommand::postponed(
        waiter, client.db, entry.id, args, None,
    ));
}

/// A load's input, counted as the parser consumes it (not as a buffer below it fills), so that
/// the serving points fall where Redis's do.
pub struct Counting<'a, R> {
    inner: R,
    read: u64,
    next_serving: u64,
    interval: u64,
    loading: &'a Loading,
}

impl<R> Counting<'_, R> {
    fn advance(&mut self, n: usize) {
        self.read += n as u64;
        if self.read >= self.next_serving {
            self.next_serving = (self.read / self.interval + 1) * self.interval;
            self.loading.serve(self.read);
        }
    }
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.advance(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Counting<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        self.inner.consume(amt);
        self.advance(amt);
    }
}
