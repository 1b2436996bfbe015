//! The crate's error types: [`TaskError`] for everything a submission can
//! resolve to other than its value, and [`BuildError`] for a pool that could
//! not be built.

use std::any::Any;
use std::fmt;
use std::io;
use std::sync::Mutex;

/// A panic payload, as [`std::panic::catch_unwind`] returns it.
pub(crate) type Payload = Box<dyn Any + Send + 'static>;

// ===== impl TaskError =====

/// Why a submission did not produce its value.
///
/// Every future, stream item and blocking call of a [`Pool`](crate::Pool)
/// resolves to `Result<T, TaskError>`. Like tokio's `JoinError`, a panic is a
/// value: [`is_panic`](TaskError::is_panic) tells it apart,
/// [`into_panic`](TaskError::into_panic) hands back the payload so it can be
/// resumed, and `Display` shows the panic message. `TaskError` is
/// `Send + Sync + 'static`, so it can cross threads and be boxed into
/// `Box<dyn Error + Send + Sync>`.
///
/// # Examples
///
/// ```
/// let pool = corepool::Pool::new(1)?;
/// let err = pool.apply(|| -> u32 { panic!("boom") }).unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.panic_message(), Some("boom"));
/// assert_eq!(err.to_string(), "task panicked: boom");
///
/// // The worker survived the panic.
/// assert_eq!(pool.apply(|| 7)?, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TaskError {
    kind: ErrorKind,
    /// The panic message, or extra context for the other kinds.
    message: Option<String>,
    /// The index of the failing input, for `map`, `starmap` and `imap`.
    index: Option<usize>,
    /// The panic payload; a `Mutex` makes the error `Sync` without `unsafe`.
    payload: Mutex<Option<Payload>>,
}

/// The kind of a [`TaskError`], returned by [`TaskError::kind`].
///
/// # Examples
///
/// ```
/// use corepool::{ErrorKind, Pool};
///
/// let pool = Pool::new(1)?;
/// pool.close();
/// let err = pool.apply(|| 1).unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::Closed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The task panicked. The worker that ran it lives on.
    Panicked,
    /// A `callback` or `error_callback` panicked; the task's own outcome is
    /// replaced by this error.
    CallbackPanicked,
    /// The task never ran: the pool was terminated, or the result was dropped,
    /// before a worker started it.
    Cancelled,
    /// The pool was closed or terminated before the submission was made.
    Closed,
    /// An argument was out of range, such as a `chunksize` or `buffersize`
    /// of 0.
    InvalidArgument,
    /// A blocking call was made where blocking would deadlock or stall the
    /// caller's runtime (a `current_thread` tokio runtime, or `join` from
    /// one of the pool's own workers).
    WouldDeadlock,
    /// A `*_timeout` call ran out of time. Nothing is lost: the result can
    /// still be waited for.
    TimedOut,
    /// `join` was called on a pool that was not closed or terminated first.
    NotClosed,
    /// The input iterator or stream of an `imap` panicked; the stream ends
    /// after this error.
    InputPanicked,
}

impl TaskError {
    fn new(kind: ErrorKind, message: Option<String>) -> Self {
        TaskError {
            kind,
            message,
            index: None,
            payload: Mutex::new(None),
        }
    }

    pub(crate) fn panicked(payload: Payload) -> Self {
        Self::from_payload(ErrorKind::Panicked, payload)
    }

    pub(crate) fn from_payload(kind: ErrorKind, payload: Payload) -> Self {
        let message = payload_message(&*payload).map(str::to_owned);
        TaskError {
            kind,
            message,
            index: None,
            payload: Mutex::new(Some(payload)),
        }
    }

    pub(crate) fn cancelled() -> Self {
        Self::new(ErrorKind::Cancelled, None)
    }

    pub(crate) fn closed() -> Self {
        Self::new(ErrorKind::Closed, None)
    }

    pub(crate) fn timed_out() -> Self {
        Self::new(ErrorKind::TimedOut, None)
    }

    pub(crate) fn not_closed() -> Self {
        Self::new(ErrorKind::NotClosed, None)
    }

    pub(crate) fn invalid_argument(what: &str) -> Self {
        Self::new(ErrorKind::InvalidArgument, Some(what.to_owned()))
    }

    pub(crate) fn would_deadlock(why: &str) -> Self {
        Self::new(ErrorKind::WouldDeadlock, Some(why.to_owned()))
    }

    /// The same error, reported for one item of a chunk that failed as a
    /// whole (the payload, if any, stays with the original).
    pub(crate) fn for_item(&self, index: usize) -> Self {
        Self::new(self.kind, self.message.clone()).with_index(index)
    }

    pub(crate) fn with_index(mut self, index: usize) -> Self {
        self.index = Some(index);
        self
    }

    /// What went wrong.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{ErrorKind, Pool};
    ///
    /// let pool = Pool::new(1)?;
    /// let err = pool.map_with(|x: u32| x, 0..4, corepool::MapOptions::new().chunksize(0));
    /// assert_eq!(err.unwrap_err().kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// Whether the task (not a callback) panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert!(pool.apply(|| -> () { panic!() }).unwrap_err().is_panic());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_panic(&self) -> bool {
        self.kind == ErrorKind::Panicked
    }

    /// Whether the task was cancelled before it ran (by
    /// [`Pool::terminate`](crate::Pool::terminate), or because its result was
    /// dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (started, has_started) = mpsc::channel();
    /// let (finish, may_finish) = mpsc::channel::<()>();
    /// let mut busy = pool.apply_async(move || {
    ///     started.send(()).unwrap();
    ///     may_finish.recv().unwrap();
    /// });
    /// has_started.recv()?; // the only worker is busy now
    /// let mut queued = pool.apply_async(|| 1);
    /// pool.terminate();
    /// assert!(queued.get().unwrap_err().is_cancelled());
    /// finish.send(())?;
    /// assert!(busy.get().is_ok()); // running work finishes
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.kind == ErrorKind::Cancelled
    }

    /// Whether this is the error of a `*_timeout` call that ran out of time.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{sync::mpsc, time::Duration};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (go, wait_for_go) = mpsc::channel::<()>();
    /// let mut r = pool.apply_async(move || { wait_for_go.recv().unwrap(); 5 });
    /// assert!(r.get_timeout(Duration::from_millis(1)).unwrap_err().is_timeout());
    /// go.send(())?;
    /// assert_eq!(r.get()?, 5); // nothing was lost
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.kind == ErrorKind::TimedOut
    }

    /// The index of the failing input item, for `map`, `starmap` and `imap`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let err = pool.map(|x: u32| if x == 3 { panic!("three") } else { x }, 0..10).unwrap_err();
    /// assert_eq!(err.index(), Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    /// The panic message, when the task or callback panicked with a `&str`
    /// or `String`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> () { panic!("bad {}", 42) }).unwrap_err();
    /// assert_eq!(err.panic_message(), Some("bad 42"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match self.kind {
            ErrorKind::Panicked | ErrorKind::CallbackPanicked | ErrorKind::InputPanicked => {
                self.message.as_deref()
            }
            _ => None,
        }
    }

    /// Consumes the error, returning the panic payload.
    ///
    /// # Panics
    ///
    /// Panics if the error does not carry a payload (it is not a panic, or
    /// the payload was already taken). Use
    /// [`try_into_panic`](TaskError::try_into_panic) to check.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> () { std::panic::panic_any(17_u8) }).unwrap_err();
    /// let payload = err.into_panic();
    /// assert_eq!(payload.downcast_ref::<u8>(), Some(&17));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`TaskError` does not carry a panic payload")
    }

    /// Consumes the error, returning the panic payload if there is one, or
    /// the error itself if not.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// let err = pool.apply(|| 1).unwrap_err();
    /// assert!(err.try_into_panic().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, TaskError> {
        let payload = self
            .payload
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        payload.ok_or(self)
    }
}

/// The message of a panic payload, when it is a `&str` or a `String`.
pub(crate) fn payload_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            ErrorKind::Panicked => "task panicked",
            ErrorKind::CallbackPanicked => "callback panicked",
            ErrorKind::Cancelled => "task was cancelled before it ran",
            ErrorKind::Closed => "pool is closed: no new work is accepted",
            ErrorKind::InvalidArgument => "invalid argument",
            ErrorKind::WouldDeadlock => "blocking here would deadlock",
            ErrorKind::TimedOut => "timed out waiting for the result (it can still be awaited)",
            ErrorKind::NotClosed => "join called before close or terminate",
            ErrorKind::InputPanicked => "the input iterator or stream panicked",
        };
        f.write_str(what)?;
        if let Some(index) = self.index {
            write!(f, " (item {index})")?;
        }
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("index", &self.index)
            .finish_non_exhaustive()
    }
}

impl std::error::Error for TaskError {}

// ===== impl BuildError =====

/// The error of [`PoolBuilder::build`](crate::PoolBuilder::build).
///
/// Whatever the cause, no thread of the failed pool is left running.
///
/// # Examples
///
/// ```
/// let err = corepool::Pool::new(0).unwrap_err();
/// assert_eq!(err.to_string(), "a pool needs at least one worker (workers = 0)");
/// ```
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    ZeroWorkers,
    TooManyWorkers(usize),
    ThreadName(usize),
    Spawn(io::Error),
    Initializer {
        worker: usize,
        message: Option<String>,
    },
}

impl BuildError {
    pub(crate) fn zero_workers() -> Self {
        BuildError {
            kind: BuildErrorKind::ZeroWorkers,
        }
    }

    pub(crate) fn too_many_workers(workers: usize) -> Self {
        BuildError {
            kind: BuildErrorKind::TooManyWorkers(workers),
        }
    }

    pub(crate) fn thread_name(worker: usize) -> Self {
        BuildError {
            kind: BuildErrorKind::ThreadName(worker),
        }
    }

    pub(crate) fn spawn(error: io::Error) -> Self {
        BuildError {
            kind: BuildErrorKind::Spawn(error),
        }
    }

    pub(crate) fn initializer(worker: usize, message: Option<String>) -> Self {
        BuildError {
            kind: BuildErrorKind::Initializer { worker, message },
        }
    }

    /// Whether the build failed because the initializer panicked on a worker.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = corepool::Pool::builder()
    ///     .workers(2)
    ///     .initializer(|| panic!("no database"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.is_initializer_panic());
    /// ```
    pub fn is_initializer_panic(&self) -> bool {
        matches!(self.kind, BuildErrorKind::Initializer { .. })
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::ZeroWorkers => {
                f.write_str("a pool needs at least one worker (workers = 0)")
            }
            BuildErrorKind::TooManyWorkers(n) => write!(
                f,
                "{n} workers is more than a pool may have (at most {})",
                crate::MAX_WORKERS
            ),
            BuildErrorKind::ThreadName(worker) => {
                write!(f, "the name of worker {worker} contains a NUL byte")
            }
            BuildErrorKind::Spawn(_) => f.write_str("failed to spawn a worker thread"),
            BuildErrorKind::Initializer { worker, message } => {
                write!(f, "the initializer panicked on worker {worker}")?;
                match message {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn errors_are_send_sync() {
        assert_send_sync::<TaskError>();
        assert_send_sync::<BuildError>();
    }

    #[test]
    fn string_and_str_payloads_give_messages() {
        let e = TaskError::panicked(Box::new("static"));
        assert_eq!(e.panic_message(), Some("static"));
        let e = TaskError::panicked(Box::new(String::from("owned")));
        assert_eq!(e.panic_message(), Some("owned"));
        let e = TaskError::panicked(Box::new(5_i32)).with_index(9);
        assert_eq!(e.panic_message(), None);
        assert_eq!(e.to_string(), "task panicked (item 9)");
        assert_eq!(*e.into_panic().downcast::<i32>().unwrap(), 5);
    }

    #[test]
    fn non_panics_have_no_payload() {
        let e = TaskError::invalid_argument("chunksize must be at least 1");
        assert_eq!(e.panic_message(), None);
        assert_eq!(
            e.to_string(),
            "invalid argument: chunksize must be at least 1"
        );
        assert_eq!(
            e.try_into_panic().unwrap_err().kind(),
            ErrorKind::InvalidArgument
        );
    }
}
