//! [`Input`]: what `imap` and `imap_unordered` pull from, an iterator or a
//! stream, through one trait.

use std::fmt;

use futures::Stream;
use futures::stream::{self, Iter};

mod sealed {
    #![allow(unreachable_pub)]
    pub trait Sealed {}
}

/// The input of [`Pool::imap`](crate::Pool::imap) and
/// [`imap_unordered`](crate::Pool::imap_unordered): any `IntoIterator`
/// (pulled on the thread that polls the stream), or any `Stream` wrapped by
/// [`from_stream`] (an async input, such as lines read from a socket,
/// polled only while the window has room). Sealed.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
/// use futures::{stream, TryStreamExt};
///
/// let pool = corepool::Pool::new(2).unwrap();
/// let from_iter: Vec<usize> = pool.imap(|s: &str| s.len(), ["ab", "c"]).try_collect().await?;
/// let lines = corepool::from_stream(stream::iter(["ab", "c"]));
/// let from_stream: Vec<usize> = pool.imap(|s: &str| s.len(), lines).try_collect().await?;
/// assert_eq!(from_iter, from_stream);
/// # Ok(()) }
/// ```
pub trait Input: sealed::Sealed {
    /// An item of the input.
    type Item: Send + 'static;
    /// The input as a stream.
    type Stream: Stream<Item = Self::Item> + Send + 'static;

    /// The input as a stream.
    fn into_stream(self) -> Self::Stream;
}

impl<I> sealed::Sealed for I
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Send + 'static,
{
}

impl<I> Input for I
where
    I: IntoIterator,
    I::IntoIter: Send + 'static,
    I::Item: Send + 'static,
{
    type Item = I::Item;
    type Stream = Iter<I::IntoIter>;

    fn into_stream(self) -> Self::Stream {
        stream::iter(self)
    }
}

/// A `Stream` as the [`Input`] of an `imap`: see [`from_stream`].
pub struct StreamInput<S>(S);

/// Makes a `Stream` the input of [`imap`](crate::Pool::imap) or
/// [`imap_unordered`](crate::Pool::imap_unordered).
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
/// use futures::{stream, TryStreamExt};
///
/// let pool = corepool::Pool::new(2).unwrap();
/// let lines = stream::iter(["alpha", "beta", "gamma"]);
/// let lengths: Vec<usize> = pool
///     .imap(|l: &str| l.len(), corepool::from_stream(lines))
///     .try_collect()
///     .await?;
/// assert_eq!(lengths, [5, 4, 5]);
/// # Ok(()) }
/// ```
pub fn from_stream<S>(stream: S) -> StreamInput<S>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    StreamInput(stream)
}

impl<S> sealed::Sealed for StreamInput<S> {}

impl<S> Input for StreamInput<S>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
{
    type Item = S::Item;
    type Stream = S;

    fn into_stream(self) -> S {
        self.0
    }
}

impl<S> fmt::Debug for StreamInput<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamInput").finish_non_exhaustive()
    }
}
