//! [`Imap`]: results in input order, through a bounded reorder buffer.

use futures::stream::FuturesOrdered;

use super::feed::ChunkFuture;
use super::iter::BlockingIter;
use super::window::{self, Window};

/// The stream returned by [`Pool::imap`](crate::Pool::imap) and
/// [`Pool::imap_stream`](crate::Pool::imap_stream): one
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
/// then an error of kind [`InputPanicked`](crate::ErrorKind::InputPanicked),
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
#[must_use = "streams do nothing unless polled"]
pub struct Imap<T> {
    window: Window<T, FuturesOrdered<ChunkFuture<T>>>,
}

impl<T> Imap<T> {
    pub(crate) fn new(window: Window<T, FuturesOrdered<ChunkFuture<T>>>) -> Self {
        Imap { window }
    }

    /// Items per job (Python's `chunksize`). Defaults to 1. Larger chunks
    /// cost less overhead per item; the window then holds
    /// `buffersize × chunksize` items. 0 makes the stream yield one
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error and end.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let v: Result<Vec<u8>, _> = pool.imap(|x: u8| x, 0..5).chunksize(2).into_blocking_iter().collect();
    /// assert_eq!(v?, [0, 1, 2, 3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.window.set_chunksize(chunksize);
        self
    }

    /// The most chunks in flight or waiting to be yielded (Python's
    /// `buffersize`). Defaults to enough chunks for 64 items per worker, and
    /// at least 4 chunks per worker (128 chunks of 1 item on 2 workers; 8
    /// chunks of 64 items). 0 makes the stream
    /// yield one [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error
    /// and end.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let mut it = pool.imap(|x: u32| x + 1, 0..).buffersize(1).into_blocking_iter();
    /// assert_eq!(it.next().transpose()?, Some(1)); // endless input, one chunk in flight
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buffersize(mut self, buffersize: usize) -> Self {
        self.window.set_buffersize(buffersize);
        self
    }

    /// A blocking `Iterator` over the stream, for sync code (Python's
    /// `for x in pool.imap(...)`), with a
    /// [`next_timeout`](BlockingIter::next_timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// for (i, r) in pool.imap(|s: &str| s.len(), ["a", "bb"]).into_blocking_iter().enumerate() {
    ///     assert_eq!(r?, i + 1);
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_blocking_iter(self) -> BlockingIter<Self> {
        let pool = self.window.pool_id();
        BlockingIter::new(self, pool)
    }
}

window::window_stream!(Imap);
