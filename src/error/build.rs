//! [`BuildError`]: a pool that could not be built.

use std::fmt;
use std::io;

// ===== impl BuildError =====

/// The error of [`PoolBuilder::build`](crate::PoolBuilder::build).
///
/// Whatever the cause, no thread of the failed pool is left running.
///
/// # Examples
///
/// ```
/// let err = corepool::Pool::new(0).unwrap_err();
/// assert_eq!(err.to_string(), "a pool needs at least one worker (workers = 0)");
/// ```
#[derive(Debug)]
pub struct BuildError {
    kind: BuildErrorKind,
}

#[derive(Debug)]
enum BuildErrorKind {
    ZeroWorkers,
    ZeroMaxTasks,
    ZeroCapacity,
    /// A zero `max_queue_wait` or `queue_wait_target` (named).
    ZeroWait(&'static str),
    ZeroLaneWorkers,
    CapacityTooLarge(usize),
    TooManyWorkers(usize),
    ThreadName(usize),
    ThreadNamePanicked {
        worker: usize,
        message: Option<String>,
    },
    Spawn(io::Error),
    Initializer {
        worker: usize,
        message: Option<String>,
    },
    State {
        worker: usize,
        message: Option<String>,
    },
}

impl BuildError {
    pub(crate) fn zero_workers() -> Self {
        BuildError {
            kind: BuildErrorKind::ZeroWorkers,
        }
    }

    pub(crate) fn zero_capacity() -> Self {
        BuildError {
            kind: BuildErrorKind::ZeroCapacity,
        }
    }

    pub(crate) fn zero_wait(option: &'static str) -> Self {
        BuildError {
            kind: BuildErrorKind::ZeroWait(option),
        }
    }

    pub(crate) fn zero_lane_workers() -> Self {
        BuildError {
            kind: BuildErrorKind::ZeroLaneWorkers,
        }
    }

    pub(crate) fn capacity_too_large(capacity: usize) -> Self {
        BuildError {
            kind: BuildErrorKind::CapacityTooLarge(capacity),
        }
    }

    pub(crate) fn zero_max_tasks() -> Self {
        BuildError {
            kind: BuildErrorKind::ZeroMaxTasks,
        }
    }

    pub(crate) fn too_many_workers(workers: usize) -> Self {
        BuildError {
            kind: BuildErrorKind::TooManyWorkers(workers),
        }
    }

    pub(crate) fn thread_name(worker: usize) -> Self {
        BuildError {
            kind: BuildErrorKind::ThreadName(worker),
        }
    }

    pub(crate) fn thread_name_panicked(worker: usize, message: Option<String>) -> Self {
        BuildError {
            kind: BuildErrorKind::ThreadNamePanicked { worker, message },
        }
    }

    pub(crate) fn spawn(error: io::Error) -> Self {
        BuildError {
            kind: BuildErrorKind::Spawn(error),
        }
    }

    pub(crate) fn initializer(worker: usize, message: Option<String>) -> Self {
        BuildError {
            kind: BuildErrorKind::Initializer { worker, message },
        }
    }

    pub(crate) fn state(worker: usize, message: Option<String>) -> Self {
        BuildError {
            kind: BuildErrorKind::State { worker, message },
        }
    }

    /// Whether the build failed because the initializer (or, for a
    /// [`StatefulPool`](crate::StatefulPool), the state constructor)
    /// panicked on a worker.
    ///
    /// # Examples
    ///
    /// ```
    /// let err = corepool::Pool::builder()
    ///     .workers(2)
    ///     .initializer(|| panic!("no database"))
    ///     .build()
    ///     .unwrap_err();
    /// assert!(err.is_initializer_panic());
    /// ```
    pub fn is_initializer_panic(&self) -> bool {
        matches!(
            self.kind,
            BuildErrorKind::Initializer { .. } | BuildErrorKind::State { .. }
        )
    }
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            BuildErrorKind::ZeroWorkers => {
                f.write_str("a pool needs at least one worker (workers = 0)")
            }
            BuildErrorKind::ZeroMaxTasks => f.write_str("max_tasks_per_worker must be at least 1"),

            BuildErrorKind::ZeroCapacity => f.write_str("queue_capacity must be at least 1"),
            BuildErrorKind::ZeroWait(option) => write!(
                f,
                "{option} must be above zero (zero would refuse every job that waits at all)"
            ),
            BuildErrorKind::ZeroLaneWorkers => {
                f.write_str("a lane needs at least one worker (max_workers = 0)")
            }
            BuildErrorKind::CapacityTooLarge(n) => write!(
                f,
                "a queue_capacity of {n} is more than a queue may have (at most {})",
                crate::MAX_QUEUE_CAPACITY
            ),
            BuildErrorKind::TooManyWorkers(n) => write!(
                f,
                "{n} workers is more than a pool may have (at most {})",
                crate::MAX_WORKERS
            ),
            BuildErrorKind::ThreadName(worker) => {
                write!(f, "the name of worker {worker} contains a NUL byte")
            }
            BuildErrorKind::ThreadNamePanicked { worker, message } => {
                write!(f, "the thread name function panicked for worker {worker}")?;
                match message {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
            BuildErrorKind::Spawn(_) => f.write_str("failed to spawn a worker thread"),
            BuildErrorKind::Initializer { worker, message } => {
                write!(f, "the initializer panicked on worker {worker}")?;
                match message {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
            BuildErrorKind::State { worker, message } => {
                write!(f, "the state constructor panicked on worker {worker}")?;
                match message {
                    Some(m) => write!(f, ": {m}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.kind {
            BuildErrorKind::Spawn(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_io_error_is_the_source_not_part_of_the_message() {
        let e = BuildError::spawn(io::Error::other("no more threads"));
        assert_eq!(e.to_string(), "failed to spawn a worker thread");
        let source = std::error::Error::source(&e).unwrap();
        assert_eq!(source.to_string(), "no more threads");
    }
}
