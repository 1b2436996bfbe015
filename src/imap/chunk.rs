//! One chunk of an `imap` as a job: its items run under one unwind guard,
//! with a time budget when the chunking adapts, and the future the window
//! waits on, which follows the continuations a chunk hands its tail to.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use std::vec;

use crate::error::{TaskError, UserResult};
use crate::job::{Job, Labels, Route};
use crate::registry::Owner;
use crate::result::AsyncResult;
use crate::unwind;
use crate::work::prepare_closure;

/// One outcome per input item, in input order.
pub(crate) type Outcomes<T> = Vec<Result<T, TaskError>>;

/// How long an adaptive chunk may run before it hands the rest of its items
/// on, and how often (in items) it looks at the clock to find out.
///
/// A look costs a clock read (~20 ns), which is more than a tiny item; the
/// window chooses `check_every` from the measured time per item (see
/// `Adaptive::budget`), so cheap items look rarely and slow ones every item.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Budget {
    pub(crate) time: Duration,
    pub(crate) check_every: u32,
}

/// What a chunk's job hands back: the outcomes of the items it ran, how long
/// they took, and, if it ran out of time first, the jobs it handed the rest
/// of its items to, in input order (each with its offset and count).
pub(crate) struct ChunkOutput<T> {
    outcomes: Outcomes<T>,
    run: Duration,
    rest: Vec<Continuation<T>>,
}

/// A job running the tail of a chunk: its result, first index and count.
type Continuation<T> = (AsyncResult<ChunkOutput<T>>, usize, usize);

/// `items` (input indices from `offset`) as one job, not yet submitted.
pub(super) fn prepare_chunk<I, T, F>(
    pool: &Arc<Owner>,
    f: &Arc<F>,
    (labels, route): (Labels, &Route),
    items: Vec<I>,
    offset: usize,
    budget: Option<Budget>,
) -> (Job, AsyncResult<ChunkOutput<T>>)
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> UserResult<T> + Send + Sync + 'static,
{
    let (job_pool, job_f, job_route) = (pool.clone(), f.clone(), route.clone());
    prepare_closure(labels, route.clone(), pool.registry.id, move || {
        run_chunk(
            &job_pool,
            &job_f,
            (labels, &job_route),
            items,
            offset,
            budget,
        )
    })
}

/// Runs one chunk on a worker. A panicking item yields its own error and
/// the chunk goes on with the next item (`unwind::push_caught` re-arms the
/// guard after a panic), so one failing item does not take its neighbours
/// down. With a `budget`, the chunk stops once it has run that long and
/// submits the rest of its items as a new job, so a chunk sized for cheap
/// items cannot hold a worker for long when the items turn expensive.
fn run_chunk<I, T, F>(
    pool: &Arc<Owner>,
    f: &Arc<F>,
    (labels, route): (Labels, &Route),
    items: Vec<I>,
    offset: usize,
    budget: Option<Budget>,
) -> ChunkOutput<T>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> UserResult<T> + Send + Sync + 'static,
{
    let started = Instant::now();
    let id = labels.id;
    let mut items = items.into_iter();
    let mut out = Vec::with_capacity(items.len());
    // The instant to hand on at, and the items to run between two looks.
    let mut deadline = budget.and_then(|b| Some((started.checked_add(b.time)?, b.check_every)));
    let rest = loop {
        let n = deadline.map_or(items.len(), |(_, every)| every.max(1) as usize);
        unwind::push_caught(
            &mut out,
            &mut items,
            n,
            |item, at| match f(item) {
                Ok(value) => Ok(value),
                // A user error (not produced by `imap`'s own functions, which
                // cannot fail): yielded at its place.
                Err(user) => Err(TaskError::user(id, user).with_index(offset + at)),
            },
            |payload, at| Err(TaskError::panicked(id, payload).with_index(offset + at)),
        );
        if items.len() == 0 {
            break Vec::new();
        }
        match deadline {
            Some((at, _)) if Instant::now() >= at => {} // out of time
            _ => continue,
        }
        if pool.registry.is_closed() {
            // The pool drains: this chunk was accepted, so its items all run,
            // here.
            deadline = None;
            continue;
        }
        // Out of time: hand the rest on, in two halves so that two workers
        // can share it (as rayon splits its work), at the back of the queue.
        let mut first: Vec<I> = items.collect();
        let second = first.split_off(first.len().div_ceil(2));
        let mut rest_offset = offset + out.len();
        let mut handed = Vec::new();
        for part in [first, second] {
            if part.is_empty() {
                continue;
            }
            let len = part.len();
            let (job_pool, job_f, job_route) = (pool.clone(), f.clone(), route.clone());
            let part_offset = rest_offset;
            let (job, result) =
                prepare_closure(labels, route.clone(), pool.registry.id, move || {
                    run_chunk(
                        &job_pool,
                        &job_f,
                        (labels, &job_route),
                        part,
                        part_offset,
                        budget,
                    )
                });
            let registry = &pool.registry;
            if registry.try_push(job.clone()).is_err() {
                // Closed just now, or the queue is full: the chunk was
                // accepted, so its tail is not shed; run it here and now (if
                // closed, it sees that and does not hand on again). Counted
                // as submitted, never as refused.
                let (index, generation) = crate::worker::current_of(registry.id)
                    .map_or((0, 0), |own| (own.index, own.generation));
                registry.run_here(job, index, generation);
            }
            handed.push((result, part_offset, len));
            rest_offset += len;
        }
        break handed;
    };
    let run = started.elapsed();
    ChunkOutput {
        outcomes: out,
        run,
        rest,
    }
}

/// A submitted chunk. Always yields exactly one outcome per item (a chunk
/// or a continuation that never ran, after terminate or close, yields its
/// error for each of its items), and how long the items that ran took.
/// Dropping it cancels the chunk if it has not started.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub(crate) struct ChunkFuture<T> {
    /// The jobs still to wait for, in input order: the chunk's own, then
    /// the continuations it handed its tail to.
    pending: VecDeque<Continuation<T>>,
    /// The chunk's whole length.
    total: usize,
    done: Outcomes<T>,
    run: Duration,
}

impl<T> ChunkFuture<T> {
    pub(super) fn new(result: AsyncResult<ChunkOutput<T>>, offset: usize, len: usize) -> Self {
        ChunkFuture {
            pending: VecDeque::from([(result, offset, len)]),
            total: len,
            done: Vec::new(),
            run: Duration::ZERO,
        }
    }

    /// The chunk's whole length, continuations included.
    pub(crate) fn total_len(&self) -> usize {
        self.total
    }
}

// Nothing is pinned structurally: the future moves freely whatever `T` is.
impl<T> Unpin for ChunkFuture<T> {}

impl<T> Future for ChunkFuture<T> {
    /// The outcomes in input order, and the time the items took to run.
    type Output = (Outcomes<T>, Duration);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        while let Some((result, offset, len)) = this.pending.front_mut() {
            let outcome = ready!(Pin::new(result).poll(cx));
            let (offset, len) = (*offset, *len);
            this.pending.pop_front();
            match outcome {
                Ok(ChunkOutput {
                    outcomes,
                    run,
                    rest,
                }) => {
                    this.run += run;
                    if this.done.is_empty() {
                        this.done = outcomes;
                    } else {
                        this.done.extend(outcomes);
                    }
                    // Its continuations come before the later ones.
                    for continuation in rest.into_iter().rev() {
                        this.pending.push_front(continuation);
                    }
                }
                Err(error) => {
                    this.done
                        .extend((offset..offset + len).map(|i| Err(error.for_item(i))));
                }
            }
        }
        Poll::Ready((std::mem::take(&mut this.done), this.run))
    }
}

/// The consumer's side of a finished chunk.
pub(crate) type Drain<T> = vec::IntoIter<Result<T, TaskError>>;
