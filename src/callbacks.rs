//! Python's `callback` / `error_callback`, as [`Apply`](crate::Apply) and
//! [`Map`](crate::Map) carry them.
//!
//! Exactly one callback runs per submission, before the result is
//! observable, on the thread that resolves it: a worker for work that ran,
//! the submitting thread for work refused at submission. The error callback
//! sees the error as the result will show it (a `TaskError`, or a
//! `TryError<E>` for fallible work). A callback that panics replaces the
//! outcome with an error of kind `CallbackPanicked`.

use std::fmt;

use crate::error::{Outcome, TaskError};
use crate::unwind;

type OnSuccess<T> = Box<dyn FnOnce(&T) + Send + 'static>;
type OnError<E> = Box<dyn FnOnce(&E) + Send + 'static>;

/// The callbacks with the error type erased, as the engine runs them: takes
/// the outcome and the submission id, returns the outcome to deliver.
pub(crate) type Deliver<T> =
    Box<dyn FnOnce(Result<T, TaskError>, u64) -> Result<T, TaskError> + Send + 'static>;

/// A submission's callbacks.
pub(crate) struct Callbacks<T, E> {
    pub(crate) on_success: Option<OnSuccess<T>>,
    pub(crate) on_error: Option<OnError<E>>,
}

impl<T, E> Callbacks<T, E> {
    pub(crate) fn is_empty(&self) -> bool {
        self.on_success.is_none() && self.on_error.is_none()
    }

    /// The callbacks with their error type erased; `None` if there are none
    /// (then nothing is allocated).
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
    pub(crate) fn run(self, outcome: Result<T, TaskError>, id: u64) -> Result<T, TaskError>
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
            Err(payload) => {
                unwind::drop_quietly(outcome);
                Err(TaskError::callback_panicked(id, payload))
            }
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
            .field("callback", &show(self.on_success.is_some()))
            .field("error_callback", &show(self.on_error.is_some()))
            .finish()
    }
}
