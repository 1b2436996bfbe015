//! Python's `chunksize`, `callback` and `error_callback` for the map family.

use std::fmt;

use crate::callbacks::Callbacks;
use crate::error::{TaskError, TryError};

/// Options for [`Pool::map_with`](crate::Pool::map_with) and its relatives: Python's `chunksize`,
/// `callback` and `error_callback`, and whether the first failure stops the
/// map.
///
/// For the fallible forms ([`Pool::try_map_with`](crate::Pool::try_map_with))
/// the error callback gets a [`&TryError<E>`](crate::TryError):
/// `MapOptions<T, TryError<E>>`.
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
pub struct MapOptions<T, E = TaskError> {
    pub(crate) chunksize: Option<usize>,
    pub(crate) callbacks: Callbacks<Vec<T>, E>,
    pub(crate) fail_fast: bool,
}

impl<T> MapOptions<T> {
    /// The defaults: ⌈len / (16 × workers)⌉ items a chunk (four times as
    /// many chunks as Python's ⌈len / (4 × workers)⌉; see `Pool::map`), no
    /// callbacks, failing fast.
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
        Self::default()
    }
}

impl<T, E> MapOptions<T, TryError<E>> {
    /// The defaults, for a fallible form
    /// ([`try_map_with`](crate::Pool::try_map_with)): the error callback
    /// will get a [`&TryError<E>`](TryError).
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{MapOptions, TryError};
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let opts = MapOptions::for_try().chunksize(1).on_error(|e: &TryError<u8>| eprintln!("{e:?}"));
    /// assert_eq!(pool.try_map_with(|x: u8| Ok::<_, u8>(x), [1, 2], opts)?, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_try() -> Self {
        Self::default()
    }
}

impl<T, E> MapOptions<T, E> {
    /// Whether the first item to fail resolves the map at once (the
    /// default: the chunks not started are skipped and running chunks stop
    /// within a few items), or every item runs anyway and the map resolves
    /// with the first error once all are done, as Python's `Pool.map` and
    /// `concurrent.futures` do (for items with side effects).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    /// use corepool::MapOptions;
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// let r = ran.clone();
    /// let all = MapOptions::new().chunksize(1).fail_fast(false);
    /// let err = pool
    ///     .map_with(move |x: u32| { r.fetch_add(1, Ordering::SeqCst); 10 / x }, [1, 0, 2, 0, 5], all)
    ///     .unwrap_err();
    /// assert!(err.is_panic());
    /// assert_eq!(ran.load(Ordering::SeqCst), 5, "every item ran");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Items per job. Larger chunks cost less overhead; smaller ones balance
    /// uneven work better.
    ///
    /// # Panics
    ///
    /// If `chunksize` is 0: where Python silently returns a list of `None`s,
    /// corepool rejects it where it is set, as `slice::chunks(0)` does.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{MapOptions, Pool};
    ///
    /// let pool = Pool::new(2)?;
    /// assert_eq!(pool.map_with(|x: u8| x, 0..5, MapOptions::new().chunksize(2))?, [0, 1, 2, 3, 4]);
    /// assert!(std::panic::catch_unwind(|| MapOptions::<u8>::new().chunksize(0)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[track_caller]
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        assert!(chunksize > 0, "chunksize must be at least 1");
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
    pub fn on_error(mut self, f: impl FnOnce(&E) + Send + 'static) -> Self {
        self.callbacks = self.callbacks.on_error(f);
        self
    }
}

impl<T, E> Default for MapOptions<T, E> {
    fn default() -> Self {
        MapOptions {
            chunksize: None,
            callbacks: Callbacks::default(),
            fail_fast: true,
        }
    }
}

impl<T, E> fmt::Debug for MapOptions<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let MapOptions {
            chunksize,
            callbacks,
            fail_fast,
        } = self;
        f.debug_struct("MapOptions")
            .field("chunksize", chunksize)
            .field("callbacks", callbacks)
            .field("fail_fast", fail_fast)
            .finish()
    }
}

/// Chunks per worker a map is cut into by default.
///
/// Python cuts a map into 4 chunks per worker. Measured on 2 workers
/// (`map_with` and an explicit chunksize, medians of 7 runs): 1 M tiny
/// items took 7.3–8.6 ms at 4 chunks per worker and 6.6 ms at 16 (the
/// copying of results overlaps the computing of more, smaller chunks); 4 000
/// uneven items (cost growing with the square of the index, 2.7 s of work)
/// took 1.59 s at 4 and 1.40 s at 16 (ideal 1.33 s: the last, dearest chunk
/// no longer runs alone at the end); 100 items of 50 µs did not move. 32 or
/// 64 per worker gained a little on uneven work and lost on tiny items.
const CHUNKS_PER_WORKER: usize = 16;

/// The default chunksize: ⌈len / (16 × workers)⌉.
pub(crate) fn default_chunksize(len: usize, workers: usize) -> usize {
    len.div_ceil(CHUNKS_PER_WORKER * workers).max(1)
}
