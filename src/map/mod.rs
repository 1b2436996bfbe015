//! The machinery of a map: the input split into chunks, one job per chunk.
//!
//! Each chunk runs its items in order under one panic guard (`chunk.rs`);
//! the first item to panic resolves the whole map with its index, and the
//! chunks not started are skipped. Results are assembled in input order by
//! whichever worker finishes a chunk that is next in line (`assemble.rs`),
//! so copying overlaps computing. The input is pulled chunk by chunk without
//! trusting its size hint (`input.rs`). The public face is
//! [`Map`](crate::Map) (`work/map.rs`).

mod assemble;
mod chunk;
mod input;

use std::sync::{Arc, Weak};
#[cfg(all(test, not(corepool_loom)))]
use std::time::Duration;

use crate::callbacks::Deliver;
pub(crate) use crate::cost::ItemCost;
use crate::error::{Cancellation, Outcome, TaskError};
use crate::job::{Cell, Job, Labels, Route, Task};
use crate::registry::Registry;
use crate::result::AsyncResult;
pub(crate) use assemble::Assembler;
pub(crate) use chunk::CallEach;
use chunk::{ChunkBody, ChunkOut};

/// Chunks per worker in a default cut.
///
/// Python cuts a map into 4 chunks per worker. Measured on 2 workers
/// (medians of 7 runs): 1 M tiny items took 7.3–8.6 ms at 4 chunks per
/// worker and 6.6 ms at 16 (the copying of results overlaps the computing
/// of more, smaller chunks); 4 000 uneven items (cost growing with the
/// square of the index, 2.7 s of work) took 1.59 s at 4 and 1.40 s at 16
/// (ideal 1.33 s: the last, dearest chunk no longer runs alone at the end);
/// 100 items of 50 µs did not move. 32 or 64 per worker gained a little on
/// uneven work and lost on tiny items.
const CHUNKS_PER_WORKER: usize = 16;

/// The default chunksize by count alone: ⌈len / (16 × workers)⌉.
pub(crate) fn default_chunksize(len: usize, workers: usize) -> usize {
    len.div_ceil(CHUNKS_PER_WORKER * workers).max(1)
}

/// The default cut of `len` items: 16 chunks per worker, but no chunk
/// smaller than [`CHUNK_WORK`] of items once their cost is known, and on a
/// bounded queue no more chunks than it has free places (`room`).
fn default_cut(len: usize, workers: usize, cost: &ItemCost, room: Option<usize>) -> usize {
    let mut chunksize = default_chunksize(len, workers);
    if let Some(worth) = cost.items_per_chunk() {
        chunksize = chunksize.max(worth.min(len.max(1)));
    }
    match room {
        Some(room) if room > 0 => chunksize.max(len.div_ceil(room)),
        _ => chunksize,
    }
}

/// What a map is made of, as the door hands it over.
pub(crate) struct MapSpec<F, It, T> {
    pub(crate) f: F,
    pub(crate) items: It,
    pub(crate) chunksize: Option<usize>,
    pub(crate) fail_fast: bool,
    pub(crate) callbacks: Option<Deliver<Vec<T>>>,
    pub(crate) stateful: bool,
    pub(crate) route: Route,
}

/// A map being cut into chunk jobs as its input is pulled.
pub(crate) struct Chunker<It: Iterator, C, T, Ctx, E> {
    items: Option<input::Input<It>>,
    call: Arc<C>,
    map: Arc<Assembler<T>>,
    labels: Labels,
    route: Route,
    chunksize: usize,
    chunks: usize,
    offset: usize,
    kind: std::marker::PhantomData<fn() -> (Ctx, E)>,
}

impl<It, C, T, Ctx, E> Chunker<It, C, T, Ctx, E>
where
    It: Iterator,
    It::Item: Send + 'static,
    C: CallEach<Ctx, It::Item, T, E>,
    T: Send + 'static,
    Ctx: 'static,
    E: Outcome,
{
    /// The map's result, and the chunker that makes its jobs. On a closed
    /// pool the result is already resolved and there are no jobs.
    pub(crate) fn new(
        registry: &Registry,
        spec: MapSpec<C, It, T>,
    ) -> (Self, AsyncResult<Vec<T>, E>) {
        let id = registry.next_job_id();
        let detached = spec.callbacks.is_some();
        let map = Arc::new(Assembler::new(
            id,
            spec.callbacks,
            spec.fail_fast,
            registry.item_cost.clone(),
        ));
        let result = AsyncResult::new(map.clone(), registry.id, detached);
        let input_panicked =
            |(payload, index)| TaskError::input_panicked(id, payload).with_index(index);
        let items = if registry.is_closed() {
            // Refused before it became jobs: counted as one refusal.
            registry.count_rejected(spec.route.lane.as_ref());
            map.fail(TaskError::cancelled(id, Cancellation::PoolClosed));
            None
        } else {
            match input::Input::new(spec.items) {
                Ok(items) => Some(items),
                Err(panic) => {
                    map.fail(input_panicked(panic));
                    None
                }
            }
        };
        // On a bounded queue the default chunking fits the room free now,
        // so a map is shed only when the queue is (nearly) full, not for
        // being cut finer than the capacity. An explicit chunksize is kept.
        let len = items.as_ref().map_or(0, |items| items.len());
        let chunksize = spec.chunksize.unwrap_or_else(|| {
            default_cut(len, registry.workers, &registry.item_cost, registry.room())
        });
        let chunker = Chunker {
            items,
            call: Arc::new(spec.f),
            map,
            labels: Labels {
                id,
                kind: "map",
                chunk: 0,
                stateful: spec.stateful,
            },
            route: spec.route,
            chunksize,
            chunks: 0,
            offset: 0,
            kind: std::marker::PhantomData,
        };
        (chunker, result)
    }

    /// The next chunk as a job, not yet submitted; `None` once the input is
    /// done (or panicked, or the map was given up).
    pub(crate) fn next_job(&mut self) -> Option<Job> {
        if self.map.is_abandoned() {
            return None; // failed fast (or closed): the rest would be cancelled
        }
        let items = self.items.as_mut()?;
        let batch = match items.pull(self.chunksize) {
            Ok(batch) if batch.is_empty() => {
                self.items = None;
                return None;
            }
            Ok(batch) => batch,
            Err((payload, at)) => {
                // As `imap`: the input's panic is an error of the map, not
                // an unwind out of this call.
                self.items = None;
                let error = TaskError::input_panicked(self.labels.id, payload);
                self.map.fail(error.with_index(self.offset + at));
                return None;
            }
        };
        let count = batch.len();
        let labels = Labels {
            chunk: self.chunks,
            ..self.labels
        };
        let out = ChunkOut {
            map: self.map.clone(),
            call: self.call.clone(),
            chunk: self.chunks,
            offset: self.offset,
        };
        let cell = Cell::new(
            labels,
            self.route.clone(),
            ChunkBody::<_, C, T, Ctx, E>::new(batch),
            out,
        );
        self.map.add_job(Arc::downgrade(&cell) as Weak<dyn Task>);
        self.chunks += 1;
        self.offset += count;
        Some(cell)
    }

    /// Tells the map how many chunks and items it has: call once no more
    /// jobs will be made.
    pub(crate) fn seal(self) {
        self.map.seal(self.chunks, self.offset);
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_known_item_cost_keeps_chunks_worth_a_job() {
        let cost = ItemCost::default();
        // Unmeasured: by count alone.
        assert_eq!(default_cut(64, 2, &cost, None), 2);
        // Items of ~5 ns: a small map is one chunk; a big one keeps 32.
        cost.learn(1_000, Duration::from_micros(5));
        assert_eq!(default_cut(64, 2, &cost, None), 64);
        assert_eq!(default_cut(1_000_000, 2, &cost, None), 31_250);
        // Items of 1 ms: the count rules.
        let slow = ItemCost::default();
        slow.learn(10, Duration::from_millis(10));
        assert_eq!(default_cut(64, 2, &slow, None), 2);
        // A bounded queue's room still caps the number of chunks.
        assert_eq!(default_cut(64, 2, &slow, Some(4)), 16);
    }

    #[test]
    fn default_chunksize_makes_sixteen_chunks_per_worker() {
        assert_eq!(default_chunksize(1_000_000, 2), 31_250);
        assert_eq!(default_chunksize(10, 4), 1);
        assert_eq!(default_chunksize(33, 1), 3);
        assert_eq!(default_chunksize(1, 16), 1);
        assert_eq!(default_chunksize(0, 2), 1);
    }
}
