//! [`TaskErrorKind`] and [`Cancellation`]: what went wrong, and why a task
//! was cancelled.

/// What went wrong, as returned by [`TaskError::kind`](crate::TaskError::kind).
///
/// # Examples
///
/// ```
/// use corepool::{Apply, TaskErrorKind};
///
/// # #[tokio::main] async fn main() {
/// let pool = corepool::Pool::new(1).unwrap();
/// let work = Apply::new(|| 1_u8).callback(|_: &u8| panic!("in the callback"));
/// let err = pool.spawn(work).await.unwrap_err();
/// assert_eq!(err.kind(), TaskErrorKind::CallbackPanicked);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TaskErrorKind {
    /// The task (or one item of a map or `imap`) panicked.
    Panicked,
    /// A `callback` or `error_callback` panicked; the task's own outcome is
    /// replaced by this error.
    CallbackPanicked,
    /// The input iterator or stream of an `imap` panicked; the stream ends
    /// after this error.
    InputPanicked,
    /// The task never ran; [`TaskError::cancellation`](crate::TaskError::cancellation) says why.
    Cancelled,
    /// The function of fallible work (`Apply::fallible`, `Map::fallible`)
    /// returned `Err`; the error is
    /// handed back typed by [`TryError::User`](crate::TryError::User).
    User,
}

/// Why a task was cancelled before it ran, as returned by
/// [`TaskError::cancellation`](crate::TaskError::cancellation).
///
/// # Examples
///
/// ```
/// use corepool::Cancellation;
///
/// # #[tokio::main] async fn main() {
/// let pool = corepool::Pool::new(1).unwrap();
/// pool.close();
/// let err = pool.apply_async(|| 1).await.unwrap_err();
/// assert_eq!(err.cancellation(), Some(Cancellation::PoolClosed));
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cancellation {
    /// The pool was closed (or terminated) when the task was submitted, so
    /// it was never queued.
    PoolClosed,
    /// [`Pool::terminate`](crate::Pool::terminate) removed it from the queue.
    Terminated,
    /// Nobody wanted the result any more: its handle or stream was dropped,
    /// or the map it belonged to had already failed.
    Abandoned,
    /// The pool's queue was full (a pool built with
    /// [`queue_capacity`](crate::PoolBuilder::queue_capacity)): the work was
    /// shed, never queued. Also the reason when the queue's wait was above
    /// the pool's [`queue_wait_target`](crate::PoolBuilder::queue_wait_target).
    QueueFull,
    /// Its deadline passed ([`Apply::deadline`](crate::Apply::deadline),
    /// [`Map::deadline`](crate::Map::deadline)), or it waited in the queue
    /// longer than the pool's
    /// [`max_queue_wait`](crate::PoolBuilder::max_queue_wait), before it
    /// started: it never ran. A running task sees it from
    /// [`cancellation`](crate::cancellation) once its deadline passes.
    DeadlineExpired,
}
