//! [`AsyncResult`]: the handle of one submission, both a `Future` and
//! Python's `AsyncResult`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::future::FusedFuture;

use crate::blocking;
use crate::error::{Outcome, TaskError, TimeoutError, WaitError, WouldDeadlock};
use crate::job::Inline;
use crate::slot::Slot;

/// The result of [`Pool::apply_async`](crate::Pool::apply_async),
/// [`Pool::map_async`](crate::Pool::map_async) and their relatives.
///
/// The work is submitted when the `AsyncResult` is created, like a tokio
/// `JoinHandle`: it runs whether or not anybody polls. Await it from async
/// code (any executor will do), or use the blocking methods of Python's
/// `AsyncResult` ([`get`](AsyncResult::get),
/// [`get_timeout`](AsyncResult::get_timeout), [`wait`](AsyncResult::wait),
/// [`ready`](AsyncResult::ready), [`successful`](AsyncResult::successful)).
///
/// Dropping an `AsyncResult` before its work has started cancels the work:
/// the closure is dropped, never run. Work already running finishes and its
/// value is dropped. [`detach`](AsyncResult::detach) lets the work run
/// anyway; submissions with [`Callbacks`](crate::Callbacks) are detached
/// from the start.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
/// let pool = corepool::Pool::new(2).unwrap();
/// let a = pool.apply_async(|| (1..=10_u64).product::<u64>());
/// let b = pool.apply_async(|| (1..=12_u64).product::<u64>());
/// assert_eq!(a.await? + b.await?, 3_628_800 + 479_001_600);
/// # Ok(()) }
/// ```
///
/// # Cancel safety
///
/// Awaiting is cancel safe: dropping the `.await` (say, in a `select!`) loses
/// nothing as long as the `AsyncResult` itself is kept and polled again.
#[must_use = "dropping an AsyncResult cancels its work if it has not started; `.await` it, or `detach()` it"]
///
/// The error type `E` is [`TaskError`] for the plain forms and
/// [`TryError<U>`](crate::TryError) for the fallible (`try_`) ones.
pub struct AsyncResult<T, E = TaskError> {
    slot: Arc<Slot<T>>,
    pool: u64,
    /// The unstarted work this result waits for, which a worker of the same
    /// pool blocked on it may run itself (see `blocking.rs`).
    work: Option<Arc<dyn Inline>>,
    detached: bool,
    taken: bool,
    /// Turns the pool's internal error into the one this result hands out
    /// (the identity, or `TryError<U>`'s typing of the user's error).
    convert: fn(TaskError) -> E,
}

impl<T, E> AsyncResult<T, E> {
    pub(crate) fn new(
        slot: Arc<Slot<T>>,
        pool: u64,
        detached: bool,
        work: Option<Arc<dyn Inline>>,
    ) -> Self
    where
        E: Outcome,
    {
        AsyncResult {
            slot,
            pool,
            work,
            detached,
            taken: false,
            convert: E::from_task_error,
        }
    }

    fn take(&mut self, outcome: Option<Result<T, TaskError>>) -> Result<T, E> {
        self.taken = true;
        self.work = None;
        outcome
            .expect("AsyncResult: the result was already taken")
            .map_err(self.convert)
    }

    /// Tells a worker blocked on this result what it may run itself.
    fn note_pending(&self) {
        if let Some(work) = &self.work {
            blocking::note_pending(self.pool, work);
        }
    }

    /// Polls for the outcome, taking it.
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, E>> {
        match self.slot.poll_take(cx) {
            Poll::Ready(outcome) => Poll::Ready(self.take(outcome)),
            Poll::Pending => {
                self.note_pending();
                Poll::Pending
            }
        }
    }

    /// Waits for completion; `Ok(false)` if `deadline` passed first.
    fn wait_until(&self, deadline: Option<Instant>) -> Result<bool, WouldDeadlock> {
        let waiter = self.slot.waiter();
        let waited = blocking::block_on_until(self.pool, deadline, |cx| {
            let polled = waiter.poll_complete(cx);
            if polled.is_pending() {
                self.note_pending();
            }
            polled
        })?;
        Ok(waited.is_some())
    }

    /// Blocks until the result is ready and takes it (Python's `get()`).
    ///
    /// Where it may wait is described in the [crate docs](crate#where-blocking-calls-are-allowed):
    /// inside a multi-thread tokio runtime it blocks through
    /// `block_in_place`, so the runtime's other tasks keep running; on one of
    /// the pool's workers it runs this result's own job if no worker has
    /// started it yet.
    ///
    /// # Errors
    ///
    /// [`WaitError::Task`] with the task's error (a panic, a cancellation,
    /// a closed pool...), or [`WaitError::WouldDeadlock`] on the thread of a `current_thread` tokio runtime, where waiting would stall
    /// the runtime. That refusal takes nothing: the `AsyncResult` is still
    /// yours, the work still runs, and `.await` gets its value.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken (by an earlier `get`,
    /// [`get_timeout`](AsyncResult::get_timeout) or by polling).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert_eq!(pool.apply_async(|| "hello".len()).get()?, 5);
    ///
    /// let mut r = pool.apply_async(|| 6 * 7);
    /// assert_eq!(r.get()?, 42);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&mut self) -> Result<T, WaitError<E>> {
        match blocking::block_on(self.pool, |cx| self.poll_outcome(cx))? {
            Ok(value) => Ok(value),
            Err(error) => Err(WaitError::Task(error)),
        }
    }

    /// Like [`get`](AsyncResult::get), but gives up after `timeout` (Python's
    /// `get(timeout)`).
    ///
    /// # Errors
    ///
    /// As `get` (as a [`TimeoutError`]), plus [`TimeoutError::TimedOut`]
    /// when the result is not ready in time. The result is not lost: call `get`,
    /// `get_timeout` or `.await` again.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (go, wait_for_go) = mpsc::channel::<()>();
    /// let mut r = pool.apply_async(move || { wait_for_go.recv().unwrap(); 1 });
    /// assert!(r.get_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// go.send(())?;
    /// assert_eq!(r.get_timeout(Duration::MAX)?, 1); // MAX: no deadline
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<T, TimeoutError<E>> {
        let deadline = blocking::deadline(timeout);
        match blocking::block_on_until(self.pool, deadline, |cx| self.poll_outcome(cx))? {
            Some(Ok(value)) => Ok(value),
            Some(Err(error)) => Err(TimeoutError::Task(error)),
            None => Err(TimeoutError::TimedOut),
        }
    }

    /// Blocks until the result is ready, without taking it (Python's
    /// `wait()`). Any number of threads may wait on one result (share it by
    /// reference, say in an `Arc`): all of them are woken.
    ///
    /// # Errors
    ///
    /// Only [`WouldDeadlock`], as for `get`: a failed task is still "ready".
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let r = pool.apply_async(|| 2);
    /// r.wait()?;
    /// assert!(r.ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait(&self) -> Result<(), WouldDeadlock> {
        self.wait_until(None).map(drop)
    }

    /// Like [`wait`](AsyncResult::wait), but gives up after `timeout`
    /// (Python's `wait(timeout)`): `Ok(true)` if the result is ready,
    /// `Ok(false)` if the time ran out first (as `Condvar::wait_timeout`
    /// reports it). `Duration::MAX` means no deadline.
    ///
    /// # Errors
    ///
    /// Only [`WouldDeadlock`], as for `get`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (go, wait_for_go) = mpsc::channel::<()>();
    /// let r = pool.apply_async(move || wait_for_go.recv().unwrap());
    /// assert!(!r.wait_timeout(Duration::ZERO)?); // not ready yet
    /// go.send(())?;
    /// assert!(r.wait_timeout(Duration::MAX)?);
    /// assert!(r.ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<bool, WouldDeadlock> {
        self.wait_until(blocking::deadline(timeout))
    }

    /// Whether the work has finished (Python's `ready()`). Never blocks.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let r = pool.apply_async(|| 2);
    /// r.wait()?;
    /// assert!(r.ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ready(&self) -> bool {
        self.slot.is_complete()
    }

    /// Whether the work finished without error (Python's `successful()`):
    /// `None` while it is not ready, or once the result has been taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let ok = pool.apply_async(|| 2);
    /// let bad = pool.apply_async(|| -> i32 { panic!() });
    /// ok.wait()?;
    /// bad.wait()?;
    /// assert_eq!(ok.successful(), Some(true));
    /// assert_eq!(bad.successful(), Some(false));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn successful(&self) -> Option<bool> {
        self.slot.peek_ok()
    }

    /// Lets the work run to completion even though nobody will wait for it;
    /// its value is dropped on the worker.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicBool, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let ran = Arc::new(AtomicBool::new(false));
    /// let flag = ran.clone();
    /// pool.apply_async(move || flag.store(true, Ordering::SeqCst)).detach();
    /// pool.close();
    /// pool.join()?;
    /// assert!(ran.load(Ordering::SeqCst));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn detach(mut self) {
        self.detached = true;
    }
}

impl<T, E> Future for AsyncResult<T, E> {
    type Output = Result<T, E>;

    /// # Panics
    ///
    /// Panics if polled after it returned `Ready`.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_outcome(cx)
    }
}

impl<T, E> FusedFuture for AsyncResult<T, E> {
    fn is_terminated(&self) -> bool {
        self.taken
    }
}

impl<T, E> Drop for AsyncResult<T, E> {
    fn drop(&mut self) {
        if !self.detached {
            self.slot.abandon();
        }
    }
}

impl<T, E> fmt::Debug for AsyncResult<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .field("detached", &self.detached)
            .finish_non_exhaustive()
    }
}
