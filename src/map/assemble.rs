//! The in-order assembler of a map's result: chunks finish in any order on
//! any worker, and the output vector is built in input order as they do.
//!
//! # Protocol
//!
//! All bookkeeping is under one lock (`parts`); the copying is not. A chunk
//! that finishes parks its values in `waiting[chunk]`; then, if nobody is
//! appending (`out` is present), it takes `out` and every chunk that is
//! next in line (`next` advances under the lock), releases the lock, appends
//! them, and relocks to look for more. A chunk finishing while someone else
//! appends just parks its values: the appender picks them up when it relocks
//! (it loops until no chunk is next in line). So the copying overlaps the
//! computing of later chunks, and only one thread appends at a time.
//!
//! The number of chunks is not known until the input is exhausted (a size
//! hint can lie), so the submitter *seals* the map with the real count after
//! submitting the last chunk. The map completes when `next` reaches that
//! count with `out` present: checked by whoever holds `out` after advancing,
//! and by `seal` itself if every chunk was already in.
//!
//! `fail` takes the finisher: the first failure wins, later chunks and
//! appends see the finisher gone and drop their values, outside the lock.
//! Exactly one of "complete" and "fail" resolves the slot. Every user value
//! dropped here (values of a failed map, the errors that lost the race) is
//! dropped under `unwind::drop_quietly`, so a panicking `Drop` can neither
//! leave the map unresolved nor unwind into the worker.
//!
//! The result slot lives in the assembler's own allocation: the map's
//! `AsyncResult` reads from it (one allocation for the map's bookkeeping,
//! one per chunk job).
//!
//! The model in `src/tests/loom_map.rs` runs chunks finishing in every order
//! with the seal racing them, and a failure racing an append, and checks the
//! output order, that the slot resolves once, and that every value is
//! dropped exactly once.

use std::sync::{Arc, Weak};

use crate::callbacks::Deliver;
use crate::error::TaskError;
use crate::job::{Inline, Task, Worker};
use crate::result::Pending;
use crate::slot::{self, Slot};
use crate::sync::{self as locks, Mutex, MutexGuard};
use crate::unwind;

use super::ItemCost;

pub(crate) struct Assembler<T> {
    id: u64,
    /// The pool's measure of what an item costs, which the chunks feed.
    pub(crate) cost: Arc<ItemCost>,
    slot: Slot<Vec<T>>,
    parts: Mutex<Parts<T>>,
    /// `false`: every item runs even after one fails, and the map resolves
    /// with the first error once all are done (`Map::fail_fast`).
    fail_fast: bool,
    /// The chunk jobs, for a worker blocked on this map to claim the ones no
    /// worker has started (see `blocking.rs`); before `cursor`, all are
    /// known to be claimed.
    jobs: Mutex<(Vec<Weak<dyn Task>>, usize)>,
}

/// Delivers the map's outcome: the callbacks first, then the slot.
struct Finisher<T> {
    callbacks: Option<Deliver<Vec<T>>>,
}

struct Parts<T> {
    /// The results of chunks `0..next`. `None` while a thread appends to it
    /// outside the lock; that thread picks up what arrives meanwhile.
    out: Option<Vec<T>>,
    next: usize,
    /// Finished chunks waiting for their predecessors.
    waiting: Vec<Option<Vec<T>>>,
    /// The number of chunks and of items, once the submitter has sealed.
    total: Option<(usize, usize)>,
    /// Taken by whoever resolves the map: the last append, or the first error.
    finisher: Option<Finisher<T>>,
    /// When not failing fast: the first error to arrive, reported once every
    /// chunk is done.
    first_error: Option<TaskError>,
}

impl<T> Assembler<T> {
    pub(crate) fn new(
        id: u64,
        callbacks: Option<Deliver<Vec<T>>>,
        fail_fast: bool,
        cost: Arc<ItemCost>,
    ) -> Self {
        Assembler {
            id,
            cost,
            slot: Slot::new(),
            fail_fast,
            parts: Mutex::new(Parts {
                out: Some(Vec::new()),
                next: 0,
                waiting: Vec::new(),
                total: None,
                finisher: Some(Finisher { callbacks }),
                first_error: None,
            }),
            jobs: Mutex::new((Vec::new(), 0)),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Parts<T>> {
        locks::lock(&self.parts)
    }

    fn resolve(&self, finisher: Finisher<T>, outcome: Result<Vec<T>, TaskError>) {
        slot::deliver(&self.slot, finisher.callbacks, outcome, self.id);
    }

    /// Whether nobody wants the output any more (dropped, or failed).
    pub(crate) fn is_abandoned(&self) -> bool {
        self.slot.is_abandoned()
    }

    /// Whether the output is wanted whoever holds the handle.
    pub(crate) fn is_detached(&self) -> bool {
        self.slot.is_detached()
    }

    /// Whether the first failure resolves the map at once.
    pub(crate) fn fails_fast(&self) -> bool {
        self.fail_fast
    }

    /// Not failing fast: keeps `error` if it is the first, to report once
    /// every chunk is done.
    pub(crate) fn record_error(&self, error: TaskError) {
        let mut parts = self.lock();
        if parts.first_error.is_none() {
            parts.first_error = Some(error);
        } else {
            drop(parts);
            unwind::drop_quietly(error);
        }
    }

    /// Records a submitted chunk job, for inlining.
    pub(crate) fn add_job(&self, job: Weak<dyn Task>) {
        locks::lock(&self.jobs).0.push(job);
    }

    /// Chunk `chunk` computed `values`.
    pub(crate) fn chunk_done(&self, chunk: usize, values: Vec<T>) {
        let mut parts = self.lock();
        if parts.finisher.is_none() {
            // The map already failed; drop the values outside the lock.
            drop(parts);
            return unwind::drop_quietly(values);
        }
        if chunk == parts.next && parts.out.is_some() {
            // Next in line and nobody appending: appended at once, without
            // a place in `waiting` (a map of one chunk allocates none).
            return self.advance(parts, Some(values));
        }
        if parts.waiting.len() <= chunk {
            parts.waiting.resize_with(chunk + 1, || None);
        }
        parts.waiting[chunk] = Some(values);
        self.advance(parts, None);
    }

    /// The submitter is done: `chunks` chunks holding `items` items in all.
    pub(crate) fn seal(&self, chunks: usize, items: usize) {
        let mut parts = self.lock();
        parts.total = Some((chunks, items));
        self.advance(parts, None);
    }

    /// Appends what is next in line, and completes the map when everything
    /// is in. `in_line`: the values of chunk `next`, not parked in
    /// `waiting` (only with `out` present).
    fn advance<'a>(&'a self, mut parts: MutexGuard<'a, Parts<T>>, in_line: Option<Vec<T>>) {
        let mut in_line = in_line;
        loop {
            if parts.finisher.is_none() {
                return; // failed
            }
            if let Some((chunks, _)) = parts.total {
                if parts.next == chunks {
                    let Some(out) = parts.out.take() else {
                        return; // the appender will see it when it relocks
                    };
                    let finisher = parts.finisher.take().expect("checked above");
                    let outcome = match parts.first_error.take() {
                        Some(error) => {
                            unwind::drop_quietly(out);
                            Err(error)
                        }
                        None => Ok(out),
                    };
                    drop(parts);
                    return self.resolve(finisher, outcome);
                }
            }
            let Some(mut out) = parts.out.take() else {
                return; // another thread is appending and will take this chunk
            };
            // The chunks next in line: usually one, kept without a `Vec`
            // of their own (an allocation per append otherwise).
            let p = &mut *parts;
            let in_line = in_line.take().inspect(|_| p.next += 1);
            let mut take_next = || {
                let values = p.waiting.get_mut(p.next).and_then(Option::take)?;
                p.next += 1;
                Some(values)
            };
            let Some(first) = in_line.or_else(&mut take_next) else {
                parts.out = Some(out);
                return;
            };
            let rest: Vec<Vec<T>> = std::iter::from_fn(take_next).collect();
            let items = parts.total.map(|(_, items)| items);
            drop(parts);
            for values in std::iter::once(first).chain(rest) {
                if out.is_empty() && out.capacity() < values.capacity() {
                    out = values; // reuse the first chunk's allocation
                } else {
                    out.extend(values);
                }
                if let Some(items) = items {
                    out.reserve(items.saturating_sub(out.len()));
                }
            }
            parts = self.lock();
            if parts.finisher.is_none() {
                drop(parts);
                return unwind::drop_quietly(out); // failed while we appended
            }
            parts.out = Some(out);
        }
    }

    /// Fails the map with its first error; the chunks that have not started
    /// see the slot abandoned and skip their work.
    ///
    /// The finisher is taken *before* the slot is marked abandoned: a chunk
    /// that sees the mark resolves as cancelled through `fail` too, and must
    /// find the map already failed, or its `Abandoned` would win the race
    /// against the error that caused it (the model-based test found this).
    pub(crate) fn fail(&self, error: TaskError) {
        let mut parts = self.lock();
        let Some(finisher) = parts.finisher.take() else {
            drop(parts);
            return unwind::drop_quietly(error);
        };
        self.slot.abandon();
        let done = (
            parts.out.take(),
            std::mem::take(&mut parts.waiting),
            parts.first_error.take(),
        );
        drop(parts);
        unwind::drop_quietly(done);
        self.resolve(finisher, Err(error));
    }
}

impl<T: Send + 'static> Pending<Vec<T>> for Assembler<T> {
    fn slot(&self) -> &Slot<Vec<T>> {
        &self.slot
    }

    fn inline(self: Arc<Self>) -> Arc<dyn Inline> {
        self
    }
}

impl<T: Send + 'static> Inline for Assembler<T> {
    fn run_one(self: Arc<Self>, worker: &Worker<'_>) -> bool {
        loop {
            let job = {
                let mut jobs = locks::lock(&self.jobs);
                let (list, cursor) = &mut *jobs;
                let mut found = None;
                while *cursor < list.len() {
                    let at = *cursor;
                    if let Some(job) = list[at].upgrade() {
                        if !job.may_run_inline() {
                            // Not now (a stateful map while the state is
                            // lent): leave it, and the cursor, for later.
                            return false;
                        }
                        *cursor += 1;
                        found = Some(job);
                        break;
                    }
                    *cursor += 1;
                }
                found
            };
            match job {
                None => return false,
                Some(job) => {
                    if job.run(worker) {
                        return true;
                    }
                    // A worker claimed it first; try the next.
                }
            }
        }
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;
    use crate::error::Cancellation;
    use futures::task::noop_waker_ref;
    use std::task::{Context, Poll};

    fn assembler() -> Assembler<i32> {
        Assembler::new(0, None, true, Arc::default())
    }

    fn outcome(slot: &Slot<Vec<i32>>) -> Option<Result<Vec<i32>, TaskError>> {
        match slot.poll_take(&mut Context::from_waker(noop_waker_ref())) {
            Poll::Ready(outcome) => outcome,
            Poll::Pending => None,
        }
    }

    #[test]
    fn chunks_finishing_out_of_order_are_appended_in_order() {
        let map = assembler();
        let slot = &map.slot;
        map.chunk_done(3, vec![6]);
        map.chunk_done(1, vec![3, 4]);
        assert_eq!(map.lock().next, 0, "nothing is appended before chunk 0");
        map.chunk_done(0, vec![1, 2]);
        assert_eq!(map.lock().next, 2, "chunks 0 and 1 are appended at once");
        map.chunk_done(2, vec![5]);
        assert!(!slot.is_complete(), "not complete before the seal");
        map.seal(4, 6);
        assert_eq!(outcome(slot).unwrap().unwrap(), [1, 2, 3, 4, 5, 6]);
    }

    #[test]
    fn seal_first_completes_on_the_last_chunk() {
        let map = assembler();
        let slot = &map.slot;
        map.seal(2, 2);
        map.chunk_done(1, vec![2]);
        assert!(!slot.is_complete());
        map.chunk_done(0, vec![1]);
        assert_eq!(outcome(slot).unwrap().unwrap(), [1, 2]);
    }

    #[test]
    fn sealing_an_empty_map_completes_it() {
        let map = assembler();
        let slot = &map.slot;
        map.seal(0, 0);
        assert_eq!(outcome(slot).unwrap().unwrap(), Vec::<i32>::new());
    }

    #[test]
    fn the_first_failure_wins() {
        let map = assembler();
        let slot = &map.slot;
        map.chunk_done(0, vec![1]);
        map.fail(TaskError::cancelled(0, Cancellation::Abandoned));
        map.chunk_done(1, vec![2]);
        map.seal(2, 2);
        assert!(outcome(slot).unwrap().unwrap_err().is_cancelled());
    }
}
