//! The process title: `ps` and `/proc/PID/cmdline` show `<argv[0]> <listen-addr>` instead of
//! the command line, as Redis does with its `proc-title-template` default
//! (`{title} {listen-addr} {server-mode}`), so a password given as `--requirepass` is not
//! readable by every user on the host.
//!
//! On Linux the command line lives in the process's own memory, between the `arg_start` and
//! `arg_end` addresses of `/proc/self/stat`: overwriting it there is what changes what the kernel
//! reports. Rust's `std::env::args` reads that same memory, so it must not be called after
//! [`set`]: `main` copies the arguments before.

use crate::config::Config;

/// The title Redis shows for a standalone server: `argv[0]` and the first listening address
/// (the first `bind` entry and the port, or the unix socket when there is no TCP port).
pub fn title(argv0: &str, config: &Config) -> String {
    let listen = if config.port != 0 {
        let addr = config.bind.first().map_or("*", String::as_str);
        format!("{addr}:{}", config.port)
    } else {
        config.unixsocket.clone()
    };
    format!("{argv0} {listen}").trim().to_string()
}

/// Replaces the process's command line with `title`, cut to the length of the original, the
/// rest filled with NULs. Does nothing where the argument area cannot be found.
#[cfg(target_os = "linux")]
pub fn set(title: &str) {
    let Some((start, end)) = arg_area() else {
        return;
    };
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
    // calls `std::env::args` afterwards (see the module docs). The write stays inside it.
    unsafe {
        std::ptr::copy_nonoverlapping(bytes.as_ptr(), start as *mut u8, len);
    }
}

#[cfg(not(target_os = "linux"))]
pub fn set(_title: &str) {}

/// `arg_start` and `arg_end` from `/proc/self/stat` (fields 48 and 49, counted after the
/// parenthesised command name, which may itself hold spaces).
#[cfg(target_os = "linux")]
fn arg_area() -> Option<(usize, usize)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (the state).
    let start = fields.get(48 - 3)?.parse().ok()?;
    let end = fields.get(49 - 3)?.parse().ok()?;
    Some((start, end))
}
