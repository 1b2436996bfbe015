//! [`PoolService`]: a `tower::Service` that runs a CPU function on the
//! pool, with the pool's capacity as its readiness (cargo feature `tower`).
//!
//! # Design
//!
//! `poll_ready` takes a [`Permit`]: at once if the queue has room, else it
//! holds a [`Reserve`] future and is `Pending` until a place frees (the
//! place's release wakes it). `call` spends the permit, so a call that was
//! ready is never refused. tower's middleware then composes as it does
//! around any service: `LoadShed` turns a `Pending` readiness into an
//! immediate `Overloaded` error (a web service's 503), `ConcurrencyLimit`
//! and `Buffer` queue in front of it, and `Timeout` drops the response
//! future, which cancels the job (never run if still queued;
//! [`is_cancelled`](crate::is_cancelled) turns `true` if running).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::error::{Cancellation, TaskError};
use crate::permit::{Permit, Reserve, ReserveError};
use crate::pool::Pool;
use crate::result::AsyncResult;

/// A [`tower::Service`] that runs `f(request)` on a [`Pool`] (or a lane's
/// view of one), ready only while the pool's queue has room. Behind the
/// cargo feature `tower`.
///
/// Its response future is the job's [`AsyncResult`]: dropping it (a
/// `tower::timeout::Timeout` that fires, a client that disconnects)
/// cancels the job. A clone is a new handle on the same pool and function,
/// not ready until polled (tower's convention: readiness is not shared).
/// It is `Send + Sync`, so it can live in a web framework's shared state.
///
/// Calling it without a successful `poll_ready` submits as
/// [`Pool::spawn`] does (shed if the queue is full).
///
/// # Errors
///
/// `poll_ready` fails with a cancelled [`TaskError`]
/// ([`PoolClosed`](Cancellation::PoolClosed)) once the pool is closed; the
/// response resolves to the job's error, as [`AsyncResult`] does.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
/// use std::time::Duration;
/// use tower::{Service, ServiceBuilder, ServiceExt};
///
/// let pool = corepool::Pool::builder().workers(2).queue_capacity(32).build()?;
/// let hash = corepool::PoolService::new(pool, |password: String| password.len() as u64);
/// let mut service = ServiceBuilder::new()
///     .load_shed() // full pool: `Overloaded` at once, a 503
///     .timeout(Duration::from_secs(5)) // too slow: the job is cancelled
///     .service(hash);
/// let hashed = service.ready().await?.call("hunter2".to_string()).await?;
/// assert_eq!(hashed, 7);
/// # Ok(()) }
/// ```
pub struct PoolService<F> {
    pool: Pool,
    f: Arc<F>,
    permit: Option<Permit>,
    reserving: Option<Reserve>,
}

impl<F> PoolService<F> {
    /// A service that runs `f` on `pool` for each request.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    /// use tower::{Service, ServiceExt};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let mut double = corepool::PoolService::new(pool, |x: u32| x * 2);
    /// assert_eq!(double.ready().await?.call(21).await?, 42);
    /// # Ok(()) }
    /// ```
    pub fn new(pool: Pool, f: F) -> PoolService<F> {
        PoolService {
            pool,
            f: Arc::new(f),
            permit: None,
            reserving: None,
        }
    }

    /// The pool it runs on.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let service = corepool::PoolService::new(pool, |x: u8| x);
    /// assert_eq!(service.pool().workers(), 1);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    fn closed(&self) -> TaskError {
        TaskError::cancelled(self.pool.registry().next_job_id(), Cancellation::PoolClosed)
    }
}

impl<F> Clone for PoolService<F> {
    fn clone(&self) -> Self {
        PoolService {
            pool: self.pool.clone(),
            f: self.f.clone(),
            permit: None,
            reserving: None,
        }
    }
}

impl<F> fmt::Debug for PoolService<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolService")
            .field("pool", &self.pool)
            .field("f", &"<closure>")
            .field("ready", &self.permit.is_some())
            .finish()
    }
}

impl<F, Request, T> tower::Service<Request> for PoolService<F>
where
    F: Fn(Request) -> T + Send + Sync + 'static,
    Request: Send + 'static,
    T: Send + 'static,
{
    type Response = T;
    type Error = TaskError;
    type Future = AsyncResult<T>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), TaskError>> {
        loop {
            if self.permit.is_some() {
                return Poll::Ready(Ok(()));
            }
            if let Some(reserving) = self.reserving.as_mut() {
                let reserved = std::task::ready!(Pin::new(reserving).poll(cx));
                self.reserving = None;
                return Poll::Ready(match reserved {
                    Ok(permit) => {
                        self.permit = Some(permit);
                        Ok(())
                    }
                    Err(_) => Err(self.closed()),
                });
            }
            match self.pool.try_reserve() {
                Ok(permit) => self.permit = Some(permit),
                Err(ReserveError::Closed) => return Poll::Ready(Err(self.closed())),
                // Full: wait for a place, woken when one frees.
                Err(ReserveError::Full) => self.reserving = Some(self.pool.reserve()),
            }
        }
    }

    fn call(&mut self, request: Request) -> AsyncResult<T> {
        let f = self.f.clone();
        let work = move || f(request);
        match self.permit.take() {
            Some(permit) => permit.spawn(work),
            None => self.pool.spawn(work),
        }
    }
}
