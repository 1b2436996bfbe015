//! One chunk of a map as a job: its items, the function, and where its
//! results go.

use std::sync::Arc;

use super::assemble::Assembler;
use crate::error::{Cancellation, TaskError};
use crate::job::{Labels, Task};
use crate::sync::{self, Mutex};
use crate::unwind;

/// The most items a chunk computes between two checks for a dropped map.
const MAX_BATCH: usize = 64;

pub(crate) struct ChunkTask<I, T, F> {
    pub(crate) map: Arc<Assembler<T>>,
    pub(crate) labels: Labels,
    /// Input index of the chunk's first item, for error reports.
    pub(crate) offset: usize,
    pub(crate) f: Arc<F>,
    /// Taken by whoever claims the job.
    pub(crate) items: Mutex<Option<Vec<I>>>,
}

impl<I, T, F> ChunkTask<I, T, F> {
    fn claim(&self) -> Option<Vec<I>> {
        sync::lock(&self.items).take()
    }
}

impl<I, T, F> Task for ChunkTask<I, T, F>
where
    I: Send + 'static,
    T: Send + 'static,
    F: Fn(I) -> T + Send + Sync + 'static,
{
    fn run(&self, worker: usize, inline: bool) -> bool {
        let Some(items) = self.claim() else {
            return false;
        };
        let span = self.labels.span(worker, inline);
        let _entered = span.enter();
        let map = &*self.map;
        if map.is_abandoned() {
            drop(items);
            return true; // the map was dropped or already failed
        }
        let mut values = Vec::with_capacity(items.len());
        let mut items = items.into_iter();
        let mut done = 0;
        let f = &*self.f;
        // `extend` from a `TrustedLen` iterator writes without per-item
        // capacity checks; batches that double from 1 to `MAX_BATCH` keep
        // the check for a dropped or failed map close to per-item at first
        // and cheap later. `done` counts the items that returned, so a panic
        // is reported at the right index.
        let run = unwind::catch(|| {
            let mut batch = 1;
            while items.len() > 0 {
                if map.is_abandoned() {
                    return;
                }
                values.extend(items.by_ref().take(batch).map(|item| {
                    let value = f(item);
                    done += 1;
                    value
                }));
                batch = (batch * 2).min(MAX_BATCH);
            }
        });
        match run {
            Err(payload) => {
                let error =
                    TaskError::panicked(self.labels.id, payload).with_index(self.offset + done);
                drop((values, items));
                map.fail(error);
            }
            Ok(()) if map.is_abandoned() => drop((values, items)),
            Ok(()) => map.chunk_done(self.labels.chunk, values),
        }
        true
    }

    fn reject(&self, why: Cancellation) {
        if let Some(items) = self.claim() {
            drop(items);
            self.map.fail(TaskError::cancelled(self.labels.id, why));
        }
    }
}

impl<I, T, F> Drop for ChunkTask<I, T, F> {
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
