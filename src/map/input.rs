//! The input of a map, pulled chunk by chunk without trusting its size hint
//! further than a hint: a hint that lies must neither lose items nor make
//! corepool reserve absurd amounts of memory.

use std::vec;

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
    pub(crate) fn new(items: I) -> Self {
        match items.size_hint() {
            (low, Some(high)) if low == high => Input::Exact(items, low),
            _ => {
                let mut all = Vec::new();
                for item in items {
                    all.push(item); // grows by doubling, whatever the hint says
                }
                Input::Collected(all.into_iter())
            }
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

    /// Up to `n` more items; empty once the input is exhausted.
    pub(crate) fn pull(&mut self, n: usize) -> Vec<I::Item> {
        match self {
            Input::Exact(items, claimed) => {
                let mut batch = Vec::new();
                reserve(&mut batch, n.min(*claimed));
                for item in items.by_ref().take(n) {
                    batch.push(item);
                }
                *claimed = claimed.saturating_sub(batch.len());
                batch
            }
            Input::Collected(items) => items.by_ref().take(n).collect(),
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
            let mut input = Input::new(Liar(0..5, claimed));
            let mut got = Vec::new();
            loop {
                let batch = input.pull(2);
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
