//! How the sync forms (`apply`, `map`, `get`, the blocking `imap` iterator,
//! `join`) wait, wherever they are called from:
//!
//! * On a plain thread: park until woken.
//! * Inside a multi-thread tokio runtime: the same, inside
//!   `tokio::task::block_in_place`, so the runtime moves its other tasks to
//!   another thread instead of starving them (and does not panic).
//! * Inside a `current_thread` tokio runtime: refuse with
//!   [`ErrorKind::WouldDeadlock`](crate::ErrorKind::WouldDeadlock). Blocking
//!   the runtime's only thread stalls every other task on it, including any
//!   the caller may be waiting for; `.await` the async form instead.
//! * On one of the pool's own workers: help. While the result is not ready,
//!   run the pool's queued jobs on this thread; park only when the queue is
//!   empty, which means every job the call depends on is already running on
//!   another worker. A pool whose workers all make such calls still makes
//!   progress (rayon's `install` works the same way).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::Instant;

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::error::TaskError;
use crate::worker;

/// Checks, before any work is submitted, that a sync call for `pool` may wait
/// on this thread.
pub(crate) fn ensure_can_block(pool: u64) -> Result<(), TaskError> {
    if worker::is_worker_of(pool) {
        return Ok(());
    }
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::CurrentThread => {
            Err(TaskError::would_deadlock(
                "a blocking corepool call inside a current_thread tokio runtime would stall it; \
                 `.await` the `_async` form instead",
            ))
        }
        _ => Ok(()),
    }
}

/// Polls `poll` until it is ready, waiting as the module docs describe. With
/// a `deadline`, gives up with a `TimedOut` error when it passes; `poll` keeps
/// whatever it has not returned, so nothing is lost.
pub(crate) fn block_on<R>(
    pool: u64,
    deadline: Option<Instant>,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<R>,
) -> Result<R, TaskError> {
    ensure_can_block(pool)?;
    let helping = worker::is_worker_of(pool);
    let mut wait = || park_until_ready(pool, helping, deadline, &mut poll);
    match Handle::try_current() {
        // Not a current_thread runtime (checked above): let the runtime hand
        // this thread's other tasks to its other workers while we block.
        Ok(_) if !helping => tokio::task::block_in_place(wait),
        _ => wait(),
    }
}

fn park_until_ready<R>(
    pool: u64,
    helping: bool,
    deadline: Option<Instant>,
    poll: &mut impl FnMut(&mut Context<'_>) -> Poll<R>,
) -> Result<R, TaskError> {
    let unparker = Arc::new(Unparker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
    let waker = Waker::from(unparker.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        if let Poll::Ready(value) = poll(&mut cx) {
            return Ok(value);
        }
        if helping && worker::help_one(pool) {
            continue;
        }
        // A wake that lands between the poll and here leaves `woken` set and
        // the thread's unpark token available, so neither park below misses it.
        if unparker.woken.swap(false, Ordering::Acquire) {
            continue;
        }
        match deadline {
            None => thread::park(),
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return Err(TaskError::timed_out());
                }
                thread::park_timeout(deadline - now);
            }
        }
    }
}

/// Wakes a thread blocked in [`block_on`].
struct Unparker {
    thread: Thread,
    woken: AtomicBool,
}

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        if !self.woken.swap(true, Ordering::Release) {
            self.thread.unpark();
        }
    }
}
