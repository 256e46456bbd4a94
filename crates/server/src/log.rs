//! Logging in Redis's format (`pid:M 21 Nov 2026 12:00:00.000 * message`), filtered by
//! `loglevel` and written to `logfile` or, when it is empty, standard output.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU8, Ordering};

use parking_lot::Mutex;

use crate::config::LogLevel;

static LEVEL: AtomicU8 = AtomicU8::new(LogLevel::Notice as u8);
/// The log file's path; none: standard output. Held while a line is written, so lines from
/// several threads do not interleave.
static FILE: Mutex<Option<String>> = Mutex::new(None);

/// Checks that the log file opens (empty: standard output). Each line opens it again, as
/// Redis does: a log rotated by renaming the file goes on in a new one, and a relative path
/// is taken from the working directory `dir` makes.
pub fn init(level: LogLevel, logfile: &str) -> std::io::Result<()> {
    set_level(level);
    if !logfile.is_empty() {
        open_for_append(logfile)?;
        *FILE.lock() = Some(logfile.to_string());
    }
    Ok(())
}

fn open_for_append(path: &str) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
}

/// Whether this server is a replica: its log lines say `S` where a master's say `M`, as Redis's.
static REPLICA: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether lines also go to the system logger (`syslog-enabled`).
static SYSLOG: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sends every later line to the system logger too, under `ident` (with the pid) and
/// `facility` (`user`, `local0`...`local7`), as Redis does with `syslog-enabled yes`.
pub fn open_syslog(ident: &str, facility: &str) {
    let facility = match facility {
        "user" => libc::LOG_USER,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        _ => libc::LOG_LOCAL0,
    };
    let ident = std::ffi::CString::new(ident.replace('\0', "")).unwrap_or_default();
    // openlog keeps the pointer: the name lives as long as the process.
    let ident: &'static std::ffi::CStr = Box::leak(ident.into_boxed_c_str());
    // SAFETY: `ident` is a NUL-terminated string that is never freed.
    unsafe {
        libc::openlog(
            ident.as_ptr(),
            libc::LOG_PID | libc::LOG_NDELAY | libc::LOG_NOWAIT,
            facility,
        );
    }
    SYSLOG.store(true, Ordering::Relaxed);
}

fn to_syslog(level: LogLevel, message: &str) {
    let priority = match level {
        LogLevel::Debug => libc::LOG_DEBUG,
        LogLevel::Verbose => libc::LOG_INFO,
        LogLevel::Notice => libc::LOG_NOTICE,
        LogLevel::Warning => libc::LOG_WARNING,
    };
    let Ok(text) = std::ffi::CString::new(message.replace('\0', "")) else {
        return;
    };
    // SAFETY: a constant format taking one NUL-terminated string, which outlives the call.
    unsafe {
        libc::syslog(priority, c"%s".as_ptr(), text.as_ptr());
    }
}

pub fn set_replica(replica: bool) {
    REPLICA.store(replica, Ordering::Relaxed);
}

pub fn set_level(level: LogLevel) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn enabled(level: LogLevel) -> bool {
    level as u8 >= LEVEL.load(Ordering::Relaxed)
}

pub fn write(level: LogLevel, message: fmt::Arguments<'_>) {
    if !enabled(level) {
        return;
    }
    let symbol = match level {
        LogLevel::Debug => '.',
        LogLevel::Verbose => '-',
        LogLevel::Notice => '*',
        LogLevel::Warning => '#',
    };
    let role = if REPLICA.load(Ordering::Relaxed) {
        'S'
    } else {
        'M'
    };
    let line = format_line(role, symbol, message);
    if SYSLOG.load(Ordering::Relaxed) {
        to_syslog(level, &message.to_string());
    }
    let file = FILE.lock();
    // A failed log write has nowhere better to be reported; the server keeps serving.
    let _ = match file.as_deref() {
        Some(path) => open_for_append(path).and_then(|mut f| f.write_all(line.as_bytes())),
        None => std::io::stdout().lock().write_all(line.as_bytes()),
    };
}

/// A line from a signal handler, as Redis writes one: `pid:signal-handler (unix time) message`,
/// whatever the log level. The interrupted thread may hold the log's lock: the line then goes
/// to standard error rather than wait for it forever.
pub fn from_signal_handler(message: &str) {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let line = format!("{}:signal-handler ({secs}) {message}\n", std::process::id());
    let written = match FILE.try_lock().as_deref() {
        Some(Some(path)) => open_for_append(path).and_then(|mut f| f.write_all(line.as_bytes())),
        Some(None) => std::io::Write::write_all(&mut RawFd(libc::STDOUT_FILENO), line.as_bytes()),
        None => std::io::Write::write_all(&mut RawFd(libc::STDERR_FILENO), line.as_bytes()),
    };
    // Nowhere better to report a failed write from a signal handler.
    drop(written);
}

/// A standard stream written with plain `write` calls: its `std::io` handle's lock may be held
/// by the thread a signal handler interrupted.
struct RawFd(libc::c_int);

impl Write for RawFd {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe { libc::write(self.0, buf.as_ptr().cast(), buf.len()) };
        match n {
            -1 => Err(std::io::Error::last_os_error()),
            n => Ok(n as usize),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn format_line(role: char, symbol: char, message: impl fmt::Display) -> String {
    format!(
        "{}:{role} {} {symbol} {message}\n",
        std::process::id(),
        timestamp()
    )
}

/// A warning from before the configuration is read (the config file cannot be), on standard
/// output with the `C` role, as Redis logs it then.
pub fn before_start(message: &str) {
    let _ = std::io::stdout()
        .lock()
        .write_all(format_line('C', '#', message).as_bytes());
}

/// Local time as `21 Nov 2026 12:00:00.000`.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs() as libc::time_t;
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let mut buf = [0u8; 64];
    // SAFETY: localtime_r fills `tm`; strftime writes at most `buf.len()` bytes into `buf`.
    let n = unsafe {
        libc::localtime_r(&secs, &mut tm);
        libc::strftime(
            buf.as_mut_ptr().cast(),
            buf.len(),
            c"%d %b %Y %H:%M:%S".as_ptr(),
            &tm,
        )
    };
    format!(
        "{}.{:03}",
        String::from_utf8_lossy(&buf[..n]),
        now.subsec_millis()
    )
}

/// `log!(Notice, "format", args...)`.
#[macro_export]
macro_rules! log {
    ($level:ident, $($arg:tt)*) => {
        $crate::log::write($crate::config::LogLevel::$level, format_args!($($arg)*))
    };
}

/// The start-up banner: a small picture with the version, mode, port and pid when the log is
/// an interactive terminal (or `always-show-logo yes`), else one line, as Redis chooses.
pub fn banner(always: bool, port: u16, mode: &str) {
    use std::io::IsTerminal;
    let interactive = FILE.lock().is_none() && std::io::stdout().is_terminal();
    let version = crate::server::LITE_VERSION;
    let pid = std::process::id();
    if !(always || interactive) {
        write(
            LogLevel::Notice,
            format_args!("Running mode={mode}, port={port}."),
        );
        return;
    }
    let art = format!(
        "\n     _._\n   /  _  \\     redis-lite {version} (Redis {} compatible)\n  |  (_)  |    Running in {mode} mode, {} build\n   \\_____/     Port: {port}\n                PID: {pid}\n",
        crate::server::REDIS_VERSION,
        crate::build_info::PROFILE,
    );
    write(LogLevel::Notice, format_args!("{art}"));
}
