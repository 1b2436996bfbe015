//! The errors of the sync calls: [`WouldDeadlock`], [`WaitError`],
//! [`TimeoutError`], and [`JoinError`].

use std::fmt;

use super::TaskError;

// ===== impl WouldDeadlock =====

/// A sync call refused to block because blocking here would stall or
/// deadlock: on the thread of a `current_thread` tokio runtime (every other
/// task of the runtime would stop), or `join` on one of the pool's own
/// workers (it would wait for itself).
///
/// Nothing was submitted, taken or cancelled: an `AsyncResult` is still
/// there to `.await`, and `.await`ing the `_async` form is the fix.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let pool = corepool::Pool::new(1).unwrap();
/// let mut r = pool.apply_async(|| 42);
/// let err = r.get().unwrap_err();
/// assert!(err.would_deadlock().is_some());
/// assert_eq!(r.await.unwrap(), 42); // nothing was lost
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct WouldDeadlock {
    why: &'static str,
}

impl WouldDeadlock {
    pub(crate) fn new(why: &'static str) -> Self {
        WouldDeadlock { why }
    }
}

impl fmt::Display for WouldDeadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blocking here would deadlock: {}", self.why)
    }
}

impl std::error::Error for WouldDeadlock {}

// ===== impl WaitError =====

/// The error of a sync call that waits for a task: [`Pool::apply`],
/// [`Pool::map`] and the rest of the map family,
/// [`AsyncResult::get`], and the items of a
/// [`BlockingIter`](crate::BlockingIter).
///
/// [`Pool::apply`]: crate::Pool::apply
/// [`Pool::map`]: crate::Pool::map
/// [`AsyncResult::get`]: crate::AsyncResult::get
///
/// # Examples
///
/// ```
/// use corepool::WaitError;
///
/// let pool = corepool::Pool::new(1)?;
/// match pool.apply(|| -> u8 { panic!("boom") }) {
///     Err(WaitError::Task(e)) => assert_eq!(e.panic_message(), Some("boom")),
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// For the fallible (`try_`) forms the task's error is a
/// [`TryError<E>`](crate::TryError): `WaitError<TryError<E>>`.
#[derive(Debug)]
pub enum WaitError<E = TaskError> {
    /// The task failed: it panicked or was cancelled (or, for the `try_`
    /// forms, returned your error).
    Task(E),
    /// The call refused to block here; nothing was submitted or taken.
    WouldDeadlock(WouldDeadlock),
}

impl<E> WaitError<E> {
    /// The task's error, if that is what this is.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> () { panic!() }).unwrap_err();
    /// assert!(err.task_error().unwrap().is_panic());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_error(&self) -> Option<&E> {
        match self {
            WaitError::Task(e) => Some(e),
            WaitError::WouldDeadlock(_) => None,
        }
    }

    /// The refusal to block, if that is what this is.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// assert!(pool.apply(|| 1).unwrap_err().would_deadlock().is_some());
    /// # }
    /// ```
    pub fn would_deadlock(&self) -> Option<&WouldDeadlock> {
        match self {
            WaitError::Task(_) => None,
            WaitError::WouldDeadlock(e) => Some(e),
        }
    }

    /// The task's error by value, if that is what this is (to resume its
    /// panic, say).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> () { std::panic::panic_any(7_u8) }).unwrap_err();
    /// let payload = err.into_task_error().unwrap().into_panic();
    /// assert_eq!(payload.downcast_ref::<u8>(), Some(&7));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_task_error(self) -> Option<E> {
        match self {
            WaitError::Task(e) => Some(e),
            WaitError::WouldDeadlock(_) => None,
        }
    }
}

impl WaitError {
    /// Whether the task panicked ([`TaskError::is_panic`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert!(pool.map(|x: u8| 1 / x, [0]).unwrap_err().is_panic());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_panic(&self) -> bool {
        self.task_error().is_some_and(TaskError::is_panic)
    }

    /// Whether the task was cancelled ([`TaskError::is_cancelled`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// assert!(pool.apply(|| 1).unwrap_err().is_cancelled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.task_error().is_some_and(TaskError::is_cancelled)
    }

    /// The panic message ([`TaskError::panic_message`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> () { panic!("boom") }).unwrap_err();
    /// assert_eq!(err.panic_message(), Some("boom"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        self.task_error().and_then(TaskError::panic_message)
    }

    /// The index of the failing input item ([`TaskError::index`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let err = pool.map(|x: u32| if x == 3 { panic!() } else { x }, 0..10).unwrap_err();
    /// assert_eq!(err.index(), Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> Option<usize> {
        self.task_error().and_then(TaskError::index)
    }
}

impl From<TaskError> for WaitError {
    fn from(error: TaskError) -> Self {
        WaitError::Task(error)
    }
}

impl<E> From<WouldDeadlock> for WaitError<E> {
    fn from(error: WouldDeadlock) -> Self {
        WaitError::WouldDeadlock(error)
    }
}

impl<E: fmt::Display> fmt::Display for WaitError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WaitError::Task(e) => e.fmt(f),
            WaitError::WouldDeadlock(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for WaitError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The variants are shown by `Display` already.
        None
    }
}

// ===== impl TimeoutError =====

/// The error of a sync call with a timeout:
/// [`AsyncResult::get_timeout`](crate::AsyncResult::get_timeout) and
/// [`BlockingIter::next_timeout`](crate::BlockingIter::next_timeout).
///
/// # Examples
///
/// ```
/// use std::{sync::mpsc, time::Duration};
/// use corepool::TimeoutError;
///
/// let pool = corepool::Pool::new(1)?;
/// let (go, wait_for_go) = mpsc::channel::<()>();
/// let mut r = pool.apply_async(move || { wait_for_go.recv().unwrap(); 5 });
/// assert!(matches!(r.get_timeout(Duration::from_millis(1)), Err(TimeoutError::TimedOut)));
/// go.send(())?;
/// assert_eq!(r.get()?, 5); // nothing was lost
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum TimeoutError<E = TaskError> {
    /// The result was not ready in time. Nothing was lost: it can still be
    /// waited for or awaited.
    TimedOut,
    /// The task failed: it panicked or was cancelled (or, for the `try_`
    /// forms, returned your error).
    Task(E),
    /// The call refused to block here; nothing was submitted or taken.
    WouldDeadlock(WouldDeadlock),
}

impl<E> TimeoutError<E> {
    /// Whether the call ran out of time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (_keep, wait_forever) = std::sync::mpsc::channel::<()>();
    /// let mut r = pool.apply_async(move || { let _ = wait_forever.recv(); });
    /// assert!(r.get_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// # drop(_keep);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, TimeoutError::TimedOut)
    }

    /// The task's error, if that is what this is.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let mut r = pool.apply_async(|| -> () { panic!("boom") });
    /// let err = r.get_timeout(Duration::from_secs(60)).unwrap_err();
    /// assert_eq!(err.task_error().unwrap().panic_message(), Some("boom"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_error(&self) -> Option<&E> {
        match self {
            TimeoutError::Task(e) => Some(e),
            _ => None,
        }
    }
}

impl<E> From<WaitError<E>> for TimeoutError<E> {
    fn from(error: WaitError<E>) -> Self {
        match error {
            WaitError::Task(e) => TimeoutError::Task(e),
            WaitError::WouldDeadlock(e) => TimeoutError::WouldDeadlock(e),
        }
    }
}

impl<E> From<WouldDeadlock> for TimeoutError<E> {
    fn from(error: WouldDeadlock) -> Self {
        TimeoutError::WouldDeadlock(error)
    }
}

impl From<TaskError> for TimeoutError {
    fn from(error: TaskError) -> Self {
        TimeoutError::Task(error)
    }
}

impl<E: fmt::Display> fmt::Display for TimeoutError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimeoutError::TimedOut => f.write_str(
                "timed out waiting for the result (nothing was lost: it can still be awaited)",
            ),
            TimeoutError::Task(e) => e.fmt(f),
            TimeoutError::WouldDeadlock(e) => e.fmt(f),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for TimeoutError<E> {}

// ===== impl JoinError =====

/// The error of [`Pool::join`](crate::Pool::join) and
/// [`Pool::join_async`](crate::Pool::join_async). (Not to be confused with
/// tokio's `JoinError`, whose counterpart here is [`TaskError`].)
///
/// # Examples
///
/// ```
/// let pool = corepool::Pool::new(1)?;
/// let err = pool.join().unwrap_err();
/// assert!(err.is_not_closed());
/// pool.close();
/// pool.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct JoinError {
    repr: JoinRepr,
}

#[derive(Debug)]
enum JoinRepr {
    NotClosed,
    WouldDeadlock(WouldDeadlock),
}

impl JoinError {
    pub(crate) fn not_closed() -> Self {
        JoinError {
            repr: JoinRepr::NotClosed,
        }
    }

    pub(crate) fn refused(error: WouldDeadlock) -> Self {
        JoinError {
            repr: JoinRepr::WouldDeadlock(error),
        }
    }

    /// Whether `join` was called before [`close`](crate::Pool::close) or
    /// [`terminate`](crate::Pool::terminate) (Python raises `ValueError`).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert!(pool.join().unwrap_err().is_not_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_not_closed(&self) -> bool {
        matches!(self.repr, JoinRepr::NotClosed)
    }

    /// The refusal to block, when `join` was called on one of the pool's own
    /// workers or on the thread of a `current_thread` tokio runtime.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (p, (go, wait_for_go)) = (pool.clone(), mpsc::channel::<()>());
    /// let mut from_a_worker = pool.apply_async(move || {
    ///     wait_for_go.recv().unwrap(); // until the pool is closed
    ///     p.join().unwrap_err().would_deadlock().is_some()
    /// });
    /// pool.close();
    /// go.send(())?;
    /// assert!(from_a_worker.get()?);
    /// pool.join()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn would_deadlock(&self) -> Option<&WouldDeadlock> {
        match &self.repr {
            JoinRepr::WouldDeadlock(e) => Some(e),
            JoinRepr::NotClosed => None,
        }
    }
}

impl fmt::Display for JoinError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.repr {
            JoinRepr::NotClosed => f.write_str("join called before close or terminate"),
            JoinRepr::WouldDeadlock(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for JoinError {}
