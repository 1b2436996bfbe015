//! Python's `callback` / `error_callback`.

use std::fmt;

use crate::error::{Outcome, TaskError, TryError};
use crate::unwind;

type OnSuccess<T> = Box<dyn FnOnce(&T) + Send + 'static>;
type OnError<E> = Box<dyn FnOnce(&E) + Send + 'static>;

/// Callbacks with their error type erased, as the pool runs them: given the
/// outcome and the submission's id, run the matching callback and return
/// the outcome the waiter will see.
pub(crate) type Deliver<T> =
    Box<dyn FnOnce(Result<T, TaskError>, u64) -> Result<T, TaskError> + Send + 'static>;

/// Functions run when a submission finishes, before its result can be
/// observed through `.await` or `get` (Python's ordering).
///
/// They run on the thread that resolves the submission: the worker that ran
/// the task, in the common case; the submitting thread when the submission is
/// refused at once (a closed pool, a chunksize of 0); the thread that calls
/// [`Pool::terminate`](crate::Pool::terminate) for queued work it cancels;
/// and whichever thread drops the last reference to work that was cancelled
/// without running. Keep them short and non-blocking.
///
/// Exactly one of them runs, exactly once: `on_success` with a reference to
/// the value, or `on_error` with the error. A callback that panics does not
/// break anything else: the submission's result becomes an error of kind
/// [`TaskErrorKind::CallbackPanicked`](crate::TaskErrorKind::CallbackPanicked) and the
/// worker lives on.
///
/// A submission with callbacks is observed by them, so dropping its
/// [`AsyncResult`](crate::AsyncResult) does **not** cancel it: fire and
/// forget, as in Python.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use corepool::{Callbacks, Pool};
///
/// let pool = Pool::new(2)?;
/// let (tx, rx) = mpsc::channel();
/// for i in 0..4_u64 {
///     let tx = tx.clone();
///     let cb = Callbacks::new().on_success(move |v: &u64| tx.send(*v).unwrap());
///     pool.apply_async_with(move || i * i, cb).detach(); // fire and forget
/// }
/// drop(tx);
/// let mut got: Vec<u64> = rx.iter().collect();
/// got.sort();
/// assert_eq!(got, [0, 1, 4, 9]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// For the fallible (`try_`) forms the error callback gets a
/// [`&TryError<E>`](crate::TryError): `Callbacks<T, TryError<E>>`, so your
/// error arrives typed. A `try_` task that returns `Err` runs the error
/// callback, never the success one.
pub struct Callbacks<T, E = TaskError> {
    on_success: Option<OnSuccess<T>>,
    on_error: Option<OnError<E>>,
}

impl<T> Callbacks<T> {
    /// No callbacks. Add them with [`on_success`](Callbacks::on_success) and
    /// [`on_error`](Callbacks::on_error).
    ///
    /// # Examples
    ///
    /// ```
    /// let cb = corepool::Callbacks::<u8>::new();
    /// assert!(cb.is_empty());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }
}

impl<T, E> Callbacks<T, TryError<E>> {
    /// No callbacks, for a fallible (`try_`) form: the error callback will
    /// get a [`&TryError<E>`](TryError).
    ///
    /// # Examples
    ///
    /// ```
    /// use corepool::{Callbacks, TryError};
    ///
    /// let cb = Callbacks::for_try().on_error(|e: &TryError<std::num::ParseIntError>| {
    ///     eprintln!("{e}");
    /// });
    /// # let _: Callbacks<u8, _> = cb;
    /// ```
    pub fn for_try() -> Self {
        Self::default()
    }
}

impl<T, E> Callbacks<T, E> {
    /// Sets Python's `callback`: run with the value when the submission
    /// succeeds.
    ///
    /// # Examples
    ///
    /// ```
    /// let cb = corepool::Callbacks::new().on_success(|v: &u32| println!("got {v}"));
    /// assert!(!cb.is_empty());
    /// ```
    #[must_use]
    pub fn on_success(mut self, f: impl FnOnce(&T) + Send + 'static) -> Self {
        self.on_success = Some(Box::new(f));
        self
    }

    /// Sets Python's `error_callback`: run with the error when the submission
    /// fails (a panic, a cancellation, a closed pool...).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (tx, rx) = mpsc::channel();
    /// let cb = corepool::Callbacks::new().on_error(move |e| tx.send(e.to_string()).unwrap());
    /// let mut r = pool.apply_async_with(|| -> u8 { panic!("oops") }, cb);
    /// assert!(r.get().is_err());
    /// assert!(rx.recv()?.ends_with("panicked: oops"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn on_error(mut self, f: impl FnOnce(&E) + Send + 'static) -> Self {
        self.on_error = Some(Box::new(f));
        self
    }

    /// Whether neither callback is set.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corepool::Callbacks::<()>::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.on_success.is_none() && self.on_error.is_none()
    }
}

impl<T, E> Callbacks<T, E> {
    /// The callbacks with their error type erased; `None` if there are none.
    pub(crate) fn erase(self) -> Option<Deliver<T>>
    where
        T: 'static,
        E: Outcome,
    {
        if self.is_empty() {
            return None;
        }
        Some(Box::new(move |outcome, id| self.run(outcome, id)))
    }

    /// Runs the callback that matches `outcome`, and returns the outcome the
    /// waiter will see.
    fn run(self, outcome: Result<T, TaskError>, id: u64) -> Result<T, TaskError>
    where
        E: Outcome,
    {
        let (outcome, caught) = match (outcome, self.on_success, self.on_error) {
            (Ok(value), Some(f), _) => {
                let caught = unwind::catch(|| f(&value));
                (Ok(value), caught)
            }
            (Err(error), _, Some(f)) => {
                // The callback sees the error as the result will show it.
                let error = E::from_task_error(error);
                let caught = unwind::catch(|| f(&error));
                (Err(error.into_task_error(id)), caught)
            }
            (outcome, _, _) => (outcome, Ok(())),
        };
        match caught {
            Ok(()) => outcome,
            Err(payload) => Err(TaskError::callback_panicked(id, payload)),
        }
    }
}

impl<T, E> Default for Callbacks<T, E> {
    fn default() -> Self {
        Callbacks {
            on_success: None,
            on_error: None,
        }
    }
}

impl<T, E> fmt::Debug for Callbacks<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |set: bool| if set { "<closure>" } else { "None" };
        f.debug_struct("Callbacks")
            .field("on_success", &show(self.on_success.is_some()))
            .field("on_error", &show(self.on_error.is_some()))
            .finish()
    }
}
