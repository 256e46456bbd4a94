//! Persistence for redis-lite: Redis's RDB file format, version 10, as Redis 7.0 writes it,
//! readable by Redis 7.0 and able to read what Redis 7.0 (and older versions) write; and the
//! append-only file's formats (Redis 7's multi-part manifest and RESP command files); and the
//! sealed-file envelope that encrypts such files at rest.
//!
//! Layout:
//! - [`aof`]: the AOF formats. [`aof::Manifest`] parses and writes `appendonly.aof.manifest`;
//!   [`aof::read_file`] streams one base or incremental file (RDB preamble, then commands),
//!   telling a truncated tail ([`aof::AofError::is_truncated`], with the valid prefix's length)
//!   from corruption (file name and offset); [`aof::encode_command`] writes a record.
//! - [`rdb`]: the file format. [`RdbWriter`] streams a snapshot to any `Write`
//!   ([`save_atomically`] wraps it in SAVE's temp-file-and-rename); [`read_rdb`] streams one
//!   from any `Read`, checking the CRC, and hands each aux field, database selection and key
//!   to a visitor ([`read_all`] collects them). [`dump_value`] / [`restore_value`] are the
//!   DUMP/RESTORE payloads (one value, version and CRC footer).
//! - [`crc64`]: the CRC-64 (Jones) that closes RDB files and DUMP payloads.
//! - [`lzf`]: LZF compression (the engine's, re-exported), used for long strings and list nodes.
//! - [`listpack`], [`intset`]: the compact blobs Redis 7.0 writes small collections as.
//! - [`ziplist`]: the older compact blob, decoded from pre-7.0 files; [`zipmap`]: the hash
//!   blob of Redis 2.x files.
//! - [`seal`]: encryption at rest. [`SealedWriter`]/[`SealedReader`] wrap any stream
//!   (an RDB file runs through them unchanged), [`SealedAppender`]/[`read_log`] an
//!   appendable AOF file; [`Keyring`] holds the master keys.
//!
//! Nothing here touches the keyspace or does I/O beyond the reader/writer it is given: the
//! server decides what to snapshot and where loaded keys go.

pub mod aof;
pub mod crc64;
pub mod intset;
pub use redis_lite_engine::listpack;
pub use redis_lite_engine::lzf;
pub mod rdb;
pub mod seal;
pub mod ziplist;
pub mod zipmap;

pub use rdb::{
    dump_value, read_all, read_rdb, restore_value, save_atomically, set_skip_checksum_validation,
    verify_dump_payload, Event, LoadedKey, RdbError, RdbWriter, ReplicationAux, ReplicationPlace,
    SavedReplication, Summary, WriteOptions,
};
pub use seal::{
    is_sealed, open_stream, peek_header, read_log, seal_error, InFile, Keyring, LogEnd, LogSummary,
    MasterKey, OutFile, SealError, SealedAppender, SealedReader, SealedWriter,
};
