//! Interactive mode: the prompt, line editing, persistent history, completion and hints from
//! COMMAND DOCS, the client-side commands (HELP, CONNECT, CLEAR, QUIT) and reconnecting after
//! the server went away.

use std::borrow::Cow;
use std::io::{self, BufRead, IsTerminal};
use std::path::PathBuf;

use rustyline::completion::Completer;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::DefaultHistory;
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use crate::conn::Endpoint;
use crate::docs::{self, CommandDoc};
use crate::session::Session;
use crate::split::split_args;

/// Completion and hints for the line editor, from the connected server's docs.
struct Assist {
    docs: Vec<CommandDoc>,
}

impl Completer for Assist {
    type Candidate = String;

    /// Whole-line completion of command names (and of `HELP` topics), in the case the user
    /// started typing, as redis-cli does.
    fn complete(
        &self,
        line: &str,
        pos: usize,
        _: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<String>)> {
        let typed = &line[..pos];
        let (lead, word) = match typed.get(..5) {
            Some(h) if h.eq_ignore_ascii_case("help ") => (&typed[..5], &typed[5..]),
            _ => ("", typed),
        };
        let lower = word.starts_with(|c: char| c.is_ascii_lowercase());
        let mut topics: Vec<String> = self.docs.iter().map(|d| d.name.clone()).collect();
        if !lead.is_empty() {
            let mut groups: Vec<String> =
                self.docs.iter().map(|d| format!("@{}", d.group)).collect();
            groups.sort();
            groups.dedup();
            topics.extend(groups);
        }
        let found = topics
            .into_iter()
            .filter(|t| t.len() >= word.len() && t[..word.len()].eq_ignore_ascii_case(word))
            .map(|t| {
                let t = if lower { t.to_ascii_lowercase() } else { t };
                format!("{lead}{t}")
            })
            .collect();
        Ok((0, found))
    }
}

impl Hinter for Assist {
    type Hint = String;

    fn hint(&self, line: &str, pos: usize, _: &Context<'_>) -> Option<String> {
        (pos == line.len())
            .then(|| docs::hint(&self.docs, line))
            .flatten()
    }
}

impl Highlighter for Assist {
    /// Hints in dark grey, as redis-cli shows them.
    fn highlight_hint<'h>(&self, hint: &'h str) -> Cow<'h, str> {
        Cow::Owned(format!("\x1b[90m{hint}\x1b[0m"))
    }
}

impl Validator for Assist {}
impl Helper for Assist {}

/// `REDISCLI_HISTFILE`, or `~/.redislite_history`; `None` when history is off (`/dev/null`).
fn history_path() -> Option<PathBuf> {
    let path = match std::env::var_os("REDISCLI_HISTFILE") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(std::env::var_os("HOME")?).join(".redislite_history"),
    };
    (path != std::path::Path::new("/dev/null")).then_some(path)
}

/// What a line asks the loop to do next.
enum Next {
    Continue,
    Quit,
    ClearScreen,
}

/// Runs one line. `docs` is refreshed whenever a connection is (re)made.
fn execute(session: &mut Session, line: &[u8], docs: &mut Vec<CommandDoc>) -> Next {
    let Some(mut argv) = split_args(line) else {
        println!("Invalid argument(s)");
        return Next::Continue;
    };
    if argv.is_empty() {
        return Next::Continue;
    }
    let word = |a: &Vec<u8>| String::from_utf8_lossy(a).to_ascii_lowercase();
    let first = word(&argv[0]);
    match first.as_str() {
        "quit" | "exit" => return Next::Quit,
        "clear" if argv.len() == 1 => return Next::ClearScreen,
        "help" | "?" => {
            let topic: Vec<String> = argv[1..]
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            if topic.is_empty() {
                print!("{}", docs::banner());
            } else {
                print!("{}", docs::help(docs, &topic));
            }
            return Next::Continue;
        }
        "connect" if argv.len() == 2 || argv.len() == 3 => {
            let host = String::from_utf8_lossy(&argv[1]).into_owned();
            let port = argv
                .get(2)
                .map_or(Some(6379), |p| String::from_utf8_lossy(p).parse().ok());
            let Some(port) = port else {
                println!("Invalid port");
                return Next::Continue;
            };
            session.endpoint = Endpoint::Tcp(host, port);
            reconnect(session, docs);
            return Next::Continue;
        }
        _ => {}
    }
    // A leading count repeats the command: `3 INCR counter`.
    let mut repeat = session.opts.repeat;
    if argv.len() > 1 {
        if let Ok(n) = String::from_utf8_lossy(&argv[0]).parse::<i64>() {
            if n > 0 {
                repeat = n;
                argv.remove(0);
            }
        }
    }
    if session.conn.is_none() && !reconnect(session, docs) {
        return Next::Continue;
    }
    if session.run(&argv, repeat).is_err() {
        // The server went away (a restart, say): reconnect once and send the command again.
        if reconnect(session, docs) {
            if let Err(e) = session.run(&argv, repeat) {
                println!("Error: {}", crate::conn::plain_error(&e));
                session.conn = None;
            }
        }
    }
    Next::Continue
}

/// Connects again, printing redis-cli's message on failure.
fn reconnect(session: &mut Session, docs: &mut Vec<CommandDoc>) -> bool {
    match session.connect() {
        Ok(()) => {
            if docs.is_empty() {
                if let Some(conn) = session.conn.as_mut() {
                    *docs = docs::load(conn);
                }
            }
            true
        }
        Err(e) => {
            println!("{e}");
            false
        }
    }
}

pub fn run(mut session: Session) -> i32 {
    let mut docs = Vec::new();
    reconnect(&mut session, &mut docs);
    if !io::stdin().is_terminal() {
        // Lines piped in: no prompt, no editing, exactly as redis-cli reads them.
        for line in io::stdin().lock().split(b'\n') {
            let Ok(mut line) = line else { break };
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            if let Next::Quit = execute(&mut session, &line, &mut docs) {
                break;
            }
        }
        return 0;
    }
    let config = Config::builder()
        .completion_type(CompletionType::Circular)
        .auto_add_history(false)
        .build();
    let mut editor: Editor<Assist, DefaultHistory> = match Editor::with_config(config) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("Cannot start the line editor: {e}");
            return 1;
        }
    };
    editor.set_helper(Some(Assist { docs: docs.clone() }));
    let history = history_path();
    if let Some(path) = &history {
        // A missing file is the normal first run.
        let _ = editor.load_history(path);
    }
    loop {
        if let Some(helper) = editor.helper_mut() {
            if helper.docs.len() != docs.len() {
                helper.docs = docs.clone();
            }
        }
        let line = match editor.readline(&session.prompt()) {
            Ok(line) => line,
            // Ctrl-C and Ctrl-D leave, as in redis-cli.
            Err(_) => break,
        };
        if !line.trim().is_empty() {
            let _ = editor.add_history_entry(line.as_str());
            if let Some(path) = &history {
                if let Err(e) = editor.save_history(path) {
                    eprintln!("Cannot save history to {}: {e}", path.display());
                }
            }
        }
        match execute(&mut session, line.as_bytes(), &mut docs) {
            Next::Quit => break,
            Next::ClearScreen => {
                let _ = editor.clear_screen();
            }
            Next::Continue => {}
        }
    }
    0
}
