//! [`TaskError`]: why a task did not produce its value.

use std::any::Any;
use std::fmt;
use std::io;

use crate::sync;
use crate::unwind;

use super::payload::{Stored, View};
use super::{Cancellation, PanicPayload, Payload, TaskErrorKind, UserError};

// ===== impl TaskError =====

/// Why a task (an `apply`, a map, one item of an `imap`) did not produce its
/// value: it **panicked**, or it was **cancelled** before it ran (or stopped
/// on [`is_cancelled`](crate::is_cancelled)), or, for fallible work seen as
/// a plain `TaskError`, it returned the user's `Err`.
///
/// Modeled on tokio's `JoinError`: a panic is a value,
/// [`is_panic`](TaskError::is_panic) tells it apart,
/// [`into_panic`](TaskError::into_panic) hands back the payload so it can be
/// resumed, and `Display` shows the panic message and where it happened
/// ([`panic_location`](TaskError::panic_location), Python's remote
/// traceback in one line). Every error carries the [`id`](TaskError::id)
/// of its submission, the `id` field of the `corepool.job` tracing span its
/// work ran in, so a log line can be matched to its trace. `TaskError` is
/// one pointer wide (`Result<u32, TaskError>` is 16 bytes), `Send + Sync +
/// 'static`, and converts into `std::io::Error`.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// let pool = corepool::Pool::new(1).unwrap();
/// let err = pool.apply_async(|| -> u32 { panic!("boom") }).await.unwrap_err();
/// assert!(err.is_panic());
/// assert_eq!(err.panic_message(), Some("boom"));
/// assert!(err.panic_location().unwrap().contains(".rs:"));
/// assert!(err.to_string().starts_with(&format!("task {} panicked at ", err.id())));
///
/// // The worker survived the panic.
/// assert_eq!(pool.apply_async(|| 7).await.unwrap(), 7);
/// # }
/// ```
pub struct TaskError(Box<Inner>);

struct Inner {
    repr: Repr,
    id: u64,
    /// The index of the failing input, for the map family and `imap`.
    index: Option<usize>,
}

/// Only a panic carries a payload; only fallible work's error carries a
/// user error.
enum Repr {
    /// Fallible work returned `Err`: the user's error, typed again by
    /// `TryError` (see `error/try_error.rs`).
    User(Box<dyn UserError>),
    Panic {
        origin: Origin,
        /// `file:line:column`, when the panic hook saw it (`unwind.rs`).
        location: Option<Box<str>>,
        payload: Stored,
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
    fn from_inner(repr: Repr, id: u64) -> Self {
        TaskError(Box::new(Inner {
            repr,
            id,
            index: None,
        }))
    }

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
        let location = unwind::take_location().map(String::into_boxed_str);
        let payload = Stored::new(payload);
        Self::from_inner(
            Repr::Panic {
                origin,
                location,
                payload,
            },
            id,
        )
    }

    pub(crate) fn user(id: u64, error: Box<dyn UserError>) -> Self {
        Self::from_inner(Repr::User(error), id)
    }

    /// The user's error, if this carries one: `Ok` with it and the index,
    /// `Err(self)` otherwise.
    pub(crate) fn take_user(self) -> Result<(Box<dyn UserError>, Option<usize>), Self> {
        let inner = *self.0;
        match inner.repr {
            Repr::User(error) => Ok((error, inner.index)),
            repr => Err(TaskError(Box::new(Inner { repr, ..inner }))),
        }
    }

    pub(crate) fn cancelled(id: u64, why: Cancellation) -> Self {
        Self::from_inner(Repr::Cancelled(why), id)
    }

    /// The same error, reported for one item of a chunk that failed as a
    /// whole (the payload, if any, stays with the original).
    pub(crate) fn for_item(&self, index: usize) -> Self {
        let repr = match &self.0.repr {
            Repr::Panic {
                origin,
                location,
                payload,
            } => Repr::Panic {
                origin: *origin,
                location: location.clone(),
                payload: Stored::Message(payload.message().map(Box::from)),
            },
            Repr::Cancelled(why) => Repr::Cancelled(*why),
            // A whole chunk fails only by being cancelled or by a panic of the
            // chunk as a whole; a user error belongs to one item.
            Repr::User(_) => {
                debug_assert!(false, "a user error is never copied to other items");
                Repr::Cancelled(Cancellation::Abandoned)
            }
        };
        Self::from_inner(repr, self.0.id).with_index(index)
    }

    pub(crate) fn with_index(mut self, index: usize) -> Self {
        self.0.index = Some(index);
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
    /// assert_eq!(err.kind(), Some(TaskErrorKind::Panicked));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn kind(&self) -> TaskErrorKind {
        match &self.0.repr {
            Repr::Panic { origin, .. } => match origin {
                Origin::Task => TaskErrorKind::Panicked,
                Origin::Callback => TaskErrorKind::CallbackPanicked,
                Origin::Input => TaskErrorKind::InputPanicked,
            },
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
    /// assert!(pool.apply_async(|| panic!("no")).await.unwrap_err().is_panic());
    /// # }
    /// ```
    pub fn is_panic(&self) -> bool {
        self.kind() == TaskErrorKind::Panicked
    }

    /// Whether the task was cancelled: it never ran (the pool was closed or
    /// terminated, its queue was full, its result was dropped), or it
    /// stopped on [`is_cancelled`](crate::is_cancelled).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// let err = pool.apply_async(|| 1).get().unwrap_err();
    /// assert!(err.is_cancelled());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self.0.repr, Repr::Cancelled(_))
    }

    /// Why the task was cancelled; `None` if it was not.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::Cancellation;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// let err = pool.apply_async(|| 1).get().unwrap_err();
    /// assert_eq!(err.cancellation(), Some(Cancellation::PoolClosed));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancellation(&self) -> Option<Cancellation> {
        match self.0.repr {
            Repr::Cancelled(why) => Some(why),
            Repr::Panic { .. } | Repr::User(_) => None,
        }
    }

    /// The id of the submission, as in the `id` field of its
    /// `corepool.job` tracing span.
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
        self.0.id
    }

    /// The index of the input item that failed, for the map family and
    /// `imap`; `None` for `apply`.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let err = pool.map_async(|x: u8| 10 / x, [1, 2, 0, 4]).await.unwrap_err();
    /// assert_eq!(err.index(), Some(2));
    /// # }
    /// ```
    pub fn index(&self) -> Option<usize> {
        self.0.index
    }

    /// The panic's message, if it panicked with a string (as `panic!`
    /// does).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let err = pool.apply_async(|| -> () { panic!("at {}", 3) }).await.unwrap_err();
    /// assert_eq!(err.panic_message(), Some("at 3"));
    /// # }
    /// ```
    pub fn panic_message(&self) -> Option<&str> {
        match &self.0.repr {
            Repr::Panic { payload, .. } => payload.message(),
            Repr::Cancelled(_) | Repr::User(_) => None,
        }
    }

    /// Where the task panicked, as `file:line:column`; `None` if it did not
    /// panic, or if the application replaced the panic hook after the pool
    /// was built (corepool chains the hook in place when the first pool is
    /// built and notes panic locations from it; see the crate docs).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { panic!("here") }).unwrap_err();
    /// let location = err.panic_location().unwrap();
    /// assert!(location.contains(".rs:"), "{location}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_location(&self) -> Option<&str> {
        match &self.0.repr {
            Repr::Panic { location, .. } => location.as_deref(),
            Repr::Cancelled(_) | Repr::User(_) => None,
        }
    }

    /// A view of the panic's payload, without taking it. Never blocks: the
    /// payloads of `panic!` (`&str`, `String`) can be viewed any number of
    /// times at once; another payload (from `std::panic::panic_any`) is
    /// behind a lock, and a second view while a first is alive is `None`.
    /// `None` as well for errors that are not panics, and for the copies of
    /// a failed chunk's error given to its other items.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let err = pool.apply(|| -> u8 { std::panic::panic_any(42_i32) }).unwrap_err();
    /// let payload = err.panic_payload().unwrap();
    /// assert_eq!(payload.downcast_ref::<i32>(), Some(&42));
    ///
    /// let err = pool.apply(|| -> u8 { panic!("boom") }).unwrap_err();
    /// let (a, b) = (err.panic_payload().unwrap(), err.panic_payload().unwrap());
    /// assert_eq!(a.downcast_ref::<&str>(), b.downcast_ref::<&str>());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn panic_payload(&self) -> Option<PanicPayload<'_>> {
        match &self.0.repr {
            Repr::Panic { payload, .. } => match payload {
                Stored::Shared(payload) => Some(PanicPayload(View::Shared(&**payload))),
                Stored::Locked(lock) => {
                    let guard = sync::try_lock(lock)?;
                    guard.is_some().then_some(PanicPayload(View::Locked(guard)))
                }
                Stored::Message(_) => None,
            },
            Repr::Cancelled(_) | Repr::User(_) => None,
        }
    }

    /// The panic's payload, to resume the panic with
    /// `std::panic::resume_unwind`.
    ///
    /// # Panics
    ///
    /// Panics if the error carries no payload (see
    /// [`try_into_panic`](TaskError::try_into_panic)).
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
    #[track_caller]
    pub fn into_panic(self) -> Box<dyn Any + Send + 'static> {
        self.try_into_panic()
            .expect("`TaskError` does not carry a panic payload")
    }

    /// The panic's payload, or the error back if it carries none (it is not
    /// a panic, or it is the copy given to another item of a failed chunk).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// let err = pool.apply_async(|| 1).get().unwrap_err();
    /// assert!(err.into_task_error().unwrap().try_into_panic().is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_into_panic(mut self) -> Result<Box<dyn Any + Send + 'static>, TaskError> {
        let payload = match &mut self.0.repr {
            Repr::Panic { payload, .. } => {
                match std::mem::replace(payload, Stored::Message(None)) {
                    Stored::Shared(p) => Some(p as Payload),
                    Stored::Locked(lock) => lock.into_inner().unwrap_or_else(|e| e.into_inner()),
                    kept @ Stored::Message(_) => {
                        *payload = kept;
                        None
                    }
                }
            }
            Repr::Cancelled(_) | Repr::User(_) => None,
        };
        payload.ok_or(self)
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let id = self.0.id;
        match &self.0.repr {
            Repr::Panic { origin, .. } => match origin {
                Origin::Task => write!(f, "task {id} panicked")?,
                Origin::Callback => write!(f, "a callback of task {id} panicked")?,
                Origin::Input => write!(f, "the input of task {id} panicked")?,
            },
            Repr::Cancelled(_) => write!(f, "task {id} was cancelled")?,
            Repr::User(_) => write!(f, "task {id} returned an error")?,
        }
        if let Some(index) = self.0.index {
            write!(f, " (item {index})")?;
        }
        if let Some(location) = self.panic_location() {
            write!(f, " at {location}")?;
        }
        match &self.0.repr {
            Repr::Panic { .. } => match self.panic_message() {
                Some(message) => write!(f, ": {message}"),
                None => Ok(()),
            },
            Repr::Cancelled(Cancellation::PoolClosed) => {
                f.write_str(": the pool was closed when it was submitted")
            }
            Repr::Cancelled(Cancellation::Terminated) => f.write_str(": the pool was terminated"),
            Repr::Cancelled(Cancellation::Abandoned) => {
                f.write_str(": nobody wanted its result any more")
            }
            Repr::Cancelled(Cancellation::QueueFull) => {
                f.write_str(": the pool's queue was full when it was submitted")
            }
            Repr::Cancelled(Cancellation::DeadlineExpired) => {
                f.write_str(": its deadline passed before it finished")
            }
            Repr::User(error) => write!(f, ": {error:?}"),
        }
    }
}

impl fmt::Debug for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TaskError");
        d.field("id", &self.0.id).field("kind", &self.kind());
        if let Some(why) = self.cancellation() {
            d.field("cancellation", &why);
        }
        if let Some(message) = self.panic_message() {
            d.field("message", &message);
        }
        if let Some(location) = self.panic_location() {
            d.field("location", &location);
        }
        d.field("index", &self.0.index).finish()
    }
}

impl std::error::Error for TaskError {}

impl From<TaskError> for io::Error {
    fn from(error: TaskError) -> io::Error {
        io::Error::other(error)
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync + 'static>() {}

    #[test]
    fn errors_are_send_sync_and_one_pointer_wide() {
        assert_send_sync::<TaskError>();
        assert_eq!(
            std::mem::size_of::<TaskError>(),
            std::mem::size_of::<usize>()
        );
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
    fn views_never_block() {
        let e = TaskError::panicked(1, Box::new(7_u8));
        let first = e.panic_payload().expect("a first view");
        assert!(e.panic_payload().is_none(), "a second view does not wait");
        drop(first);
        assert_eq!(e.panic_payload().unwrap().downcast_ref::<u8>(), Some(&7));
        let e = TaskError::panicked(2, Box::new("text"));
        let (a, b) = (e.panic_payload().unwrap(), e.panic_payload().unwrap());
        assert_eq!(a.downcast_ref::<&str>(), b.downcast_ref::<&str>());
    }

    #[test]
    fn cancellations_carry_no_payload_and_say_why() {
        let e = TaskError::cancelled(4, Cancellation::Terminated);
        assert_eq!(e.panic_message(), None);
        assert_eq!(
            e.to_string(),
            "task 4 was cancelled: the pool was terminated"
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
