//! Persistence wired into the server: the append-only file ([`aof`]): logging writes, fsync
//! policies, loading at start-up and rewriting. The file formats themselves live in the
//! persist crate.

pub mod aof;
