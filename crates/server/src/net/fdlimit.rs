//! The open-file limit: enough descriptors for `maxclients`, or fewer clients.
//!
//! Each client holds a descriptor, and the server needs some of its own (listeners, the log,
//! the AOF, each event loop's poller). Past the limit `accept` fails and connections wait
//! unanswered in the backlog, so, as Redis does, the server raises `RLIMIT_NOFILE` to
//! `maxclients + RESERVED_FDS` when it may, and otherwise lowers `maxclients` to what the
//! limit allows. The log lines are Redis 7.0's, word for word.

use crate::log;

/// Descriptors kept for the server itself (Redis's `CONFIG_MIN_RESERVED_FDS`).
pub const RESERVED_FDS: u64 = 32;

/// The outcome of [`adjust`].
#[derive(Debug, PartialEq, Eq)]
pub enum Adjusted {
    /// The limit allows this many clients: the request, or fewer.
    Clients(u64),
    /// The limit is too low to serve anyone; the message says so.
    TooLow(String),
}

/// Makes room for `maxclients` clients: raises the soft and hard limits to
/// `maxclients + RESERVED_FDS`, or to the highest value the system accepts (tried downwards in
/// steps of 16, as Redis does), and returns how many clients the limit then allows. Logs as
/// Redis does.
pub fn adjust(maxclients: u64) -> Adjusted {
    let wanted = maxclients.saturating_add(RESERVED_FDS);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit only writes the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == -1 {
        log!(
            Warning,
            "Unable to obtain the current NOFILE limit ({}), assuming 1024 and setting the max clients configuration accordingly.",
            os_error_text(std::io::Error::last_os_error())
        );
        return Adjusted::Clients(1024 - RESERVED_FDS);
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is u64 on Linux, not everywhere.
    let old = limit.rlim_cur as u64;
    if old >= wanted {
        return Adjusted::Clients(maxclients);
    }
    const STEP: u64 = 16;
    let mut best = wanted;
    let mut error = None;
    while best > old {
        let attempt = libc::rlimit {
            rlim_cur: best as libc::rlim_t,
            rlim_max: best as libc::rlim_t,
        };
        // SAFETY: setrlimit only reads the struct we pass.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &attempt) } == 0 {
            break;
        }
        error = Some(std::io::Error::last_os_error());
        if best < STEP {
            best = old;
            break;
        }
        best -= STEP;
    }
    let best = best.max(old);
    if best >= wanted {
        log!(
            Notice,
            "Increased maximum number of open files to {wanted} (it was originally set to {old})."
        );
        return Adjusted::Clients(maxclients);
    }
    if best <= RESERVED_FDS {
        let text = format!(
            "Your current 'ulimit -n' of {old} is not enough for the server to start. Please increase your open file limit to at least {wanted}. Exiting."
        );
        log!(Warning, "{text}");
        return Adjusted::TooLow(text);
    }
    let allowed = best - RESERVED_FDS;
    log!(
        Warning,
        "You requested maxclients of {maxclients} requiring at least {wanted} max file descriptors."
    );
    log!(
        Warning,
        "Server can't set maximum open files to {wanted} because of OS error: {}.",
        error.map_or_else(|| "Success".to_string(), os_error_text)
    );
    log!(
        Warning,
        "Current maximum open files is {best}. maxclients has been reduced to {allowed} to compensate for low ulimit. If you need higher maxclients increase 'ulimit -n'."
    );
    Adjusted::Clients(allowed)
}

/// `strerror`'s text: the io::Error display without its " (os error N)" suffix.
fn os_error_text(e: std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}
