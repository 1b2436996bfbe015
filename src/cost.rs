//! [`ItemCost`]: what a map item has cost lately on a pool, for a map's
//! default cut (`map/mod.rs`): a chunk should carry enough work to be worth
//! a job.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The work a default chunk should carry at least, once the items' cost is
/// known: a job costs ~2-3 µs on this machine (P2: ~5 600 instructions a
/// round trip), so a chunk of 50 µs pays at most ~5 % for being a job. A
/// small map of cheap items (64 items of a few ns: a batch per request) is
/// then one chunk instead of 32 jobs of two items each.
pub(crate) const CHUNK_WORK: Duration = Duration::from_micros(50);

/// What a map item has cost lately on this pool, in nanoseconds (an
/// exponentially weighted average of the chunks that completed; 0 until
/// one has). Relaxed atomics: a lost update only delays what it learns.
#[derive(Debug, Default)]
pub(crate) struct ItemCost(AtomicU64);

impl ItemCost {
    /// A chunk of `items` items ran in `run`.
    pub(crate) fn learn(&self, items: usize, run: Duration) {
        if items == 0 {
            return;
        }
        let sample = (run.as_nanos() / items as u128).clamp(1, u128::from(u32::MAX)) as u64;
        let old = self.0.load(Ordering::Relaxed);
        let new = if old == 0 {
            sample
        } else {
            (old * 3 + sample) / 4
        };
        self.0.store(new.max(1), Ordering::Relaxed);
    }

    /// Items per chunk for [`CHUNK_WORK`] of work; `None` until measured.
    pub(crate) fn items_per_chunk(&self) -> Option<usize> {
        let ns = self.0.load(Ordering::Relaxed);
        (ns > 0).then(|| (CHUNK_WORK.as_nanos() as u64 / ns).max(1) as usize)
    }
}
