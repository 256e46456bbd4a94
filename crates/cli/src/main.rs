//! redis-lite-cli: a command-line client for redis-lite (or any Redis server) that behaves like
//! redis-cli.
//!
//! Layout:
//! - [`args`]: redis-cli's option syntax, hand-parsed.
//! - [`conn`]: a blocking TCP/unix-socket connection and the AUTH/SELECT/HELLO set-up.
//! - [`format`]: replies printed byte for byte as redis-cli prints them (standard and raw).
//! - [`session`]: running commands (repeats, SUBSCRIBE/MONITOR streams) and prompt state.
//! - [`repl`], [`split`], [`docs`]: interactive mode, its line splitting, and COMMAND DOCS
//!   driven hints, completion and HELP.
//! - [`tools`]: `--pipe`, `--scan`, `--bigkeys`, `--memkeys`, `--stat`, `--latency`, `--rdb`.

mod args;
mod conn;
mod docs;
mod format;
mod repl;
mod session;
mod split;
mod tools;

use std::io::Read;

use args::{Exit, Mode};
use session::Session;

fn main() {
    // Writing to a closed pipe (`| head`) should end the process quietly, as in C programs.
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = match args::parse(&argv) {
        Ok(o) => o,
        Err(Exit::Print(text)) => {
            println!("{text}");
            return;
        }
        Err(Exit::Usage(text)) => {
            eprintln!("{text}");
            std::process::exit(1);
        }
    };
    if opts.pass.is_some() && !opts.no_auth_warning {
        eprintln!(
            "Warning: Using a password with '-a' or '-u' option on the command line interface may not be safe."
        );
    }
    if opts.stdin_last && opts.mode == Mode::OneShot {
        let mut last = Vec::new();
        if let Err(e) = std::io::stdin().read_to_end(&mut last) {
            eprintln!("Reading from standard input: {e}");
            std::process::exit(1);
        }
        opts.command.push(last);
    }
    let mode = opts.mode.clone();
    let mut session = Session::new(opts);
    if mode == Mode::Interactive {
        std::process::exit(repl::run(session));
    }
    if let Err(e) = session.connect() {
        eprintln!("{e}");
        std::process::exit(1);
    }
    let conn = session.conn.take().expect("connected above");
    let o = &session.opts;
    let code = match mode {
        Mode::OneShot => {
            session.conn = Some(conn);
            let command = session.opts.command.clone();
            let repeat = session.opts.repeat;
            match session.run(&command, repeat) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("Error: {}", conn::plain_error(&e));
                    1
                }
            }
        }
        Mode::Pipe => tools::pipe(conn, o),
        Mode::Scan => tools::scan(conn, o),
        Mode::BigKeys => tools::big_keys(conn, o, false),
        Mode::MemKeys => tools::big_keys(conn, o, true),
        Mode::Stat => tools::stat(conn, o),
        Mode::Latency => tools::latency(conn, o),
        Mode::Rdb(path) => tools::rdb(conn, &path),
        Mode::Interactive => unreachable!("handled before connecting"),
    };
    std::process::exit(code);
}
