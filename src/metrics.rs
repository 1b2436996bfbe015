//! [`Metrics`]: a snapshot of a pool's counters, cheap enough to keep on
//! all the time.
//!
//! Each worker counts what it runs in counters of its own (no lock, no
//! shared cache line on the hot path: the worker is their only writer);
//! what happens on submitting threads (submissions, refusals, cancellations
//! of queued work) is counted in a few shared atomics. A snapshot sums them
//! with relaxed loads: each counter is exact and monotonic, the snapshot as
//! a whole is not atomic (as tokio-metrics' snapshots).

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::Duration;

use crate::histogram::{Histogram, Recorder};

/// How a job ended, as its worker counts it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ran {
    Completed,
    /// Panicked, or (fallible work) returned `Err`.
    Failed,
    /// Skipped (nobody wanted it) or stopped early (`is_cancelled`).
    Cancelled,
}

/// One worker's counters; written by that worker only.
#[derive(Debug, Default)]
pub(crate) struct WorkerStats {
    /// Jobs running on this worker now (more than 1 while one waits on
    /// another it runs inline).
    running: AtomicUsize,
    completed: AtomicU64,
    failed: AtomicU64,
    cancelled: AtomicU64,
    queued_ns: AtomicU64,
    run_ns: AtomicU64,
    queue_wait: Recorder,
    run_time: Recorder,
}

/// Counters updated by the threads that submit.
#[derive(Debug, Default)]
pub(crate) struct SharedStats {
    pub(crate) submitted: AtomicU64,
    pub(crate) rejected: AtomicU64,
    pub(crate) cancelled: AtomicU64,
    pub(crate) recycle_failures: AtomicU64,
}

impl WorkerStats {
    /// A job starts on this worker, after waiting `queued_ns` in the queue.
    pub(crate) fn started(&self, queued_ns: u64) {
        self.running.fetch_add(1, Relaxed);
        self.queued_ns.fetch_add(queued_ns, Relaxed);
        self.queue_wait.record_ns(queued_ns);
    }

    /// The job that started ended as `ran`, after running for `run_ns`.
    pub(crate) fn finished(&self, ran: Ran, run_ns: u64) {
        self.run_ns.fetch_add(run_ns, Relaxed);
        self.run_time.record_ns(run_ns);
        match ran {
            Ran::Completed => &self.completed,
            Ran::Failed => &self.failed,
            Ran::Cancelled => &self.cancelled,
        }
        .fetch_add(1, Relaxed);
    }

    /// The job that started no longer occupies the worker.
    pub(crate) fn stopped(&self) {
        self.running.fetch_sub(1, Relaxed);
    }

    /// Jobs running now.
    pub(crate) fn running(&self) -> usize {
        self.running.load(Relaxed)
    }
}

/// A snapshot of a pool's counters, from [`Pool::metrics`](crate::Pool::metrics).
///
/// The counts are monotonic since the pool was built; take two snapshots and
/// subtract for rates. Jobs are what the queue holds: one per `apply`, one
/// per chunk of a map or an `imap` (so `submitted` counts chunks, not
/// items). Every job is counted once as `submitted` or `rejected`, and every
/// submitted job once as `completed`, `failed` or `cancelled`: when the pool
/// is idle, `submitted == completed + failed + cancelled`.
///
/// # Examples
///
/// ```
/// let pool = corepool::Pool::new(2)?;
/// pool.apply(|| 1)?;
/// let _ = pool.apply(|| -> u8 { panic!("boom") });
/// let m = pool.metrics();
/// assert_eq!((m.workers, m.submitted, m.completed, m.failed), (2, 2, 1, 1));
/// assert!(m.run_time > std::time::Duration::ZERO);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Metrics {
    /// Worker threads.
    pub workers: usize,
    /// Workers running a job right now (on a lane's view: the lane's jobs
    /// running, a nested one run inline by a waiting job included).
    pub busy_workers: usize,
    /// Jobs waiting in the queue right now.
    pub queued: usize,
    /// Places of a bounded queue held by unspent [`Permit`](crate::Permit)s
    /// (the pool's, on a lane's view too): taken from the capacity, but no
    /// job waits in them yet.
    pub reserved: usize,
    /// Jobs accepted into the queue.
    pub submitted: u64,
    /// Jobs refused at submission: the queue was full, or the pool closed
    /// (a map refused before it was cut into jobs counts once; a refused
    /// [`try_reserve`](crate::Pool::try_reserve) holds no job and is not
    /// counted).
    pub rejected: u64,
    /// Jobs that ran to a value.
    pub completed: u64,
    /// Jobs that panicked, or (fallible work) returned `Err`.
    pub failed: u64,
    /// Jobs cancelled: queued work dropped by `terminate`, work nobody
    /// wanted any more, and tasks that stopped early on `is_cancelled`.
    pub cancelled: u64,
    /// Total time jobs spent waiting in the queue before they ran (from
    /// when they entered it: a submitter waiting for room is not counted).
    pub queue_wait: Duration,
    /// Total time jobs spent running.
    pub run_time: Duration,
    /// How long each job that started had waited in the queue: p50, p99
    /// (see [`Histogram`]).
    pub queue_wait_histogram: Histogram,
    /// How long each job ran (jobs skipped unrun count as 0).
    pub run_time_histogram: Histogram,
    /// Times a worker due for recycling (`max_tasks_per_worker`) could not
    /// start its replacement (the OS refused a thread, or the initializer
    /// panicked) and kept working instead. Each is also an `error` event.
    pub recycle_failures: u64,
}

impl Metrics {
    /// Sums the counters; `busy` overrides the count of busy workers (a
    /// lane's, whose one set of counters is shared by its workers).
    pub(crate) fn collect<'a>(
        workers: usize,
        queued: usize,
        shared: &SharedStats,
        per_worker: impl IntoIterator<Item = &'a WorkerStats>,
        busy: Option<usize>,
    ) -> Metrics {
        let mut m = Metrics {
            workers,
            queued,
            submitted: shared.submitted.load(Relaxed),
            rejected: shared.rejected.load(Relaxed),
            cancelled: shared.cancelled.load(Relaxed),
            recycle_failures: shared.recycle_failures.load(Relaxed),
            ..Metrics::default()
        };
        let (mut queued_ns, mut run_ns) = (0_u64, 0_u64);
        for w in per_worker {
            m.busy_workers += usize::from(w.running.load(Relaxed) > 0);
            m.completed += w.completed.load(Relaxed);
            m.failed += w.failed.load(Relaxed);
            m.cancelled += w.cancelled.load(Relaxed);
            queued_ns += w.queued_ns.load(Relaxed);
            run_ns += w.run_ns.load(Relaxed);
            w.queue_wait.add_to(&mut m.queue_wait_histogram);
            w.run_time.add_to(&mut m.run_time_histogram);
        }
        if let Some(busy) = busy {
            m.busy_workers = busy;
        }
        m.queue_wait = Duration::from_nanos(queued_ns);
        m.run_time = Duration::from_nanos(run_ns);
        m
    }
}
