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

use std::future::Future;
use std::sync::Arc;
use std::sync::Weak;
use std::sync::atomic::AtomicU64 as StdAtomicU64;
use std::sync::atomic::{AtomicBool as StdAtomicBool, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::Duration;

use async_channel::{Receiver, Sender};

use crate::cost::ItemCost;
use crate::error::{Cancellation, SubmitError};
use crate::job::{Head, Job, Labels, LaneRef, Route, Task, Worker};
use crate::lane::{Lane, LaneCore};
use crate::metrics::{SharedStats, WorkerStats};
use crate::places::Places;
use crate::queue::{Empty, Queue};
use crate::sync::{self, Mutex, Ordering};
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
    queue: Queue,
    pub(crate) places: Places,
    /// Shared with the workers' `is_cancelled` (see `cancel.rs`).
    terminated: Arc<StdAtomicBool>,
    next_job: StdAtomicU64,
    /// Every worker holds a clone of the matching sender and never sends:
    /// this receiver reports `Closed` once the last worker has exited.
    shutdown: Receiver<()>,
    threads: Mutex<Threads>,
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

/// The threads to join: the current one of each worker index, and the
/// recycled ones that may still be running their thread-local destructors.
#[derive(Default)]
struct Threads {
    current: Vec<JoinHandle<()>>,
    retired: Vec<JoinHandle<()>>,
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

/// A capped lane's resume token (see `lane.rs`): on the queue for one of
/// the lane's jobs, at the lane's priority. Not work: never counted, holds
/// no place.
struct LaneResume {
    head: Head,
}

impl LaneResume {
    fn new(lane: LaneRef) -> Self {
        let labels = Labels {
            id: 0,
            kind: "lane-resume",
            chunk: 0,
            stateful: false,
        };
        let route = Route {
            lane: Some(lane),
            deadline: None,
        };
        LaneResume {
            head: Head::new(labels, route),
        }
    }
}

impl Task for LaneResume {
    fn run(self: Arc<Self>, _: &Worker<'_>) -> bool {
        false // `Registry::execute` resumes the lane instead
    }

    fn reject(&self, _: &Places, _: Cancellation) -> bool {
        false
    }

    fn may_run_inline(&self) -> bool {
        false
    }

    fn head(&self) -> &Head {
        &self.head
    }

    fn is_lane_resume(&self) -> bool {
        true
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
            threads: Mutex::new(Threads::default()),
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
        sync::lock(&self.threads).current.push(handle);
    }

    /// Puts a recycled worker's new thread in its slot. The old thread is
    /// kept to be joined (it is about to exit), so `join` also waits for its
    /// thread-local destructors; old threads that have already exited are
    /// joined here, so the list stays short.
    pub(crate) fn replace_thread(&self, index: usize, handle: JoinHandle<()>) {
        let mut threads = sync::lock(&self.threads);
        let old = match threads.current.get_mut(index) {
            Some(slot) => Some(std::mem::replace(slot, handle)),
            None => {
                threads.current.push(handle);
                None
            }
        };
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut threads.retired)
            .into_iter()
            .partition(JoinHandle::is_finished);
        threads.retired = running;
        threads.retired.extend(old);
        drop(threads);
        for thread in done {
            let _ = thread.join();
        }
    }

    /// Makes a lane of this pool.
    pub(crate) fn add_lane(&self, lane: Lane) -> LaneRef {
        let lane = Arc::new(lane.into_core());
        let mut lanes = sync::lock(&self.lanes);
        lanes.retain(|lane| lane.strong_count() > 0);
        lanes.push(Arc::downgrade(&lane));
        lane
    }

    /// Counts one refusal (a job, or a map refused before it was cut), in
    /// the pool and its lane.
    pub(crate) fn count_rejected(&self, lane: Option<&LaneRef>) {
        self.stats.rejected.fetch_add(1, Relaxed);
        if let Some(lane) = lane {
            lane.shared.rejected.fetch_add(1, Relaxed);
        }
    }

    pub(crate) fn next_job_id(&self) -> u64 {
        self.next_job.fetch_add(1, Relaxed)
    }

    /// Queues a job, or says why not. Counts it as submitted or rejected.
    pub(crate) fn push(&self, job: Job) -> Result<(), Refused> {
        let lane = job.head().lane().cloned();
        self.try_push(job).inspect_err(|_| {
            self.count_rejected(lane.as_ref());
        })
    }

    /// Queues a job, or says why not, counting only a success: for a caller
    /// that does something else with a refused job (waits for room, runs it
    /// in place), which is then counted.
    pub(crate) fn try_push(&self, job: Job) -> Result<(), Refused> {
        if self.queue.is_closed() {
            return Err(Refused::Closed);
        }
        if !self.places.try_take() {
            return Err(Refused::Full);
        }
        self.enqueue(job)
    }

    /// Takes a place for a permit (held until spent or given back): the
    /// refusal `try_push` would make.
    pub(crate) fn try_reserve(&self) -> Result<(), Refused> {
        if self.queue.is_closed() {
            return Err(Refused::Closed);
        }
        if !self.places.try_take() {
            return Err(Refused::Full);
        }
        self.places.hold();
        Ok(())
    }

    /// Takes a place for a permit once one is free; `Err(Closed)` if the
    /// pool closes first.
    pub(crate) async fn reserve(&self) -> Result<(), Refused> {
        let closed = || self.queue.is_closed();
        if self.places.take_when_free(closed).await {
            self.places.hold();
            Ok(())
        } else {
            Err(Refused::Closed)
        }
    }

    /// Gives back a place a permit held unused.
    pub(crate) fn unreserve(&self) {
        self.places.release_hold();
        self.places.give_back();
    }

    /// Queues a job on a place already taken (a permit's, or one taken
    /// beyond the capacity when `forced`). A queue closed meanwhile
    /// resolves the job as cancelled (`PoolClosed`).
    pub(crate) fn push_placed(&self, job: Job, forced: bool) {
        if forced {
            self.places.take_forced();
        } else {
            self.places.release_hold(); // the permit's place passes to the job
        }
        if let Err(why) = self.enqueue(job.clone()) {
            self.count_rejected(job.head().lane());
            job.reject(&self.places, why.cancellation());
        }
    }

    /// Queues a job on a place taken by `try_reserve`; gives the place back
    /// (and counts a refusal) if the queue closed meanwhile.
    pub(crate) fn enqueue_reserved(&self, job: Job) -> Result<(), Refused> {
        self.places.release_hold(); // the place passes to the job
        let lane = job.head().lane().cloned();
        self.enqueue(job).inspect_err(|_| {
            self.count_rejected(lane.as_ref());
        })
    }

    /// Queues a job that holds a place; gives the place back if the queue
    /// closed meanwhile.
    fn enqueue(&self, job: Job) -> Result<(), Refused> {
        let head = job.head();
        head.stamp_submitted();
        head.set_placed();
        let lane = head.lane().cloned();
        let level = lane.as_ref().map_or(1, |lane| lane.priority.level());
        if let Some(lane) = &lane {
            // Before the push: a worker may claim it at once.
            lane.queued_one();
        }
        // A capped lane's job waits in the lane; its token goes on the
        // queue (see `lane.rs`).
        let capped = lane.as_ref().filter(|lane| lane.is_capped());
        let pushed = match capped {
            None => self.queue.push(job.clone(), level).is_ok(),
            Some(lane) => {
                lane.push(job.clone());
                let token: Job = Arc::new(LaneResume::new(lane.clone()));
                let pushed = self.queue.push(token, level).is_ok();
                if !pushed {
                    lane.withdraw(|j| Arc::ptr_eq(j, &job));
                }
                pushed
            }
        };
        if pushed {
            self.stats.submitted.fetch_add(1, Relaxed);
            if let Some(lane) = &lane {
                lane.shared.submitted.fetch_add(1, Relaxed);
            }
            Ok(())
        } else {
            job.head().release_place(&self.places);
            Err(Refused::Closed)
        }
    }

    /// Queues a job, or resolves it as cancelled (shed) on this thread.
    pub(crate) fn submit(&self, job: Job) {
        if let Err(why) = self.push(job.clone()) {
            job.reject(&self.places, why.cancellation());
        }
    }

    /// Queues a later chunk of a map admitted by its first: within the
    /// capacity, whatever the queue's wait (the wait is the map's own), or
    /// resolves it as cancelled (shed).
    pub(crate) fn submit_more(&self, job: Job) {
        let refused = if self.queue.is_closed() {
            Some(Refused::Closed)
        } else if !self.places.try_take_room() {
            Some(Refused::Full)
        } else {
            self.enqueue(job.clone()).err()
        };
        if let Some(why) = refused {
            self.count_rejected(job.head().lane());
            job.reject(&self.places, why.cancellation());
        }
    }

    /// Queues a job for the worker `index` that will block on it; if the
    /// queue is full, that worker runs it right here instead of shedding it
    /// (it would run it inline while waiting anyway). A job that may not run
    /// here (its state is lent) is shed as usual.
    pub(crate) fn submit_or_run_here(&self, job: Job, index: usize, generation: u64) {
        match self.try_push(job.clone()) {
            Ok(()) => {}
            Err(Refused::Full) if job.may_run_inline() => self.run_here(job, index, generation),
            Err(why) => {
                self.count_rejected(job.head().lane());
                job.reject(&self.places, why.cancellation());
            }
        }
    }

    /// Queues a job once a place is free; `Err(Closed)` if the pool closes
    /// first. Dropping the future gives up without queuing.
    pub(crate) fn push_when_room(
        self: &Arc<Self>,
        job: Job,
    ) -> impl Future<Output = Result<(), Refused>> + Send + 'static {
        let registry = self.clone();
        async move {
            let lane = job.head().lane().cloned();
            let closed = || registry.queue.is_closed();
            if !registry.places.take_when_free(closed).await {
                registry.count_rejected(lane.as_ref());
                return Err(Refused::Closed);
            }
            registry.enqueue(job).inspect_err(|_| {
                registry.count_rejected(lane.as_ref());
            })
        }
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
        let threads = std::mem::take(&mut *sync::lock(&self.threads));
        for thread in threads.retired.into_iter().chain(threads.current) {
            // Workers catch every user panic; a thread that died anyway (a
            // panicking `Drop` in a thread-local, say) has nothing to report.
            if thread.join().is_err() {
                tracing::error!(pool = self.id, "a worker thread panicked");
            }
        }
    }
}
