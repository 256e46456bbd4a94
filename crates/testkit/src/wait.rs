//! Waiting for a condition with a deadline instead of sleeping a guessed time, and the waits on
//! server state built on it: INFO fields, background saves and rewrites, writes that must have
//! survived a crash, and the writers whose acknowledgements those checks compare with.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::launch::Server;
use crate::resp::Raw;

/// How often a condition is checked again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Calls `probe` until it returns Some (returned) or `timeout` has passed (None).
pub fn poll<T>(timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(found) = probe() {
            return Some(found);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL_INTERVAL);
    }
}

/// Waits until `done` holds; panics naming `what` when `timeout` passes first.
pub fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    if poll(timeout, || done().then_some(())).is_none() {
        panic!("timed out after {timeout:?} waiting for {what}");
    }
}

/// One field of an INFO section (`INFO <section>`), such as `used_memory`.
pub fn info_field(raw: &mut Raw, section: &str, name: &str) -> String {
    let info = raw.cmd_text(&["INFO", section]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .to_string()
}

/// Waits (up to 30 s) until no BGSAVE or AOF rewrite is running or scheduled.
pub fn wait_background_jobs(server: &Server) {
    let mut raw = server.raw();
    let busy = |raw: &mut Raw| {
        [
            "aof_rewrite_in_progress",
            "aof_rewrite_scheduled",
            "rdb_bgsave_in_progress",
        ]
        .iter()
        .any(|field| info_field(raw, "persistence", field) != "0")
    };
    // Not an assertion: a test that needs the job finished checks its outcome next.
    let _ = poll(Duration::from_secs(30), || (!busy(&mut raw)).then_some(()));
    // A short settle after the flags clear, as the harness this replaced had: the tests read
    // the job's files right after.
    std::thread::sleep(Duration::from_millis(50));
}

/// Waits for the background jobs to finish, and checks that the last AOF rewrite succeeded.
pub fn wait_rewrite_ok(server: &Server) {
    wait_background_jobs(server);
    assert_eq!(
        info_field(
            &mut server.raw(),
            "persistence",
            "aof_last_bgrewrite_status"
        ),
        "ok"
    );
}

/// Starts `clients` writers, each SETting `client:<id>` to increasing numbers until `stop` or
/// the server dies; each returns the last number it saw acknowledged, for
/// [`assert_acknowledged_writes_survived`].
pub fn counter_writers(
    server: &Server,
    clients: usize,
    stop: &Arc<AtomicBool>,
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..clients)
        .map(|id| {
            let mut c = server.client();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut acked = 0;
                for n in 1u64.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let set = redis::cmd("SET")
                        .arg(format!("client:{id}"))
                        .arg(n)
                        .query::<()>(&mut c);
                    if set.is_err() {
                        break;
                    }
                    acked = n;
                }
                acked
            })
        })
        .collect()
}

/// After a crash and a restart: every write a client saw acknowledged is there. Client `id`
/// wrote increasing numbers to `client:<id>`; `acked[id]` is the last one it saw acknowledged.
pub fn assert_acknowledged_writes_survived(server: &Server, acked: &[u64], trial: u64) {
    let mut raw = server.raw();
    for (id, last) in acked.iter().enumerate() {
        let reply = raw.cmd_text(&["GET", &format!("client:{id}")]);
        let got: u64 = reply
            .lines()
            .nth(1)
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        assert!(
            got >= *last,
            "trial {trial}: client {id} acknowledged {last}, found {reply:?}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_returns_the_first_answer() {
        let mut calls = 0;
        let found = poll(Duration::from_secs(5), || {
            calls += 1;
            (calls == 3).then_some(calls)
        });
        assert_eq!(found, Some(3));
    }

    #[test]
    fn poll_gives_up_at_the_deadline() {
        let start = Instant::now();
        assert_eq!(poll(Duration::from_millis(100), || None::<()>), None);
        assert!(start.elapsed() >= Duration::from_millis(100));
    }

    #[test]
    #[should_panic(expected = "waiting for the impossible")]
    fn wait_until_names_what_it_waited_for() {
        wait_until("the impossible", Duration::from_millis(50), || false);
    }
}
