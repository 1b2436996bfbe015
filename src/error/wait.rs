//! The errors of the sync calls: [`WouldDeadlock`], [`WaitError`], and
//! [`JoinError`].

use std::fmt;

use super::{Cancellation, Outcome, PanicPayload, TaskError, TaskErrorKind};

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

/// Why a sync or timed wait gave no value: the error of `apply`, `map`,
/// `run`, [`AsyncResult::get`](crate::AsyncResult::get) and
/// [`get_timeout`](crate::AsyncResult::get_timeout),
/// [`wait`](crate::AsyncResult::wait) and
/// [`wait_timeout`](crate::AsyncResult::wait_timeout), and the blocking
/// `imap` iterator's [`next_timeout`](crate::BlockingIter::next_timeout).
///
/// The task's own error (`E`: a [`TaskError`], or a
/// [`TryError`](crate::TryError) for fallible work) is one variant; the
/// others say why there was nothing to wait for. Every accessor of the
/// task's error is here directly ([`kind`](WaitError::kind),
/// [`cancellation`](WaitError::cancellation), [`index`](WaitError::index),
/// [`panic_message`](WaitError::panic_message)...), so a caller needs no
/// `match` for the common questions.
///
/// # Examples
///
/// ```
/// use corepool::{Cancellation, TaskErrorKind, WaitError};
///
/// let pool = corepool::Pool::new(1)?;
/// let err = pool.map(|x: u32| 10 / x, [5, 0]).unwrap_err();
/// assert_eq!(err.kind(), Some(TaskErrorKind::Panicked));
/// assert_eq!(err.index(), Some(1));
///
/// pool.close();
/// let err = pool.apply(|| 1).unwrap_err();
/// assert_eq!(err.cancellation(), Some(Cancellation::PoolClosed));
/// assert!(matches!(err, WaitError::Task(_)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum WaitError<E = TaskError> {
    /// The task failed: it panicked, was cancelled, or (fallible work)
    /// returned `Err`.
    Task(E),
    /// Waiting here would stall the caller's runtime (see the
    /// [crate docs](crate#where-blocking-calls-are-allowed)); nothing was
    /// submitted or taken.
    WouldDeadlock(WouldDeadlock),
    /// A timed wait's time ran out first; nothing is lost, wait again.
    TimedOut,
    /// The value was already taken by an earlier `get` or `.await`.
    Taken,
}

impl<E> WaitError<E> {
    /// The task's error, if that is what this is.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { panic!("boom") }).unwrap_err();
    /// assert_eq!(err.task_error().unwrap().panic_message(), Some("boom"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn task_error(&self) -> Option<&E> {
        match self {
            WaitError::Task(e) => Some(e),
            _ => None,
        }
    }

    /// The task's error, by value.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { panic!("boom") }).unwrap_err();
    /// let payload = err.into_task_error().unwrap().into_panic();
    /// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_task_error(self) -> Option<E> {
        match self {
            WaitError::Task(e) => Some(e),
            _ => None,
        }
    }

    /// Why waiting here was refused, if it was.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let err = pool.apply(|| 1).unwrap_err(); // on a current_thread runtime
    /// assert!(err.would_deadlock().is_some());
    /// # }
    /// ```
    pub fn would_deadlock(&self) -> Option<&WouldDeadlock> {
        match self {
            WaitError::WouldDeadlock(e) => Some(e),
            _ => None,
        }
    }

    /// Whether a timed wait ran out of time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let mut r = pool.apply_async(|| std::thread::sleep(Duration::from_millis(200)));
    /// assert!(r.get_timeout(Duration::ZERO).unwrap_err().is_timeout());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self, WaitError::TimedOut)
    }

    /// Whether the value had already been taken.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let mut r = pool.apply_async(|| 1);
    /// assert_eq!(r.get()?, 1);
    /// assert!(r.get().unwrap_err().is_taken());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_taken(&self) -> bool {
        matches!(self, WaitError::Taken)
    }
}

impl<E: Outcome> WaitError<E> {
    fn task(&self) -> Option<&TaskError> {
        self.task_error().and_then(Outcome::as_task_error)
    }

    /// The kind of the task's error; `None` when the error is not the
    /// task's ([`WouldDeadlock`](WaitError::WouldDeadlock),
    /// [`TimedOut`](WaitError::TimedOut), [`Taken`](WaitError::Taken)).
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{Apply, TaskErrorKind};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.run(Apply::fallible(|| "x".parse::<u8>())).unwrap_err();
    /// assert_eq!(err.kind(), Some(TaskErrorKind::User));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> Option<TaskErrorKind> {
        let error = self.task_error()?;
        Some(
            error
                .as_task_error()
                .map_or(TaskErrorKind::User, TaskError::kind),
        )
    }

    /// Whether the task panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert!(pool.apply(|| -> u8 { panic!() }).unwrap_err().is_panic());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_panic(&self) -> bool {
        self.task().is_some_and(TaskError::is_panic)
    }

    /// Whether the task was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.terminate();
    /// assert!(pool.apply(|| 1).unwrap_err().is_cancelled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.task().is_some_and(TaskError::is_cancelled)
    }

    /// Why the task was cancelled, if it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::Cancellation;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// let err = pool.apply(|| 1).unwrap_err();
    /// assert_eq!(err.cancellation(), Some(Cancellation::PoolClosed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancellation(&self) -> Option<Cancellation> {
        self.task().and_then(TaskError::cancellation)
    }

    /// The panic's message, if the task panicked with a string.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { panic!("boom") }).unwrap_err();
    /// assert_eq!(err.panic_message(), Some("boom"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        self.task().and_then(TaskError::panic_message)
    }

    /// Where the task panicked (`file:line:column`), if it did.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { panic!("boom") }).unwrap_err();
    /// assert!(err.panic_location().unwrap().contains(".rs:"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_location(&self) -> Option<&str> {
        self.task().and_then(TaskError::panic_location)
    }

    /// A view of the panic's payload (see [`TaskError::panic_payload`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { panic!("boom") }).unwrap_err();
    /// assert_eq!(err.panic_payload().unwrap().downcast_ref::<&str>(), Some(&"boom"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_payload(&self) -> Option<PanicPayload<'_>> {
        self.task().and_then(TaskError::panic_payload)
    }

    /// The index of the input item that failed (the map family, `imap`).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let err = pool.map(|x: u8| 10 / x, [1, 0]).unwrap_err();
    /// assert_eq!(err.index(), Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> Option<usize> {
        self.task_error().and_then(Outcome::index)
    }

    /// The id of the submission (the `id` of its `corepool.job` span).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { panic!() }).unwrap_err();
    /// assert_eq!(err.id(), err.task_error().map(|e| e.id()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn id(&self) -> Option<u64> {
        self.task().map(TaskError::id)
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
            WaitError::TimedOut => f.write_str("timed out waiting for the task"),
            WaitError::Taken => f.write_str("the task's value was already taken"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for WaitError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The variants are shown by `Display` already.
        None
    }
}

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
