//! The clock a job's timings are read from: nanoseconds since a process-wide
//! epoch, as a `u64`.
//!
//! A job reads the clock three times (entering the queue, starting,
//! finishing). Kept as `Instant`s, each wait or run time is a normalising
//! `Timespec` subtraction and each stored stamp an addition back (measured
//! with callgrind: ~50 instructions apiece, ~5 % of a round trip); as `u64`
//! nanoseconds each read converts once and every difference is one
//! subtraction. A `u64` of nanoseconds lasts 584 years from the epoch.

use std::sync::OnceLock;
use std::time::Instant;

/// The instant the stamps count from: the first read in the process.
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Nanoseconds since the epoch, now; at least 1, so that 0 can mean "not
/// stamped".
pub(crate) fn now() -> u64 {
    let since = Instant::now().saturating_duration_since(epoch());
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX).max(1)
}

/// Nanoseconds from `earlier` to now (0 if the clock reads earlier).
pub(crate) fn since(earlier: u64) -> u64 {
    now().saturating_sub(earlier)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_positive_and_monotonic() {
        let a = now();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = now();
        assert!(a >= 1);
        assert!(b - a >= 2_000_000, "{a} then {b}");
        assert!(since(a) >= b - a);
        assert_eq!(since(u64::MAX), 0);
    }
}
