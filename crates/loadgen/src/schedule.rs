//! The send schedule: when each request is meant to go out and on which connection. It is
//! fixed in advance by the rate and a seeded RNG, never by the server's replies: that is what
//! makes the generator open-loop (a slow reply does not delay the next request).

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// How requests are spaced in time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process of the total rate), each request on a connection
    /// drawn at random: the superposition of one independent Poisson stream of rate R/C per
    /// connection, as many independent clients would send.
    Poisson,
    /// Equal gaps of 1/R, the connections taken in turn: each connection sends every C/R.
    Uniform,
}

/// One scheduled request: its intended send time (from the start of the run) and connection.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Arrival {
    pub at: Duration,
    pub connection: usize,
}

/// The endless sequence of arrivals for `rate` requests per second over `connections`.
pub struct Schedule {
    arrivals: Arrivals,
    mean_gap_seconds: f64,
    connections: usize,
    rng: StdRng,
    /// Intended time of the previous arrival, in seconds from the start. Accumulated as f64:
    /// at a million requests per second over an hour the rounding stays under a nanosecond.
    elapsed_seconds: f64,
    turn: usize,
}

impl Schedule {
    pub fn new(arrivals: Arrivals, rate: f64, connections: usize, seed: u64) -> Schedule {
        assert!(
            rate > 0.0 && connections > 0,
            "rate and connections must be positive"
        );
        Schedule {
            arrivals,
            mean_gap_seconds: 1.0 / rate,
            connections,
            rng: StdRng::seed_from_u64(seed),
            elapsed_seconds: 0.0,
            turn: 0,
        }
    }
}

impl Iterator for Schedule {
    type Item = Arrival;

    fn next(&mut self) -> Option<Arrival> {
        let (gap, connection) = match self.arrivals {
            Arrivals::Poisson => {
                // Inverse transform of an exponential: u in [0, 1), so 1 - u is never 0.
                let u: f64 = self.rng.gen();
                let gap = -(1.0 - u).ln() * self.mean_gap_seconds;
                (gap, self.rng.gen_range(0..self.connections))
            }
            Arrivals::Uniform => {
                let connection = self.turn;
                self.turn = (self.turn + 1) % self.connections;
                (self.mean_gap_seconds, connection)
            }
        };
        self.elapsed_seconds += gap;
        Some(Arrival {
            at: Duration::from_secs_f64(self.elapsed_seconds),
            connection,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Arrivals of the first `seconds` of a schedule.
    fn within(schedule: Schedule, seconds: f64) -> Vec<Arrival> {
        schedule
            .take_while(|a| a.at.as_secs_f64() < seconds)
            .collect()
    }

    #[test]
    fn uniform_arrivals_are_evenly_spaced_and_take_the_connections_in_turn() {
        let arrivals = within(Schedule::new(Arrivals::Uniform, 1000.0, 3, 7), 1.0);
        // 1 ms, 2 ms, ... 999 ms (1000 ms itself is not below 1 s, give or take rounding).
        assert!((999..=1000).contains(&arrivals.len()), "{}", arrivals.len());
        for (i, arrival) in arrivals.iter().enumerate() {
            let expected = (i + 1) as f64 / 1000.0;
            assert!(
                (arrival.at.as_secs_f64() - expected).abs() < 1e-9,
                "{arrival:?}"
            );
            assert_eq!(arrival.connection, i % 3);
        }
    }

    #[test]
    fn poisson_arrivals_have_the_rate_and_exponential_gaps() {
        let rate = 50_000.0;
        let arrivals = within(Schedule::new(Arrivals::Poisson, rate, 10, 42), 10.0);
        // A Poisson count over 10 s has mean and variance 500,000: a standard deviation of
        // about 700, so 1% is seven of them.
        let count = arrivals.len() as f64;
        assert!(
            (count / (10.0 * rate) - 1.0).abs() < 0.01,
            "{count} arrivals"
        );

        let gaps: Vec<f64> = std::iter::once(arrivals[0].at.as_secs_f64())
            .chain(
                arrivals
                    .windows(2)
                    .map(|w| (w[1].at - w[0].at).as_secs_f64()),
            )
            .collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let variance = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        assert!((mean * rate - 1.0).abs() < 0.01, "mean gap {mean}");
        // An exponential's standard deviation equals its mean (uniform gaps would have none).
        assert!(
            (variance.sqrt() / mean - 1.0).abs() < 0.02,
            "coefficient of variation {}",
            variance.sqrt() / mean
        );
        // Its median is ln 2 times the mean.
        let mut sorted = gaps.clone();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        assert!(
            (median / mean - std::f64::consts::LN_2).abs() < 0.01,
            "median gap {median}"
        );

        // The connections share the load evenly.
        let mut per_connection = [0usize; 10];
        for arrival in &arrivals {
            per_connection[arrival.connection] += 1;
        }
        for n in per_connection {
            assert!(
                (n as f64 / (count / 10.0) - 1.0).abs() < 0.02,
                "{per_connection:?}"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let first: Vec<_> = Schedule::new(Arrivals::Poisson, 100.0, 4, 1)
            .take(50)
            .collect();
        let again: Vec<_> = Schedule::new(Arrivals::Poisson, 100.0, 4, 1)
            .take(50)
            .collect();
        let other: Vec<_> = Schedule::new(Arrivals::Poisson, 100.0, 4, 2)
            .take(50)
            .collect();
        assert_eq!(first, again);
        assert_ne!(first, other);
    }
}
