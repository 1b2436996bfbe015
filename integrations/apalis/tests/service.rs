//! `CpuService` without Redis: readiness is the pool's room, and dropping
//! the response future cancels the job.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::task::Poll;
use std::time::Duration;

use apalis::prelude::Task;
use corepool_apalis::CpuService;
use futures::task::noop_waker_ref;
use tower::{Service, ServiceExt};

const LIMIT: Duration = Duration::from_secs(10);

/// A pool of 1 worker and a queue of 1, whose worker is busy until the
/// returned sender sends (or is dropped).
fn busy_pool() -> (corepool::Pool, mpsc::Sender<()>) {
    let pool = corepool::Pool::builder()
        .workers(1)
        .queue_capacity(1)
        .build()
        .unwrap();
    let (release, hold) = mpsc::channel::<()>();
    let (started, has_started) = mpsc::channel();
    pool.spawn(move || {
        started.send(()).unwrap();
        let _ = hold.recv();
    })
    .detach();
    has_started.recv_timeout(LIMIT).unwrap();
    (pool, release)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_the_pool_is_full_and_ready_when_room_frees() {
    let (pool, release) = busy_pool();
    let mut service = CpuService::new(pool, |x: u32| x + 1);
    // The queue's one place: ready, and the call takes it.
    let queued = service.ready().await.unwrap().call(Task::new(1));
    // Full: not ready.
    let mut cx = std::task::Context::from_waker(noop_waker_ref());
    assert!(service.poll_ready(&mut cx).is_pending());
    // The busy job ends, the queued one starts: its place frees.
    release.send(()).unwrap();
    let ready = tokio::time::timeout(LIMIT, service.ready()).await;
    assert!(ready.expect("ready once the queue has room").is_ok());
    assert_eq!(
        tokio::time::timeout(LIMIT, queued).await.unwrap().unwrap(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_response_future_cancels_the_job() {
    let (pool, release) = busy_pool();
    let ran = Arc::new(AtomicBool::new(false));
    let flag = ran.clone();
    let mut service = CpuService::new(pool.clone(), move |()| flag.store(true, Ordering::SeqCst));
    let queued = service.ready().await.unwrap().call(Task::new(()));
    drop(queued); // a timeout, a shutdown: nobody wants the result
    release.send(()).unwrap();
    // The pool drains: the dropped job was skipped, never run.
    pool.close();
    tokio::time::timeout(LIMIT, pool.join_async())
        .await
        .unwrap()
        .unwrap();
    assert!(!ran.load(Ordering::SeqCst));
    assert_eq!(pool.metrics().cancelled, 1);
}

#[tokio::test]
async fn a_closed_pool_is_an_error_not_a_hang() {
    let pool = corepool::Pool::builder()
        .workers(1)
        .queue_capacity(1)
        .build()
        .unwrap();
    pool.close();
    let mut service = CpuService::new(pool, |x: u8| x);
    let mut cx = std::task::Context::from_waker(noop_waker_ref());
    assert!(matches!(service.poll_ready(&mut cx), Poll::Ready(Err(_))));
}
