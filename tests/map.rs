//! map, map_async, starmap, starmap_async: order, chunking, errors.

use crate::common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, mpsc};

use common::{Counter, occupy, on_tokio, within};
use corepool::{Map, Pool, TaskError};

#[test]
fn results_come_back_in_input_order() {
    within(|| {
        let pool = Pool::new(4).unwrap();
        // Uneven work so chunks finish out of order.
        let out = pool
            .run(
                Map::new(
                    |x: u64| {
                        std::thread::sleep(std::time::Duration::from_micros((x % 7) * 100));
                        x * x
                    },
                    0..200,
                )
                .chunksize(3),
            )
            .unwrap();
        assert_eq!(out, (0..200).map(|x| x * x).collect::<Vec<_>>());
    });
}

#[test]
fn one_job_per_chunk() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let busy = occupy(&pool, 1);
        let mut r = pool.spawn(Map::new(|x: u32| x, 0..10).chunksize(3));
        assert_eq!(
            pool.metrics().queued,
            4,
            "10 items in chunks of 3 make 4 jobs"
        );
        busy.release();
        assert_eq!(r.get().unwrap(), (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn default_chunksize_makes_sixteen_chunks_per_worker() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let busy = occupy(&pool, 2);
        // ⌈100 / (16 × 2)⌉ = 4 items a chunk: 25 jobs (Python's rule would
        // make 8).
        let mut r = pool.map_async(|x: u32| x, 0..100);
        assert_eq!(pool.metrics().queued, 25);
        busy.release();
        assert_eq!(r.get().unwrap().len(), 100);
    });
}

#[test]
fn every_item_runs_once_across_workers() {
    within(|| {
        let pool = Pool::new(3).unwrap();
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let s = seen.clone();
        let out = pool
            .map(
                move |x: u32| {
                    assert!(s.lock().unwrap().insert(x), "item {x} ran twice");
                    x
                },
                0..1000,
            )
            .unwrap();
        assert_eq!(out.len(), 1000);
        assert_eq!(seen.lock().unwrap().len(), 1000);
    });
}

#[test]
fn chunksize_zero_is_rejected_where_it_is_set_not_a_silent_wrong_answer() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let set =
            std::panic::catch_unwind(|| Map::<_, _, u8>::new(|x: u8| x, 0..4_u8).chunksize(0));
        let message = *set.unwrap_err().downcast::<&str>().unwrap();
        assert_eq!(message, "chunksize must be at least 1");
        // The pool is unharmed.
        assert_eq!(pool.map(|x: u8| x, 0..4).unwrap(), [0, 1, 2, 3]);
    });
}

#[test]
fn empty_input_resolves_at_once() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let _busy = occupy(&pool, 1); // no worker needed
        let v: Vec<u8> = pool.map_async(|x: u8| x, Vec::new()).await.unwrap();
        assert!(v.is_empty());
        let v: Vec<u8> = pool
            .starmap_async(|a: u8, b: u8| a + b, Vec::new())
            .await
            .unwrap();
        assert!(v.is_empty());
    });
}

#[test]
fn a_panicking_item_is_reported_with_its_index() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        for chunksize in [1, 4, 100] {
            let err = pool
                .run(
                    Map::new(
                        |x: u32| if x == 37 { panic!("bad item {x}") } else { x },
                        0..100,
                    )
                    .chunksize(chunksize),
                )
                .unwrap_err();
            assert!(err.is_panic());
            assert_eq!(err.index(), Some(37), "chunksize {chunksize}");
            assert_eq!(err.panic_message(), Some("bad item 37"));
        }
    });
}

#[test]
fn failure_cancels_chunks_that_have_not_started() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let ran = Counter::new();
        let item_drops = Counter::new();
        let items: Vec<_> = (0..10).map(|i| (i, item_drops.tracked())).collect();
        let r = ran.clone();
        let err = pool
            .run(
                Map::new(
                    move |(i, _t): (u32, common::Tracked)| {
                        r.bump();
                        if i == 0 {
                            panic!("first fails");
                        }
                    },
                    items,
                )
                .chunksize(1),
            )
            .unwrap_err();
        assert_eq!(err.index(), Some(0));
        pool.apply(|| ()).unwrap(); // everything queued before has been handled
        assert_eq!(ran.get(), 1, "later chunks must be cancelled, not run");
        assert_eq!(item_drops.get(), 10, "every item is dropped exactly once");
    });
}

#[test]
fn dropping_a_map_result_cancels_its_queued_chunks() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let busy = occupy(&pool, 1);
        let ran = Counter::new();
        let r = ran.clone();
        let result = pool.spawn(Map::new(move |_: u32| r.bump(), 0..20).chunksize(2));
        drop(result);
        busy.release();
        pool.apply(|| ()).unwrap();
        assert_eq!(ran.get(), 0);
    });
}

#[test]
fn map_async_callback_gets_the_whole_list() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        let work = Map::new(|x: u32| x + 1, 0..5)
            .callback(move |v: &Vec<u32>| tx.send(v.clone()).unwrap());
        pool.spawn(work).detach();
        assert_eq!(rx.recv().unwrap(), [1, 2, 3, 4, 5]);
    });
}

#[test]
fn error_callback_hears_of_a_map_where_every_item_fails() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let calls = Counter::new();
        let c = calls.clone();
        let work = Map::new(|_: u32| -> u32 { panic!("all fail") }, 0..50)
            .chunksize(1)
            .error_callback(move |e: &TaskError| {
                assert!(e.is_panic());
                c.bump();
            });
        // Every item fails: still one error, one callback.
        let mut r = pool.spawn(work);
        assert!(r.get().is_err());
        pool.close();
        pool.join().unwrap();
        assert_eq!(calls.get(), 1);
    });
}

#[test]
fn starmap_unpacks_tuples() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        assert_eq!(
            pool.starmap(|a, b| a * b, vec![(1, 2), (3, 4)]).unwrap(),
            [2, 12]
        );
        assert_eq!(pool.starmap(|a: u8| a, [(1,), (2,)]).unwrap(), [1, 2]);
        let twelve = (1_u64, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12);
        let sum = |a: u64,
                   b: u64,
                   c: u64,
                   d: u64,
                   e: u64,
                   f: u64,
                   g: u64,
                   h: u64,
                   i: u64,
                   j: u64,
                   k: u64,
                   l: u64| { a + b + c + d + e + f + g + h + i + j + k + l };
        assert_eq!(pool.starmap(sum, [twelve]).unwrap(), [78]);
        let err = pool
            .starmap(|a: i32, b: i32| a / b, [(1, 1), (1, 0)])
            .unwrap_err();
        assert_eq!(err.index(), Some(1));
    });
}

#[test]
fn starmap_async_awaits() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let v = pool
            .starmap_async(|s: String, n: usize| s.len() * n, [("ab".to_owned(), 3)])
            .await
            .unwrap();
        assert_eq!(v, [6]);
    });
}

/// An iterator whose size hint claims fewer items than it yields.
struct Liar(std::ops::Range<u32>);
impl Iterator for Liar {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.0.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (3, Some(3))
    }
}

#[test]
fn an_inexact_size_hint_loses_no_items() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        assert_eq!(
            pool.map(|x| x * 2, Liar(0..10)).unwrap(),
            (0..10).map(|x| x * 2).collect::<Vec<_>>()
        );
        // And an iterator with no exact hint at all is collected first.
        let odd = (0..50_u32).filter(|x| x % 2 == 1);
        assert_eq!(pool.map(|x| x, odd).unwrap().len(), 25);
    });
}

#[test]
fn a_running_chunk_stops_early_when_its_map_is_dropped() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let drops = Counter::new();
        let d = drops.clone();
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let r = pool.spawn(
            Map::new(
                move |i: u32| {
                    if i == 0 {
                        started_tx.send(()).unwrap();
                        go_rx.lock().unwrap().recv().unwrap();
                    }
                    d.tracked()
                },
                0..2,
            )
            .chunksize(2),
        );
        started_rx.recv().unwrap();
        drop(r);
        go_tx.send(()).unwrap();
        pool.close();
        pool.join().unwrap();
        // The map was dropped while item 0 ran: the chunk stops after it
        // (item 1 never runs) and the one value made is dropped once.
        assert_eq!(drops.get(), 1);
    });
}

#[test]
fn values_made_before_a_panic_in_the_same_chunk_are_dropped_once() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let drops = Counter::new();
        let d = drops.clone();
        let err = pool
            .run(
                Map::new(
                    move |i: u32| {
                        if i == 3 {
                            panic!("item 3");
                        }
                        d.tracked()
                    },
                    0..200,
                )
                .chunksize(200),
            )
            .unwrap_err();
        assert_eq!(err.index(), Some(3));
        assert_eq!(
            drops.get(),
            3,
            "items 0, 1 and 2 made a value each, dropped once"
        );
    });
}
