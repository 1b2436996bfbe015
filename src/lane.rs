//! Priority lanes: [`Lane`] and [`Priority`], views over a pool's workers
//! with a name, a priority and a maximum parallelism.
//!
//! # Design
//!
//! A lane is not a second pool: its jobs go through the pool's one queue,
//! which has one channel per [`Priority`], and a worker always takes from
//! the highest non-empty one (`queue.rs`). A lane's *parallelism* cap is
//! kept apart from the queue: a capped lane's jobs wait in the lane's own
//! FIFO (`Sched::fifo`), and what goes on the queue, at the lane's
//! priority, is one *resume token* per job. A worker that pops a token
//! starts the lane's oldest job if the lane holds fewer than `max_workers`
//! workers; otherwise the token waits in the lane (`Sched::waiting`) and
//! the worker goes back to the queue. The worker that finishes one of the
//! lane's jobs while tokens wait pushes one back on the queue. So the
//! lane's jobs start in their order (the FIFO is read under its lock, not
//! in the order racing workers pop), they wait behind queued work of a
//! higher priority like any queued job, a worker runs one job per pop (its
//! `max_tasks_per_worker` quota holds), a capped lane never holds more than
//! its cap of workers, and nobody polls. Invariant: every job in the FIFO
//! has a token, on the queue or waiting, so it is run. Once the queue is
//! closed no token can be pushed, and the finishing worker starts the next
//! job itself. `terminate` cancels the jobs in the FIFO with the queued
//! ones (tokens left over find nothing to start).
//!
//! A parked job still holds its queue place (it counts as queued), and a
//! worker blocked on one of its own results may still run that job inline
//! (outside the cap: that worker is waiting anyway).
//!
//! Making a lane allocates its counters and registers a weak reference with
//! the pool (for `terminate`); it owns no thread and needs no closing.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;

use crate::metrics::{SharedStats, WorkerStats};
use crate::sync::{self, Mutex};

/// The order in which queued work starts: every queued job of a higher
/// priority starts before any of a lower one (jobs already running are not
/// interrupted). The pool's own work (not in a lane) is
/// [`Normal`](Priority::Normal).
///
/// # Examples
///
/// ```
/// use corepool::Priority;
///
/// assert!(Priority::High < Priority::Normal && Priority::Normal < Priority::Low);
/// assert_eq!(Priority::default(), Priority::Normal);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Priority {
    /// Starts before everything else queued (interactive requests).
    High,
    /// The pool's default.
    #[default]
    Normal,
    /// Starts only when nothing of a higher priority is queued (batch
    /// work, backfills).
    Low,
}

impl Priority {
    /// The queue's channel for this priority, highest first.
    pub(crate) fn level(self) -> usize {
        self as usize
    }
}

/// The options of a priority lane: a name, a [`Priority`] and a maximum
/// number of workers. [`Pool::lane`](crate::Pool::lane) turns it into a view
/// of the pool that submits into the lane.
///
/// # Examples
///
/// ```
/// use corepool::{Lane, Pool, Priority};
///
/// let pool = Pool::new(4)?;
/// // Batch work never takes more than one of the four workers, and starts
/// // only when no interactive work is queued.
/// let batch = pool.lane(Lane::new("batch").max_workers(1).priority(Priority::Low))?;
/// let interactive = pool.lane(Lane::new("interactive").priority(Priority::High))?;
/// let mut report = batch.spawn(|| (0..1000_u64).sum::<u64>());
/// assert_eq!(interactive.run(|| 2 + 2)?, 4);
/// assert_eq!(report.get()?, 499_500);
/// assert_eq!(batch.metrics().completed, 1); // a lane counts its own jobs
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Lane {
    name: String,
    priority: Priority,
    max_workers: Option<usize>,
}

impl Lane {
    /// A lane named `name` (it names the lane's jobs' spans), of
    /// [`Normal`](Priority::Normal) priority and no cap.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let lane = pool.lane(corepool::Lane::new("thumbnails"))?;
    /// assert_eq!(lane.run(|| 1)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(name: impl Into<String>) -> Lane {
        Lane {
            name: name.into(),
            priority: Priority::Normal,
            max_workers: None,
        }
    }

    /// The lane's priority. Defaults to [`Priority::Normal`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{Lane, Priority};
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let urgent = pool.lane(Lane::new("urgent").priority(Priority::High))?;
    /// assert_eq!(urgent.run(|| "first")?, "first");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn priority(mut self, priority: Priority) -> Lane {
        self.priority = priority;
        self
    }

    /// The most workers the lane's jobs may occupy at once. Defaults to no
    /// cap (all of them). [`Pool::lane`](crate::Pool::lane) refuses 0.
    ///
    /// A job that holds one of the lane's places while it waits for
    /// another job of the same lane keeps that place: a blocking wait
    /// (`get`, `map`, `apply`) runs the job it waits for inline, as any
    /// nested wait on a worker does, but a wait through a channel, a timed
    /// wait that gives up, or a job that is not its own result, can wait
    /// for a place it holds itself (with a cap of 1: forever).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let one = pool.lane(corepool::Lane::new("one at a time").max_workers(1))?;
    /// assert_eq!(one.map(|x: u32| x + 1, 0..4)?, [1, 2, 3, 4]);
    /// assert!(pool.lane(corepool::Lane::new("none").max_workers(0)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn max_workers(mut self, workers: usize) -> Lane {
        self.max_workers = Some(workers);
        self
    }

    /// The cap asked for, if any (`Some(0)` is refused when the lane is made).
    pub(crate) fn cap(&self) -> Option<usize> {
        self.max_workers
    }

    pub(crate) fn into_core<J>(self) -> LaneCore<J> {
        LaneCore {
            name: self.name,
            priority: self.priority,
            cap: self.max_workers.unwrap_or(usize::MAX),
            sched: Mutex::new(Sched {
                running: 0,
                fifo: VecDeque::new(),
                waiting: 0,
            }),
            stats: WorkerStats::default(),
            shared: SharedStats::default(),
            queued: AtomicUsize::new(0),
        }
    }
}

impl fmt::Debug for Lane {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lane")
            .field("name", &self.name)
            .field("priority", &self.priority)
            .field("max_workers", &self.max_workers)
            .finish()
    }
}

/// A lane as the pool keeps it: its options, its parked jobs (`J`, the
/// queue's job type) and its counters.
pub(crate) struct LaneCore<J> {
    pub(crate) name: String,
    pub(crate) priority: Priority,
    cap: usize,
    sched: Mutex<Sched<J>>,
    /// What the lane's jobs did (written by every worker that runs one).
    pub(crate) stats: WorkerStats,
    /// Submitted, rejected and cancelled-while-queued jobs of the lane.
    pub(crate) shared: SharedStats,
    queued: AtomicUsize,
}

struct Sched<J> {
    /// Jobs of the lane that hold a worker now (see the module docs).
    running: usize,
    /// The lane's jobs not started yet, oldest first.
    fifo: VecDeque<J>,
    /// Tokens popped while the lane was at its cap.
    waiting: usize,
}

impl<J> LaneCore<J> {
    /// Whether the lane caps its parallelism below any pool's size.
    pub(crate) fn is_capped(&self) -> bool {
        self.cap != usize::MAX
    }

    /// Puts a job at the back of the lane (its token goes on the queue).
    pub(crate) fn push(&self, job: J) {
        sync::lock(&self.sched).fifo.push_back(job);
    }

    /// Takes back the newest job that `is_it` recognizes (its token could
    /// not be queued: the queue closed meanwhile).
    pub(crate) fn withdraw(&self, is_it: impl Fn(&J) -> bool) -> Option<J> {
        let mut sched = sync::lock(&self.sched);
        let at = sched.fifo.iter().rposition(is_it)?;
        sched.fifo.remove(at)
    }

    /// A token arrived: the oldest job, with one of the lane's places held
    /// until [`finish`](Self::finish); `None` if the lane is at its cap
    /// (the token waits) or has no job left (`terminate` took them).
    pub(crate) fn start_next(&self) -> Option<J> {
        let mut sched = sync::lock(&self.sched);
        if sched.fifo.is_empty() {
            return None;
        }
        if sched.running >= self.cap {
            sched.waiting += 1;
            return None;
        }
        sched.running += 1;
        sched.fifo.pop_front()
    }

    /// A job of the lane ended: its place is given back. `true` if a token
    /// waits, which must then go back on the queue (or, the queue closed,
    /// [`start_next`](Self::start_next) be called at once).
    pub(crate) fn finish(&self) -> bool {
        let mut sched = sync::lock(&self.sched);
        sched.running -= 1;
        if sched.waiting > 0 {
            sched.waiting -= 1;
            true
        } else {
            false
        }
    }

    /// Takes every job not started (`terminate` cancels them).
    pub(crate) fn take_parked(&self) -> Vec<J> {
        sync::lock(&self.sched).fifo.drain(..).collect()
    }

    /// One more job of the lane is queued.
    pub(crate) fn queued_one(&self) {
        self.queued.fetch_add(1, Relaxed);
    }

    /// A queued job of the lane was claimed.
    pub(crate) fn claimed_one(&self) {
        self.queued.fetch_sub(1, Relaxed);
    }

    /// Jobs of the lane waiting for a worker (parked ones included).
    pub(crate) fn queued(&self) -> usize {
        self.queued.load(Relaxed)
    }
}
