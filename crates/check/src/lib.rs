//! `redis-lite-check`: the data-file tool. It verifies RDB files and AOFs, repairs a truncated
//! AOF, and converts a dataset to and from JSON Lines.
//!
//! Layout:
//! - [`rdb`]: `rdb`, the structure/checksum check and its summary.
//! - [`aof`]: `aof`, the check of an AOF file or directory, and `--fix`.
//! - [`json`]: the JSON Lines record format (one key per line), both directions.
//! - [`seal`]: `encrypt`, `decrypt` and `verify` of sealed files (encryption at rest); the
//!   other subcommands read sealed files too, given the key (`--key-file` or the environment).
//! - [`export`] / [`import`]: `export --json` (RDB → JSON) and `import --json` (JSON → RDB);
//!   [`restore`]: `import --json --host/--port` (JSON → a running server, via RESTORE).
//!
//! The file formats themselves live in `redis-lite-persist`; this crate only drives them and
//! reports. Every failure is a message naming the file and the byte offset or line, and a
//! non-zero exit status.

mod aof;
mod export;
mod import;
mod json;
mod rdb;
mod restore;
mod seal;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};
use redis_lite_persist::seal::ENV_VAR;
use redis_lite_persist::Keyring;

#[derive(Parser)]
#[command(
    name = "redis-lite-check",
    version,
    about = "Verify, repair, export and import redis-lite / Redis 7 data files (RDB and AOF)."
)]
struct Cli {
    /// The encryption key (or keyring) file for sealed files; without it, the key is read
    /// from REDIS_LITE_ENCRYPTION_KEY when that is set.
    #[arg(long, global = true)]
    key_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify an RDB file's structure and checksum and print a summary.
    ///
    /// Prints the RDB version, aux fields, key counts per database and type, keys with an
    /// expiry, the checksum status and the size. Exits with status 1 and the byte offset of
    /// the problem when the file is corrupt or truncated.
    Rdb {
        /// The RDB file (e.g. dump.rdb).
        file: PathBuf,
    },
    /// Check an AOF file, or a Redis 7 AOF directory, and optionally fix a truncated tail.
    ///
    /// For a directory, the manifest is parsed and its base and incremental files are read
    /// in load order. Each file's commands, size and valid length are printed; a truncated or
    /// corrupt file is reported with its byte offset and exit status 1. With --fix, the last
    /// file is truncated to its last valid command (a MULTI without its EXEC counts as
    /// incomplete) after a y/N confirmation on standard input.
    Aof {
        /// An AOF file, or a directory holding an AOF manifest and its files (or the manifest).
        path: PathBuf,
        /// Truncate the damaged last file to its last valid command.
        #[arg(long)]
        fix: bool,
        /// With --fix: do not ask for confirmation (for scripts).
        #[arg(long, requires = "fix")]
        yes: bool,
    },
    /// Write a dataset as JSON Lines: one object per key.
    ///
    /// Each line is {"db":N,"key":K,"type":"string|list|hash|set|zset","value":V,
    /// "expire_at_ms":MS|null}. Binary-safe: a string is a JSON string when it is valid UTF-8
    /// and {"base64":"..."} otherwise. A string value is one such string; a list or set an
    /// array of them; a hash an array of [field, value] pairs; a zset an array of
    /// [member, score] pairs, the score a JSON number or "inf" / "-inf" / "nan". An RDB is
    /// read key by key, so the file never has to fit in memory. An AOF directory (or its
    /// manifest) is replayed by the server's own loader, in memory, then written out; an AOF
    /// of a server with `rename-command` lines needs its config file (--config), since its
    /// commands were logged under their new names.
    Export {
        /// Write JSON Lines (the only format, required so scripts stay explicit).
        #[arg(long, required = true)]
        json: bool,
        /// The RDB file, or AOF directory (or its manifest), to export.
        input: PathBuf,
        /// Where to write the JSON (default: standard output).
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Seal the output (encryption at rest) with the key's current id; needs -o.
        #[arg(long, requires = "output")]
        seal: bool,
        /// The config file of the server that wrote the AOF: its `rename-command` lines (and
        /// `databases`) apply to the replay.
        #[arg(long, value_name = "redis.conf")]
        config: Option<PathBuf>,
    },
    /// Seal a plaintext RDB or AOF file with the current key of --key-file (or the
    /// environment).
    ///
    /// An RDB file or AOF base becomes a sealed stream; an AOF incremental file
    /// (*.incr.aof) a sealed log, in batches that never split a MULTI/EXEC block, as the
    /// server writes it. The output is written atomically.
    Encrypt {
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Turn a sealed RDB or AOF file back into plaintext (a decrypted RDB loads in Redis).
    Decrypt {
        input: PathBuf,
        #[arg(short, long)]
        output: PathBuf,
    },
    /// Authenticate every header and segment of a sealed file.
    ///
    /// Prints the key id(s), the number of segments (or log batches), the plaintext size and
    /// how a log ends; exits with status 1 and the byte offset of the first failure.
    Verify { file: PathBuf },
    /// Load a JSON Lines export back: write it as an RDB file, or send it to a server.
    ///
    /// The input is what `export --json` writes. With -o, values get the encodings the
    /// server would give them, so the RDB loads in redis-lite and in real Redis 7; the file
    /// is replaced atomically, and nothing is written if any line is invalid. With --host /
    /// --port, each key is sent as RESTORE (ABSTTL for expiries) to a running redis-lite or
    /// Redis; this is not atomic, and stops at the first line the server refuses.
    Import {
        /// Read JSON Lines (the only format, required so scripts stay explicit).
        #[arg(long, required = true)]
        json: bool,
        /// The JSON Lines file to import.
        input: PathBuf,
        /// The RDB file to write.
        #[arg(short, long, required_unless_present = "host", conflicts_with = "host")]
        output: Option<PathBuf>,
        /// Send the keys to the server on this host instead of writing a file.
        #[arg(long)]
        host: Option<String>,
        /// The server's port (with --host).
        #[arg(long, default_value_t = 6379, requires = "host")]
        port: u16,
        /// The password to AUTH with (with --host).
        #[arg(long, requires = "host")]
        password: Option<String>,
        /// Overwrite keys that already exist (RESTORE ... REPLACE) instead of failing.
        #[arg(long, requires = "host")]
        replace: bool,
    },
}

/// The program: `redis-lite-check`, or the multi-call `redis-lite` binary called by that name.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = keyring(cli.key_file.as_deref()).and_then(|ring| run(cli.command, ring));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("redis-lite-check: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The keyring from `--key-file`, else from the environment, else none.
fn keyring(key_file: Option<&std::path::Path>) -> Result<Option<Arc<Keyring>>, String> {
    match key_file {
        Some(path) => Keyring::from_file(path).map(Some),
        None => Keyring::from_env(),
    }
    .map(|ring| ring.map(Arc::new))
    .map_err(|e| e.to_string())
}

fn run(command: Command, ring: Option<Arc<Keyring>>) -> Result<(), String> {
    let need = || {
        ring.as_deref()
            .ok_or_else(|| format!("this needs the key: --key-file <path> or {ENV_VAR}"))
    };
    match command {
        Command::Rdb { file } => rdb::check(&file, ring.as_deref()),
        Command::Aof { path, fix, yes } => {
            aof::check(&path, &aof::FixOptions { fix, yes }, ring.as_deref())
        }
        Command::Export {
            input,
            output,
            seal,
            config,
            ..
        } => {
            let seal = if seal { Some(need()?) } else { None };
            let replay = export::Replay {
                keyring: ring.as_ref(),
                server_config: config.as_deref(),
            };
            export::run(&input, output.as_deref(), &replay, seal)
        }
        Command::Encrypt { input, output } => seal::encrypt(&input, &output, need()?),
        Command::Decrypt { input, output } => seal::decrypt(&input, &output, need()?),
        Command::Verify { file } => seal::verify(&file, need()?),
        Command::Import {
            input,
            output,
            host,
            port,
            password,
            replace,
            ..
        } => match (output, host) {
            (Some(output), _) => import::run(&input, &output),
            (None, Some(host)) => restore::run(
                &input,
                &restore::Server {
                    host,
                    port,
                    password,
                    replace,
                },
            ),
            (None, None) => Err("import needs -o <file> or --host".into()),
        },
    }
}

/// A buffered reader over `path`, or a message naming it.
fn open(path: &std::path::Path) -> Result<std::io::BufReader<std::fs::File>, String> {
    std::fs::File::open(path)
        .map(|f| std::io::BufReader::with_capacity(1 << 16, f))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }
}
