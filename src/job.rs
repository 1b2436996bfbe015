//! The one job cell: every unit of work on the queue (an `apply`, a chunk of
//! a `map`, a chunk of an `imap`) is a [`Cell`] around a [`Body`], and the
//! protocol every kind shares is written here once.
//!
//! # Protocol
//!
//! A cell is shared (`Arc`) by the queue and by whoever waits for it. Its
//! body sits in a `Mutex<Option<_>>` and whoever *takes* it first owns the
//! job: a worker that popped it, a worker blocked on its result that runs
//! it inline (`blocking.rs`), `terminate` draining the queue, a submitter
//! whose push was refused, or the cell's own `Drop`. The loser finds the
//! body gone and does nothing, so a job runs or is resolved as cancelled
//! exactly once, and its outcome is always delivered:
//!
//! * **run**: in the job's span, metered (counted *before* the outcome is
//!   delivered, so the waiter's snapshot shows it), under the cancellation
//!   watch (`cancel.rs`). A job whose result nobody wants any more (its own
//!   handle dropped, its map failed, or its *parent*, the job that submitted
//!   it, no longer wanted) is not run: it resolves as cancelled.
//! * **reject** (refused, shed, terminated) and **drop** (the queue dropped
//!   it unclaimed): the body resolves as cancelled without running.
//!
//! # Queue places
//!
//! On a bounded queue a job holds one *place* from its push until it is
//! claimed, by whichever path: the `placed` flag is swapped off by the
//! claimer, which gives the place back at once. A job that a waiting worker
//! ran inline therefore stops counting against the capacity right away,
//! though its empty shell stays in the channel until a worker pops it.
//!
//! # User code and panics
//!
//! User values (closures, items, results, errors) can panic in `Drop`. Every
//! place here that drops one does it under `unwind::catch` (the bodies do the
//! same for theirs), so such a panic is logged and never unwinds through a
//! worker's loop or leaves a result unresolved.

use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use crate::cancel::{self, Wanted};
use crate::clock;
use crate::error::Cancellation;
use crate::lane::LaneCore;
use crate::metrics::{Ran, WorkerStats};
use crate::places::Places;
use crate::state;
use crate::sync::{self, AtomicBool, Mutex, Ordering};
use crate::unwind;

/// What a job is to the queue and to the threads that run it.
pub(crate) trait Task: Send + Sync + 'static {
    /// Claims the job and runs it on `worker`: `true`, or `false` if it was
    /// already claimed (or may not run inline there now). Never unwinds.
    fn run(self: Arc<Self>, worker: &Worker<'_>) -> bool;

    /// Claims the job and resolves it as cancelled for `why`: `true`, or
    /// `false` if it was already claimed.
    fn reject(&self, places: &Places, why: Cancellation) -> bool;

    /// Whether a waiting worker may run this job inline now (see
    /// [`Cell::may_run_inline`]).
    fn may_run_inline(&self) -> bool;

    /// The job's submission header.
    fn head(&self) -> &Head;

    /// Whether this is a lane's resume token rather than work (see
    /// `lane.rs`).
    fn is_lane_resume(&self) -> bool {
        false
    }
}

/// A job on the queue.
pub(crate) type Job = Arc<dyn Task>;

/// A lane as its jobs and views hold it.
pub(crate) type LaneRef = Arc<LaneCore<Job>>;

/// Where a job goes and by when: its lane (priority, parallelism cap,
/// counters) and its deadline.
#[derive(Clone, Default)]
pub(crate) struct Route {
    pub(crate) lane: Option<LaneRef>,
    pub(crate) deadline: Option<Instant>,
}

/// Work that a thread blocked on a result may run itself: the unstarted jobs
/// that result depends on (its own `apply` job, or its map's chunks), and
/// nothing else (see `blocking.rs`).
pub(crate) trait Inline: Send + Sync {
    /// Claims and runs one unstarted job of this result on `worker` (an
    /// inline one). `false` when there is none left to claim.
    fn run_one(self: Arc<Self>, worker: &Worker<'_>) -> bool;
}

/// The worker a job runs on, told to the job rather than read from the
/// worker's thread-locals.
pub(crate) struct Worker<'a> {
    /// The pool's queue places, for the claim to give its place back.
    pub(crate) places: &'a Places,
    /// The worker's counters.
    pub(crate) stats: &'a WorkerStats,
    pub(crate) index: usize,
    pub(crate) generation: u64,
    /// A worker waiting on this job runs it on its own stack.
    pub(crate) inline: bool,
    /// The pool's `max_queue_wait`: a job that waited longer never runs.
    pub(crate) max_queue_wait: Option<Duration>,
}

/// The labels of a job's `corepool.job` span.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Labels {
    pub(crate) id: u64,
    pub(crate) kind: &'static str,
    pub(crate) chunk: usize,
    /// The job borrows its worker's state (`StatefulPool`).
    pub(crate) stateful: bool,
}

/// What every job carries besides its work: its labels, its span (made at
/// submission, so a child of the submitter's span), when it was submitted,
/// the job that submitted it (cancellation reaches nested work through it)
/// and whether it holds a queue place.
pub(crate) struct Head {
    pub(crate) labels: Labels,
    span: tracing::Span,
    /// When the job entered the queue (or started in place): stamped by
    /// `Registry::enqueue` and `run_here`, so time spent waiting for room
    /// before it is not queue wait.
    /// A [`clock`] reading; 0 until stamped. (An atomic rather than a
    /// `OnceLock<Instant>`, whose one-time `set` costs a `Once` call per
    /// job.)
    submitted: std::sync::atomic::AtomicU64,
    /// Weak: a parent is kept alive by whoever runs it; a child must not
    /// keep it (a parent's outcome may hold the child's handle).
    parent: Option<Weak<dyn Wanted>>,
    placed: AtomicBool,
    pub(crate) route: Route,
}

impl Head {
    pub(crate) fn new(labels: Labels, route: Route) -> Head {
        let span = tracing::debug_span!(
            "corepool.job",
            id = labels.id,
            kind = labels.kind,
            chunk = labels.chunk,
            worker = tracing::field::Empty,
            generation = tracing::field::Empty,
            inline = tracing::field::Empty,
            queued_us = tracing::field::Empty,
            run_us = tracing::field::Empty,
        );
        Head {
            labels,
            span,
            submitted: std::sync::atomic::AtomicU64::new(0),
            parent: cancel::current().map(|parent| Arc::downgrade(&parent)),
            placed: AtomicBool::new(false),
            route,
        }
    }

    /// The job's lane, if it has one.
    pub(crate) fn lane(&self) -> Option<&LaneRef> {
        self.route.lane.as_ref()
    }

    /// Stamps the job as entering the queue now.
    pub(crate) fn stamp_submitted(&self) {
        // A job enters the queue once (`enqueue` or `run_here`).
        self.submitted
            .store(clock::now(), std::sync::atomic::Ordering::Relaxed);
    }

    /// When the job was stamped as queued (a [`clock`] reading), if it was.
    fn submitted(&self) -> Option<u64> {
        match self.submitted.load(std::sync::atomic::Ordering::Relaxed) {
            0 => None,
            ns => Some(ns),
        }
    }

    /// Marks the job as holding a queue place (before it is pushed).
    pub(crate) fn set_placed(&self) {
        self.placed.store(true, Ordering::Relaxed);
    }

    /// Gives the job's queue place back, if it holds one: exactly once,
    /// whoever claims it or hands it back.
    pub(crate) fn release_place(&self, places: &Places) {
        if self.placed.swap(false, Ordering::AcqRel) {
            places.give_back();
            if let Some(lane) = self.lane() {
                lane.claimed_one();
            }
        }
    }

    /// Why the job that submitted this one is no longer wanted, if it is
    /// not. A parent that is gone (it finished and nobody holds it) cancels
    /// nothing.
    fn parent_unwanted(&self) -> Option<Cancellation> {
        self.parent.as_ref().and_then(Weak::upgrade)?.unwanted()
    }

    /// Whether the job's deadline has passed at `now`.
    fn expired_at(&self, now: Instant) -> bool {
        self.route.deadline.is_some_and(|deadline| now >= deadline)
    }
}

/// The part of a job that differs by kind: what runs, and where its outcome
/// goes (`Out`, which lives in the cell's own allocation).
pub(crate) trait Body: Send + Sized + 'static {
    /// Where the outcome goes: the result slot of an `apply`; for a map's
    /// chunk, nothing of its own (its assembler is shared).
    type Out: Send + Sync + 'static;

    /// Whether the outcome is no longer wanted (its handle dropped, its map
    /// failed). Reads only `out`: the body is gone while it runs.
    fn abandoned(out: &Self::Out) -> bool;

    /// Whether the outcome is wanted whoever holds the handle (callbacks,
    /// `detach`): then the job does not follow its parent's cancellation.
    fn detached(out: &Self::Out) -> bool;

    /// Runs the work and delivers its outcome, calling `run.finished` with
    /// how it ended before delivering. Catches the user's panics.
    fn run(self, out: &Self::Out, run: Running<'_>);

    /// Resolves the outcome as cancelled for `why` without running; drops
    /// the work (quietly: a panicking `Drop` is caught).
    fn cancel(self, out: &Self::Out, id: u64, why: Cancellation);
}

/// Handed to a running body: its id, the watch to run the user's code under,
/// and the meter that counts how it ended.
pub(crate) struct Running<'a> {
    pub(crate) id: u64,
    wanted: Arc<dyn Wanted>,
    stats: &'a WorkerStats,
    lane: Option<&'a WorkerStats>,
    /// The queue's places, when admission reads run times.
    places: Option<&'a Places>,
    /// A [`clock`] reading.
    started: u64,
    counted: bool,
}

impl Running<'_> {
    /// Runs `f` as this job: [`is_cancelled`](crate::is_cancelled) inside
    /// reports it; returns why, if `f` saw it.
    pub(crate) fn watch<R>(&self, f: impl FnOnce() -> R) -> (R, Option<Cancellation>) {
        cancel::watch(self.wanted.clone(), f)
    }

    /// How long the job has run so far.
    pub(crate) fn elapsed(&self) -> Duration {
        Duration::from_nanos(clock::since(self.started))
    }

    /// Counts how the job ended. Call before delivering the outcome.
    pub(crate) fn finished(mut self, ran: Ran) {
        self.counted = true;
        let run = clock::since(self.started);
        self.stats.finished(ran, run);
        if let Some(lane) = self.lane {
            lane.finished(ran, run);
        }
        if let Some(places) = self.places {
            places.ran_for(run);
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if !self.counted {
            // A body that unwound before counting (a panicking `Drop` in
            // corepool's own bookkeeping path): still count the job once.
            let run = clock::since(self.started);
            self.stats.finished(Ran::Failed, run);
            if let Some(lane) = self.lane {
                lane.finished(Ran::Failed, run);
            }
        }
        self.stats.stopped();
        if let Some(lane) = self.lane {
            lane.stopped();
        }
    }
}

/// A job: the header, the body until it is claimed, and where the outcome
/// goes.
pub(crate) struct Cell<B: Body> {
    pub(crate) head: Head,
    body: Mutex<Option<B>>,
    pub(crate) out: B::Out,
}

impl<B: Body> Cell<B> {
    pub(crate) fn new(labels: Labels, route: Route, body: B, out: B::Out) -> Arc<Self> {
        Arc::new(Cell {
            head: Head::new(labels, route),
            body: Mutex::new(Some(body)),
            out,
        })
    }

    /// Takes the body: the one claim. Gives the queue place back.
    pub(crate) fn claim(&self, places: &Places) -> Option<B> {
        let body = sync::lock(&self.body).take()?;
        self.head.release_place(places);
        Some(body)
    }

    /// Takes the body back from a job that was refused before anybody else
    /// could see it (`offer`, `submit`): the work is handed back unrun.
    pub(crate) fn take_back(&self) -> Option<B> {
        sync::lock(&self.body).take()
    }

    /// Whether the job may run inline on this thread now: not a stateful
    /// job while the worker's state is lent to the job that waits.
    pub(crate) fn may_run_inline(&self) -> bool {
        !(self.head.labels.stateful && state::is_lent())
    }

    fn run_claimed(self: Arc<Self>, body: B, worker: &Worker<'_>) {
        let id = self.head.labels.id;
        let unwanted = self.unwanted();
        let running = match self.head.start(worker, self.clone(), unwanted) {
            Ok(running) => running,
            Err(why) => return body.cancel(&self.out, id, why),
        };
        let span = &self.head.span;
        if span.is_disabled() {
            return body.run(&self.out, running);
        }
        let started = running.started;
        self.head.record_start(worker, started);
        span.in_scope(|| body.run(&self.out, running));
        span.record("run_us", clock::since(started) / 1_000);
    }
}

// What running a job does besides its body, outside the generic `Cell<B>`:
// compiled once rather than once per job type.
impl Head {
    /// Starts the job on `worker`: counts it as started and reads the
    /// clock. `Err(why)` if it must not run (`unwanted`, its deadline or
    /// the pool's `max_queue_wait` passed): then it is already counted as
    /// cancelled, and the caller resolves it.
    fn start<'a>(
        &'a self,
        worker: &Worker<'a>,
        wanted: Arc<dyn Wanted>,
        unwanted: Option<Cancellation>,
    ) -> Result<Running<'a>, Cancellation> {
        let started = clock::now();
        let queued = started.saturating_sub(self.submitted().unwrap_or(started));
        let stats = worker.stats;
        stats.started(queued);
        let lane = self.lane().map(|lane| &lane.stats);
        if let Some(lane) = lane {
            lane.started(queued);
        }
        let mut running = Running {
            id: self.labels.id,
            wanted,
            stats,
            lane,
            places: Some(worker.places).filter(|p| p.wants_run_times()),
            started,
            counted: false,
        };
        // The pool's `max_queue_wait` is for work waiting to *begin*: an
        // `apply`, or a map's first chunk (its later chunks wait behind
        // its own earlier ones), and not for a job a waiting worker runs
        // inline or for an `imap`'s chunks (the stream was already taken).
        // The clock is read again only for a job with a deadline.
        let expired = self.route.deadline.is_some_and(|d| Instant::now() >= d)
            || worker.max_queue_wait.is_some_and(|max| {
                Duration::from_nanos(queued) > max && !worker.inline && labels_begin(&self.labels)
            });
        let unwanted = match unwanted {
            Some(why) => Some(why),
            None if expired => Some(Cancellation::DeadlineExpired),
            None => None,
        };
        match unwanted {
            Some(why) => {
                // Nobody wants the outcome, or too late: the work is dropped
                // unrun (not a run time admission should average).
                running.places = None;
                running.finished(Ran::Cancelled);
                Err(why)
            }
            None => Ok(running),
        }
    }

    /// Fills in the span's fields known at the start.
    fn record_start(&self, worker: &Worker<'_>, started: u64) {
        let span = &self.span;
        span.record("worker", worker.index);
        span.record("generation", worker.generation);
        span.record("inline", worker.inline);
        let queued = started.saturating_sub(self.submitted().unwrap_or(started));
        span.record("queued_us", queued / 1_000);
    }
}

/// Whether a job of these labels is work waiting to begin (see
/// `max_queue_wait`): an `apply`, or the first chunk of a map.
fn labels_begin(labels: &Labels) -> bool {
    labels.chunk == 0 && labels.kind != "imap"
}

impl<B: Body> Wanted for Cell<B> {
    /// Its own outcome is not wanted, its deadline passed, or (unless
    /// detached) the job that submitted it is not wanted: cancellation
    /// reaches nested work. The clock is read only for a job with a
    /// deadline.
    fn unwanted(&self) -> Option<Cancellation> {
        if B::abandoned(&self.out) {
            return Some(Cancellation::Abandoned);
        }
        if self.head.route.deadline.is_some() && self.head.expired_at(Instant::now()) {
            return Some(Cancellation::DeadlineExpired);
        }
        if B::detached(&self.out) {
            return None;
        }
        self.head.parent_unwanted()
    }
}

impl<B: Body> Task for Cell<B> {
    fn run(self: Arc<Self>, worker: &Worker<'_>) -> bool {
        if worker.inline && !self.may_run_inline() {
            return false;
        }
        let Some(body) = self.claim(worker.places) else {
            return false;
        };
        self.run_claimed(body, worker);
        true
    }

    fn reject(&self, places: &Places, why: Cancellation) -> bool {
        let Some(body) = self.claim(places) else {
            return false;
        };
        body.cancel(&self.out, self.head.labels.id, why);
        true
    }

    fn may_run_inline(&self) -> bool {
        Cell::may_run_inline(self)
    }

    fn head(&self) -> &Head {
        &self.head
    }
}

impl<B: Body> Inline for Cell<B> {
    fn run_one(self: Arc<Self>, worker: &Worker<'_>) -> bool {
        Task::run(self, worker)
    }
}

impl<B: Body> Drop for Cell<B> {
    fn drop(&mut self) {
        // Dropped unclaimed (a queue dropped with it): the outcome, and the
        // error callback, hear of it.
        let body = sync::lock(&self.body).take();
        if let Some(body) = body {
            let (out, id) = (&self.out, self.head.labels.id);
            unwind::quietly(|| body.cancel(out, id, Cancellation::Abandoned));
        }
    }
}
