//! Python's `chunksize`, `callback` and `error_callback` for the map family.

use std::fmt;

use crate::callbacks::Callbacks;
use crate::error::TaskError;

/// Options for [`Pool::map_with`](crate::Pool::map_with) and its relatives: Python's `chunksize`,
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
    pub(crate) chunksize: Option<usize>,
    pub(crate) callbacks: Callbacks<Vec<T>>,
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
