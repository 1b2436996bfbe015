//! Cooperative cancellation: [`is_cancelled`], which a running task calls
//! between steps of its work to learn that nobody wants its result any more.
//!
//! Threads cannot be killed (Python's `terminate` kills processes), so a
//! running task stops early only if it asks. While a job runs, its worker
//! keeps, in a thread-local, what the job's result depends on (its result
//! slot, which is marked abandoned when the handle is dropped or the map
//! fails fast); `is_cancelled` reads that flag and the pool's `terminated`
//! flag: two relaxed-or-acquire loads behind two thread-local lookups. A
//! task that saw `true` resolves as cancelled (its value, if it returns
//! one, is dropped), never as a success.

use std::cell::RefCell;
use std::sync::Arc;

use crate::error::Cancellation;

/// Something whose result may stop being wanted.
pub(crate) trait Wanted: Send + Sync {
    fn is_abandoned(&self) -> bool;
}

/// The running job's watch: what it depends on, and whether it was told
/// to stop.
struct Watch {
    wanted: Arc<dyn Wanted>,
    observed: Option<Cancellation>,
}

thread_local! {
    static JOB: RefCell<Option<Watch>> = const { RefCell::new(None) };
}

/// Runs `f` as the job whose result is `wanted`; returns what `f` returned
/// and, if `f` saw [`is_cancelled`] return `true`, why. Nests (a job run
/// inline inside another has its own watch).
pub(crate) fn watch<R>(
    wanted: Arc<dyn Wanted>,
    f: impl FnOnce() -> R,
) -> (R, Option<Cancellation>) {
    struct Restore(Option<Option<Watch>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(outer) = self.0.take() {
                JOB.with(|job| *job.borrow_mut() = outer);
            }
        }
    }
    let outer = JOB.with(|job| {
        job.borrow_mut().replace(Watch {
            wanted,
            observed: None,
        })
    });
    let mut restore = Restore(Some(outer));
    let value = f();
    let ours = JOB.with(|job| {
        std::mem::replace(&mut *job.borrow_mut(), restore.0.take().expect("set above"))
    });
    (value, ours.and_then(|w| w.observed))
}

/// Whether the task running on this thread should stop: its result was
/// dropped (not detached), the map or `imap` it belongs to failed fast or
/// was dropped, or the pool was terminated. `false` outside a pool's task.
///
/// Call it between steps of a long loop and return early when it says so;
/// the task then resolves as cancelled. Checking costs a few nanoseconds.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use std::time::Duration;
///
/// let pool = corepool::Pool::new(1)?;
/// let (started, has_started) = mpsc::channel();
/// let (stopped, has_stopped) = mpsc::channel();
/// let search = pool.apply_async(move || {
///     started.send(()).unwrap();
///     let mut steps = 0_u64;
///     // A long computation, checked between steps.
///     while !corepool::is_cancelled() {
///         steps += 1;
///         std::thread::sleep(Duration::from_micros(100));
///     }
///     stopped.send(steps).unwrap();
///     steps
/// });
/// has_started.recv()?;
/// drop(search); // nobody wants it any more (a client hung up, say)
/// let steps = has_stopped.recv()?; // the task noticed and stopped
/// # let _ = steps;
/// assert!(!corepool::is_cancelled(), "false outside a task");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn is_cancelled() -> bool {
    JOB.with(|job| {
        let mut job = job.borrow_mut();
        let Some(watch) = job.as_mut() else {
            return false;
        };
        let why = if crate::worker::current_pool_terminated() {
            Cancellation::Terminated
        } else if watch.wanted.is_abandoned() {
            Cancellation::Abandoned
        } else {
            return false;
        };
        watch.observed = Some(why);
        true
    })
}
