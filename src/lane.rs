//! Priority lanes: [`Lane`] and [`Priority`], views over a pool's workers
//! with a name, a priority and a maximum parallelism.
//!
//! # Design
//!
//! A lane is not a second pool: its jobs go through the pool's one queue,
//! which has one channel per [`Priority`], and a worker always takes from
//! the highest non-empty one (`queue.rs`). A lane's *parallelism* cap is
//! kept where jobs start (`Registry::execute`): a worker that pops a job of
//! a lane already running `max_workers` jobs *parks* it in the lane
//! (`Sched::parked`) and goes back to the queue; the worker that finishes
//! one of the lane's jobs takes the oldest parked job next and runs it
//! itself. So a parked job always has a worker that will run it (the lane
//! is at its cap, so one of its jobs is running), a capped lane never holds
//! more than its cap of workers, its jobs keep their order, and nobody
//! polls. `terminate` cancels the parked jobs with the queued ones.
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
/// priority starts before any of a lower one. The pool's own work (not in a
/// lane) is [`Normal`](Priority::Normal).
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
                parked: VecDeque::new(),
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
    parked: VecDeque<J>,
}

impl<J> LaneCore<J> {
    /// Whether the lane caps its parallelism below any pool's size.
    pub(crate) fn is_capped(&self) -> bool {
        self.cap != usize::MAX
    }

    /// A worker popped `job`: `Some(job)` if it may run it now (it then
    /// holds one of the lane's places until [`next`](Self::next) says
    /// `None`), `None` if the lane is at its cap and the job is parked.
    pub(crate) fn admit(&self, job: J) -> Option<J> {
        let mut sched = sync::lock(&self.sched);
        if sched.running < self.cap {
            sched.running += 1;
            Some(job)
        } else {
            sched.parked.push_back(job);
            None
        }
    }

    /// The worker that ran one of the lane's jobs takes the oldest parked
    /// one, keeping its place; `None` (the place given back) if none.
    pub(crate) fn next(&self) -> Option<J> {
        let mut sched = sync::lock(&self.sched);
        let next = sched.parked.pop_front();
        if next.is_none() {
            sched.running -= 1;
        }
        next
    }

    /// Takes every parked job (`terminate` cancels them).
    pub(crate) fn take_parked(&self) -> Vec<J> {
        sync::lock(&self.sched).parked.drain(..).collect()
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
