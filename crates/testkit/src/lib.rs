//! The test kit the workspace's tests share (a dev-dependency only): starting servers, talking
//! to them byte for byte, comparing redis-lite with real Redis, and multi-node set-ups.
//!
//! Layout:
//! - [`launch`]: which server program ([`Program`]: redis-lite built from this workspace, or
//!   real `redis-server`), how to start it ([`Launch`], a builder), the running [`Server`]
//!   (killed on drop), free ports, scratch directories ([`DataDir`]), and saying that a test
//!   was skipped because a program is missing ([`installed`]).
//! - [`resp`]: raw RESP connections ([`Raw`]) for byte-level checks, [`encode`] and
//!   [`frame_len`], and replies parsed ([`Reply`]) for tests that read values.
//! - [`differential`]: the same script against real Redis and redis-lite, replies compared
//!   byte for byte; the same for keyspace notifications.
//! - [`wait`]: waiting for a condition with a deadline instead of sleeping, and the waits on
//!   server state built on it (INFO fields, background saves and rewrites).
//! - [`topology`]: a master with replicas ([`Replicated`]) and a cluster ([`Cluster`]), each
//!   node any [`Program`], torn down on drop.
//! - [`replication_stream`]: what a server propagates, read as a replica does
//!   ([`ReplicationStream`]), checked against patterns as Redis's own suite writes them.
//! - [`run`](mod@run): running a command-line tool with its standard input fed.
//! - [`pki`]: a CA and certificates made at run time, for TLS tests.
//! - [`scripts`]: command scripts kept as data files (`tests/scripts/<name>.redis`, read with
//!   [`script!`]), for the long differential scripts.

pub mod differential;
pub mod launch;
pub mod pki;
pub mod replication_stream;
pub mod resp;
pub mod run;
pub mod scripts;
pub mod topology;
pub mod wait;

pub use differential::{
    differential, differential_both_protocols, differential_generated, differential_notifications,
    differential_notifications_with, differential_with, notifications, notifications_with,
};
pub use launch::{
    free_port, installed, lite_binary, skipped, which, DataDir, Frozen, Launch, Program, Server,
};
pub use replication_stream::{skip_sync_snapshot, ReplicationStream};
pub use resp::{encode, frame_len, Raw, Reply};
pub use run::{run, text};
pub use topology::{Cluster, Replicated};
pub use wait::{
    assert_acknowledged_writes_survived, counter_writers, info_field, poll, wait_background_jobs,
    wait_rewrite_ok, wait_until,
};
