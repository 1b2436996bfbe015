//! `apply`, `apply_async`, `apply_async_with`: one closure, one job.

use std::fmt;
use std::sync::Arc;

use crate::blocking;
use crate::callbacks::Callbacks;
use crate::callbacks::Deliver;
use crate::cancel;
use crate::error::{Cancellation, Outcome, TaskError, TryError, UserError, WaitError};
use crate::job::{Inline, Job, JobSpan, Labels, Meter, Task};
use crate::metrics::Ran;
use crate::pool::Pool;
use crate::result::AsyncResult;
use crate::slot::Finisher;
use crate::sync::{self, Mutex};
use crate::unwind;

/// One closure and the delivery of its outcome, shared by the queue and the
/// [`AsyncResult`] (which may claim it to run it inline, see `blocking.rs`).
struct ApplyTask<F, T> {
    labels: Labels,
    span: JobSpan,
    /// Taken by whoever claims the job.
    work: Mutex<Option<(F, Finisher<T>)>>,
}

/// What a job's function returns inside the pool: its value, or (for the
/// `try_` forms) the user's error, boxed until `TryError` types it again.
pub(crate) type UserResult<T> = Result<T, Box<dyn UserError>>;

impl<F, T> ApplyTask<F, T>
where
    F: FnOnce() -> UserResult<T> + Send + 'static,
    T: Send + 'static,
{
    fn claim(&self) -> Option<(F, Finisher<T>)> {
        sync::lock(&self.work).take()
    }

    fn run_claimed(&self, worker: usize, inline: bool) -> bool {
        if inline && !self.labels.may_run_inline() {
            return false;
        }
        let Some((f, finisher)) = self.claim() else {
            return false;
        };
        self.span
            .run(worker, inline, |meter| self.run_in_span(f, finisher, meter));
        true
    }

    fn run_in_span(&self, f: F, finisher: Finisher<T>, meter: Meter) {
        let id = finisher.id();
        if finisher.slot().is_abandoned() {
            // Nobody wants the value: drop the closure unrun.
            drop(f);
            meter.finished(Ran::Cancelled);
            finisher.finish(Err(TaskError::cancelled(id, Cancellation::Abandoned)));
            return;
        }
        let (outcome, stopped) = cancel::watch(finisher.wanted(), || unwind::catch(f));
        let outcome = match (outcome, stopped) {
            // It saw `is_cancelled()`: cancelled, whatever it returned.
            (outcome, Some(why)) => {
                drop(outcome);
                Err(TaskError::cancelled(id, why))
            }
            (Ok(Ok(value)), None) => Ok(value),
            (Ok(Err(error)), None) => Err(TaskError::user(id, error)),
            (Err(payload), None) => Err(TaskError::panicked(id, payload)),
        };
        meter.finished(match &outcome {
            Ok(_) => Ran::Completed,
            Err(e) if e.is_cancelled() => Ran::Cancelled,
            Err(_) => Ran::Failed,
        });
        finisher.finish(outcome);
    }
}

impl<F, T> Task for ApplyTask<F, T>
where
    F: FnOnce() -> UserResult<T> + Send + 'static,
    T: Send + 'static,
{
    fn run(&self, worker: usize, inline: bool) -> bool {
        self.run_claimed(worker, inline)
    }

    fn may_run_inline(&self) -> bool {
        self.labels.may_run_inline()
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
    F: FnOnce() -> UserResult<T> + Send + 'static,
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
        self.submit_apply(move || Ok(f()), None, false)
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
        self.submit_apply(move || Ok(f()), callbacks.erase(), false)
    }

    /// Runs a fallible `f` on a worker and blocks until it returns: the
    /// blocking form of [`try_apply_async`](Pool::try_apply_async).
    ///
    /// # Errors
    ///
    /// [`WaitError::Task`] with [`TryError::User`] if `f` returns `Err`, or
    /// [`TryError::Task`] if it panics or is cancelled;
    /// [`WaitError::WouldDeadlock`] where [`apply`](Pool::apply) would
    /// refuse.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{TryError, WaitError};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// assert_eq!(pool.try_apply(|| "42".parse::<u32>())?, 42);
    /// let err = pool.try_apply(|| "x".parse::<u32>()).unwrap_err();
    /// assert!(matches!(err, WaitError::Task(TryError::User { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_apply<F, T, E>(&self, f: F) -> Result<T, WaitError<TryError<E>>>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
    {
        blocking::ensure_can_block(self.id())?;
        self.try_apply_async(f).get()
    }

    /// Submits a fallible `f`, one returning `Result<T, E>`, and returns its
    /// result at once: [`apply_async`](Pool::apply_async) for functions that
    /// can fail with your own error type. The result resolves to `Ok(T)`,
    /// or to a [`TryError<E>`] holding your `E` (typed, no downcast) or the
    /// task's own error.
    ///
    /// # Errors
    ///
    /// The result resolves to [`TryError::User`] if `f` returns `Err`, and
    /// to [`TryError::Task`] for a panic or a cancellation (as
    /// [`apply_async`](Pool::apply_async)'s).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use corepool::TryError;
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let ok = pool.try_apply_async(|| u8::try_from(200_u32));
    /// let bad = pool.try_apply_async(|| u8::try_from(300_u32));
    /// assert_eq!(ok.await.unwrap(), 200);
    /// match bad.await {
    ///     Err(TryError::User { error, .. }) => println!("out of range: {error}"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # }
    /// ```
    pub fn try_apply_async<F, T, E>(&self, f: F) -> AsyncResult<T, TryError<E>>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
    {
        self.submit_apply(move || f().map_err(box_user), None, false)
    }

    /// [`try_apply_async`](Pool::try_apply_async) with callbacks: the
    /// success callback runs on `Ok`, the error callback gets the
    /// [`&TryError<E>`](TryError) on `Err`, a panic or a cancellation.
    ///
    /// # Errors
    ///
    /// As [`try_apply_async`](Pool::try_apply_async); a callback that panics
    /// replaces the outcome with a [`TryError::Task`] of kind
    /// [`CallbackPanicked`](crate::TaskErrorKind::CallbackPanicked).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use corepool::{Callbacks, TryError};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let cb = Callbacks::for_try()
    ///     .on_success(|_: &u8| unreachable!("an Err is not a success"))
    ///     .on_error(move |e: &TryError<String>| tx.send(e.user_error().cloned()).unwrap());
    /// pool.try_apply_async_with(|| Err::<u8, _>("disk full".to_string()), cb).detach();
    /// assert_eq!(rx.recv()?.as_deref(), Some("disk full"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_apply_async_with<F, T, E>(
        &self,
        f: F,
        callbacks: Callbacks<T, TryError<E>>,
    ) -> AsyncResult<T, TryError<E>>
    where
        F: FnOnce() -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
    {
        self.submit_apply(move || f().map_err(box_user), callbacks.erase(), false)
    }

    /// Submits one closure as one job.
    pub(crate) fn submit_apply<F, T, E>(
        &self,
        f: F,
        callbacks: Option<Deliver<T>>,
        stateful: bool,
    ) -> AsyncResult<T, E>
    where
        F: FnOnce() -> UserResult<T> + Send + 'static,
        T: Send + 'static,
        E: Outcome,
    {
        let labels = Labels {
            id: self.registry().next_job_id(),
            kind: "apply",
            chunk: 0,
            stateful,
        };
        self.submit_labeled(labels, f, callbacks)
    }

    /// Submits one closure as one job with the given span labels (an `imap`
    /// chunk shares its stream's id).
    pub(crate) fn submit_labeled<F, T, E>(
        &self,
        labels: Labels,
        f: F,
        callbacks: Option<Deliver<T>>,
    ) -> AsyncResult<T, E>
    where
        F: FnOnce() -> UserResult<T> + Send + 'static,
        T: Send + 'static,
        E: Outcome,
    {
        let (job, result) = self.prepare_labeled(labels, f, callbacks);
        self.registry().submit(job);
        result
    }

    /// One closure as a job, not yet submitted, and its result.
    pub(crate) fn prepare_labeled<F, T, E>(
        &self,
        labels: Labels,
        f: F,
        callbacks: Option<Deliver<T>>,
    ) -> (Job, AsyncResult<T, E>)
    where
        F: FnOnce() -> UserResult<T> + Send + 'static,
        T: Send + 'static,
        E: Outcome,
    {
        let detached = callbacks.is_some();
        let (slot, finisher) = Finisher::pair(labels.id, callbacks);
        let task = Arc::new(ApplyTask {
            labels,
            span: labels.span(),
            work: Mutex::new(Some((f, finisher))),
        });
        let result = AsyncResult::new(slot, self.id(), detached, Some(task.clone()));
        (task, result)
    }
}

/// Boxes a user's error for its trip through the pool.
pub(crate) fn box_user<E: Send + Sync + fmt::Debug + 'static>(error: E) -> Box<dyn UserError> {
    Box::new(error)
}
