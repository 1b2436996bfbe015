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
use crate::error::{Outcome, TaskError, WaitError};
use crate::job::Inline;
use crate::slot::Slot;

/// What an [`AsyncResult`] reads from: the allocation its outcome lives in
/// (an `apply`'s job cell, a map's assembler), which also knows the
/// unstarted work a worker blocked on it may run itself.
pub(crate) trait Pending<T>: Send + Sync {
    fn slot(&self) -> &Slot<T>;

    /// The work behind this result, for a blocked worker to run inline.
    fn inline(self: Arc<Self>) -> Arc<dyn Inline>;
}

/// The result of a submission: [`Pool::apply_async`](crate::Pool::apply_async),
/// [`Pool::map_async`](crate::Pool::map_async), and the door's
/// [`spawn`](crate::Pool::spawn), [`offer`](crate::Pool::offer) and
/// [`submit`](crate::Pool::submit).
///
/// The work is submitted when the `AsyncResult` is created, like a tokio
/// `JoinHandle`: it runs whether or not anybody polls. Await it from async
/// code (any executor will do), or use the blocking methods of Python's
/// `AsyncResult` ([`get`](AsyncResult::get),
/// [`get_timeout`](AsyncResult::get_timeout), [`wait`](AsyncResult::wait),
/// [`ready`](AsyncResult::ready), [`successful`](AsyncResult::successful)).
///
/// Dropping an `AsyncResult` before its work has started cancels the work:
/// the closure is dropped, never run. Work already running goes on unless it
/// checks [`is_cancelled`](crate::is_cancelled) (then it stops early), and
/// its value is dropped. [`detach`](AsyncResult::detach) lets the work run
/// anyway; submissions with a `callback` or `error_callback` are detached
/// from the start.
///
/// # Errors
///
/// It resolves to `Err(E)`, a [`TaskError`] (or a
/// [`TryError`](crate::TryError) for fallible work), when the work panicked,
/// or was cancelled: the pool was closed at submission
/// ([`Cancellation::PoolClosed`](crate::Cancellation::PoolClosed)), its
/// bounded queue was full ([`Cancellation::QueueFull`](crate::Cancellation::QueueFull),
/// from `spawn` and the `_async` names, which shed rather than wait),
/// [`terminate`](crate::Pool::terminate) removed it from the queue
/// ([`Cancellation::Terminated`](crate::Cancellation::Terminated)), or
/// nobody wanted it any more ([`Cancellation::Abandoned`](crate::Cancellation::Abandoned)).
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
///
/// The error type `E` is [`TaskError`] for plain work and
/// [`TryError<U>`](crate::TryError) for fallible work
/// ([`Apply::fallible`](crate::Apply::fallible),
/// [`Map::fallible`](crate::Map::fallible)).
#[must_use = "dropping an AsyncResult cancels its work if it has not started; `.await` it, or `detach()` it"]
pub struct AsyncResult<T, E = TaskError> {
    /// Where the outcome lives; also the unstarted work this result waits
    /// for, which a worker of the same pool blocked on it may run itself
    /// (see `blocking.rs`).
    cell: Arc<dyn Pending<T>>,
    pool: u64,
    detached: bool,
    taken: bool,
    /// Turns the pool's internal error into the one this result hands out
    /// (the identity, or `TryError<U>`'s typing of the user's error).
    convert: fn(TaskError) -> E,
}

impl<T, E> AsyncResult<T, E> {
    pub(crate) fn new(cell: Arc<dyn Pending<T>>, pool: u64, detached: bool) -> Self
    where
        E: Outcome,
    {
        if detached {
            cell.slot().detach();
        }
        AsyncResult {
            cell,
            pool,
            detached,
            taken: false,
            convert: E::from_task_error,
        }
    }

    fn slot(&self) -> &Slot<T> {
        self.cell.slot()
    }

    /// Tells a worker blocked on this result what it may run itself.
    fn note_pending(&self) {
        blocking::note_pending(self.pool, || self.cell.clone().inline());
    }

    /// Polls for the outcome, taking it: `Ready(None)` if it was taken
    /// before.
    fn poll_outcome(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, E>>> {
        match self.slot().poll_take(cx) {
            Poll::Ready(outcome) => {
                self.taken = true;
                Poll::Ready(outcome.map(|o| o.map_err(self.convert)))
            }
            Poll::Pending => {
                self.note_pending();
                Poll::Pending
            }
        }
    }

    /// Waits for completion; `Ok(false)` if `deadline` passed first.
    fn wait_until(&self, deadline: Option<Instant>) -> Result<bool, WaitError<E>> {
        let waiter = self.slot().waiter();
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
    /// [`WaitError::Task`] with the task's error (a panic, a cancellation, a
    /// closed pool, a full queue: see [`AsyncResult`]);
    /// [`WaitError::WouldDeadlock`] on the thread of a `current_thread`
    /// tokio runtime, where waiting would stall the runtime (that refusal
    /// takes nothing: the work still runs, and `.await` gets its value);
    /// [`WaitError::Taken`] if an earlier `get` or `.await` already took the
    /// value (a second `get` never panics; Python returns the value again,
    /// which would need `T: Clone`).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert_eq!(pool.apply_async(|| "hello".len()).get()?, 5);
    ///
    /// let mut r = pool.apply_async(|| 6 * 7);
    /// assert_eq!(r.get()?, 42);
    /// assert!(r.get().unwrap_err().is_taken());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(&mut self) -> Result<T, WaitError<E>> {
        self.get_until(None)
    }

    fn get_until(&mut self, deadline: Option<Instant>) -> Result<T, WaitError<E>> {
        if self.taken {
            return Err(WaitError::Taken);
        }
        match blocking::block_on_until(self.pool, deadline, |cx| self.poll_outcome(cx))? {
            Some(Some(Ok(value))) => Ok(value),
            Some(Some(Err(error))) => Err(WaitError::Task(error)),
            Some(None) => Err(WaitError::Taken),
            None => Err(WaitError::TimedOut),
        }
    }

    /// Like [`get`](AsyncResult::get), but gives up after `timeout` (Python's
    /// `get(timeout)`). `Duration::MAX` means no deadline.
    ///
    /// # Errors
    ///
    /// As `get`, plus [`WaitError::TimedOut`] when the result is not ready
    /// in time. The result is not lost: call `get`, `get_timeout` or
    /// `.await` again.
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
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<T, WaitError<E>> {
        self.get_until(blocking::deadline(timeout))
    }

    /// Blocks until the result is ready, without taking it (Python's
    /// `wait()`). Any number of threads may wait on one result (share it by
    /// reference, say in an `Arc`): all of them are woken.
    ///
    /// # Errors
    ///
    /// Only [`WaitError::WouldDeadlock`], as for `get`: a failed task is
    /// still "ready".
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
    pub fn wait(&self) -> Result<(), WaitError<E>> {
        self.wait_until(None).map(drop)
    }

    /// Like [`wait`](AsyncResult::wait), but gives up after `timeout`
    /// (Python's `wait(timeout)`), with the same shape as every timed call:
    /// `Err(WaitError::TimedOut)` if the time ran out first.
    /// `Duration::MAX` means no deadline.
    ///
    /// # Errors
    ///
    /// [`WaitError::TimedOut`], or [`WaitError::WouldDeadlock`] as for
    /// `get`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (go, wait_for_go) = mpsc::channel::<()>();
    /// let r = pool.apply_async(move || wait_for_go.recv().unwrap());
    /// assert!(r.wait_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// go.send(())?;
    /// r.wait_timeout(Duration::MAX)?;
    /// assert!(r.ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), WaitError<E>> {
        match self.wait_until(blocking::deadline(timeout))? {
            true => Ok(()),
            false => Err(WaitError::TimedOut),
        }
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
        self.slot().is_complete()
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
        self.slot().peek_ok()
    }

    /// Lets the work run to completion even though nobody will wait for it;
    /// its value is dropped on the worker (or here, if the work had already
    /// finished).
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
        self.slot().detach();
    }
}

impl<T, E> Future for AsyncResult<T, E> {
    type Output = Result<T, E>;

    /// # Panics
    ///
    /// Panics if polled after it returned `Ready` (the value is gone; see
    /// [`FusedFuture::is_terminated`]).
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_outcome(cx)
            .map(|outcome| outcome.expect("AsyncResult polled after it returned Ready"))
    }
}

impl<T, E> FusedFuture for AsyncResult<T, E> {
    fn is_terminated(&self) -> bool {
        self.taken
    }
}

impl<T, E> Drop for AsyncResult<T, E> {
    fn drop(&mut self) {
        // A value that was taken was wanted: dropping the handle then
        // cancels nothing (work it submitted goes on).
        if !self.detached && !self.taken {
            self.slot().abandon();
        }
        // Nobody will take the value now: if it is here, it is dropped here;
        // if not, the worker drops it when it comes.
        drop(self.slot().release());
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
