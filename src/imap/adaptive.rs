//! Adaptive chunking, `imap`'s default when no `chunksize` is given.
//!
//! One item per job costs a few µs of overhead (submitting, waking, handing
//! the result back), which dwarfs items of a µs; Python's answer is a manual
//! `chunksize`. Here, without one, each chunk's size is chosen from how long
//! items have been taking:
//!
//! * The first chunk has one item, so the first result of a slow stream
//!   arrives as early as with `chunksize(1)`.
//! * Each finished chunk reports how long its items ran (measured on the
//!   worker, so queueing does not count). A moving average of the time per
//!   item sets the next size: enough items to fill [`TARGET_CHUNK_TIME`]
//!   (1 ms: at a few µs of overhead per job, under 1 % of a chunk), at
//!   most double the previous size (a noisy first measurement must not
//!   overshoot), at most [`MAX_ADAPTIVE_CHUNK`] items, and at least one.
//!   Items slower than the target stay one per chunk; items that get
//!   faster grow the chunks again.
//! * A chunk sized for cheap items must not hold a worker long if the items
//!   turn expensive: an adaptive chunk that has run for
//!   [`CHUNK_TIME_BUDGET`] hands its remaining items to a new job (a
//!   continuation the same chunk waits for, so the order is kept).

use std::time::Duration;

use super::chunk::Budget;

/// The time an adaptive chunk aims to run for.
pub(crate) const TARGET_CHUNK_TIME: Duration = Duration::from_millis(1);
/// The time after which an adaptive chunk hands its remaining items on.
pub(crate) const CHUNK_TIME_BUDGET: Duration = Duration::from_millis(4);
/// The largest adaptive chunk.
pub(crate) const MAX_ADAPTIVE_CHUNK: usize = 1024;
/// The work, at the measured time per item, between two looks at the clock
/// of a chunk with a budget: a look (~20 ns) is dearer than a tiny item.
const CLOCK_INTERVAL_NS: f64 = 2_000.0;
/// The most items between two looks at the clock. A chunk whose items turn
/// expensive all at once runs at most this many of them past its budget.
const MAX_CLOCK_STRIDE: u32 = 32;

/// The state of adaptive chunking: the average time per item, and the size
/// of the next chunk.
#[derive(Clone, Copy, Debug)]
pub(super) struct Adaptive {
    per_item_ns: Option<f64>,
    /// The size of the next chunk.
    pub(super) size: usize,
}

impl Adaptive {
    pub(super) fn new() -> Self {
        Adaptive {
            per_item_ns: None,
            size: 1,
        }
    }

    /// Learns from a chunk of `len` items whose items ran for `run`.
    pub(super) fn learn(&mut self, len: usize, run: Duration) {
        if len == 0 || run.is_zero() {
            return; // a chunk that never ran tells nothing
        }
        let sample = run.as_nanos() as f64 / len as f64;
        let per_item = match self.per_item_ns {
            // Half weight to the newest: adapts within a few chunks both ways.
            Some(old) => (old + sample) / 2.0,
            None => sample,
        };
        self.per_item_ns = Some(per_item);
        let fits = (TARGET_CHUNK_TIME.as_nanos() as f64 / per_item.max(1.0)) as usize;
        self.size = fits
            .clamp(1, MAX_ADAPTIVE_CHUNK)
            .min(self.size.saturating_mul(2));
    }

    /// The next chunk's budget: it looks at the clock about every
    /// [`CLOCK_INTERVAL_NS`] of work at the measured rate (every item until
    /// there is a measurement), at most every [`MAX_CLOCK_STRIDE`] items.
    pub(super) fn budget(&self) -> Budget {
        let stride = self
            .per_item_ns
            .map_or(1.0, |ns| CLOCK_INTERVAL_NS / ns.max(1.0));
        Budget {
            time: CHUNK_TIME_BUDGET,
            check_every: (stride as u32).clamp(1, MAX_CLOCK_STRIDE),
        }
    }
}
