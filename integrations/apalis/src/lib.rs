//! An [apalis](https://docs.rs/apalis) worker whose readiness is a corepool
//! [`Pool`]'s capacity: jobs from a queue (Redis, with
//! [`apalis_redis`]) run as CPU functions on corepool's worker threads, and a
//! worker process takes a job from the queue only when its pool has room.
//!
//! # How readiness reaches the queue
//!
//! [`CpuService`] is a `tower::Service<Task<Args>>` built on
//! [`corepool::PoolService`]: `poll_ready` takes a place in the pool's
//! bounded queue (`Pending` while the queue is full, woken when a place
//! frees) and `call` spends it. apalis 1.0's worker loop (`CallAll` in
//! `apalis-core`) polls, in this order, the backend's `poll_ready`
//! (heartbeats, acknowledgements), the service's `poll_ready`, and only then
//! the backend's `poll_next`, which fetches from Redis. So a full pool stops
//! the fetching.
//!
//! What remains is apalis' batch: `apalis_redis` fetches up to
//! [`Config::batch_size`](apalis_redis::Config::batch_size) jobs at once
//! (default 10), moves them all into the worker's in-flight set in Redis,
//! and hands them to the service one per readiness. With a batch of `B`, a
//! worker process holds at most the pool's capacity (workers + queue) plus
//! `B - 1` jobs waiting in apalis' buffer. [`redis_config`] sets `B = 1`:
//! nothing is fetched beyond what the pool can take.
//!
//! # Delivery
//!
//! At least once. A job is removed from the worker's in-flight set when
//! apalis acknowledges it, after the handler's future resolves; a worker
//! that dies first leaves its in-flight set behind, and another worker's
//! heartbeat puts those jobs back on the queue once the dead worker has
//! missed `missed_heartbeats` heartbeats. A job whose result was written
//! before the crash runs again: write results idempotently (keyed by job
//! id, e.g. `HSETNX`).
//!
//! # Example
//!
//! ```no_run
//! use apalis::prelude::*;
//! use apalis_redis::RedisStorage;
//! use corepool_apalis::{CpuService, redis_config};
//!
//! fn score(document: String) -> usize {
//!     document.split_whitespace().count() // CPU work
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//!     let pool = corepool::Pool::builder().workers(4).queue_capacity(4).build()?;
//!     let conn = apalis_redis::connect("redis://127.0.0.1/").await?;
//!     let storage = RedisStorage::<String>::new(conn).with_config(redis_config("documents"));
//!     WorkerBuilder::new("scorer-1")
//!         .backend(storage)
//!         .build(CpuService::new(pool, score))
//!         .run()
//!         .await?;
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::fmt;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use apalis::prelude::Task;
use corepool::{AsyncResult, Pool, PoolService, TaskError};
use tower::Service;
use tracing::Instrument;
use tracing::instrument::Instrumented;

/// An apalis service that runs `f(args)` on a corepool [`Pool`], ready only
/// while the pool's bounded queue has room.
///
/// `poll_ready` is [`PoolService`]'s: it holds a place in the pool's queue
/// once ready, and is `Pending` (woken when a place frees) while the queue
/// is full, so apalis fetches nothing meanwhile. `call` submits the job on
/// that place, inside a span `corepool_apalis.task` (fields `task_id` and
/// `attempt`); corepool's own `corepool.job` span, entered on the worker
/// thread while `f` runs, is its child.
///
/// The response future is the job's [`AsyncResult`], instrumented with the
/// span: dropping it (a timeout layer, a worker shutting down) cancels the
/// job, which never runs if it is still queued, and sees
/// [`corepool::is_cancelled`] turn `true` if it is running.
///
/// Build the pool with a bounded queue
/// ([`queue_capacity`](corepool::PoolBuilder::queue_capacity)): on an
/// unbounded one the service is always ready and bounds nothing.
///
/// # Errors
///
/// `poll_ready` fails once the pool is closed; the response resolves to the
/// job's [`TaskError`] (a panic in `f`, a cancellation). apalis records an
/// error as a failed attempt and schedules a retry.
///
/// # Examples
///
/// ```no_run
/// use apalis::prelude::*;
/// use apalis_redis::RedisStorage;
/// use corepool_apalis::{CpuService, redis_config};
///
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// let pool = corepool::Pool::builder().workers(2).queue_capacity(2).build()?;
/// let conn = apalis_redis::connect("redis://127.0.0.1/").await?;
/// let storage = RedisStorage::<u64>::new(conn).with_config(redis_config("squares"));
/// let square = CpuService::new(pool, |x: u64| x * x);
/// WorkerBuilder::new("squarer").backend(storage).build(square).run().await?;
/// # Ok(()) }
/// ```
pub struct CpuService<F, Args> {
    inner: PoolService<F>,
    args: PhantomData<fn(Args)>,
}

impl<F, Args> CpuService<F, Args> {
    /// A service that runs `f` on `pool` for each task's arguments.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// use apalis::prelude::Task;
    /// use tower::{Service, ServiceExt};
    ///
    /// let pool = corepool::Pool::builder().workers(1).queue_capacity(1).build()?;
    /// let mut double = corepool_apalis::CpuService::new(pool, |x: u32| x * 2);
    /// let doubled = double.ready().await?.call(Task::new(21)).await?;
    /// assert_eq!(doubled, 42);
    /// # Ok(()) }
    /// ```
    pub fn new(pool: Pool, f: F) -> CpuService<F, Args> {
        CpuService {
            inner: PoolService::new(pool, f),
            args: PhantomData,
        }
    }

    /// The pool it runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(2).queue_capacity(2).build()?;
    /// let service: corepool_apalis::CpuService<_, u8> = corepool_apalis::CpuService::new(pool, |x: u8| x);
    /// assert_eq!(service.pool().workers(), 2);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn pool(&self) -> &Pool {
        self.inner.pool()
    }
}

impl<F, Args> Clone for CpuService<F, Args> {
    fn clone(&self) -> Self {
        CpuService {
            inner: self.inner.clone(),
            args: PhantomData,
        }
    }
}

impl<F, Args> fmt::Debug for CpuService<F, Args> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CpuService")
            .field("inner", &self.inner)
            .finish()
    }
}

impl<F, Args, T> Service<Task<Args>> for CpuService<F, Args>
where
    F: Fn(Args) -> T + Send + Sync + 'static,
    Args: Send + 'static,
    T: Send + 'static,
{
    type Response = T;
    type Error = TaskError;
    type Future = Instrumented<AsyncResult<T>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TaskError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, task: Task<Args>) -> Self::Future {
        let ctx = task.ctx();
        let span = tracing::debug_span!(
            "corepool_apalis.task",
            task_id = tracing::field::Empty,
            attempt = ctx.attempt(),
        );
        if let Some(id) = ctx.task_id() {
            span.record("task_id", tracing::field::display(id));
        }
        // Submitted inside the span: corepool's job span is its child.
        let result = span.in_scope(|| self.inner.call(task.args));
        result.instrument(span)
    }
}

/// An [`apalis_redis::Config`] for `queue` that fetches one job at a time
/// (`batch_size(1)`), so that a worker takes from Redis no job its pool has
/// no room for. The other settings are apalis' defaults (a heartbeat every
/// 30 s; a worker is presumed dead, and its jobs re-enqueued, after 10
/// missed heartbeats); set them on the value returned.
///
/// A larger batch saves Redis round trips (one `fetch_next` script per `B`
/// jobs) at the price of up to `B - 1` jobs fetched ahead of the pool.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let config = corepool_apalis::redis_config("thumbnails")
///     .heartbeat_interval(Duration::from_secs(5))
///     .missed_heartbeats(3); // re-enqueued 15 s after a crash
/// assert_eq!(config.batch_size, 1);
/// assert_eq!(config.orphaned_duration(), Duration::from_secs(15));
/// ```
pub fn redis_config(queue: &str) -> apalis_redis::Config {
    apalis_redis::Config::default().queue(queue).batch_size(1)
}
