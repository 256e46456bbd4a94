//! The server's integration tests, as one test binary (linking one binary instead of one per
//! file is most of what building the tests costs). Each module is a family or a subsystem; they
//! share the workspace's test kit (`crates/testkit`).

mod aof;
mod bitmaps;
mod blocking;
mod client_limits;
mod client_memory;
mod client_scripts;
mod configuration;
mod connection;
mod debug;
mod dump;
mod encryption;
mod eviction;
mod failover;
mod geo;
mod hardening;
mod hashes;
mod hyperloglog;
mod keys;
mod lazyfree;
mod list_compression;
mod lists;
mod migrate;
mod notifications;
mod persistence;
mod protocol;
mod pubsub;
mod redis_cli;
mod replication;
mod replication_master;
mod robustness;
mod scripting;
mod security;
mod sentinel;
mod server;
mod sets;
mod sharded_pubsub;
mod sort;
mod stream_groups;
mod stream_persistence;
mod streams;
mod strings;
mod transactions;
mod unixsocket;
mod zsets;
