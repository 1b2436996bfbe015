//! One chunk of a map as a job: its items, the function, and where its
//! results go.

use std::fmt;
use std::sync::Arc;
use std::vec;

use super::assemble::Assembler;
use crate::apply::box_user;
use crate::cancel;
use crate::error::{Cancellation, TaskError, UserError};
use crate::job::{JobSpan, Labels, Meter, Task};
use crate::metrics::Ran;
use crate::sync::{self, Mutex};
use crate::unwind;

/// The most items a chunk computes between two checks for a dropped or
/// failed map: a running chunk stops within this many items of a failure.
const MAX_BATCH: usize = 64;

/// A map's function, plain or fallible, applied to a batch of items.
pub(crate) trait ItemFn<I>: Send + Sync + 'static {
    type Out: Send + 'static;

    /// Applies the function to up to `n` items, pushing the values to `out`
    /// and counting them in `done`. Stops at the first `Err` (its item is
    /// consumed, not counted), or when `stop()` says the map was given up
    /// (checked between batches always, and between items where that is
    /// cheap next to the item's own branching).
    fn run_batch(
        &self,
        items: &mut vec::IntoIter<I>,
        n: usize,
        out: &mut Vec<Self::Out>,
        done: &mut usize,
        stop: &impl Fn() -> bool,
    ) -> Result<(), Box<dyn UserError>>;
}

/// `map`'s function.
pub(crate) struct Plain<F>(pub(crate) F);

impl<I, T, F> ItemFn<I> for Plain<F>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> T + Send + Sync + 'static,
{
    type Out = T;

    fn run_batch(
        &self,
        items: &mut vec::IntoIter<I>,
        n: usize,
        out: &mut Vec<T>,
        done: &mut usize,
        _stop: &impl Fn() -> bool,
    ) -> Result<(), Box<dyn UserError>> {
        // `extend` from a `TrustedLen` iterator writes without per-item
        // capacity checks; the check for a given-up map is per batch.
        out.extend(items.by_ref().take(n).map(|item| {
            let value = (self.0)(item);
            *done += 1;
            value
        }));
        Ok(())
    }
}

/// `try_map`'s function.
pub(crate) struct Fallible<F>(pub(crate) F);

impl<I, T, E, F> ItemFn<I> for Fallible<F>
where
    I: Send + 'static,
    T: Send + 'static,
    E: Send + Sync + fmt::Debug + 'static,
    F: Fn(I) -> Result<T, E> + Send + Sync + 'static,
{
    type Out = T;

    fn run_batch(
        &self,
        items: &mut vec::IntoIter<I>,
        n: usize,
        out: &mut Vec<T>,
        done: &mut usize,
        stop: &impl Fn() -> bool,
    ) -> Result<(), Box<dyn UserError>> {
        // A fallible map is the one that fails early: check before every
        // item, so a running chunk stops at its next item once another
        // chunk's `Err` has failed the map.
        for item in items.by_ref().take(n) {
            if stop() {
                return Ok(());
            }
            out.push((self.0)(item).map_err(box_user)?);
            *done += 1;
        }
        Ok(())
    }
}

pub(crate) struct ChunkTask<I, C: ItemFn<I>> {
    pub(crate) map: Arc<Assembler<C::Out>>,
    pub(crate) labels: Labels,
    pub(crate) span: JobSpan,
    /// Input index of the chunk's first item, for error reports.
    pub(crate) offset: usize,
    pub(crate) call: Arc<C>,
    /// Taken by whoever claims the job.
    pub(crate) items: Mutex<Option<Vec<I>>>,
}

impl<I, C: ItemFn<I>> ChunkTask<I, C> {
    fn claim(&self) -> Option<Vec<I>> {
        sync::lock(&self.items).take()
    }

    /// Runs the chunk's items until they are done, the map is given up, or
    /// (failing fast) an item fails. Returns the values and, when an item
    /// failed, its error.
    fn compute(&self, items: Vec<I>, fail_fast: bool) -> (Vec<C::Out>, Option<TaskError>) {
        let map = &*self.map;
        let id = self.labels.id;
        let mut values = Vec::with_capacity(items.len());
        let mut items = items.into_iter();
        let mut done = 0;
        let mut first_error = None;
        // Batches double from 1 to `MAX_BATCH`: the check for a dropped or
        // failed map is close to per-item at first and cheap later. `done`
        // counts the items that returned, so an error gets the right index.
        let mut batch = 1;
        while items.len() > 0 {
            let run = unwind::catch(|| {
                while items.len() > 0 {
                    if map.is_abandoned() {
                        return Ok(());
                    }
                    let stop = || map.is_abandoned();
                    self.call
                        .run_batch(&mut items, batch, &mut values, &mut done, &stop)?;
                    batch = (batch * 2).min(MAX_BATCH);
                }
                Ok(())
            });
            let error = match run {
                Ok(Ok(())) => break,
                Ok(Err(user)) => TaskError::user(id, user),
                Err(payload) => TaskError::panicked(id, payload),
            };
            let error = error.with_index(self.offset + done);
            done += 1; // the failing item
            if fail_fast {
                return (values, Some(error));
            }
            // Run every item (Python's behaviour): keep the first error and
            // go on with the next item.
            first_error.get_or_insert(error);
        }
        drop(items);
        (values, first_error)
    }
}

impl<I, C> Task for ChunkTask<I, C>
where
    I: Send + 'static,
    C: ItemFn<I>,
{
    fn run(&self, worker: usize, inline: bool) -> bool {
        if inline && !self.labels.may_run_inline() {
            return false;
        }
        let Some(items) = self.claim() else {
            return false;
        };
        self.span
            .run(worker, inline, |meter| self.run_in_span(items, meter));
        true
    }

    fn may_run_inline(&self) -> bool {
        self.labels.may_run_inline()
    }

    fn reject(&self, why: Cancellation) {
        if let Some(items) = self.claim() {
            drop(items);
            self.map.fail(TaskError::cancelled(self.labels.id, why));
        }
    }
}

impl<I, C> ChunkTask<I, C>
where
    I: Send + 'static,
    C: ItemFn<I>,
{
    fn run_in_span(&self, items: Vec<I>, meter: Meter) {
        let map = &*self.map;
        if map.is_abandoned() {
            drop(items);
            meter.finished(Ran::Cancelled);
            return; // the map was dropped or already failed
        }
        let fail_fast = map.fails_fast();
        let (computed, stopped) = cancel::watch(map.wanted(), || self.compute(items, fail_fast));
        if let Some(why) = stopped {
            // An item saw `is_cancelled()` and may have cut its work short:
            // the chunk's values cannot be trusted, and the map is not
            // wanted (or the pool is terminated) anyway.
            drop(computed);
            meter.finished(Ran::Cancelled);
            map.fail(TaskError::cancelled(self.labels.id, why));
            return;
        }
        match computed {
            (values, Some(error)) if fail_fast => {
                drop(values);
                meter.finished(Ran::Failed);
                map.fail(error);
            }
            (values, error) => {
                meter.finished(if error.is_some() {
                    Ran::Failed
                } else {
                    Ran::Completed
                });
                if let Some(error) = error {
                    map.record_error(error);
                }
                if map.is_abandoned() {
                    drop(values);
                } else {
                    map.chunk_done(self.labels.chunk, values);
                }
            }
        }
    }
}

impl<I, C: ItemFn<I>> Drop for ChunkTask<I, C> {
    fn drop(&mut self) {
        // Dropped unclaimed: the map cannot complete without this chunk.
        let items = sync::lock(&self.items).take();
        if let Some(items) = items {
            drop(items);
            self.map.fail(TaskError::cancelled(
                self.labels.id,
                Cancellation::Abandoned,
            ));
        }
    }
}
