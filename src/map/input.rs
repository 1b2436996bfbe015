//! The input of a map, pulled chunk by chunk without trusting its size hint
//! further than a hint: a hint that lies must neither lose items nor make
//! corepool reserve absurd amounts of memory. An input that panics is caught
//! here: the map resolves with an `InputPanicked` error, as an `imap` yields
//! one, instead of the panic unwinding out of the submitting call.

use std::vec;

use crate::error::Payload;
use crate::unwind;

/// Items pre-reserved per chunk when the size hint cannot be relied on to
/// bound the reservation.
const MAX_RESERVE: usize = 1 << 12;

pub(crate) enum Input<I: Iterator> {
    /// The caller's iterator, whose size hint claims an exact length.
    Exact(I, usize),
    /// Items of an iterator of unknown length, collected first (as Python's
    /// `list(iterable)`), to size the default chunks.
    Collected(vec::IntoIter<I::Item>),
}

impl<I: Iterator> Input<I> {
    /// The input, or the input's panic and the index of the item it was
    /// producing.
    pub(crate) fn new(items: I) -> Result<Self, (Payload, usize)> {
        match unwind::catch(|| items.size_hint()) {
            Ok((low, Some(high))) if low == high => Ok(Input::Exact(items, low)),
            Ok(_) => {
                let mut items = items;
                let mut all = Vec::new();
                // Grows by doubling, whatever the hint says.
                unwind::catch(|| all.extend_from_iter_unhinted(&mut items))
                    .map_err(|payload| (payload, all.len()))?;
                Ok(Input::Collected(all.into_iter()))
            }
            Err(payload) => Err((payload, 0)),
        }
    }

    /// The number of items, as far as it is known: exact for collected
    /// input, the claimed length (which may be wrong) otherwise. Only used to
    /// pick a default chunksize.
    pub(crate) fn len(&self) -> usize {
        match self {
            Input::Exact(_, len) => *len,
            Input::Collected(items) => items.len(),
        }
    }

    /// Up to `n` more items; empty once the input is exhausted. `Err`: the
    /// input panicked, after the items in the batch so far (dropped).
    pub(crate) fn pull(&mut self, n: usize) -> Result<Vec<I::Item>, (Payload, usize)> {
        match self {
            Input::Exact(items, claimed) => {
                let mut batch = Vec::new();
                reserve(&mut batch, n.min(*claimed));
                // `extend` takes the fast path for a `TrustedLen` input (a
                // range, a `map` over one): no capacity check or length
                // store per item (a loop of `push` cost ~19 instructions an
                // item, measured on P7). It reserves by the `take`'s hint,
                // which is at most `n`, so a lying hint reserves no more than
                // the chunk. After a panic the batch holds the items before
                // the one being produced (the length is kept on unwind), so
                // `batch.len()` is that item's offset.
                let pulled = unwind::catch(|| batch.extend(items.by_ref().take(n)));
                *claimed = claimed.saturating_sub(batch.len());
                pulled.map_err(|payload| (payload, batch.len()))?;
                Ok(batch)
            }
            Input::Collected(items) => Ok(items.by_ref().take(n).collect()),
        }
    }
}

/// Pushing without asking the iterator for a size hint it might lie about.
trait ExtendUnhinted<I: Iterator> {
    fn extend_from_iter_unhinted(&mut self, items: &mut I);
}

impl<I: Iterator> ExtendUnhinted<I> for Vec<I::Item> {
    fn extend_from_iter_unhinted(&mut self, items: &mut I) {
        for item in items {
            self.push(item);
        }
    }
}

/// Reserves room for `n` items if the allocator grants it, else for a
/// modest number: the batch then grows as items really arrive.
fn reserve<T>(batch: &mut Vec<T>, n: usize) {
    if batch.try_reserve_exact(n).is_err() {
        batch.reserve(n.min(MAX_RESERVE));
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;

    /// Claims an exact length it does not have.
    struct Liar(std::ops::Range<u32>, usize);

    impl Iterator for Liar {
        type Item = u32;
        fn next(&mut self) -> Option<u32> {
            self.0.next()
        }
        fn size_hint(&self) -> (usize, Option<usize>) {
            (self.1, Some(self.1))
        }
    }

    #[test]
    fn a_lying_exact_hint_loses_nothing_and_reserves_nothing_absurd() {
        for claimed in [0, 1, 2, usize::MAX, 1 << 40] {
            let mut input = Input::new(Liar(0..5, claimed)).unwrap();
            let mut got = Vec::new();
            loop {
                let batch = input.pull(2).unwrap();
                assert!(batch.capacity() <= MAX_RESERVE.max(2), "{claimed}");
                if batch.is_empty() {
                    break;
                }
                got.extend(batch);
            }
            assert_eq!(got, [0, 1, 2, 3, 4], "claimed {claimed}");
        }
    }
}
