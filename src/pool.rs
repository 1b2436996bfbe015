//! [`Pool`]: the public handle. Every public method of the pool is here, each
//! a line or two over its machinery: the lifecycle (`registry.rs`), the door
//! (`work/`), the maps (`map/`) and the streams (`imap/`).

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use crate::args::TupleFn;
use crate::blocking;
use crate::builder::PoolBuilder;
use crate::error::{BuildError, JoinError, SubmitError, WaitError, WouldDeadlock};
use crate::imap::{self, Imap, ImapUnordered, Input};
use crate::job::LaneRef;
use crate::lane::Lane;
use crate::permit::{Permit, Reserve, ReserveError};
use crate::registry::{Owner, Registry};
use crate::result::AsyncResult;
use crate::work::sealed::{Door, Mode};
use crate::work::{Map, Stateless, Submit, Work, admitted};
use crate::worker;

/// A pool of dedicated CPU worker threads with Python's `multiprocessing.Pool`
/// API, bridged to async Rust.
///
/// `Pool` is a cheap handle: clone it into every web handler or task that
/// needs it (`Clone + Send + Sync`, an `Arc` inside). Work runs on the pool's
/// own OS threads, never on the threads of the async runtime that awaits it.
/// The results are runtime-agnostic futures; running work needs no runtime
/// at all.
///
/// | Python | corepool | returns |
/// |---|---|---|
/// | `apply(f, args)` | [`apply`](Pool::apply) | `Result<T, WaitError>` (blocks) |
/// | `apply_async(f, args, callback, error_callback)` | [`apply_async`](Pool::apply_async); with callbacks, [`spawn`](Pool::spawn)`(`[`Apply`](crate::Apply)`::new(f).callback(..))` | [`AsyncResult<T>`](crate::AsyncResult) |
/// | `map(f, it, chunksize)` | [`map`](Pool::map); with options, [`run`](Pool::run)`(`[`Map`](crate::Map)`::new(f, it).chunksize(n))` | `Result<Vec<T>, WaitError>` (blocks) |
/// | `map_async(...)` | [`map_async`](Pool::map_async); with options, [`spawn`](Pool::spawn)`(Map::new(..)..)` | `AsyncResult<Vec<T>>` |
/// | `starmap(f, it)` / `starmap_async` | [`starmap`](Pool::starmap), [`starmap_async`](Pool::starmap_async) | as `map` |
/// | `imap(f, it)` / `imap_unordered` | [`imap`](Pool::imap), [`imap_unordered`](Pool::imap_unordered) | a `Stream` |
/// | `close()`, `terminate()`, `join()` | [`close`](Pool::close), [`terminate`](Pool::terminate), [`join`](Pool::join), [`join_async`](Pool::join_async) | |
///
/// Beyond Python, one door admits every kind of work ([`Work`]: a closure,
/// an [`Apply`](crate::Apply), a [`Map`]) in the mode a caller needs:
/// [`spawn`](Pool::spawn) (shed if the bounded queue is full),
/// [`offer`](Pool::offer) (refuse at once, handing the work back: a web
/// handler's 503), [`submit`](Pool::submit) (wait for room), and
/// [`run`](Pool::run) (block for the value).
///
/// Dropping the last handle closes the pool without blocking: queued work
/// still runs, and every outstanding result still resolves.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use corepool::Pool;
///
/// let pool = Pool::new(4)?;
/// let squares = pool.map_async(|x: u64| x * x, 0..8).await?;
/// assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49]);
///
/// let sum = pool.apply_async(|| (1..=100_u64).sum::<u64>()).await?;
/// assert_eq!(sum, 5050);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Pool {
    handle: Arc<Owner>,
    /// The lane this handle submits into, if it is a lane's view.
    lane: Option<LaneRef>,
}

impl Pool {
    /// A pool of `workers` threads.
    ///
    /// # Errors
    ///
    /// `workers == 0`, or a thread could not be spawned (see
    /// [`PoolBuilder::build`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// assert_eq!(pool.workers(), 2);
    /// assert!(corepool::Pool::new(0).is_err());
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn new(workers: usize) -> Result<Pool, BuildError> {
        PoolBuilder::new().workers(workers).build()
    }

    /// A [`PoolBuilder`] for thread names, stack size and an initializer.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).build()?;
    /// assert_eq!(pool.workers(), 1);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn builder() -> PoolBuilder {
        PoolBuilder::new()
    }

    pub(crate) fn from_registry(registry: Arc<Registry>) -> Pool {
        Pool {
            handle: Arc::new(Owner { registry }),
            lane: None,
        }
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.handle.registry
    }

    pub(crate) fn owner(&self) -> &Arc<Owner> {
        &self.handle
    }

    /// Whose jobs this handle's `imap`s make.
    fn target(&self) -> imap::Target {
        imap::Target {
            stateful: false,
            lane: self.lane.clone(),
        }
    }

    pub(crate) fn id(&self) -> u64 {
        self.handle.registry.id
    }

    pub(crate) fn door(&self, stateful: bool, mode: Mode) -> Door<'_> {
        Door {
            registry: self.registry(),
            stateful,
            mode,
            lane: self.lane.as_ref(),
        }
    }

    /// The mode of a blocking call: on one of this pool's workers, the work
    /// may run right here.
    pub(crate) fn blocking_mode(&self) -> Result<Mode, WouldDeadlock> {
        blocking::ensure_can_block(self.id())?;
        Ok(match worker::current_of(self.id()) {
            Some(own) => Mode::Here {
                index: own.index,
                generation: own.generation,
            },
            None => Mode::Shed,
        })
    }

    /// The number of worker threads.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corepool::Pool::new(3)?.workers(), 3);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn workers(&self) -> usize {
        self.handle.registry.workers
    }

    /// A snapshot of the pool's counters: workers, busy workers, queued
    /// jobs, and monotonic counts of submitted, rejected, completed, failed
    /// and cancelled jobs with their queue wait and run time, totals and
    /// distributions (see [`Metrics`](crate::Metrics)). No lock: relaxed
    /// loads of each worker's counters and of its two histograms' 496
    /// buckets each (microseconds per worker; fine for a scrape, not for a
    /// hot loop). When the pool is idle,
    /// `submitted == completed + failed + cancelled`.
    ///
    /// On a lane's view ([`lane`](Pool::lane)) the counts are the lane's
    /// own: its jobs, its busy workers, its queued jobs.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// pool.map(|x: u32| x, 0..100)?;
    /// let m = pool.metrics();
    /// assert_eq!(m.submitted, m.completed); // every chunk ran
    /// assert_eq!(m.queued, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn metrics(&self) -> crate::Metrics {
        let registry = self.registry();
        let mut metrics = match &self.lane {
            None => crate::Metrics::collect(
                registry.workers,
                registry.queued(),
                &registry.stats,
                registry.worker_stats.iter().map(|w| &**w),
                None,
            ),
            Some(lane) => crate::Metrics::collect(
                registry.workers,
                lane.queued(),
                &lane.shared,
                [&lane.stats],
                Some(lane.stats.running()),
            ),
        };
        metrics.reserved = registry.places.held();
        metrics
    }

    /// A view of this pool that submits into a priority lane: the same
    /// workers, queue and lifecycle, with the lane's [`Priority`](crate::Priority)
    /// (its queued jobs start before or after others) and parallelism cap
    /// (its jobs never occupy more than `max_workers` workers at once, so
    /// batch work cannot take the workers interactive work needs). Every
    /// method works on the view, Python's eight names included; its
    /// [`metrics`](Pool::metrics) are the lane's. A lane costs an
    /// allocation and needs no closing; [`close`](Pool::close) and
    /// [`terminate`](Pool::terminate) on a view act on the whole pool.
    /// A view of a view is a view of the pool in the new lane.
    ///
    /// Each call makes a **new** lane, with its own cap and counters: make
    /// a lane once (at start-up) and clone the view where it is needed.
    /// Two views made by separate calls do not share a cap, even with the
    /// same name.
    ///
    /// # Errors
    ///
    /// [`BuildError`] if the lane's `max_workers` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{Lane, Pool, Priority};
    ///
    /// let pool = Pool::new(2)?;
    /// let batch = pool.lane(Lane::new("batch").max_workers(1).priority(Priority::Low))?;
    /// let mut nightly = batch.map_async(|x: u64| x * x, 0..1_000);
    /// assert_eq!(pool.apply(|| "served first")?, "served first");
    /// assert_eq!(nightly.get()?.len(), 1_000);
    /// assert!(batch.metrics().completed >= 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lane(&self, lane: Lane) -> Result<Pool, BuildError> {
        if lane.cap() == Some(0) {
            return Err(BuildError::zero_lane_workers());
        }
        Ok(Pool {
            handle: self.handle.clone(),
            lane: Some(self.registry().add_lane(lane)),
        })
    }

    /// Whether [`close`](Pool::close) or [`terminate`](Pool::terminate) was
    /// called.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert!(!pool.is_closed());
    /// pool.close();
    /// assert!(pool.is_closed());
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.handle.registry.is_closed()
    }

    /// Stops accepting work (Python's `close()`). Work already queued still
    /// runs and its results are delivered; the workers exit when the queue
    /// is empty. Later submissions resolve at once to an error of kind
    /// cancelled ([`Cancellation::PoolClosed`](crate::Cancellation::PoolClosed)),
    /// and [`offer`](Pool::offer) and [`submit`](Pool::submit) hand the
    /// work back. Running work is not cancelled. Idempotent; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let mut queued = pool.apply_async(|| 1);
    /// pool.close();
    /// assert_eq!(queued.get()?, 1);
    /// let refused = pool.apply(|| 2).unwrap_err();
    /// assert_eq!(refused.cancellation(), Some(corepool::Cancellation::PoolClosed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.handle.registry.close();
    }

    /// Stops accepting work and cancels the work that has not started
    /// (Python's `terminate()`, without its hangs: CPython gh-79659).
    ///
    /// Queued jobs are dropped unrun and their results resolve at once to a
    /// cancelled error ([`Cancellation::Terminated`](crate::Cancellation::Terminated)).
    /// Tasks already running cannot be interrupted (threads are not
    /// processes): [`is_cancelled`](crate::is_cancelled) tells them to stop
    /// (they then resolve as terminated), and those that do not ask finish
    /// and deliver their results. Idempotent; never blocks. Follow with
    /// [`join`](Pool::join) to wait for the running tasks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (started, has_started) = mpsc::channel();
    /// let (finish, may_finish) = mpsc::channel::<()>();
    /// let mut running = pool.apply_async(move || {
    ///     started.send(()).unwrap();
    ///     may_finish.recv().unwrap(); // hold the only worker
    ///     1
    /// });
    /// has_started.recv()?;
    /// let mut queued = pool.apply_async(|| 2);
    /// pool.terminate();
    /// assert!(queued.get().unwrap_err().is_cancelled());
    /// finish.send(())?;
    /// assert_eq!(running.get()?, 1);
    /// pool.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn terminate(&self) {
        self.handle.registry.terminate();
    }

    fn join_check(&self) -> Result<(), JoinError> {
        if !self.is_closed() {
            return Err(JoinError::not_closed());
        }
        if worker::is_worker_of(self.id()) {
            return Err(JoinError::refused(WouldDeadlock::new(
                "join called from one of the pool's own workers would wait for itself",
            )));
        }
        Ok(())
    }

    /// Blocks until the queued work is done and every worker thread has
    /// exited (Python's `join()`).
    ///
    /// # Errors
    ///
    /// A [`JoinError`] that [`is_not_closed`](JoinError::is_not_closed)
    /// unless [`close`](Pool::close) or [`terminate`](Pool::terminate) was
    /// called first (as Python, which raises `ValueError`); one with a
    /// [`would_deadlock`](JoinError::would_deadlock) reason when called from
    /// one of the pool's own workers, or on the thread of a `current_thread`
    /// tokio runtime (use [`join_async`](Pool::join_async) there).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// assert!(pool.join().unwrap_err().is_not_closed());
    /// pool.apply_async(|| ()).detach();
    /// pool.close();
    /// pool.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn join(&self) -> Result<(), JoinError> {
        self.join_check()?;
        let registry = self.registry();
        let mut shutdown = pin!(registry.wait_shutdown());
        blocking::block_on(self.id(), |cx| shutdown.as_mut().poll(cx))
            .map_err(JoinError::refused)?;
        registry.join_threads();
        Ok(())
    }

    /// Resolves when the queued work is done and every worker thread has
    /// exited: the async form of [`join`](Pool::join).
    ///
    /// # Errors
    ///
    /// As [`join`](Pool::join), except that it is fine inside any runtime.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future (in a `select!`, say) changes nothing: the pool
    /// shuts down all the same, and a new `join_async` or
    /// [`join`](Pool::join) waits for it again.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), corepool::JoinError> {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let r = pool.apply_async(|| 5);
    /// pool.close();
    /// pool.join_async().await?;
    /// assert!(r.ready());
    /// # Ok(()) }
    /// ```
    pub fn join_async(&self) -> impl Future<Output = Result<(), JoinError>> + Send + 'static {
        let check = self.join_check();
        let registry = self.registry().clone();
        async move {
            check?;
            registry.wait_shutdown().await;
            Ok(())
        }
    }
}

// ===== the door =====

impl Pool {
    /// Waits for a place in the bounded queue and holds it: the
    /// [`Permit`] then submits work that cannot be refused for lack of room
    /// (an unbounded queue always has room). For admission that must
    /// happen before the work exists: a `tower` service's `poll_ready`, a
    /// consumer that takes a message from a broker only once the pool can
    /// run it. [`submit`](Pool::submit) is this with the work in hand.
    ///
    /// # Errors
    ///
    /// [`ReserveError::Closed`] if the pool is closed before a place frees.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it resolves holds nothing (see [`Reserve`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = corepool::Pool::builder().workers(2).queue_capacity(8).build()?;
    /// let mut results = Vec::new();
    /// for i in 0..32_u64 {
    ///     let permit = pool.reserve().await?; // backpressure: waits while full
    ///     results.push(permit.spawn(move || i * i));
    /// }
    /// let mut sum = 0;
    /// for r in results {
    ///     sum += r.await?;
    /// }
    /// assert_eq!(sum, (0..32).map(|i| i * i).sum::<u64>());
    /// # Ok(()) }
    /// ```
    pub fn reserve(&self) -> Reserve {
        Reserve::new(self.registry().clone(), self.lane.clone())
    }

    /// Takes a place in the bounded queue now, or refuses at once: the
    /// [`Permit`] then submits work that cannot be refused for lack of
    /// room. [`offer`](Pool::offer) is this with the work in hand.
    ///
    /// # Errors
    ///
    /// [`ReserveError::Full`] when the queue is full (or its wait above the
    /// [`queue_wait_target`](PoolBuilder::queue_wait_target)),
    /// [`ReserveError::Closed`] after [`close`](Pool::close) or
    /// [`terminate`](Pool::terminate).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).queue_capacity(2).build()?;
    /// let (a, b) = (pool.try_reserve()?, pool.try_reserve()?);
    /// assert!(pool.try_reserve().unwrap_err().is_full()); // a 503, before any work is built
    /// assert_eq!(a.spawn(|| 1).get()?, 1);
    /// drop(b); // its place is given back
    /// assert!(pool.try_reserve().is_ok());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_reserve(&self) -> Result<Permit, ReserveError> {
        self.registry()
            .try_reserve()
            .map(|()| Permit::new(self.registry().clone(), self.lane.clone()))
            .map_err(ReserveError::from_refused)
    }

    /// Submits `work` and returns its [`AsyncResult`] at once; the work
    /// starts whether or not the result is awaited. On a bounded queue
    /// that is full, the work is **shed**: it never runs, and its result
    /// resolves to a cancelled error ([`Cancellation::QueueFull`](crate::Cancellation::QueueFull)).
    ///
    /// # Errors
    ///
    /// The result resolves to the work's error: see [`AsyncResult`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use corepool::{Apply, Map};
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let one = pool.spawn(|| 1);
    /// let two = pool.spawn(Apply::new(|| 2));
    /// let many = pool.spawn(Map::new(|x: u32| x + 1, 0..3));
    /// assert_eq!((one.await?, two.await?, many.await?), (1, 2, vec![1, 2, 3]));
    /// # Ok(()) }
    /// ```
    pub fn spawn<W: Work>(&self, work: W) -> AsyncResult<W::Output, W::Error> {
        admitted(work.start(self.door(false, Mode::Shed)))
    }

    /// Submits `work` if the pool can take it **now**, or refuses at once
    /// and hands it back: the shape of a web handler that answers 503 when
    /// the CPU is saturated (`SubmitError` carries the work, as
    /// async-channel's `try_send` does). A map is refused when the queue
    /// has no free place at the call; once admitted, it is cut to fit the
    /// room there was, and chunks that no longer fit because other
    /// submitters took the room meanwhile are shed (it resolves as
    /// [`QueueFull`](crate::Cancellation::QueueFull)).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] when the bounded queue is full,
    /// [`SubmitError::Closed`] after [`close`](Pool::close) or
    /// [`terminate`](Pool::terminate); the work is handed back unrun. An
    /// admitted submission's result resolves as [`AsyncResult`] says.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::SubmitError;
    ///
    /// let pool = corepool::Pool::builder().workers(1).queue_capacity(1).build()?;
    /// let (hold, release) = std::sync::mpsc::channel::<()>();
    /// let (started, has_started) = std::sync::mpsc::channel();
    /// let busy = pool.offer(move || { started.send(()).unwrap(); release.recv().ok(); })?;
    /// has_started.recv()?; // the worker is busy
    /// let queued = pool.offer(|| 1)?; // takes the only place
    /// match pool.offer(|| 2) {
    ///     Err(SubmitError::Full(work)) => assert_eq!(work(), 2), // nothing lost
    ///     other => panic!("{other:?}"),
    /// }
    /// drop(hold);
    /// # drop((busy, queued));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn offer<W: Work>(
        &self,
        work: W,
    ) -> Result<AsyncResult<W::Output, W::Error>, SubmitError<W>> {
        work.start(self.door(false, Mode::Offer))
    }

    /// Submits `work` once the bounded queue has room: a future that
    /// resolves, once the work is queued, to its [`AsyncResult`] (an
    /// unbounded queue always has room). A map waits for room chunk by
    /// chunk; its input is consumed at the call.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Closed`], with the work handed back, if the pool is
    /// closed before the work gets in.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it resolves drops the work unqueued (see
    /// [`Submit`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = corepool::Pool::builder().workers(1).queue_capacity(1).build()?;
    /// let mut results = Vec::new();
    /// for i in 0..4 {
    ///     // Waits while the queue is full, instead of shedding.
    ///     results.push(pool.submit(move || i * 10).await.map_err(|e| e.to_string())?);
    /// }
    /// let mut sum = 0;
    /// for r in results {
    ///     sum += r.await?;
    /// }
    /// assert_eq!(sum, 60);
    /// # Ok(()) }
    /// ```
    pub fn submit<W: Work>(&self, work: W) -> Submit<W, W::Output, W::Error> {
        Submit::new(work.start_when_room(self.door(false, Mode::Shed)))
    }

    /// Submits `work` and blocks until its value is ready. Safe inside a
    /// multi-thread tokio runtime (it blocks through `block_in_place`) and
    /// on the pool's own workers (nested work runs right there, or is run
    /// inline by the waiting worker, so nested calls cannot deadlock the
    /// pool); see the [crate docs](crate#where-blocking-calls-are-allowed).
    /// Admission is [`spawn`](Pool::spawn)'s: on a full bounded queue the
    /// work is shed (it never waits for room, which on a worker could wait
    /// on itself); `.await` [`submit`](Pool::submit) to wait for room.
    ///
    /// # Errors
    ///
    /// [`WaitError::Task`] with the work's error (see [`AsyncResult`]);
    /// [`WaitError::WouldDeadlock`] on the thread of a `current_thread`
    /// tokio runtime, where nothing is submitted.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{Apply, Map};
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// assert_eq!(pool.run(|| 6 * 7)?, 42);
    /// assert_eq!(pool.run(Map::new(|x: u8| x * 2, [1, 2]).chunksize(1))?, [2, 4]);
    /// let err = pool.run(Apply::fallible(|| "x".parse::<u8>())).unwrap_err();
    /// assert!(err.task_error().unwrap().user_error().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run<W: Work>(&self, work: W) -> Result<W::Output, WaitError<W::Error>> {
        let mode = self.blocking_mode()?;
        admitted(work.start(self.door(false, mode))).get()
    }
}

// ===== Python's eight names =====

impl Pool {
    /// Runs `f` on a worker and blocks until it returns (Python's `apply`):
    /// [`run`](Pool::run) of a closure. On one of the pool's own workers,
    /// `f` runs right there.
    ///
    /// # Errors
    ///
    /// [`WaitError::Task`] if `f` panics (the worker lives on), or with a
    /// cancelled error after [`close`](Pool::close) or
    /// [`terminate`](Pool::terminate); [`WaitError::WouldDeadlock`] on the
    /// thread of a `current_thread` tokio runtime, where `f` is not
    /// submitted.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let (x, y) = (1, 2);
    /// assert_eq!(pool.apply(move || x + y)?, 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply<F, T>(&self, f: F) -> Result<T, WaitError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run(f)
    }

    /// Submits `f` and returns its [`AsyncResult`] at once (Python's
    /// `apply_async`): [`spawn`](Pool::spawn) of a closure. Dropping the
    /// result before the work starts cancels it. For Python's `callback` and
    /// `error_callback`, spawn an [`Apply`](crate::Apply).
    ///
    /// # Errors
    ///
    /// The result resolves to a [`TaskError`](crate::TaskError): a panic, or a cancellation
    /// (the pool closed, its bounded queue full: [`QueueFull`](crate::Cancellation::QueueFull),
    /// terminated, or the result dropped); see [`AsyncResult`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let handles: Vec<_> = (0..4_u64).map(|i| pool.apply_async(move || i * 10)).collect();
    /// let mut sum = 0;
    /// for h in handles {
    ///     sum += h.await?;
    /// }
    /// assert_eq!(sum, 60);
    /// # Ok(()) }
    /// ```
    ///
    /// # Bounds
    ///
    /// The closure runs on another thread, later: it must be `Send` and
    /// own what it uses (`'static`). Neither of these compiles:
    ///
    /// ```compile_fail
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let shared = std::rc::Rc::new(5); // not Send
    /// let r = pool.apply_async(move || *shared);
    /// ```
    ///
    /// ```compile_fail
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let local = vec![1, 2, 3];
    /// let r = pool.apply_async(|| local.len()); // borrows a local: not 'static
    /// ```
    pub fn apply_async<F, T>(&self, f: F) -> AsyncResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn(f)
    }

    /// Applies `f` to every item on the pool and blocks until all are done,
    /// returning the results in input order (Python's `map`). The input is
    /// cut into chunks (see [`Map::chunksize`] for the default and for
    /// setting it, with [`run`](Pool::run)). Waiting is safe where
    /// [`apply`](Pool::apply) is.
    ///
    /// # Errors
    ///
    /// The first item to fail: a panic carries the item's
    /// [`index`](WaitError::index), and the chunks not yet started are
    /// cancelled. A cancellation (closed, terminated, queue full), and
    /// `WouldDeadlock` inside a `current_thread` tokio runtime (where
    /// nothing is submitted).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(4)?;
    /// let lengths = pool.map(|s: &str| s.len(), ["a", "bb", "ccc"])?;
    /// assert_eq!(lengths, [1, 2, 3]);
    /// assert!(pool.map(|x: u8| x, Vec::new())?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<I, T, F>(&self, f: F, items: I) -> Result<Vec<T>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        let mode = self.blocking_mode()?;
        admitted(Map::new(f, items).start_in::<Stateless>(self.door(false, mode))).get()
    }

    /// Submits `f` over every item and returns an [`AsyncResult`] of the
    /// results in input order (Python's `map_async`). The input is consumed
    /// at the call (as Python's `list(iterable)`); for a long or endless
    /// input, use [`imap`](Pool::imap). For options (chunksize, callbacks,
    /// fail-fast, fallible functions), [`spawn`](Pool::spawn) a [`Map`].
    ///
    /// # Errors
    ///
    /// The result resolves to the first error to arrive, a
    /// [`TaskError`](crate::TaskError):
    /// an item that panicked (with its index), or a cancellation (the pool
    /// closed, its bounded queue full, terminated); see [`AsyncResult`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let words = vec!["tokio".to_string(), "rayon".into(), "corepool".into()];
    /// let upper = pool.map_async(|w: String| w.to_uppercase(), words).await?;
    /// assert_eq!(upper, ["TOKIO", "RAYON", "COREPOOL"]);
    /// # Ok(()) }
    /// ```
    pub fn map_async<I, T, F>(&self, f: F, items: I) -> AsyncResult<Vec<T>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        admitted(Map::new(f, items).start_in::<Stateless>(self.door(false, Mode::Shed)))
    }

    /// Like [`map`](Pool::map) for a function of several arguments, fed with
    /// tuples (Python's `starmap`). Functions of 1 to 12 arguments work; see
    /// [`TupleFn`].
    ///
    /// # Errors
    ///
    /// As [`map`](Pool::map).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let pairs = vec![(1, 2), (3, 4), (5, 6)];
    /// assert_eq!(pool.starmap(|a, b| a * b, pairs)?, [2, 12, 30]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn starmap<I, F>(&self, f: F, items: I) -> Result<Vec<F::Output>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: TupleFn<I::Item>,
        F::Output: Send + 'static,
    {
        self.map(move |args| f.call_with(args), items)
    }

    /// The async form of [`starmap`](Pool::starmap) (Python's
    /// `starmap_async`).
    ///
    /// # Errors
    ///
    /// As [`map_async`](Pool::map_async).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let v = pool.starmap_async(|s: String, n: usize| s.repeat(n), [("ab".into(), 2)]).await?;
    /// assert_eq!(v, ["abab"]);
    /// # Ok(()) }
    /// ```
    pub fn starmap_async<I, F>(&self, f: F, items: I) -> AsyncResult<Vec<F::Output>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: TupleFn<I::Item>,
        F::Output: Send + 'static,
    {
        self.map_async(move |args| f.call_with(args), items)
    }

    /// Applies `f` to each item of `input` on the pool, yielding results in
    /// input order as a [`Stream`](futures::Stream) (Python's `imap`, done
    /// right). `input` is any iterator, or a stream through
    /// [`from_stream`](crate::from_stream).
    ///
    /// The input is pulled lazily, a bounded window ahead of what the
    /// consumer has taken (by default at least 4 chunks per worker, 64 items
    /// per worker, of at most 1 024 items each), so an endless input, a slow
    /// consumer or one very slow item cannot grow memory. Chunks adapt to
    /// the items' cost unless [`Imap::chunksize`] fixes them;
    /// [`Imap::buffersize`] sets the window. Consume it from sync code with
    /// [`Imap::into_blocking_iter`]. An iterator input is pulled on the
    /// thread that polls the stream: one that blocks (`BufRead::lines` on a
    /// pipe) blocks that thread; give async code a stream instead.
    ///
    /// Each item resolves on its own: a panic is that item's error (with its
    /// index) and the stream goes on. A function returning `Result` yields
    /// `Result<Result<T, E>, TaskError>` items.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use futures::StreamExt;
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let mut results = pool.imap(|x: u32| 10 / x, [5, 0, 2]);
    /// assert_eq!(results.next().await.unwrap()?, 2);
    /// let err = results.next().await.unwrap().unwrap_err();
    /// assert_eq!((err.is_panic(), err.index()), (true, Some(1)));
    /// assert_eq!(results.next().await.unwrap()?, 5); // the stream goes on
    /// assert!(results.next().await.is_none());
    /// # Ok(()) }
    /// ```
    pub fn imap<In, T, F>(&self, f: F, input: In) -> Imap<T>
    where
        In: Input,
        F: Fn(In::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        imap::ordered(&self.handle, f, input.into_stream(), self.target())
    }

    /// Like [`imap`](Pool::imap), but yields each result as soon as its
    /// chunk finishes (Python's `imap_unordered`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use futures::TryStreamExt;
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let mut v: Vec<u32> = pool.imap_unordered(|x: u32| x * 3, 0..5).try_collect().await?;
    /// v.sort();
    /// assert_eq!(v, [0, 3, 6, 9, 12]);
    /// # Ok(()) }
    /// ```
    pub fn imap_unordered<In, T, F>(&self, f: F, input: In) -> ImapUnordered<T>
    where
        In: Input,
        F: Fn(In::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        imap::unordered(&self.handle, f, input.into_stream(), self.target())
    }
}

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers())
            .field("lane", &self.lane.as_ref().map(|lane| &lane.name))
            .field("queued", &self.handle.registry.queued())
            .field("closed", &self.is_closed())
            .field("terminated", &self.handle.registry.is_terminated())
            .finish()
    }
}
