//! `map`, `map_async`, `starmap`, `starmap_async`: the input split into
//! chunks, one job per chunk.
//!
//! Each chunk runs its items in order under one panic guard (`chunk.rs`);
//! the first item to panic resolves the whole map with its index, and the
//! chunks not started are skipped. Results are assembled in input order by
//! whichever worker finishes a chunk that is next in line (`assemble.rs`),
//! so copying overlaps computing. The input is pulled chunk by chunk without
//! trusting its size hint (`input.rs`).

mod assemble;
mod chunk;
mod fallible;
mod input;
mod options;

use std::sync::{Arc, Weak};

use crate::args::TupleFn;
use crate::blocking;
use crate::error::{Cancellation, Outcome, TaskError, WaitError};
use crate::job::{Labels, Task};
use crate::pool::Pool;
use crate::result::AsyncResult;
use crate::slot::Finisher;
use crate::sync::Mutex;
pub(crate) use assemble::Assembler;
pub(crate) use chunk::Plain;
use chunk::{ChunkTask, ItemFn};
pub use options::MapOptions;
pub(crate) use options::default_chunksize;

impl Pool {
    /// Applies `f` to every item on the pool and blocks until all are done,
    /// returning the results in input order (Python's `map`).
    ///
    /// The input is split into chunks of ⌈len / (16 × workers)⌉ items by
    /// default (set it with [`map_with`](Pool::map_with)), one job per
    /// chunk: four times as many chunks as Python's ⌈len / (4 × workers)⌉,
    /// which measured faster on tiny items (more overlap of copying and
    /// computing) and on uneven ones (the dearest chunk no longer runs alone
    /// at the end). Waiting is safe where [`apply`](Pool::apply) is.
    ///
    /// # Errors
    ///
    /// The first item to fail: a panic carries the item's
    /// [`index`](TaskError::index). The chunks not yet started are then
    /// cancelled. Also `Closed`, and `WouldDeadlock` inside a
    /// `current_thread` tokio runtime (where nothing is submitted).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(4)?;
    /// let lengths = pool.map(|s: &str| s.len(), ["a", "bb", "ccc"])?;
    /// assert_eq!(lengths, [1, 2, 3]);
    /// assert!(pool.map(|x: u8| x, Vec::new())?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<I, T, F>(&self, f: F, items: I) -> Result<Vec<T>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        self.map_with(f, items, MapOptions::new())
    }

    /// [`map`](Pool::map) with [`MapOptions`] (chunksize, callbacks).
    ///
    /// # Errors
    ///
    /// As [`map`](Pool::map); a callback that panics replaces the outcome
    /// with an error of kind
    /// [`CallbackPanicked`](crate::TaskErrorKind::CallbackPanicked).
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::MapOptions;
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let v = pool.map_with(|x: u64| x * x, 1..=4, MapOptions::new().chunksize(1))?;
    /// assert_eq!(v, [1, 4, 9, 16]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map_with<I, T, F>(
        &self,
        f: F,
        items: I,
        options: MapOptions<T>,
    ) -> Result<Vec<T>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        blocking::ensure_can_block(self.id())?;
        self.map_async_with(f, items, options).get()
    }

    /// Submits `f` over every item and returns an [`AsyncResult`] of the
    /// results in input order (Python's `map_async`).
    ///
    /// The input is consumed at the call (as Python's `list(iterable)`);
    /// for a long or endless input, use [`imap`](Pool::imap). The result
    /// fails fast with the first failure to arrive; dropping it cancels the
    /// chunks that have not started.
    ///
    /// # Errors
    ///
    /// The result resolves to the first error to arrive, a `TaskError`: an
    /// item that panicked (with its [`index`](crate::TaskError::index)), or
    /// a cancellation ([`Cancellation::PoolClosed`],
    /// [`Cancellation::Terminated`]). The chunks not started are then
    /// skipped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let words = vec!["tokio".to_string(), "rayon".into(), "corepool".into()];
    /// let upper = pool.map_async(|w: String| w.to_uppercase(), words).await?;
    /// assert_eq!(upper, ["TOKIO", "RAYON", "COREPOOL"]);
    /// # Ok(()) }
    /// ```
    pub fn map_async<I, T, F>(&self, f: F, items: I) -> AsyncResult<Vec<T>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        self.map_async_with(f, items, MapOptions::new())
    }

    /// [`map_async`](Pool::map_async) with [`MapOptions`] (chunksize,
    /// callbacks).
    ///
    /// # Errors
    ///
    /// The result resolves to the first error to arrive, a `TaskError`: an
    /// item that panicked (with its [`index`](crate::TaskError::index)), or
    /// a cancellation ([`Cancellation::PoolClosed`],
    /// [`Cancellation::Terminated`]). The chunks not started are then
    /// skipped. A panicking callback replaces the outcome with an error of
    /// kind [`CallbackPanicked`](crate::TaskErrorKind::CallbackPanicked).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let opts = corepool::MapOptions::new().chunksize(3);
    /// let v = pool.map_async_with(|x: i32| -x, 0..7, opts).await?;
    /// assert_eq!(v, [0, -1, -2, -3, -4, -5, -6]);
    /// # Ok(()) }
    /// ```
    pub fn map_async_with<I, T, F>(
        &self,
        f: F,
        items: I,
        options: MapOptions<T>,
    ) -> AsyncResult<Vec<T>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
    {
        self.submit_map(Plain(f), items, options, false)
    }

    /// Like [`map`](Pool::map) for a function of several arguments, fed with
    /// tuples (Python's `starmap`). Functions of 1 to 12 arguments work; see
    /// [`TupleFn`].
    ///
    /// # Errors
    ///
    /// As [`map`](Pool::map).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let pairs = vec![(1, 2), (3, 4), (5, 6)];
    /// assert_eq!(pool.starmap(|a, b| a * b, pairs)?, [2, 12, 30]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn starmap<I, F>(&self, f: F, items: I) -> Result<Vec<F::Output>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: TupleFn<I::Item>,
        F::Output: Send + 'static,
    {
        self.map(move |args| f.call_with(args), items)
    }

    /// [`starmap`](Pool::starmap) with [`MapOptions`].
    ///
    /// # Errors
    ///
    /// As [`map_with`](Pool::map_with).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let opts = corepool::MapOptions::new().chunksize(1);
    /// let v = pool.starmap_with(|a: u8, b: u8, c: u8| a + b + c, [(1, 2, 3), (4, 5, 6)], opts)?;
    /// assert_eq!(v, [6, 15]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn starmap_with<I, F>(
        &self,
        f: F,
        items: I,
        options: MapOptions<F::Output>,
    ) -> Result<Vec<F::Output>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: TupleFn<I::Item>,
        F::Output: Send + 'static,
    {
        self.map_with(move |args| f.call_with(args), items, options)
    }

    /// The async form of [`starmap`](Pool::starmap) (Python's
    /// `starmap_async`).
    ///
    /// # Errors
    ///
    /// As [`map_async`](Pool::map_async).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let v = pool.starmap_async(|s: String, n: usize| s.repeat(n), [("ab".into(), 2)]).await?;
    /// assert_eq!(v, ["abab"]);
    /// # Ok(()) }
    /// ```
    pub fn starmap_async<I, F>(&self, f: F, items: I) -> AsyncResult<Vec<F::Output>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: TupleFn<I::Item>,
        F::Output: Send + 'static,
    {
        self.map_async(move |args| f.call_with(args), items)
    }

    /// [`starmap_async`](Pool::starmap_async) with [`MapOptions`].
    ///
    /// # Errors
    ///
    /// As [`map_async_with`](Pool::map_async_with).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// let pool = corepool::Pool::new(2).unwrap();
    /// let opts = corepool::MapOptions::new().chunksize(2);
    /// let v = pool.starmap_async_with(|a: i64, b: i64| a - b, [(5, 1), (9, 2), (0, 3)], opts).await?;
    /// assert_eq!(v, [4, 7, -3]);
    /// # Ok(()) }
    /// ```
    pub fn starmap_async_with<I, F>(
        &self,
        f: F,
        items: I,
        options: MapOptions<F::Output>,
    ) -> AsyncResult<Vec<F::Output>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: TupleFn<I::Item>,
        F::Output: Send + 'static,
    {
        self.map_async_with(move |args| f.call_with(args), items, options)
    }

    /// Submits a map: pulls the input chunk by chunk, one job per chunk.
    pub(crate) fn submit_map<I, C, E>(
        &self,
        call: C,
        items: I,
        options: MapOptions<C::Out, E>,
        stateful: bool,
    ) -> AsyncResult<Vec<C::Out>, E>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        C: ItemFn<I::Item>,
        E: Outcome,
    {
        let MapOptions {
            chunksize,
            callbacks,
            fail_fast,
        } = options;
        let callbacks = callbacks.erase();
        let detached = callbacks.is_some();
        let registry = self.registry();
        let id = registry.next_job_id();
        let (slot, finisher) = Finisher::pair(id, callbacks);
        if registry.is_closed() {
            finisher.finish(Err(TaskError::cancelled(id, Cancellation::PoolClosed)));
            return AsyncResult::new(slot, self.id(), detached, None);
        }
        let map = Arc::new(Assembler::new(slot.clone(), finisher, fail_fast));
        let result = AsyncResult::new(slot, self.id(), detached, Some(map.clone()));
        let input_panicked =
            |(payload, index)| TaskError::input_panicked(id, payload).with_index(index);
        let mut items = match input::Input::new(items.into_iter()) {
            Ok(items) => items,
            Err(panic) => {
                map.fail(input_panicked(panic));
                return result;
            }
        };
        // On a bounded queue the default chunking fits the room free now,
        // so a map is shed only when the queue is (nearly) full, not for
        // being cut finer than the capacity. An explicit chunksize is kept.
        let chunksize = chunksize.unwrap_or_else(|| {
            let fine = default_chunksize(items.len(), self.workers());
            match registry.room() {
                Some(room) if room > 0 => fine.max(items.len().div_ceil(room)),
                _ => fine,
            }
        });
        let call = Arc::new(call);
        let (mut chunks, mut offset) = (0, 0);
        loop {
            let batch = match items.pull(chunksize) {
                Ok(batch) if batch.is_empty() => break,
                Ok(batch) => batch,
                Err((payload, at)) => {
                    // As `imap`: the input's panic is an error of the map,
                    // not an unwind out of this call.
                    map.fail(input_panicked((payload, offset + at)));
                    break;
                }
            };
            let count = batch.len();
            let labels = Labels {
                id,
                kind: "map",
                chunk: chunks,
                stateful,
            };
            let task = Arc::new(ChunkTask {
                map: map.clone(),
                labels,
                span: labels.span(),
                offset,
                call: call.clone(),
                items: Mutex::new(Some(batch)),
            });
            map.add_job(Arc::downgrade(&task) as Weak<dyn Task>);
            registry.submit(task);
            chunks += 1;
            offset += count;
            if map.is_abandoned() {
                break; // failed fast (or closed): the rest would be cancelled
            }
        }
        map.seal(chunks, offset);
        result
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;

    #[test]
    fn default_chunksize_makes_sixteen_chunks_per_worker() {
        assert_eq!(default_chunksize(1_000_000, 2), 31_250);
        assert_eq!(default_chunksize(10, 4), 1);
        assert_eq!(default_chunksize(33, 1), 3);
        assert_eq!(default_chunksize(1, 16), 1);
        assert_eq!(default_chunksize(0, 2), 1);
    }
}
