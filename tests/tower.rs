//! `PoolService` under tower's middleware (cargo feature `tower`): a full
//! pool is `Overloaded` at once under `LoadShed`; a timed-out request
//! cancels its job, queued or running.
#![cfg(feature = "tower")]

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{Counter, LIMIT, bounded, on_tokio};
use corepool::{Pool, PoolService};
use tower::{Service, ServiceBuilder, ServiceExt};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[test]
fn a_full_pool_is_overloaded_at_once_under_load_shed() {
    on_tokio(|| async {
        let pool = bounded(1, 1);
        let (release, hold) = mpsc::channel::<()>();
        let hold = std::sync::Mutex::new(hold);
        let service = PoolService::new(pool.clone(), move |block: bool| {
            if block {
                let _ = hold.lock().unwrap().recv();
            }
            1
        });
        let mut shed = ServiceBuilder::new().load_shed().service(service);
        // One running, one queued: the pool is full.
        let running = shed.ready().await.unwrap().call(true);
        let eventually = std::time::Instant::now() + LIMIT;
        while pool.metrics().busy_workers == 0 {
            assert!(std::time::Instant::now() < eventually);
            tokio::task::yield_now().await;
        }
        let queued = shed.ready().await.unwrap().call(false);
        let refused: Result<u32, BoxError> = shed.ready().await.unwrap().call(false).await;
        let err = refused.unwrap_err();
        assert!(err.is::<tower::load_shed::error::Overloaded>(), "{err}");
        release.send(()).unwrap();
        assert_eq!(running.await.unwrap(), 1);
        assert_eq!(queued.await.unwrap(), 1);
        // Room again: ready, and served.
        assert_eq!(shed.ready().await.unwrap().call(false).await.unwrap(), 1);
    });
}

#[test]
fn poll_ready_waits_for_room_and_wakes() {
    on_tokio(|| async {
        let pool = bounded(1, 1);
        let held = pool.try_reserve().unwrap();
        let mut service = PoolService::new(pool.clone(), |x: u32| x + 1);
        let ready = tokio::spawn(async move {
            service.ready().await.unwrap();
            service.call(1).await.unwrap()
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!ready.is_finished(), "not ready while the queue is full");
        drop(held);
        assert_eq!(ready.await.unwrap(), 2);
    });
}

#[test]
fn a_timed_out_request_never_runs_if_queued() {
    on_tokio(|| async {
        let pool = bounded(1, 4);
        let busy = common::occupy(&pool, 1);
        let ran = Counter::new();
        let r = ran.clone();
        let service = PoolService::new(pool.clone(), move |()| r.bump());
        let mut timed = ServiceBuilder::new()
            .timeout(Duration::from_millis(20))
            .service(service);
        let err = timed.ready().await.unwrap().call(()).await.unwrap_err();
        assert!(err.is::<tower::timeout::error::Elapsed>(), "{err}");
        busy.release();
        pool.close();
        pool.join_async().await.unwrap();
        assert_eq!(ran.get(), 0, "the queued job was cancelled, not run");
        assert_eq!(pool.metrics().cancelled, 1);
    });
}

#[test]
fn a_timed_out_request_stops_a_running_job() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let (saw_tx, saw) = mpsc::channel();
        let service = PoolService::new(pool.clone(), move |()| {
            while !corepool::is_cancelled() {
                std::thread::sleep(Duration::from_millis(1));
            }
            saw_tx.send(corepool::cancellation()).unwrap();
        });
        let mut timed = ServiceBuilder::new()
            .timeout(Duration::from_millis(20))
            .service(service);
        let err = timed.ready().await.unwrap().call(()).await.unwrap_err();
        assert!(err.is::<tower::timeout::error::Elapsed>(), "{err}");
        let why = saw.recv_timeout(LIMIT).unwrap();
        assert_eq!(why, Some(corepool::Cancellation::Abandoned));
    });
}

#[test]
fn poll_ready_fails_once_the_pool_is_closed() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let mut service = PoolService::new(pool.clone(), |x: u8| x);
        pool.close();
        let err = service.ready().await.unwrap_err();
        assert_eq!(err.cancellation(), Some(corepool::Cancellation::PoolClosed));
    });
}

#[test]
fn the_service_can_live_in_shared_state() {
    // axum's `State` needs `Send + Sync + Clone`.
    fn shared_state<T: Send + Sync + Clone + 'static>(_: &T) {}
    let pool = bounded(1, 1);
    let _held = pool.try_reserve().unwrap();
    let mut service = PoolService::new(pool, |x: u8| x);
    // Not ready (full): it holds a `Reserve` now, and is still shareable.
    let waker = futures::task::noop_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(service.poll_ready(&mut cx).is_pending());
    shared_state(&service);
}
