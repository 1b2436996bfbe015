//! `offer` and `submit`: submission that may be refused (a bounded queue
//! that is full, or a closed pool) and then hands the closure back.

use std::future::Future;
use std::sync::Arc;

use crate::error::SubmitError;
use crate::job::{Job, Labels};
use crate::pool::Pool;
use crate::queue::Refused;
use crate::result::AsyncResult;
use crate::sync::{self, Mutex};

impl Pool {
    /// Submits `f` if the queue has room, or refuses at once and hands `f`
    /// back: the load-shedding form of [`apply_async`](Pool::apply_async)
    /// for a pool built with
    /// [`queue_capacity`](crate::PoolBuilder::queue_capacity) (on an
    /// unbounded pool it refuses only when closed). A web handler answers
    /// `503` on `Full` before any work starts.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] if the queue is full, [`SubmitError::Closed`]
    /// if the pool is closed; either way `f` comes back unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::builder().workers(2).queue_capacity(64).build().unwrap();
    /// match pool.offer(|| 6 * 7) {
    ///     Ok(result) => assert_eq!(result.await.unwrap(), 42),
    ///     Err(refused) => println!("shed: {refused}"), // e.g. answer 503
    /// }
    /// # }
    /// ```
    pub fn offer<F, T>(&self, f: F) -> Result<AsyncResult<T>, SubmitError<F>>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (cell, job, result) = self.prepare_handing_back(f);
        match self.registry().try_submit(job) {
            Ok(()) => Ok(result),
            Err((job, why)) => {
                let f = take_back(&cell, job);
                Err(match why {
                    Refused::Full => SubmitError::Full(f),
                    Refused::Closed => SubmitError::Closed(f),
                })
            }
        }
    }

    /// Submits `f` once the queue has room: the waiting form of
    /// [`offer`](Pool::offer), for async code (it never blocks a thread).
    ///
    /// # Errors
    ///
    /// [`SubmitError::Closed`] with `f` back if the pool is closed before
    /// there is room.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it resolves submits nothing (`f` is
    /// dropped unrun).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::builder().workers(1).queue_capacity(1).build().unwrap();
    /// let mut results = Vec::new();
    /// for i in 0..4_u32 {
    ///     // Waits while the one queue slot is taken.
    ///     results.push(pool.submit(move || i * 2).await.unwrap());
    /// }
    /// let mut total = 0;
    /// for r in results {
    ///     total += r.await.unwrap();
    /// }
    /// assert_eq!(total, 12);
    /// # }
    /// ```
    pub fn submit<F, T>(
        &self,
        f: F,
    ) -> impl Future<Output = Result<AsyncResult<T>, SubmitError<F>>> + Send + 'static
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (cell, job, result) = self.prepare_handing_back(f);
        let pushed = self.registry().submit_when_room(job);
        async move {
            match pushed.await {
                Ok(()) => Ok(result),
                Err(job) => Err(SubmitError::Closed(take_back(&cell, job))),
            }
        }
    }

    /// A job running `f`, with `f` kept where it can be taken back if the
    /// job is refused.
    fn prepare_handing_back<F, T>(&self, f: F) -> (Arc<Mutex<Option<F>>>, Job, AsyncResult<T>)
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let cell = Arc::new(Mutex::new(Some(f)));
        let in_job = cell.clone();
        let labels = Labels {
            id: self.registry().next_job_id(),
            kind: "apply",
            chunk: 0,
            stateful: false,
        };
        let (job, result) = self.prepare_labeled(
            labels,
            move || {
                let f = sync::lock(&in_job).take();
                Ok(f.expect("a refused job never runs")())
            },
            None,
        );
        (cell, job, result)
    }
}

/// Takes a refused job's closure back (the job is dropped unrun).
fn take_back<F>(cell: &Mutex<Option<F>>, job: Job) -> F {
    drop(job);
    sync::lock(cell)
        .take()
        .expect("the refused job never ran, so its closure is still there")
}
