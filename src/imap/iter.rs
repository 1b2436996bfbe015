//! [`BlockingIter`]: an `imap` stream consumed from sync code.

use std::fmt;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::stream::{Stream, StreamExt};

use crate::blocking;
use crate::error::WaitError;

/// A blocking `Iterator` over an [`Imap`](crate::Imap) or
/// [`ImapUnordered`](crate::ImapUnordered) stream: Python's
/// `for x in pool.imap(...)`.
///
/// It blocks where the other sync calls may (see the
/// [crate docs](crate#where-blocking-calls-are-allowed)); on one of the
/// pool's workers it runs its own stream's unstarted chunks while it waits.
/// Each item is the stream's `Result<T, TaskError>`, as a
/// [`WaitError`]. On the thread of a `current_thread` runtime it yields one
/// [`WaitError::WouldDeadlock`] and ends, taking nothing from the stream
/// ([`into_inner`](BlockingIter::into_inner) gives it back to `.await`).
///
/// # Examples
///
/// ```
/// let pool = corepool::Pool::new(2)?;
/// let mut lines = Vec::new();
/// for r in pool.imap(|n: u32| format!("line {n}"), 0..3).into_blocking_iter() {
///     lines.push(r?);
/// }
/// assert_eq!(lines, ["line 0", "line 1", "line 2"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "iterators are lazy and do nothing unless consumed"]
pub struct BlockingIter<S> {
    stream: S,
    pool: u64,
    /// The unstarted chunks this iterator waits on, for a worker of the same
    /// pool that consumes it to run them itself.
    noted: blocking::Noted,
    done: bool,
}

/// A timed `next` ran out of time.
struct TimedOut;

impl<S, T, E> BlockingIter<S>
where
    S: Stream<Item = Result<T, E>> + Unpin,
{
    pub(crate) fn new(stream: S, pool: u64) -> Self {
        BlockingIter {
            stream,
            pool,
            noted: blocking::Noted::default(),
            done: false,
        }
    }

    /// The next item, or `Err(TimedOut)` when the deadline passed first.
    fn next_until(
        &mut self,
        deadline: Option<Instant>,
    ) -> Result<Option<Result<T, WaitError<E>>>, TimedOut> {
        if self.done {
            return Ok(None);
        }
        // Fast path, off the pool's own workers: an item already there (the
        // common case: a chunk's items come at once) is taken without the
        // waiting machinery (no probe of the runtime, no parker). The poll
        // registers no waker; when it is pending, the wait below polls again
        // with one. On a worker every poll must note what it waits on (see
        // `blocking.rs`), and a stream re-polls only what was woken, so the
        // first poll must be the noting one there.
        if !blocking::on_worker_of(self.pool) {
            let mut cx = Context::from_waker(futures::task::noop_waker_ref());
            match self.stream.poll_next_unpin(&mut cx) {
                Poll::Ready(Some(item)) => return Ok(Some(item.map_err(WaitError::Task))),
                Poll::Ready(None) => {
                    self.done = true;
                    return Ok(None);
                }
                Poll::Pending => {}
            }
        }
        let stream = &mut self.stream;
        let polled = blocking::block_on_noted(self.pool, deadline, &mut self.noted, |cx| {
            stream.poll_next_unpin(cx)
        });
        match polled {
            Ok(Some(Some(item))) => Ok(Some(item.map_err(WaitError::Task))),
            Ok(Some(None)) => {
                self.done = true;
                Ok(None)
            }
            Ok(None) => Err(TimedOut),
            Err(refused) => {
                self.done = true;
                Ok(Some(Err(WaitError::WouldDeadlock(refused))))
            }
        }
    }

    /// Like `next`, but gives up after `timeout` (Python's
    /// `next(timeout)`): `Some(Err(WaitError::TimedOut))`, the shape of every
    /// timed wait. Nothing is
    /// lost; the next call picks up where this one stopped. `Duration::MAX`
    /// means no deadline. On one of the pool's workers a timed wait runs no
    /// chunk itself, so the deadline is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{mpsc, Mutex};
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let (go, wait_for_go) = mpsc::channel::<()>();
    /// let wait_for_go = Mutex::new(wait_for_go);
    /// let mut it = pool
    ///     .imap(move |x: u64| { wait_for_go.lock().unwrap().recv().unwrap(); x }, [50])
    ///     .into_blocking_iter();
    /// assert!(it.next_timeout(Duration::ZERO).unwrap().unwrap_err().is_timeout()); // nothing lost
    /// go.send(())?;
    /// assert_eq!(it.next_timeout(Duration::MAX).unwrap()?, 50); // MAX: no deadline
    /// assert!(it.next().is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_timeout(&mut self, timeout: Duration) -> Option<Result<T, WaitError<E>>> {
        match self.next_until(blocking::deadline(timeout)) {
            Ok(item) => item,
            Err(TimedOut) => Some(Err(WaitError::TimedOut)),
        }
    }

    /// The stream underneath, to await it instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use futures::StreamExt;
    ///
    /// let pool = corepool::Pool::new(1)?;
    /// let mut it = pool.imap(|x: u8| x * 2, [1, 2, 3]).into_blocking_iter();
    /// assert_eq!(it.next().unwrap()?, 2);
    /// let rest: Vec<_> = futures::executor::block_on(it.into_inner().collect());
    /// assert_eq!(rest.into_iter().collect::<Result<Vec<_>, _>>()?, [4, 6]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_inner(self) -> S {
        self.stream
    }
}

impl<S, T, E> Iterator for BlockingIter<S>
where
    S: Stream<Item = Result<T, E>> + Unpin,
{
    type Item = Result<T, WaitError<E>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_until(None)
            .unwrap_or_else(|TimedOut| unreachable!("no deadline"))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        if self.done {
            (0, Some(0))
        } else {
            self.stream.size_hint()
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for BlockingIter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let BlockingIter {
            stream,
            pool: _,
            noted,
            done,
        } = self;
        f.debug_struct("BlockingIter")
            .field("stream", stream)
            .field("noted", noted)
            .field("done", done)
            .finish()
    }
}
