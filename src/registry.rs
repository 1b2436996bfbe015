//! The state a pool's handles and its worker threads share: the job queue,
//! the lifecycle flags, and the shutdown signal.
//!
//! # Lifecycle protocol
//!
//! * `close` closes the queue: later pushes fail and are rejected as
//!   `Closed` on the submitting thread; what is queued still runs, and the
//!   workers exit once the queue is drained.
//! * `terminate` sets `terminated`, closes the queue, then drains it,
//!   rejecting every job it can still claim as `Terminated` (a shell whose
//!   job already ran inline is not counted again). A worker checks `terminated` before
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
//! # Counting
//!
//! Every job is counted once, when its fate at submission is known: as
//! `submitted` when it is queued (or run in place by the thread that waits
//! for it), as `rejected` when the pool refuses it. A job waiting for room
//! is counted when it gets in or gives up, not before. Every submitted job
//! is then counted once as completed, failed or cancelled: by the worker
//! that claims it (`job.rs`), or by `terminate` for the jobs it claims.
//!
//! The registry is freed when the last handle and the last worker are gone;
//! the `JoinHandle`s it holds are then dropped, which detaches threads that
//! were never joined, so their stacks are released when they exit.

use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::sync::atomic::{AtomicBool as StdAtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::Duration;

use async_channel::{Receiver, Sender};

use crate::cost::ItemCost;
use crate::error::{Cancellation, SubmitError};
use crate::job::{Job, LaneRef, Worker};
use crate::lane::{Lane, LaneCore};
use crate::metrics::{SharedStats, WorkerStats};
use crate::places::Places;
use crate::queue::{Empty, Queue};
use crate::resume::LaneResume;
use crate::sync::{self, Mutex, Ordering};
use crate::threads::Threads;
use crate::unwind;

/// Distinguishes pools, so a worker can tell its own pool's sync calls apart.
static NEXT_POOL_ID: StdAtomicU64 = StdAtomicU64::new(1);

/// Why the pool did not queue a job.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub(crate) enum Refused {
    /// The bounded queue has no free place.
    Full,
    /// The pool was closed or terminated.
    Closed,
}

impl Refused {
    /// The refusal as `offer` and `submit` report it, with the work.
    pub(crate) fn hand_back<W>(self, work: W) -> SubmitError<W> {
        match self {
            Refused::Full => SubmitError::Full(work),
            Refused::Closed => SubmitError::Closed(work),
        }
    }

    /// The reason a job shed for this resolves with.
    pub(crate) fn cancellation(self) -> Cancellation {
        match self {
            Refused::Full => Cancellation::QueueFull,
            Refused::Closed => Cancellation::PoolClosed,
        }
    }
}

pub(crate) struct Registry {
    pub(crate) id: u64,
    pub(crate) workers: usize,
    pub(crate) queue: Queue,
    pub(crate) places: Places,
    /// Shared with the workers' `is_cancelled` (see `cancel.rs`).
    terminated: Arc<StdAtomicBool>,
    next_job: StdAtomicU64,
    /// Every worker holds a clone of the matching sender and never sends:
    /// this receiver reports `Closed` once the last worker has exited.
    shutdown: Receiver<()>,
    threads: Threads,
    /// Counters of the submitting threads, and of each worker index.
    pub(crate) stats: SharedStats,
    /// What a map item has cost lately, for a map's default cut (see
    /// `map/mod.rs`).
    pub(crate) item_cost: Arc<ItemCost>,
    pub(crate) worker_stats: Vec<Arc<WorkerStats>>,
    /// A job that waited longer than this never runs.
    max_queue_wait: Option<Duration>,
    /// The lanes made on this pool, for `terminate` to reach their parked
    /// jobs (dead ones are pruned when a lane is made).
    lanes: Mutex<Vec<Weak<LaneCore<Job>>>>,
}

/// The admission options of a registry.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Admission {
    pub(crate) capacity: Option<usize>,
    pub(crate) wait_target: Option<Duration>,
    pub(crate) max_queue_wait: Option<Duration>,
}

/// What every `Pool` clone (and every `imap` stream and chunk) shares:
/// the registry, closed when the last owner goes. The workers hold the
/// `Registry` alone, so they do not keep the pool open.
pub(crate) struct Owner {
    pub(crate) registry: Arc<Registry>,
}

impl Drop for Owner {
    fn drop(&mut self) {
        self.registry.close();
    }
}

// ===== impl Registry =====

impl Registry {
    /// A registry with no threads yet, and the shutdown sender every worker
    /// must hold a clone of.
    pub(crate) fn new(workers: usize, admission: Admission) -> (Arc<Self>, Sender<()>) {
        let (shutdown_tx, shutdown) = async_channel::bounded(1);
        let registry = Registry {
            id: NEXT_POOL_ID.fetch_add(1, Relaxed),
            workers,
            queue: Queue::new(),
            places: Places::new(admission.capacity, admission.wait_target, workers),
            terminated: Arc::new(StdAtomicBool::new(false)),
            next_job: StdAtomicU64::new(0),
            shutdown,
            threads: Threads::default(),
            stats: SharedStats::default(),
            item_cost: Arc::default(),
            worker_stats: (0..workers).map(|_| Arc::default()).collect(),
            max_queue_wait: admission.max_queue_wait,
            lanes: Mutex::new(Vec::new()),
        };
        (Arc::new(registry), shutdown_tx)
    }

    /// The flag `is_cancelled` reads on this pool's workers.
    pub(crate) fn terminated_flag(&self) -> Arc<StdAtomicBool> {
        self.terminated.clone()
    }

    /// Records the thread of the next worker index (build order).
    pub(crate) fn add_thread(&self, handle: JoinHandle<()>) {
        self.threads.add(handle);
    }

    /// Puts a recycled worker's new thread in its slot (see `threads.rs`).
    pub(crate) fn replace_thread(&self, index: usize, handle: JoinHandle<()>) {
        self.threads.replace(index, handle);
    }

    /// Makes a lane of this pool.
    pub(crate) fn add_lane(&self, lane: Lane) -> LaneRef {
        let lane = Arc::new(lane.into_core());
        let mut lanes = sync::lock(&self.lanes);
        lanes.retain(|lane| lane.strong_count() > 0);
        lanes.push(Arc::downgrade(&lane));
        lane
    }

    pub(crate) fn next_job_id(&self) -> u64 {
        self.next_job.fetch_add(1, Relaxed)
    }

    /// Runs `job` at once on the worker `index` of this pool, which is the
    /// thread waiting for it (a nested sync call, a chunk's tail that could
    /// not be queued): counted as submitted, never queued.
    pub(crate) fn run_here(&self, job: Job, index: usize, generation: u64) {
        job.head().stamp_submitted();
        self.stats.submitted.fetch_add(1, Relaxed);
        if let Some(lane) = job.head().lane() {
            lane.shared.submitted.fetch_add(1, Relaxed);
        }
        let worker = self.worker(index, generation, true);
        unwind::quietly(move || {
            job.run(&worker);
        });
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
            self.places.wake_all();
            tracing::debug!(pool = self.id, "pool closed");
        }
    }

    pub(crate) fn terminate(&self) {
        self.terminated.store(true, Ordering::Release);
        self.close();
        let mut cancelled = 0_u64;
        while let Ok(job) = self.queue.try_pop() {
            cancelled += u64::from(self.cancel(job));
        }
        let lanes: Vec<_> = sync::lock(&self.lanes)
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        for lane in lanes {
            for job in lane.take_parked() {
                cancelled += u64::from(self.cancel(job));
            }
        }
        tracing::debug!(pool = self.id, cancelled, "pool terminated");
    }

    /// Rejects a queued job that will not run, counting it cancelled if it
    /// was still unclaimed. A panic from a captured value's `Drop` does not
    /// escape into the caller.
    fn cancel(&self, job: Job) -> bool {
        let lane = job.head().lane().cloned();
        let mut claimed = false;
        unwind::quietly(|| {
            claimed = job.reject(&self.places, Cancellation::Terminated);
            drop(job);
        });
        if claimed {
            self.stats.cancelled.fetch_add(1, Relaxed);
            if let Some(lane) = lane {
                lane.shared.cancelled.fetch_add(1, Relaxed);
            }
        }
        claimed
    }

    /// The worker `index` as a job sees it.
    pub(crate) fn worker(&self, index: usize, generation: u64, inline: bool) -> Worker<'_> {
        Worker {
            places: &self.places,
            stats: &self.worker_stats[index],
            index,
            generation,
            inline,
            max_queue_wait: self.max_queue_wait,
        }
    }

    /// Runs a job popped by worker `index`, or cancels it after `terminate`;
    /// returns how many jobs the worker ran. A job of a capped lane at its
    /// cap is parked instead (0 run), and a worker that ran a job of a
    /// capped lane runs the lane's parked jobs next (see `lane.rs`).
    pub(crate) fn execute(&self, job: Job, index: usize, generation: u64) -> usize {
        let lane = job.head().lane().filter(|lane| lane.is_capped()).cloned();
        let Some(lane) = lane else {
            self.execute_one(job, index, generation);
            return 1;
        };
        // Only tokens of a capped lane are on the queue (see `enqueue`).
        debug_assert!(job.is_lane_resume());
        let Some(mut job) = lane.start_next() else {
            return 0; // the lane is at its cap: the token waits there
        };
        let mut ran = 0;
        loop {
            self.execute_one(job, index, generation);
            ran += 1;
            if !lane.finish() {
                return ran;
            }
            // A token waits: back on the queue, behind work of a higher
            // priority.
            let token: Job = Arc::new(LaneResume::new(lane.clone()));
            if self.queue.push(token, lane.priority.level()).is_ok() {
                return ran;
            }
            // Closed: no token can be pushed; start the next job here.
            match lane.start_next() {
                Some(next) => job = next,
                None => return ran,
            }
        }
    }

    /// Runs one job, or cancels it after `terminate`. The job is dropped
    /// inside the guard too: the last reference to it may drop a user value
    /// whose `Drop` panics.
    fn execute_one(&self, job: Job, index: usize, generation: u64) {
        if self.is_terminated() {
            self.cancel(job);
            return;
        }
        let worker = self.worker(index, generation, false);
        unwind::quietly(move || {
            job.run(&worker);
        });
    }

    /// Free places in a bounded queue now; `None` if it is unbounded.
    pub(crate) fn room(&self) -> Option<usize> {
        self.places.room()
    }

    /// Jobs waiting for a worker (claimed jobs and places held by permits
    /// do not count).
    pub(crate) fn queued(&self) -> usize {
        self.places.queued()
    }

    /// Resolves when every worker has exited.
    pub(crate) async fn wait_shutdown(&self) {
        // Nobody sends on this channel: `recv` ends with `Closed` when the
        // last worker drops its sender.
        let _ = self.shutdown.recv().await;
    }

    /// Joins the threads that have not been joined yet, recycled ones too.
    pub(crate) fn join_threads(&self) {
        self.threads.join_all(self.id);
    }
}
