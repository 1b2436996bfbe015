//! [`Imap`]: results in input order, through a bounded reorder buffer.

use futures::stream::FuturesOrdered;

use super::chunk::ChunkFuture;
use super::window::{self, Window};
use crate::error::{Outcome, TaskError};

/// The stream returned by [`Pool::imap`](crate::Pool::imap): one
/// `Result<T, TaskError>` per input item, in input order.
///
/// Nothing is pulled or submitted until the stream is polled. Then at most
/// [`buffersize`](Imap::buffersize) chunks of
/// [`chunksize`](Imap::chunksize) items are in flight or waiting in the
/// reorder buffer; while the oldest chunk is missing, no more input is
/// pulled, however fast the others finish. Memory stays bounded whatever
/// the length of the input.
///
/// A panicking item yields its error at its position and the stream goes
/// on. If the input itself panics, the stream yields the results before it,
/// then an error of kind [`InputPanicked`](crate::TaskErrorKind::InputPanicked),
/// then ends. Dropping the stream stops pulling input and cancels the chunks
/// that have not started.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
/// use futures::TryStreamExt;
///
/// let pool = corepool::Pool::new(4).unwrap();
/// let results: Vec<u64> = pool
///     .imap(|x: u64| x * x, 0..10)
///     .chunksize(2)
///     .try_collect()
///     .await?;
/// assert_eq!(results, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
/// # Ok(()) }
/// ```
///
/// # Cancel safety
///
/// Polling is cancel safe: dropping a `next()` future (in a `select!`, say)
/// loses no item; the next poll picks up where it stopped. Dropping the
/// stream itself cancels the chunks that have not started and stops pulling
/// input.
#[must_use = "streams do nothing unless polled"]
pub struct Imap<T, E = TaskError> {
    window: Window<T, FuturesOrdered<ChunkFuture<T>>>,
    /// Turns the pool's errors into the stream's (the identity for now).
    convert: fn(TaskError) -> E,
}

impl<T, E> Imap<T, E> {
    pub(crate) fn new(window: Window<T, FuturesOrdered<ChunkFuture<T>>>) -> Self
    where
        E: Outcome,
    {
        Imap {
            window,
            convert: E::from_task_error,
        }
    }
}

window::window_stream!(Imap, "imap");
