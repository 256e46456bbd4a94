//! Clients blocked on keys (BLPOP, BLMOVE, BZPOPMIN..., and the coming XREAD). A blocking
//! command that finds nothing registers a waiter on each of its keys while still holding their
//! shard locks, so no push can slip between its check and its registration. Each blocked
//! command chooses how a key that may have data wakes it ([`WakeOrder`]):
//! - FIFO (lists, sorted sets: one element serves one client): the first FIFO waiter of the key
//!   is woken; its connection re-runs the command while still first in line (further pushes
//!   wake only it), and once served leaves the line and hands its turn to the next. So they are
//!   served first-come, first-served per key, as in single-threaded Redis.
//! - Broadcast (streams: every reader sees a new entry): every broadcast waiter is woken.
//!
//! As in Redis, the clients a command wakes are served before its client's next command runs:
//! the pushing connection sends its reply, then waits until each woken client's re-run is over
//! (and the re-runs of those that re-run woke, or handed their turn to) before it runs another
//! command, so its client never sees a list a BLMOVE was about to take from
//! (`Waiter::rerun_finished`).
//!
//! A command can also be rewritten at block time ([`crate::context::Ctx::block_as`]): the re-run
//! after a wake uses the rewritten arguments (`XREAD ... $` waits for entries after the ID that
//! was last when it blocked, not after the last one when it wakes).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use redis_lite_protocol::ReplyWriter;

use crate::client::{ClientState, ExecMode};
use crate::dispatch::execute;
use crate::server::Server;

/// Why a blocked client was woken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// A key it waits on may have data: re-run the command.
    Ready,
    /// CLIENT UNBLOCK ... TIMEOUT: reply as if the timeout passed.
    Timeout,
    /// CLIENT UNBLOCK ... ERROR.
    Error,
}

/// Which of a key's waiters a signal wakes, chosen per blocked command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WakeOrder {
    /// The first FIFO waiter in line, which hands its turn on once served (BLPOP, BZPOPMIN...:
    /// a pushed element serves one client).
    Fifo,
    /// Every broadcast waiter (XREAD: a new entry is for every reader).
    Broadcast,
}

/// One blocked client's place in the key queues.
pub struct Waiter {
    wake: Mutex<Option<Wake>>,
    /// A CLIENT UNBLOCK that came while a wake for data was pending: it waits for the re-run,
    /// which serves the client (as Redis, serving a ready key first, would) or blocks it again
    /// (then the unblock applies).
    unblock_after_rerun: Mutex<Option<Wake>>,
    notify: tokio::sync::Notify,
    /// Wakes for data so far; a client whose command woke this one waits until the re-run
    /// that took its wake is over (`reruns_done` at or past the count its wake made).
    wakes_for_data: AtomicU64,
    /// `wakes_for_data` when the client last took its wake, so the re-run it starts covers
    /// every wake until then.
    wakes_taken: AtomicU64,
    reruns_done: AtomicU64,
    rerun_done: tokio::sync::Notify,
    order: WakeOrder,
    /// The client waits with a timeout (INFO's `clients_in_timeout_table`).
    timed: bool,
}

impl Waiter {
    pub fn new(order: WakeOrder) -> Arc<Waiter> {
        Waiter::with_timeout(order, false)
    }

    /// A waiter of a client whose wait may time out (`timed`).
    pub fn with_timeout(order: WakeOrder, timed: bool) -> Arc<Waiter> {
        Arc::new(Waiter {
            wake: Mutex::new(None),
            unblock_after_rerun: Mutex::new(None),
            notify: tokio::sync::Notify::new(),
            wakes_for_data: AtomicU64::new(0),
            wakes_taken: AtomicU64::new(0),
            reruns_done: AtomicU64::new(0),
            rerun_done: tokio::sync::Notify::new(),
            order,
            timed,
        })
    }

    /// Wakes the client; the first reason given wins.
    pub fn wake(&self, reason: Wake) {
        let mut wake = self.wake.lock();
        if reason == Wake::Ready {
            self.wakes_for_data.fetch_add(1, Relaxed);
        }
        match *wake {
            None => {
                *wake = Some(reason);
                self.notify.notify_one();
            }
            Some(Wake::Ready) if reason != Wake::Ready => {
                *self.unblock_after_rerun.lock() = Some(reason);
            }
            Some(_) => {}
        }
    }

    /// The CLIENT UNBLOCK that came while the client was woken for data, if one did.
    pub fn take_unblock_after_rerun(&self) -> Option<Wake> {
        self.unblock_after_rerun.lock().take()
    }

    /// Why the waiter was woken, if it was; resets it for another round.
    pub fn take_wake(&self) -> Option<Wake> {
        let mut wake = self.wake.lock();
        self.wakes_taken
            .store(self.wakes_for_data.load(Relaxed), Relaxed);
        wake.take()
    }

    /// How many wakes for data this waiter has had: what a client that just woke it waits for
    /// ([`Waiter::rerun_finished`]).
    pub fn wakes_for_data(&self) -> u64 {
        self.wakes_for_data.load(Relaxed)
    }

    /// The client's re-run is over (served, blocked again), with every re-run it caused in
    /// turn: the clients whose wakes it took go on.
    pub fn finish_rerun(&self) {
        self.reruns_done
            .fetch_max(self.wakes_taken.load(Relaxed), Relaxed);
        self.rerun_done.notify_waiters();
    }

    /// The client left every line (served, timed out, unblocked or gone): no re-run of this
    /// waiter will follow, so nobody waits for one.
    pub fn abandon(&self) {
        self.reruns_done.store(u64::MAX, Relaxed);
        self.rerun_done.notify_waiters();
    }

    /// Waits until a re-run has taken the `wake`-th wake for data and is over
    /// ([`Waiter::finish_rerun`]).
    pub async fn rerun_finished(&self, wake: u64) {
        loop {
            let done = self.rerun_done.notified();
            tokio::pin!(done);
            // Registered before the check, so a finish between the two is not missed.
            done.as_mut().enable();
            if self.reruns_done.load(Relaxed) >= wake {
                return;
            }
            done.await;
        }
    }

    /// Waits until woken and returns why, resetting the waiter for another round.
    pub async fn woken(&self) -> Wake {
        loop {
            if let Some(reason) = self.take_wake() {
                return reason;
            }
            self.notify.notified().await;
        }
    }
}

/// Writes a blocked command's reply when its timeout passes.
pub type TimeoutReply = Box<dyn Fn(&mut ReplyWriter<'_>) + Send + Sync>;

/// What a blocked client is waiting to do.
pub struct BlockedCommand {
    pub waiter: Arc<Waiter>,
    pub db: usize,
    pub keys: Vec<Vec<u8>>,
    /// The command re-run when a key becomes ready: as sent, or as rewritten when it blocked.
    pub args: Vec<Vec<u8>>,
    /// Its id in the command table, for INFO commandstats when it times out.
    pub command: usize,
    /// None: wait forever.
    pub deadline: Option<Instant>,
    /// The reply when the timeout passes (a null of the command's shape; WAIT's count of the
    /// replicas that acknowledged by then).
    pub on_timeout: TimeoutReply,
    /// A command held while writes are paused (`dispatch::pause`): in no key's line, never
    /// timed out or unblocked, and run again from the start of the pipeline once woken.
    pub postponed: bool,
}

impl BlockedCommand {
    /// A command held whole (by a pause or a load) and run again from the start once
    /// `waiter` is woken, or at `deadline`.
    pub fn postponed(
        waiter: Arc<Waiter>,
        db: usize,
        command: usize,
        args: &[&[u8]],
        deadline: Option<Instant>,
    ) -> BlockedCommand {
        BlockedCommand {
            waiter,
            db,
            keys: Vec::new(),
            args: args.iter().map(|a| a.to_vec()).collect(),
            command,
            deadline,
            on_timeout: Box::new(|_| {}),
            postponed: true,
        }
    }
}

/// The waiters of one key, in arrival order.
#[derive(Default)]
struct Line {
    waiters: VecDeque<Arc<Waiter>>,
    /// How many of them are broadcast waiters: with none, a signal wakes the front waiter
    /// without walking the line.
    broadcast: usize,
}

/// A blocked client woken for data, and the count of wakes its re-run must have taken.
pub type Woken = (Arc<Waiter>, u64);

/// Wakes `waiter` for data, adding it to `woken`.
fn wake_for_data(waiter: &Arc<Waiter>, woken: &mut Vec<Woken>) {
    waiter.wake(Wake::Ready);
    let wake = waiter.wakes_for_data();
    match woken.iter_mut().find(|(w, _)| Arc::ptr_eq(w, waiter)) {
        Some(known) => known.1 = known.1.max(wake),
        None => woken.push((waiter.clone(), wake)),
    }
}

impl Line {
    /// Wakes the first FIFO waiter and every broadcast waiter, adding them to `woken`.
    fn wake(&self, woken: &mut Vec<Woken>) {
        if self.broadcast == 0 {
            if let Some(first) = self.waiters.front() {
                wake_for_data(first, woken);
            }
            return;
        }
        let mut fifo_woken = false;
        for waiter in &self.waiters {
            match waiter.order {
                WakeOrder::Broadcast => wake_for_data(waiter, woken),
                WakeOrder::Fifo if !fifo_woken => {
                    wake_for_data(waiter, woken);
                    fifo_woken = true;
                }
                WakeOrder::Fifo => {}
            }
        }
    }

    /// Wakes the first FIFO waiter only (a served FIFO waiter handing its turn on), adding it
    /// to `woken`.
    fn wake_next_fifo(&self, woken: &mut Vec<Woken>) {
        let mut fifo = self.waiters.iter().filter(|w| w.order == WakeOrder::Fifo);
        if let Some(first) = fifo.next() {
            wake_for_data(first, woken);
        }
    }
}

type Queues = HashMap<(usize, Vec<u8>), Line>;

#[derive(Default)]
pub struct Blocking {
    queues: Mutex<Queues>,
    /// Clients blocked right now (INFO `blocked_clients`), and a cheap "anyone waiting?" test
    /// for writes.
    blocked: AtomicUsize,
    /// How many of them wait as broadcast waiters (stream readers), so that a write can skip
    /// [`Blocking::key_changed`]'s lock when none does.
    broadcast_blocked: AtomicUsize,
    /// How many of them may time out (INFO `clients_in_timeout_table`).
    timed_blocked: AtomicUsize,
}

impl Blocking {
    pub fn blocked_clients(&self) -> usize {
        self.blocked.load(Relaxed)
    }

    pub fn clients_with_timeout(&self) -> usize {
        self.timed_blocked.load(Relaxed)
    }

    /// The keys of database `db` that clients wait on (SWAPDB serves those its swap filled).
    pub fn waited_keys(&self, db: usize) -> Vec<Vec<u8>> {
        if self.blocked_clients() == 0 {
            return Vec::new();
        }
        let queues = self.queues.lock();
        queues
            .keys()
            .filter(|(key_db, _)| *key_db == db)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// Queues `waiter` at the back of every key's line.
    pub fn register(&self, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
        let mut queues = self.queues.lock();
        for key in keys {
            let line = queues.entry((db, key.clone())).or_default();
            line.waiters.push_back(waiter.clone());
            line.broadcast += usize::from(waiter.order == WakeOrder::Broadcast);
        }
        self.blocked.fetch_add(1, Relaxed);
        if waiter.order == WakeOrder::Broadcast {
            self.broadcast_blocked.fetch_add(1, Relaxed);
        }
        if waiter.timed {
            self.timed_blocked.fetch_add(1, Relaxed);
        }
    }

    /// Removes `waiter` from every key's queue (served, timed out, or disconnected).
    pub fn deregister(&self, db: usize, keys: &[Vec<u8>], waiter: &Arc<Waiter>) {
        let mut queues = self.queues.lock();
        for key in keys {
            let slot = (db, key.clone());
            if let Some(line) = queues.get_mut(&slot) {
                let before = line.waiters.len();
                line.waiters.retain(|w| !Arc::ptr_eq(w, waiter));
                if waiter.order == WakeOrder::Broadcast {
                    line.broadcast -= before - line.waiters.len();
                }
                if line.waiters.is_empty() {
                    queues.remove(&slot);
                }
            }
        }
        self.blocked.fetch_sub(1, Relaxed);
        if waiter.order == WakeOrder::Broadcast {
            self.broadcast_blocked.fetch_sub(1, Relaxed);
        }
        if waiter.timed {
            self.timed_blocked.fetch_sub(1, Relaxed);
        }
    }

    /// Any write to a key (deleted, overwritten, renamed away...) wakes its broadcast waiters:
    /// a stream reader re-runs to see what became of its stream (XREADGROUP answers that the
    /// key or its group is gone, as Redis 7.0 unblocks it; XREAD waits on). FIFO waiters are
    /// left alone: only an element pushed serves them.
    pub fn key_changed(&self, db: usize, key: &[u8]) {
        if self.broadcast_blocked.load(Relaxed) == 0 {
            return;
        }
        let queues = self.queues.lock();
        if let Some(line) = queues.get(&(db, key.to_vec())) {
            if line.broadcast > 0 {
                for waiter in &line.waiters {
                    if waiter.order == WakeOrder::Broadcast {
                        waiter.wake(Wake::Ready);
                    }
                }
            }
        }
    }

    /// Every key of the databases `dbs` picks changed at once (FLUSHDB, FLUSHALL, SWAPDB): wakes
    /// their broadcast waiters, as [`Blocking::key_changed`] wakes one key's.
    pub fn databases_changed(&self, dbs: impl Fn(usize) -> bool) {
        if self.broadcast_blocked.load(Relaxed) == 0 {
            return;
        }
        let queues = self.queues.lock();
        for ((db, _), line) in queues.iter() {
            if line.broadcast > 0 && dbs(*db) {
                for waiter in &line.waiters {
                    if waiter.order == WakeOrder::Broadcast {
                        waiter.wake(Wake::Ready);
                    }
                }
            }
        }
    }

    /// The cluster's slots changed hands, or its state did (a node failing, the cluster down):
    /// every waiter re-runs, so that the cluster rule sends those whose keys are now served
    /// elsewhere on (MOVED) or ends them with CLUSTERDOWN, as Redis's clients cron does with
    /// blocked clients; the others block again in their place.
    pub fn slots_changed(&self) {
        if self.blocked.load(Relaxed) == 0 {
            return;
        }
        for line in self.queues.lock().values() {
            for waiter in &line.waiters {
                waiter.wake(Wake::Ready);
            }
        }
    }

    /// A key may have become non-empty: wake its first FIFO waiter and every broadcast one,
    /// adding them to `woken` (the ones whose re-runs the signalling client waits for).
    pub fn signal(&self, db: usize, key: &[u8], woken: &mut Vec<Woken>) {
        let queues = self.queues.lock();
        if let Some(line) = queues.get(&(db, key.to_vec())) {
            line.wake(woken);
        }
    }

    /// A woken waiter was served (its re-run did not block again): it leaves every line, and a
    /// FIFO waiter hands its turn on, waking the next FIFO waiter in case data is left. A
    /// broadcast waiter took nothing from the others, which its wake already woke: it wakes no
    /// one. The next ones are added to `woken`.
    pub fn served(
        &self,
        db: usize,
        keys: &[Vec<u8>],
        waiter: &Arc<Waiter>,
        woken: &mut Vec<Woken>,
    ) {
        self.deregister(db, keys, waiter);
        if waiter.order == WakeOrder::Fifo {
            let queues = self.queues.lock();
            for key in keys {
                if let Some(line) = queues.get(&(db, key.clone())) {
                    line.wake_next_fifo(woken);
                }
            }
        }
    }
}

/// Re-runs a blocked command woken for data, with the arguments it blocked with (rewritten or
/// as sent), writing its reply to `output`. If it blocks again it keeps its place in line and
/// its deadline; once served it leaves the lines ([`Blocking::served`]).
pub fn rerun(
    server: &Arc<Server>,
    client: &mut ClientState,
    blocked: BlockedCommand,
    output: &mut Vec<u8>,
) {
    let write = crate::command::table().entries[blocked.command].spec.flags
        & crate::command::flags::WRITE
        != 0;
    if let Some(error) =
        crate::cluster::redirect::blocked_refusal(server, client, &blocked.keys, write)
    {
        redis_lite_protocol::ReplyWriter::new(output, client.protocol)
            .error_bytes(&error.reply_text());
        server.blocking.served(
            blocked.db,
            &blocked.keys,
            &blocked.waiter,
            &mut client.woken,
        );
        return;
    }
    client.mode = ExecMode::Rerun {
        waiter: blocked.waiter.clone(),
        deadline: blocked.deadline,
    };
    let args: Vec<&[u8]> = blocked.args.iter().map(Vec::as_slice).collect();
    execute(server, client, &args, output);
    client.mode = ExecMode::Direct;
    if client.blocked.is_none() {
        server.blocking.served(
            blocked.db,
            &blocked.keys,
            &blocked.waiter,
            &mut client.woken,
        );
    }
}

/// Parses a blocking command's timeout in seconds as Redis does: a float, where 0 means
/// forever. Returns milliseconds.
pub fn parse_timeout(arg: &[u8]) -> Result<u64, crate::error::CommandError> {
    use crate::error::CommandError;
    // Redis reads a C long double: `inf` and values past a double's range (`1e309`) parse, and
    // only values past a long double's are refused.
    let secs = redis_lite_protocol::number::parse_f64(arg)
        .filter(|s| !(s.is_nan() || s.is_infinite() && overflows_long_double(arg)))
        .ok_or(CommandError::err("timeout is not a float or out of range"))?;
    let ms = secs * 1000.0;
    // Redis converts to a C long long; a value beyond it (infinity too) comes out negative there.
    if ms < 0.0 || ms >= i64::MAX as f64 {
        return Err(CommandError::err("timeout is negative"));
    }
    Ok(ms as u64)
}

/// Whether the decimal number `text` is beyond an x86 long double's range (about 1.19e4932),
/// where C's `strtold` fails. `inf` and the like are not: they are no overflow.
fn overflows_long_double(text: &[u8]) -> bool {
    const MAX_EXPONENT: i64 = 4932;
    const MAX_MANTISSA: f64 = 1.189_731_495_357_231_8;
    let text = text
        .strip_prefix(b"-")
        .or(text.strip_prefix(b"+"))
        .unwrap_or(text);
    let (mantissa, exponent) = match text.iter().position(|&b| b == b'e' || b == b'E') {
        Some(e) => (&text[..e], &text[e + 1..]),
        None => (text, &b""[..]),
    };
    let Some(exponent) = std::str::from_utf8(exponent).ok().and_then(|e| {
        if e.is_empty() {
            Some(0)
        } else {
            e.parse::<i64>().ok()
        }
    }) else {
        // An exponent past i64 is past the range too, unless negative.
        return !exponent.starts_with(b"-");
    };
    let digits: Vec<u8> = mantissa.iter().copied().filter(|&b| b != b'.').collect();
    if !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let Some(first) = digits.iter().position(|&b| b != b'0') else {
        return false;
    };
    let point = mantissa
        .iter()
        .position(|&b| b == b'.')
        .unwrap_or(mantissa.len());
    // The decimal exponent of the first significant digit.
    let magnitude = exponent.saturating_add(point as i64 - first as i64 - 1);
    let leading: f64 = std::str::from_utf8(&digits[first..(first + 17).min(digits.len())])
        .ok()
        .and_then(|d| format!("{}.{}", &d[..1], &d[1..]).parse().ok())
        .unwrap_or(0.0);
    magnitude > MAX_EXPONENT || (magnitude == MAX_EXPONENT && leading > MAX_MANTISSA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_come_first_served_and_the_woken_keep_their_turn() {
        let blocking = Blocking::default();
        let (a, b) = (Waiter::new(WakeOrder::Fifo), Waiter::new(WakeOrder::Fifo));
        let keys = vec![b"k".to_vec()];
        blocking.register(0, &keys, &a);
        blocking.register(0, &keys, &b);
        blocking.signal(0, b"k", &mut Vec::new());
        assert_eq!(a.take_wake(), Some(Wake::Ready));
        // While `a` re-runs its command, more pushes still wake only `a`.
        blocking.signal(0, b"k", &mut Vec::new());
        assert_eq!(*b.wake.lock(), None);
        assert_eq!(a.take_wake(), Some(Wake::Ready));
        // Served, `a` leaves; the next push wakes `b`.
        blocking.deregister(0, &keys, &a);
        blocking.signal(0, b"k", &mut Vec::new());
        assert_eq!(*b.wake.lock(), Some(Wake::Ready));
        assert_eq!(blocking.blocked_clients(), 1);
    }

    #[test]
    fn broadcast_wakes_every_waiter_fifo_only_the_first() {
        let blocking = Blocking::default();
        let keys = vec![b"k".to_vec()];
        let fifo = [Waiter::new(WakeOrder::Fifo), Waiter::new(WakeOrder::Fifo)];
        let broadcast = [
            Waiter::new(WakeOrder::Broadcast),
            Waiter::new(WakeOrder::Broadcast),
        ];
        // Arrival order: a broadcast waiter first, so "first in line" is not simply the front.
        for waiter in [&broadcast[0], &fifo[0], &fifo[1], &broadcast[1]] {
            blocking.register(0, &keys, waiter);
        }
        blocking.signal(0, b"k", &mut Vec::new());
        assert_eq!(broadcast[0].take_wake(), Some(Wake::Ready));
        assert_eq!(broadcast[1].take_wake(), Some(Wake::Ready));
        assert_eq!(fifo[0].take_wake(), Some(Wake::Ready));
        assert_eq!(fifo[1].take_wake(), None);
        // A served broadcast waiter took nothing from the others: it wakes no one.
        blocking.served(0, &keys, &broadcast[0], &mut Vec::new());
        assert!([&broadcast[1], &fifo[0], &fifo[1]]
            .iter()
            .all(|w| w.take_wake().is_none()));
        // A served FIFO waiter hands its turn to the next FIFO waiter only.
        blocking.served(0, &keys, &fifo[0], &mut Vec::new());
        assert_eq!(fifo[1].take_wake(), Some(Wake::Ready));
        assert_eq!(broadcast[1].take_wake(), None);
        assert_eq!(blocking.blocked_clients(), 2);
        // With the last broadcast waiter gone, the line is FIFO again.
        blocking.deregister(0, &keys, &broadcast[1]);
        blocking.signal(0, b"k", &mut Vec::new());
        assert_eq!(fifo[1].take_wake(), Some(Wake::Ready));
        assert_eq!(blocking.queues.lock()[&(0, b"k".to_vec())].broadcast, 0);
    }

    #[test]
    fn a_key_change_wakes_its_stream_readers_only() {
        let blocking = Blocking::default();
        let keys = vec![b"k".to_vec()];
        let (fifo, reader) = (
            Waiter::new(WakeOrder::Fifo),
            Waiter::new(WakeOrder::Broadcast),
        );
        blocking.register(0, &keys, &fifo);
        // No stream reader waits: nothing to look up.
        blocking.key_changed(0, b"k");
        assert_eq!(fifo.take_wake(), None);
        blocking.register(0, &keys, &reader);
        blocking.key_changed(0, b"other");
        assert_eq!(reader.take_wake(), None);
        blocking.key_changed(0, b"k");
        assert_eq!(reader.take_wake(), Some(Wake::Ready));
        assert_eq!(fifo.take_wake(), None);
        blocking.deregister(0, &keys, &reader);
        assert_eq!(blocking.broadcast_blocked.load(Relaxed), 0);
    }

    /// A command blocked with rewritten arguments re-runs as rewritten: BLPOP blocked on `a`,
    /// rewritten to wait on `b`, is served by a push to `b`.
    #[test]
    fn the_rerun_uses_the_arguments_rewritten_at_block_time() {
        use crate::client::ClientHandle;
        use crate::config::Config;
        use crate::context::Ctx;
        use crate::dispatch::check;

        let server = Arc::new(Server::new(Config::default(), None));
        let client = |id| {
            let handle = Arc::new(ClientHandle::new(id, String::new(), String::new(), -1));
            ClientState::new(handle, server.stats.workers[0].clone(), true)
        };
        let (mut blocked_client, mut pusher) = (client(1), client(2));
        let sent: [&[u8]; 3] = [b"BLPOP", b"a", b"0"];
        let command = check::lookup(&sent).ok().expect("BLPOP is a command");
        let mut reply = Vec::new();
        let protocol = blocked_client.protocol;
        let mut ctx = Ctx {
            server: &server,
            client: &mut blocked_client,
            args: &sent,
            out: ReplyWriter::new(&mut reply, protocol),
            command,
            now_ms: 0,
            started: std::time::Instant::now(),
            rewritten: Default::default(),
            logged: Default::default(),
            also_propagated: Default::default(),
        };
        let rewritten = [&b"BLPOP"[..], b"b", b"0"].map(<[u8]>::to_vec).to_vec();
        ctx.block_as(
            &[b"a"],
            0,
            |out| out.null_array(),
            WakeOrder::Broadcast,
            Some(rewritten),
        );
        assert!(reply.is_empty());
        assert_eq!(server.blocking.blocked_clients(), 1);

        execute(
            &server,
            &mut pusher,
            &[b"RPUSH", b"b", b"x"],
            &mut Vec::new(),
        );
        let blocked = blocked_client.blocked.take().expect("blocked");
        rerun(&server, &mut blocked_client, blocked, &mut reply);
        assert_eq!(reply, b"*2\r\n$1\r\nb\r\n$1\r\nx\r\n");
        assert!(blocked_client.blocked.is_none());
        assert_eq!(server.blocking.blocked_clients(), 0);
    }

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(parse_timeout(b"1.5").unwrap(), 1500);
        assert_eq!(parse_timeout(b"0").unwrap(), 0);
        assert_eq!(
            parse_timeout(b"x").unwrap_err().to_string(),
            "ERR timeout is not a float or out of range"
        );
        assert_eq!(
            parse_timeout(b"-1").unwrap_err().to_string(),
            "ERR timeout is negative"
        );
        // Past a long long, infinity and past a double too: negative once cast, as in Redis;
        // past a long double: not a float.
        for negative in [
            "1e100", "inf", "-inf", "+INF", "infinity", "1e309", "1e4931", "1.1e4932",
        ] {
            assert_eq!(
                parse_timeout(negative.as_bytes()).unwrap_err().to_string(),
                "ERR timeout is negative",
                "{negative}"
            );
        }
        for not_float in [
            "nan",
            "1e4933",
            "1.2e4932",
            "1e5000",
            "12e4932",
            "1e99999999999999999999",
        ] {
            assert_eq!(
                parse_timeout(not_float.as_bytes()).unwrap_err().to_string(),
                "ERR timeout is not a float or out of range",
                "{not_float}"
            );
        }
        assert_eq!(parse_timeout(b"1e-400").unwrap(), 0);
    }
}
