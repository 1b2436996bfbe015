//! How the sync forms (`apply`, `map`, `get`, `wait`, the blocking `imap`
//! iterator, `join`) wait, wherever they are called from.
//!
//! # Where the caller is
//!
//! * **A plain thread** (including a tokio `spawn_blocking` thread, of either
//!   runtime flavor, and the thread in a multi-thread `Runtime::block_on`):
//!   park until woken. Nothing else runs on this thread, so nothing stalls.
//! * **A worker thread of a multi-thread tokio runtime**: the same, inside
//!   `tokio::task::block_in_place`, so the runtime hands this thread's other
//!   tasks to another thread instead of starving them.
//! * **The thread of a `current_thread` tokio runtime**: refuse with
//!   [`WouldDeadlock`](crate::WouldDeadlock) before anything is submitted
//!   or taken. Blocking the runtime's only thread stalls every
//!   other task on it; `.await` the async form instead.
//! * **A `LocalSet` driven by a multi-thread runtime's `block_on`**: park.
//!   The `LocalSet`'s other tasks wait meanwhile, as for any blocking call
//!   made there; corepool's work runs on its own threads, so the call
//!   returns. (`block_in_place` would panic there.)
//! * **One of the pool's own workers**: see below.
//!
//! Telling a runtime's own threads from its `spawn_blocking` threads: tokio
//! has no public "may I block here?" query, but `tokio::task::yield_now`
//! hands its waker to the scheduler only on a thread that runs a scheduler
//! (a runtime worker, or the thread driving a `current_thread` runtime) and
//! wakes it at once everywhere else (tokio's `context::defer`). Polling it
//! once with a waker of our own tells the two apart without side effects.
//! `block_in_place` is only called where that probe found a multi-thread
//! scheduler, where it cannot panic; if a future tokio changed the probe's
//! behaviour, the fallback is parking, never a panic (and the tests in
//! `tests/runtime.rs` would say so).
//!
//! # Waiting on a worker: run only what the call waits for
//!
//! A worker that blocks on its own pool's work could deadlock the pool: with
//! every worker blocked that way, the jobs they wait for sit in the queue
//! with nobody to run them. corepool's answer is *inlining*, as .NET's task
//! inlining and Java ForkJoin's `join`: the waiting worker claims the
//! **unstarted jobs of the very result it waits for** (its own `apply` job,
//! its map's chunks, the chunks its `imap` stream waits on) out of the queue
//! and runs them on its own stack. It never runs anything else: not the head
//! of the queue, not another caller's job. A job another worker has already
//! started is making progress there, so once nothing of its own is left to
//! claim, the waiter parks.
//!
//! Why this is deadlock-free and bounded: a waiter only ever waits for work
//! that is either running on a thread that is itself making progress, or
//! unstarted and then run by the waiter; by induction on the nesting of calls
//! (a `map` inside a `map` inside a `map`), every wait ends. The stack grows
//! by one frame per level of *nesting in the program*, never with the length
//! of the queue. Locks and thread-local borrows held across the call are
//! never entered by unrelated jobs, and a job that waits on a result
//! "underneath" it on the stack cannot happen, since nothing unrelated is
//! ever underneath.
//!
//! The alternative, handing the worker's role to a compensating thread while
//! it blocks (tokio's `block_in_place`, ForkJoin's managed blocking), keeps
//! stacks flat but spawns threads under load and needs a cap, beyond which it
//! deadlocks again; inlining needs neither.
//!
//! A *timed* wait (`get_timeout`, `wait_timeout`, `next_timeout`) on a worker
//! does not inline: a job run inline cannot be interrupted, and a deadline
//! must be kept. If every worker waits with a timeout for queued work, the
//! waits time out rather than deadlock.
//!
//! # Memory orderings
//!
//! A blocked thread parks on an `Unparker`: the waker sets `woken` with a
//! `Release` swap and unparks; the waiter clears it with an `Acquire` swap
//! before parking. The outcome itself is published by the slot's mutex
//! (`slot.rs`), so `woken` carries no data: the orderings only make sure a
//! wake that lands between the waiter's poll and its park is seen (the swap
//! finds `true`, or the unpark token makes `park` return at once), so no
//! wake-up is lost. `NOTED` is thread-local and needs no ordering.
//!
//! How the waiter learns what it waits for: results that are not ready note
//! their unstarted work in a thread-local list while `block_on` polls them
//! (`note_pending`), so the same mechanism serves `get`, a map's result and
//! an `imap` stream full of chunk results.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use tokio::runtime::{Handle, RuntimeFlavor};

use crate::error::WouldDeadlock;
use crate::job::Inline;
use crate::registry::Registry;
use crate::unwind;
use crate::worker::{self, OwnWorker};

/// Unstarted work a waiting worker may run, oldest first.
type Dependencies = Vec<Arc<dyn Inline>>;

/// What `NOTED` holds while a worker waits on its own pool: the pool, and
/// the unstarted work of the results polled so far.
type Noting = Option<(u64, Dependencies)>;

thread_local! {
    static NOTED: RefCell<Noting> = const { RefCell::new(None) };
    /// The pool `NOTED` is noting for (0: none): a plain `Cell` without a
    /// destructor, so the check every async poll of a pending result makes
    /// is one load (the `RefCell` of an `Option<Vec>` costs a lazy
    /// registration check and a borrow, ~40 instructions).
    static NOTING_FOR: Cell<u64> = const { Cell::new(0) };
    /// This thread's parker, made once and reused by every wait, so that a
    /// blocking wait allocates nothing in the steady state.
    static UNPARKER: Arc<Unparker> = Arc::new(Unparker {
        thread: thread::current(),
        woken: AtomicBool::new(false),
    });
}

/// The deadline `timeout` from now; `None` (no deadline) if it is too far
/// to represent, as `std::sync::mpsc::Receiver::recv_timeout` treats it.
pub(crate) fn deadline(timeout: Duration) -> Option<Instant> {
    Instant::now().checked_add(timeout)
}

/// Where a sync call is being made, as the module docs describe.
enum Place {
    Plain,
    RuntimeWorker,
    OwnWorker(OwnWorker),
    Refuse(&'static str),
}

fn place(pool: u64) -> Place {
    if let Some(own) = worker::current_of(pool) {
        return Place::OwnWorker(own);
    }
    let Ok(handle) = Handle::try_current() else {
        return Place::Plain;
    };
    if !on_scheduler_thread() {
        return Place::Plain;
    }
    match handle.runtime_flavor() {
        RuntimeFlavor::MultiThread => Place::RuntimeWorker,
        RuntimeFlavor::CurrentThread => Place::Refuse(
            "a blocking corepool call on the thread of a current_thread tokio runtime would stall \
             it; `.await` the `_async` form instead",
        ),
        _ => Place::Refuse(
            "a blocking corepool call on a thread of this tokio runtime flavor could stall it; \
             `.await` the `_async` form instead",
        ),
    }
}

/// Whether this thread runs a tokio scheduler right now (see the module
/// docs): `yield_now` defers its waker there and wakes it at once elsewhere.
fn on_scheduler_thread() -> bool {
    struct Flag(AtomicBool);
    impl Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.store(true, Ordering::Relaxed);
        }
    }
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    let yielded = pin!(tokio::task::yield_now()).poll(&mut cx);
    yielded.is_pending() && !flag.0.load(Ordering::Relaxed)
}

/// Whether this thread is one of `pool`'s workers.
pub(crate) fn on_worker_of(pool: u64) -> bool {
    worker::is_worker_of(pool)
}

/// Checks, before any work is submitted, that a sync call for `pool` may wait
/// on this thread.
pub(crate) fn ensure_can_block(pool: u64) -> Result<(), WouldDeadlock> {
    match place(pool) {
        Place::Refuse(why) => Err(WouldDeadlock::new(why)),
        _ => Ok(()),
    }
}

/// Records, while a worker of `pool` waits in [`block_on`], unstarted work
/// of a result that was just polled and is not ready. `work` is only called
/// there (an async poll pays one thread-local read).
pub(crate) fn note_pending(pool: u64, work: impl FnOnce() -> Arc<dyn Inline>) {
    if NOTING_FOR.with(Cell::get) != pool {
        return;
    }
    NOTED.with(|noted| {
        if let Some((waiting_on, list)) = noted.borrow_mut().as_mut() {
            if *waiting_on == pool {
                let work = work();
                if !list.iter().any(|w| Arc::ptr_eq(w, &work)) {
                    list.push(work);
                }
            }
        }
    });
}

/// The unstarted work a sync consumer waits on, kept across its calls: a
/// stream polls a pending chunk result once and then only when it is woken,
/// so what one `next` noted must still be known to the next `next`.
#[derive(Default)]
pub(crate) struct Noted(Dependencies);

impl std::fmt::Debug for Noted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Noted").field("len", &self.0.len()).finish()
    }
}

/// Polls `poll` until it is ready, waiting as the module docs describe.
pub(crate) fn block_on<R>(
    pool: u64,
    poll: impl FnMut(&mut Context<'_>) -> Poll<R>,
) -> Result<R, WouldDeadlock> {
    let waited = block_on_noted(pool, None, &mut Noted::default(), poll)?;
    Ok(waited.expect("no deadline, so no timeout"))
}

/// [`block_on`] with a deadline (`None`: none): `Ok(None)` when it passes;
/// `poll` keeps whatever it has not returned, so nothing is lost.
pub(crate) fn block_on_until<R>(
    pool: u64,
    deadline: Option<Instant>,
    poll: impl FnMut(&mut Context<'_>) -> Poll<R>,
) -> Result<Option<R>, WouldDeadlock> {
    block_on_noted(pool, deadline, &mut Noted::default(), poll)
}

/// [`block_on_until`] for a consumer that waits again and again on the same
/// results (the blocking `imap` iterator): `noted` carries what it depends
/// on from one call to the next.
pub(crate) fn block_on_noted<R>(
    pool: u64,
    deadline: Option<Instant>,
    noted: &mut Noted,
    mut poll: impl FnMut(&mut Context<'_>) -> Poll<R>,
) -> Result<Option<R>, WouldDeadlock> {
    let deps = &mut noted.0;
    match place(pool) {
        Place::Refuse(why) => Err(WouldDeadlock::new(why)),
        Place::Plain => park_until_ready(None, deadline, deps, &mut poll),
        Place::RuntimeWorker => {
            tokio::task::block_in_place(|| park_until_ready(None, deadline, deps, &mut poll))
        }
        Place::OwnWorker(own) => {
            let inline = deadline.is_none().then_some(&own);
            park_until_ready(inline, deadline, deps, &mut poll)
        }
    }
}

/// Polls `poll` with this `NOTED` list installed, so the results it polls
/// can note their unstarted work into `deps`.
fn poll_noting<R>(
    pool: u64,
    deps: &mut Dependencies,
    poll: &mut impl FnMut(&mut Context<'_>) -> Poll<R>,
    cx: &mut Context<'_>,
) -> Poll<R> {
    let outer = NOTED.with(|n| n.replace(Some((pool, std::mem::take(deps)))));
    let outer_for = NOTING_FOR.with(|f| f.replace(pool));
    // Restored even if `poll` unwinds (an input iterator's panic is caught
    // further in, but be safe).
    struct Restore(Option<Noting>, u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            NOTING_FOR.with(|f| f.set(self.1));
            if let Some(outer) = self.0.take() {
                NOTED.with(|n| n.replace(outer));
            }
        }
    }
    let mut restore = Restore(Some(outer), outer_for);
    let polled = poll(cx);
    NOTING_FOR.with(|f| f.set(restore.1));
    let ours = NOTED.with(|n| n.replace(restore.0.take().expect("set above")));
    if let Some((_, list)) = ours {
        *deps = list;
    }
    polled
}

fn park_until_ready<R>(
    inline: Option<&OwnWorker>,
    deadline: Option<Instant>,
    deps: &mut Dependencies,
    poll: &mut impl FnMut(&mut Context<'_>) -> Poll<R>,
) -> Result<Option<R>, WouldDeadlock> {
    let unparker = UNPARKER.with(Arc::clone);
    // A waker made from an `Arc` clones it, without allocating.
    let waker = Waker::from(unparker.clone());
    let mut cx = Context::from_waker(&waker);
    loop {
        let polled = match inline {
            Some(own) => poll_noting(own.registry.id, deps, poll, &mut cx),
            None => poll(&mut cx),
        };
        if let Poll::Ready(value) = polled {
            return Ok(Some(value));
        }
        if let Some(own) = inline {
            // After `terminate`, queued work is cancelled, not run.
            if !own.registry.is_terminated() && run_one_dependency(deps, &own.registry, own) {
                continue;
            }
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
                    return Ok(None);
                }
                thread::park_timeout(deadline - now);
            }
        }
    }
}

/// Runs one unstarted job of the noted dependencies, oldest first (an
/// ordered `imap` waits for its head). Drops the dependencies with nothing
/// left to claim. `false` if nothing ran.
fn run_one_dependency(deps: &mut Dependencies, registry: &Registry, own: &OwnWorker) -> bool {
    let index = own.index;
    let worker = registry.worker(index, own.generation, true);
    while let Some(dep) = deps.first() {
        // Tasks catch user panics themselves; a panicking `Drop` of something
        // a job captured must not unwind into the waiting caller either (the
        // worker loop guards its jobs the same way).
        let dep = dep.clone();
        match unwind::catch(|| dep.run_one(&worker)) {
            Ok(true) => {
                worker::count_job();
                return true;
            }
            Ok(false) => {}
            Err(_) => {
                tracing::error!(worker = index, "a job run inline panicked outside its task");
                return true;
            }
        }
        deps.remove(0);
    }
    false
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
