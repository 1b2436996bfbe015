//! The sizes a pool accepts: [`MAX_WORKERS`], [`MAX_QUEUE_CAPACITY`], and
//! the check `PoolBuilder::build` makes before it starts anything.

use crate::error::BuildError;

/// The most workers a pool may have. Each is an OS thread with its own
/// stack; far beyond the number of cores they only add memory and context
/// switches, and a count this large is almost surely a mistake (a
/// `usize::MAX` meant as "unbounded", say) that is better reported at once
/// than after the OS has run out of threads.
///
/// # Examples
///
/// ```
/// let err = corepool::Pool::new(corepool::MAX_WORKERS + 1).unwrap_err();
/// assert!(err.to_string().contains("more than a pool may have"), "{err}");
/// ```
pub const MAX_WORKERS: usize = 1 << 15;

/// The largest [`queue_capacity`](crate::PoolBuilder::queue_capacity): about a
/// million jobs waiting. A bounded queue allocates its slots when the pool
/// is built, so a capacity meant as "no bound" (`usize::MAX`, say) would
/// fail or exhaust memory there; leave the queue unbounded instead, or
/// bound it by what the service can answer in time.
///
/// # Examples
///
/// ```
/// let err = corepool::Pool::builder()
///     .queue_capacity(usize::MAX)
///     .build()
///     .unwrap_err();
/// assert!(err.to_string().contains("more than a queue may have"), "{err}");
/// let pool = corepool::Pool::builder()
///     .workers(1)
///     .queue_capacity(corepool::MAX_QUEUE_CAPACITY)
///     .build()?;
/// assert_eq!(pool.apply(|| 6 * 7)?, 42);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub const MAX_QUEUE_CAPACITY: usize = 1 << 20;

/// Refuses sizes that are 0 or beyond the limits, before any thread starts.
pub(crate) fn check(
    workers: usize,
    max_tasks_per_worker: Option<usize>,
    queue_capacity: Option<usize>,
) -> Result<(), BuildError> {
    if workers == 0 {
        return Err(BuildError::zero_workers());
    }
    if workers > MAX_WORKERS {
        return Err(BuildError::too_many_workers(workers));
    }
    if max_tasks_per_worker == Some(0) {
        return Err(BuildError::zero_max_tasks());
    }
    match queue_capacity {
        Some(0) => Err(BuildError::zero_capacity()),
        Some(n) if n > MAX_QUEUE_CAPACITY => Err(BuildError::capacity_too_large(n)),
        _ => Ok(()),
    }
}
