//! [`ImapUnordered`]: results in completion order.

use futures::stream::FuturesUnordered;

use super::feed::ChunkFuture;
use super::iter::BlockingIter;
use super::window::{self, Window};

/// The stream returned by [`Pool::imap_unordered`](crate::Pool::imap_unordered)
/// and [`Pool::imap_unordered_stream`](crate::Pool::imap_unordered_stream):
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
#[must_use = "streams do nothing unless polled"]
pub struct ImapUnordered<T> {
    window: Window<T, FuturesUnordered<ChunkFuture<T>>>,
}

impl<T> ImapUnordered<T> {
    pub(crate) fn new(window: Window<T, FuturesUnordered<ChunkFuture<T>>>) -> Self {
        ImapUnordered { window }
    }

    /// Items per job. Defaults to 1; 0 makes the stream yield one
    /// [`InvalidArgument`](crate::ErrorKind::InvalidArgument) error and end.
    /// See [`Imap::chunksize`](crate::Imap::chunksize).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let mut v: Vec<u8> = pool
    ///     .imap_unordered(|x: u8| x, 0..6)
    ///     .chunksize(3)
    ///     .into_blocking_iter()
    ///     .collect::<Result<_, _>>()?;
    /// v.sort();
    /// assert_eq!(v, [0, 1, 2, 3, 4, 5]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.window.set_chunksize(chunksize);
        self
    }

    /// The most chunks in flight. Defaults to enough chunks for 64 items per
    /// worker, and at least 4 chunks per worker; 0 makes
    /// the stream yield one error and end. See
    /// [`Imap::buffersize`](crate::Imap::buffersize).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let n = pool.imap_unordered(|x: u8| x, 0..10).buffersize(2).into_blocking_iter().count();
    /// assert_eq!(n, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn buffersize(mut self, buffersize: usize) -> Self {
        self.window.set_buffersize(buffersize);
        self
    }

    /// A blocking `Iterator` over the stream, for sync code. See
    /// [`BlockingIter`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let total: u32 = pool
    ///     .imap_unordered(|x: u32| x * 2, 1..=3)
    ///     .into_blocking_iter()
    ///     .map(Result::unwrap)
    ///     .sum();
    /// assert_eq!(total, 12);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_blocking_iter(self) -> BlockingIter<Self> {
        let pool = self.window.pool_id();
        BlockingIter::new(self, pool)
    }
}

window::window_stream!(ImapUnordered);
