//! [`TaskError`]: why a task did not produce its value.

use std::any::Any;
use std::fmt;
use std::io;

use crate::sync::{self, Mutex};

use super::{Cancellation, PanicPayload, Payload, TaskErrorKind, UserError, payload_message};

// ===== impl TaskError =====

/// Why a task (an `apply`, a map, one item of an `imap`) did not produce its
/// value: it **panicked**, or it was **cancelled** before it ran.
///
/// Modeled on tokio's `JoinError`: a panic is a value,
/// [`is_panic`](TaskError::is_panic) tells it apart,
/// [`into_panic`](TaskError::into_panic) hands back the payload so it can be
/// resumed, and `Display` shows the panic message. Every error carries the
/// [`id`](TaskError::id) of its submission, the `id` field of the
/// `corepool.job` tracing span its work ran in, so a log line can be matched
/// to its trace. `TaskError` is `Send + Sync + 'static`, and converts into
/// `std::io::Error`.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// let pool = corepool::Pool::new(1).unwrap();
/// let err = pool.apply_async(|| -> u32 { panic!("boom") }).await.unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.panic_message(), Some("boom"));
/// assert_eq!(err.to_string(), format!("task {} panicked: boom", err.id()));
///
/// // The worker survived the panic.
/// assert_eq!(pool.apply_async(|| 7).await.unwrap(), 7);
/// # }
/// ```
pub struct TaskError {
    repr: Repr,
    id: u64,
    /// The index of the failing input, for the map family and `imap`.
    index: Option<usize>,
}

/// Only a panic carries a payload; only a fallible (`try_`) form's error
/// carries a user error.
enum Repr {
    /// A `try_` form's function returned `Err`: the user's error, typed
    /// again by `TryError` (see `error/try_error.rs`).
    User(Box<dyn UserError>),
    Panic {
        origin: Origin,
        message: Option<String>,
        /// Behind a `Mutex` so the error is `Sync` without `unsafe`; `None`
        /// in the copies made for the other items of a failed chunk.
        payload: Mutex<Option<Payload>>,
    },
    Cancelled(Cancellation),
}

/// What panicked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    Task,
    Callback,
    Input,
}

impl TaskError {
    pub(crate) fn panicked(id: u64, payload: Payload) -> Self {
        Self::panic(Origin::Task, id, payload)
    }

    pub(crate) fn callback_panicked(id: u64, payload: Payload) -> Self {
        Self::panic(Origin::Callback, id, payload)
    }

    pub(crate) fn input_panicked(id: u64, payload: Payload) -> Self {
        Self::panic(Origin::Input, id, payload)
    }

    fn panic(origin: Origin, id: u64, payload: Payload) -> Self {
        let message = payload_message(&*payload).map(str::to_owned);
        TaskError {
            repr: Repr::Panic {
                origin,
                message,
                payload: Mutex::new(Some(payload)),
            },
            id,
            index: None,
        }
    }

    pub(crate) fn user(id: u64, error: Box<dyn UserError>) -> Self {
        TaskError {
            repr: Repr::User(error),
            id,
            index: None,
        }
    }

    /// The user's error, if this carries one: `Ok` with it and the index,
    /// `Err(self)` otherwise.
    pub(crate) fn take_user(self) -> Result<(Box<dyn UserError>, Option<usize>), Self> {
        match self.repr {
            Repr::User(error) => Ok((error, self.index)),
            repr => Err(TaskError { repr, ..self }),
        }
    }

    pub(crate) fn cancelled(id: u64, why: Cancellation) -> Self {
        TaskError {
            repr: Repr::Cancelled(why),
            id,
            index: None,
        }
    }

    /// The same error, reported for one item of a chunk that failed as a
    /// whole (the payload, if any, stays with the original).
    pub(crate) fn for_item(&self, index: usize) -> Self {
        let repr = match &self.repr {
            Repr::Panic {
                origin, message, ..
            } => Repr::Panic {
                origin: *origin,
                message: message.clone(),
                payload: Mutex::new(None),
            },
            Repr::Cancelled(why) => Repr::Cancelled(*why),
            // A whole chunk fails only by being cancelled or by a panic of the
            // chunk as a whole; a user error belongs to one item.
            Repr::User(_) => {
                debug_assert!(false, "a user error is never copied to other items");
                Repr::Cancelled(Cancellation::Abandoned)
            }
        };
        TaskError {
            repr,
            id: self.id,
            index: Some(index),
        }
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
    /// use corepool::TaskErrorKind;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { panic!() }).unwrap_err();
    /// assert_eq!(err.task_error().unwrap().kind(), TaskErrorKind::Panicked);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> TaskErrorKind {
        match &self.repr {
            Repr::Panic {
                origin: Origin::Task,
                ..
            } => TaskErrorKind::Panicked,
            Repr::Panic {
                origin: Origin::Callback,
                ..
            } => TaskErrorKind::CallbackPanicked,
            Repr::Panic {
                origin: Origin::Input,
                ..
            } => TaskErrorKind::InputPanicked,
            Repr::Cancelled(_) => TaskErrorKind::Cancelled,
            Repr::User(_) => TaskErrorKind::User,
        }
    }

    /// Whether the task itself (not a callback, not the input) panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// assert!(pool.apply_async(|| -> () { panic!() }).await.unwrap_err().is_panic());
    /// # }
    /// ```
    pub fn is_panic(&self) -> bool {
        self.kind() == TaskErrorKind::Panicked
    }

    /// Whether the task was cancelled before it ran.
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
    /// assert!(queued.get().unwrap_err().task_error().unwrap().is_cancelled());
    /// finish.send(())?;
    /// assert!(busy.get().is_ok()); // running work finishes
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.repr, Repr::Cancelled(_))
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
    /// assert_eq!(err.task_error().unwrap().cancellation(), Some(Cancellation::PoolClosed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancellation(&self) -> Option<Cancellation> {
        match self.repr {
            Repr::Cancelled(why) => Some(why),
            Repr::Panic { .. } | Repr::User(_) => None,
        }
    }

    /// The id of the submission: the `id` field of the `corepool.job` spans
    /// its work ran in (one id for every chunk of a map or an `imap`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let a = pool.apply_async(|| -> () { panic!() }).await.unwrap_err();
    /// let b = pool.apply_async(|| -> () { panic!() }).await.unwrap_err();
    /// assert_ne!(a.id(), b.id());
    /// # }
    /// ```
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The index of the failing input item, for the map family and `imap`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let err = pool
    ///     .map_async(|x: u32| if x == 3 { panic!("three") } else { x }, 0..10)
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.index(), Some(3));
    /// # }
    /// ```
    pub fn index(&self) -> Option<usize> {
        self.index
    }

    /// The panic message, when the task, a callback or the input panicked
    /// with a `&str` or a `String`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let err = pool.apply_async(|| -> () { panic!("bad {}", 42) }).await.unwrap_err();
    /// assert_eq!(err.panic_message(), Some("bad 42"));
    /// # }
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.repr {
            Repr::Panic { message, .. } => message.as_deref(),
            Repr::Cancelled(_) | Repr::User(_) => None,
        }
    }

    /// A view of the panic payload, by reference, while the error is kept
    /// (for an error callback, say: Python's errbacks test
    /// `isinstance(exc, KeyError)`). `None` if this is not a panic or the
    /// payload was taken by [`into_panic`](TaskError::into_panic).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use corepool::Callbacks;
    ///
    /// #[derive(Debug)]
    /// struct KeyError(&'static str);
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let cb = Callbacks::new().on_error(move |e: &corepool::TaskError| {
    ///     let key = e.panic_payload().and_then(|p| p.downcast_ref::<KeyError>().map(|k| k.0));
    ///     tx.send(key).unwrap();
    /// });
    /// pool.apply_async_with(|| -> u8 { std::panic::panic_any(KeyError("id")) }, cb).detach();
    /// assert_eq!(rx.recv()?, Some("id"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_payload(&self) -> Option<PanicPayload<'_>> {
        match &self.repr {
            Repr::Panic { payload, .. } => {
                let guard = sync::lock(payload);
                guard.is_some().then_some(PanicPayload(guard))
            }
            Repr::Cancelled(_) | Repr::User(_) => None,
        }
    }

    /// Consumes the error, returning the panic payload (to resume it with
    /// `std::panic::resume_unwind`, say).
    ///
    /// # Panics
    ///
    /// Panics if the error does not carry a payload: it is not a panic, or it
    /// is one of the per-item copies made when a whole `imap` chunk failed.
    /// Use [`try_into_panic`](TaskError::try_into_panic) to check.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let err = pool.apply_async(|| -> () { std::panic::panic_any(17_u8) }).await.unwrap_err();
    /// let payload = err.into_panic();
    /// assert_eq!(payload.downcast_ref::<u8>(), Some(&17));
    /// # }
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
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// pool.close();
    /// let err = pool.apply_async(|| 1).await.unwrap_err();
    /// assert!(err.try_into_panic().is_err());
    /// # }
    /// ```
    pub fn try_into_panic(self) -> Result<Box<dyn Any + Send + 'static>, TaskError> {
        let payload = match &self.repr {
            Repr::Panic { payload, .. } => sync::lock(payload).take(),
            Repr::Cancelled(_) | Repr::User(_) => None,
        };
        payload.ok_or(self)
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.id;
        match &self.repr {
            Repr::Panic { origin, .. } => match origin {
                Origin::Task => write!(f, "task {id} panicked")?,
                Origin::Callback => write!(f, "a callback of task {id} panicked")?,
                Origin::Input => write!(f, "the input of task {id} panicked")?,
            },
            Repr::Cancelled(_) => write!(f, "task {id} was cancelled")?,
            Repr::User(_) => write!(f, "task {id} returned an error")?,
        }
        if let Some(index) = self.index {
            write!(f, " (item {index})")?;
        }
        match &self.repr {
            Repr::Panic {
                message: Some(message),
                ..
            } => write!(f, ": {message}"),
            Repr::Panic { message: None, .. } => Ok(()),
            Repr::Cancelled(Cancellation::PoolClosed) => {
                f.write_str(": the pool was closed when it was submitted")
            }
            Repr::Cancelled(Cancellation::Terminated) => {
                f.write_str(": the pool was terminated before it ran")
            }
            Repr::Cancelled(Cancellation::Abandoned) => {
                f.write_str(": nobody wanted its result any more")
            }
            Repr::Cancelled(Cancellation::QueueFull) => {
                f.write_str(": the pool's queue was full when it was submitted")
            }
            Repr::User(error) => write!(f, ": {error:?}"),
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TaskError");
        d.field("id", &self.id).field("kind", &self.kind());
        if let Some(why) = self.cancellation() {
            d.field("cancellation", &why);
        }
        if let Some(message) = self.panic_message() {
            d.field("message", &message);
        }
        d.field("index", &self.index).finish()
    }
}

impl std::error::Error for TaskError {}

impl From<TaskError> for io::Error {
    /// A panic or a cancellation as an `io::Error` of kind `Other`, for code
    /// that reports everything as `io::Error` (tokio does the same for its
    /// `JoinError`).
    fn from(error: TaskError) -> io::Error {
        io::Error::other(error)
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn errors_are_send_sync() {
        assert_send_sync::<TaskError>();
    }

    #[test]
    fn string_and_str_payloads_give_messages() {
        let e = TaskError::panicked(1, Box::new("static"));
        assert_eq!(e.panic_message(), Some("static"));
        let e = TaskError::panicked(2, Box::new(String::from("owned")));
        assert_eq!(e.panic_message(), Some("owned"));
        let e = TaskError::panicked(3, Box::new(5_i32)).with_index(9);
        assert_eq!(e.panic_message(), None);
        assert_eq!(e.to_string(), "task 3 panicked (item 9)");
        assert_eq!(*e.into_panic().downcast::<i32>().unwrap(), 5);
    }

    #[test]
    fn cancellations_carry_no_payload_and_say_why() {
        let e = TaskError::cancelled(4, Cancellation::Terminated);
        assert_eq!(e.panic_message(), None);
        assert_eq!(
            e.to_string(),
            "task 4 was cancelled: the pool was terminated before it ran"
        );
        let e = e.try_into_panic().unwrap_err();
        assert_eq!(e.kind(), TaskErrorKind::Cancelled);
        let io: io::Error = e.into();
        assert_eq!(io.kind(), io::ErrorKind::Other);
    }

    #[test]
    fn per_item_copies_keep_the_message_but_not_the_payload() {
        let e = TaskError::panicked(5, Box::new("boom"));
        let copy = e.for_item(7);
        assert_eq!((copy.id(), copy.index()), (5, Some(7)));
        assert_eq!(copy.panic_message(), Some("boom"));
        assert!(copy.try_into_panic().is_err());
        assert!(e.try_into_panic().is_ok());
    }
}
