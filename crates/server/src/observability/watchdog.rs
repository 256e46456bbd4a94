//! The software watchdog (`watchdog-period`): reports where the server is stuck. Redis arms a
//! SIGALRM timer from its cron, so a main thread that does not get back to its event loop for
//! the period (a slow command, a long load) is interrupted and logs
//! `--- WATCHDOG TIMER EXPIRED ---` with its own stack trace. Here each event loop beats from a
//! task of its own while the watchdog is on, and a load marks its thread busy from its start;
//! a thread of the watchdog's own (started the first time it is on; the cron thread waits at
//! the gates a stuck transaction holds) sends SIGALRM to a thread whose beat is older than the
//! period, once per stretch, and the handler logs the stack of the thread it interrupted. A
//! loop serving a busy script on a fiber keeps beating: it is not stuck, its other clients are
//! served.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Once};
use std::time::Duration;

use parking_lot::Mutex;

/// A watched thread: when it last showed it was not stuck.
struct Watched {
    thread: libc::pthread_t,
    /// Milliseconds (`now_ms`) of the last beat or of the start of the busy stretch; 0 while
    /// the thread is idle by its own account (an event loop with the watchdog off).
    since_ms: AtomicU64,
    /// The current stretch was reported: one report per stretch, as Redis's one-shot timer.
    reported: AtomicBool,
}

impl Watched {
    fn beat(&self, now_ms: u64) {
        self.since_ms.store(now_ms, Relaxed);
        self.reported.store(false, Relaxed);
    }
}

pub struct Watchdog {
    period_ms: tokio::sync::watch::Sender<u64>,
    watched: Mutex<Vec<Arc<Watched>>>,
}

impl Default for Watchdog {
    fn default() -> Self {
        Watchdog {
            period_ms: tokio::sync::watch::Sender::new(0),
            watched: Mutex::new(Vec::new()),
        }
    }
}

/// Marks the calling thread busy until dropped (a load): the watchdog reports it once the
/// period has passed.
pub struct Busy<'a> {
    watchdog: &'a Watchdog,
    watched: Arc<Watched>,
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        self.watchdog
            .watched
            .lock()
            .retain(|w| !Arc::ptr_eq(w, &self.watched));
    }
}

impl Watchdog {
    /// `watchdog-period` in milliseconds, 0 for off. The signal handler and the checking
    /// thread start the first time it is on, as Redis installs its handler then.
    pub fn configure(self: &Arc<Self>, period_ms: u64) {
        self.period_ms.send_replace(period_ms);
        if period_ms > 0 {
            static STARTED: Once = Once::new();
            STARTED.call_once(|| {
                install_handler();
                let watchdog = self.clone();
                let spawned = std::thread::Builder::new()
                    .name("watchdog".into())
                    .spawn(move || watchdog.run());
                if let Err(e) = spawned {
                    crate::log!(Warning, "Can't start the watchdog's thread: {e}");
                }
            });
        }
    }

    /// The checking thread: a few checks per period while on.
    fn run(&self) {
        loop {
            let period_ms = *self.period_ms.borrow();
            if period_ms > 0 {
                self.check(period_ms);
            }
            std::thread::sleep(interval(period_ms));
        }
    }

    fn register(&self, since_ms: u64) -> Arc<Watched> {
        let watched = Arc::new(Watched {
            // SAFETY: pthread_self has no preconditions.
            thread: unsafe { libc::pthread_self() },
            since_ms: AtomicU64::new(since_ms),
            reported: AtomicBool::new(false),
        });
        self.watched.lock().push(watched.clone());
        watched
    }

    /// The calling thread is busy from now until the guard drops.
    pub fn busy(&self) -> Busy<'_> {
        let watched = self.register(redis_lite_engine::now_ms().max(1));
        Busy {
            watchdog: self,
            watched,
        }
    }

    /// An event loop's heartbeat, spawned on the loop's runtime: it beats a few times per
    /// period while the watchdog is on, so a beat older than the period means the loop has
    /// been inside one task (a command) all that time.
    pub async fn heartbeat(&self) {
        let watched = self.register(0);
        let mut period = self.period_ms.subscribe();
        loop {
            let period_ms = *period.borrow_and_update();
            if period_ms == 0 {
                watched.since_ms.store(0, Relaxed);
                if period.changed().await.is_err() {
                    return;
                }
                continue;
            }
            watched.beat(redis_lite_engine::now_ms().max(1));
            tokio::select! {
                _ = tokio::time::sleep(interval(period_ms)) => {}
                _ = period.changed() => {}
            }
        }
    }

    /// Interrupts each thread stuck for longer than the period.
    fn check(&self, period_ms: u64) {
        let now = redis_lite_engine::now_ms();
        for watched in self.watched.lock().iter() {
            let since = watched.since_ms.load(Relaxed);
            let stuck = since != 0 && now.saturating_sub(since) > period_ms;
            if stuck && !watched.reported.swap(true, Relaxed) {
                // SAFETY: the thread is alive: a loop's thread runs as long as the process, and
                // a busy thread unregisters (under this lock) before it ends.
                unsafe {
                    libc::pthread_kill(watched.thread, libc::SIGALRM);
                }
            }
        }
    }
}

/// How often the heartbeats beat and the checking thread looks: four times per period, at most
/// every 100 ms; with the watchdog switched off, the checking thread looks every 100 ms.
fn interval(period_ms: u64) -> Duration {
    Duration::from_millis(match period_ms {
        0 => 100,
        period_ms => (period_ms / 4).clamp(1, 100),
    })
}

fn install_handler() {
    // SAFETY: a plain sigaction with a handler of the right signature. SA_RESTART: the
    // interrupted thread's system calls go on (a replica's read of its master's snapshot must
    // not fail with EINTR), as they do after Redis's watchdog.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        action.sa_sigaction = on_watchdog_signal as *const () as usize;
        action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
        libc::sigemptyset(&mut action.sa_mask);
        libc::sigaction(libc::SIGALRM, &action, std::ptr::null_mut());
    }
}

/// Runs on the stuck thread: Redis's report, with this thread's stack. Best effort, as Redis's
/// (capturing the stack allocates); the log is written without its lock when another thread
/// holds it (see `log::from_signal_handler`).
extern "C" fn on_watchdog_signal(
    _signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    _: *mut libc::c_void,
) {
    let errno = std::io::Error::last_os_error().raw_os_error();
    let thread = std::thread::current();
    crate::log::from_signal_handler(&format!(
        "\n--- WATCHDOG TIMER EXPIRED ---\n\n------ STACK TRACE ------\nThread: {}\n{}",
        thread.name().unwrap_or("unnamed"),
        std::backtrace::Backtrace::force_capture()
    ));
    crate::log::from_signal_handler("--------\n");
    // The interrupted code may read errno after a call the signal came in after.
    if let Some(errno) = errno {
        // SAFETY: __errno_location returns this thread's errno.
        unsafe {
            *libc::__errno_location() = errno;
        }
    }
}
