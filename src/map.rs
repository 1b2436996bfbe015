//! `map`, `map_async`, `starmap`, `starmap_async`: one job per chunk, each
//! item under its own panic guard, results assembled in input order by the
//! worker that finishes the last chunk.

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::apply::Finisher;
use crate::args::TupleFn;
use crate::blocking;
use crate::callbacks::Callbacks;
use crate::error::TaskError;
use crate::job::Task;
use crate::pool::Pool;
use crate::result::AsyncResult;
use crate::slot::{Completer, Slot};
use crate::unwind;

/// Options for [`Pool::map_with`] and its relatives: Python's `chunksize`,
/// `callback` and `error_callback`.
///
/// # Examples
///
/// ```
/// use corepool::{MapOptions, Pool};
///
/// let pool = Pool::new(2)?;
/// let opts = MapOptions::new()
///     .chunksize(16)
///     .on_success(|v: &Vec<u32>| println!("{} results", v.len()));
/// assert_eq!(pool.map_with(|x: u32| x * 2, 0..100, opts)?.len(), 100);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct MapOptions<T> {
    chunksize: Option<usize>,
    callbacks: Callbacks<Vec<T>>,
}

impl<T> MapOptions<T> {
    /// The defaults: Python's chunksize, ⌈len / (4 × workers)⌉, and no
    /// callbacks.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// let v = pool.map_with(|x: u8| x, [1, 2], corepool::MapOptions::new())?;
    /// assert_eq!(v, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new() -> Self {
        MapOptions {
            chunksize: None,
            callbacks: Callbacks::new(),
        }
    }

    /// Items per job. Larger chunks cost less overhead; smaller ones balance
    /// uneven work better. 0 is an error
    /// ([`InvalidArgument`](crate::ErrorKind::InvalidArgument)), not
    /// Python's silent list of `None`s.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{ErrorKind, MapOptions, Pool};
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map_with(|x: u8| x, 0..5, MapOptions::new().chunksize(2))?, [0, 1, 2, 3, 4]);
    /// let err = pool.map_with(|x: u8| x, 0..5, MapOptions::new().chunksize(0)).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::InvalidArgument);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        self.chunksize = Some(chunksize);
        self
    }

    /// Python's `callback`: runs once with the whole result list (see
    /// [`Callbacks`]). The submission is then detached.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let opts = corepool::MapOptions::new().on_success(move |v: &Vec<u8>| tx.send(v.clone()).unwrap());
    /// pool.map_async_with(|x: u8| x + 1, [1, 2, 3], opts).detach();
    /// assert_eq!(rx.recv()?, [2, 3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn on_success(mut self, f: impl FnOnce(&Vec<T>) + Send + 'static) -> Self {
        self.callbacks = self.callbacks.on_success(f);
        self
    }

    /// Python's `error_callback`: runs once with the first error.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let opts = corepool::MapOptions::new().on_error(move |e| tx.send(e.index()).unwrap());
    /// pool.map_async_with(|x: u8| if x == 2 { panic!() } else { x }, [1, 2, 3], opts).detach();
    /// assert_eq!(rx.recv()?, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn on_error(mut self, f: impl FnOnce(&TaskError) + Send + 'static) -> Self {
        self.callbacks = self.callbacks.on_error(f);
        self
    }
}

impl<T> Default for MapOptions<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for MapOptions<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MapOptions")
            .field("chunksize", &self.chunksize)
            .field("callbacks", &self.callbacks)
            .finish()
    }
}

/// Python's default chunksize: ⌈len / (4 × workers)⌉.
pub(crate) fn default_chunksize(len: usize, workers: usize) -> usize {
    len.div_ceil(4 * workers).max(1)
}

// ===== map machinery =====

struct MapState<T> {
    slot: Arc<Slot<Vec<T>>>,
    parts: Mutex<Parts<T>>,
}

/// The results so far. Chunks are appended to `out` in input order as soon
/// as their predecessors are in, by whichever worker finishes them, so the
/// copying overlaps with the computing of later chunks instead of following
/// it.
struct Parts<T> {
    /// The results of chunks `0..next`. `None` while a worker appends to it
    /// outside the lock; that worker picks up what arrives meanwhile.
    out: Option<Vec<T>>,
    next: usize,
    /// Finished chunks waiting for their predecessors.
    waiting: Vec<Option<Vec<T>>>,
    /// Taken by whoever resolves the map: the last append, or the first error.
    finisher: Option<Finisher<Vec<T>>>,
}

impl<T> MapState<T> {
    fn lock(&self) -> MutexGuard<'_, Parts<T>> {
        self.parts.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn chunk_done(&self, chunk: usize, values: Vec<T>) {
        let mut parts = self.lock();
        if parts.finisher.is_none() {
            // The map already failed; drop the values outside the lock.
            drop(parts);
            return drop(values);
        }
        parts.waiting[chunk] = Some(values);
        loop {
            let Some(mut out) = parts.out.take() else {
                return; // another worker is appending and will take this chunk
            };
            let mut ready = Vec::new();
            let p = &mut *parts;
            while let Some(values) = p.waiting.get_mut(p.next).and_then(Option::take) {
                ready.push(values);
                p.next += 1;
            }
            if ready.is_empty() {
                parts.out = Some(out);
                return;
            }
            drop(parts);
            for values in ready {
                if out.is_empty() {
                    out = values; // chunk 0 was allocated for the whole output
                } else {
                    out.extend(values);
                }
            }
            parts = self.lock();
            if parts.finisher.is_none() {
                drop(parts);
                return drop(out); // failed while we appended
            }
            if parts.next == parts.waiting.len() {
                let finisher = parts.finisher.take().expect("checked above");
                drop(parts);
                return finisher.finish(Ok(out));
            }
            parts.out = Some(out);
        }
    }

    /// Fails the map with its first error; the chunks that have not started
    /// see the slot abandoned and skip their work.
    fn fail(&self, error: TaskError) {
        self.slot.abandon();
        let mut parts = self.lock();
        let Some(finisher) = parts.finisher.take() else {
            return;
        };
        let done = (parts.out.take(), std::mem::take(&mut parts.waiting));
        drop(parts);
        drop(done);
        finisher.finish(Err(error));
    }
}

/// The most items a chunk computes between two checks for a dropped map.
const MAX_BATCH: usize = 64;

struct ChunkTask<I, T, F> {
    state: Arc<MapState<T>>,
    chunk: usize,
    /// Input index of the chunk's first item, for error reports.
    offset: usize,
    items: Vec<I>,
    /// Room to reserve for the results: the whole output for chunk 0, which
    /// becomes the output vector.
    capacity: usize,
    f: Arc<F>,
    settled: bool,
}

impl<I, T, F> Task for ChunkTask<I, T, F>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> T + Send + Sync + 'static,
{
    fn run(mut self: Box<Self>) {
        self.settled = true;
        let state = &self.state;
        if state.slot.is_abandoned() {
            return; // the map was dropped or already failed
        }
        let items = std::mem::take(&mut self.items);
        let mut values = Vec::with_capacity(self.capacity.max(items.len()));
        let mut items = items.into_iter();
        let mut done = 0;
        let f = &*self.f;
        // `extend` from a `TrustedLen` iterator writes without per-item
        // capacity checks; batches that double from 1 to `MAX_BATCH` keep
        // the check for a dropped or failed map close to per-item at first
        // and cheap later. `done` counts the items that returned, so a panic
        // is reported at the right index.
        let run = unwind::catch(|| {
            let mut batch = 1;
            while items.len() > 0 {
                if state.slot.is_abandoned() {
                    return;
                }
                values.extend(items.by_ref().take(batch).map(|item| {
                    let value = f(item);
                    done += 1;
                    value
                }));
                batch = (batch * 2).min(MAX_BATCH);
            }
        });
        match run {
            Err(payload) => {
                let error = TaskError::panicked(payload).with_index(self.offset + done);
                drop((values, items));
                state.fail(error);
            }
            Ok(()) if state.slot.is_abandoned() => {}
            Ok(()) => state.chunk_done(self.chunk, values),
        }
    }

    fn reject(mut self: Box<Self>, error: TaskError) {
        self.settled = true;
        self.state.fail(error);
    }
}

impl<I, T, F> Drop for ChunkTask<I, T, F> {
    fn drop(&mut self) {
        if !self.settled {
            self.state.fail(TaskError::cancelled());
        }
    }
}

impl Pool {
    /// Applies `f` to every item on the pool and blocks until all are done,
    /// returning the results in input order (Python's `map`).
    ///
    /// The input is split into chunks of Python's default size,
    /// ⌈len / (4 × workers)⌉ (set it with [`map_with`](Pool::map_with)); one
    /// job per chunk. Waiting is safe where [`apply`](Pool::apply) is.
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
    pub fn map<I, T, F>(&self, f: F, items: I) -> Result<Vec<T>, TaskError>
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
    /// As [`map`](Pool::map), plus `InvalidArgument` for a chunksize of 0.
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
    ) -> Result<Vec<T>, TaskError>
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
        let MapOptions {
            chunksize,
            callbacks,
        } = options;
        let slot = Slot::new();
        let result = AsyncResult::new(slot.clone(), self.id(), !callbacks.is_empty());
        let finisher = Finisher::new(Completer::new(slot.clone()), Some(callbacks));
        let registry = self.registry();
        if chunksize == Some(0) {
            finisher.finish(Err(TaskError::invalid_argument(
                "chunksize must be at least 1",
            )));
            return result;
        }
        if registry.is_closed() {
            finisher.finish(Err(TaskError::closed()));
            return result;
        }
        let items = items.into_iter();
        let (len, items) = match items.size_hint() {
            (low, Some(high)) if low == high => (low, Either::Exact(items)),
            _ => {
                let all: Vec<_> = items.collect();
                (all.len(), Either::Collected(all.into_iter()))
            }
        };
        if len == 0 {
            finisher.finish(Ok(Vec::new()));
            return result;
        }
        let chunksize = chunksize.unwrap_or_else(|| default_chunksize(len, self.workers()));
        let chunks = len.div_ceil(chunksize);
        let state = Arc::new(MapState {
            slot,
            parts: Mutex::new(Parts {
                out: Some(Vec::new()),
                next: 0,
                waiting: (0..chunks).map(|_| None).collect(),
                finisher: Some(finisher),
            }),
        });
        let f = Arc::new(f);
        let id = registry.next_job_id();
        let mut items = items;
        let mut offset = 0;
        for chunk in 0..chunks {
            let batch: Vec<_> = if chunk + 1 == chunks {
                // An inexact size hint must not lose items: the last chunk
                // takes whatever is left.
                items.by_ref().collect()
            } else {
                items.by_ref().take(chunksize).collect()
            };
            let count = batch.len();
            let task = ChunkTask {
                state: state.clone(),
                chunk,
                offset,
                items: batch,
                capacity: if chunk == 0 { len } else { 0 },
                f: f.clone(),
                settled: false,
            };
            registry.submit(id, "map", chunk, Box::new(task));
            offset += count;
        }
        result
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
    pub fn starmap<I, F>(&self, f: F, items: I) -> Result<Vec<F::Output>, TaskError>
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
    ) -> Result<Vec<F::Output>, TaskError>
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
}

/// The input of a map: the caller's iterator when its length is known, else
/// the items collected first.
enum Either<A, B> {
    Exact(A),
    Collected(B),
}

impl<A: Iterator, B: Iterator<Item = A::Item>> Iterator for Either<A, B> {
    type Item = A::Item;

    fn next(&mut self) -> Option<A::Item> {
        match self {
            Either::Exact(a) => a.next(),
            Either::Collected(b) => b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_chunksize_matches_python() {
        // Python: chunksize, extra = divmod(len, 4 * processes); if extra: chunksize += 1
        assert_eq!(default_chunksize(1_000_000, 2), 125_000);
        assert_eq!(default_chunksize(10, 4), 1);
        assert_eq!(default_chunksize(17, 2), 3);
        assert_eq!(default_chunksize(1, 16), 1);
    }

    #[test]
    fn chunks_finishing_out_of_order_are_appended_in_order() {
        use futures::task::noop_waker_ref;
        use std::task::{Context, Poll};

        let slot = Slot::new();
        let state = MapState {
            slot: slot.clone(),
            parts: Mutex::new(Parts {
                out: Some(Vec::new()),
                next: 0,
                waiting: vec![None, None, None, None],
                finisher: Some(Finisher::new(Completer::new(slot.clone()), None)),
            }),
        };
        state.chunk_done(3, vec![6]);
        state.chunk_done(1, vec![3, 4]);
        assert_eq!(state.lock().next, 0, "nothing is appended before chunk 0");
        state.chunk_done(0, vec![1, 2]);
        assert_eq!(state.lock().next, 2, "chunks 0 and 1 are appended at once");
        assert!(!slot.is_complete());
        state.chunk_done(2, vec![5]);
        let mut cx = Context::from_waker(noop_waker_ref());
        match slot.poll_take(&mut cx) {
            Poll::Ready(Some(Ok(v))) => assert_eq!(v, [1, 2, 3, 4, 5, 6]),
            _ => panic!("the map should be complete"),
        }
    }
}
