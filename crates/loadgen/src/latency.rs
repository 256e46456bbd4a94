//! Latency accounting. Each reply is charged from its request's *intended* send time, the
//! schedule's, not from when the request was written: a server that stalls is charged for every
//! request that should have gone out meanwhile, which a closed-loop client (one that sends its
//! next request when the reply comes) never sends and so never counts (coordinated omission).
//! Only requests intended inside the measurement window are counted: the warm-up is not.
//!
//! Histograms are HdrHistogram's (the `hdrhistogram` crate, the maintained Rust port of Gil
//! Tene's design that wrk2 and memtier_benchmark use): a fixed few tens of KB whatever the
//! count, a bounded relative error (three significant digits) from a microsecond to an hour,
//! exact maxima, and histograms of several connections or threads add up losslessly.

use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// The largest latency a histogram holds (in microseconds): an hour. Longer ones are recorded
/// as an hour.
const HIGHEST_MICROS: u64 = 3_600_000_000;
/// Three significant digits: 1 µs resolution below 1 ms, 0.1% above.
const SIGNIFICANT_DIGITS: u8 = 3;

/// An empty latency histogram, in microseconds.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, HIGHEST_MICROS, SIGNIFICANT_DIGITS)
        .expect("the histogram's bounds are valid")
}

/// Records `latency` in `histogram` (in microseconds, saturating at an hour).
pub fn record(histogram: &mut Histogram<u64>, latency: Duration) {
    histogram.saturating_record(u64::try_from(latency.as_micros()).unwrap_or(u64::MAX));
}

/// The measurement window: the run after its warm-up.
#[derive(Clone, Copy, Debug)]
pub struct Window {
    pub start: Instant,
    pub end: Instant,
}

impl Window {
    pub fn contains(&self, at: Instant) -> bool {
        self.start <= at && at < self.end
    }

    pub fn seconds(&self) -> f64 {
        (self.end - self.start).as_secs_f64()
    }
}

/// What the replies of one connection (or, merged, of all) came to.
pub struct Tally {
    /// Latency of each reply to a request intended inside the window, from that intended time.
    pub latency: Histogram<u64>,
    /// Replies that arrived while the window was open, whenever their requests were meant to
    /// go: the throughput the server delivered.
    pub replies_in_window: u64,
    /// Error replies (`-ERR ...`), at any time.
    pub error_replies: u64,
    /// Requests that got no reply: the connection closed, or the drain after the last request
    /// ran out.
    pub unanswered: u64,
}

impl Tally {
    pub fn new() -> Tally {
        Tally {
            latency: histogram(),
            replies_in_window: 0,
            error_replies: 0,
            unanswered: 0,
        }
    }

    /// A reply that `arrived` for the request meant to go out at `intended`.
    pub fn reply(&mut self, window: &Window, intended: Instant, arrived: Instant, error: bool) {
        if window.contains(intended) {
            record(
                &mut self.latency,
                arrived.saturating_duration_since(intended),
            );
        }
        if window.contains(arrived) {
            self.replies_in_window += 1;
        }
        if error {
            self.error_replies += 1;
        }
    }

    pub fn merge(&mut self, other: &Tally) {
        self.latency
            .add(&other.latency)
            .expect("histograms of the same bounds add up");
        self.replies_in_window += other.replies_in_window;
        self.error_replies += other.error_replies;
        self.unanswered += other.unanswered;
    }
}

impl Default for Tally {
    fn default() -> Tally {
        Tally::new()
    }
}

/// A histogram's percentiles in milliseconds, as reported.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p99_9_ms: f64,
    pub p99_99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    pub fn of(histogram: &Histogram<u64>) -> Percentiles {
        let ms = |micros: u64| micros as f64 / 1000.0;
        let at = |quantile: f64| ms(histogram.value_at_quantile(quantile));
        Percentiles {
            count: histogram.len(),
            p50_ms: at(0.5),
            p90_ms: at(0.9),
            p99_ms: at(0.99),
            p99_9_ms: at(0.999),
            p99_99_ms: at(0.9999),
            max_ms: ms(histogram.max()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_reply_is_charged_from_its_intended_time_and_only_inside_the_window() {
        let start = Instant::now();
        let window = Window {
            start: start + ms(100),
            end: start + ms(200),
        };
        let mut tally = Tally::new();
        // Meant during the warm-up, answered inside the window: throughput, not latency.
        tally.reply(&window, start + ms(50), start + ms(120), false);
        // Meant and answered inside.
        tally.reply(&window, start + ms(150), start + ms(155), false);
        // Meant inside, answered after the window closed: latency, not throughput.
        tally.reply(&window, start + ms(190), start + ms(230), true);
        // Meant after the window (the drain): neither.
        tally.reply(&window, start + ms(200), start + ms(201), false);

        assert_eq!(tally.latency.len(), 2);
        assert_eq!(tally.replies_in_window, 2);
        assert_eq!(tally.error_replies, 1);
        let percentiles = Percentiles::of(&tally.latency);
        // 5 ms and 40 ms, within the histogram's 0.1%.
        assert!((percentiles.p50_ms - 5.0).abs() <= 0.005, "{percentiles:?}");
        assert!((percentiles.max_ms - 40.0).abs() <= 0.04, "{percentiles:?}");
    }

    /// One connection, a request every millisecond for a second, answered in 0.1 ms except
    /// that the server stalls from 500 ms to 800 ms. Charged from the intended times, every
    /// request meant during the stall waits for its end: 300 of 1000 requests take 0-300 ms.
    /// Charged from the actual sends of a closed-loop client (the next request only after the
    /// previous reply), the stall is one slow request.
    #[test]
    fn a_stall_is_charged_to_every_request_meant_during_it() {
        let start = Instant::now();
        let window = Window {
            start,
            end: start + ms(1000),
        };
        let stall = (start + ms(500), start + ms(800));
        let service = Duration::from_micros(100);
        let answer = |sent: Instant| {
            if stall.0 <= sent && sent < stall.1 {
                stall.1 + service
            } else {
                sent + service
            }
        };

        let mut open_loop = Tally::new();
        let mut closed_loop = Tally::new();
        let mut previous_reply = start;
        for i in 0..1000 {
            let intended = start + ms(i);
            open_loop.reply(&window, intended, answer(intended), false);
            let sent = intended.max(previous_reply);
            previous_reply = answer(sent);
            // A closed-loop client's timer starts when it actually sends.
            closed_loop.reply(&window, sent, previous_reply, false);
        }

        let open = Percentiles::of(&open_loop.latency);
        let closed = Percentiles::of(&closed_loop.latency);
        assert!(open.max_ms >= 299.0, "{open:?}");
        assert!(open.p99_ms >= 290.0, "{open:?}");
        assert!(open.p90_ms >= 190.0, "{open:?}");
        assert!(closed.max_ms >= 299.0, "{closed:?}");
        assert!(closed.p99_ms < 1.0, "{closed:?}");
    }

    #[test]
    fn tallies_merge_and_long_latencies_saturate() {
        let start = Instant::now();
        let window = Window {
            start,
            end: start + Duration::from_secs(1_000_000),
        };
        let mut first = Tally::new();
        first.reply(&window, start, start + ms(1), false);
        first.unanswered = 2;
        let mut second = Tally::new();
        second.reply(&window, start, start + Duration::from_secs(7200), true);
        first.merge(&second);
        assert_eq!(first.latency.len(), 2);
        assert_eq!((first.error_replies, first.unanswered), (1, 2));
        let max = Percentiles::of(&first.latency).max_ms;
        assert!((max / 3_600_000.0 - 1.0).abs() < 0.001, "{max}");
    }
}
