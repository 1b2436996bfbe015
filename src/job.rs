//! A unit of work on the queue (one `apply`, or one chunk of a `map` or an
//! `imap`) and the labels of its tracing span.
//!
//! A job is shared (`Arc`) between the queue and the handle waiting for its
//! result, and whoever *claims* it first runs it: normally a worker that
//! pops it, but a worker blocked on that very result may claim it out of the
//! queue and run it itself (see `blocking.rs`). The loser of the race finds
//! the job empty and does nothing.

use std::sync::Arc;
use std::time::Instant;

use crate::error::Cancellation;
use crate::metrics::{self, Ran};

/// What a job does. Each method acts only if the job has not been claimed
/// yet, so a job runs or is rejected exactly once, whoever gets to it.
/// Dropping the last reference to a job that was never claimed must resolve
/// its result as cancelled (the jobs hold a `Completer`, which does that).
pub(crate) trait Task: Send + Sync + 'static {
    /// Claims the job and runs it on `worker`, returning `true`, or returns
    /// `false` if it was already claimed. `inline`: the worker runs it while
    /// waiting for it, rather than having popped it off the queue. Never
    /// unwinds: user panics are caught inside.
    fn run(&self, worker: usize, inline: bool) -> bool;

    /// Claims the job and resolves its result as cancelled, for the reason
    /// `why`, without running it; a no-op if it was already claimed.
    fn reject(&self, why: Cancellation);

    /// Whether a waiting worker may run this job inline now (see
    /// [`Labels::may_run_inline`]).
    fn may_run_inline(&self) -> bool;
}

/// A job on the queue.
pub(crate) type Job = Arc<dyn Task>;

/// Work that a thread blocked on a result may run itself: the unstarted jobs
/// that result depends on (its own `apply` job, or its map's chunks), and
/// nothing else.
pub(crate) trait Inline: Send + Sync {
    /// Claims and runs one unstarted job of this result on `worker`.
    /// `false` when there is none left to claim.
    fn run_one(&self, worker: usize) -> bool;
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

/// A job's `corepool.job` span, and when the job was submitted.
#[derive(Debug)]
pub(crate) struct JobSpan {
    span: tracing::Span,
    submitted: Instant,
}

/// Handed to a running job to count how it ended (before it delivers its
/// outcome, so a snapshot taken by the waiter already shows it).
pub(crate) struct Meter {
    guard: Option<metrics::JobGuard>,
    started: Instant,
}

impl Meter {
    pub(crate) fn finished(mut self, ran: Ran) {
        if let Some(guard) = self.guard.take() {
            guard.finished(ran, self.started.elapsed());
        }
    }
}

impl JobSpan {
    /// Runs `f` in the span, recording where the job runs, how long it
    /// waited in the queue (`queued_us`) and how long it ran (`run_us`),
    /// and counting it in the worker's metrics.
    pub(crate) fn run<R>(&self, worker: usize, inline: bool, f: impl FnOnce(Meter) -> R) -> R {
        let started = Instant::now();
        let queued = started - self.submitted;
        let meter = Meter {
            guard: metrics::job_started(queued),
            started,
        };
        let span = &self.span;
        if span.is_disabled() {
            return f(meter);
        }
        span.record("worker", worker);
        span.record("generation", crate::worker::generation());
        span.record("inline", inline);
        span.record("queued_us", queued.as_micros() as u64);
        let value = span.in_scope(|| f(meter));
        span.record("run_us", started.elapsed().as_micros() as u64);
        value
    }
}

impl Labels {
    /// Whether a worker waiting for this job may run it on its own stack
    /// now: not a stateful job while the worker's state is lent to the job
    /// that waits (it is left to another worker).
    pub(crate) fn may_run_inline(&self) -> bool {
        !(self.stateful && crate::state::is_lent())
    }

    /// The job's span, made now, at submission: a child of the span
    /// current here, so a request's trace contains the CPU work done for
    /// it (tokio makes a blocking task's span at the call site too).
    pub(crate) fn span(&self) -> JobSpan {
        let span = tracing::debug_span!(
            "corepool.job",
            id = self.id,
            kind = self.kind,
            chunk = self.chunk,
            worker = tracing::field::Empty,
            generation = tracing::field::Empty,
            inline = tracing::field::Empty,
            queued_us = tracing::field::Empty,
            run_us = tracing::field::Empty,
        );
        JobSpan {
            span,
            submitted: Instant::now(),
        }
    }
}
