//! The two ends of a [`PoolBuilder`]: [`build`](PoolBuilder::build) into a
//! [`Pool`] and [`build_with_state`](PoolBuilder::build_with_state) into a
//! [`StatefulPool`]. Kept apart from `builder.rs` (the options and the
//! threads), which the pools import, so that no module imports one that
//! imports it.

use std::sync::Arc;

use crate::builder::PoolBuilder;
use crate::error::BuildError;
use crate::pool::Pool;
use crate::state::MakeState;
use crate::stateful::StatefulPool;

impl PoolBuilder {
    /// Starts the worker threads and returns the pool once every one of them
    /// has run its initializer.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] if `workers` is 0 or above
    /// [`MAX_WORKERS`](crate::MAX_WORKERS), `max_tasks_per_worker` is 0,
    /// `queue_capacity` is 0 or above
    /// [`MAX_QUEUE_CAPACITY`](crate::MAX_QUEUE_CAPACITY), a thread name
    /// contains a NUL byte or the name function panics, the OS refuses a
    /// thread (too many threads, a stack size it cannot map...), or the
    /// initializer panics. The threads already
    /// started are then shut down and joined before `build` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corepool::Pool::builder().workers(0).build().is_err());
    /// let pool = corepool::Pool::builder().workers(2).build()?;
    /// assert_eq!(pool.map(|x: u8| x + 1, [1, 2, 3])?, [2, 3, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build(self) -> Result<Pool, BuildError> {
        self.start(None).map(Pool::from_registry)
    }

    /// Builds a [`StatefulPool`]: each worker owns a value of your type,
    /// made by `state(index)` on the worker's own thread when it starts
    /// (after the initializer; again on a recycled worker), and the
    /// pool's stateful tasks get `&mut` to their worker's value.
    ///
    /// # Errors
    ///
    /// As [`build`](Self::build); a `state` function that panics fails the
    /// build like a panicking initializer
    /// ([`BuildError::is_initializer_panic`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder()
    ///     .workers(2)
    ///     .build_with_state(|_worker| Vec::<u8>::with_capacity(1 << 16))?;
    /// // Each task reuses its worker's scratch buffer instead of allocating.
    /// let lengths = pool.map(|buf: &mut Vec<u8>, n: usize| {
    ///     buf.clear();
    ///     buf.resize(n, 0);
    ///     buf.len()
    /// }, [3, 1, 4])?;
    /// assert_eq!(lengths, [3, 1, 4]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn build_with_state<S, F>(self, state: F) -> Result<StatefulPool<S>, BuildError>
    where
        S: 'static,
        F: Fn(usize) -> S + Send + Sync + 'static,
    {
        let make: MakeState = Arc::new(move |index| Box::new(state(index)));
        self.start(Some(make))
            .map(|registry| StatefulPool::new(Pool::from_registry(registry)))
    }
}
