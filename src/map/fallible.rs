//! The fallible maps: `try_map`, `try_starmap` and their forms, whose
//! function returns `Result<T, E>` and whose first `Err` stops the map.

use std::fmt;

use crate::args::TupleFn;
use crate::blocking;
use crate::error::{TryError, WaitError};
use crate::pool::Pool;
use crate::result::AsyncResult;

use super::MapOptions;
use super::chunk::Fallible;

impl Pool {
    /// Applies a fallible `f` to every item and blocks until all are done:
    /// the blocking form of [`try_map_async`](Pool::try_map_async).
    ///
    /// # Errors
    ///
    /// [`WaitError::Task`] with the first failure to arrive:
    /// [`TryError::User`] with your error and the item's index, or
    /// [`TryError::Task`] for a panic or a cancellation;
    /// [`WaitError::WouldDeadlock`] where [`map`](Pool::map) would refuse.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let numbers = pool.try_map(|s: &str| s.parse::<i64>(), ["1", "-2", "3"])?;
    /// assert_eq!(numbers, [1, -2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_map<I, T, E, F>(&self, f: F, items: I) -> Result<Vec<T>, WaitError<TryError<E>>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
        F: Fn(I::Item) -> Result<T, E> + Send + Sync + 'static,
    {
        self.try_map_with(f, items, MapOptions::for_try())
    }

    /// [`try_map`](Pool::try_map) with [`MapOptions`].
    ///
    /// # Errors
    ///
    /// As [`try_map`](Pool::try_map); with
    /// [`fail_fast(false)`](MapOptions::fail_fast) every item runs and the
    /// first error is reported once all are done.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::MapOptions;
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let opts = MapOptions::for_try().chunksize(2);
    /// let v = pool.try_map_with(|x: u8| x.checked_mul(2).ok_or(x), [1, 2, 3], opts)?;
    /// assert_eq!(v, [2, 4, 6]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_map_with<I, T, E, F>(
        &self,
        f: F,
        items: I,
        options: MapOptions<T, TryError<E>>,
    ) -> Result<Vec<T>, WaitError<TryError<E>>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
        F: Fn(I::Item) -> Result<T, E> + Send + Sync + 'static,
    {
        blocking::ensure_can_block(self.id())?;
        self.try_map_async_with(f, items, options).get()
    }

    /// Submits a fallible `f` (one returning `Result<T, E>`) over every
    /// item, like [`map_async`](Pool::map_async), and fails fast on the
    /// first `Err` to arrive, as rayon's `try_` methods and Python's
    /// `map` do: the map resolves with it, the chunks not started are
    /// skipped, and running chunks stop at their next item.
    ///
    /// # Errors
    ///
    /// The result resolves to [`TryError::User`] with your error and the
    /// failing item's index, or to [`TryError::Task`] for a panic or a
    /// cancellation (as [`map_async`](Pool::map_async)'s).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use corepool::TryError;
    ///
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let checked = pool.try_map_async(
    ///     |x: u64| if x % 1000 == 999 { Err(format!("bad item {x}")) } else { Ok(x) },
    ///     0..100_000,
    /// );
    /// match checked.await {
    ///     Err(TryError::User { error, index }) => {
    ///         assert_eq!(error, format!("bad item {}", index.unwrap()));
    ///     }
    ///     other => panic!("{other:?}"),
    /// }
    /// # }
    /// ```
    pub fn try_map_async<I, T, E, F>(&self, f: F, items: I) -> AsyncResult<Vec<T>, TryError<E>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
        F: Fn(I::Item) -> Result<T, E> + Send + Sync + 'static,
    {
        self.try_map_async_with(f, items, MapOptions::for_try())
    }

    /// [`try_map_async`](Pool::try_map_async) with [`MapOptions`]: the error
    /// callback gets the [`&TryError<E>`](TryError); the success callback
    /// does not run when an item fails.
    ///
    /// # Errors
    ///
    /// As [`try_map_async`](Pool::try_map_async).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use corepool::{MapOptions, TryError};
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let opts = MapOptions::for_try().on_error(move |e: &TryError<u8>| tx.send(e.index()).unwrap());
    /// pool.try_map_async_with(|x: u8| if x == 3 { Err(x) } else { Ok(x) }, 0..5, opts).detach();
    /// assert_eq!(rx.recv()?, Some(3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_map_async_with<I, T, E, F>(
        &self,
        f: F,
        items: I,
        options: MapOptions<T, TryError<E>>,
    ) -> AsyncResult<Vec<T>, TryError<E>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
        F: Fn(I::Item) -> Result<T, E> + Send + Sync + 'static,
    {
        self.submit_map(Fallible(f), items, options, false)
    }

    /// [`try_map`](Pool::try_map) for a fallible function of several
    /// arguments, fed with tuples.
    ///
    /// # Errors
    ///
    /// As [`try_map`](Pool::try_map).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let q = pool.try_starmap(|a: u32, b: u32| a.checked_div(b).ok_or("divide by zero"), [(6, 3), (8, 2)])?;
    /// assert_eq!(q, [2, 4]);
    /// assert!(pool.try_starmap(|a: u32, b: u32| a.checked_div(b).ok_or("divide by zero"), [(1, 0)]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn try_starmap<I, T, E, F>(&self, f: F, items: I) -> Result<Vec<T>, WaitError<TryError<E>>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
        F: TupleFn<I::Item, Output = Result<T, E>>,
    {
        self.try_map(move |args| f.call_with(args), items)
    }

    /// The async form of [`try_starmap`](Pool::try_starmap).
    ///
    /// # Errors
    ///
    /// As [`try_map_async`](Pool::try_map_async).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let sums = pool
    ///     .try_starmap_async(|a: u8, b: u8| a.checked_add(b).ok_or((a, b)), [(1, 2), (250, 10)])
    ///     .await;
    /// assert_eq!(sums.unwrap_err().into_user_error(), Some((250, 10)));
    /// # }
    /// ```
    pub fn try_starmap_async<I, T, E, F>(&self, f: F, items: I) -> AsyncResult<Vec<T>, TryError<E>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        E: Send + Sync + fmt::Debug + 'static,
        F: TupleFn<I::Item, Output = Result<T, E>>,
    {
        self.try_map_async(move |args| f.call_with(args), items)
    }
}
