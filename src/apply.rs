//! `apply`, `apply_async`, `apply_async_with`: one closure, one job.

use std::sync::Arc;

use crate::blocking;
use crate::callbacks::Callbacks;
use crate::error::{Cancellation, TaskError, WaitError};
use crate::job::{Inline, Labels, Task};
use crate::pool::Pool;
use crate::result::AsyncResult;
use crate::slot::Finisher;
use crate::sync::{self, Mutex};
use crate::unwind;

/// One closure and the delivery of its outcome, shared by the queue and the
/// [`AsyncResult`] (which may claim it to run it inline, see `blocking.rs`).
struct ApplyTask<F, T> {
    labels: Labels,
    /// Taken by whoever claims the job.
    work: Mutex<Option<(F, Finisher<T>)>>,
}

impl<F, T> ApplyTask<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn claim(&self) -> Option<(F, Finisher<T>)> {
        sync::lock(&self.work).take()
    }

    fn run_claimed(&self, worker: usize, inline: bool) -> bool {
        let Some((f, finisher)) = self.claim() else {
            return false;
        };
        let span = self.labels.span(worker, inline);
        let _entered = span.enter();
        let id = finisher.id();
        if finisher.slot().is_abandoned() {
            // Nobody wants the value: drop the closure unrun.
            drop(f);
            finisher.finish(Err(TaskError::cancelled(id, Cancellation::Abandoned)));
            return true;
        }
        let outcome = unwind::catch(f).map_err(|payload| TaskError::panicked(id, payload));
        finisher.finish(outcome);
        true
    }
}

impl<F, T> Task for ApplyTask<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(&self, worker: usize, inline: bool) -> bool {
        self.run_claimed(worker, inline)
    }

    fn reject(&self, why: Cancellation) {
        if let Some((f, finisher)) = self.claim() {
            drop(f);
            let id = finisher.id();
            finisher.finish(Err(TaskError::cancelled(id, why)));
        }
    }
}

impl<F, T> Inline for ApplyTask<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run_one(&self, worker: usize) -> bool {
        self.run_claimed(worker, true)
    }
}

impl<F, T> Drop for ApplyTask<F, T> {
    fn drop(&mut self) {
        // Dropped unclaimed (the queue was dropped with it): the error
        // callback hears of it too.
        let work = sync::lock(&self.work).take();
        if let Some((f, finisher)) = work {
            drop(f);
            let id = finisher.id();
            finisher.finish(Err(TaskError::cancelled(id, Cancellation::Abandoned)));
        }
    }
}

impl Pool {
    /// Runs `f` on a worker and blocks until it returns (Python's `apply`).
    ///
    /// Like Python's, `apply` runs one task at a time from the caller's point
    /// of view; use [`apply_async`](Pool::apply_async) or
    /// [`map`](Pool::map) for concurrency. Safe inside a multi-thread tokio
    /// runtime (it blocks through `block_in_place`) and on the pool's own
    /// workers (a waiting worker runs `f` itself if no other worker has
    /// started it, so nested calls cannot deadlock the pool); see the
    /// [crate docs](crate#where-blocking-calls-are-allowed).
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
        blocking::ensure_can_block(self.id())?;
        self.apply_async(f).get()
    }

    /// Submits `f` to a worker and returns its [`AsyncResult`] at once
    /// (Python's `apply_async`). The work starts whether or not the result
    /// is awaited; dropping the result before the work starts cancels it.
    ///
    /// A closed pool does not panic: the result resolves at once to a
    /// cancelled [`TaskError`]
    /// ([`Cancellation::PoolClosed`]), and the error callback, if any, runs
    /// on this thread.
    ///
    /// # Errors
    ///
    /// The result resolves to `Err(TaskError)` if `f` panics
    /// ([`is_panic`](crate::TaskError::is_panic), with the payload), or if
    /// it never runs ([`is_cancelled`](crate::TaskError::is_cancelled)):
    /// the pool was closed at submission
    /// ([`Cancellation::PoolClosed`]), [`terminate`](Pool::terminate)
    /// removed it from the queue ([`Cancellation::Terminated`]), or the
    /// result was dropped before a worker started it
    /// ([`Cancellation::Abandoned`]).
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
        self.submit_apply("apply", f, None)
    }

    /// [`apply_async`](Pool::apply_async) with Python's `callback` and
    /// `error_callback`. Exactly one callback runs, before the result is
    /// observable, on the thread that resolves the submission (see
    /// [`Callbacks`] for which); the submission is detached, so the returned
    /// [`AsyncResult`] may be dropped (fire and forget).
    ///
    /// # Errors
    ///
    /// As [`apply_async`](Pool::apply_async); a callback that panics
    /// replaces the outcome with an error of kind
    /// [`CallbackPanicked`](crate::TaskErrorKind::CallbackPanicked).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use corepool::{Callbacks, Pool};
    ///
    /// let pool = Pool::new(2)?;
    /// let results = Arc::new(Mutex::new(Vec::new()));
    /// for i in (1..=5).rev() {
    ///     let results = results.clone();
    ///     let cb = Callbacks::new().on_success(move |v: &i32| results.lock().unwrap().push(*v));
    ///     pool.apply_async_with(move || i, cb).detach();
    /// }
    /// pool.close();
    /// pool.join()?;
    /// let mut got = results.lock().unwrap().clone();
    /// got.sort();
    /// assert_eq!(got, [1, 2, 3, 4, 5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_async_with<F, T>(&self, f: F, callbacks: Callbacks<T>) -> AsyncResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        self.submit_apply("apply", f, Some(callbacks))
    }

    /// Submits one closure as one job; `kind` labels its tracing span.
    pub(crate) fn submit_apply<F, T>(
        &self,
        kind: &'static str,
        f: F,
        callbacks: Option<Callbacks<T>>,
    ) -> AsyncResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let registry = self.registry();
        let labels = Labels {
            id: registry.next_job_id(),
            kind,
            chunk: 0,
        };
        self.submit_labeled(labels, f, callbacks)
    }

    /// Submits one closure as one job with the given span labels (an `imap`
    /// chunk shares its stream's id).
    pub(crate) fn submit_labeled<F, T>(
        &self,
        labels: Labels,
        f: F,
        callbacks: Option<Callbacks<T>>,
    ) -> AsyncResult<T>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let detached = callbacks.as_ref().is_some_and(|c| !c.is_empty());
        let (slot, finisher) = Finisher::pair(labels.id, callbacks);
        let task = Arc::new(ApplyTask {
            labels,
            work: Mutex::new(Some((f, finisher))),
        });
        let result = AsyncResult::new(slot, self.id(), detached, Some(task.clone()));
        self.registry().submit(task);
        result
    }
}
