//! `imap` and `imap_unordered`: lazy, bounded, cancellable streams.

mod feed;
mod iter;
mod ordered;
mod unordered;
mod window;

use std::fmt;

use futures::Stream;

pub use iter::BlockingIter;
pub use ordered::Imap;
pub use unordered::ImapUnordered;

use crate::apply::{UserResult, box_user};
use crate::error::TryError;
use crate::pool::Pool;
use feed::Feeder;
use window::Window;

impl Pool {
    pub(crate) fn window<S, T, F, Q>(&self, f: F, input: S, stateful: bool) -> Window<T, Q>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
        F: Fn(S::Item) -> UserResult<T> + Send + Sync + 'static,
        T: Send + 'static,
        Q: window::ChunkQueue<T>,
    {
        let feed = Box::new(Feeder::new(self.clone(), f, input, stateful));
        Window::new(feed, self.workers())
    }

    /// Applies `f` to each item of `items` on the pool, yielding results in
    /// input order as a [`Stream`] (Python's `imap`, done right).
    ///
    /// The input is pulled lazily, a bounded window ahead of what the
    /// consumer has taken (by default at least 4 chunks per worker, 64 items
    /// per worker, of at most 1 024 items each), so an endless iterator, a
    /// slow consumer or one very slow item cannot grow memory. Chunks adapt
    /// to the items' cost unless [`Imap::chunksize`] fixes them (see there);
    /// [`Imap::buffersize`] sets the window. Consume it from sync code with
    /// [`Imap::into_blocking_iter`].
    ///
    /// The input is pulled on the thread that polls the stream: an iterator
    /// that blocks (`BufRead::lines` on a pipe) blocks that thread. In async
    /// code, give [`imap_stream`](Pool::imap_stream) an async input instead.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use futures::StreamExt;
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let mut results = pool.imap(|x: u32| 10 / x, [5, 0, 2]);
    /// assert_eq!(results.next().await.unwrap()?, 2);
    /// let err = results.next().await.unwrap().unwrap_err();
    /// assert_eq!((err.is_panic(), err.index()), (true, Some(1)));
    /// assert_eq!(results.next().await.unwrap()?, 5); // the stream goes on
    /// assert!(results.next().await.is_none());
    /// # Ok(()) }
    /// ```
    pub fn imap<I, T, F>(&self, f: F, items: I) -> Imap<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        self.imap_stream(f, futures::stream::iter(items))
    }

    /// [`imap`](Pool::imap) over an async input, such as lines read from a
    /// file or a socket. The input is polled only while the window has room.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use futures::{stream, TryStreamExt};
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let lines = stream::iter(["alpha", "beta", "gamma"]);
    /// let lengths: Vec<usize> = pool.imap_stream(|l: &str| l.len(), lines).try_collect().await?;
    /// assert_eq!(lengths, [5, 4, 5]);
    /// # Ok(()) }
    /// ```
    pub fn imap_stream<S, T, F>(&self, f: F, input: S) -> Imap<T>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
        F: Fn(S::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        Imap::new(self.window(move |item| Ok(f(item)), input, false))
    }

    /// Like [`imap`](Pool::imap), but yields each result as soon as its
    /// chunk finishes (Python's `imap_unordered`).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use futures::TryStreamExt;
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let mut v: Vec<u32> = pool.imap_unordered(|x: u32| x * 3, 0..5).try_collect().await?;
    /// v.sort();
    /// assert_eq!(v, [0, 3, 6, 9, 12]);
    /// # Ok(()) }
    /// ```
    pub fn imap_unordered<I, T, F>(&self, f: F, items: I) -> ImapUnordered<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        self.imap_unordered_stream(f, futures::stream::iter(items))
    }

    /// [`imap_unordered`](Pool::imap_unordered) over an async input.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use futures::{stream, StreamExt};
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let n = pool.imap_unordered_stream(|x: u8| x, stream::iter(0..10)).count().await;
    /// assert_eq!(n, 10);
    /// # Ok(()) }
    /// ```
    pub fn imap_unordered_stream<S, T, F>(&self, f: F, input: S) -> ImapUnordered<T>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
        F: Fn(S::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        ImapUnordered::new(self.window(move |item| Ok(f(item)), input, false))
    }

    /// [`imap`](Pool::imap) for a fallible `f`, one returning `Result<T, E>`:
    /// an item whose function returns `Err` yields
    /// [`TryError::User`] (your error, typed, with the item's index) at its
    /// position, and the stream goes on, as it does for a panicking item.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use futures::StreamExt;
    /// use corepool::TryError;
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let out: Vec<_> = pool.try_imap(|s: &str| s.parse::<u8>(), ["1", "x", "3"]).collect().await;
    /// assert_eq!(out[0].as_ref().unwrap(), &1);
    /// assert!(matches!(out[1], Err(TryError::User { index: Some(1), .. })));
    /// assert_eq!(out[2].as_ref().unwrap(), &3);
    /// # }
    /// ```
    pub fn try_imap<I, T, E, F>(&self, f: F, items: I) -> Imap<T, TryError<E>>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
    {
        self.try_imap_stream(f, futures::stream::iter(items))
    }

    /// [`try_imap`](Pool::try_imap) over an async input.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use futures::{stream, StreamExt};
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let ok = pool
    ///     .try_imap_stream(|x: i32| if x >= 0 { Ok(x) } else { Err(x) }, stream::iter([1, -1, 2]))
    ///     .filter(|r| std::future::ready(r.is_ok()))
    ///     .count()
    ///     .await;
    /// assert_eq!(ok, 2);
    /// # }
    /// ```
    pub fn try_imap_stream<S, T, E, F>(&self, f: F, input: S) -> Imap<T, TryError<E>>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
        F: Fn(S::Item) -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
    {
        Imap::new(self.window(move |item| f(item).map_err(box_user), input, false))
    }

    /// [`imap_unordered`](Pool::imap_unordered) for a fallible `f`; see
    /// [`try_imap`](Pool::try_imap).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use futures::StreamExt;
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let failed = pool
    ///     .try_imap_unordered(|x: u32| if x % 3 == 0 { Err(x) } else { Ok(x) }, 0..9)
    ///     .filter(|r| std::future::ready(r.is_err()))
    ///     .count()
    ///     .await;
    /// assert_eq!(failed, 3);
    /// # }
    /// ```
    pub fn try_imap_unordered<I, T, E, F>(&self, f: F, items: I) -> ImapUnordered<T, TryError<E>>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
    {
        self.try_imap_unordered_stream(f, futures::stream::iter(items))
    }

    /// [`try_imap_unordered`](Pool::try_imap_unordered) over an async input.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use futures::{stream, TryStreamExt};
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let mut v: Vec<u8> = pool
    ///     .try_imap_unordered_stream(|x: u8| x.checked_add(1).ok_or("overflow"), stream::iter([1, 2]))
    ///     .try_collect()
    ///     .await
    ///     .unwrap();
    /// v.sort();
    /// assert_eq!(v, [2, 3]);
    /// # }
    /// ```
    pub fn try_imap_unordered_stream<S, T, E, F>(
        &self,
        f: F,
        input: S,
    ) -> ImapUnordered<T, TryError<E>>
    where
        S: Stream + Send + 'static,
        S::Item: Send + 'static,
        F: Fn(S::Item) -> Result<T, E> + Send + Sync + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
    {
        ImapUnordered::new(self.window(move |item| f(item).map_err(box_user), input, false))
    }
}
