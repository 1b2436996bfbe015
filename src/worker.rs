//! The worker thread: start-up (with the initializer), the job loop, and the
//! thread-local marker that lets a blocking call made *on* a worker help run
//! its own pool's queue instead of deadlocking it.

use std::cell::RefCell;
use std::io;
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};

use async_channel::{Receiver, Sender, TryRecvError};

use crate::job::Job;
use crate::registry::{self, Registry};
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
fn run(registry: &Registry, index: usize) {
    while let Some(job) = next_job(&registry.receiver) {
        execute(registry, job, index);
    }
}

fn execute(registry: &Registry, job: Job, index: usize) {
    if registry.is_terminated() {
        registry::cancel(job);
    } else if unwind::catch(|| job.run(index)).is_err() {
        // Tasks catch user panics themselves; this only guards the worker
        // against a panicking `Drop` of something a task captured.
        tracing::error!(
            pool = registry.id,
            worker = index,
            "a job panicked outside its task"
        );
    }
}

/// Waits for the next job: spin briefly, then yield, then park. Work that
/// arrives steadily is picked up without a futex wake-up. `None` once the
/// queue is closed and empty.
fn next_job(receiver: &Receiver<Job>) -> Option<Job> {
    for round in 0..SPIN_POLLS + YIELD_POLLS {
        match receiver.try_recv() {
            Ok(job) => return Some(job),
            Err(TryRecvError::Closed) => return None,
            Err(TryRecvError::Empty) if round < SPIN_POLLS => std::hint::spin_loop(),
            Err(TryRecvError::Empty) => thread::yield_now(),
        }
    }
    receiver.recv_blocking().ok()
}

/// Whether this thread is one of `pool`'s workers.
pub(crate) fn is_worker_of(pool: u64) -> bool {
    CURRENT.with(|c| c.borrow().as_ref().is_some_and(|(r, _)| r.id == pool))
}

/// On a worker of `pool`, runs one queued job of that pool and returns
/// `true`; returns `false` if there was none (or this is not such a worker).
///
/// Blocking calls made from a worker use this to help instead of waiting on
/// work that is queued behind them: with every worker blocked that way the
/// pool would otherwise deadlock.
pub(crate) fn help_one(pool: u64) -> bool {
    let current = CURRENT.with(|c| c.borrow().clone());
    match current {
        Some((registry, index)) if registry.id == pool => match registry.receiver.try_recv() {
            Ok(job) => {
                execute(&registry, job, index);
                true
            }
            Err(_) => false,
        },
        _ => false,
    }
}
