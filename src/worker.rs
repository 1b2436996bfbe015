//! The worker thread: start-up (with the initializer), the job loop, and the
//! thread-local marker that tells a blocking call made *on* a worker which
//! pool and which worker it is on (see `blocking.rs`).

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};

use async_channel::Sender;

use crate::job::Job;
use crate::queue::Empty;
use crate::registry::Registry;
use crate::unwind;

/// Busy polls of the queue before a worker starts yielding its core.
///
/// Measured on 2 cores (an `apply_async(..).await` round trip from a tokio
/// task): about 11 µs when the worker has parked and must be woken, about
/// 6 µs when it is still polling. Yielding rather than spinning leaves the
/// core to the runtime thread that has to wake up for the result.
const SPIN_POLLS: u32 = 16;
/// `yield_now` rounds, after spinning, before a worker parks in the channel.
const YIELD_POLLS: u32 = 64;

pub(crate) type Initializer = Arc<dyn Fn() + Send + Sync + 'static>;

/// How a worker's start-up went: `Err` carries the initializer's panic message.
pub(crate) type StartReport = (usize, Result<(), Option<String>>);

thread_local! {
    /// The registry and index of the pool this thread works for, if any.
    static CURRENT: RefCell<Option<(Arc<Registry>, usize)>> = const { RefCell::new(None) };
}

pub(crate) fn spawn(
    builder: thread::Builder,
    registry: Arc<Registry>,
    index: usize,
    initializer: Option<Initializer>,
    report: mpsc::Sender<StartReport>,
    shutdown: Sender<()>,
) -> io::Result<JoinHandle<()>> {
    builder.spawn(move || {
        // Dropped last, when this thread is done: the pool's `join` waits
        // for every clone to go.
        let _shutdown = shutdown;
        if let Some(init) = initializer {
            if let Err(payload) = unwind::catch(|| init()) {
                let message = crate::error::payload_message(&*payload).map(str::to_owned);
                tracing::error!(pool = registry.id, worker = index, "initializer panicked");
                let _ = report.send((index, Err(message)));
                return;
            }
        }
        let _ = report.send((index, Ok(())));
        drop(report);
        tracing::debug!(pool = registry.id, worker = index, "worker started");
        CURRENT.with(|c| *c.borrow_mut() = Some((registry.clone(), index)));
        run(&registry, index);
        CURRENT.with(|c| c.borrow_mut().take());
        tracing::debug!(pool = registry.id, worker = index, "worker stopped");
    })
}

/// The job loop: runs until the queue is closed and drained.
pub(crate) fn run(registry: &Registry, index: usize) {
    while let Some(job) = next_job(registry) {
        registry.execute(job, index);
    }
}

/// Waits for the next job: spin briefly, then yield, then park. Work that
/// arrives steadily is picked up without a futex wake-up. `None` once the
/// queue is closed and empty.
fn next_job(registry: &Registry) -> Option<Job> {
    // Under loom the spinning is noise: every poll is a scheduling point.
    let rounds = if cfg!(corepool_loom) {
        0
    } else {
        SPIN_POLLS + YIELD_POLLS
    };
    for round in 0..rounds {
        match registry.try_pop() {
            Ok(job) => return Some(job),
            Err(Empty::Forever) => return None,
            Err(Empty::Now) if round < SPIN_POLLS => std::hint::spin_loop(),
            Err(Empty::Now) => thread::yield_now(),
        }
    }
    registry.pop_blocking()
}

/// Whether this thread is one of `pool`'s workers.
pub(crate) fn is_worker_of(pool: u64) -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(|(r, _)| r.id == pool))
}

/// If this thread is one of `pool`'s workers: its registry and index.
pub(crate) fn current_of(pool: u64) -> Option<(Arc<Registry>, usize)> {
    CURRENT.with(|c| c.borrow().as_ref().filter(|(r, _)| r.id == pool).cloned())
}
