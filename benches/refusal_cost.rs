//! The cost of one refusal on a full pool, door by door: `try_reserve`,
//! `offer`, and `PoolService` under tower's `LoadShed` (what the example
//! web service answers a 503 with), and the parts of the last one.
//!
//! Run: `cargo run --release -p corepool-benches --example refusal_cost`
//!
//! A pool of 1 worker held busy and 1 queue place taken; 10^6 refusals a
//! measurement, 3 rounds, on a current-thread runtime.

use std::future::Future;
use std::time::{Duration, Instant};
use tower::{Service, ServiceBuilder, ServiceExt};

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let pool = corepool::Pool::builder()
        .workers(1)
        .queue_capacity(1)
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let hold = pool.spawn(move || rx.recv().ok());
    while pool.metrics().busy_workers == 0 {
        std::thread::sleep(Duration::from_millis(1));
    }
    let queued = pool.spawn(|| None::<()>);
    assert!(pool.try_reserve().unwrap_err().is_full());
    let n = 1_000_000u32;
    for round in 0..3 {
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(pool.try_reserve().is_err());
        }
        let reserve = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            std::hint::black_box(pool.offer(|| ()).is_err());
        }
        let offer = t.elapsed() / n;
        let svc = corepool::PoolService::new(pool.clone(), |x: u64| x);
        let t = Instant::now();
        for _ in 0..n {
            let mut s = ServiceBuilder::new().load_shed().service(svc.clone());
            let r = s.ready().await.unwrap().call(1).await;
            assert!(r.is_err());
        }
        let shed = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            let mut s = ServiceBuilder::new()
                .load_shed()
                .timeout(Duration::from_secs(10))
                .service(svc.clone());
            let r = s.ready().await.unwrap().call(1).await;
            assert!(r.is_err());
        }
        let shed_timeout = t.elapsed() / n;
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let t = Instant::now();
        for _ in 0..n {
            let mut s = svc.clone();
            assert!(Service::<u64>::poll_ready(&mut s, &mut cx).is_pending());
        }
        let poll_ready = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            let s = svc.clone();
            std::hint::black_box(&s);
        }
        let clone = t.elapsed() / n;
        let t = Instant::now();
        for _ in 0..n {
            let mut r = pool.reserve();
            assert!(std::pin::Pin::new(&mut r).poll(&mut cx).is_pending());
        }
        let reserve_future = t.elapsed() / n;
        println!(
            "  PoolService clone+drop {clone:?}, clone + poll_ready (Pending) + drop {poll_ready:?}, Pool::reserve() polled once + dropped {reserve_future:?}"
        );
        println!(
            "round {round}: try_reserve refused {reserve:?}, offer refused {offer:?}, LoadShed<PoolService> refused {shed:?}, LoadShed<Timeout<PoolService>> refused {shed_timeout:?}"
        );
    }
    tx.send(()).unwrap();
    let _ = (hold.await, queued.await);
}
