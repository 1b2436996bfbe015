//! Python's `callback` / `error_callback`.

use std::fmt;

use crate::error::TaskError;
use crate::unwind;

type OnSuccess<T> = Box<dyn FnOnce(&T) + Send + 'static>;
type OnError = Box<dyn FnOnce(&TaskError) + Send + 'static>;

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
pub struct Callbacks<T> {
    on_success: Option<OnSuccess<T>>,
    on_error: Option<OnError>,
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
        Callbacks {
            on_success: None,
            on_error: None,
        }
    }

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
    pub fn on_error(mut self, f: impl FnOnce(&TaskError) + Send + 'static) -> Self {
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

    /// Runs the callback that matches `outcome`, and returns the outcome the
    /// waiter will see.
    pub(crate) fn run(self, outcome: Result<T, TaskError>, id: u64) -> Result<T, TaskError> {
        let caught = match (&outcome, self.on_success, self.on_error) {
            (Ok(value), Some(f), _) => unwind::catch(|| f(value)),
            (Err(error), _, Some(f)) => unwind::catch(|| f(error)),
            _ => Ok(()),
        };
        match caught {
            Ok(()) => outcome,
            Err(payload) => Err(TaskError::callback_panicked(id, payload)),
        }
    }
}

impl<T> Default for Callbacks<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for Callbacks<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let show = |set: bool| if set { "<closure>" } else { "None" };
        f.debug_struct("Callbacks")
            .field("on_success", &show(self.on_success.is_some()))
            .field("on_error", &show(self.on_error.is_some()))
            .finish()
    }
}
