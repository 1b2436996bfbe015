//! Cooperative cancellation: [`is_cancelled`] and [`cancellation`], which a
//! running task calls between steps of its work to learn that nobody wants
//! its result any more.
//!
//! Threads cannot be killed (Python's `terminate` kills processes), so a
//! running task stops early only if it asks. While a job runs, its worker
//! keeps, in a thread-local, the job itself as a [`Wanted`]: it reads the
//! job's own result (marked abandoned when the handle is dropped or the map
//! fails fast) and, through the job's *parent* (the job that was running
//! when it was submitted, see `job.rs`), every job above it, so dropping
//! the outer result of nested work reaches the inner jobs too. The pool's
//! `terminated` flag is installed once per worker thread. A task that saw
//! `true` resolves as cancelled (its value, if it returns one, is dropped),
//! never as a success.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::Cancellation;

/// Something whose result may stop being wanted.
pub(crate) trait Wanted: Send + Sync {
    /// Why the result is no longer wanted, if it is not.
    fn unwanted(&self) -> Option<Cancellation>;
}

/// The running job's watch: the job, and why it was told to stop, if it was.
struct Watch {
    wanted: Arc<dyn Wanted>,
    observed: Option<Cancellation>,
}

thread_local! {
    static JOB: RefCell<Option<Watch>> = const { RefCell::new(None) };
    /// The `terminated` flag of the pool this thread works for.
    static TERMINATED: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Tells this (worker) thread where its pool's `terminated` flag is.
pub(crate) fn install_terminated(flag: Arc<AtomicBool>) {
    TERMINATED.with(|t| *t.borrow_mut() = Some(flag));
}

/// The job running on this thread, as the parent of jobs it submits.
pub(crate) fn current() -> Option<Arc<dyn Wanted>> {
    JOB.with(|job| job.borrow().as_ref().map(|w| w.wanted.clone()))
}

/// Runs `f` as the job `wanted`; returns what `f` returned and, if `f` saw
/// [`is_cancelled`] return `true`, why. Nests (a job run inline inside
/// another has its own watch).
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
    let mut restore = Restore(Some(enter(wanted)));
    let value = f();
    (value, leave(restore.0.take().expect("set above")))
}

// The thread-local work of `watch`, outside the generic function (compiled
// once, not once per job type).

/// Installs the watch of `wanted`; returns the one it replaces.
fn enter(wanted: Arc<dyn Wanted>) -> Option<Watch> {
    JOB.with(|job| {
        job.borrow_mut().replace(Watch {
            wanted,
            observed: None,
        })
    })
}

/// Puts `outer` back; returns why the job that ran was told to stop, if it
/// was.
fn leave(outer: Option<Watch>) -> Option<Cancellation> {
    let ours = JOB.with(|job| std::mem::replace(&mut *job.borrow_mut(), outer));
    ours.and_then(|w| w.observed)
}

/// Whether the task running on this thread should stop: its result was
/// dropped (not detached), the map or `imap` it belongs to failed fast or
/// was dropped, the job that submitted it is itself no longer wanted, or
/// the pool was terminated. `false` outside a pool's task.
///
/// Call it between steps of a long loop and return early when it says so;
/// the task then resolves as cancelled. Checking costs a few nanoseconds
/// (a few more per level of nesting). [`cancellation`] says why.
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
    cancellation().is_some()
}

/// Why the task running on this thread should stop, or `None` if it should
/// go on (and outside a pool's task): [`Cancellation::Terminated`] after
/// [`Pool::terminate`](crate::Pool::terminate), [`Cancellation::Abandoned`]
/// when nobody wants the result any more, [`Cancellation::DeadlineExpired`]
/// once the task's deadline has passed. [`close`](crate::Pool::close)
/// never cancels running work, so it is never the reason.
///
/// # Examples
///
/// ```
/// use std::sync::mpsc;
/// use corepool::Cancellation;
///
/// let pool = corepool::Pool::new(1)?;
/// let (started, has_started) = mpsc::channel();
/// let mut task = pool.apply_async(move || {
///     started.send(()).unwrap();
///     loop {
///         if let Some(why) = corepool::cancellation() {
///             return why;
///         }
///         std::thread::yield_now();
///     }
/// });
/// has_started.recv()?;
/// pool.terminate();
/// // The task saw why, and resolves as cancelled for that reason.
/// let err = task.get().unwrap_err();
/// assert_eq!(err.cancellation(), Some(Cancellation::Terminated));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn cancellation() -> Option<Cancellation> {
    JOB.with(|job| {
        let mut job = job.borrow_mut();
        let watch = job.as_mut()?;
        let terminated = TERMINATED.with(|t| {
            t.borrow()
                .as_ref()
                .is_some_and(|flag| flag.load(Ordering::Acquire))
        });
        let why = if terminated {
            Cancellation::Terminated
        } else {
            watch.wanted.unwanted()?
        };
        watch.observed = Some(why);
        Some(why)
    })
}
