//! Pulls the input of an `imap` (an iterator or a stream) lazily, one chunk
//! at a time, and submits each chunk as one job.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::vec;

use futures::Stream;

use crate::apply::UserResult;
use crate::error::{Cancellation, TaskError};
use crate::job::Labels;
use crate::pool::Pool;
use crate::result::AsyncResult;
use crate::unwind;

/// Items pre-reserved per chunk: a huge `chunksize` over a short input must
/// not reserve what the input will never fill; the batch grows as items
/// arrive.
const RESERVE: usize = 1 << 10;

/// One outcome per input item, in input order.
pub(crate) type Outcomes<T> = Vec<Result<T, TaskError>>;

/// The input side of an `imap`, with its input type and function erased.
pub(crate) trait Feed<T>: Send {
    /// Pulls up to `chunksize` items and submits them. A chunk is submitted
    /// early when the input ends or is not ready, so a slow stream is not
    /// held back waiting to fill a chunk. `Ready(None)`: the input is over.
    /// `Ready(Some(Err))`: the input panicked or the pool is closed; the
    /// stream must end after what is in flight.
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        chunksize: usize,
    ) -> Poll<Option<Result<ChunkFuture<T>, TaskError>>>;

    /// Bounds on the number of items not yet pulled.
    fn size_hint(&self) -> (usize, Option<usize>);

    fn pool_id(&self) -> u64;
}

pub(crate) struct Feeder<S: Stream, F> {
    /// `None` once the input has ended or panicked: it is dropped then.
    input: Option<Pin<Box<S>>>,
    f: Arc<F>,
    pool: Pool,
    /// The stream's submission id, shared by its chunks' spans and errors.
    id: u64,
    /// The chunks borrow their worker's state (`StatefulPool`).
    stateful: bool,
    next_chunk: usize,
    next_index: usize,
    batch: Vec<Item<S>>,
    failure: Option<TaskError>,
}

type Item<S> = <S as Stream>::Item;

impl<S: Stream, F> Feeder<S, F> {
    pub(crate) fn new(pool: Pool, f: F, input: S, stateful: bool) -> Self {
        Feeder {
            input: Some(Box::pin(input)),
            f: Arc::new(f),
            id: pool.registry().next_job_id(),
            stateful,
            pool,
            next_chunk: 0,
            next_index: 0,
            batch: Vec::new(),
            failure: None,
        }
    }
}

impl<S, F, T> Feeder<S, F>
where
    S: Stream + Send + 'static,
    S::Item: Send + 'static,
    F: Fn(S::Item) -> UserResult<T> + Send + Sync + 'static,
    T: Send + 'static,
{
    fn submit(&mut self, chunksize: usize) -> ChunkFuture<T> {
        let items = std::mem::replace(&mut self.batch, Vec::with_capacity(chunksize.min(RESERVE)));
        let offset = self.next_index;
        let len = items.len();
        self.next_index += len;
        let (f, id) = (self.f.clone(), self.id);
        let labels = Labels {
            id,
            kind: "imap",
            chunk: self.next_chunk,
            stateful: self.stateful,
        };
        self.next_chunk += 1;
        let result =
            self.pool
                .submit_labeled(labels, move || Ok(run_chunk(&*f, id, items, offset)), None);
        ChunkFuture {
            result,
            offset,
            len,
        }
    }

    /// Submits what has been pulled, if anything.
    fn flush(&mut self, chunksize: usize) -> Poll<Option<Result<ChunkFuture<T>, TaskError>>> {
        if self.batch.is_empty() {
            Poll::Ready(self.failure.take().map(Err))
        } else {
            Poll::Ready(Some(Ok(self.submit(chunksize))))
        }
    }
}

impl<S, F, T> Feed<T> for Feeder<S, F>
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
    ) -> Poll<Option<Result<ChunkFuture<T>, TaskError>>> {
        if self.input.is_some() && self.pool.is_closed() {
            // Stop pulling: every further chunk would fail the same way.
            self.input = None;
            self.failure = Some(TaskError::cancelled(self.id, Cancellation::PoolClosed));
        }
        let Some(input) = self.input.as_mut() else {
            return self.flush(chunksize);
        };
        while self.batch.len() < chunksize {
            match unwind::catch(|| input.as_mut().poll_next(cx)) {
                Ok(Poll::Ready(Some(item))) => self.batch.push(item),
                Ok(Poll::Ready(None)) => {
                    self.input = None;
                    return self.flush(chunksize);
                }
                Ok(Poll::Pending) if self.batch.is_empty() => return Poll::Pending,
                Ok(Poll::Pending) => break,
                Err(payload) => {
                    self.input = None;
                    let error = TaskError::input_panicked(self.id, payload);
                    self.failure = Some(error.with_index(self.next_index + self.batch.len()));
                    return self.flush(chunksize);
                }
            }
        }
        Poll::Ready(Some(Ok(self.submit(chunksize))))
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
        self.pool.id()
    }
}

/// Runs one chunk on a worker. A panicking item yields its own error and
/// the chunk goes on with the next item (`unwind::map_caught` re-arms the
/// guard after a panic), so one failing item does not take its neighbours
/// down.
fn run_chunk<I, T>(
    f: &impl Fn(I) -> UserResult<T>,
    id: u64,
    items: Vec<I>,
    offset: usize,
) -> Outcomes<T> {
    let mut out = Vec::with_capacity(items.len());
    unwind::map_caught(items.into_iter(), f, |outcome| {
        let index = offset + out.len();
        out.push(match outcome {
            Ok(Ok(value)) => Ok(value),
            // A `try_imap` item that returned `Err`: yielded at its place.
            Ok(Err(user)) => Err(TaskError::user(id, user).with_index(index)),
            Err(payload) => Err(TaskError::panicked(id, payload).with_index(index)),
        });
        true
    });
    out
}

/// A submitted chunk. Always yields exactly one outcome per item: a chunk
/// that never ran (terminate, a closed pool) yields its error for each item.
/// Dropping it cancels the chunk if it has not started.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub(crate) struct ChunkFuture<T> {
    result: AsyncResult<Outcomes<T>>,
    offset: usize,
    len: usize,
}

impl<T> ChunkFuture<T> {
    pub(crate) fn len(&self) -> usize {
        self.len
    }
}

impl<T> Future for ChunkFuture<T> {
    type Output = Outcomes<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let outcome = ready!(Pin::new(&mut self.result).poll(cx));
        Poll::Ready(match outcome {
            Ok(outcomes) => outcomes,
            Err(error) => {
                let (offset, len) = (self.offset, self.len);
                (offset..offset + len)
                    .map(|i| Err(error.for_item(i)))
                    .collect()
            }
        })
    }
}

/// The consumer's side of a finished chunk.
pub(crate) type Drain<T> = vec::IntoIter<Result<T, TaskError>>;
