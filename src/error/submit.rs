//! [`SubmitError`]: a submission refused, with the work handed back.

use std::fmt;

// ===== impl SubmitError =====

/// A submission refused by [`Pool::offer`](crate::Pool::offer) or
/// [`Pool::submit`](crate::Pool::submit), with the work (the closure, the
/// [`Apply`](crate::Apply) or the [`Map`](crate::Map)) handed back unrun
/// (async-channel's `TrySendError`): the queue was full, or the pool is
/// closed.
///
/// `Debug` does not need the work to be `Debug`.
///
/// # Examples
///
/// ```
/// use corepool::SubmitError;
///
/// let pool = corepool::Pool::new(1)?;
/// pool.close();
/// match pool.offer(|| 5) {
///     Err(SubmitError::Closed(f)) => assert_eq!(f(), 5), // nothing lost
///     other => panic!("{other:?}"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub enum SubmitError<F> {
    /// The queue was full: shed it, retry later, or `submit(..).await` to
    /// wait for room.
    Full(F),
    /// The pool is closed: it takes no new work.
    Closed(F),
}

impl<F> SubmitError<F> {
    /// The same refusal with the work mapped (a closure unwrapped from the
    /// `Apply` it was submitted as).
    pub(crate) fn map<G>(self, f: impl FnOnce(F) -> G) -> SubmitError<G> {
        match self {
            SubmitError::Full(w) => SubmitError::Full(f(w)),
            SubmitError::Closed(w) => SubmitError::Closed(f(w)),
        }
    }

    /// The work, handed back unrun.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// let f = pool.offer(|| "unrun").unwrap_err().into_inner();
    /// assert_eq!(f(), "unrun");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> F {
        match self {
            SubmitError::Full(f) | SubmitError::Closed(f) => f,
        }
    }

    /// Whether the queue was full.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// assert!(!pool.offer(|| ()).unwrap_err().is_full());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_full(&self) -> bool {
        matches!(self, SubmitError::Full(_))
    }

    /// Whether the pool is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::new(1)?;
    /// pool.close();
    /// assert!(pool.offer(|| ()).unwrap_err().is_closed());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        matches!(self, SubmitError::Closed(_))
    }
}

impl<F> fmt::Debug for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("Full(..)"),
            SubmitError::Closed(_) => f.write_str("Closed(..)"),
        }
    }
}

impl<F> fmt::Display for SubmitError<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubmitError::Full(_) => f.write_str("the pool's queue is full"),
            SubmitError::Closed(_) => f.write_str("the pool is closed"),
        }
    }
}

impl<F> std::error::Error for SubmitError<F> {}
