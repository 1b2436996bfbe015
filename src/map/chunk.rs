//! One chunk of a map as a job body: its items, the function, and where its
//! results go.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::vec;

use super::assemble::Assembler;
use crate::error::{Cancellation, TaskError, TryError, UserError, box_user};
use crate::job::{Body, Running};
use crate::metrics::Ran;
use crate::state;
use crate::state::{State, Stateless};
use crate::unwind;

/// The most items a chunk computes between two checks for a dropped or
/// failed map: a running chunk stops within this many items of a failure.
const MAX_BATCH: usize = 64;

pub(crate) mod call {
    #![allow(unreachable_pub)]
    use std::vec;

    use crate::error::UserError;

    /// A map's function in context `Ctx`, over items `I`, resolving to `T`
    /// or to the error `E` (plain or fallible, stateless or stateful).
    pub trait CallEach<Ctx, I, T, E>: Send + Sync + 'static {
        /// Applies the function to up to `n` items, pushing the values to
        /// `out` and counting them in `done`. Stops at the first `Err` (its
        /// item is consumed, not counted), or when `stop()` says the map was
        /// given up (checked between batches always, and between items where
        /// that is cheap next to the item's own branching).
        fn run_batch(
            &self,
            items: &mut vec::IntoIter<I>,
            n: usize,
            out: &mut Vec<T>,
            done: &mut usize,
            stop: &dyn Fn() -> bool,
        ) -> Result<(), Box<dyn UserError>>;
    }
}

pub(crate) use call::CallEach;

impl<I, T, F> CallEach<Stateless, I, T, TaskError> for F
where
    F: Fn(I) -> T + Send + Sync + 'static,
{
    fn run_batch(
        &self,
        items: &mut vec::IntoIter<I>,
        n: usize,
        out: &mut Vec<T>,
        done: &mut usize,
        _stop: &dyn Fn() -> bool,
    ) -> Result<(), Box<dyn UserError>> {
        // `extend` from a `TrustedLen` iterator writes without per-item
        // capacity checks; the check for a given-up map is per batch.
        out.extend(items.by_ref().take(n).map(|item| {
            let value = self(item);
            *done += 1;
            value
        }));
        Ok(())
    }
}

impl<I, T, E, F> CallEach<Stateless, I, T, TryError<E>> for F
where
    E: Send + Sync + fmt::Debug + 'static,
    F: Fn(I) -> Result<T, E> + Send + Sync + 'static,
{
    fn run_batch(
        &self,
        items: &mut vec::IntoIter<I>,
        n: usize,
        out: &mut Vec<T>,
        done: &mut usize,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), Box<dyn UserError>> {
        // A fallible map is the one that fails early: check before every
        // item, so a running chunk stops at its next item once another
        // chunk's `Err` has failed the map.
        for item in items.by_ref().take(n) {
            if stop() {
                return Ok(());
            }
            out.push(self(item).map_err(box_user)?);
            *done += 1;
        }
        Ok(())
    }
}

impl<S: 'static, I, T, F> CallEach<State<S>, I, T, TaskError> for F
where
    F: Fn(&mut S, I) -> T + Send + Sync + 'static,
{
    fn run_batch(
        &self,
        items: &mut vec::IntoIter<I>,
        n: usize,
        out: &mut Vec<T>,
        done: &mut usize,
        _stop: &dyn Fn() -> bool,
    ) -> Result<(), Box<dyn UserError>> {
        state::with(|s: &mut S| {
            out.extend(items.by_ref().take(n).map(|item| {
                let value = self(s, item);
                *done += 1;
                value
            }));
        });
        Ok(())
    }
}

impl<S: 'static, I, T, E, F> CallEach<State<S>, I, T, TryError<E>> for F
where
    E: Send + Sync + fmt::Debug + 'static,
    F: Fn(&mut S, I) -> Result<T, E> + Send + Sync + 'static,
{
    fn run_batch(
        &self,
        items: &mut vec::IntoIter<I>,
        n: usize,
        out: &mut Vec<T>,
        done: &mut usize,
        stop: &dyn Fn() -> bool,
    ) -> Result<(), Box<dyn UserError>> {
        state::with(|s: &mut S| {
            for item in items.by_ref().take(n) {
                if stop() {
                    return Ok(());
                }
                out.push(self(s, item).map_err(box_user)?);
                *done += 1;
            }
            Ok(())
        })
    }
}

/// What a chunk's cell holds besides its items: the map it belongs to, the
/// shared function, and where the chunk sits in the input.
pub(crate) struct ChunkOut<C, T> {
    pub(crate) map: Arc<Assembler<T>>,
    pub(crate) call: Arc<C>,
    /// The chunk's number, and the input index of its first item.
    pub(crate) chunk: usize,
    pub(crate) offset: usize,
}

/// The types a chunk body is generic over without holding them.
type Kind<C, T, Ctx, E> = PhantomData<fn() -> (C, T, Ctx, E)>;

/// A chunk's items: the part of its cell that is claimed.
pub(crate) struct ChunkBody<I, C, T, Ctx, E> {
    pub(crate) items: Vec<I>,
    pub(crate) kind: Kind<C, T, Ctx, E>,
}

impl<I, C, T, Ctx, E> ChunkBody<I, C, T, Ctx, E> {
    pub(crate) fn new(items: Vec<I>) -> Self {
        ChunkBody {
            items,
            kind: PhantomData,
        }
    }
}

impl<I, C, T, Ctx, E> Body for ChunkBody<I, C, T, Ctx, E>
where
    I: Send + 'static,
    T: Send + 'static,
    C: CallEach<Ctx, I, T, E>,
    Ctx: 'static,
    E: 'static,
{
    type Out = ChunkOut<C, T>;

    fn abandoned(out: &Self::Out) -> bool {
        out.map.is_abandoned()
    }

    fn detached(out: &Self::Out) -> bool {
        out.map.is_detached()
    }

    fn run(self, out: &Self::Out, running: Running<'_>) {
        let map = &*out.map;
        let id = running.id;
        let fail_fast = map.fails_fast();
        let (computed, stopped) = running.watch(|| compute(out, self.items, fail_fast, id));
        if let Some(why) = stopped {
            // An item saw `is_cancelled()` and may have cut its work short:
            // the chunk's values cannot be trusted, and the map is not
            // wanted (or the pool is terminated) anyway.
            unwind::drop_quietly(computed);
            running.finished(Ran::Cancelled);
            return map.fail(TaskError::cancelled(id, why));
        }
        match computed {
            (values, Some(error)) if fail_fast => {
                unwind::drop_quietly(values);
                running.finished(Ran::Failed);
                map.fail(error);
            }
            (values, error) => {
                if error.is_none() {
                    map.cost.learn(values.len(), running.elapsed());
                }
                running.finished(if error.is_some() {
                    Ran::Failed
                } else {
                    Ran::Completed
                });
                if let Some(error) = error {
                    map.record_error(error);
                }
                map.chunk_done(out.chunk, values);
            }
        }
    }

    fn cancel(self, out: &Self::Out, id: u64, why: Cancellation) {
        unwind::drop_quietly(self.items);
        out.map.fail(TaskError::cancelled(id, why));
    }
}

/// Runs a chunk's items until they are done, the map is given up, or
/// (failing fast) an item fails. Returns the values and, when an item
/// failed, its error. The items left over are dropped quietly.
fn compute<I, C, T, Ctx, E>(
    out: &ChunkOut<C, T>,
    items: Vec<I>,
    fail_fast: bool,
    id: u64,
) -> (Vec<T>, Option<TaskError>)
where
    C: CallEach<Ctx, I, T, E>,
{
    let map = &*out.map;
    let mut values = Vec::with_capacity(items.len());
    let mut items = items.into_iter();
    let mut done = 0;
    let mut first_error = None;
    let stop = || map.is_abandoned();
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
                out.call
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
        let error = error.with_index(out.offset + done);
        done += 1; // the failing item
        if fail_fast {
            unwind::drop_quietly(items);
            return (values, Some(error));
        }
        // Run every item (Python's behaviour): keep the first error and go
        // on with the next item.
        if first_error.is_none() {
            first_error = Some(error);
        } else {
            unwind::drop_quietly(error);
        }
    }
    unwind::drop_quietly(items);
    (values, first_error)
}
