//! `Ctx`: what a command handler sees. The request's arguments, the calling client's state, the
//! shared server, and the reply writer.

use std::cell::Cell;

use redis_lite_engine::{Db, EncodingLimits, Locked, Value};
use redis_lite_protocol::number::parse_i64;
use std::sync::Arc;
use std::time::{Duration, Instant};

use redis_lite_protocol::ReplyWriter;

use crate::blocking::{BlockedCommand, Waiter, WakeOrder};
use crate::client::{ClientKind, ClientState, ExecMode};
use crate::command::flags::{MAY_REPLICATE, WRITE};
use crate::command::CommandEntry;
use crate::error::CommandError;
use crate::journal::Readers;
use crate::notify::Class;
use crate::server::Server;

pub struct Ctx<'a> {
    pub server: &'a Arc<Server>,
    pub client: &'a mut ClientState,
    /// The arguments, with the command name (and subcommand name) first.
    pub args: &'a [&'a [u8]],
    pub out: ReplyWriter<'a>,
    /// The command being run.
    pub command: &'static CommandEntry,
    /// Time at the start of the command, in Unix ms: every key the command touches is expired
    /// against the same instant, as in Redis.
    pub now_ms: u64,
    /// When the command started, on the monotonic clock (a script's run starts then too).
    pub started: Instant,
    /// The form the command is logged in, when not as sent (see `propagate_as`).
    pub rewritten: Cell<Option<Vec<Vec<u8>>>>,
    /// Records the command emits besides its own (see `also_propagate`). An Option, so that
    /// the usual command, with none, drops nothing.
    pub also_propagated: Cell<Option<Vec<Vec<Vec<u8>>>>>,
    /// Whether the command's records were appended to the journal, and the offset its reply
    /// waits for.
    pub logged: Cell<Option<u64>>,
}

impl<'a> Ctx<'a> {
    pub fn arg(&self, i: usize) -> &'a [u8] {
        self.args[i]
    }

    pub fn arg_count(&self) -> usize {
        self.args.len()
    }

    /// Argument `i` as an integer, or Redis's "not an integer" error.
    pub fn arg_i64(&self, i: usize) -> Result<i64, CommandError> {
        parse_i64(self.args[i]).ok_or(CommandError::NotInteger)
    }

    /// Whether argument `i` equals `word`, ignoring ASCII case.
    pub fn arg_is(&self, i: usize, word: &str) -> bool {
        self.args
            .get(i)
            .is_some_and(|a| a.eq_ignore_ascii_case(word.as_bytes()))
    }

    /// The wrong-arity error for the running command.
    pub fn wrong_arity(&self) -> CommandError {
        CommandError::WrongArity(self.command.full_name.clone())
    }

    pub fn db(&self) -> usize {
        self.client.db
    }

    /// Locks the shards holding `keys` for the rest of the command. Debug builds check that
    /// each is a key the command's key specs declare: cluster routing, ACL key patterns and
    /// GETKEYS trust the specs, so a handler touching any other key would slip past them.
    ///
    /// A write command with several keys has the due ones expired here, before it changes any
    /// (see `Locked::expire_due`): their DELs must precede its record in the journal.
    pub fn lock<'k, K>(&self, keys: K) -> Locked<'a>
    where
        K: IntoIterator<Item = &'k [u8]>,
        K::IntoIter: Clone,
    {
        let keys = keys.into_iter();
        #[cfg(debug_assertions)]
        let keys = self.declared_keys_only(keys).into_iter();
        let mut locked = self.lock_mode(self.server.keyspace.lock_keys(keys.clone()));
        if self.command.spec.has(crate::command::flags::WRITE) && keys.clone().nth(1).is_some() {
            locked.expire_due(self.client.db, keys, self.now_ms);
        }
        locked
    }

    /// Locks keys that are not the command's arguments as its specs declare them, which only a
    /// few commands have: DEBUG's subcommands (Redis declares no keys for DEBUG) and EXEC,
    /// which looks up the keys its client watched.
    pub fn lock_undeclared<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Locked<'a> {
        self.lock_mode(self.server.keyspace.lock_keys(keys))
    }

    #[cfg(debug_assertions)]
    fn declared_keys_only<'k>(&self, keys: impl IntoIterator<Item = &'k [u8]>) -> Vec<&'k [u8]> {
        let keys: Vec<&[u8]> = keys.into_iter().collect();
        let declared = self.command.spec.find_keys(self.args).unwrap_or_default();
        for key in &keys {
            assert!(
                declared.iter().any(|k| self.args[k.pos] == *key),
                "{} locked {:?}, which its key specs do not declare",
                self.command.full_name,
                String::from_utf8_lossy(key)
            );
        }
        keys
    }

    /// Locks every shard for the rest of the command (commands whose keys are not known
    /// up front, such as SORT with BY/GET patterns).
    pub fn lock_all(&self) -> Locked<'a> {
        self.lock_mode(self.server.keyspace.lock_all())
    }

    /// A write command's lookups let a running snapshot keep the cut-time values first; a
    /// replica's master link sees keys whose TTL passed, which only its master's DEL removes,
    /// and so does the AOF loader, as Redis expires nothing while it loads: a record replays
    /// on the key as it was when it was logged.
    fn lock_mode(&self, mut locked: Locked<'a>) -> Locked<'a> {
        if matches!(self.client.kind, ClientKind::Master | ClientKind::AofLoader) {
            locked = locked.showing_expired();
        }
        if self.command.spec.has(crate::command::flags::WRITE) {
            locked = locked.for_write();
        }
        locked
    }

    /// Looks `key` up to read it: counted in the keyspace hit/miss statistics (with `keymiss` on
    /// a miss), as Redis's `lookupKeyRead` is. Lookups made only to write use `db.get` directly.
    pub fn read<'d>(
        &self,
        db: &'d mut Db,
        hash: u64,
        key: &[u8],
    ) -> Option<&'d mut redis_lite_engine::Entry> {
        let index = db.index();
        let entry = db.get(hash, key, self.now_ms);
        self.count_lookup(index, key, entry.is_some());
        entry
    }

    /// Counts a read lookup of `key` in database `db` for INFO's `keyspace_hits`/`misses`;
    /// a miss also emits the `keymiss` notification, as Redis's lookupKeyRead does.
    pub fn count_lookup(&self, db: usize, key: &[u8], found: bool) {
        self.client.stats.count_lookup(found);
        if !found {
            self.notify(db, key, Class::KeyMiss, "keymiss");
        }
    }

    /// After a write to `key` in `db`: invalidates WATCHes and client-side caches of it, emits its keyspace
    /// notification (`class` and `event` as Redis names them, e.g. `Class::List`, "lpush") and
    /// wakes the stream readers blocked on it (see `Blocking::key_changed`).
    /// Every command that modifies a key calls this once per key and event.
    /// The first change of a command also appends its journal record (see `propagate`).
    pub fn changed(&self, db: &mut Db, key: &[u8], class: Class, event: &str) {
        db.signal_modified(key);
        self.server.tracking.key_changed(key);
        self.server.notifier.emit(db.index(), key, class, event);
        self.server.blocking.key_changed(db.index(), key);
        if self.server.keyspace.is_replica() && self.client.kind != ClientKind::Master {
            crate::replication::replica::remember_own_volatile(self.server, db, key);
        }
        self.propagate();
    }

    /// Whether an expiry at `at_ms` (Unix ms) deletes the key at once, as Redis's
    /// `checkAlreadyExpired`: a time already past does, except while the AOF loads and on a
    /// replica, which store it and leave the deletion to the master's DEL (or to a later
    /// access once the loaded server is a master).
    pub fn expires_at_once(&self, at_ms: i64) -> bool {
        at_ms <= self.now_ms as i64
            && self.client.kind != ClientKind::AofLoader
            && !self.server.replication.replica.is_replica()
    }

    /// Logs the command as `args` instead of as sent: the deterministic form of a command whose
    /// effect depends on the clock or on chance (absolute expiry times, the members SPOP chose,
    /// the result of INCRBYFLOAT), as Redis's `rewriteClientCommandVector` does. Must come
    /// before the command's first `changed`.
    pub fn propagate_as<A: AsRef<[u8]>>(&self, args: &[A]) {
        debug_assert!(self.logged.get().is_none(), "propagate_as after the record");
        let args = args.iter().map(|a| a.as_ref().to_vec()).collect();
        self.rewritten.set(Some(args));
    }

    /// Adds a record the command emits after its own, in the same unit: the journal frames the
    /// command's records in MULTI/EXEC, as Redis 7 does for a command that propagates several
    /// (`alsoPropagate`), so a reader applies all of them or none. Must come before the
    /// command's first `changed`, which appends the whole unit while the shard locks are held.
    pub fn also_propagate<A: AsRef<[u8]>>(&self, args: &[A]) {
        debug_assert!(
            self.logged.get().is_none(),
            "also_propagate after the record"
        );
        let mut also = self.also_propagated.take().unwrap_or_default();
        also.push(args.iter().map(|a| a.as_ref().to_vec()).collect());
        self.also_propagated.set(Some(also));
    }

    /// Appends the command's records to the journal, once per command, if its spec says it
    /// writes. The AOF loader's replay is not recorded again.
    ///
    /// Why here: `changed` runs while the command holds the locks of the shards it writes, so
    /// the record enters the journal before any other thread can touch those keys: per key,
    /// journal order is apply order, and a rewrite's cut (taken with every shard locked) falls
    /// between two whole units. Commands that change data without `changed` (FLUSHALL, SWAPDB)
    /// call this themselves; they run with every other command paused
    /// (`CommandSpec::exclusive`).
    pub fn propagate(&self) {
        if self.logged.get().is_some() || !self.command.spec.has(WRITE | MAY_REPLICATE) {
            return;
        }
        let Some(readers) = self.journaled() else {
            return;
        };
        if !self.server.journal.is_recording() {
            // Nothing listens (AOF off): the command's one journal cost is this load.
            self.logged.set(Some(0));
            return;
        }
        self.record(readers);
    }

    /// Which sinks this run's effects reach: none when the AOF loader replays them, those
    /// its unit chose for a nested call (a script's `redis.set_repl`), else all.
    fn journaled(&self) -> Option<Readers> {
        match self.client.mode {
            _ if self.client.kind == ClientKind::AofLoader => None,
            ExecMode::Nested { journaled, .. } => journaled,
            _ => Some(Readers::All),
        }
    }

    /// Sends the command to replicas, not to the AOF, as Redis propagates PUBLISH: its effect
    /// (messages to the replicas' subscribers) is not data to restore. Once per command.
    pub fn propagate_to_replicas(&self) {
        if self.logged.get().is_some() {
            return;
        }
        // Inside a script, only if its `redis.set_repl` lets writes reach the replicas.
        if self
            .journaled()
            .and_then(|r| r.and(Readers::Replicas))
            .is_none()
        {
            return;
        }
        let offset = self.server.journal.record_for_replicas(
            self.client.db,
            self.args,
            self.client.mode.nested(),
        );
        self.logged.set(Some(offset));
    }

    /// Appends the command's unit. Kept out of line so that `changed`, inlined into every
    /// write handler, stays small.
    #[inline(never)]
    fn record(&self, readers: Readers) {
        let journal = &self.server.journal;
        let (db, in_exec) = (self.client.db, self.client.mode.nested());
        let also = self.also_propagated.take();
        let also = also.as_deref().unwrap_or_default();
        let expired = crate::journal::lazy_expiry::take();
        let offset = match self.rewritten.take() {
            Some(args) => journal.record_unit(&expired, db, &args, also, readers, in_exec),
            None => journal.record_unit(&expired, db, self.args, also, readers, in_exec),
        };
        self.logged.set(Some(offset));
    }

    /// After pushing to a list or adding to a sorted set: clients blocked on `key` (BLPOP,
    /// BZPOPMIN...) are served once this command completes.
    pub fn key_ready(&mut self, db: usize, key: &[u8]) {
        if self.server.blocking.blocked_clients() > 0 {
            self.client.ready_keys.push((db, key.to_vec()));
        }
    }

    /// After a value arrived at `key` in `db` whole (RENAME, MOVE, COPY, SWAPDB, RESTORE): Redis
    /// signals every key added to a database, so the clients blocked on it are served when the
    /// value is of a type they pop from.
    pub fn value_arrived(&mut self, db: usize, key: &[u8], value: &Value) {
        if matches!(value, Value::List(_) | Value::ZSet(_) | Value::Stream(_)) {
            self.key_ready(db, key);
        }
    }

    /// Whether the command runs inside a script, not EXEC: a running script holds every gate,
    /// so a nested call while one runs is the script's.
    pub fn in_script(&self) -> bool {
        self.client.mode.nested() && self.server.scripting.running.current().is_some()
    }

    /// A blocking command's re-run after a wake: a key that holds another type then leaves it
    /// waiting (Redis serves a blocked client only from a key of the type it pops) instead of
    /// failing with WRONGTYPE.
    pub fn past_other_types<T>(
        &self,
        result: Result<Option<T>, CommandError>,
    ) -> Result<Option<T>, CommandError> {
        match result {
            Err(CommandError::WrongType) if matches!(self.client.mode, ExecMode::Rerun { .. }) => {
                Ok(None)
            }
            result => result,
        }
    }

    /// Blocks the client on `keys` (a blocking command that found nothing). Must be called while
    /// the keys' shards are still locked, so a push cannot slip in before the registration.
    /// `timeout_ms` 0 waits forever; `on_timeout` writes the reply for when it passes. Inside
    /// EXEC nothing blocks: the timeout reply is given at once, as in Redis. The client waits
    /// in line (FIFO) and re-runs the command as sent; see `block_as` for the other choices.
    pub fn block(
        &mut self,
        keys: &[&[u8]],
        timeout_ms: u64,
        on_timeout: impl Fn(&mut ReplyWriter<'_>) + Send + Sync + 'static,
    ) {
        self.block_as(keys, timeout_ms, on_timeout, WakeOrder::Fifo, None);
    }

    /// As `block`, choosing how the keys wake the client (`WakeOrder::Broadcast`: with every
    /// other reader, as XREAD) and, with `rerun_as`, the arguments the command re-runs with once
    /// woken instead of those sent (`XREAD ... $` rewritten to the ID that was last when it
    /// blocked, as Redis rewrites a blocked client's argv). A re-run that blocks again keeps
    /// the waiter, and with it the order, it had.
    pub fn block_as(
        &mut self,
        keys: &[&[u8]],
        timeout_ms: u64,
        on_timeout: impl Fn(&mut ReplyWriter<'_>) + Send + Sync + 'static,
        order: WakeOrder,
        rerun_as: Option<Vec<Vec<u8>>>,
    ) {
        if self.client.mode.nested() {
            on_timeout(&mut self.out);
            return;
        }
        let db = self.client.db;
        let keys: Vec<Vec<u8>> = keys.iter().map(|k| k.to_vec()).collect();
        // A woken waiter re-running its command never left the queues: it keeps its place.
        let (waiter, deadline) = match std::mem::take(&mut self.client.mode) {
            ExecMode::Rerun { waiter, deadline } => (waiter, deadline),
            _ => {
                let deadline =
                    (timeout_ms > 0).then(|| Instant::now() + Duration::from_millis(timeout_ms));
                let waiter = Waiter::with_timeout(order, deadline.is_some());
                self.server.blocking.register(db, &keys, &waiter);
                (waiter, deadline)
            }
        };
        *self.client.handle.blocked.lock() = Some(waiter.clone());
        let args = rerun_as.unwrap_or_else(|| self.args.iter().map(|a| a.to_vec()).collect());
        let command = self.command.id;
        self.client.blocked = Some(BlockedCommand {
            waiter,
            db,
            keys,
            args,
            command,
            deadline,
            on_timeout: Box::new(on_timeout),
            postponed: false,
        });
    }

    /// Emits a keyspace notification that is not a modification (such as a key miss).
    pub fn notify(&self, db: usize, key: &[u8], class: Class, event: &str) {
        self.server.notifier.emit(db, key, class, event);
    }

    /// The collection encoding thresholds in force (`*-max-listpack-*`, `set-max-intset-entries`).
    pub fn encoding_limits(&self) -> EncodingLimits {
        self.server.config.encoding.load()
    }

    /// Records `n` changes to the dataset (INFO's `rdb_changes_since_last_save`).
    pub fn dirty(&self, n: u64) {
        self.client.stats.add_dirty(n);
    }
}
