//! `max_tasks_per_worker` (Python's `maxtasksperchild`): workers are
//! replaced by fresh threads after their quota, without losing results or
//! breaking `close`, `join` and `terminate`.

use crate::common;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::ThreadId;
use std::time::Duration;

use common::{Counter, within};
use corepool::Pool;

fn thread_id() -> ThreadId {
    std::thread::current().id()
}

/// CPython's `test_pool_worker_lifetime_early_close`: with one task per
/// worker, six tasks and an early `close`, `join` must not hang and every
/// result must arrive.
#[test]
fn early_close_with_one_task_per_worker_loses_nothing() {
    within(|| {
        let pool = Pool::builder()
            .workers(1)
            .max_tasks_per_worker(1)
            .build()
            .unwrap();
        let results: Vec<_> = (0..6_u64)
            .map(|i| {
                pool.apply_async(move || {
                    std::thread::sleep(Duration::from_millis(1));
                    (i, thread_id())
                })
            })
            .collect();
        pool.close();
        pool.join().unwrap();
        let mut threads = HashSet::new();
        for (i, mut r) in results.into_iter().enumerate() {
            let (value, thread) = r.get().unwrap();
            assert_eq!(value, i as u64);
            threads.insert(thread);
        }
        assert_eq!(threads.len(), 6, "each task ran on a fresh thread");
    });
}

#[test]
fn workers_are_replaced_after_their_quota_and_rerun_the_initializer() {
    within(|| {
        let inits = Counter::new();
        let i = inits.clone();
        let pool = Pool::builder()
            .workers(2)
            .max_tasks_per_worker(5)
            .initializer(move || i.bump())
            .build()
            .unwrap();
        let seen = Arc::new(Mutex::new(HashSet::new()));
        for round in 0..20_u64 {
            let s = seen.clone();
            let got = pool
                .apply(move || {
                    s.lock().unwrap().insert(thread_id());
                    round * 2
                })
                .unwrap();
            assert_eq!(got, round * 2);
        }
        pool.close();
        pool.join().unwrap();
        // Sequential applies: 20 jobs, 5 per thread, so 4 threads ran them;
        // each new thread ran the initializer (plus the first generation of
        // the worker that got no job, and the replacements made as quotas ran out).
        let threads = seen.lock().unwrap().len();
        assert!(threads >= 4, "{threads} threads ran 20 jobs at 5 each");
        assert!(
            inits.get() >= threads,
            "{} inits, {threads} threads",
            inits.get()
        );
    });
}

#[test]
fn many_jobs_with_a_quota_of_one_all_complete_in_order() {
    within(|| {
        let pool = Pool::builder()
            .workers(2)
            .max_tasks_per_worker(1)
            .build()
            .unwrap();
        let out = pool
            .run(corepool::Map::new(|x: u32| x * 3, 0..200).chunksize(1))
            .unwrap();
        assert_eq!(out, (0..200).map(|x| x * 3).collect::<Vec<_>>());
        let v: Vec<u32> = pool
            .imap(|x: u32| x + 1, 0..100)
            .into_blocking_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(v, (1..=100).collect::<Vec<_>>());
        pool.close();
        pool.join().unwrap();
    });
}

#[test]
fn a_replacement_whose_initializer_panics_leaves_the_old_worker_working() {
    within(|| {
        let calls = Counter::new();
        let c = calls.clone();
        let pool = Pool::builder()
            .workers(1)
            .max_tasks_per_worker(1)
            .initializer(move || {
                // The first thread starts; every replacement fails.
                c.bump();
                if c.get() > 1 {
                    panic!("no more connections");
                }
            })
            .build()
            .unwrap();
        let first = pool.apply(thread_id).unwrap();
        for i in 0..5 {
            assert_eq!(pool.apply(move || (i, thread_id())).unwrap(), (i, first));
        }
        assert!(calls.get() >= 2, "replacements were tried");
        pool.close();
        pool.join().unwrap();
    });
}

#[test]
fn terminate_while_workers_are_being_replaced() {
    within(|| {
        let pool = Pool::builder()
            .workers(2)
            .max_tasks_per_worker(1)
            .build()
            .unwrap();
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Arc::new(Mutex::new(go_rx));
        let results: Vec<_> = (0..100)
            .map(|i| {
                let (started, go) = (started_tx.clone(), go_rx.clone());
                pool.apply_async(move || {
                    let _ = started.send(());
                    let _ = go.lock().unwrap().recv(); // until `go_tx` is dropped
                    i
                })
            })
            .collect();
        started_rx.recv().unwrap(); // some are running, most are queued
        pool.terminate();
        drop(go_tx);
        pool.join().unwrap();
        let mut done = 0;
        for mut r in results {
            match r.get() {
                Ok(_) => done += 1,
                Err(e) => assert!(e.is_cancelled(), "{e}"),
            }
        }
        // The jobs already running (one or two, one per worker) finished.
        assert!((1..=2).contains(&done), "{done} ran");
    });
}

#[test]
fn a_quota_of_zero_is_a_build_error() {
    let err = Pool::builder().max_tasks_per_worker(0).build().unwrap_err();
    assert_eq!(err.to_string(), "max_tasks_per_worker must be at least 1");
}
