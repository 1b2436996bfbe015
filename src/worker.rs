//! The worker thread: start-up (with the initializer), the job loop,
//! recycling after `max_tasks_per_worker` jobs, and the thread-local marker
//! that tells a blocking call made *on* a worker which pool and which worker
//! it is on (see `blocking.rs`).
//!
//! # Recycling (Python's `maxtasksperchild`)
//!
//! A worker that has run its quota of jobs starts its own replacement (same
//! index, next generation, initializer run again) and waits for it to report
//! that it started; only then does it hand the replacement its slot in the
//! registry and exit. If the replacement cannot start (the OS refuses the
//! thread, or the initializer panics), the old worker logs it and keeps
//! working, so the pool never loses capacity and queued work never strands
//! (the failure is logged as an `error` event and counted in
//! [`Metrics::recycle_failures`](crate::Metrics::recycle_failures)).
//! Every generation holds a clone of the shutdown sender, so `join` waits
//! for replacements too; the exiting thread's `JoinHandle` is kept by the
//! registry, so `join` also waits for its thread-local destructors. A
//! worker whose pool is closed with nothing queued simply exits.

use std::cell::{Cell, RefCell};
use std::io;
use std::sync::{Arc, mpsc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use async_channel::Sender;

use crate::cancel;
use crate::job::Job;
use crate::queue::Empty;
use crate::registry::Registry;
use crate::state::{self, MakeState};
use crate::unwind;

pub(crate) type Initializer = Arc<dyn Fn() + Send + Sync + 'static>;
pub(crate) type ThreadName = Arc<dyn Fn(usize) -> String + Send + Sync + 'static>;

/// How a worker's start-up went: `Err` says what panicked (the initializer
/// or the state constructor) and its message.
pub(crate) type StartReport = (usize, Result<(), (StartStep, Option<String>)>);

/// A step of a worker's start-up that runs user code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum StartStep {
    Initializer,
    State,
}

thread_local! {
    /// The registry and index of the pool this thread works for, if any.
    static CURRENT: RefCell<Option<(Arc<Registry>, usize)>> = const { RefCell::new(None) };
    /// Which thread this is for its worker index: 0 for the first, +1 for
    /// each replacement. Shown in the job spans.
    static GENERATION: Cell<u64> = const { Cell::new(0) };
    /// The id of the pool this thread works for (0: none), for the cheap
    /// "am I one of its workers?" of the blocking iterator's every item.
    static POOL: Cell<u64> = const { Cell::new(0) };
    /// Jobs this thread has run, on the queue's behalf or inline.
    static JOBS_RUN: Cell<usize> = const { Cell::new(0) };
}

/// What a worker thread needs to start, kept for the replacements.
pub(crate) struct Spawner {
    pub(crate) thread_name: Option<ThreadName>,
    pub(crate) stack_size: Option<usize>,
    pub(crate) initializer: Option<Initializer>,
    pub(crate) state: Option<MakeState>,
    pub(crate) max_tasks: Option<usize>,
}

/// Why a worker's thread name could not be made.
pub(crate) enum NameError {
    Panicked(Option<String>),
    Nul,
}

impl Spawner {
    /// The name of worker `index`: the user's function's, or the default.
    pub(crate) fn name(&self, index: usize) -> Result<String, NameError> {
        let name = match &self.thread_name {
            Some(name) => unwind::catch(|| name(index)).map_err(|payload| {
                NameError::Panicked(crate::error::payload_message(&*payload).map(str::to_owned))
            })?,
            None => format!("corepool-worker-{index}"),
        };
        if name.contains('\0') {
            return Err(NameError::Nul);
        }
        Ok(name)
    }

    /// Starts worker `index` (of generation `generation`) on a thread named
    /// `name`; it reports on `report` once its initializer has run.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        name: String,
        registry: Arc<Registry>,
        index: usize,
        generation: u64,
        report: mpsc::Sender<StartReport>,
        shutdown: Sender<()>,
    ) -> io::Result<JoinHandle<()>> {
        let mut builder = thread::Builder::new().name(name);
        if let Some(bytes) = self.stack_size {
            builder = builder.stack_size(bytes);
        }
        let spawner = self.clone();
        builder.spawn(move || spawner.work(registry, index, generation, report, shutdown))
    }

    /// The body of a worker thread.
    fn work(
        self: Arc<Self>,
        registry: Arc<Registry>,
        index: usize,
        generation: u64,
        report: mpsc::Sender<StartReport>,
        shutdown: Sender<()>,
    ) {
        // Dropped last, when this thread is done: the pool's `join` waits
        // for every clone to go.
        let _shutdown = shutdown.clone();
        let started = self.start(index);
        if let Err((step, payload)) = started {
            let message = crate::error::payload_message(&*payload).map(str::to_owned);
            tracing::error!(
                pool = registry.id,
                worker = index,
                generation,
                ?step,
                "worker start-up panicked"
            );
            let _ = report.send((index, Err((step, message))));
            return;
        }
        let _ = report.send((index, Ok(())));
        drop(report);
        tracing::debug!(
            pool = registry.id,
            worker = index,
            generation,
            "worker started"
        );
        GENERATION.with(|g| g.set(generation));
        cancel::install_terminated(registry.terminated_flag());
        CURRENT.with(|c| *c.borrow_mut() = Some((registry.clone(), index)));
        POOL.with(|p| p.set(registry.id));
        loop {
            if run(&registry, index, generation, self.max_tasks) == Ended::Drained {
                // Closed and drained (or terminated): nothing to replace. A
                // place still taken (an unspent permit, a parked lane job,
                // which the worker holding its lane runs) is no reason to
                // stay.
                break;
            }
            // The quota is reached: hand over to a fresh thread.
            if self.replace(&registry, index, generation + 1, &shutdown) {
                break;
            }
            JOBS_RUN.with(|n| n.set(0)); // could not replace: go on, try again later
        }
        CURRENT.with(|c| c.borrow_mut().take());
        POOL.with(|p| p.set(0));
        if let Some(state) = state::take() {
            if unwind::catch(move || drop(state)).is_err() {
                tracing::error!(
                    pool = registry.id,
                    worker = index,
                    "dropping a worker's state panicked"
                );
            }
        }
        tracing::debug!(
            pool = registry.id,
            worker = index,
            generation,
            "worker stopped"
        );
    }

    /// Runs the initializer, then makes the worker's state, on this thread.
    fn start(&self, index: usize) -> Result<(), (StartStep, crate::error::Payload)> {
        if let Some(init) = &self.initializer {
            unwind::catch(|| init()).map_err(|p| (StartStep::Initializer, p))?;
        }
        if let Some(make) = &self.state {
            let made = unwind::catch(|| make(index)).map_err(|p| (StartStep::State, p))?;
            state::install(made);
        }
        Ok(())
    }

    /// Starts the next generation of worker `index` and gives it this
    /// thread's place; `false` if it could not start.
    fn replace(
        self: &Arc<Self>,
        registry: &Arc<Registry>,
        index: usize,
        generation: u64,
        shutdown: &Sender<()>,
    ) -> bool {
        let (report_tx, report_rx) = mpsc::channel();
        let spawned = match self.name(index) {
            Ok(name) => self
                .spawn(
                    name,
                    registry.clone(),
                    index,
                    generation,
                    report_tx,
                    shutdown.clone(),
                )
                .map_err(|e| e.to_string()),
            Err(_) => Err("the thread name is no longer valid".to_owned()),
        };
        let started = spawned.and_then(|handle| match report_rx.recv() {
            Ok((_, Ok(()))) => Ok(handle),
            Ok((_, Err((step, message)))) => Err(format!("{step:?} panicked: {message:?}")),
            Err(_) => Err("the replacement exited before it started".to_owned()),
        });
        match started {
            Ok(handle) => {
                // The registry keeps our own handle, to join this thread
                // (about to exit) with the others.
                registry.replace_thread(index, handle);
                tracing::debug!(
                    pool = registry.id,
                    worker = index,
                    generation,
                    "worker recycled"
                );
                true
            }
            Err(why) => {
                registry
                    .stats
                    .recycle_failures
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tracing::error!(
                    pool = registry.id,
                    worker = index,
                    generation,
                    why,
                    "a worker could not be recycled; it keeps working"
                );
                false
            }
        }
    }
}

/// Why [`run`] returned.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ended {
    /// The queue is closed and drained.
    Drained,
    /// This thread has run its `max_tasks` jobs.
    Quota,
}

/// The job loop: runs until the queue is closed and drained, or until this
/// thread has run `max_tasks` jobs.
pub(crate) fn run(
    registry: &Registry,
    index: usize,
    generation: u64,
    max_tasks: Option<usize>,
) -> Ended {
    let mut idle = Idle { poll: false };
    while let Some(job) = next_job(registry, &mut idle) {
        let ran = registry.execute(job, index, generation);
        JOBS_RUN.with(|n| n.set(n.get() + ran));
        if max_tasks.is_some_and(|max| JOBS_RUN.with(Cell::get) >= max) {
            return Ended::Quota;
        }
    }
    Ended::Drained
}

/// Counts one job run by this thread (from the queue or inline).
pub(crate) fn count_job() {
    JOBS_RUN.with(|n| n.set(n.get() + 1));
}

/// The worker a blocking call is made on, when it is one of the pool's own.
pub(crate) struct OwnWorker {
    pub(crate) registry: Arc<Registry>,
    pub(crate) index: usize,
    pub(crate) generation: u64,
}

/// `yield_now` rounds a worker polls the queue for before parking, while
/// polling pays (see [`Idle`]).
const YIELD_POLLS: u32 = 64;
/// A park that ended this soon means the yield rounds would have caught the
/// job.
const POLL_WINDOW: Duration = Duration::from_micros(50);

/// Whether a worker polls the queue (yielding its core between looks)
/// before it parks: only while that pays.
///
/// Polling catches work that arrives back to back without a futex wake-up.
/// But a worker still polling when it completes a result keeps its core, so
/// the runtime thread it wakes is placed on the other, idle, core, which a
/// VM takes ~10 µs to wake: the first call after a quiet spell gets slower.
/// So a worker stops polling after a wait in which no job came within the
/// rounds (its park lasted longer than [`POLL_WINDOW`]), and starts again
/// once a park ends within it (the rounds would have caught that job).
///
/// Measured on 2 vCPUs, one round trip from a tokio task, µs: criterion's
/// mean (`cargo bench -p corepool-benches --bench pool -- P2_round_trip`,
/// two runs, `spawn_blocking` of the same runs in brackets), and the p50 of
/// `benches/cold_start.rs`, which interleaves the contenders (`HOT=0`: a
/// cold call after cold calls; `HOT=16`: a cold call right after a burst
/// of 16):
///
/// | before parking | back to back | after 1 ms idle | cold after cold | cold after a burst |
/// |---|---|---|---|---|
/// | always (16 polls, 64 yields) | 8.6, 7.3 (35.4, 25.8) | 16.2, 16.9 (10.4, 11.5) | — | 18.7 (15.4) |
/// | never (one look, park) | 21.7 (36.5) | 10.1 (11.9) | — | 10.8 (14.5) |
/// | while it pays (this) | 10.1, 9.7 (36.2, 36.1) | 9.0, 6.3 (12.1, 12.3) | 11.8 (15.1) | 18.5 (15.0) |
///
/// Fewer rounds do not pay: with 16, back to back took 23.1 µs (the next
/// call arrives after the rounds end) for the same instruction count.
///
/// The one case it loses, a cold call right after a burst, is the kernel
/// placing the woken thread by the worker's recent behaviour. The price is
/// instructions: polling costs a P2 round trip ~5 800 under callgrind
/// against ~4 700 parking at once (`spawn_blocking` ~4 600). Under loom
/// there is no polling (every poll would be a scheduling point).
struct Idle {
    poll: bool,
}

/// Waits for the next job; `None` once the queue is closed and empty.
fn next_job(registry: &Registry, idle: &mut Idle) -> Option<Job> {
    match registry.try_pop() {
        Ok(job) => return Some(job),
        Err(Empty::Forever) => return None,
        Err(Empty::Now) => {}
    }
    if idle.poll && !cfg!(corepool_loom) {
        for _ in 0..YIELD_POLLS {
            thread::yield_now();
            match registry.try_pop() {
                Ok(job) => return Some(job),
                Err(Empty::Forever) => return None,
                Err(Empty::Now) => {}
            }
        }
    }
    let parked = Instant::now();
    let job = registry.pop_blocking();
    idle.poll = parked.elapsed() < POLL_WINDOW;
    job
}

/// Whether this thread is one of `pool`'s workers.
pub(crate) fn is_worker_of(pool: u64) -> bool {
    POOL.with(Cell::get) == pool
}

/// If this thread is one of `pool`'s workers: which.
pub(crate) fn current_of(pool: u64) -> Option<OwnWorker> {
    CURRENT.with(|c| {
        let current = c.borrow();
        let (registry, index) = current.as_ref().filter(|(r, _)| r.id == pool)?;
        Some(OwnWorker {
            registry: registry.clone(),
            index: *index,
            generation: GENERATION.with(Cell::get),
        })
    })
}
