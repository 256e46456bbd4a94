//! The slow log: the last `slowlog-max-len` commands that ran for `slowlog-log-slower-than`
//! microseconds or more, with their arguments cut as Redis cuts them. A command under the
//! threshold costs one atomic load; only a logged one takes the lock.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;

/// Arguments kept per entry: the last kept one says how many more there were.
const MAX_ARGS: usize = 32;
/// Bytes kept per argument.
const MAX_ARG_BYTES: usize = 128;

pub struct SlowLog {
    /// `slowlog-log-slower-than` in microseconds; negative: nothing is logged.
    threshold_us: AtomicI64,
    /// `slowlog-max-len`.
    max_len: AtomicUsize,
    log: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    /// The next entry's id: ids keep counting across SLOWLOG RESET, as in Redis.
    next_id: u64,
    /// Newest first.
    entries: VecDeque<SlowEntry>,
}

/// One logged command, as SLOWLOG GET shows it.
pub struct SlowEntry {
    pub id: u64,
    /// Unix time in seconds when it finished.
    pub time: u64,
    pub duration_us: u64,
    pub args: Vec<Vec<u8>>,
    /// The client's address (`ip:port`), `?:0` for a script's calls.
    pub addr: String,
    pub name: Vec<u8>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            threshold_us: AtomicI64::new(10_000),
            max_len: AtomicUsize::new(128),
            log: Mutex::default(),
        }
    }
}

impl SlowLog {
    pub fn configure(&self, threshold_us: i64, max_len: i64) {
        self.threshold_us.store(threshold_us, Relaxed);
        self.max_len
            .store(usize::try_from(max_len).unwrap_or(usize::MAX), Relaxed);
    }

    /// Whether a command that ran for `duration_us` goes into the log.
    pub fn is_slow(&self, duration_us: u64) -> bool {
        let threshold = self.threshold_us.load(Relaxed);
        threshold >= 0 && duration_us >= threshold as u64
    }

    /// Logs a command, its arguments cut to Redis's limits and those in `redacted` replaced,
    /// dropping the oldest entries past `slowlog-max-len`.
    pub fn push(
        &self,
        args: &[&[u8]],
        redacted: &[usize],
        duration_us: u64,
        time: u64,
        addr: String,
        name: Vec<u8>,
    ) {
        let kept = args.len().min(MAX_ARGS);
        let args = (0..kept)
            .map(|i| {
                if kept < args.len() && i == kept - 1 {
                    format!("... ({} more arguments)", args.len() - kept + 1).into_bytes()
                } else if redacted.contains(&i) {
                    b"(redacted)".to_vec()
                } else if args[i].len() > MAX_ARG_BYTES {
                    let mut cut = args[i][..MAX_ARG_BYTES].to_vec();
                    let more = args[i].len() - MAX_ARG_BYTES;
                    cut.extend_from_slice(format!("... ({more} more bytes)").as_bytes());
                    cut
                } else {
                    args[i].to_vec()
                }
            })
            .collect();
        let max_len = self.max_len.load(Relaxed);
        let mut log = self.log.lock();
        let id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(SlowEntry {
            id,
            time,
            duration_us,
            args,
            addr,
            name,
        });
        log.entries.truncate(max_len);
    }

    /// Entries kept (SLOWLOG LEN).
    pub fn entries(&self) -> usize {
        self.log.lock().entries.len()
    }

    pub fn reset(&self) {
        self.log.lock().entries.clear();
    }

    /// Calls `f` with the newest `count` entries (all of them for None), newest first.
    pub fn newest<R>(
        &self,
        count: Option<usize>,
        f: impl FnOnce(&mut dyn ExactSizeIterator<Item = &SlowEntry>) -> R,
    ) -> R {
        let log = self.log.lock();
        let count = count.unwrap_or(log.entries.len()).min(log.entries.len());
        f(&mut log.entries.iter().take(count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn logged(log: &SlowLog) -> Vec<(u64, Vec<Vec<u8>>)> {
        log.newest(None, |entries| {
            entries.map(|e| (e.id, e.args.clone())).collect()
        })
    }

    #[test]
    fn arguments_are_cut_as_redis_cuts_them() {
        let log = SlowLog::default();
        let long = vec![b'x'; 200];
        let many: Vec<Vec<u8>> = (0..40).map(|i| i.to_string().into_bytes()).collect();
        let many: Vec<&[u8]> = many.iter().map(|a| a.as_slice()).collect();
        log.push(&many, &[], 1, 1, String::new(), Vec::new());
        log.push(&[b"set", b"k", &long], &[], 1, 1, String::new(), Vec::new());
        log.push(&[b"auth", b"pw"], &[1], 1, 1, String::new(), Vec::new());
        let entries = logged(&log);
        assert_eq!(entries[0].1, vec![b"auth".to_vec(), b"(redacted)".to_vec()]);
        let mut cut = vec![b'x'; 128];
        cut.extend_from_slice(b"... (72 more bytes)");
        assert_eq!(entries[1].1[2], cut);
        assert_eq!(entries[2].1.len(), 32);
        assert_eq!(entries[2].1[30], b"30");
        assert_eq!(entries[2].1[31], b"... (9 more arguments)");
    }

    #[test]
    fn the_oldest_go_past_max_len_and_ids_survive_reset() {
        let log = SlowLog::default();
        log.configure(0, 2);
        for _ in 0..3 {
            log.push(&[b"ping"], &[], 1, 1, String::new(), Vec::new());
        }
        assert_eq!(
            logged(&log).iter().map(|e| e.0).collect::<Vec<_>>(),
            vec![2, 1]
        );
        log.reset();
        assert_eq!(log.entries(), 0);
        log.push(&[b"ping"], &[], 1, 1, String::new(), Vec::new());
        assert_eq!(logged(&log)[0].0, 3);
        assert!(log.is_slow(0));
        log.configure(-1, 2);
        assert!(!log.is_slow(u64::MAX));
    }
}
