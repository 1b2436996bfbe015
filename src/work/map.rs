//! [`Map`]: a map as a value, with Python's `chunksize`, `callback` and
//! `error_callback`, and `fail_fast`.

use std::fmt;
use std::time::Instant;

use super::sealed::{Admitting, Door, Mode, Start};
use super::{State, Stateless};
use crate::callbacks::Callbacks;
use crate::error::{Cancellation, Outcome, SubmitError, TaskError, TryError};
use crate::job::{Job, Route};
use crate::map::{CallEach, Chunker, MapSpec};
use crate::result::AsyncResult;

/// A map as a value: a function, its input, and Python's keyword arguments
/// (`chunksize`, `callback`, `error_callback`) plus [`fail_fast`](Map::fail_fast),
/// for the door ([`Pool::spawn`](crate::Pool::spawn),
/// [`offer`](crate::Pool::offer), [`submit`](crate::Pool::submit),
/// [`run`](crate::Pool::run)). [`Pool::map`](crate::Pool::map) and
/// [`map_async`](crate::Pool::map_async) are the door with a plain `Map`.
///
/// `Map::new(f, items)` takes `Fn(Item) -> T` and resolves to `Vec<T>` in
/// input order, or to the first [`TaskError`]; [`Map::fallible`] takes
/// `Fn(Item) -> Result<T, E>` and stops at the first `Err`, resolving to a
/// [`TryError<E>`] with your `E` typed (as rayon's `try_for_each`). On a
/// [`StatefulPool<S>`](crate::StatefulPool) the function takes `&mut S`
/// first. For Python's `starmap`, destructure the tuple in the closure:
/// `Map::new(|(a, b)| a * b, pairs)`.
///
/// The input is consumed when the map is submitted (as Python's
/// `list(iterable)`); for a long or endless input, use
/// [`imap`](crate::Pool::imap).
///
/// # Examples
///
/// ```
/// use corepool::{Map, Pool};
///
/// let pool = Pool::new(2)?;
/// let squares = pool.run(Map::new(|x: u64| x * x, 1..=4).chunksize(1))?;
/// assert_eq!(squares, [1, 4, 9, 16]);
///
/// let parsed = pool.run(Map::fallible(|s: &str| s.parse::<u8>(), ["1", "x"]));
/// assert_eq!(parsed.unwrap_err().index(), Some(1));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Map<F, I, T, E = TaskError> {
    f: F,
    items: I,
    chunksize: Option<usize>,
    fail_fast: bool,
    callbacks: Callbacks<Vec<T>, E>,
    deadline: Option<Instant>,
}

impl<F, I, T> Map<F, I, T> {
    /// A map of `f` over `items`.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let lengths = pool.run(corepool::Map::new(|s: &str| s.len(), ["a", "bb"]))?;
    /// assert_eq!(lengths, [1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(f: F, items: I) -> Self {
        Map {
            f,
            items,
            chunksize: None,
            fail_fast: true,
            callbacks: Callbacks::default(),
            deadline: None,
        }
    }
}

impl<F, I, T, E> Map<F, I, T, TryError<E>> {
    /// A map of a fallible `f` (`Fn(Item) -> Result<T, E>`) over `items`:
    /// the first `Err` fails the map with [`TryError::User`] (its index
    /// included), and the chunks still running stop at their next item.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{Map, TryError, WaitError};
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let ok = pool.run(Map::fallible(|s: &str| s.parse::<u8>(), ["1", "2"]))?;
    /// assert_eq!(ok, [1, 2]);
    /// match pool.run(Map::fallible(|s: &str| s.parse::<u8>(), ["1", "x", "3"])) {
    ///     Err(WaitError::Task(TryError::User { index, .. })) => assert_eq!(index, Some(1)),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fallible(f: F, items: I) -> Self {
        Map {
            f,
            items,
            chunksize: None,
            fail_fast: true,
            callbacks: Callbacks::default(),
            deadline: None,
        }
    }
}

impl<F, I, T, E> Map<F, I, T, E> {
    /// Python's `chunksize`: items per job. Defaults to ⌈len / (16 ×
    /// workers)⌉ (more chunks than Python's 4 per worker measured faster
    /// on tiny and on uneven items), but, once the pool has measured what
    /// its map items cost, no chunk carries less than about 50 µs of work
    /// (a small map of cheap items is one job, not 32), and on a bounded
    /// queue no more chunks than it has free places at submission.
    ///
    /// # Panics
    ///
    /// If `chunksize` is 0 (as `slice::chunks(0)` does, and Python raises).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(2)?;
    /// let v = pool.run(corepool::Map::new(|x: i32| -x, 0..5).chunksize(2))?;
    /// assert_eq!(v, [0, -1, -2, -3, -4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    #[track_caller]
    pub fn chunksize(mut self, chunksize: usize) -> Self {
        assert!(chunksize > 0, "chunksize must be at least 1");
        self.chunksize = Some(chunksize);
        self
    }

    /// Whether the first failure resolves the map at once, skipping the
    /// chunks not started (`true`, the default), or every item runs and the
    /// map resolves with the first failure once all are done (`false`,
    /// Python's behaviour).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let ran = Arc::new(AtomicUsize::new(0));
    /// let count = ran.clone();
    /// let work = corepool::Map::new(move |x: u32| { count.fetch_add(1, Ordering::SeqCst); 10 / x }, [0, 1, 2])
    ///     .chunksize(1)
    ///     .fail_fast(false);
    /// assert_eq!(pool.run(work).unwrap_err().index(), Some(0));
    /// assert_eq!(ran.load(Ordering::SeqCst), 3); // every item ran
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn fail_fast(mut self, fail_fast: bool) -> Self {
        self.fail_fast = fail_fast;
        self
    }

    /// Python's `callback`: runs once with the whole result list, before
    /// the result is observable, on the thread that resolves the map. The
    /// submission is then detached (its result may be dropped).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let work = corepool::Map::new(|x: u8| x + 1, [1, 2, 3])
    ///     .callback(move |v: &Vec<u8>| tx.send(v.clone()).unwrap());
    /// pool.spawn(work).detach();
    /// assert_eq!(rx.recv()?, [2, 3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn callback(mut self, f: impl FnOnce(&Vec<T>) + Send + 'static) -> Self {
        self.callbacks.on_success = Some(Box::new(f));
        self
    }

    /// Python's `error_callback`: runs once with the map's error. Detaches
    /// the submission, as [`callback`](Map::callback).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use corepool::TaskError;
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let (tx, rx) = mpsc::channel();
    /// let work = corepool::Map::new(|x: u8| 10 / x, [1, 0])
    ///     .error_callback(move |e: &TaskError| tx.send(e.index()).unwrap());
    /// pool.spawn(work).detach();
    /// assert_eq!(rx.recv()?, Some(1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn error_callback(mut self, f: impl FnOnce(&E) + Send + 'static) -> Self {
        self.callbacks.on_error = Some(Box::new(f));
        self
    }

    /// A deadline for the whole map: chunks not started by `at` never run,
    /// and running ones see [`is_cancelled`](crate::is_cancelled) from then
    /// on; the map resolves as cancelled with
    /// [`DeadlineExpired`](crate::Cancellation::DeadlineExpired) if any
    /// chunk missed it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use corepool::{Cancellation, Map};
    ///
    /// let pool = corepool::Pool::new(2)?;
    /// let late = Map::new(|x: u32| x, 0..10).deadline(Instant::now());
    /// let err = pool.run(late).unwrap_err();
    /// assert_eq!(err.cancellation(), Some(Cancellation::DeadlineExpired));
    /// let soon = Instant::now() + Duration::from_secs(60);
    /// assert_eq!(pool.run(Map::new(|x: u32| x, 0..3).deadline(soon))?, [0, 1, 2]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn deadline(mut self, at: Instant) -> Self {
        self.deadline = Some(at);
        self
    }
}

impl<F, I, T, E> fmt::Debug for Map<F, I, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Map")
            .field("f", &"<closure>")
            .field("chunksize", &self.chunksize)
            .field("fail_fast", &self.fail_fast)
            .field("callbacks", &self.callbacks)
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl<F, I, T, E> Map<F, I, T, E>
where
    I: IntoIterator,
    I::Item: Send + 'static,
    T: Send + 'static,
    E: Outcome,
{
    fn spec(self, door: &Door<'_>) -> MapSpec<F, I::IntoIter, T> {
        MapSpec {
            f: self.f,
            items: self.items.into_iter(),
            chunksize: self.chunksize,
            fail_fast: self.fail_fast,
            callbacks: self.callbacks.erase(),
            stateful: door.stateful,
            route: Route {
                lane: door.lane.cloned(),
                deadline: self.deadline,
            },
        }
    }

    /// Whether `offer` must refuse the map now, before taking its input.
    fn refused(&self, door: &Door<'_>) -> Option<crate::registry::Refused> {
        let registry = door.registry;
        if registry.is_closed() {
            Some(crate::registry::Refused::Closed)
        } else if registry.places.is_full() {
            Some(crate::registry::Refused::Full)
        } else {
            None
        }
    }

    /// Submits now (see `Start::start`); the Python names call this
    /// directly, so that their input need not be `Send + 'static`.
    pub(crate) fn start_in<Ctx: 'static>(
        self,
        door: Door<'_>,
    ) -> Result<AsyncResult<Vec<T>, E>, SubmitError<Self>>
    where
        F: CallEach<Ctx, I::Item, T, E>,
    {
        if door.mode == Mode::Offer {
            if let Some(why) = self.refused(&door) {
                // Counted as one refusal, as a refused closure is.
                door.registry.count_rejected(door.lane);
                return Err(why.hand_back(self));
            }
        }
        let registry = door.registry;
        let (mut chunker, result) = Chunker::<_, F, T, Ctx, E>::new(registry, self.spec(&door));
        // Admitted: chunks that no longer fit (others took the room
        // meanwhile) are shed, and the map resolves as `QueueFull`; but a
        // worker that will block on this map runs them itself instead, and
        // a permit admits the map whole (its first job on the permit's
        // place, the others beyond the capacity).
        let mut first = true;
        while let Some(job) = chunker.next_job() {
            match door.mode {
                Mode::Here { index, generation } => {
                    registry.submit_or_run_here(job, index, generation)
                }
                Mode::Permit => registry.push_placed(job, !first),
                // The first chunk is admitted as any job; the others only
                // need room (the queue's wait is then the map's own).
                Mode::Shed | Mode::Offer if first => registry.submit(job),
                Mode::Shed | Mode::Offer => registry.submit_more(job),
            }
            first = false;
        }
        if first && door.mode == Mode::Permit {
            // No job took the permit's place (an empty map).
            registry.unreserve();
        }
        chunker.seal();
        Ok(result)
    }

    fn start_when_room_in<Ctx: 'static>(self, door: Door<'_>) -> Admitting<Self, Vec<T>, E>
    where
        F: CallEach<Ctx, I::Item, T, E>,
        I: Send + 'static,
    {
        let registry = door.registry.clone();
        if registry.is_closed() {
            registry.count_rejected(door.lane);
            return Box::pin(std::future::ready(Err(SubmitError::Closed(self))));
        }
        // The input is consumed at the call, as for every map; the jobs
        // then wait for room one by one.
        let (mut chunker, result) = Chunker::<_, F, T, Ctx, E>::new(&registry, self.spec(&door));
        let jobs: Vec<Job> = std::iter::from_fn(|| chunker.next_job()).collect();
        chunker.seal();
        Box::pin(async move {
            for job in jobs {
                if registry.push_when_room(job.clone()).await.is_err() {
                    job.reject(&registry.places, Cancellation::PoolClosed);
                }
            }
            Ok(result)
        })
    }
}

impl<F, I, T, E> Start<Stateless> for Map<F, I, T, E>
where
    F: CallEach<Stateless, I::Item, T, E>,
    I: IntoIterator + Send + 'static,
    I::Item: Send + 'static,
    T: Send + 'static,
    E: Outcome,
{
    type Output = Vec<T>;
    type Error = E;

    fn start(self, door: Door<'_>) -> Result<AsyncResult<Vec<T>, E>, SubmitError<Self>> {
        self.start_in::<Stateless>(door)
    }

    fn start_when_room(self, door: Door<'_>) -> Admitting<Self, Vec<T>, E> {
        self.start_when_room_in::<Stateless>(door)
    }
}

impl<S: 'static, F, I, T, E> Start<State<S>> for Map<F, I, T, E>
where
    F: CallEach<State<S>, I::Item, T, E>,
    I: IntoIterator + Send + 'static,
    I::Item: Send + 'static,
    T: Send + 'static,
    E: Outcome,
{
    type Output = Vec<T>;
    type Error = E;

    fn start(self, door: Door<'_>) -> Result<AsyncResult<Vec<T>, E>, SubmitError<Self>> {
        self.start_in::<State<S>>(door)
    }

    fn start_when_room(self, door: Door<'_>) -> Admitting<Self, Vec<T>, E> {
        self.start_when_room_in::<State<S>>(door)
    }
}
