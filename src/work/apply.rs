//! [`Apply`]: one call as a value, and the job cell body that runs it.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Instant;

use super::call::CallOnce;
use super::sealed::{Admitting, Door, Mode, Start};
use super::{State, Stateless};
use crate::callbacks::Callbacks;
use crate::error::{Cancellation, Outcome, SubmitError, TaskError, TryError};
use crate::job::{Body, Cell, Inline, Job, Labels, Route, Running, Task};
use crate::metrics::Ran;
use crate::registry::Refused;
use crate::result::{AsyncResult, Pending};
use crate::slot::Slot;
use crate::unwind;

/// One call as a value: a closure and Python's `callback` /
/// `error_callback`, for the door ([`Pool::spawn`](crate::Pool::spawn),
/// [`Pool::offer`](crate::Pool::offer), [`Pool::submit`](crate::Pool::submit),
/// [`Pool::run`](crate::Pool::run)).
///
/// `Apply::new(f)` takes a closure returning `T` and resolves to `T` or a
/// [`TaskError`]; [`Apply::fallible`] takes one returning `Result<T, E>`
/// and resolves to `T` or a [`TryError<E>`] that holds your `E`, typed. On
/// a [`StatefulPool<S>`](crate::StatefulPool) the closure takes `&mut S`.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use corepool::{Apply, Pool};
///
/// let pool = Pool::new(2)?;
/// let (tx, rx) = mpsc::channel();
/// let work = Apply::new(|| 6 * 7).callback(move |v: &i32| tx.send(*v).unwrap());
/// pool.spawn(work).detach();
/// assert_eq!(rx.recv()?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Apply<F, T, E = TaskError> {
    f: F,
    callbacks: Callbacks<T, E>,
    deadline: Option<Instant>,
}

impl<F, T> Apply<F, T> {
    /// A call of `f` (`FnOnce() -> T`, or `FnOnce(&mut S) -> T` on a
    /// stateful pool).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// assert_eq!(pool.run(corepool::Apply::new(|| "hi".len()))?, 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(f: F) -> Self {
        Apply {
            f,
            callbacks: Callbacks::default(),
            deadline: None,
        }
    }
}

impl<F, T, E> Apply<F, T, TryError<E>> {
    /// A call of a fallible `f` (`FnOnce() -> Result<T, E>`): an `Err` is
    /// delivered as [`TryError::User`], typed, no downcast.
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{Apply, TryError};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// assert_eq!(pool.run(Apply::fallible(|| "42".parse::<u32>()))?, 42);
    /// let err = pool.run(Apply::fallible(|| "x".parse::<u32>())).unwrap_err();
    /// assert!(err.task_error().unwrap().user_error().is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fallible(f: F) -> Self {
        Apply {
            f,
            callbacks: Callbacks::default(),
            deadline: None,
        }
    }
}

impl<F, T, E> Apply<F, T, E> {
    /// Python's `callback`: runs with the value on success, before the
    /// result is observable, on the thread that resolves it. The
    /// submission is then detached: its result may be dropped (fire and
    /// forget). A callback that panics replaces the outcome with an error
    /// of kind [`CallbackPanicked`](crate::TaskErrorKind::CallbackPanicked).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use corepool::{Apply, Pool};
    ///
    /// let pool = Pool::new(2)?;
    /// let results = Arc::new(Mutex::new(Vec::new()));
    /// for i in 1..=3 {
    ///     let results = results.clone();
    ///     let cb = move |v: &i32| results.lock().unwrap().push(*v);
    ///     pool.spawn(Apply::new(move || i).callback(cb)).detach();
    /// }
    /// pool.close();
    /// pool.join()?;
    /// results.lock().unwrap().sort();
    /// assert_eq!(*results.lock().unwrap(), [1, 2, 3]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn callback(mut self, f: impl FnOnce(&T) + Send + 'static) -> Self {
        self.callbacks.on_success = Some(Box::new(f));
        self
    }

    /// Python's `error_callback`: runs with the error (a panic, a
    /// cancellation, the user's `Err` for fallible work) as the result will
    /// show it. Detaches the submission, as [`callback`](Apply::callback).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use corepool::{Apply, TryError};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let work = Apply::fallible(|| Err::<u8, _>("disk full".to_string()))
    ///     .error_callback(move |e: &TryError<String>| tx.send(e.user_error().cloned()).unwrap());
    /// pool.spawn(work).detach();
    /// assert_eq!(rx.recv()?.as_deref(), Some("disk full"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn error_callback(mut self, f: impl FnOnce(&E) + Send + 'static) -> Self {
        self.callbacks.on_error = Some(Box::new(f));
        self
    }

    /// A deadline: if the call has not started by `at`, it never runs and
    /// resolves as cancelled with
    /// [`DeadlineExpired`](crate::Cancellation::DeadlineExpired); once it
    /// runs, [`is_cancelled`](crate::is_cancelled) turns `true` at `at`
    /// (a call that sees it resolves the same way). For a web request's
    /// budget: nothing is computed for a client that has given up.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use corepool::{Apply, Cancellation};
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let late = Apply::new(|| "never runs").deadline(Instant::now());
    /// let err = pool.run(late).unwrap_err();
    /// assert_eq!(err.cancellation(), Some(Cancellation::DeadlineExpired));
    /// let soon = Instant::now() + Duration::from_secs(60);
    /// assert_eq!(pool.run(Apply::new(|| 1).deadline(soon))?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn deadline(mut self, at: Instant) -> Self {
        self.deadline = Some(at);
        self
    }

    /// The closure back (when [`offer`](crate::Pool::offer) hands the work back,
    /// say); the callbacks are dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// let refused = pool.offer(corepool::Apply::new(|| 5)).unwrap_err();
    /// assert_eq!((refused.into_inner().into_inner())(), 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> F {
        self.f
    }
}

impl<F, T, E> fmt::Debug for Apply<F, T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Apply")
            .field("f", &"<closure>")
            .field("callbacks", &self.callbacks)
            .field("deadline", &self.deadline)
            .finish()
    }
}

// ===== the job =====

/// An `Apply` in its job cell; the cell's `Out` is the result slot.
pub(crate) struct ApplyBody<F, T, E, Ctx> {
    apply: Apply<F, T, E>,
    ctx: PhantomData<fn() -> Ctx>,
}

impl<F, T, E, Ctx> Body for ApplyBody<F, T, E, Ctx>
where
    F: CallOnce<Ctx, T, E>,
    T: Send + 'static,
    E: Outcome,
    Ctx: 'static,
{
    type Out = Slot<T>;

    fn abandoned(out: &Slot<T>) -> bool {
        out.is_abandoned()
    }

    fn detached(out: &Slot<T>) -> bool {
        out.is_detached()
    }

    fn run(self, out: &Slot<T>, running: Running<'_>) {
        let Apply { f, callbacks, .. } = self.apply;
        let id = running.id;
        let (caught, stopped) = running.watch(|| unwind::catch(|| f.call_once()));
        let outcome = match (caught, stopped) {
            // It saw `is_cancelled()`: cancelled, whatever it returned.
            (caught, Some(why)) => {
                unwind::drop_quietly(caught);
                Err(TaskError::cancelled(id, why))
            }
            (Ok(Ok(value)), None) => Ok(value),
            (Ok(Err(user)), None) => Err(TaskError::user(id, user)),
            (Err(payload), None) => Err(TaskError::panicked(id, payload)),
        };
        running.finished(match &outcome {
            Ok(_) => Ran::Completed,
            Err(e) if e.is_cancelled() => Ran::Cancelled,
            Err(_) => Ran::Failed,
        });
        out.complete(callbacks.run(outcome, id));
    }

    fn cancel(self, out: &Slot<T>, id: u64, why: Cancellation) {
        let Apply { f, callbacks, .. } = self.apply;
        unwind::drop_quietly(f);
        out.complete(callbacks.run(Err(TaskError::cancelled(id, why)), id));
    }
}

impl<F, T, E, Ctx> Pending<T> for Cell<ApplyBody<F, T, E, Ctx>>
where
    ApplyBody<F, T, E, Ctx>: Body<Out = Slot<T>>,
    T: Send + 'static,
{
    fn slot(&self) -> &Slot<T> {
        &self.out
    }

    fn inline(self: Arc<Self>) -> Arc<dyn Inline> {
        self
    }
}

type ApplyCell<F, T, E, Ctx> = Arc<Cell<ApplyBody<F, T, E, Ctx>>>;

/// The job cell of `apply` and its result, not yet submitted.
fn prepare<Ctx, F, T, E>(
    apply: Apply<F, T, E>,
    door: &Door<'_>,
) -> (ApplyCell<F, T, E, Ctx>, AsyncResult<T, E>)
where
    F: CallOnce<Ctx, T, E>,
    T: Send + 'static,
    E: Outcome,
    Ctx: 'static,
{
    let registry = door.registry;
    let labels = Labels {
        id: registry.next_job_id(),
        kind: "apply",
        chunk: 0,
        stateful: door.stateful,
    };
    let route = Route {
        lane: door.lane.cloned(),
        deadline: apply.deadline,
    };
    let detached = !apply.callbacks.is_empty();
    let body = ApplyBody {
        apply,
        ctx: PhantomData,
    };
    let cell = Cell::new(labels, route, body, Slot::new());
    let result = AsyncResult::new(cell.clone(), registry.id, detached);
    (cell, result)
}

/// An internal closure as one job with its result, not yet submitted (an
/// `imap` chunk, sharing its stream's labels).
pub(crate) fn prepare_closure<F, T>(
    labels: Labels,
    route: Route,
    pool: u64,
    f: F,
) -> (Job, AsyncResult<T>)
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let body: ApplyBody<F, T, TaskError, Stateless> = ApplyBody {
        apply: Apply::new(f),
        ctx: PhantomData,
    };
    let cell = Cell::new(labels, route, body, Slot::new());
    let result = AsyncResult::new(cell.clone(), pool, false);
    (cell, result)
}

/// What submitting an `Apply` gives: its result, or the `Apply` back.
type Started<F, T, E> = Result<AsyncResult<T, E>, SubmitError<Apply<F, T, E>>>;

fn start<Ctx, F, T, E>(apply: Apply<F, T, E>, door: Door<'_>) -> Started<F, T, E>
where
    F: CallOnce<Ctx, T, E>,
    T: Send + 'static,
    E: Outcome,
    Ctx: 'static,
{
    let registry = door.registry;
    if door.mode == Mode::Offer {
        // `try_reserve`, then the permit's path: a refusal (the common case
        // under overload) builds no job, so it costs no allocation.
        if let Err(why) = registry.try_reserve() {
            registry.count_rejected(door.lane);
            return Err(why.hand_back(apply));
        }
        let (cell, result) = prepare(apply, &door);
        // Refused only if closed since the reservation: the work goes back.
        let queued = registry.enqueue_reserved(cell.clone());
        return queued_or_handed_back(queued, cell, result);
    }
    let (cell, result) = prepare(apply, &door);
    match door.mode {
        // A worker about to block on this very job: run it now, unqueued
        // (it would claim it from the queue first anyway), unless its
        // state is lent to the job that waits.
        Mode::Here { index, generation } if cell.may_run_inline() => {
            registry.run_here(cell, index, generation);
            return Ok(result);
        }
        Mode::Permit => {
            registry.push_placed(cell, false);
            return Ok(result);
        }
        _ => {}
    }
    match registry.push(cell.clone()) {
        Ok(()) => Ok(result),
        Err(why) => {
            cell.reject(&registry.places, why.cancellation());
            Ok(result)
        }
    }
}

fn start_when_room<Ctx, F, T, E>(
    apply: Apply<F, T, E>,
    door: Door<'_>,
) -> Admitting<Apply<F, T, E>, T, E>
where
    F: CallOnce<Ctx, T, E>,
    T: Send + 'static,
    E: Outcome,
    Ctx: 'static,
{
    /// Takes the work back, unrun and without callbacks, if the future is
    /// dropped before the job was queued.
    struct TakeBack<B: Body>(Option<Arc<Cell<B>>>);
    impl<B: Body> Drop for TakeBack<B> {
        fn drop(&mut self) {
            if let Some(body) = self.0.take().and_then(|cell| cell.take_back()) {
                unwind::drop_quietly(body);
            }
        }
    }

    let (cell, result) = prepare(apply, &door);
    let push = door.registry.push_when_room(cell.clone());
    let mut guard = TakeBack(Some(cell));
    Box::pin(async move {
        let pushed = push.await;
        let cell = guard.0.take().expect("taken once");
        queued_or_handed_back(pushed, cell, result)
    })
}

/// The result of a job that was queued, or, refused before anybody could
/// see it, its work handed back unrun (the result dropped unresolved).
fn queued_or_handed_back<F, T, E, Ctx>(
    queued: Result<(), Refused>,
    cell: ApplyCell<F, T, E, Ctx>,
    result: AsyncResult<T, E>,
) -> Started<F, T, E>
where
    ApplyBody<F, T, E, Ctx>: Body<Out = Slot<T>>,
{
    match queued {
        Ok(()) => Ok(result),
        Err(why) => {
            let body = cell
                .take_back()
                .expect("refused before anybody could claim it");
            drop(result);
            Err(why.hand_back(body.apply))
        }
    }
}

impl<F, T, E> Start<Stateless> for Apply<F, T, E>
where
    F: CallOnce<Stateless, T, E>,
    T: Send + 'static,
    E: Outcome,
{
    type Output = T;
    type Error = E;

    fn start(self, door: Door<'_>) -> Result<AsyncResult<T, E>, SubmitError<Self>> {
        start::<Stateless, _, _, _>(self, door)
    }

    fn start_when_room(self, door: Door<'_>) -> Admitting<Self, T, E> {
        start_when_room::<Stateless, _, _, _>(self, door)
    }
}

impl<S: 'static, F, T, E> Start<State<S>> for Apply<F, T, E>
where
    F: CallOnce<State<S>, T, E>,
    T: Send + 'static,
    E: Outcome,
{
    type Output = T;
    type Error = E;

    fn start(self, door: Door<'_>) -> Result<AsyncResult<T, E>, SubmitError<Self>> {
        start::<State<S>, _, _, _>(self, door)
    }

    fn start_when_room(self, door: Door<'_>) -> Admitting<Self, T, E> {
        start_when_room::<State<S>, _, _, _>(self, door)
    }
}

/// A plain closure is work as it is: `Apply::new(f)` without callbacks.
impl<F, T> Start<Stateless> for F
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = T;
    type Error = TaskError;

    fn start(self, door: Door<'_>) -> Result<AsyncResult<T>, SubmitError<F>> {
        start::<Stateless, _, _, _>(Apply::new(self), door).map_err(|e| e.map(Apply::into_inner))
    }

    fn start_when_room(self, door: Door<'_>) -> Admitting<Self, T, TaskError> {
        let admitting = start_when_room::<Stateless, _, _, _>(Apply::new(self), door);
        Box::pin(async move { admitting.await.map_err(|e| e.map(Apply::into_inner)) })
    }
}

/// A closure of the worker's state is stateful work as it is.
impl<S: 'static, F, T> Start<State<S>> for F
where
    F: FnOnce(&mut S) -> T + Send + 'static,
    T: Send + 'static,
{
    type Output = T;
    type Error = TaskError;

    fn start(self, door: Door<'_>) -> Result<AsyncResult<T>, SubmitError<F>> {
        start::<State<S>, _, _, _>(Apply::new(self), door).map_err(|e| e.map(Apply::into_inner))
    }

    fn start_when_room(self, door: Door<'_>) -> Admitting<Self, T, TaskError> {
        let admitting = start_when_room::<State<S>, _, _, _>(Apply::new(self), door);
        Box::pin(async move { admitting.await.map_err(|e| e.map(Apply::into_inner)) })
    }
}
