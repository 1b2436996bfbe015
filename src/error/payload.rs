//! [`PanicPayload`]: a borrowed view of a panic's payload.

use std::any::Any;
use std::fmt;

use crate::sync::MutexGuard;

use super::{Payload, payload_message};

/// A borrowed view of a [`TaskError`](crate::TaskError)'s panic payload, from
/// [`TaskError::panic_payload`](crate::TaskError::panic_payload): dereferences to `dyn Any + Send`, so
/// `downcast_ref` and `is` work on it. The error's payload is locked while
/// the view lives; drop it before calling `into_panic`.
///
/// # Examples
///
/// ```
/// # #[tokio::main] async fn main() {
/// let pool = corepool::Pool::new(1).unwrap();
/// let err = pool.apply_async(|| -> () { std::panic::panic_any(7_u32) }).await.unwrap_err();
/// assert!(err.panic_payload().unwrap().is::<u32>());
/// # }
/// ```
pub struct PanicPayload<'a>(pub(super) MutexGuard<'a, Option<Payload>>);

impl std::ops::Deref for PanicPayload<'_> {
    type Target = dyn Any + Send;

    fn deref(&self) -> &Self::Target {
        &**self.0.as_ref().expect("checked when the view was made")
    }
}

impl fmt::Debug for PanicPayload<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicPayload")
            .field("message", &payload_message(&**self))
            .finish_non_exhaustive()
    }
}
