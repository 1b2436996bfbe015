//! loom models of corepool's concurrency core. Built and run only with
//! `RUSTFLAGS="--cfg corepool_loom"` (see `.ci/run`), in release mode and with
//! bounded preemptions so that they finish in minutes:
//!
//! ```sh
//! RUSTFLAGS="--cfg corepool_loom" LOOM_MAX_PREEMPTIONS=3 \
//!     cargo test --release -p corepool --lib --target-dir target/loom -- loom_
//! ```
//!
//! Each model exercises the real code, with the primitives of `sync.rs` and
//! the queue of `queue.rs` swapped for loom's, and checks that no outcome is
//! lost or delivered twice, that no wake-up is lost (a lost one shows up as
//! loom's deadlock report), and that every value is dropped exactly once.

mod loom_cell;
mod loom_lane;
mod loom_map;
mod loom_registry;
mod loom_slot;

use std::sync::atomic::{AtomicUsize, Ordering};

/// Counts drops of the values it hands out.
#[derive(Default)]
pub(crate) struct Drops(pub(crate) std::sync::Arc<AtomicUsize>);

impl Drops {
    pub(crate) fn value(&self, v: u32) -> Tracked {
        Tracked(v, self.0.clone())
    }
    pub(crate) fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// A value that counts its drop.
#[derive(Debug)]
pub(crate) struct Tracked(pub(crate) u32, std::sync::Arc<AtomicUsize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}
