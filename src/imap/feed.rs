//! Pulls the input of an `imap` (an iterator or a stream) lazily, one chunk
//! at a time, and submits each chunk as one job.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use futures::Stream;

use super::Target;
use super::chunk::{Budget, ChunkFuture, prepare_chunk};
use crate::error::{Cancellation, TaskError, UserResult};
use crate::job::{Job, Labels, Route};
use crate::registry::{Owner, Refused};
use crate::unwind;

/// Items pre-reserved per chunk: a huge `chunksize` over a short input must
/// not reserve what the input will never fill; the batch grows as items
/// arrive.
const RESERVE: usize = 1 << 10;

/// The input side of an `imap`, with its input type and function erased.
pub(crate) trait Feed<T>: Send {
    /// Pulls up to `chunksize` items and submits them. A chunk is submitted
    /// early when the input ends or is not ready, so a slow stream is not
    /// held back waiting to fill a chunk. `Ready(None)`: the input is over.
    /// `Ready(Some(Err))`: the input panicked or the pool is closed; the
    /// stream must end after what is in flight.
    ///
    /// `budget`: how long the chunk's job may run before it hands the rest
    /// of its items to a new job (adaptive chunking); `None`: no limit.
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        chunksize: usize,
        budget: Option<Budget>,
    ) -> Poll<Option<Result<ChunkFuture<T>, TaskError>>>;

    /// Bounds on the number of items not yet pulled.
    fn size_hint(&self) -> (usize, Option<usize>);

    fn pool_id(&self) -> u64;
}

pub(crate) struct Feeder<S: Stream, F, T> {
    /// `None` once the input has ended or panicked: it is dropped then.
    input: Option<Pin<Box<S>>>,
    f: Arc<F>,
    pool: Arc<Owner>,
    /// The stream's submission id, shared by its chunks' spans and errors.
    id: u64,
    /// The chunks borrow their worker's state (`StatefulPool`).
    stateful: bool,
    route: Route,
    next_chunk: usize,
    next_index: usize,
    batch: Vec<Item<S>>,
    failure: Option<TaskError>,
    /// A chunk waiting for room in a bounded queue, its job and its future.
    waiting: Option<(PushWhenRoom, Job, ChunkFuture<T>)>,
}

/// Pushing a job once the queue has room.
type PushWhenRoom = Pin<Box<dyn Future<Output = Result<(), Refused>> + Send>>;

type Item<S> = <S as Stream>::Item;

impl<S: Stream, F, T> Feeder<S, F, T> {
    pub(crate) fn new(pool: Arc<Owner>, f: F, input: S, target: Target) -> Self {
        Feeder {
            input: Some(Box::pin(input)),
            f: Arc::new(f),
            id: pool.registry.next_job_id(),
            stateful: target.stateful,
            route: Route {
                lane: target.lane,
                deadline: None,
            },
            pool,
            next_chunk: 0,
            next_index: 0,
            batch: Vec::new(),
            failure: None,
            waiting: None,
        }
    }
}

impl<S, F, T> Feeder<S, F, T>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> UserResult<T> + Send + Sync + 'static,
    T: Send + 'static,
{
    /// Submits the pulled batch as one job; in a bounded pool whose queue is
    /// full, waits for room (the stream pulls no more input meanwhile).
    fn submit(
        &mut self,
        cx: &mut Context<'_>,
        chunksize: usize,
        budget: Option<Budget>,
    ) -> Poll<Option<Result<ChunkFuture<T>, TaskError>>> {
        let items = std::mem::replace(&mut self.batch, Vec::with_capacity(chunksize.min(RESERVE)));
        let offset = self.next_index;
        let len = items.len();
        self.next_index += len;
        let labels = Labels {
            id: self.id,
            kind: "imap",
            chunk: self.next_chunk,
            stateful: self.stateful,
        };
        self.next_chunk += 1;
        let (job, result) = prepare_chunk(
            &self.pool,
            &self.f,
            (labels, &self.route),
            items,
            offset,
            budget,
        );
        let chunk = ChunkFuture::new(result, offset, len);
        let registry = &self.pool.registry;
        // A full queue is not a refusal here: the stream waits for room
        // (counted once, when it gets in or gives up).
        match registry.try_push(job.clone()) {
            Ok(()) => Poll::Ready(Some(Ok(chunk))),
            Err(Refused::Full) => {
                let push = Box::pin(registry.push_when_room(job.clone()));
                self.waiting = Some((push, job, chunk));
                self.poll_waiting(cx)
            }
            Err(Refused::Closed) => {
                // Its items resolve as cancelled, one by one.
                registry.count_rejected(self.route.lane.as_ref());
                job.reject(&registry.places, Cancellation::PoolClosed);
                Poll::Ready(Some(Ok(chunk)))
            }
        }
    }

    /// Polls a chunk waiting for room in the queue.
    fn poll_waiting(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<ChunkFuture<T>, TaskError>>> {
        let Some((push, _, _)) = self.waiting.as_mut() else {
            unreachable!("only called with a waiting chunk");
        };
        let pushed = ready!(push.as_mut().poll(cx));
        let (_, job, chunk) = self.waiting.take().expect("checked above");
        if pushed.is_err() {
            // Closed while it waited.
            job.reject(&self.pool.registry.places, Cancellation::PoolClosed);
        }
        Poll::Ready(Some(Ok(chunk)))
    }

    /// Submits what has been pulled, if anything.
    fn flush(
        &mut self,
        cx: &mut Context<'_>,
        chunksize: usize,
        budget: Option<Budget>,
    ) -> Poll<Option<Result<ChunkFuture<T>, TaskError>>> {
        if self.batch.is_empty() {
            Poll::Ready(self.failure.take().map(Err))
        } else {
            self.submit(cx, chunksize, budget)
        }
    }
}

impl<S, F, T> Feed<T> for Feeder<S, F, T>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> UserResult<T> + Send + Sync + 'static,
    T: Send + 'static,
{
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        chunksize: usize,
        budget: Option<Budget>,
    ) -> Poll<Option<Result<ChunkFuture<T>, TaskError>>> {
        if self.waiting.is_some() {
            return self.poll_waiting(cx);
        }
        if self.input.is_some() && self.pool.registry.is_closed() {
            // Stop pulling: every further chunk would fail the same way.
            self.input = None;
            self.failure = Some(TaskError::cancelled(self.id, Cancellation::PoolClosed));
        }
        let Some(input) = self.input.as_mut() else {
            return self.flush(cx, chunksize, budget);
        };
        // One unwind guard for the whole pull, not one per item.
        let batch = &mut self.batch;
        let pulled = unwind::catch(|| {
            while batch.len() < chunksize {
                match input.as_mut().poll_next(cx) {
                    Poll::Ready(Some(item)) => batch.push(item),
                    Poll::Ready(None) => return Poll::Ready(false),
                    Poll::Pending => return Poll::Pending,
                }
            }
            Poll::Ready(true)
        });
        match pulled {
            // Full, or not ready with something pulled: submit what there is.
            Ok(Poll::Ready(true)) => {}
            Ok(Poll::Pending) if self.batch.is_empty() => return Poll::Pending,
            Ok(Poll::Pending) => {}
            Ok(Poll::Ready(false)) => {
                self.input = None;
                return self.flush(cx, chunksize, budget);
            }
            Err(payload) => {
                self.input = None;
                let error = TaskError::input_panicked(self.id, payload);
                self.failure = Some(error.with_index(self.next_index + self.batch.len()));
                return self.flush(cx, chunksize, budget);
            }
        }
        self.submit(cx, chunksize, budget)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let (low, high) = self.input.as_ref().map_or((0, Some(0)), |s| s.size_hint());
        let pulled = self.batch.len();
        (
            low.saturating_add(pulled),
            high.and_then(|h| h.checked_add(pulled)),
        )
    }

    fn pool_id(&self) -> u64 {
        self.pool.registry.id
    }
}
