//! A unit of work on the queue (one `apply`, or one chunk of a `map` or an
//! `imap`) and the labels of its tracing span.
//!
//! A job is shared (`Arc`) between the queue and the handle waiting for its
//! result, and whoever *claims* it first runs it: normally a worker that
//! pops it, but a worker blocked on that very result may claim it out of the
//! queue and run it itself (see `blocking.rs`). The loser of the race finds
//! the job empty and does nothing.

use std::sync::Arc;

use crate::error::Cancellation;

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

impl Labels {
    /// Whether a worker waiting for this job may run it on its own stack
    /// now: not a stateful job while the worker's state is lent to the job
    /// that waits (it is left to another worker).
    pub(crate) fn may_run_inline(&self) -> bool {
        !(self.stateful && crate::state::is_lent())
    }

    /// The span a job runs in. `inline` tells a job run by a worker that was
    /// waiting for it from one popped off the queue.
    pub(crate) fn span(&self, worker: usize, inline: bool) -> tracing::Span {
        tracing::debug_span!(
            "corepool.job",
            id = self.id,
            kind = self.kind,
            chunk = self.chunk,
            worker,
            generation = crate::worker::generation(),
            inline
        )
    }
}
