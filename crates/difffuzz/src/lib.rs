//! The differential command fuzzer: random but plausible commands for every data-type and
//! keyspace command, generated from real Redis's own `COMMAND DOCS`, sent to real Redis and to
//! redis-lite over separate connections; every reply compared (exactly, or under a documented
//! intended difference) and `DEBUG DIGEST` compared every few commands. A divergence is
//! minimised by delta debugging to a short reproduction. Seeds make runs reproducible.
//!
//! Layout:
//! - [`docs`]: the command models read from `COMMAND DOCS` and `COMMAND INFO`.
//! - [`policy`]: which commands are fuzzed and which not (with reasons), and how each reply is
//!   compared: the list of intended differences.
//! - [`generate`]: random commands from the models (keys, edge values, odd option lists).
//! - [`frame`]: replies as frame trees, for the comparisons that sort or keep only a shape.
//! - [`session`]: a run over seeds and protocols, pipelined, with digests, episodes and
//!   replays; [`minimise`](mod@minimise): delta debugging and redis-cli reproductions.
//!
//! The binary (`src/main.rs`) runs it from the command line; the server's integration tests
//! run it bounded in CI.

pub mod docs;
pub mod frame;
pub mod generate;
pub mod minimise;
pub mod policy;
pub mod session;

pub use session::{run, Options, Report};
