//! The crate's errors, one per operation (async-channel's rule), each with a
//! private representation (tokio's `JoinError`):
//!
//! | operation | error |
//! |---|---|
//! | awaiting a task, an `imap` item, a callback's view | [`TaskError`]: panicked or cancelled |
//! | the same for fallible work (`Apply::fallible`, `Map::fallible`) | [`TryError<E>`]: your `E`, or the `TaskError` |
//! | a sync or timed wait (`apply`, `map`, `run`, `get`, `get_timeout`, `wait`, `wait_timeout`, the blocking iterator) | [`WaitError`]: the task's error, [`WouldDeadlock`], timed out (nothing lost), or already taken |
//! | `offer`, `submit` | [`SubmitError<W>`]: full or closed, the work handed back |
//! | `join`, `join_async` | [`JoinError`] |
//! | `PoolBuilder::build` | [`BuildError`] |
//!
//! Invalid arguments (a `chunksize` or `buffersize` of 0) are rejected
//! where they are set, by a panic, as the standard library does for
//! `slice::chunks(0)` and `Iterator::step_by(0)` (and as Python raises at
//! the call): they are bugs in the calling code, not conditions to handle.

mod build;
mod kind;
mod payload;
mod submit;
mod task;
mod try_error;
mod wait;

pub use build::BuildError;
pub use kind::{Cancellation, TaskErrorKind};
pub use payload::PanicPayload;
pub use submit::SubmitError;
pub use task::TaskError;
pub use try_error::TryError;
pub(crate) use try_error::{Outcome, UserError, UserResult, box_user};
pub use wait::{JoinError, WaitError, WouldDeadlock};

/// A panic payload, as [`std::panic::catch_unwind`] returns it.
pub(crate) use crate::unwind::{Payload, payload_message};
