//! [`TryError`]: the outcome error of fallible work, with the user's own
//! error type.

use std::any::Any;
use std::fmt;

use super::TaskError;

/// Why fallible work ([`Apply::fallible`](crate::Apply::fallible),
/// [`Map::fallible`](crate::Map::fallible)) did not produce its value: its
/// function returned **your error**, typed as you wrote it, or the task
/// failed the way any task can (a panic, a cancellation).
///
/// Like rayon's `try_` methods, a fallible map stops at the first `Err` to
/// arrive: the chunks not started are skipped and running chunks stop at
/// their next item. `index` is the failing item's position for a map,
/// `None` for an `Apply`.
///
/// # Examples
///
/// ```
/// use corepool::{TryError, WaitError};
///
/// let pool = corepool::Pool::new(2)?;
/// let parsed = pool.run(corepool::Map::fallible(|s: &str| s.parse::<u8>(), ["1", "2", "x", "4"]));
/// match parsed {
///     Err(WaitError::Task(TryError::User { error, index })) => {
///         assert_eq!(index, Some(2));
///         assert_eq!(error.to_string(), "invalid digit found in string");
///     }
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub enum TryError<E> {
    /// The function returned `Err(error)`, for the input item at `index`
    /// (a map).
    User {
        /// Your error.
        error: E,
        /// The position of the failing input item, where there is one.
        index: Option<usize>,
    },
    /// The task failed as any task can: it panicked, or was cancelled.
    Task(TaskError),
}

impl<E> TryError<E> {
    /// Your error, if that is what this is.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let err = pool.spawn(corepool::Apply::fallible(|| Err::<u8, _>("no"))).await.unwrap_err();
    /// assert_eq!(err.user_error(), Some(&"no"));
    /// # }
    /// ```
    pub fn user_error(&self) -> Option<&E> {
        match self {
            TryError::User { error, .. } => Some(error),
            TryError::Task(_) => None,
        }
    }

    /// Your error by value, if that is what this is.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let work = corepool::Apply::fallible(|| Err::<u8, _>(String::from("no")));
    /// let err = pool.spawn(work).await.unwrap_err();
    /// assert_eq!(err.into_user_error().as_deref(), Some("no"));
    /// # }
    /// ```
    pub fn into_user_error(self) -> Option<E> {
        match self {
            TryError::User { error, .. } => Some(error),
            TryError::Task(_) => None,
        }
    }

    /// The task's own error (a panic, a cancellation), if that is what this is.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(1).unwrap();
    /// let work = corepool::Apply::fallible(|| -> Result<u8, ()> { panic!("boom") });
    /// let err = pool.spawn(work).await.unwrap_err();
    /// assert!(err.task_error().unwrap().is_panic());
    /// # }
    /// ```
    pub fn task_error(&self) -> Option<&TaskError> {
        match self {
            TryError::User { .. } => None,
            TryError::Task(e) => Some(e),
        }
    }

    /// The position of the failing input item, for a map.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let work = corepool::Map::fallible(|x: u32| if x == 5 { Err(x) } else { Ok(x) }, 0..10);
    /// let err = pool.run(work).unwrap_err();
    /// assert_eq!(err.task_error().unwrap().index(), Some(5));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn index(&self) -> Option<usize> {
        match self {
            TryError::User { index, .. } => *index,
            TryError::Task(e) => e.index(),
        }
    }
}

impl<E: fmt::Debug> fmt::Debug for TryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryError::User { error, index } => f
                .debug_struct("User")
                .field("error", error)
                .field("index", index)
                .finish(),
            TryError::Task(e) => f.debug_tuple("Task").field(e).finish(),
        }
    }
}

impl<E: fmt::Display> fmt::Display for TryError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryError::User {
                error,
                index: Some(index),
            } => write!(f, "item {index}: {error}"),
            TryError::User { error, index: None } => error.fmt(f),
            TryError::Task(e) => e.fmt(f),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for TryError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TryError::User { error, .. } => Some(error),
            TryError::Task(_) => None,
        }
    }
}

impl<E> From<TaskError> for TryError<E>
where
    E: Send + Sync + fmt::Debug + 'static,
{
    fn from(error: TaskError) -> Self {
        <Self as Outcome>::from_task_error(error)
    }
}

/// A user's error, type-erased while it travels through the pool; `Debug`
/// so that a `TaskError` can always be shown.
#[allow(unreachable_pub)]
pub trait UserError: Any + Send + Sync + fmt::Debug {
    fn as_any(&self) -> &dyn Any;
    fn into_any(self: Box<Self>) -> Box<dyn Any + Send + Sync>;
}

impl<E: Any + Send + Sync + fmt::Debug> UserError for E {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn into_any(self: Box<Self>) -> Box<dyn Any + Send + Sync> {
        self
    }
}

/// What a function returns inside the pool: its value, or (fallible work)
/// the user's error, boxed until `TryError` types it again.
pub(crate) type UserResult<T> = Result<T, Box<dyn UserError>>;

/// Boxes a user's error for its trip through the pool.
pub(crate) fn box_user<E: Send + Sync + fmt::Debug + 'static>(error: E) -> Box<dyn UserError> {
    Box::new(error)
}

/// The error type a result or stream hands out: [`TaskError`] for plain
/// work, [`TryError<E>`] for fallible work. Internally every outcome is a
/// `TaskError` (a user's error travels boxed inside it); this converts at
/// the edge, and back for error callbacks. Sealed (not nameable outside the
/// crate).
#[allow(unreachable_pub)]
pub trait Outcome: Sized + Send + 'static {
    #[doc(hidden)]
    fn from_task_error(error: TaskError) -> Self;
    #[doc(hidden)]
    fn into_task_error(self, id: u64) -> TaskError;
    /// The `TaskError` inside, if any (not for a user's `Err`).
    #[doc(hidden)]
    fn as_task_error(&self) -> Option<&TaskError>;
    /// The failing item's index.
    #[doc(hidden)]
    fn index(&self) -> Option<usize>;
}

impl Outcome for TaskError {
    fn from_task_error(error: TaskError) -> Self {
        error
    }

    fn into_task_error(self, _id: u64) -> TaskError {
        self
    }

    fn as_task_error(&self) -> Option<&TaskError> {
        Some(self)
    }

    fn index(&self) -> Option<usize> {
        TaskError::index(self)
    }
}

impl<E> Outcome for TryError<E>
where
    E: Send + Sync + fmt::Debug + 'static,
{
    fn from_task_error(error: TaskError) -> Self {
        let id = error.id();
        match error.take_user() {
            // A result of `TryError<E>` is only fed by a function returning
            // `Result<_, E>`; anything else stays a `TaskError`.
            // `(*user)`: dispatch to the boxed error, not to the blanket
            // impl for the box itself.
            Ok((user, index)) if (*user).as_any().is::<E>() => {
                let error = *user.into_any().downcast::<E>().expect("checked above");
                TryError::User { error, index }
            }
            Ok((user, index)) => {
                let error = TaskError::user(id, user);
                TryError::Task(match index {
                    Some(index) => error.with_index(index),
                    None => error,
                })
            }
            Err(error) => TryError::Task(error),
        }
    }

    fn into_task_error(self, id: u64) -> TaskError {
        match self {
            TryError::User { error, index } => {
                let boxed: Box<dyn UserError> = Box::new(error);
                let error = TaskError::user(id, boxed);
                match index {
                    Some(index) => error.with_index(index),
                    None => error,
                }
            }
            TryError::Task(e) => e,
        }
    }

    fn as_task_error(&self) -> Option<&TaskError> {
        self.task_error()
    }

    fn index(&self) -> Option<usize> {
        TryError::index(self)
    }
}
