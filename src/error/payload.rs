//! How a [`TaskError`](crate::TaskError) keeps a panic's payload, and
//! [`PanicPayload`], the borrowed view of it.

use std::any::Any;
use std::fmt;

use crate::sync::{Mutex, MutexGuard};

use super::{Payload, payload_message};

/// A panic's payload, kept so that viewing it never blocks.
pub(super) enum Stored {
    /// The payloads of `panic!` (`&'static str`, `String`): `Sync`, so any
    /// number of views may borrow them at once.
    Shared(Box<dyn Any + Send + Sync>),
    /// Any other payload (`panic_any`): behind a `Mutex` so the error is
    /// `Sync` without `unsafe`; a view holds the lock, and a second view
    /// while one is alive gets `None` rather than waiting.
    Locked(Mutex<Option<Payload>>),
    /// The copies made for the other items of a failed chunk keep only the
    /// message.
    Message(Option<Box<str>>),
}

impl Stored {
    pub(super) fn new(payload: Payload) -> Self {
        let payload = match payload.downcast::<&'static str>() {
            Ok(text) => return Stored::Shared(text),
            Err(payload) => payload,
        };
        match payload.downcast::<String>() {
            Ok(text) => Stored::Shared(text),
            Err(payload) => Stored::Locked(Mutex::new(Some(payload))),
        }
    }

    pub(super) fn message(&self) -> Option<&str> {
        match self {
            Stored::Shared(payload) => payload
                .downcast_ref::<&'static str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(String::as_str)),
            Stored::Locked(_) => None,
            Stored::Message(message) => message.as_deref(),
        }
    }
}

// ===== impl PanicPayload =====

/// A borrowed view of a panic's payload, from
/// [`TaskError::panic_payload`](crate::TaskError::panic_payload): dereferences to `dyn Any + Send`.
///
/// # Examples
///
/// ```
/// let pool = corepool::Pool::new(1)?;
/// let err = pool.apply(|| -> () { panic!("boom") }).unwrap_err();
/// let payload = err.panic_payload().unwrap();
/// assert_eq!(payload.downcast_ref::<&str>(), Some(&"boom"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct PanicPayload<'a>(pub(super) View<'a>);

pub(super) enum View<'a> {
    Shared(&'a (dyn Any + Send + Sync)),
    Locked(MutexGuard<'a, Option<Payload>>),
}

impl std::ops::Deref for PanicPayload<'_> {
    type Target = dyn Any + Send;

    fn deref(&self) -> &Self::Target {
        match &self.0 {
            View::Shared(payload) => *payload,
            View::Locked(guard) => &**guard.as_ref().expect("checked when the view was made"),
        }
    }
}

impl fmt::Debug for PanicPayload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicPayload")
            .field("message", &payload_message(&**self))
            .finish_non_exhaustive()
    }
}
