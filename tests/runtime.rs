//! Where the sync forms may be called: plain threads, inside tokio runtimes,
//! and on the pool's own workers.

use crate::common;

use std::sync::mpsc;

use common::{Counter, occupy, on_tokio, within};
use corepool::Pool;

#[test]
fn sync_forms_inside_a_multi_thread_runtime_neither_panic_nor_starve_it() {
    within(|| {
        // One runtime worker. The job waits for a message that only a task
        // on that runtime can send: if `apply` blocked the worker without
        // handing the runtime's work to another thread, the relay could not
        // run and the job would report that it waited in vain.
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = Pool::new(1).unwrap();
            let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
            let (done_tx, done_rx) = mpsc::channel::<()>();
            let relay = tokio::spawn(async move {
                go_rx.await.unwrap();
                done_tx.send(()).unwrap();
            });
            let blocker = tokio::spawn({
                let pool = pool.clone();
                async move {
                    let relayed = pool.apply(move || {
                        go_tx.send(()).unwrap();
                        done_rx.recv_timeout(common::LIMIT / 4).is_ok()
                    });
                    let m = pool.map(|x: u8| x, [1, 2]);
                    let r = pool.apply_async(|| 5).get(); // AsyncResult::get too
                    (relayed.unwrap(), m.unwrap(), r.unwrap())
                }
            });
            let (relayed, m, r) = blocker.await.unwrap();
            assert!(relayed, "the runtime was starved while apply blocked");
            assert_eq!((m, r), (vec![1, 2], 5));
            relay.await.unwrap();
        });
    });
}

#[test]
fn sync_forms_in_a_local_set_on_a_multi_thread_runtime_block_safely() {
    within(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        let pool = Pool::new(1).unwrap();
        let p = pool.clone();
        let (main, spawned) = local
            .block_on(&rt, async move {
                // `block_in_place` panics in both places; corepool must not.
                let main = p.apply(|| 1).unwrap() + p.map(|x: u8| x, [1])?[0] as i32;
                let q = p.clone();
                let spawned = tokio::task::spawn_local(async move {
                    let mut r = q.apply_async(|| 3);
                    (q.apply(|| 2).unwrap(), r.get().unwrap())
                })
                .await
                .unwrap();
                Ok::<_, corepool::WaitError>((main, spawned))
            })
            .unwrap();
        assert_eq!((main, spawned), (2, (2, 3)));
    });
}

#[test]
fn sync_forms_work_on_spawn_blocking_threads_of_both_runtime_flavors() {
    within(|| {
        for rt in [
            tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap(),
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .build()
                .unwrap(),
        ] {
            let pool = Pool::new(1).unwrap();
            let got = rt.block_on(async move {
                tokio::task::spawn_blocking(move || {
                    let mut r = pool.apply_async(|| 4);
                    let m = pool.map(|x: u8| x, [2])?[0];
                    Ok::<_, corepool::WaitError>((pool.apply(|| 1)?, m, r.get()?))
                })
                .await
                .unwrap()
            });
            assert_eq!(got.unwrap(), (1, 2, 4));
        }
    });
}

#[test]
fn get_refused_on_a_current_thread_runtime_keeps_the_result() {
    within(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = Pool::new(1).unwrap();
            let mut r = pool.apply_async(|| 6 * 7);
            let err = r.get().unwrap_err();
            assert!(err.would_deadlock().is_some(), "{err}");
            // Nothing was consumed or cancelled: the value is still there.
            assert_eq!(r.await.unwrap(), 42);
        });
    });
}

#[test]
fn sync_forms_inside_a_current_thread_runtime_refuse_and_submit_nothing() {
    within(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = Pool::new(1).unwrap();
            let ran = Counter::new();
            let r = ran.clone();
            let err = pool.apply(move || r.bump()).unwrap_err();
            assert!(err.would_deadlock().is_some(), "{err}");
            assert!(err.to_string().contains("current_thread"), "{err}");
            let r = ran.clone();
            let err = pool.map(move |_: u8| r.bump(), [1, 2]).unwrap_err();
            assert!(err.would_deadlock().is_some(), "{err}");
            // The worker is held busy, so the stream's item is not ready at
            // the first `next` (an item already produced would be handed out
            // without waiting, which is allowed anywhere).
            let busy = occupy(&pool, 1);
            let mut it = pool.imap(|x: u8| x, [1]).into_blocking_iter();
            let err = it.next().unwrap().unwrap_err();
            assert!(err.would_deadlock().is_some(), "{err}");
            assert!(it.next().is_none());
            busy.release();
            pool.close();
            assert!(pool.join().unwrap_err().would_deadlock().is_some());
            // The async forms are the way here.
            pool.join_async().await.unwrap();
            assert_eq!(ran.get(), 0);
        });
    });
}

#[test]
fn async_forms_work_in_a_current_thread_runtime() {
    within(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = Pool::new(2).unwrap();
            assert_eq!(pool.apply_async(|| 2).await.unwrap(), 2);
            assert_eq!(pool.map_async(|x: u8| x * 2, [1, 2]).await.unwrap(), [2, 4]);
        });
    });
}

#[test]
fn workers_never_run_on_runtime_threads() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        // Awaited from a task on a runtime worker thread...
        let names = tokio::spawn({
            let pool = pool.clone();
            async move {
                assert!(
                    tokio::runtime::Handle::try_current().is_ok(),
                    "awaited inside the runtime"
                );
                let name = || std::thread::current().name().unwrap_or_default().to_owned();
                pool.map_async(move |_: u32| name(), 0..64).await.unwrap()
            }
        })
        .await
        .unwrap();
        // ...the work ran on the pool's own threads.
        assert!(
            names.iter().all(|n| n.starts_with("corepool-worker-")),
            "{names:?}"
        );
        let in_runtime = pool
            .apply_async(|| tokio::runtime::Handle::try_current().is_ok())
            .await
            .unwrap();
        assert!(
            !in_runtime,
            "workers are plain threads, outside the runtime"
        );
    });
}

#[test]
fn sync_calls_from_every_worker_of_a_saturated_pool_do_not_deadlock() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let inner = pool.clone();
        // Every worker runs a task that blocks on a map of the same pool:
        // without help-while-waiting this would deadlock.
        let outer = pool
            .run(
                corepool::Map::new(
                    move |i: u64| {
                        inner
                            .map(move |x: u64| x + i, 0..50)
                            .unwrap()
                            .into_iter()
                            .sum::<u64>()
                    },
                    0..8,
                )
                .chunksize(1),
            )
            .unwrap();
        let expected: Vec<u64> = (0..8).map(|i| (0..50).map(|x| x + i).sum()).collect();
        assert_eq!(outer, expected);
    });
}

#[test]
fn nested_apply_and_get_on_a_one_worker_pool() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let inner = pool.clone();
        let v = pool
            .apply(move || {
                let mut r = inner.apply_async(|| 20);
                let nested = inner.apply(|| 1).unwrap();
                r.get().unwrap() + nested
            })
            .unwrap();
        assert_eq!(v, 21);
    });
}

#[test]
fn blocking_on_another_pool_from_a_worker_just_waits() {
    within(|| {
        let a = Pool::new(1).unwrap();
        let b = Pool::new(1).unwrap();
        let v = a.apply(move || b.apply(|| 7).unwrap()).unwrap();
        assert_eq!(v, 7);
    });
}

#[test]
fn results_cross_runtimes() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let r = pool.apply_async(|| 3);
        // Awaited on a runtime created after the submission, on another thread.
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            tx.send(rt.block_on(r).unwrap()).unwrap();
        });
        assert_eq!(rx.recv().unwrap(), 3);
    });
}
