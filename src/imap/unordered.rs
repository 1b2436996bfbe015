//! [`ImapUnordered`]: results in completion order.

use futures::stream::FuturesUnordered;

use super::chunk::ChunkFuture;
use super::window::{self, Window};
use crate::error::{Outcome, TaskError};

/// The stream returned by [`Pool::imap_unordered`](crate::Pool::imap_unordered):
/// one `Result<T, TaskError>` per input item, as soon as its chunk finishes
/// (items of one chunk stay in input order).
///
/// Laziness, bounds, errors and cancellation are those of
/// [`Imap`](crate::Imap), except that no result waits behind a slower one:
/// use [`TaskError::index`](crate::TaskError::index) to tell which input an error belongs to.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
/// use std::sync::{mpsc, Mutex};
/// use futures::StreamExt;
///
/// let pool = corepool::Pool::new(2).unwrap();
/// // Item 0 cannot finish before we let it: item 1 comes out first.
/// let (go, wait_for_go) = mpsc::channel::<()>();
/// let wait_for_go = Mutex::new(wait_for_go);
/// let mut results = pool.imap_unordered(
///     move |i: u32| {
///         if i == 0 {
///             wait_for_go.lock().unwrap().recv().unwrap();
///         }
///         i
///     },
///     [0, 1],
/// );
/// assert_eq!(results.next().await.unwrap()?, 1);
/// go.send(()).unwrap();
/// assert_eq!(results.next().await.unwrap()?, 0);
/// # Ok(()) }
/// ```
///
/// # Cancel safety
///
/// As [`Imap`](crate::Imap)'s: dropping a `next()` future loses no item.
#[must_use = "streams do nothing unless polled"]
pub struct ImapUnordered<T, E = TaskError> {
    window: Window<T, FuturesUnordered<ChunkFuture<T>>>,
    /// Turns the pool's errors into the stream's (the identity for now).
    convert: fn(TaskError) -> E,
}

impl<T, E> ImapUnordered<T, E> {
    pub(crate) fn new(window: Window<T, FuturesUnordered<ChunkFuture<T>>>) -> Self
    where
        E: Outcome,
    {
        ImapUnordered {
            window,
            convert: E::from_task_error,
        }
    }
}

window::window_stream!(ImapUnordered, "imap_unordered");
