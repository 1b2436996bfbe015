//! The one door: what can be submitted ([`Work`], [`StateWork`]), and the
//! one submission path every kind of work and every admission mode share.
//!
//! # Design
//!
//! Python spreads a submission's options over keyword arguments; corepool
//! spreads them over two axes, each written once:
//!
//! * **What** is submitted is a value: a closure, an [`Apply`] (one call,
//!   with Python's `callback` / `error_callback`, plain or
//!   [`fallible`](Apply::fallible)), or a [`Map`] (many items, with
//!   `chunksize`, `fail_fast`, the callbacks, plain or fallible). A new
//!   option is one builder method on these values.
//! * **How** it is admitted is the door's one axis, the method called:
//!   [`spawn`](crate::Pool::spawn) sheds work that does not fit (its result
//!   resolves as [`QueueFull`](crate::Cancellation::QueueFull)),
//!   [`offer`](crate::Pool::offer) refuses at once and hands the work back,
//!   [`submit`](crate::Pool::submit) waits for room, and
//!   [`run`](crate::Pool::run) blocks for the result.
//!
//! Python's eight names are one line each over the door (`apply` is
//! `run(f)`, `map_async` is `spawn(Map::new(f, items))`...), and a
//! [`StatefulPool`](crate::StatefulPool) has the same door for values built
//! from `&mut S` closures: the traits are sealed, and a second trait,
//! [`StateWork<S>`], keeps the stateful impls apart from the plain ones.
//!
//! Inside, an [`Apply`] becomes one job cell (`job.rs`) whose allocation
//! also holds the result slot, and which hands the value back if `offer`
//! is refused; a [`Map`] becomes one job per chunk feeding one assembler.

mod apply;
mod call;
mod map;

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

pub use apply::Apply;
pub(crate) use apply::prepare_closure;
pub use map::Map;

use crate::error::SubmitError;
use crate::result::AsyncResult;

pub(crate) use crate::state::{State, Stateless};

pub(crate) mod sealed {
    #![allow(unreachable_pub)]

    use std::fmt;
    use std::future::Future;
    use std::pin::Pin;

    use std::sync::Arc;

    use crate::error::{Outcome, SubmitError};
    use crate::job::LaneRef;
    use crate::registry::Registry;
    use crate::result::AsyncResult;

    /// How the door admits work now (the waiting mode has its own method).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Mode {
        /// Shed what does not fit: the result resolves as cancelled.
        Shed,
        /// Refuse at once and hand the work back.
        Offer,
        /// The caller is worker `index` (of `generation`) of the pool and
        /// will block on the result: one job may run right here, unqueued.
        Here { index: usize, generation: u64 },
        /// The caller holds a place (a [`Permit`](crate::Permit)): the
        /// work's first job takes it; a map's other jobs take places beyond
        /// the capacity. Never refused for lack of room.
        Permit,
    }

    /// Where and how to submit.
    #[derive(Clone, Copy)]
    pub struct Door<'a> {
        pub(crate) registry: &'a Arc<Registry>,
        pub(crate) stateful: bool,
        pub(crate) mode: Mode,
        /// The lane the work goes to, if the pool is a lane's view.
        pub(crate) lane: Option<&'a LaneRef>,
    }

    impl fmt::Debug for Door<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Door")
                .field("pool", &self.registry.id)
                .field("stateful", &self.stateful)
                .field("mode", &self.mode)
                .field("lane", &self.lane.map(|lane| &lane.name))
                .finish()
        }
    }

    /// A future that queues work once there is room.
    pub type Admitting<W, T, E> =
        Pin<Box<dyn Future<Output = Result<AsyncResult<T, E>, SubmitError<W>>> + Send>>;

    /// Something the pool can run in context `Ctx`; the machinery of the
    /// public [`Work`](super::Work) and [`StateWork`](super::StateWork).
    pub trait Start<Ctx>: Sized + Send + 'static {
        /// The value a success resolves to.
        type Output: Send + 'static;
        /// The error a failure resolves to.
        type Error: Outcome;

        /// Submits now. `Err` only in [`Mode::Offer`].
        fn start(
            self,
            door: Door<'_>,
        ) -> Result<AsyncResult<Self::Output, Self::Error>, SubmitError<Self>>;

        /// Submits once there is room; `Err(Closed)` if the pool closes first.
        fn start_when_room(self, door: Door<'_>) -> Admitting<Self, Self::Output, Self::Error>;
    }
}

use sealed::Start;

/// Work a [`Pool`](crate::Pool) can run: a closure `FnOnce() -> T`, an
/// [`Apply`], or a [`Map`]. Sealed: these are the kinds there are.
///
/// Its `Output` is what a success resolves to (`T` for a closure or an
/// `Apply`, `Vec<T>` for a `Map`), and its `Error` what a failure resolves
/// to: a
/// [`TaskError`](crate::TaskError), or a [`TryError<E>`](crate::TryError)
/// for fallible work.
///
/// # Examples
///
/// ```
/// use corepool::{Apply, Map, Pool};
///
/// let pool = Pool::new(2)?;
/// assert_eq!(pool.run(|| 1 + 1)?, 2);
/// assert_eq!(pool.run(Apply::new(|| 3).callback(|v: &i32| assert_eq!(*v, 3)))?, 3);
/// assert_eq!(pool.run(Map::new(|x: u8| x * 2, [1, 2]).chunksize(1))?, [2, 4]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Sealed: only corepool's kinds are `Work`. This does not compile:
///
/// ```compile_fail
/// struct Mine;
/// impl corepool::Work for Mine {}
/// ```
pub trait Work: Start<Stateless> {}

impl<W: Start<Stateless>> Work for W {}

/// Work a [`StatefulPool<S>`](crate::StatefulPool) can run: a closure
/// `FnOnce(&mut S) -> T`, an [`Apply`] of one, or a [`Map`] of a
/// `Fn(&mut S, Item) -> T`. Sealed.
///
/// # Examples
///
/// ```
/// use corepool::{Map, Pool};
///
/// let pool = Pool::builder().workers(2).build_with_state(|_| 0_u64)?;
/// let counted = pool.run(Map::new(|n: &mut u64, x: u64| { *n += 1; x }, 0..4))?;
/// assert_eq!(counted, [0, 1, 2, 3]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// A stateful pool's door takes only stateful work: a plain closure does not
/// silently take the stateless path (use [`StatefulPool::pool`](crate::StatefulPool::pool)
/// for that). This does not compile:
///
/// ```compile_fail
/// let pool = corepool::Pool::builder().workers(1).build_with_state(|_| 0_u32).unwrap();
/// let r = pool.offer(|| 1); // not a closure of `&mut u32`
/// ```
pub trait StateWork<S>: Start<State<S>> {}

impl<S, W: Start<State<S>>> StateWork<S> for W {}

/// The result of work submitted in a mode that never refuses.
pub(crate) fn admitted<W, T, E>(
    started: Result<AsyncResult<T, E>, SubmitError<W>>,
) -> AsyncResult<T, E> {
    match started {
        Ok(result) => result,
        Err(_) => unreachable!("only `offer` refuses"),
    }
}

/// The future of [`Pool::submit`](crate::Pool::submit): resolves once the
/// work is queued (to its [`AsyncResult`]), or hands the work back if the
/// pool closes first.
///
/// # Cancel safety
///
/// Dropping it before it resolves gives up: the work is dropped unqueued
/// and never runs (no callback runs for it either).
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Submit<W, T, E> {
    inner: sealed::Admitting<W, T, E>,
}

impl<W, T, E> Submit<W, T, E> {
    pub(crate) fn new(inner: sealed::Admitting<W, T, E>) -> Self {
        Submit { inner }
    }
}

impl<W, T, E> Future for Submit<W, T, E> {
    type Output = Result<AsyncResult<T, E>, SubmitError<W>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.inner.as_mut().poll(cx)
    }
}

impl<W, T, E> fmt::Debug for Submit<W, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Submit").finish_non_exhaustive()
    }
}
