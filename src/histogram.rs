//! [`Histogram`]: a distribution of durations (queue waits, run times), for
//! percentiles rather than only sums.
//!
//! # Design
//!
//! Log-linear buckets over nanoseconds, as HdrHistogram's with 3 bits of
//! precision: values below 8 ns have a bucket each, and every power of two
//! above is split into 8 equal buckets, so a bucket's width is at most
//! 1/8 of its lower bound (a quantile is reported within 12.5 % above the
//! true value). 496 buckets cover the whole `u64` range of nanoseconds
//! with no configuration. Recording is one `leading_zeros` and one relaxed
//! `fetch_add`: each worker records into buckets of its own, written by
//! that worker only (a lane's are shared by the workers that run it), and
//! a snapshot sums them.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Bits of sub-bucket precision: 2^3 = 8 buckets per power of two.
const SUB: u32 = 3;
/// Buckets for every `u64` value.
const BUCKETS: usize = ((64 - SUB as usize) + 1) << SUB;

/// The bucket of `ns`.
fn index(ns: u64) -> usize {
    if ns < (1 << SUB) {
        return ns as usize;
    }
    let exponent = 63 - ns.leading_zeros(); // >= SUB
    let sub = (ns >> (exponent - SUB)) & ((1 << SUB) - 1);
    (((exponent - SUB + 1) as usize) << SUB) + sub as usize
}

/// The largest value in bucket `i`.
fn highest(i: usize) -> u64 {
    let group = (i >> SUB) as u32;
    if group == 0 {
        return i as u64;
    }
    let sub = (i & ((1 << SUB) - 1)) as u64;
    let lowest = ((1 << SUB) + sub) << (group - 1);
    lowest + ((1_u64 << (group - 1)) - 1)
}

/// Buckets that many threads may record into.
pub(crate) struct Recorder {
    buckets: Box<[AtomicU64]>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
        }
    }
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder").finish_non_exhaustive()
    }
}

impl Recorder {
    /// Counts one value.
    pub(crate) fn record_ns(&self, ns: u64) {
        self.buckets[index(ns)].fetch_add(1, Relaxed);
    }

    /// Adds these counts to `into`.
    pub(crate) fn add_to(&self, into: &mut Histogram) {
        for (sum, bucket) in into.counts.iter_mut().zip(self.buckets.iter()) {
            *sum += bucket.load(Relaxed);
        }
    }
}

/// A distribution of durations, from [`Metrics`](crate::Metrics): how many
/// jobs waited (or ran) how long, for percentiles such as p50 and p99.
///
/// Buckets are log-linear (8 per power of two of nanoseconds), so a
/// [`quantile`](Histogram::quantile) is the upper bound of the bucket it
/// falls in: at most 12.5 % above the true value, never below it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let pool = corepool::Pool::new(1)?;
/// for _ in 0..10 {
///     pool.apply(|| std::thread::sleep(Duration::from_millis(2)))?;
/// }
/// let run = pool.metrics().run_time_histogram;
/// assert_eq!(run.count(), 10);
/// let p50 = run.quantile(0.5).unwrap();
/// assert!(p50 >= Duration::from_millis(2));
/// assert!(run.quantile(0.99).unwrap() >= p50);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Histogram {
    counts: Box<[u64]>,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            counts: vec![0; BUCKETS].into_boxed_slice(),
        }
    }
}

impl Histogram {
    /// How many values were recorded.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert_eq!(pool.metrics().queue_wait_histogram.count(), 0);
    /// pool.apply(|| ())?;
    /// assert_eq!(pool.metrics().queue_wait_histogram.count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The value below which a fraction `q` of the values fall (`0.5` for
    /// the median, `0.99` for p99), as the upper bound of its bucket;
    /// `None` when nothing was recorded. `q` is clamped to `0.0..=1.0`
    /// (NaN counts as `0.0`).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert_eq!(pool.metrics().run_time_histogram.quantile(0.99), None);
    /// pool.apply(|| ())?;
    /// assert!(pool.metrics().run_time_histogram.quantile(0.99).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        let total = self.count();
        if total == 0 {
            return None;
        }
        let q = if q.is_nan() { 0.0 } else { q.clamp(0.0, 1.0) };
        // The rank of the value, 1-based: at least the first.
        let rank = ((q * total as f64).ceil() as u64).clamp(1, total);
        let mut seen = 0;
        for (i, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank {
                return Some(Duration::from_nanos(highest(i)));
            }
        }
        unreachable!("the ranks add up to the total")
    }

    /// How many values were at most `bound`, counting whole buckets (a
    /// bucket counts if its upper bound is at most `bound`): the cumulative
    /// count of a Prometheus histogram's `le` bucket.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// pool.apply(|| ())?;
    /// let run = pool.metrics().run_time_histogram;
    /// assert_eq!(run.count_at_most(Duration::from_secs(3600)), 1);
    /// assert_eq!(run.count_at_most(Duration::ZERO), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn count_at_most(&self, bound: Duration) -> u64 {
        let bound = u64::try_from(bound.as_nanos()).unwrap_or(u64::MAX);
        self.counts
            .iter()
            .enumerate()
            .take_while(|&(i, _)| highest(i) <= bound)
            .map(|(_, &count)| count)
            .sum()
    }

    /// Adds `other`'s counts to this one.
    #[cfg(test)]
    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a += b;
        }
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Histogram")
            .field("count", &self.count())
            .field("p50", &self.quantile(0.5))
            .field("p99", &self.quantile(0.99))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_in_a_bucket_whose_bounds_hold_it() {
        let mut previous_highest = None;
        for i in 0..BUCKETS {
            let high = highest(i);
            assert_eq!(index(high), i, "bucket {i}");
            if let Some(p) = previous_highest {
                assert_eq!(index(p + 1), i, "bucket {i} starts after {p}");
                // The width is at most an eighth of the lower bound.
                assert!((high - p - 1) <= (p + 1) / 8 || p < 8, "bucket {i}");
            }
            previous_highest = Some(high);
        }
        assert_eq!(highest(BUCKETS - 1), u64::MAX);
        for v in [0, 1, 7, 8, 9, 15, 16, 17, 1000, 123_456_789, u64::MAX / 3] {
            let i = index(v);
            assert!(highest(i) >= v && (i == 0 || highest(i - 1) < v), "{v}");
        }
    }

    #[test]
    fn quantiles_are_within_an_eighth_above_the_true_value() {
        let recorder = Recorder::default();
        for us in 1..=1000_u64 {
            recorder.record_ns(us * 1_000);
        }
        let mut h = Histogram::default();
        recorder.add_to(&mut h);
        assert_eq!(h.count(), 1000);
        for (q, truth) in [(0.5, 500_u64), (0.9, 900), (0.99, 990), (1.0, 1000)] {
            let got = h.quantile(q).unwrap().as_nanos() as u64;
            let truth = truth * 1000;
            assert!(
                got >= truth && got <= truth + truth / 8,
                "q{q}: {got} vs {truth}"
            );
        }
        assert_eq!(h.quantile(0.0), h.quantile(f64::NAN));
        assert_eq!(h.count_at_most(Duration::from_secs(1)), 1000);
        let mut twice = h.clone();
        twice.merge(&h);
        assert_eq!(twice.count(), 2000);
        assert_eq!(twice.quantile(0.5), h.quantile(0.5));
    }
}
