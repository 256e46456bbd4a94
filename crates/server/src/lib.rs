//! The redis-lite server.
//!
//! Layout:
//! - [`server`]: [`server::Server`], the shared state, and `run`: listeners, one event loop per
//!   thread, the cron thread (active expiry), signals.
//! - [`net`]: a client's connection (read, hand commands to the pipeline, write the replies,
//!   bound its pending output), the event loops' buffer pools, and the file-descriptor budget
//!   behind `maxclients`.
//! - [`dispatch`]: the pipeline every command runs through, whoever runs it: lookup and the
//!   ordered admission rules ([`dispatch::check`]), MULTI queueing, then the call with its
//!   statistics and bookkeeping.
//! - [`command`]: the declarative command table ([`command::CommandSpec`]) that dispatch,
//!   COMMAND and INFO read.
//! - [`commands`]: one file per data-type command family; each exports its specs and handlers,
//!   and reaches the keyspace through [`commands::access`] (typed lookups, get-or-create,
//!   delete-if-empty, ranges, SCAN options).
//! - [`args`]: argument helpers any subsystem's commands use (keywords, `<COMMAND> HELP`).
//! - [`acl`]: users and their rules, the permission check, and the ACL command.
//! - [`admin`]: instance, DEBUG, client, COMMAND, INFO and MODULE commands, and MIGRATE with its
//!   cache of connections to target instances.
//! - [`cluster`]: Redis Cluster: the node's identity and view of the cluster, nodes.conf,
//!   CLUSTER and ASKING/READONLY/READWRITE, and the pipeline's rule (MOVED, ASK, CROSSSLOT...).
//! - [`context`]: [`context::Ctx`], what a handler sees.
//! - [`cluster`]: Redis Cluster: the hash slot subcommands of CLUSTER so far.
//! - [`config`]: the parameter table behind redis.conf, the command line and CONFIG.
//! - [`blocking`]: clients blocked on keys (BLPOP and friends): first-come, first-served or
//!   broadcast wake-ups, arguments rewritten at block time, the re-run after a wake.
//! - [`pubsub`]: channel and pattern subscriptions, delivery to subscribers on any thread, and
//!   the pub/sub commands.
//! - [`tracking`]: client-side caching (CLIENT TRACKING): the keys tracking clients read, and
//!   the invalidations every write, expiry, eviction and flush sends them on any thread.
//! - [`txn`]: MULTI/EXEC/DISCARD/WATCH, the transaction state and its commands.
//! - [`scripting`]: EVAL's script cache and FUNCTION's libraries on the Lua runtime, the
//!   script's side of `redis.call`, and BUSY / SCRIPT KILL.
//! - [`notify`]: keyspace notification flags and classes.
//! - [`observability`]: the slow log, the latency monitor and per-command latency histograms,
//!   fed from `dispatch::call` and the background cycles, and SLOWLOG / LATENCY.
//! - [`build_info`]: the version, the Redis version implemented and how the binary was built
//!   (profile, static linking, features), for `--version`, `--help` and the start-up log.
//! - [`entry`]: the program's `main` (arguments, `--version`/`--help`, start-up), shared by
//!   the `redis-lite-server` binary and the multi-call `redis-lite` binary.
//! - [`proctitle`]: the process title (`proc-title-template`), hiding the command line.
//! - [`process`]: daemonizing, the pid file, service-manager notifications, the OOM score,
//!   the crash log.
//! - [`shutdown`]: SHUTDOWN and the shutdown signals: waiting for the replicas to catch up,
//!   SHUTDOWN ABORT, the last save.
//! - [`monitor`]: MONITOR, and the lines `dispatch::call` feeds to the clients monitoring.
//! - [`eviction`]: keeping to `maxmemory` and `maxkeys` (the policies are in the engine).
//! - [`journal`]: the ordered stream of every write's records (SELECT and MULTI/EXEC framing,
//!   byte offsets), read by sinks from their own cursors: the AOF now, replication later.
//! - [`faults`]: fault injection for the fault tests (debug builds only).
//! - [`persistence`]: RDB snapshots (SAVE, BGSAVE, `save` rules), the append-only file
//!   (logging writes, fsync policies, rewriting), and loading at start-up.
//! - [`metrics`]: Prometheus `GET /metrics` on `metrics-port`, on a thread of its own: INFO's
//!   fields under redis_exporter's names, plus per-thread load, AOF fsync and snapshot lock
//!   latency.
//! - [`client`], [`stats`], [`memory`], [`mod@log`], [`error`]: client state, INFO counters,
//!   allocator figures and MEMORY, Redis-format logging, and typed errors with Redis's texts.

pub mod acl;
pub mod admin;
pub mod args;
pub mod blocking;
pub mod build_info;
pub mod client;
pub mod cluster;
pub mod command;
pub mod commands;
pub mod config;
pub mod context;
pub mod dispatch;
pub mod entry;
pub mod error;
pub mod eviction;
pub mod faults;
pub mod journal;
pub mod log;
pub mod memory;
pub mod metrics;
pub mod monitor;
pub mod net;
pub mod notify;
pub mod observability;
pub mod persistence;
pub mod process;
pub mod proctitle;
pub mod pubsub;
pub mod replication;
pub mod scripting;
pub mod server;
pub mod shutdown;
pub mod stats;
pub mod tracking;
pub mod txn;
