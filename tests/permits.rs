//! Capacity permits: a permit holds one place; work submitted through it
//! is never refused for lack of room; a dropped permit gives its place
//! back; `reserve` waits for room and wakes when a place frees.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Counter, bounded, occupy, on_tokio, within};
use corepool::{Cancellation, Map, Pool, ReserveError};

#[test]
fn a_permit_holds_a_place_and_its_work_is_never_refused() {
    within(|| {
        let pool = bounded(1, 2);
        let busy = occupy(&pool, 1);
        let first = pool.try_reserve().unwrap();
        let second = pool.try_reserve().unwrap();
        let m = pool.metrics();
        assert_eq!(
            (m.queued, m.reserved),
            (0, 2),
            "held places are not queued jobs"
        );
        assert_eq!(pool.try_reserve().unwrap_err(), ReserveError::Full);
        assert!(pool.offer(|| ()).is_err(), "offer sees the held places");
        // Spending a permit while the queue is full is not refused.
        let mut a = first.spawn(|| 1);
        let mut b = second.spawn(|| 2);
        let m = pool.metrics();
        assert_eq!((m.queued, m.reserved), (2, 0), "spent: two jobs wait");
        busy.release();
        assert_eq!((a.get().unwrap(), b.get().unwrap()), (1, 2));
        assert_eq!(pool.metrics().rejected, 1, "only the offer was refused");
    });
}

#[test]
fn a_dropped_permit_gives_its_place_back() {
    within(|| {
        let pool = bounded(1, 1);
        let held = pool.try_reserve().unwrap();
        assert!(pool.try_reserve().is_err());
        assert_eq!(pool.metrics().reserved, 1);
        drop(held);
        assert_eq!((pool.metrics().queued, pool.metrics().reserved), (0, 0));
        let again = pool.try_reserve().unwrap();
        assert_eq!(again.spawn(|| 5).get().unwrap(), 5);
        let m = pool.metrics();
        assert_eq!((m.submitted, m.completed, m.queued), (1, 1, 0));
    });
}

#[test]
fn reserve_waits_for_room_and_wakes_when_a_place_frees() {
    on_tokio(|| async {
        let pool = bounded(1, 1);
        let held = pool.try_reserve().unwrap();
        let waiter = tokio::spawn({
            let pool = pool.clone();
            async move { pool.reserve().await.map(|p| p.spawn(|| 9)) }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiter.is_finished(), "no room: it waits");
        drop(held);
        let result = waiter.await.unwrap().unwrap();
        assert_eq!(result.await.unwrap(), 9);
    });
}

#[test]
fn reserve_and_permits_after_close() {
    on_tokio(|| async {
        let pool = bounded(1, 1);
        let held = pool.try_reserve().unwrap();
        let waiter = tokio::spawn({
            let pool = pool.clone();
            async move { pool.reserve().await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        pool.close();
        assert_eq!(waiter.await.unwrap(), Err(ReserveError::Closed));
        assert_eq!(pool.try_reserve().unwrap_err(), ReserveError::Closed);
        // A permit taken before the close resolves as cancelled, not lost.
        let err = held.spawn(|| 1).await.unwrap_err();
        assert_eq!(err.cancellation(), Some(Cancellation::PoolClosed));
        assert_eq!(pool.metrics().queued, 0);
    });
}

#[test]
fn a_map_through_a_permit_is_admitted_whole() {
    within(|| {
        let pool = bounded(2, 2);
        let busy = occupy(&pool, 2);
        let permit = pool.try_reserve().unwrap();
        let other = pool.try_reserve().unwrap(); // the queue is full now
        let mut doubled = permit.spawn(Map::new(|x: u32| x * 2, 0..40).chunksize(4));
        let m = pool.metrics();
        assert_eq!(
            (m.queued, m.reserved),
            (10, 1),
            "ten chunks on one permit, and the other"
        );
        drop(other);
        busy.release();
        assert_eq!(
            doubled.get().unwrap(),
            (0..40).map(|x| x * 2).collect::<Vec<_>>()
        );
        assert_eq!(pool.metrics().queued, 0);
        // An empty map gives the permit's place back.
        let permit = pool.try_reserve().unwrap();
        assert!(
            permit
                .spawn(Map::new(|x: u8| x, Vec::new()))
                .get()
                .unwrap()
                .is_empty()
        );
        assert_eq!(pool.metrics().queued, 0);
    });
}

#[test]
fn submitters_through_permits_never_exceed_the_capacity() {
    on_tokio(|| async {
        const CAPACITY: usize = 4;
        let pool = bounded(2, CAPACITY);
        let most = Arc::new(AtomicUsize::new(0));
        let ran = Counter::new();
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (pool, most, ran) = (pool.clone(), most.clone(), ran.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..50 {
                    let permit = pool.reserve().await.unwrap();
                    most.fetch_max(pool.metrics().queued, Ordering::SeqCst);
                    let ran = ran.clone();
                    permit
                        .spawn(move || {
                            std::thread::sleep(Duration::from_micros(100));
                            ran.bump();
                        })
                        .await
                        .unwrap();
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(ran.get(), 400, "every permit's work ran");
        assert!(most.load(Ordering::SeqCst) <= CAPACITY);
        let m = pool.metrics();
        assert_eq!((m.rejected, m.completed, m.queued), (0, 400, 0));
    });
}

#[test]
fn permits_and_their_future_can_be_shared_between_threads() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    let pool = bounded(1, 1);
    let reserving = pool.reserve();
    send_sync(&reserving);
    let permit = futures::executor::block_on(reserving).unwrap();
    send_sync(&permit);
    assert_eq!(permit.spawn(|| 1).get().unwrap(), 1);
}

#[test]
fn an_unspent_permit_does_not_keep_the_pool_from_shutting_down() {
    within(|| {
        let starts = Counter::new();
        let s = starts.clone();
        let pool = Pool::builder()
            .workers(2)
            .queue_capacity(2)
            .initializer(move || s.bump())
            .build()
            .unwrap();
        let held = pool.try_reserve().unwrap();
        pool.close();
        pool.join().unwrap(); // returns although a place is still held
        assert_eq!(starts.get(), 2, "no worker was replaced");
        let err = held.spawn(|| 1).get().unwrap_err();
        assert_eq!(err.cancellation(), Some(Cancellation::PoolClosed));
    });
}

#[test]
fn a_permit_whose_work_panics_at_submission_gives_its_place_back() {
    within(|| {
        struct Exploding;
        impl IntoIterator for Exploding {
            type Item = u8;
            type IntoIter = std::vec::IntoIter<u8>;
            fn into_iter(self) -> Self::IntoIter {
                panic!("no items today")
            }
        }
        let pool = bounded(1, 1);
        let permit = pool.try_reserve().unwrap();
        let spent = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
            permit.spawn(Map::new(|x: u8| x, Exploding))
        }));
        assert!(spent.is_err(), "the caller's own panic, at the call");
        assert_eq!(pool.metrics().reserved, 0);
        assert!(pool.try_reserve().is_ok(), "the place came back");
    });
}

#[test]
fn an_unspent_permit_is_not_a_queued_job_for_the_wait_target() {
    within(|| {
        let pool = Pool::builder()
            .workers(1)
            .queue_wait_target(Duration::from_millis(10))
            .build()
            .unwrap();
        pool.apply(|| std::thread::sleep(Duration::from_millis(50)))
            .unwrap();
        let _held = pool.try_reserve().unwrap();
        // Nothing is queued: a new job can expect no wait.
        assert_eq!(pool.offer(|| 7).unwrap().get().unwrap(), 7);
    });
}
