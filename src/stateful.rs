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
//! that worker's thread (so `S` need not be `Send`), and every submitting
//! method takes a closure that gets `&mut S`, checked at compile time. It
//! has the whole door of a `Pool` (`spawn`, `offer`, `submit`, `run`, over
//! [`StateWork<S>`](crate::StateWork)) and all of Python's eight names, so
//! per-worker state combines with every kind of work and every admission
//! mode. The plain [`Pool`] stays free of a type parameter (most pools have
//! no state), and a `StatefulPool` dereferences to its `Pool` for the
//! lifecycle (`close`, `join`, `terminate`, `metrics`); the plain
//! submissions are on `pool()`. How the state is stored is in `state.rs`.
//!
//! # A task that panics while holding the state
//!
//! The state is not poisoned: the next task on that worker gets it as the
//! panicking task left it, half-done update included (as `RefCell` would,
//! unlike `Mutex`). A state that must stay consistent should make its
//! updates panic-safe (compute, then assign), or be rebuilt by recycling
//! the worker (`max_tasks_per_worker`). This is a decision, not an
//! accident: poisoning would make every later task on that worker fail (or
//! force a rebuild the application cannot order), for a state that is
//! usually a cache or a scratch buffer.
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

use crate::args::StateTupleFn;

use crate::error::{SubmitError, WaitError};
use crate::imap::{self, Imap, ImapUnordered, Input};
use crate::pool::Pool;
use crate::result::AsyncResult;
use crate::state;
use crate::work::admitted;
use crate::work::sealed::Mode;
use crate::work::{Map, State, StateWork, Submit};

/// A stateful pool's `imap` chunks borrow their worker's state.
const STATEFUL: imap::Target = imap::Target {
    stateful: true,
    lane: None,
};

/// A pool whose workers each own a value of type `S`, made by the function
/// given to [`PoolBuilder::build_with_state`](crate::PoolBuilder::build_with_state)
/// (a hasher, a compiled regex set, a scratch buffer, a connection), and
/// whose tasks get `&mut S` of the worker they run on.
///
/// It has the same door as [`Pool`] ([`spawn`](StatefulPool::spawn),
/// [`offer`](StatefulPool::offer), [`submit`](StatefulPool::submit),
/// [`run`](StatefulPool::run)) and Python's eight names, all taking
/// closures of `&mut S`. It dereferences to its [`Pool`] for the lifecycle
/// (`close`, `join`, `terminate`, `workers`, `metrics`); the plain
/// (stateless) submissions are on [`pool()`](StatefulPool::pool). With
/// [`max_tasks_per_worker`](crate::PoolBuilder::max_tasks_per_worker), a
/// recycled worker makes a fresh `S`. A task that panics leaves the state
/// as it was at the panic (not poisoned; see the module notes in
/// `stateful.rs`, and the README).
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

    /// The plain [`Pool`] underneath (also reached through `Deref`), for
    /// stateless work on the same workers.
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

// ===== building =====

// ===== the door =====

impl<S: 'static> StatefulPool<S> {
    /// [`Pool::spawn`] for stateful work: a closure of `&mut S`, an
    /// [`Apply`](crate::Apply) of one, or a [`Map`] of `Fn(&mut S, Item)`.
    ///
    /// # Errors
    ///
    /// The result resolves as [`AsyncResult`] says.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| vec![0_u8; 4])?;
    /// let len = pool.spawn(|buf: &mut Vec<u8>| buf.len()).await?;
    /// assert_eq!(len, 4);
    /// # Ok(()) }
    /// ```
    pub fn spawn<W: StateWork<S>>(&self, work: W) -> AsyncResult<W::Output, W::Error> {
        admitted(work.start(self.pool.door(true, Mode::Shed)))
    }

    /// [`Pool::offer`] for stateful work: refused at once, with the work
    /// handed back, when the bounded queue is full or the pool closed.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Full`] or [`SubmitError::Closed`], with the work.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| 1_u32)?;
    /// pool.close();
    /// let refused = pool.offer(|n: &mut u32| *n).unwrap_err();
    /// assert!(refused.is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn offer<W: StateWork<S>>(
        &self,
        work: W,
    ) -> Result<AsyncResult<W::Output, W::Error>, SubmitError<W>> {
        work.start(self.pool.door(true, Mode::Offer))
    }

    /// [`Pool::submit`] for stateful work: waits for room.
    ///
    /// # Errors
    ///
    /// [`SubmitError::Closed`], with the work, if the pool closes first.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future drops the work unqueued (see [`Submit`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = corepool::Pool::builder().workers(1).queue_capacity(1).build_with_state(|_| 2_u32)?;
    /// let r = pool.submit(|n: &mut u32| *n * 21).await.map_err(|e| e.to_string())?;
    /// assert_eq!(r.await?, 42);
    /// # Ok(()) }
    /// ```
    pub fn submit<W: StateWork<S>>(&self, work: W) -> Submit<W, W::Output, W::Error> {
        Submit::new(work.start_when_room(self.pool.door(true, Mode::Shed)))
    }

    /// [`Pool::run`] for stateful work: blocks for the value.
    ///
    /// # Errors
    ///
    /// As [`Pool::run`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::Map;
    ///
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|i| i as u64)?;
    /// let v = pool.run(Map::new(|_: &mut u64, x: u64| x + 1, 0..3).chunksize(1))?;
    /// assert_eq!(v, [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run<W: StateWork<S>>(&self, work: W) -> Result<W::Output, WaitError<W::Error>> {
        let mode = self.pool.blocking_mode()?;
        admitted(work.start(self.pool.door(true, mode))).get()
    }
}

// ===== Python's eight names =====

impl<S: 'static> StatefulPool<S> {
    /// [`Pool::apply`] with the worker's state.
    ///
    /// # Errors
    ///
    /// As [`Pool::apply`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| 10_u32)?;
    /// assert_eq!(pool.apply(|n: &mut u32| { *n += 1; *n })?, 11);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply<F, T>(&self, f: F) -> Result<T, WaitError>
    where
        F: FnOnce(&mut S) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.run(f)
    }

    /// [`Pool::apply_async`] with the worker's state.
    ///
    /// # Errors
    ///
    /// As [`Pool::apply_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| String::from("w"))?;
    /// assert_eq!(pool.apply_async(|s: &mut String| s.len()).await?, 1);
    /// # Ok(()) }
    /// ```
    pub fn apply_async<F, T>(&self, f: F) -> AsyncResult<T>
    where
        F: FnOnce(&mut S) -> T + Send + 'static,
        T: Send + 'static,
    {
        self.spawn(f)
    }

    /// [`Pool::map`] with the worker's state: `f(&mut state, item)`.
    ///
    /// # Errors
    ///
    /// As [`Pool::map`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|_| 0_u64)?;
    /// let v = pool.map(|seen: &mut u64, x: u64| { *seen += 1; x * 2 }, 0..4)?;
    /// assert_eq!(v, [0, 2, 4, 6]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn map<I, T, F>(&self, f: F, items: I) -> Result<Vec<T>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(&mut S, I::Item) -> T + Send + Sync + 'static,
    {
        let mode = self.pool.blocking_mode()?;
        admitted(Map::new(f, items).start_in::<State<S>>(self.pool.door(true, mode))).get()
    }

    /// [`Pool::map_async`] with the worker's state.
    ///
    /// # Errors
    ///
    /// As [`Pool::map_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|i| i)?;
    /// let v = pool.map_async(|_: &mut usize, x: u8| x + 1, [1, 2]).await?;
    /// assert_eq!(v, [2, 3]);
    /// # Ok(()) }
    /// ```
    pub fn map_async<I, T, F>(&self, f: F, items: I) -> AsyncResult<Vec<T>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        T: Send + 'static,
        F: Fn(&mut S, I::Item) -> T + Send + Sync + 'static,
    {
        admitted(Map::new(f, items).start_in::<State<S>>(self.pool.door(true, Mode::Shed)))
    }

    /// [`Pool::starmap`] with the worker's state: `f(&mut state, a, b, ..)`
    /// for each tuple `(a, b, ..)`; see [`StateTupleFn`].
    ///
    /// # Errors
    ///
    /// As [`Pool::map`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| 100_i32)?;
    /// let v = pool.starmap(|base: &mut i32, a: i32, b: i32| *base + a * b, [(1, 2), (3, 4)])?;
    /// assert_eq!(v, [102, 112]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn starmap<I, F>(&self, f: F, items: I) -> Result<Vec<F::Output>, WaitError>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: StateTupleFn<S, I::Item>,
        F::Output: Send + 'static,
    {
        self.map(move |s: &mut S, args| f.call_with_state(s, args), items)
    }

    /// [`Pool::starmap_async`] with the worker's state.
    ///
    /// # Errors
    ///
    /// As [`Pool::map_async`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| 1_u8)?;
    /// let v = pool.starmap_async(|one: &mut u8, a: u8, b: u8| a + b + *one, [(1, 2)]).await?;
    /// assert_eq!(v, [4]);
    /// # Ok(()) }
    /// ```
    pub fn starmap_async<I, F>(&self, f: F, items: I) -> AsyncResult<Vec<F::Output>>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: StateTupleFn<S, I::Item>,
        F::Output: Send + 'static,
    {
        self.map_async(move |s: &mut S, args| f.call_with_state(s, args), items)
    }

    /// [`Pool::imap`] with the worker's state.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use futures::TryStreamExt;
    ///
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|_| 3_u32).unwrap();
    /// let v: Vec<u32> = pool.imap(|k: &mut u32, x: u32| x * *k, 0..4).try_collect().await?;
    /// assert_eq!(v, [0, 3, 6, 9]);
    /// # Ok(()) }
    /// ```
    pub fn imap<In, T, F>(&self, f: F, input: In) -> Imap<T>
    where
        In: Input,
        F: Fn(&mut S, In::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = move |item| state::with(|s: &mut S| f(s, item));
        imap::ordered(self.pool.owner(), f, input.into_stream(), STATEFUL)
    }

    /// [`Pool::imap_unordered`] with the worker's state.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
    /// use futures::TryStreamExt;
    ///
    /// let pool = corepool::Pool::builder().workers(2).build_with_state(|_| 2_u32).unwrap();
    /// let mut v: Vec<u32> = pool.imap_unordered(|k: &mut u32, x: u32| x * *k, 0..3).try_collect().await?;
    /// v.sort();
    /// assert_eq!(v, [0, 2, 4]);
    /// # Ok(()) }
    /// ```
    pub fn imap_unordered<In, T, F>(&self, f: F, input: In) -> ImapUnordered<T>
    where
        In: Input,
        F: Fn(&mut S, In::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = move |item| state::with(|s: &mut S| f(s, item));
        imap::unordered(self.pool.owner(), f, input.into_stream(), STATEFUL)
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
