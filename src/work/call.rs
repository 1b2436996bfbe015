//! The closures an [`Apply`](crate::Apply) calls, by context (plain or
//! stateful) and error type (plain or fallible): one sealed trait, four
//! impls.

use std::fmt;

use super::{State, Stateless};
use crate::error::{TaskError, TryError, UserResult, box_user};
use crate::state;

pub(crate) mod sealed {
    #![allow(unreachable_pub)]
    use crate::error::UserResult;

    /// A closure the pool calls once, in context `Ctx`, resolving to `T` or
    /// to the error `E`.
    pub trait CallOnce<Ctx, T, E>: Send + 'static {
        fn call_once(self) -> UserResult<T>;
    }
}

pub(crate) use sealed::CallOnce;

impl<F, T> CallOnce<Stateless, T, TaskError> for F
where
    F: FnOnce() -> T + Send + 'static,
{
    fn call_once(self) -> UserResult<T> {
        Ok(self())
    }
}

impl<F, T, E> CallOnce<Stateless, T, TryError<E>> for F
where
    F: FnOnce() -> Result<T, E> + Send + 'static,
    E: Send + Sync + fmt::Debug + 'static,
{
    fn call_once(self) -> UserResult<T> {
        self().map_err(box_user)
    }
}

impl<S: 'static, F, T> CallOnce<State<S>, T, TaskError> for F
where
    F: FnOnce(&mut S) -> T + Send + 'static,
{
    fn call_once(self) -> UserResult<T> {
        Ok(state::with(self))
    }
}

impl<S: 'static, F, T, E> CallOnce<State<S>, T, TryError<E>> for F
where
    F: FnOnce(&mut S) -> Result<T, E> + Send + 'static,
    E: Send + Sync + fmt::Debug + 'static,
{
    fn call_once(self) -> UserResult<T> {
        state::with(self).map_err(box_user)
    }
}
