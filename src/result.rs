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
use crate::error::TaskError;
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
pub struct AsyncResult<T> {
    slot: Arc<Slot<T>>,
    pool: u64,
    detached: bool,
    taken: bool,
}

impl<T> AsyncResult<T> {
    pub(crate) fn new(slot: Arc<Slot<T>>, pool: u64, detached: bool) -> Self {
        AsyncResult {
            slot,
            pool,
            detached,
            taken: false,
        }
    }

    fn take(&mut self, outcome: Option<Result<T, TaskError>>) -> Result<T, TaskError> {
        self.taken = true;
        outcome.expect("AsyncResult: the result was already taken")
    }

    /// Blocks until the result is ready and returns it (Python's `get()`).
    ///
    /// Inside a multi-thread tokio runtime this blocks through
    /// `block_in_place`, so the runtime's other tasks keep running.
    ///
    /// # Errors
    ///
    /// The task's error (a panic, a cancellation, a closed pool...), or
    /// [`ErrorKind::WouldDeadlock`](crate::ErrorKind::WouldDeadlock) inside a
    /// `current_thread` tokio runtime, where waiting would stall the runtime:
    /// `.await` the `AsyncResult` there instead.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken by
    /// [`get_timeout`](AsyncResult::get_timeout) or by polling.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let r = pool.apply_async(|| "hello".len());
    /// assert_eq!(r.get()?, 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get(mut self) -> Result<T, TaskError> {
        let slot = self.slot.clone();
        let outcome = blocking::block_on(self.pool, None, |cx| slot.poll_take(cx))?;
        self.take(outcome)
    }

    /// Like [`get`](AsyncResult::get), but gives up after `timeout` (Python's
    /// `get(timeout)`).
    ///
    /// # Errors
    ///
    /// As `get`, plus [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) when
    /// the result is not ready in time. The result is not lost: call `get`,
    /// `get_timeout` or `.await` again.
    ///
    /// # Panics
    ///
    /// Panics if the result was already taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let mut r = pool.apply_async(|| { std::thread::sleep(Duration::from_millis(30)); 1 });
    /// assert!(r.get_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// assert_eq!(r.get_timeout(Duration::from_secs(10))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn get_timeout(&mut self, timeout: Duration) -> Result<T, TaskError> {
        let slot = self.slot.clone();
        let deadline = Instant::now() + timeout;
        let outcome = blocking::block_on(self.pool, Some(deadline), |cx| slot.poll_take(cx))?;
        self.take(outcome)
    }

    /// Blocks until the result is ready, without taking it (Python's
    /// `wait()`).
    ///
    /// # Errors
    ///
    /// Only [`ErrorKind::WouldDeadlock`](crate::ErrorKind::WouldDeadlock), as
    /// for `get`.
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
    pub fn wait(&self) -> Result<(), TaskError> {
        blocking::block_on(self.pool, None, |cx| self.slot.poll_complete(cx))
    }

    /// Like [`wait`](AsyncResult::wait), but gives up after `timeout`
    /// (Python's `wait(timeout)`).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::TimedOut`](crate::ErrorKind::TimedOut) if the result is
    /// not ready in time, or `WouldDeadlock` as for `get`.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let r = pool.apply_async(|| std::thread::sleep(Duration::from_millis(30)));
    /// assert!(r.wait_timeout(Duration::ZERO).is_err());
    /// r.wait_timeout(Duration::from_secs(10))?;
    /// assert!(r.ready());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), TaskError> {
        let deadline = Instant::now() + timeout;
        blocking::block_on(self.pool, Some(deadline), |cx| self.slot.poll_complete(cx))
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

impl<T> Future for AsyncResult<T> {
    type Output = Result<T, TaskError>;

    /// # Panics
    ///
    /// Panics if polled after it returned `Ready`.
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.slot.poll_take(cx) {
            Poll::Ready(outcome) => Poll::Ready(self.take(outcome)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T> FusedFuture for AsyncResult<T> {
    fn is_terminated(&self) -> bool {
        self.taken
    }
}

impl<T> Drop for AsyncResult<T> {
    fn drop(&mut self) {
        if !self.detached {
            self.slot.abandon();
        }
    }
}

impl<T> fmt::Debug for AsyncResult<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncResult")
            .field("ready", &self.ready())
            .field("detached", &self.detached)
            .finish_non_exhaustive()
    }
}
