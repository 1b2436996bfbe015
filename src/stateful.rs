//! [`StatefulPool`]: a pool whose workers each own a value of your type.
//!
//! # Why a separate type
//!
//! Python's `initializer` fills module globals; in Rust that means
//! `thread_local!`, which panics if the task ever runs off a worker, or an
//! `Any` that must be downcast at run time. Three shapes were weighed:
//!
//! * rayon's `start_handler` / `broadcast`: code run on every thread, with
//!   no typed place to keep what it made; tasks still reach it through
//!   `thread_local!`.
//! * workerpool's `Worker` trait: the pool is generic over one worker type
//!   with one `execute(&mut self, input)`; typed, but a pool then runs one
//!   kind of job only.
//! * a `Pool<S>` generic everywhere, or per-call state access.
//!
//! `StatefulPool<S>` keeps the typing of workerpool's design and the freedom
//! of closures: `build_with_state(|index| S)` makes one `S` per worker, on
//! that worker's thread (so `S` need not be `Send`), and every stateful
//! method takes a closure that gets `&mut S`, checked at compile time. The
//! plain [`Pool`] stays free of a type parameter (most pools have no state),
//! and a `StatefulPool` dereferences to its `Pool` for everything else:
//! `close`, `join`, `terminate`, and (through `pool()`, since the stateful
//! methods take the same names) the plain submissions. How the state is
//! stored is in `state.rs`.
//!
//! A stateful task has its worker's state lent to it while it runs; a
//! stateful task that waits synchronously on *stateful* work of its own
//! pool cannot run that work itself (the state is taken) and leaves it to
//! the other workers, so if every worker does that at once the pool waits
//! on itself. Nest plain work (through the `Pool`) instead: it is run
//! inline as usual.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use crate::blocking;
use crate::error::WaitError;
use crate::imap::{Imap, ImapUnordered};
use crate::map::{MapOptions, Plain};
use crate::pool::Pool;
use crate::result::AsyncResult;
use crate::state;

/// A pool whose workers each own a value of type `S`, made by the function
/// given to [`PoolBuilder::build_with_state`](crate::PoolBuilder::build_with_state)
/// (a hasher, a compiled regex set, a scratch buffer, a connection), and
/// whose stateful tasks get `&mut S` of the worker they run on.
///
/// It dereferences to its [`Pool`], so `close`, `join`, `terminate`,
/// `workers` and the forms it does not redefine (`starmap`, the `try_`
/// forms, `imap_stream`...) are there. `apply`, `apply_async`, `map`,
/// `map_with`, `map_async`, `map_async_with`, `imap` and `imap_unordered`
/// are redefined to take the state; their plain forms are on
/// [`pool()`](StatefulPool::pool). With
/// [`max_tasks_per_worker`](crate::PoolBuilder::max_tasks_per_worker), a
/// recycled worker makes a fresh `S`.
///
/// # Examples
///
/// ```
/// use std::collections::HashMap;
///
/// // Each worker keeps its own memo table across tasks.
/// let pool = corepool::Pool::builder()
///     .workers(2)
///     .build_with_state(|_| HashMap::<u64, u64>::new())?;
/// fn collatz(memo: &mut HashMap<u64, u64>, n: u64) -> u64 {
///     if n == 1 { return 0; }
///     if let Some(&steps) = memo.get(&n) { return steps; }
///     let steps = 1 + collatz(memo, if n % 2 == 0 { n / 2 } else { 3 * n + 1 });
///     memo.insert(n, steps);
///     steps
/// }
/// let steps = pool.map(collatz, 1..=10)?;
/// assert_eq!(steps, [0, 1, 7, 2, 5, 8, 16, 3, 19, 6]);
/// pool.close();
/// pool.join()?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct StatefulPool<S> {
    pool: Pool,
    state: PhantomData<fn(&mut S)>,
}

impl<S> StatefulPool<S> {
    pub(crate) fn new(pool: Pool) -> Self {
        StatefulPool {
            pool,
            state: PhantomData,
        }
    }

    /// The plain [`Pool`] underneath (also reached through `Deref`).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| 0_u32)?;
    /// let plain: &corepool::Pool = pool.pool();
    /// assert_eq!(plain.apply(|| 1)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn pool(&self) -> &Pool {
        &self.pool
    }
}

impl<S: 'static> StatefulPool<S> {
    /// Runs `f` with its worker's state and blocks until it returns:
    /// [`Pool::apply`] for stateful tasks.
    ///
    /// # Errors
    ///
    /// As [`Pool::apply`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| 0_u64)?;
    /// for _ in 0..3 {
    ///     pool.apply(|calls: &mut u64| *calls += 1)?;
    /// }
    /// assert_eq!(pool.apply(|calls: &mut u64| *calls)?, 3); // one worker, one counter
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply<F, T>(&self, f: F) -> Result<T, WaitError>
    where
        F: FnOnce(&mut S) -> T + Send + 'static,
        T: Send + 'static,
    {
        blocking::ensure_can_block(self.pool.id())?;
        self.apply_async(f).get()
    }

    /// Submits `f`, to run with its worker's state: [`Pool::apply_async`]
    /// for stateful tasks.
    ///
    /// # Errors
    ///
    /// The result resolves as [`Pool::apply_async`]'s does.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|i| format!("worker {i}")).unwrap();
    /// let name = pool.apply_async(|me: &mut String| me.clone()).await.unwrap();
    /// assert!(name.starts_with("worker "));
    /// # }
    /// ```
    pub fn apply_async<F, T>(&self, f: F) -> AsyncResult<T>
    where
        F: FnOnce(&mut S) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.pool
            .submit_apply(move || Ok(state::with(f)), None, true)
    }

    /// [`Pool::map`] for a function that also gets its worker's state.
    ///
    /// # Errors
    ///
    /// As [`Pool::map`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|_| String::new())?;
    /// let upper = pool.map(|buf: &mut String, s: &str| {
    ///     buf.clear();
    ///     buf.push_str(s);
    ///     buf.make_ascii_uppercase();
    ///     buf.clone()
    /// }, ["a", "b"])?;
    /// assert_eq!(upper, ["A", "B"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<I, T, F>(&self, f: F, items: I) -> Result<Vec<T>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(&mut S, I::Item) -> T + Send + Sync + 'static,
    {
        self.map_with(f, items, MapOptions::new())
    }

    /// [`map`](StatefulPool::map) with [`MapOptions`].
    ///
    /// # Errors
    ///
    /// As [`Pool::map_with`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|i| i)?;
    /// let opts = corepool::MapOptions::new().chunksize(1);
    /// let workers = pool.map_with(|me: &mut usize, _: u8| *me, 0..4, opts)?;
    /// assert!(workers.iter().all(|&w| w < 2));
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
        F: Fn(&mut S, I::Item) -> T + Send + Sync + 'static,
    {
        blocking::ensure_can_block(self.pool.id())?;
        self.map_async_with(f, items, options).get()
    }

    /// [`Pool::map_async`] for a function that also gets its worker's state.
    ///
    /// # Errors
    ///
    /// The result resolves as [`Pool::map_async`]'s does.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|_| 10_u32).unwrap();
    /// let v = pool.map_async(|base: &mut u32, x: u32| *base + x, 0..3).await.unwrap();
    /// assert_eq!(v, [10, 11, 12]);
    /// # }
    /// ```
    pub fn map_async<I, T, F>(&self, f: F, items: I) -> AsyncResult<Vec<T>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(&mut S, I::Item) -> T + Send + Sync + 'static,
    {
        self.map_async_with(f, items, MapOptions::new())
    }

    /// [`map_async`](StatefulPool::map_async) with [`MapOptions`].
    ///
    /// # Errors
    ///
    /// The result resolves as [`Pool::map_async_with`]'s does.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|_| 2_u64).unwrap();
    /// let opts = corepool::MapOptions::new().chunksize(2);
    /// let v = pool.map_async_with(|k: &mut u64, x: u64| *k * x, 1..=4, opts).await.unwrap();
    /// assert_eq!(v, [2, 4, 6, 8]);
    /// # }
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
        F: Fn(&mut S, I::Item) -> T + Send + Sync + 'static,
    {
        let call = Plain(move |item| state::with(|s: &mut S| f(s, item)));
        self.pool.submit_map(call, items, options, true)
    }

    /// [`Pool::imap`] for a function that also gets its worker's state.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() {
    /// use futures::TryStreamExt;
    ///
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|_| Vec::<u8>::new()).unwrap();
    /// let lens: Vec<usize> = pool
    ///     .imap(|buf: &mut Vec<u8>, s: String| { buf.clear(); buf.extend(s.bytes()); buf.len() },
    ///           ["ab".to_string(), "cde".to_string()])
    ///     .try_collect()
    ///     .await
    ///     .unwrap();
    /// assert_eq!(lens, [2, 3]);
    /// # }
    /// ```
    pub fn imap<I, T, F>(&self, f: F, items: I) -> Imap<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = move |item| Ok(state::with(|s: &mut S| f(s, item)));
        Imap::new(self.pool.window(f, futures::stream::iter(items), true))
    }

    /// [`Pool::imap_unordered`] for a function that also gets its worker's
    /// state.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|_| 1_u32)?;
    /// let total: u32 = pool
    ///     .imap_unordered(|one: &mut u32, x: u32| x + *one, 0..4)
    ///     .into_blocking_iter()
    ///     .map(Result::unwrap)
    ///     .sum();
    /// assert_eq!(total, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn imap_unordered<I, T, F>(&self, f: F, items: I) -> ImapUnordered<T>
    where
        I: IntoIterator,
        I::IntoIter: Send + 'static,
        I::Item: Send + 'static,
        F: Fn(&mut S, I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = move |item| Ok(state::with(|s: &mut S| f(s, item)));
        ImapUnordered::new(self.pool.window(f, futures::stream::iter(items), true))
    }
}

impl<S> Deref for StatefulPool<S> {
    type Target = Pool;

    fn deref(&self) -> &Pool {
        &self.pool
    }
}

impl<S> Clone for StatefulPool<S> {
    fn clone(&self) -> Self {
        StatefulPool::new(self.pool.clone())
    }
}

impl<S> fmt::Debug for StatefulPool<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StatefulPool")
            .field("state", &std::any::type_name::<S>())
            .field("pool", &self.pool)
            .finish()
    }
}
