//! Building, close, terminate, join, and dropping the last handle.

use crate::common;

use std::sync::mpsc;
use std::time::Duration;

use common::{Counter, occupy, on_tokio, within};
use corepool::{Cancellation, Pool};

#[test]
fn zero_workers_is_a_build_error() {
    let err = Pool::new(0).unwrap_err();
    assert!(err.to_string().contains("at least one worker"), "{err}");
    assert!(Pool::builder().workers(0).build().is_err());
}

#[test]
fn default_workers_is_the_cpu_count() {
    within(|| {
        let pool = Pool::builder().build().unwrap();
        assert_eq!(pool.workers(), corepool::cpu_count());
    });
}

#[test]
fn initializer_runs_once_per_worker_before_any_task() {
    within(|| {
        thread_local!(static READY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
        let inits = Counter::new();
        let i = inits.clone();
        let pool = Pool::builder()
            .workers(3)
            .initializer(move || {
                i.bump();
                READY.with(|r| r.set(true));
            })
            .build()
            .unwrap();
        assert_eq!(inits.get(), 3);
        let ready = pool.map(|_: u32| READY.with(|r| r.get()), 0..30).unwrap();
        assert!(ready.into_iter().all(|r| r));
    });
}

#[test]
fn initializer_panic_fails_the_build_without_respawning() {
    within(|| {
        let calls = Counter::new();
        let c = calls.clone();
        let err = Pool::builder()
            .workers(2)
            .initializer(move || {
                c.bump();
                panic!("cannot connect");
            })
            .build()
            .unwrap_err();
        assert!(err.is_initializer_panic());
        assert!(err.to_string().contains("cannot connect"), "{err}");
        // `build` joined every thread it started before returning, so this
        // count is final: nothing is left that could respawn a worker.
        assert_eq!(calls.get(), 2, "each worker tried once; none was respawned");
    });
}

#[test]
fn submissions_after_close_get_a_clear_error() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        pool.close();
        assert!(pool.is_closed());
        let ran = Counter::new();
        let r = ran.clone();
        let closed = Some(Cancellation::PoolClosed);
        let err = pool.apply(move || r.bump()).unwrap_err();
        assert_eq!(err.task_error().unwrap().cancellation(), closed);
        assert!(err.to_string().contains("closed"), "{err}");
        let err = pool.map(|x: u8| x, [1]).unwrap_err();
        assert_eq!(err.task_error().unwrap().cancellation(), closed);
        let err = pool.starmap(|a: u8, b: u8| a + b, [(1, 2)]).unwrap_err();
        assert_eq!(err.task_error().unwrap().cancellation(), closed);
        assert_eq!(ran.get(), 0);
    });
}

#[test]
fn close_lets_queued_work_finish() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let busy = occupy(&pool, 1);
        let results: Vec<_> = (0..10).map(|i| pool.apply_async(move || i)).collect();
        pool.close();
        busy.release();
        pool.join().unwrap();
        let got: Vec<i32> = results.into_iter().map(|mut r| r.get().unwrap()).collect();
        assert_eq!(got, (0..10).collect::<Vec<_>>());
    });
}

#[test]
fn join_before_close_is_an_error() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let err = pool.join().unwrap_err();
        assert!(err.is_not_closed());
        assert!(err.to_string().contains("before close"), "{err}");
        // The pool is still usable.
        assert_eq!(pool.apply(|| 3).unwrap(), 3);
        pool.close();
        pool.join().unwrap();
        pool.join().unwrap(); // idempotent
    });
}

#[test]
fn terminate_cancels_queued_work_and_lets_running_work_finish() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let mut running = pool.apply_async(move || {
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            "finished"
        });
        started_rx.recv().unwrap();
        let ran = Counter::new();
        let drops = Counter::new();
        let queued: Vec<_> = (0..5)
            .map(|_| {
                let (r, t) = (ran.clone(), drops.tracked());
                pool.apply_async(move || {
                    let _t = &t;
                    r.bump();
                })
            })
            .collect();
        pool.terminate();
        // gh-79659: pending results resolve at once, they do not hang.
        for mut r in queued {
            assert!(r.get().unwrap_err().is_cancelled());
        }
        assert_eq!(drops.get(), 5, "queued closures dropped exactly once");
        go_tx.send(()).unwrap();
        assert_eq!(running.get().unwrap(), "finished");
        pool.join().unwrap();
        assert_eq!(ran.get(), 0);
        let err = pool.apply(|| 1).unwrap_err();
        assert_eq!(
            err.task_error().unwrap().cancellation(),
            Some(Cancellation::PoolClosed)
        );
        pool.terminate(); // idempotent
    });
}

#[test]
fn terminate_fails_a_pending_map() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let busy = occupy(&pool, 1);
        let mut r = pool.spawn(corepool::Map::new(|x: u32| x, 0..10).chunksize(1));
        pool.terminate();
        assert!(r.get().unwrap_err().is_cancelled());
        busy.release();
        pool.join().unwrap();
    });
}

#[test]
fn dropping_the_last_handle_closes_without_blocking_and_work_completes() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let mut first = pool.apply_async(move || go_rx.recv().unwrap());
        let mut queued = pool.apply_async(|| 99);
        let clone = pool.clone();
        drop(pool);
        assert!(!clone.is_closed(), "a clone keeps the pool open");
        drop(clone); // must not block although a task is still running
        go_tx.send(()).unwrap();
        first.get().unwrap();
        assert_eq!(queued.get().unwrap(), 99);
    });
}

#[test]
fn dropping_the_last_handle_inside_a_runtime_does_not_block_it() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let r = pool.apply_async(move || go_rx.recv().unwrap());
        drop(pool);
        go_tx.send(()).unwrap();
        r.await.unwrap();
    });
}

#[test]
fn join_async_waits_for_queued_work() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let done = Counter::new();
        for _ in 0..20 {
            let d = done.clone();
            pool.apply_async(move || {
                std::thread::sleep(Duration::from_millis(1));
                d.bump();
            })
            .detach();
        }
        assert!(pool.join_async().await.unwrap_err().is_not_closed());
        pool.close();
        pool.join_async().await.unwrap();
        assert_eq!(done.get(), 20);
    });
}

#[test]
fn join_from_a_worker_is_refused() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let inner = pool.clone();
        let err = pool
            .apply(move || {
                inner.close();
                inner.join()
            })
            .unwrap()
            .unwrap_err();
        assert!(err.would_deadlock().is_some(), "{err}");
        pool.join().unwrap();
    });
}

#[test]
fn debug_output_shows_state() {
    let pool = Pool::new(1).unwrap();
    let s = format!("{pool:?}");
    assert!(
        s.contains("workers: 1") && s.contains("closed: false"),
        "{s}"
    );
}
