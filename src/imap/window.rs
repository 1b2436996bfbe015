//! The engine both `imap` streams share: a window of at most `buffersize`
//! chunks in flight, refilled from the input only as the consumer takes
//! results, and the adaptive chunking used when no `chunksize` is given.
//!
//! The adaptive chunking (the chunk size learnt from measured item times)
//! is in `adaptive.rs`.
//!
//! The window keeps its bound: `buffersize` chunks (by default at least 4
//! per worker and enough for 64 items per worker), so at most
//! `buffersize × MAX_ADAPTIVE_CHUNK` items are in flight. rayon's adaptive
//! splitting (`with_min_len` as the user's floor) solves the same problem
//! for a known-length input by splitting work as threads go idle; an `imap`
//! input is of unknown length and arrives over time, so the size is learnt
//! from measured item times instead.

use std::time::Duration;

use std::task::{Context, Poll};

use futures::Stream;
use futures::stream::{FuturesOrdered, FuturesUnordered, StreamExt};

use super::adaptive::Adaptive;
use super::chunk::{ChunkFuture, Drain, Outcomes};
use super::feed::Feed;
use crate::error::TaskError;

/// Where the chunks in flight wait: `FuturesOrdered` (the reorder buffer of
/// `imap`) or `FuturesUnordered` (`imap_unordered`).
pub(crate) trait ChunkQueue<T>:
    Stream<Item = (Outcomes<T>, Duration)> + Unpin + Default
{
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
    /// `None`: adaptive chunking (the default).
    chunksize: Option<usize>,
    adaptive: Adaptive,
    /// `None`: the default, [`default_buffersize`].
    buffersize: Option<usize>,
    /// The bound in force: `buffersize`, or the default for the current
    /// chunk size (kept up to date, not recomputed per item).
    bound: usize,
    /// Whether the window may have room: set when a slot frees (a chunk
    /// handed out its last item) or the chunk size changes, cleared once
    /// `refill` finds the window full or the input over. Handing out an item
    /// from the middle of a chunk does not touch the window.
    refill_due: bool,
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
            chunksize: None,
            adaptive: Adaptive::new(),
            buffersize: None,
            bound: default_buffersize(1, workers),
            refill_due: true,
            workers,
            in_flight: 0,
            input_done: false,
            deferred: None,
            finished: false,
        }
    }

    /// The size of the next chunk.
    fn chunksize(&self) -> usize {
        self.chunksize.unwrap_or(self.adaptive.size)
    }

    /// The most chunks in flight or waiting to be yielded.
    fn buffersize(&self) -> usize {
        self.buffersize
            .unwrap_or_else(|| default_buffersize(self.chunksize(), self.workers))
    }

    #[track_caller]
    pub(crate) fn set_chunksize(&mut self, chunksize: usize) {
        assert!(chunksize > 0, "chunksize must be at least 1");
        self.chunksize = Some(chunksize);
        self.update_bound();
    }

    #[track_caller]
    pub(crate) fn set_buffersize(&mut self, buffersize: usize) {
        assert!(buffersize > 0, "buffersize must be at least 1");
        self.buffersize = Some(buffersize);
        self.update_bound();
    }

    /// Recomputes the bound after a setting or the chunk size changed.
    fn update_bound(&mut self) {
        self.bound = self.buffersize();
        self.refill_due = true;
    }

    pub(crate) fn pool_id(&self) -> u64 {
        self.feed.pool_id()
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.finished
    }

    /// Submits chunks while the window has room and the input has items.
    fn refill(&mut self, cx: &mut Context<'_>) {
        loop {
            if self.input_done
                || self.queue.in_queue() + usize::from(self.current.len() > 0) >= self.bound
            {
                self.refill_due = false;
                return;
            }
            let budget = self.chunksize.is_none().then(|| self.adaptive.budget());
            match self.feed.poll_chunk(cx, self.chunksize(), budget) {
                Poll::Ready(Some(Ok(chunk))) => {
                    self.in_flight += chunk.total_len();
                    self.queue.push_chunk(chunk);
                }
                Poll::Ready(Some(Err(error))) => {
                    self.input_done = true;
                    self.deferred = Some(error);
                }
                Poll::Ready(None) => self.input_done = true,
                // Its waker is registered; still due when polled again.
                Poll::Pending => return,
            }
        }
    }

    /// The next outcome. The common case (an item of the chunk being handed
    /// out, with the window full) is inlined into the caller's poll; the
    /// rest is out of line.
    #[inline]
    pub(crate) fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError>>> {
        if !self.refill_due {
            if let Some(outcome) = self.current.next() {
                // Its last item frees the chunk's slot in the window.
                self.refill_due = self.current.len() == 0;
                return Poll::Ready(Some(outcome));
            }
        }
        self.poll_item_slow(cx)
    }

    #[inline(never)]
    fn poll_item_slow(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<T, TaskError>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        loop {
            // Keep the workers busy before handing out what is ready.
            if self.refill_due {
                self.refill(cx);
            }
            if let Some(outcome) = self.current.next() {
                // Its last item frees the chunk's slot in the window.
                self.refill_due |= self.current.len() == 0;
                return Poll::Ready(Some(outcome));
            }
            match self.queue.poll_next_unpin(cx) {
                Poll::Ready(Some((outcomes, run))) => {
                    self.in_flight -= outcomes.len();
                    if self.chunksize.is_none() {
                        let size = self.adaptive.size;
                        self.adaptive.learn(outcomes.len(), run);
                        if self.adaptive.size != size {
                            self.update_bound();
                        }
                    }
                    self.current = outcomes.into_iter();
                    self.refill_due |= self.current.len() == 0;
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

    /// The fields a stream's `Debug` shows.
    pub(crate) fn debug_fields(&self, d: &mut std::fmt::DebugStruct<'_, '_>) {
        d.field("chunksize", &self.chunksize())
            .field("adaptive", &self.chunksize.is_none())
            .field("buffersize", &self.buffersize())
            .field("chunks_in_flight", &self.queue.in_queue())
            .field("items_in_flight", &self.in_flight)
            .field("finished", &self.finished);
    }

    pub(crate) fn size_hint(&self) -> (usize, Option<usize>) {
        if self.finished {
            return (0, Some(0));
        }
        let ready = self.current.len() + self.in_flight;
        let (low, high) = self.feed.size_hint();
        let extra = usize::from(self.deferred.is_some());
        (
            ready.saturating_add(low),
            high.and_then(|h| h.checked_add(ready + extra)),
        )
    }
}

/// What `Imap` and `ImapUnordered` share: both are a `Window` behind a field
/// named `window`, with the same settings and trait impls. `$pool_method`
/// names the method that makes the stream, for the examples.
macro_rules! window_stream {
    ($name:ident, $pool_method:literal) => {
        impl<T, E> $name<T, E> {
            #[doc = concat!("Items per job (Python's `chunksize`), fixed. Without it the size
adapts (the default): the first chunk has one item, and each next one holds
about 1 ms of items as measured so far (at most 1 024), so cheap items
travel in large chunks at `map`'s speed and slow ones one at a time with no
added latency (see the module docs of `imap`). A fixed `chunksize` keeps its
exact meaning; the window then holds `buffersize × chunksize` items.

# Panics

If `chunksize` is 0 (rejected where it is set, as `slice::chunks(0)` does).

# Examples

```
let pool = corepool::Pool::new(2)?;
let mut v: Vec<u8> = pool
    .", $pool_method, "(|x: u8| x, 0..6)
    .chunksize(3)
    .into_blocking_iter()
    .collect::<Result<_, _>>()?;
v.sort();
assert_eq!(v, [0, 1, 2, 3, 4, 5]);
# Ok::<(), Box<dyn std::error::Error>>(())
```")]
            #[track_caller]
            pub fn chunksize(mut self, chunksize: usize) -> Self {
                self.window.set_chunksize(chunksize);
                self
            }

            #[doc = concat!("The most chunks in flight or waiting to be yielded (Python's
`buffersize`). Defaults to enough chunks for 64 items per worker, and at
least 4 chunks per worker (128 chunks of 1 item on 2 workers; 8 chunks of 64
items or more), for the current chunk size.

# Panics

If `buffersize` is 0.

# Examples

```
let pool = corepool::Pool::new(2)?;
let mut it = pool.", $pool_method, "(|x: u32| x + 1, 0..).buffersize(1).into_blocking_iter();
assert_eq!(it.next().transpose()?, Some(1)); // endless input, one chunk in flight
# Ok::<(), Box<dyn std::error::Error>>(())
```")]
            #[track_caller]
            pub fn buffersize(mut self, buffersize: usize) -> Self {
                self.window.set_buffersize(buffersize);
                self
            }

            #[doc = concat!("A blocking `Iterator` over the stream, for sync code (Python's
`for x in pool.imap(...)`), with a
[`next_timeout`](crate::BlockingIter::next_timeout). See
[`BlockingIter`](crate::BlockingIter) for where it may block.

# Examples

```
let pool = corepool::Pool::new(2)?;
let total: u32 = pool
    .", $pool_method, "(|x: u32| x * 2, 1..=3)
    .into_blocking_iter()
    .map(Result::unwrap)
    .sum();
assert_eq!(total, 12);
# Ok::<(), Box<dyn std::error::Error>>(())
```")]
            pub fn into_blocking_iter(self) -> crate::BlockingIter<Self> {
                let pool = self.window.pool_id();
                crate::BlockingIter::new(self, pool)
            }
        }

        impl<T, E> futures::Stream for $name<T, E> {
            type Item = Result<T, E>;

            #[inline]
            fn poll_next(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Option<Self::Item>> {
                let this = self.get_mut();
                let convert = this.convert;
                this.window
                    .poll_item(cx)
                    .map(|item| item.map(|outcome| outcome.map_err(convert)))
            }

            fn size_hint(&self) -> (usize, Option<usize>) {
                self.window.size_hint()
            }
        }

        // Nothing is pinned structurally: the stream moves freely whatever `T` is.
        impl<T, E> Unpin for $name<T, E> {}

        impl<T, E> futures::stream::FusedStream for $name<T, E> {
            fn is_terminated(&self) -> bool {
                self.window.is_finished()
            }
        }

        impl<T, E> std::fmt::Debug for $name<T, E> {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                let mut d = f.debug_struct(stringify!($name));
                self.window.debug_fields(&mut d);
                d.finish()
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
