//! Bounded queues: what each way of submitting does when the queue is
//! full, and that nothing is ever queued beyond the bound.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use common::{Counter, LIMIT, bounded, occupy, on_tokio, within};
use corepool::{Apply, Cancellation, Map, Pool, SubmitError, TaskError};
use futures::StreamExt;

#[test]
fn offer_refuses_at_once_and_hands_the_closure_back() {
    within(|| {
        let pool = bounded(1, 2);
        let busy = occupy(&pool, 1);
        let ran = Counter::new();
        let accepted: Vec<_> = (0..2)
            .map(|i| {
                let r = ran.clone();
                pool.offer(move || {
                    r.bump();
                    i
                })
                .expect("room for two")
            })
            .collect();
        assert_eq!(pool.metrics().queued, 2);
        let r = ran.clone();
        match pool.offer(move || {
            r.bump();
            99
        }) {
            Err(SubmitError::Full(f)) => assert_eq!(f(), 99, "handed back, runnable"),
            other => panic!("{other:?}"),
        }
        assert_eq!(ran.get(), 1, "only the handed-back closure ran, here");
        busy.release();
        let got: Vec<i32> = accepted.into_iter().map(|mut r| r.get().unwrap()).collect();
        assert_eq!(got, [0, 1]);
        pool.close();
        assert!(pool.offer(|| ()).unwrap_err().is_closed());
    });
}

#[test]
fn apply_async_on_a_full_queue_is_shed_before_it_starts() {
    within(|| {
        let pool = bounded(1, 1);
        let busy = occupy(&pool, 1);
        let queued = pool.apply_async(|| 1);
        let (tx, rx) = mpsc::channel();
        let ran = Counter::new();
        let r = ran.clone();
        let mut shed = pool.spawn(
            Apply::new(move || r.bump())
                .error_callback(move |e: &TaskError| tx.send(e.cancellation()).unwrap()),
        );
        let err = shed.get().unwrap_err();
        assert_eq!(
            err.task_error().unwrap().cancellation(),
            Some(Cancellation::QueueFull)
        );
        assert_eq!(rx.recv().unwrap(), Some(Cancellation::QueueFull));
        busy.release();
        let mut queued = queued;
        assert_eq!(queued.get().unwrap(), 1);
        assert_eq!(ran.get(), 0, "shed work never runs");
    });
}

#[test]
fn submit_waits_for_room_and_dropping_it_submits_nothing() {
    on_tokio(|| async {
        let pool = bounded(1, 1);
        let busy = occupy(&pool, 1);
        let first = pool.submit(|| 1).await.unwrap();
        // The queue is full: this one waits.
        let ran = Counter::new();
        let r = ran.clone();
        let mut waiting = Box::pin(pool.submit(move || {
            r.bump();
            2
        }));
        assert!(futures::FutureExt::now_or_never(waiting.as_mut()).is_none());
        drop(waiting); // cancel safe: nothing was submitted
        let third = {
            let p = pool.clone();
            tokio::spawn(async move { p.submit(|| 3).await.unwrap().await.unwrap() })
        };
        busy.release();
        assert_eq!(first.await.unwrap(), 1);
        assert_eq!(third.await.unwrap(), 3);
        pool.close();
        pool.join_async().await.unwrap();
        assert_eq!(ran.get(), 0, "the dropped submission never ran");
    });
}

#[test]
fn a_map_that_does_not_fit_is_shed_and_nothing_exceeds_the_bound() {
    within(|| {
        let pool = bounded(2, 4);
        let busy = occupy(&pool, 2);
        let mut map = pool.spawn(Map::new(|x: u32| x, 0..10).chunksize(1));
        assert!(pool.metrics().queued <= 4);
        busy.release();
        let err = map.get().unwrap_err();
        assert_eq!(
            err.task_error().unwrap().cancellation(),
            Some(Cancellation::QueueFull)
        );
        // The shed map's queued chunks are skipped as the workers reach them;
        // once they have, a map that fits runs as usual.
        let deadline = std::time::Instant::now() + LIMIT;
        while pool.metrics().queued > 0 && std::time::Instant::now() < deadline {
            std::thread::yield_now();
        }
        assert_eq!(pool.map(|x: u32| x * 2, 0..4).unwrap(), [0, 2, 4, 6]);
    });
}

#[test]
fn a_default_map_fits_the_free_room_instead_of_being_shed() {
    within(|| {
        // 2 workers would cut a default map into 32 chunks; the queue holds 2.
        let pool = bounded(2, 2);
        let doubled = pool.map(|x: u64| x * 2, 0..10_000_u64).unwrap();
        assert_eq!(doubled, (0..10_000).map(|x| x * 2).collect::<Vec<_>>());
        let sums = pool
            .starmap(|a: u64, b: u64| a + b, (0..1_000_u64).map(|i| (i, i)))
            .unwrap();
        assert_eq!(sums[999], 1_998);
        // An input of unknown length is counted before it is cut.
        let evens = pool
            .map(|x: u64| x, (0..10_000_u64).filter(|x| x % 2 == 0))
            .unwrap();
        assert_eq!(evens.len(), 5_000);
        // Both workers busy and one place taken: the map goes in one chunk.
        let busy = occupy(&pool, 2);
        let queued = pool.apply_async(|| 0_u64);
        let mut map = pool.map_async(|x: u64| x + 1, 0..100_u64);
        assert!(pool.metrics().queued <= 2);
        // Queue full: shed.
        let mut shed = pool.map_async(|x: u64| x, 0..100_u64);
        assert_eq!(
            shed.get().unwrap_err().task_error().unwrap().cancellation(),
            Some(Cancellation::QueueFull)
        );
        busy.release();
        assert_eq!(map.get().unwrap(), (1..=100).collect::<Vec<_>>());
        drop(queued);
    });
}

#[test]
fn imap_waits_for_room_instead_of_shedding() {
    on_tokio(|| async {
        let pool = bounded(2, 2);
        let max_queued = Arc::new(AtomicUsize::new(0));
        let (p, m) = (pool.clone(), max_queued.clone());
        let out: Vec<u64> = pool
            .imap(
                move |x: u64| {
                    m.fetch_max(p.metrics().queued, Ordering::SeqCst);
                    x + 1
                },
                0..500,
            )
            .chunksize(1)
            .map(Result::unwrap)
            .collect()
            .await;
        assert_eq!(out, (1..=500).collect::<Vec<_>>());
        assert!(
            max_queued.load(Ordering::SeqCst) <= 2,
            "never beyond the bound"
        );
    });
}

#[test]
fn many_tasks_offering_at_once_never_overfill_the_queue() {
    on_tokio(|| async {
        let pool = bounded(2, 8);
        let busy = occupy(&pool, 2);
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let p = pool.clone();
                tokio::spawn(async move { p.offer(move || i).map_err(|e| e.is_full()) })
            })
            .collect();
        let mut accepted = Vec::new();
        let mut full = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(r) => accepted.push(r),
                Err(true) => full += 1,
                Err(false) => panic!("closed?"),
            }
        }
        assert_eq!(accepted.len(), 8, "exactly the capacity was accepted");
        assert_eq!(full, 56);
        assert!(pool.metrics().queued <= 8);
        busy.release();
        for r in accepted {
            tokio::time::timeout(LIMIT, r).await.unwrap().unwrap();
        }
    });
}

#[test]
fn a_capacity_of_zero_is_a_build_error() {
    let err = Pool::builder().queue_capacity(0).build().unwrap_err();
    assert_eq!(err.to_string(), "queue_capacity must be at least 1");
}

#[test]
fn a_capacity_meant_as_no_bound_is_a_build_error_not_an_abort() {
    // A bounded queue allocates its slots at build: these would overflow or
    // exhaust memory there.
    for capacity in [usize::MAX, 1 << 40, corepool::MAX_QUEUE_CAPACITY + 1] {
        let err = Pool::builder()
            .workers(1)
            .queue_capacity(capacity)
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "a queue_capacity of {capacity} is more than a queue may have (at most {})",
                corepool::MAX_QUEUE_CAPACITY
            )
        );
    }
    within(|| {
        let pool = Pool::builder()
            .workers(1)
            .queue_capacity(corepool::MAX_QUEUE_CAPACITY)
            .build()
            .unwrap();
        assert_eq!(pool.apply(|| 7).unwrap(), 7);
    });
}
