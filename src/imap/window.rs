//! The engine both `imap` streams share: a window of at most `buffersize`
//! chunks in flight, refilled from the input only as the consumer takes
//! results.

use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::{FuturesOrdered, FuturesUnordered, StreamExt};

use super::feed::{ChunkFuture, Drain, Feed, Outcomes};
use crate::error::TaskError;

/// Where the chunks in flight wait: `FuturesOrdered` (the reorder buffer of
/// `imap`) or `FuturesUnordered` (`imap_unordered`).
pub(crate) trait ChunkQueue<T>: Stream<Item = Outcomes<T>> + Unpin + Default {
    fn push_chunk(&mut self, chunk: ChunkFuture<T>);
    /// Chunks submitted and not yet yielded, finished or not.
    fn in_queue(&self) -> usize;
}

impl<T> ChunkQueue<T> for FuturesOrdered<ChunkFuture<T>> {
    fn push_chunk(&mut self, chunk: ChunkFuture<T>) {
        self.push_back(chunk);
    }

    fn in_queue(&self) -> usize {
        // Counts finished chunks parked behind a missing head too: the
        // window stops pulling input while the head is missing.
        self.len()
    }
}

impl<T> ChunkQueue<T> for FuturesUnordered<ChunkFuture<T>> {
    fn push_chunk(&mut self, chunk: ChunkFuture<T>) {
        self.push(chunk);
    }

    fn in_queue(&self) -> usize {
        self.len()
    }
}

/// Items per worker the default window holds, so that small items do not
/// leave workers waiting on the consumer (measured on 2 cores, chunksize 1,
/// 1-5 µs items: a window of 8 items ran at 0.3× of `map`, 128 items at 0.5×).
const ITEMS_PER_WORKER: usize = 64;
/// Chunks per worker the default window holds at least.
const CHUNKS_PER_WORKER: usize = 4;

/// The default `buffersize`: enough chunks for `ITEMS_PER_WORKER` items per
/// worker, and never fewer than `CHUNKS_PER_WORKER` chunks per worker.
pub(crate) fn default_buffersize(chunksize: usize, workers: usize) -> usize {
    (ITEMS_PER_WORKER * workers)
        .div_ceil(chunksize.max(1))
        .max(CHUNKS_PER_WORKER * workers)
}

pub(crate) struct Window<T, Q> {
    feed: Box<dyn Feed<T>>,
    queue: Q,
    /// The results of the chunk being handed out.
    current: Drain<T>,
    chunksize: usize,
    /// `None`: the default, [`default_buffersize`].
    buffersize: Option<usize>,
    workers: usize,
    /// Items submitted whose outcomes are not yet in `current`.
    in_flight: usize,
    input_done: bool,
    /// An input panic or a closed pool: yielded once the window drains.
    deferred: Option<TaskError>,
    finished: bool,
}

impl<T, Q: ChunkQueue<T>> Window<T, Q> {
    pub(crate) fn new(feed: Box<dyn Feed<T>>, workers: usize) -> Self {
        Window {
            feed,
            queue: Q::default(),
            current: Vec::new().into_iter(),
            chunksize: 1,
            buffersize: None,
            workers,
            in_flight: 0,
            input_done: false,
            deferred: None,
            finished: false,
        }
    }

    /// The most chunks in flight or waiting to be yielded.
    fn buffersize(&self) -> usize {
        self.buffersize
            .unwrap_or_else(|| default_buffersize(self.chunksize, self.workers))
    }

    pub(crate) fn set_chunksize(&mut self, chunksize: usize) {
        self.chunksize = chunksize;
    }

    pub(crate) fn set_buffersize(&mut self, buffersize: usize) {
        self.buffersize = Some(buffersize);
    }

    pub(crate) fn pool_id(&self) -> u64 {
        self.feed.pool_id()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    fn check_arguments(&self) -> Result<(), TaskError> {
        if self.chunksize == 0 {
            return Err(TaskError::invalid_argument("chunksize must be at least 1"));
        }
        if self.buffersize == Some(0) {
            return Err(TaskError::invalid_argument("buffersize must be at least 1"));
        }
        Ok(())
    }

    /// Submits chunks while the window has room and the input has items.
    fn refill(&mut self, cx: &mut Context<'_>) {
        while !self.input_done
            && self.queue.in_queue() + usize::from(self.current.len() > 0) < self.buffersize()
        {
            match self.feed.poll_chunk(cx, self.chunksize) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.in_flight += chunk.len();
                    self.queue.push_chunk(chunk);
                }
                Poll::Ready(Some(Err(error))) => {
                    self.input_done = true;
                    self.deferred = Some(error);
                }
                Poll::Ready(None) => self.input_done = true,
                Poll::Pending => break,
            }
        }
    }

    pub(crate) fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        if let Err(error) = self.check_arguments() {
            self.finished = true;
            return Poll::Ready(Some(Err(error)));
        }
        loop {
            // Keep the workers busy before handing out what is ready.
            self.refill(cx);
            if let Some(outcome) = self.current.next() {
                return Poll::Ready(Some(outcome));
            }
            match self.queue.poll_next_unpin(cx) {
                Poll::Ready(Some(outcomes)) => {
                    self.in_flight -= outcomes.len();
                    self.current = outcomes.into_iter();
                }
                Poll::Ready(None) if self.input_done => {
                    self.finished = true;
                    return Poll::Ready(self.deferred.take().map(Err));
                }
                // Nothing in flight and the input is not ready: its waker
                // was registered by `refill`.
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
    }

    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        if self.finished {
            return (0, Some(0));
        }
        let ready = self.current.len() + self.in_flight;
        let (low, high) = self.feed.size_hint();
        let extra = usize::from(self.deferred.is_some() || self.check_arguments().is_err());
        (
            ready.saturating_add(low),
            high.and_then(|h| h.checked_add(ready + extra)),
        )
    }
}

/// The trait impls `Imap` and `ImapUnordered` share: both are a `Window`
/// behind a field named `window`.
macro_rules! window_stream {
    ($name:ident) => {
        impl<T> futures::Stream for $name<T> {
            type Item = Result<T, crate::error::TaskError>;

            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                self.get_mut().window.poll_item(cx)
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.window.size_hint()
            }
        }

        // Nothing is pinned structurally: the stream moves freely whatever `T` is.
        impl<T> Unpin for $name<T> {}

        impl<T> futures::stream::FusedStream for $name<T> {
            fn is_terminated(&self) -> bool {
                self.window.is_finished()
            }
        }

        impl<T> std::fmt::Debug for $name<T> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_struct(stringify!($name)).finish_non_exhaustive()
            }
        }
    };
}

pub(crate) use window_stream;

#[cfg(test)]
mod tests {
    use super::default_buffersize;

    #[test]
    fn default_window_holds_64_items_and_4_chunks_per_worker() {
        assert_eq!(default_buffersize(1, 2), 128);
        assert_eq!(default_buffersize(3, 2), 43);
        assert_eq!(default_buffersize(64, 2), 8);
        assert_eq!(default_buffersize(1_000, 16), 64);
    }
}
