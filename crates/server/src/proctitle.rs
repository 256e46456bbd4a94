//! The process title: `ps` and `/proc/PID/cmdline` show what `proc-title-template` says
//! (by default `{title} {listen-addr} {server-mode}`: `<argv[0]> <listen-addr>`) instead of
//! the command line, as Redis does, so a password given as `--requirepass` is not readable by
//! every user on the host. `set-proc-title no` leaves the command line as it was.
//!
//! On Linux the command line lives in the process's own memory, between the `arg_start` and
//! `arg_end` addresses of `/proc/self/stat`: overwriting it there is what changes what the kernel
//! reports. Rust's `std::env::args` reads that same memory, so it must not be called after
//! [`set`]: `main` copies the arguments before. A title longer than the command line (a server
//! started with few arguments) runs on over the environment strings, which the kernel places
//! right after the arguments and reports as part of the title when the arguments' last byte is
//! not a NUL; those strings are first copied to the heap, as Redis's `setproctitle` does.

use std::sync::OnceLock;

use crate::config::Config;

/// `argv[0]` as the server was started, the template's `{title}`.
static ARGV0: OnceLock<String> = OnceLock::new();

/// Where the memory the title may use ends: the end of the environment strings once they were
/// moved out of the way, or None (the end of the arguments).
static TITLE_END: OnceLock<Option<usize>> = OnceLock::new();

/// The variables `proc-title-template` may use.
const VARIABLES: &[&str] = &[
    "title",
    "listen-addr",
    "server-mode",
    "port",
    "tls-port",
    "unixsocket",
    "config-file",
];

const INVALID: &str = "template format is invalid or contains unknown variables";

/// Expands `template`, each `{variable}` replaced by `value(variable)`; an unknown variable,
/// an unbalanced brace, or a title that is empty once trimmed is Redis's error.
fn expand(template: &str, value: impl Fn(&str) -> String) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    // A `}` outside a variable is an ordinary character, as in Redis.
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let close = after.find('}').ok_or(INVALID)?;
        let name = &after[..close];
        if !VARIABLES.contains(&name) {
            return Err(INVALID.into());
        }
        out.push_str(&value(name));
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    let title = out.trim();
    if title.is_empty() {
        return Err(INVALID.into());
    }
    Ok(title.to_string())
}

/// CONFIG SET's check of a `proc-title-template`.
pub fn validate_template(template: &str) -> Result<(), String> {
    expand(template, |name| name.to_string()).map(|_| ())
}

/// The title `proc-title-template` gives, with Redis's meaning for each variable: `{title}`
/// is `argv[0]`, `{listen-addr}` the first bind address and the port (or the unix socket when
/// there is no TCP port), `{server-mode}` empty for a standalone server.
pub fn title(argv0: &str, config: &Config, config_file: Option<&std::path::Path>) -> String {
    let listen = if config.port != 0 {
        let addr = config.bind.first().map_or("*", String::as_str);
        format!("{addr}:{}", config.port)
    } else {
        config.unixsocket.clone()
    };
    let value = |name: &str| match name {
        "title" => argv0.to_string(),
        "listen-addr" => listen.clone(),
        "port" => config.port.to_string(),
        "tls-port" => config.tls.port.to_string(),
        "unixsocket" => config.unixsocket.clone(),
        "config-file" => config_file.map_or(String::new(), |p| p.display().to_string()),
        _ => String::new(),
    };
    // The template was validated when it was set.
    expand(&config.process.proc_title_template, value).unwrap_or_else(|_| argv0.to_string())
}

/// Sets the title from the configuration, unless `set-proc-title no`: at start-up (`argv0`
/// given) and again when CONFIG SET changes the template.
pub fn apply(argv0: Option<&str>, config: &Config, config_file: Option<&std::path::Path>) {
    if let Some(argv0) = argv0 {
        let _ = ARGV0.set(argv0.to_string());
        if config.process.set_proc_title {
            TITLE_END.get_or_init(make_room);
        }
    }
    // Only a server started by `main` has a title to set (not a test building a `Server`).
    let Some(argv0) = ARGV0.get() else {
        return;
    };
    if config.process.set_proc_title {
        set(&title(argv0, config, config_file));
    }
}

/// Replaces the process's command line with `title`, cut to the room there is (the arguments,
/// and the environment strings after them once [`make_room`] moved them), the rest filled with
/// NULs. Does nothing where the argument area cannot be found.
#[cfg(target_os = "linux")]
pub fn set(title: &str) {
    let Some(area) = areas() else {
        return;
    };
    let start = area.arg_start;
    let end = TITLE_END.get().copied().flatten().unwrap_or(area.arg_end);
    if end <= start {
        return;
    }
    let len = end - start;
    let mut bytes = title.as_bytes().to_vec();
    // One byte at least stays NUL, so the title reads as a C string.
    bytes.truncate(len - 1);
    bytes.resize(len, 0);
    // SAFETY: [arg_start, arg_end) is this process's argument block, which the kernel mapped
    // writable (on the initial stack) and nothing else owns: the C runtime only read it to
    // build argv, `main` has already copied every argument into owned Strings, and nothing
    // calls `std::env::args` afterwards (see the module docs). Past arg_end, up to env_end, are
    // the environment strings [`make_room`] copied away, so no `environ` entry points there.
    // The write stays inside [arg_start, end).
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, len);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn set(_title: &str) {}

/// The argument and environment blocks of this process's initial stack.
#[cfg(target_os = "linux")]
struct Areas {
    arg_start: usize,
    arg_end: usize,
    env_start: usize,
    env_end: usize,
}

/// `arg_start`, `arg_end`, `env_start` and `env_end` from `/proc/self/stat` (fields 48 to 51,
/// counted after the parenthesised command name, which may itself hold spaces).
#[cfg(target_os = "linux")]
fn areas() -> Option<Areas> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (the state).
    let field = |n: usize| fields.get(n - 3)?.parse().ok();
    Some(Areas {
        arg_start: field(48)?,
        arg_end: field(49)?,
        env_start: field(50)?,
        env_end: field(51)?,
    })
}

/// Copies the environment strings that directly follow the arguments to the heap, repointing
/// `environ` at the copies (leaked: the environment lives as long as the process), so the title
/// may use their memory. Returns where that memory ends, or None when the environment is not
/// right after the arguments. Called once, at start-up, before any other thread runs.
#[cfg(target_os = "linux")]
fn make_room() -> Option<usize> {
    extern "C" {
        static mut environ: *mut *mut std::ffi::c_char;
    }
    let area = areas()?;
    if area.env_start != area.arg_end || area.env_end <= area.env_start {
        return None;
    }
    let moved = area.env_start..area.env_end;
    // SAFETY: `environ` is libc's NULL-terminated array of NUL-terminated strings; no other
    // thread exists yet to read or change it (see `entry::main`). Each entry inside the
    // environment block is replaced by a heap copy of the same bytes, which is what `setenv`
    // would store there.
    unsafe {
        let mut entry = std::ptr::addr_of!(environ).read();
        if entry.is_null() {
            return Some(area.env_end);
        }
        while !(*entry).is_null() {
            if moved.contains(&(*entry as usize)) {
                *entry = std::ffi::CStr::from_ptr(*entry).to_owned().into_raw();
            }
            entry = entry.add(1);
        }
    }
    Some(area.env_end)
}

#[cfg(not(target_os = "linux"))]
fn make_room() -> Option<usize> {
    None
}
