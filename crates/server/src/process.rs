//! The process's relations with the system, as Redis has them: detaching (`daemonize`), the
//! pid file, telling a service manager it is ready (`supervised`), the kernel's OOM score
//! (`oom-score-adj`), and the crash log a panic or a fatal signal leaves (`crash-log-enabled`).

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering::Relaxed};
use std::sync::OnceLock;

use crate::config::sections::{OomScoreAdj, Supervised};
use crate::config::Config;
use crate::log;

/// The pid file Redis writes when daemonized without one configured.
const DEFAULT_PIDFILE: &str = "/var/run/redis.pid";

/// What `supervised` comes to in this environment: systemd or upstart only when their
/// variable says the server runs under them, as Redis decides.
pub fn supervision(mode: Supervised) -> Supervised {
    let systemd = std::env::var_os("NOTIFY_SOCKET").is_some();
    let upstart = std::env::var_os("UPSTART_JOB").is_some();
    match mode {
        Supervised::Auto if upstart => Supervised::Upstart,
        Supervised::Auto if systemd => Supervised::Systemd,
        Supervised::Upstart if upstart => Supervised::Upstart,
        Supervised::Systemd if systemd => Supervised::Systemd,
        _ => Supervised::No,
    }
}

/// The supervision in force, decided once by [`prepare`].
static SUPERVISED: OnceLock<Supervised> = OnceLock::new();

/// Before any thread starts: detaches when `daemonize yes` and no service manager supervises
/// (a supervised server stays in the foreground, as Redis does), and names the default pid
/// file a daemon uses.
pub fn prepare(config: &mut Config) {
    let supervised = supervision(config.process.supervised);
    let _ = SUPERVISED.set(supervised);
    if config.process.daemonize && supervised == Supervised::No {
        daemonize();
        if config.process.pidfile.is_empty() {
            config.process.pidfile = DEFAULT_PIDFILE.into();
        }
    }
}

/// Forks; the parent exits at once, the child leaves the terminal's session and points its
/// standard streams at /dev/null (a log on standard output is then lost, as in Redis).
fn daemonize() {
    // SAFETY: called from `main` before any thread is spawned, so the child is a full copy of
    // a single-threaded process; the parent only exits.
    unsafe {
        match libc::fork() {
            -1 => {
                eprintln!(
                    "Can't daemonize: fork failed: {}",
                    std::io::Error::last_os_error()
                );
                std::process::exit(1);
            }
            0 => {}
            _ => libc::_exit(0),
        }
        libc::setsid();
        let null = libc::open(c"/dev/null".as_ptr(), libc::O_RDWR);
        if null >= 0 {
            for fd in 0..=2 {
                libc::dup2(null, fd);
            }
            if null > 2 {
                libc::close(null);
            }
        }
    }
}

/// Writes the pid file, if there is one; failing is only logged, as in Redis.
pub fn write_pidfile(path: &str) {
    if path.is_empty() {
        return;
    }
    if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
        log!(Warning, "Failed to write PID file: {e}");
    }
}

/// Removes the pid file and the unix socket's file at exit, as Redis's shutdown does (a
/// socket file left behind would look like a server still there).
pub fn remove_files_at_exit(pidfile: &str, unixsocket: &str) {
    if !pidfile.is_empty() {
        log!(Notice, "Removing the pid file.");
        let _ = std::fs::remove_file(pidfile);
    }
    if !unixsocket.is_empty() {
        log!(Notice, "Removing the unix socket file.");
        let _ = std::fs::remove_file(unixsocket);
    }
}

/// Tells the service manager about the server's state: the systemd notification datagrams
/// (`READY=1`, `STATUS=...`, `STOPPING=1`) on `NOTIFY_SOCKET`; under upstart, ready is
/// signalled by stopping the process until upstart continues it.
pub fn notify(message: &str) {
    match SUPERVISED.get().copied().unwrap_or_default() {
        Supervised::Systemd => {
            if let Err(e) = notify_systemd(message) {
                log!(Warning, "Can't notify systemd ({message:?}): {e}");
            }
        }
        Supervised::Upstart if message.starts_with("READY=1") => {
            std::env::remove_var("UPSTART_JOB");
            // SAFETY: raising a signal at our own process has no memory effects.
            unsafe {
                libc::raise(libc::SIGSTOP);
            }
        }
        _ => {}
    }
}

fn notify_systemd(message: &str) -> std::io::Result<()> {
    use std::os::unix::net::{SocketAddr, UnixDatagram};
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return Ok(());
    };
    let path = path.to_string_lossy().into_owned();
    let socket = UnixDatagram::unbound()?;
    // `@name` is a socket in Linux's abstract namespace.
    let address = match path.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        Some(name) => {
            use std::os::linux::net::SocketAddrExt;
            SocketAddr::from_abstract_name(name.as_bytes())?
        }
        _ => SocketAddr::from_pathname(&path)?,
    };
    socket.send_to_addr(message.as_bytes(), &address)?;
    Ok(())
}

/// The `oom_score_adj` the process had when the server took control of it, the base of
/// `relative` values and what `oom-score-adj no` puts back.
static OOM_BASE: AtomicI64 = AtomicI64::new(0);
/// Whether the server controls its score (`oom-score-adj` is not `no`, and it has set it).
static OOM_SET: AtomicBool = AtomicBool::new(false);

const OOM_SCORE_PATH: &str = "/proc/self/oom_score_adj";

/// Applies `oom-score-adj` and `oom-score-adj-values` (the master's value, or the replica's on a
/// replica): at start-up, after CONFIG SET of either, and when the server's role changes. As
/// Redis, the base is read each time the server takes control, so a score set from outside
/// while `oom-score-adj` was `no` is the new base.
pub fn apply_oom_score(config: &Config) {
    let base = match (config.process.oom_score_adj, OOM_SET.load(Relaxed)) {
        (OomScoreAdj::No, false) => return,
        (_, true) => OOM_BASE.load(Relaxed),
        (_, false) => {
            let read = std::fs::read_to_string(OOM_SCORE_PATH)
                .ok()
                .and_then(|s| s.trim().parse().ok());
            let Some(base) = read else { return };
            OOM_BASE.store(base, Relaxed);
            base
        }
    };
    let role = usize::from(config.replicaof.is_some());
    let wanted = match config.process.oom_score_adj {
        OomScoreAdj::No => base,
        OomScoreAdj::Relative => base + config.process.oom_score_adj_values[role],
        OomScoreAdj::Absolute => config.process.oom_score_adj_values[role],
    }
    .clamp(-1000, 1000);
    let written = std::fs::OpenOptions::new()
        .write(true)
        .open(OOM_SCORE_PATH)
        .and_then(|mut f| f.write_all(wanted.to_string().as_bytes()));
    match written {
        Ok(()) => OOM_SET.store(config.process.oom_score_adj != OomScoreAdj::No, Relaxed),
        Err(e) => log!(Warning, "Unable to write oom_score_adj: {e}"),
    }
}

/// Whether a panic writes a crash report to the log (`crash-log-enabled`).
static CRASH_LOG: AtomicBool = AtomicBool::new(true);

/// Applies the process settings CONFIG SET may change: the OOM score, the crash log, the
/// title's template.
pub fn apply(config: &Config, config_file: Option<&std::path::Path>) {
    apply_oom_score(config);
    CRASH_LOG.store(config.process.crash_log_enabled, Relaxed);
    crate::proctitle::apply(None, config, config_file);
}

/// Installs the crash log: with `crash-log-enabled yes` a panic, or a fatal signal (SIGSEGV,
/// SIGBUS, SIGFPE, SIGILL, SIGABRT, as Redis catches them), is reported in the server's log
/// (which a daemon's standard error does not reach) with its backtrace, then handled as before:
/// a signal still ends the process as it would have.
pub fn install_crash_log() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if CRASH_LOG.load(Relaxed) {
            let thread = std::thread::current();
            bug_report(format_args!(
                "Panic in thread {}: {info}",
                thread.name().unwrap_or("unnamed")
            ));
        }
        previous(info);
    }));
    for signal in [
        libc::SIGSEGV,
        libc::SIGBUS,
        libc::SIGFPE,
        libc::SIGILL,
        libc::SIGABRT,
    ] {
        // SAFETY: a plain sigaction with a handler of the right signature; SA_RESETHAND puts
        // the default action back on entry, so the same fault inside the report ends the
        // process instead of looping. It runs on the thread's own stack: the report needs
        // more than an alternate signal stack holds.
        unsafe {
            let mut action: libc::sigaction = std::mem::zeroed();
            action.sa_sigaction = on_fatal_signal as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_RESETHAND;
            libc::sigemptyset(&mut action.sa_mask);
            libc::sigaction(signal, &action, std::ptr::null_mut());
        }
    }
}

/// The bug report: what happened, then the backtrace of the thread it happened on.
fn bug_report(what: std::fmt::Arguments<'_>) {
    log!(
        Warning,
        "=== REDIS-LITE BUG REPORT START: Cut & paste starting from here ===\n\
         {what}\n------ STACK TRACE ------\n{}\n\
         === REDIS-LITE BUG REPORT END. Make sure to include from START to END. ===",
        std::backtrace::Backtrace::force_capture()
    );
}

/// A fatal signal: the report (best effort, as Redis's: it allocates, which a fault inside the
/// allocator could not survive), then the signal again, which now takes its default action
/// (the faulting instruction, run again, raises it anew).
extern "C" fn on_fatal_signal(
    signal: libc::c_int,
    info: *mut libc::siginfo_t,
    _: *mut libc::c_void,
) {
    // Another fatal signal while reporting (a fault inside the report) only ends the process.
    static REPORTING: AtomicBool = AtomicBool::new(false);
    if CRASH_LOG.load(Relaxed) && !REPORTING.swap(true, Relaxed) {
        // SAFETY: the kernel passes a valid siginfo to an SA_SIGINFO handler.
        let code = unsafe { (*info).si_code };
        bug_report(format_args!(
            "redis-lite {} crashed by signal: {signal}, si_code: {code}",
            env!("CARGO_PKG_VERSION")
        ));
    }
    // SAFETY: raise is async-signal-safe; the signal stays blocked until the handler returns.
    unsafe {
        libc::raise(signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LogLevel;

    #[test]
    fn a_panic_leaves_a_bug_report_in_the_log() {
        let path = std::env::temp_dir().join(format!("rl-crash-{}.log", std::process::id()));
        crate::log::init(LogLevel::Notice, path.to_str().unwrap()).unwrap();
        install_crash_log();
        let panic_in_thread = |name: &str, message: &'static str| {
            let thread = std::thread::Builder::new().name(name.into());
            let outcome = thread.spawn(move || panic!("{message}")).unwrap().join();
            assert!(outcome.is_err());
        };
        panic_in_thread("doomed", "broken on purpose");
        let log = std::fs::read_to_string(&path).unwrap();
        assert!(log.contains("BUG REPORT START"), "{log}");
        assert!(log.contains("Panic in thread doomed"), "{log}");
        assert!(log.contains("broken on purpose"), "{log}");
        assert!(log.contains("------ STACK TRACE ------"), "{log}");
        // `crash-log-enabled no` is checked by a server of its own (integration test
        // `configuration::a_fatal_signal_with_the_crash_log_disabled_leaves_no_report`): each
        // `Server` a parallel unit test builds sets the process-wide switch back on.
        let _ = std::fs::remove_file(&path);
    }
}
