//! Adaptive chunking, the `imap` default: chunks grow for cheap items, stay
//! at one item for slow ones, shrink again when items turn slow (handing
//! the rest of an oversized chunk to a new job), and never lose or reorder
//! an item.

use crate::common;

use std::time::Duration;

use common::within;
use corepool::Pool;

/// The chunk size a stream is at now, from its `Debug` output.
fn chunksize<S: std::fmt::Debug>(stream: &S) -> usize {
    let shown = format!("{stream:?}");
    let at = shown
        .find("chunksize: ")
        .expect("Debug shows the chunksize")
        + "chunksize: ".len();
    shown[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

fn spin(us: u64) {
    let until = std::time::Instant::now() + Duration::from_micros(us);
    while std::time::Instant::now() < until {
        std::hint::spin_loop();
    }
}

#[test]
fn cheap_items_grow_the_chunks() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let mut it = pool
            .imap(|x: u64| x.wrapping_mul(3), 0..200_000)
            .into_blocking_iter();
        for expected in 0..100_000_u64 {
            assert_eq!(it.next().unwrap().unwrap(), expected * 3);
        }
        let size = chunksize(&it);
        assert!(size >= 64, "chunks of {size} items for ~ns items");
        assert!(size <= 1024, "{size}");
        assert_eq!(it.map(Result::unwrap).count(), 100_000);
    });
}

#[test]
fn slow_items_stay_one_per_chunk_and_the_first_result_comes_at_once() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        // Item 1 only finishes once item 0's result has been taken: with a
        // first chunk of more than one item, the first result could not
        // arrive and the test would hang.
        let (taken_tx, taken_rx) = std::sync::mpsc::channel::<()>();
        let taken_rx = std::sync::Mutex::new(taken_rx);
        let mut it = pool
            .imap(
                move |x: u64| {
                    if x == 1 {
                        taken_rx.lock().unwrap().recv().unwrap();
                    }
                    std::thread::sleep(Duration::from_millis(3));
                    x
                },
                0..12,
            )
            .into_blocking_iter();
        assert_eq!(it.next().unwrap().unwrap(), 0);
        taken_tx.send(()).unwrap();
        for expected in 1..12 {
            assert_eq!(it.next().unwrap().unwrap(), expected);
            assert_eq!(chunksize(&it), 1, "3 ms items stay one per chunk");
        }
    });
}

#[test]
fn chunks_shrink_when_items_turn_slow_and_oversized_chunks_hand_on_the_rest() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        // 20 000 cheap items, then 10 000 of 50 µs (longer than the window
        // of chunks sized for cheap ones), then cheap again.
        let cost = |x: u64| if (20_000..30_000).contains(&x) { 50 } else { 0 };
        let mut it = pool
            .imap(
                move |x: u64| {
                    spin(cost(x));
                    x
                },
                0..50_000,
            )
            .into_blocking_iter();
        let (mut grown, mut smallest) = (0, usize::MAX);
        for expected in 0..50_000_u64 {
            assert_eq!(it.next().unwrap().unwrap(), expected, "in order, none lost");
            if expected == 19_000 {
                grown = chunksize(&it);
            }
            if (20_000..30_000).contains(&expected) {
                smallest = smallest.min(chunksize(&it));
            }
        }
        assert!(grown >= 64, "{grown}");
        // 1 ms of 50 µs items is 20 items.
        assert!(
            smallest <= 40,
            "grew to {grown}; 50 µs items brought it only to {smallest}"
        );
        assert!(chunksize(&it) > 8, "cheap again: the chunks grew back");
        assert!(it.next().is_none());
    });
}

#[test]
fn handed_on_chunks_keep_per_item_errors_in_place() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let out: Vec<_> = pool
            .imap(
                |x: u64| {
                    if x >= 5_000 {
                        spin(500); // slow enough to split the grown chunks
                    }
                    if x % 1_000 == 999 {
                        panic!("item {x}");
                    }
                    x
                },
                0..5_200,
            )
            .into_blocking_iter()
            .collect();
        assert_eq!(out.len(), 5_200);
        for (i, r) in out.into_iter().enumerate() {
            match r {
                Ok(x) => assert_eq!(x, i as u64),
                Err(e) => {
                    assert_eq!(i % 1_000, 999);
                    assert_eq!(e.index(), Some(i));
                }
            }
        }
    });
}

#[test]
fn closing_the_pool_while_chunks_hand_on_loses_nothing() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let mut it = pool
            .imap(
                |x: u64| {
                    if x >= 8_000 {
                        spin(300); // the grown chunks run out of time and hand on
                    }
                    x
                },
                0..9_000,
            )
            .into_blocking_iter();
        for expected in 0..8_100_u64 {
            assert_eq!(it.next().unwrap().unwrap(), expected);
        }
        // Closed while chunks of slow items are running and handing on: the
        // work already accepted still all runs.
        pool.close();
        let rest: Vec<u64> = it.map(Result::unwrap).collect();
        assert_eq!(rest, (8_100..9_000).collect::<Vec<_>>());
    });
}
