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
//! - [`eval`]: `--eval`, a script file run with its keys and arguments.
//! - [`tools`]: `--pipe`, `--scan`, `--bigkeys`, `--memkeys`, `--stat`, `--latency`, `--rdb`,
//!   `--functions-rdb`.

mod args;
mod conn;
mod docs;
mod eval;
mod format;
mod repl;
mod session;
mod split;
mod tools;

use std::io::Read;

use args::{Exit, Mode};
use session::Session;

/// The program: `redis-lite-cli`, or the multi-call `redis-lite` binary called by that name.
pub fn main() {
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
    let code = match mode {
        Mode::OneShot => {
            let command = session.opts.command.clone();
            run_command(&mut session, &command)
        }
        // Like redis-cli, the file is read only once connected.
        Mode::Eval(path) => match eval::read_script(&path) {
            Ok(script) => {
                let command = eval::eval_command(script, &session.opts.command);
                run_command(&mut session, &command)
            }
            Err(message) => {
                eprintln!("{message}");
                1
            }
        },
        tool => run_tool(tool, &mut session),
    };
    std::process::exit(code);
}

/// Runs `command` (with `-r`/`-i` repeats) and prints its replies; the exit status.
fn run_command(session: &mut Session, command: &[Vec<u8>]) -> i32 {
    let repeat = session.opts.repeat;
    match session.run(command, repeat) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("Error: {}", conn::plain_error(&e));
            1
        }
    }
}

/// Runs one of the `tools` modes on the session's connection; the exit status.
fn run_tool(mode: Mode, session: &mut Session) -> i32 {
    let conn = session.conn.take().expect("connected before any tool runs");
    let o = &session.opts;
    match mode {
        Mode::Pipe => tools::pipe(conn, o),
        Mode::Scan => tools::scan(conn, o),
        Mode::BigKeys => tools::big_keys(conn, o, false),
        Mode::MemKeys => tools::big_keys(conn, o, true),
        Mode::Stat => tools::stat(conn, o),
        Mode::Latency => tools::latency(conn, o),
        Mode::Rdb(path) => tools::rdb(conn, &path, false),
        Mode::FunctionsRdb(path) => tools::rdb(conn, &path, true),
        Mode::Interactive | Mode::OneShot | Mode::Eval(_) => {
            unreachable!("{mode:?} is not a tool")
        }
    }
}
