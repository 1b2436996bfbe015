//! [`Pool`]: the public handle, and the pool's lifecycle (close, terminate,
//! join). The submitting methods live beside their machinery: `apply.rs`,
//! `submit.rs` (offer, submit), `map/`, `imap/`, `stateful.rs`.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;

use crate::blocking;
use crate::builder::PoolBuilder;
use crate::error::{BuildError, JoinError, WouldDeadlock};
use crate::registry::Registry;
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
/// | `apply(f, args)` | [`apply`](Pool::apply) | `Result<T, TaskError>` (blocks) |
/// | `apply_async(f, args, callback, error_callback)` | [`apply_async`](Pool::apply_async), [`apply_async_with`](Pool::apply_async_with) | [`AsyncResult<T>`](crate::AsyncResult) |
/// | `map(f, it, chunksize)` | [`map`](Pool::map), [`map_with`](Pool::map_with) | `Result<Vec<T>, TaskError>` (blocks) |
/// | `map_async(...)` | [`map_async`](Pool::map_async), [`map_async_with`](Pool::map_async_with) | `AsyncResult<Vec<T>>` |
/// | `starmap(f, it)` / `starmap_async` | [`starmap`](Pool::starmap), [`starmap_async`](Pool::starmap_async) | as `map` |
/// | `imap(f, it)` / `imap_unordered` | [`imap`](Pool::imap), [`imap_unordered`](Pool::imap_unordered) | a `Stream` |
/// | `close()`, `terminate()`, `join()` | [`close`](Pool::close), [`terminate`](Pool::terminate), [`join`](Pool::join), [`join_async`](Pool::join_async) | |
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
    handle: Arc<Handle>,
}

/// Shared by every clone of a `Pool`; the workers hold the `Registry` alone,
/// so the pool closes when the last `Pool` clone goes.
struct Handle {
    registry: Arc<Registry>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.registry.close();
    }
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
            handle: Arc::new(Handle { registry }),
        }
    }

    pub(crate) fn registry(&self) -> &Arc<Registry> {
        &self.handle.registry
    }

    pub(crate) fn id(&self) -> u64 {
        self.handle.registry.id
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

    /// The number of jobs (single tasks or map chunks) waiting for a worker.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert_eq!(pool.queued(), 0);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn queued(&self) -> usize {
        self.handle.registry.queued()
    }

    /// A snapshot of the pool's counters: workers, busy workers, queued
    /// jobs, and monotonic counts of submitted, rejected, completed, failed
    /// and cancelled jobs with their total queue wait and run time (see
    /// [`Metrics`](crate::Metrics)). Cheap: relaxed loads of a few counters
    /// per worker, no lock.
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
        crate::Metrics::collect(
            registry.workers,
            registry.queued(),
            &registry.stats,
            &registry.worker_stats,
        )
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
    /// cancelled ([`Cancellation::PoolClosed`](crate::Cancellation::PoolClosed)).
    /// Idempotent; never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let mut queued = pool.apply_async(|| 1);
    /// pool.close();
    /// assert_eq!(queued.get()?, 1);
    /// let refused = pool.apply(|| 2).unwrap_err();
    /// assert_eq!(
    ///     refused.task_error().unwrap().cancellation(),
    ///     Some(corepool::Cancellation::PoolClosed)
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&self) {
        self.handle.registry.close();
    }

    /// Stops accepting work and cancels the work that has not started
    /// (Python's `terminate()`, without its hangs: CPython gh-79659).
    ///
    /// Queued jobs are dropped unrun and their results resolve at once to an
    /// cancelled error ([`Cancellation::Terminated`](crate::Cancellation::Terminated)). Tasks already
    /// running cannot be interrupted (threads are not processes): they finish
    /// and their results are delivered. Idempotent; never blocks. Follow with
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

impl fmt::Debug for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("workers", &self.workers())
            .field("queued", &self.queued())
            .field("closed", &self.is_closed())
            .field("terminated", &self.handle.registry.is_terminated())
            .finish()
    }
}
