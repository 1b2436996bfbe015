//! The state a pool's handles and its worker threads share: the job queue,
//! the lifecycle flags, and the shutdown signal.
//!
//! # Lifecycle protocol
//!
//! * `close` closes the queue: later pushes fail and are rejected as
//!   `Closed` on the submitting thread; what is queued still runs, and the
//!   workers exit once the queue is drained.
//! * `terminate` sets `terminated`, closes the queue, then drains it,
//!   rejecting every job as `Cancelled`. A worker checks `terminated` before
//!   it runs a job it popped, so a job popped while `terminate` drains is
//!   cancelled too; a job a worker had already started finishes.
//! * A job is claimed exactly once (see `job.rs`), so whichever of "run",
//!   "reject" or "dropped unclaimed" happens first decides its outcome, and
//!   its result always resolves. `src/tests/loom_registry.rs` checks this
//!   with a submitter, a terminating thread and a worker racing.
//!
//! `terminated` is written with `Release` and read with `Acquire`, but
//! nothing is published through it: it is a stop flag, and a worker that
//! reads it a little late runs a job that `terminate` would have cancelled,
//! which is the same outcome as the job having been popped a moment earlier.
//!
//! The registry is freed when the last handle and the last worker are gone;
//! the `JoinHandle`s it holds are then dropped, which detaches threads that
//! were never joined, so their stacks are released when they exit.

use std::sync::Arc;
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::thread::JoinHandle;

use async_channel::{Receiver, Sender};

use crate::error::Cancellation;
use crate::job::Job;
use crate::metrics::{SharedStats, WorkerStats};
use crate::queue::{Empty, Queue, Refused};
use crate::sync::{self, AtomicBool, Mutex, Ordering};
use crate::unwind;

/// Distinguishes pools, so a worker can tell its own pool's sync calls apart.
static NEXT_POOL_ID: StdAtomicU64 = StdAtomicU64::new(1);

pub(crate) struct Registry {
    pub(crate) id: u64,
    pub(crate) workers: usize,
    queue: Queue,
    terminated: AtomicBool,
    next_job: StdAtomicU64,
    /// Every worker holds a clone of the matching sender and never sends:
    /// this receiver reports `Closed` once the last worker has exited.
    shutdown: Receiver<()>,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Counters of the submitting threads, and of each worker index.
    pub(crate) stats: SharedStats,
    pub(crate) worker_stats: Vec<Arc<WorkerStats>>,
}

// ===== impl Registry =====

impl Registry {
    /// A registry with no threads yet, and the shutdown sender every worker
    /// must hold a clone of.
    pub(crate) fn new(workers: usize, capacity: Option<usize>) -> (Arc<Self>, Sender<()>) {
        let (shutdown_tx, shutdown) = async_channel::bounded(1);
        let registry = Registry {
            id: NEXT_POOL_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            workers,
            queue: Queue::new(capacity),
            terminated: AtomicBool::new(false),
            next_job: StdAtomicU64::new(0),
            shutdown,
            threads: Mutex::new(Vec::new()),
            stats: SharedStats::default(),
            worker_stats: (0..workers).map(|_| Arc::default()).collect(),
        };
        (Arc::new(registry), shutdown_tx)
    }

    /// Records the thread of the next worker index (build order).
    pub(crate) fn add_thread(&self, handle: JoinHandle<()>) {
        sync::lock(&self.threads).push(handle);
    }

    /// Puts a recycled worker's new thread in its slot, returning the old
    /// thread's handle.
    pub(crate) fn replace_thread(
        &self,
        index: usize,
        handle: JoinHandle<()>,
    ) -> Option<JoinHandle<()>> {
        let mut threads = sync::lock(&self.threads);
        match threads.get_mut(index) {
            Some(slot) => Some(std::mem::replace(slot, handle)),
            None => {
                threads.push(handle);
                None
            }
        }
    }

    pub(crate) fn next_job_id(&self) -> u64 {
        self.next_job
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    }

    /// Queues a job. If the pool no longer accepts work, or its queue is
    /// full, the job is rejected (cancelled) instead, on this thread.
    pub(crate) fn submit(&self, job: Job) {
        if let Err((job, why)) = self.try_submit(job) {
            job.reject(match why {
                Refused::Full => Cancellation::QueueFull,
                Refused::Closed => Cancellation::PoolClosed,
            });
        }
    }

    /// Queues a job, or hands it back with why it was refused.
    pub(crate) fn try_submit(&self, job: Job) -> Result<(), (Job, Refused)> {
        let pushed = self.queue.push(job);
        match pushed {
            Ok(()) => &self.stats.submitted,
            Err(_) => &self.stats.rejected,
        }
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        pushed
    }

    /// Queues a job once there is room (see `Queue::push_when_room`).
    pub(crate) fn submit_when_room(
        self: &Arc<Self>,
        job: Job,
    ) -> impl std::future::Future<Output = Result<(), Job>> + Send + 'static {
        let pushed = self.queue.push_when_room(job);
        let registry = self.clone();
        async move {
            let pushed = pushed.await;
            match pushed {
                Ok(()) => &registry.stats.submitted,
                Err(_) => &registry.stats.rejected,
            }
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            pushed
        }
    }

    /// The next job, without waiting.
    pub(crate) fn try_pop(&self) -> Result<Job, Empty> {
        self.queue.try_pop()
    }

    /// The next job, waiting for one; `None` once closed and drained.
    pub(crate) fn pop_blocking(&self) -> Option<Job> {
        self.queue.pop_blocking()
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.queue.is_closed()
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    pub(crate) fn close(&self) {
        if self.queue.close() {
            tracing::debug!(pool = self.id, "pool closed");
        }
    }

    pub(crate) fn terminate(&self) {
        self.terminated.store(true, Ordering::Release);
        self.close();
        let mut cancelled = 0_usize;
        while let Ok(job) = self.queue.try_pop() {
            cancel(job);
            cancelled += 1;
        }
        self.stats
            .cancelled
            .fetch_add(cancelled as u64, std::sync::atomic::Ordering::Relaxed);
        tracing::debug!(pool = self.id, cancelled, "pool terminated");
    }

    /// Runs a job popped by worker `index`, or cancels it after `terminate`.
    pub(crate) fn execute(&self, job: Job, index: usize) {
        if self.is_terminated() {
            self.stats
                .cancelled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return cancel(job);
        }
        if unwind::catch(|| job.run(index, false)).is_err() {
            // Tasks catch user panics themselves; this only guards the worker
            // against a panicking `Drop` of something a task captured.
            tracing::error!(
                pool = self.id,
                worker = index,
                "a job panicked outside its task"
            );
        }
    }

    /// Jobs waiting for a worker: an upper bound, since a job claimed by a
    /// worker that waits on it stays counted until a worker pops it.
    /// Free places in a bounded queue now; `None` if it is unbounded.
    pub(crate) fn room(&self) -> Option<usize> {
        self.queue.room()
    }

    pub(crate) fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Resolves when every worker has exited.
    pub(crate) async fn wait_shutdown(&self) {
        // Nobody sends on this channel: `recv` ends with `Closed` when the
        // last worker drops its sender.
        let _ = self.shutdown.recv().await;
    }

    /// Joins the threads that have not been joined yet.
    pub(crate) fn join_threads(&self) {
        let threads = std::mem::take(&mut *sync::lock(&self.threads));
        for thread in threads {
            // Workers catch every user panic; a thread that died anyway (a
            // panicking `Drop` in a thread-local, say) has nothing to report.
            if thread.join().is_err() {
                tracing::error!(pool = self.id, "a worker thread panicked");
            }
        }
    }
}

/// Rejects a job that will not run; its result resolves as cancelled. A
/// panic from a captured value's `Drop` must not escape into the caller.
pub(crate) fn cancel(job: Job) {
    let dropped = unwind::catch(move || {
        job.reject(Cancellation::Terminated);
        drop(job);
    });
    if dropped.is_err() {
        tracing::warn!("a cancelled task's drop panicked");
    }
}
