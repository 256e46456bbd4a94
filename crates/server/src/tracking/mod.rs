//! Client-side caching (CLIENT TRACKING): which clients read which keys, and the invalidation
//! messages a write sends them, as Redis 7.0 does. Its commands are in [`tracking_family`].
//!
//! In the default mode a tracking client's read-only commands put their keys in one table
//! (key → ids of the clients that read it, whatever the database, as in Redis); the next
//! change of a key sends one `invalidate` to each of them and forgets them. In BCAST mode a
//! client names prefixes instead, and every change of a key under one of them is announced,
//! batched per prefix after the command. A RESP3 client gets `>2 invalidate [keys]` pushes on
//! its own connection; a RESP2 client redirects them to another client that is subscribed, as
//! a message on `__redis__:invalidate`. FLUSHDB and FLUSHALL send a null invalidation to every
//! tracking client.
//!
//! Why this shape: a write on any event loop may invalidate clients on others, so the table
//! is shared under one lock and messages travel as pub/sub's do (each client's push queue).
//! Writes pay one atomic load while nobody tracks ([`Tracking::key_changed`]). The messages for
//! the client whose command caused them wait until its reply is written, as Redis defers them
//! (`pending` below, per thread, drained by [`after_command`]).

pub mod tracking_family;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound::{Included, Unbounded};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::client::{BufferLimit, ClientHandle, ClientState};
use crate::command::flags::{PUBSUB, READONLY};
use crate::command::CommandEntry;
use crate::pubsub::{PubSub, Push};
use crate::server::Server;

/// The options of CLIENT TRACKING ON that shape what a client is sent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    pub bcast: bool,
    pub optin: bool,
    pub optout: bool,
    pub noloop: bool,
}

/// The connection's own view of its tracking, read on every command without a lock.
#[derive(Debug, Default)]
pub struct ClientTracking {
    /// The options while tracking is on.
    pub on: Option<Options>,
    /// CLIENT CACHING YES (OPTIN) or NO (OPTOUT) was given for the next command or transaction.
    pub caching: bool,
    /// How many BCAST prefixes the client has (they count in its `tot-mem`).
    pub prefixes: usize,
    /// A script's read-only call ran: the script command's keys are remembered once it ends,
    /// as Redis tracks a script by the keys its caller declared.
    script_read: bool,
}

impl ClientTracking {
    /// Whether this client's reads are remembered key by key (tracking on, not BCAST).
    fn remembers_keys(&self) -> bool {
        self.on.is_some_and(|o| !o.bcast)
    }
}

/// A client with tracking on, as other threads see it.
struct Tracker {
    handle: Arc<ClientHandle>,
    options: Options,
    /// REDIRECT's client id (0: none) and its connection while it is connected.
    redirect: u64,
    redirect_to: Option<Arc<ClientHandle>>,
    /// The redirect target went away (TRACKINGINFO's `broken_redirect`).
    broken: bool,
    prefixes: BTreeSet<Box<[u8]>>,
}

/// What an invalidation says: these keys changed, or everything did (a flush), which Redis
/// says with a null in the tracking client's own protocol.
enum Invalidated<'k> {
    Keys(&'k [&'k [u8]]),
    All { resp3: bool },
}

impl Tracker {
    /// The message for `what`, encoded for whoever receives it, and who that is: the client
    /// itself in RESP3, its redirect target in RESP3 or subscribed in RESP2, or, when the
    /// target went away, the client itself with `tracking-redir-broken` (RESP3 only). None
    /// when the receiver could not read it.
    fn route(&mut self, what: &Invalidated<'_>) -> Option<(Arc<ClientHandle>, Vec<u8>)> {
        let mut frame = Vec::new();
        let receiver = match (self.redirect, &self.redirect_to) {
            (0, _) => {
                if !is_resp3(&self.handle) {
                    return None;
                }
                frame.extend_from_slice(INVALIDATE_PUSH);
                self.handle.clone()
            }
            (id, None) => {
                self.broken = true;
                self.handle
                    .tracking_flags
                    .fetch_or(crate::client::TRACKING_BROKEN, Relaxed);
                if !is_resp3(&self.handle) {
                    return None;
                }
                frame.extend_from_slice(b">2\r\n$21\r\ntracking-redir-broken\r\n");
                frame.extend_from_slice(format!(":{id}\r\n").as_bytes());
                return Some((self.handle.clone(), frame));
            }
            (_, Some(target)) => {
                let (resp3, subscriber) = {
                    let info = target.info.lock();
                    (info.resp >= 3, info.is_subscriber())
                };
                if resp3 {
                    frame.extend_from_slice(INVALIDATE_PUSH);
                } else if subscriber {
                    frame.extend_from_slice(INVALIDATE_MESSAGE);
                } else {
                    return None;
                }
                target.clone()
            }
        };
        match what {
            Invalidated::Keys(keys) => {
                frame.extend_from_slice(format!("*{}\r\n", keys.len()).as_bytes());
                for key in keys.iter() {
                    frame.extend_from_slice(format!("${}\r\n", key.len()).as_bytes());
                    frame.extend_from_slice(key);
                    frame.extend_from_slice(b"\r\n");
                }
            }
            Invalidated::All { resp3: true } => frame.extend_from_slice(b"_\r\n"),
            Invalidated::All { resp3: false } => frame.extend_from_slice(b"$-1\r\n"),
        }
        Some((receiver, frame))
    }
}

const INVALIDATE_PUSH: &[u8] = b">2\r\n$10\r\ninvalidate\r\n";
const INVALIDATE_MESSAGE: &[u8] = b"*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n";

fn is_resp3(handle: &ClientHandle) -> bool {
    handle.info.lock().resp >= 3
}

/// One BCAST prefix: its clients, and the keys under it changed since the last broadcast,
/// each with the id of the client that last changed it (0: the server itself), for NOLOOP.
#[derive(Default)]
struct Broadcast {
    clients: BTreeSet<u64>,
    changed: BTreeMap<Box<[u8]>, u64>,
}

#[derive(Default)]
struct State {
    /// Clients with tracking on, by id.
    trackers: BTreeMap<u64, Tracker>,
    /// Keys read by tracking clients → the ids of those clients.
    table: HashMap<Box<[u8]>, Vec<u64>>,
    /// Client ids in the table, summed over its keys (INFO's `tracking_total_items`).
    items: usize,
    prefixes: BTreeMap<Box<[u8]>, Broadcast>,
    /// Times in a row the table was found over `tracking-table-max-keys`: each makes the next
    /// round of evictions try harder, as in Redis.
    over_limit_rounds: usize,
}

/// The server's tracking state. See the module docs.
pub struct Tracking {
    state: Mutex<State>,
    /// Clients with tracking on plus keys in the table: while zero, a write has nothing to do.
    in_use: AtomicUsize,
    /// Clients with tracking on (INFO's `tracking_clients`).
    clients_on: AtomicUsize,
    /// Some BCAST prefix has changed keys to announce.
    broadcast_due: AtomicBool,
    /// `tracking-table-max-keys` (0: no limit).
    max_keys: AtomicU64,
    normal_limit: RwLock<BufferLimit>,
    pubsub: Arc<PubSub>,
}

thread_local! {
    /// The id of the client whose command this thread runs (0: none), Redis's current client:
    /// its own invalidations wait for its reply, and NOLOOP skips them.
    static CURRENT: Cell<u64> = const { Cell::new(0) };
    /// Encoded messages for the current client, written after its reply.
    static PENDING: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl Tracking {
    pub fn new(pubsub: Arc<PubSub>) -> Self {
        Tracking {
            state: Mutex::new(State::default()),
            in_use: AtomicUsize::new(0),
            clients_on: AtomicUsize::new(0),
            broadcast_due: AtomicBool::new(false),
            max_keys: AtomicU64::new(0),
            normal_limit: RwLock::new(BufferLimit::default()),
            pubsub,
        }
    }

    /// `tracking-table-max-keys`, and the output limit of normal clients (a subscriber's is
    /// pub/sub's), which invalidations count against as Redis counts any reply.
    pub fn configure(&self, max_keys: u64, normal_limit: BufferLimit) {
        self.max_keys.store(max_keys, Relaxed);
        *self.normal_limit.write() = normal_limit;
    }

    /// INFO's `tracking_clients`.
    pub fn clients_on(&self) -> usize {
        self.clients_on.load(Relaxed)
    }

    /// INFO's `tracking_total_keys`, `tracking_total_items` and `tracking_total_prefixes`.
    pub fn totals(&self) -> (usize, usize, usize) {
        let state = self.state.lock();
        (state.table.len(), state.items, state.prefixes.len())
    }

    /// After a change of `key` (a command's write, an expiry, an eviction): the clients that
    /// read it are sent an invalidation, and BCAST prefixes note it.
    #[inline]
    pub fn key_changed(&self, key: &[u8]) {
        if self.in_use.load(Relaxed) != 0 {
            self.invalidate(key, true);
        }
    }

    #[inline(never)]
    fn invalidate(&self, key: &[u8], broadcast: bool) {
        let current = CURRENT.get();
        let mut routes = Vec::new();
        {
            let mut state = self.state.lock();
            let state = &mut *state;
            if broadcast {
                let mut noted = false;
                let mut note = |bcast: &mut Broadcast| {
                    bcast.changed.insert(key.into(), current);
                    noted = true;
                };
                // The prefixes the key starts with, searched for: a write does not walk
                // thousands of them.
                let starting = member_prefix_lengths(key, |bound| {
                    let mut at_or_before = state
                        .prefixes
                        .range::<[u8], _>((Unbounded, Included(bound)));
                    at_or_before.next_back().map(|(prefix, _)| &**prefix)
                });
                for len in starting {
                    if let Some(bcast) = state.prefixes.get_mut(&key[..len]) {
                        note(bcast);
                    }
                }
                if noted {
                    self.broadcast_due.store(true, Relaxed);
                }
            }
            let Some(ids) = state.table.remove(key) else {
                return;
            };
            state.items -= ids.len();
            for id in ids {
                let Some(tracker) = state.trackers.get_mut(&id) else {
                    continue;
                };
                // A client that switched to BCAST since it read the key gets no more of its
                // key-by-key messages; NOLOOP leaves out the client's own changes.
                if tracker.options.bcast || (tracker.options.noloop && id == current) {
                    continue;
                }
                routes.extend(tracker.route(&Invalidated::Keys(&[key])));
            }
            self.count_in_use(state);
        }
        self.deliver(routes);
    }

    /// FLUSHDB, FLUSHALL: every tracking client is told everything changed, and the table is
    /// emptied (for any database, as in Redis).
    pub fn flushed(&self) {
        if self.in_use.load(Relaxed) == 0 {
            return;
        }
        let mut routes = Vec::new();
        {
            let mut state = self.state.lock();
            for tracker in state.trackers.values_mut() {
                let resp3 = is_resp3(&tracker.handle);
                routes.extend(tracker.route(&Invalidated::All { resp3 }));
            }
            state.table.clear();
            state.items = 0;
            self.count_in_use(&state);
        }
        self.deliver(routes);
    }

    /// Sends each message, or keeps it for after the reply when it is for the current client.
    fn deliver(&self, routes: Vec<(Arc<ClientHandle>, Vec<u8>)>) {
        let current = CURRENT.get();
        for (receiver, frame) in routes {
            if receiver.id == current {
                PENDING.with_borrow_mut(|pending| pending.extend_from_slice(&frame));
            } else if receiver.info.lock().is_subscriber() {
                self.pubsub
                    .deliver_push(&receiver, Push::Encoded(frame.into()));
            } else {
                let limit = *self.normal_limit.read();
                crate::pubsub::deliver(&receiver, Push::Encoded(frame.into()), limit);
            }
        }
    }

    fn count_in_use(&self, state: &State) {
        self.in_use
            .store(state.trackers.len() + state.table.len(), Relaxed);
    }

    /// Announces the keys changed under each BCAST prefix since the last time: one message per
    /// prefix and client, its keys in order, less the client's own changes under NOLOOP.
    fn broadcast(&self) {
        if !self.broadcast_due.swap(false, Relaxed) {
            return;
        }
        let mut routes = Vec::new();
        {
            let mut state = self.state.lock();
            let State {
                trackers, prefixes, ..
            } = &mut *state;
            for bcast in prefixes.values_mut() {
                let changed = std::mem::take(&mut bcast.changed);
                if changed.is_empty() {
                    continue;
                }
                for id in &bcast.clients {
                    let Some(tracker) = trackers.get_mut(id) else {
                        continue;
                    };
                    let noloop = tracker.options.noloop;
                    let keys: Vec<&[u8]> = changed
                        .iter()
                        .filter(|(_, writer)| !noloop || **writer != *id)
                        .map(|(key, _)| &**key)
                        .collect();
                    if !keys.is_empty() {
                        routes.extend(tracker.route(&Invalidated::Keys(&keys)));
                    }
                }
            }
        }
        self.deliver(routes);
    }

    /// Keeps the table within `tracking-table-max-keys`: keys are forgotten, their readers
    /// invalidated, up to an effort that grows each time one round was not enough (Redis's
    /// rule). Which keys go is the table's order, as Redis picks them at random.
    fn limit_table(&self) {
        let max = self.max_keys.load(Relaxed) as usize;
        if max == 0 {
            return;
        }
        let effort = {
            let mut state = self.state.lock();
            if state.table.len() <= max {
                state.over_limit_rounds = 0;
                return;
            }
            100 * (state.over_limit_rounds + 1)
        };
        // Forgetting a key is a change made by nobody: NOLOOP does not spare the current client.
        let current = CURRENT.replace(0);
        for _ in 0..effort {
            let key = {
                let state = self.state.lock();
                if state.table.len() <= max {
                    break;
                }
                state.table.keys().next().cloned()
            };
            match key {
                Some(key) => self.invalidate(&key, false),
                None => break,
            }
        }
        CURRENT.set(current);
        let mut state = self.state.lock();
        if state.table.len() > max {
            state.over_limit_rounds += 1;
        } else {
            state.over_limit_rounds = 0;
        }
    }

    /// After a connection ran the commands of one read, and in the cron (for the keys the server
    /// changed itself): BCAST announcements and the table's limit, as Redis sees to them before
    /// its event loop sleeps, so a pipeline's changes under a prefix go out as one message.
    pub fn after_batch(&self) {
        if self.in_use.load(Relaxed) != 0 {
            self.broadcast();
            self.limit_table();
        }
    }

    /// Remembers that `client` read `keys` (ids kept once per key).
    fn remember(&self, client: u64, keys: &[&[u8]]) {
        let mut state = self.state.lock();
        for key in keys {
            let ids = state.table.entry((*key).into()).or_default();
            if !ids.contains(&client) {
                ids.push(client);
                state.items += 1;
            }
        }
        self.count_in_use(&state);
    }

    /// Turns tracking on (again) for `handle`: the options replace the previous ones, prefixes
    /// add to those it had, as Redis's `enableTracking`. Returns how many prefixes it has now.
    fn enable(
        &self,
        handle: &Arc<ClientHandle>,
        options: Options,
        redirect: Option<Arc<ClientHandle>>,
        prefixes: &[&[u8]],
    ) -> usize {
        let mut state = self.state.lock();
        let id = handle.id;
        let tracker = state.trackers.entry(id).or_insert_with(|| Tracker {
            handle: handle.clone(),
            options,
            redirect: 0,
            redirect_to: None,
            broken: false,
            prefixes: BTreeSet::new(),
        });
        tracker.options = options;
        tracker.broken = false;
        tracker.redirect = redirect.as_ref().map_or(0, |r| r.id);
        tracker.redirect_to = redirect;
        let mut added = Vec::new();
        if options.bcast {
            let wanted: &[&[u8]] = if prefixes.is_empty() {
                &[b""]
            } else {
                prefixes
            };
            for prefix in wanted {
                if tracker.prefixes.insert((*prefix).into()) {
                    added.push(*prefix);
                }
            }
        }
        handle
            .tracking_redirect
            .store(tracker.redirect as i64, Relaxed);
        let bcast = match options.bcast {
            true => crate::client::TRACKING_BCAST,
            false => 0,
        };
        handle
            .tracking_flags
            .store(crate::client::TRACKING_ON | bcast, Relaxed);
        let count = tracker.prefixes.len();
        for prefix in added {
            let bcast = state.prefixes.entry(prefix.into()).or_default();
            bcast.clients.insert(id);
        }
        self.clients_on.store(state.trackers.len(), Relaxed);
        self.count_in_use(&state);
        count
    }

    /// Turns tracking off for a client (CLIENT TRACKING OFF, RESET, a closed connection). The
    /// keys it read stay in the table until they change, as in Redis.
    fn disable(&self, id: u64) {
        if self.in_use.load(Relaxed) == 0 {
            return;
        }
        let mut state = self.state.lock();
        let Some(tracker) = state.trackers.remove(&id) else {
            return;
        };
        tracker.handle.tracking_redirect.store(-1, Relaxed);
        tracker.handle.tracking_flags.store(0, Relaxed);
        for prefix in &tracker.prefixes {
            if let Some(bcast) = state.prefixes.get_mut(prefix) {
                bcast.clients.remove(&id);
                if bcast.clients.is_empty() {
                    state.prefixes.remove(prefix);
                }
            }
        }
        self.clients_on.store(state.trackers.len(), Relaxed);
        self.count_in_use(&state);
    }

    /// A connection closed: its tracking ends, and clients redirecting to it find their
    /// redirect broken at their next invalidation.
    pub fn remove_client(&self, id: u64) {
        if self.in_use.load(Relaxed) == 0 {
            return;
        }
        self.disable(id);
        for tracker in self.state.lock().trackers.values_mut() {
            if tracker.redirect == id {
                tracker.redirect_to = None;
            }
        }
    }

    /// Runs `check` on a client's BCAST prefixes (none when it does not track), in place:
    /// a check per prefix added must not copy them all.
    fn with_prefixes_of<R>(&self, id: u64, check: impl FnOnce(&BTreeSet<Box<[u8]>>) -> R) -> R {
        let state = self.state.lock();
        match state.trackers.get(&id) {
            Some(tracker) => check(&tracker.prefixes),
            None => check(&BTreeSet::new()),
        }
    }

    /// CLIENT TRACKINGINFO's view of a client: whether its redirect is broken, its prefixes.
    fn info_of(&self, id: u64) -> (bool, Vec<Box<[u8]>>) {
        let state = self.state.lock();
        state.trackers.get(&id).map_or((false, Vec::new()), |t| {
            (t.broken, t.prefixes.iter().cloned().collect())
        })
    }
}

/// The lengths of the members of a sorted set that `text` starts with, longest first, given
/// the set's search for its greatest member not above a bound. Any such member is not above
/// the greatest member at or before `text`, and so is a prefix of the part they share: each
/// step either finds one (and goes on below it) or cuts the bound to that shared part. Each
/// step passes a member, usually one or two in all, where trying every length of `text`
/// would take a lookup per byte of it.
fn member_prefix_lengths<'s>(
    text: &[u8],
    at_or_before: impl Fn(&[u8]) -> Option<&'s [u8]>,
) -> Vec<usize> {
    let mut lengths = Vec::new();
    let mut bound = text;
    while let Some(member) = at_or_before(bound) {
        let shared = member.iter().zip(bound).take_while(|(a, b)| a == b).count();
        if shared < member.len() {
            // Shorter than `member`, so the next member found is an earlier one.
            bound = &bound[..shared];
            continue;
        }
        lengths.push(shared);
        match shared.checked_sub(1) {
            Some(shorter) => bound = &bound[..shorter],
            None => break,
        }
    }
    lengths
}

/// Before a command a connection runs, and before its admission checks (not one EXEC or a
/// script runs inside it): its client becomes the thread's current client.
#[inline]
pub fn before_command(client: &ClientState) {
    if !client.mode.nested() {
        CURRENT.set(client.handle.id);
    }
}

/// After a connection's command and its reply: the messages for its own client follow the
/// reply, and CLIENT CACHING's one-command effect ends (kept through MULTI and by the CLIENT
/// subcommands, as in Redis).
#[inline]
pub fn after_command(client: &mut ClientState, entry: &CommandEntry, out: &mut Vec<u8>) {
    if client.mode.nested() {
        return;
    }
    if client.tracking.caching && client.multi.is_none() && !entry.full_name.starts_with("client|")
    {
        client.tracking.caching = false;
    }
    write_pending(out);
}

/// After a connection's command was admitted or refused: what admission caused (evictions
/// under maxmemory) is written ahead of the reply. The client is current again when its
/// command runs ([`before_command`]).
#[inline]
pub fn after_admission(client: &ClientState, out: &mut Vec<u8>) {
    if !client.mode.nested() {
        write_pending(out);
    }
}

/// Ends the current client's turn: the messages kept for it go to its output.
fn write_pending(out: &mut Vec<u8>) {
    CURRENT.set(0);
    PENDING.with_borrow_mut(|pending| {
        if !pending.is_empty() {
            out.extend_from_slice(pending);
            pending.clear();
        }
    });
}

/// Script commands: a script's read-only calls make its caller's keys tracked, and the
/// read-only forms are not tracked as reads of their own.
const SCRIPT_COMMANDS: &[&str] = &[
    "eval",
    "evalsha",
    "fcall",
    "eval_ro",
    "evalsha_ro",
    "fcall_ro",
];

/// After any command ran, at any depth: a tracking client's read-only command has its keys
/// remembered, unless OPTIN without CACHING YES or OPTOUT with CACHING NO says otherwise.
#[inline]
pub fn after_call(server: &Server, client: &mut ClientState, entry: &CommandEntry, args: &[&[u8]]) {
    if client.tracking.remembers_keys() {
        remember_read(server, client, entry, args);
    }
}

#[inline(never)]
fn remember_read(server: &Server, client: &mut ClientState, entry: &CommandEntry, args: &[&[u8]]) {
    let script = SCRIPT_COMMANDS.contains(&entry.full_name.as_str());
    let read = if script {
        std::mem::take(&mut client.tracking.script_read)
    } else if !entry.spec.has(READONLY) || entry.spec.has(PUBSUB) {
        false
    } else if client.mode.nested() && server.scripting.running.is_running() {
        client.tracking.script_read = true;
        false
    } else {
        true
    };
    let Some(options) = client.tracking.on.filter(|_| read) else {
        return;
    };
    let caching = client.tracking.caching;
    if (options.optin && !caching) || (options.optout && caching) {
        return;
    }
    let keys: Vec<&[u8]> = entry
        .spec
        .find_keys(args)
        .unwrap_or_default()
        .iter()
        .map(|k| args[k.pos])
        .collect();
    if !keys.is_empty() {
        server.tracking.remember(client.handle.id, &keys);
    }
}

/// RESET's part: tracking off, and CLIENT CACHING forgotten.
pub fn reset(server: &Server, client: &mut ClientState) {
    if client.tracking.on.take().is_some() {
        server.tracking.disable(client.handle.id);
    }
    client.tracking = ClientTracking::default();
}

#[cfg(test)]
mod tests {
    use super::member_prefix_lengths;
    use proptest::prelude::*;
    use std::collections::BTreeSet;
    use std::ops::Bound::{Included, Unbounded};

    fn search(set: &BTreeSet<Vec<u8>>, text: &[u8]) -> Vec<usize> {
        member_prefix_lengths(text, |bound| {
            let mut at_or_before = set.range::<[u8], _>((Unbounded, Included(bound)));
            at_or_before.next_back().map(Vec::as_slice)
        })
    }

    proptest! {
        /// The search finds exactly the members a walk of the whole set finds, prefixes of
        /// one another included (Redis 7.0 lets a client have those).
        #[test]
        fn the_members_a_text_starts_with_are_found_as_a_walk_finds_them(
            set in proptest::collection::btree_set(proptest::collection::vec(0u8..3, 0..5), 0..12),
            text in proptest::collection::vec(0u8..3, 0..7),
        ) {
            let mut walked: Vec<usize> = set
                .iter()
                .filter(|member| text.starts_with(member))
                .map(Vec::len)
                .collect();
            walked.reverse();
            prop_assert_eq!(search(&set, &text), walked);
        }
    }

    #[test]
    fn a_long_text_takes_a_step_per_member_not_per_byte() {
        let long = vec![b'a'; 1 << 20];
        let set: BTreeSet<Vec<u8>> = [long.clone(), b"a".to_vec()].into();
        let mut text = long.clone();
        text.push(b'b');
        let steps = std::cell::Cell::new(0);
        let found = member_prefix_lengths(&text, |bound| {
            steps.set(steps.get() + 1);
            let mut at_or_before = set.range::<[u8], _>((Unbounded, Included(bound)));
            at_or_before.next_back().map(Vec::as_slice)
        });
        assert_eq!(found, [1 << 20, 1]);
        assert!(steps.get() <= 4, "{} steps", steps.get());
    }
}
