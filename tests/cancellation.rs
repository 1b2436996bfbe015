//! Cooperative cancellation: a running task that checks
//! `corepool::is_cancelled()` learns when nobody wants its result any more,
//! stops early, and resolves as cancelled.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

use common::{LIMIT, on_tokio, within};
use corepool::{Cancellation, Map, Pool};
use futures::StreamExt;

/// A task that loops until told to stop; reports that it started, and how
/// it ended.
fn stoppable(
    started: mpsc::Sender<()>,
    ended: mpsc::Sender<bool>,
) -> impl FnOnce() -> u64 + Send + 'static {
    move || {
        started.send(()).unwrap();
        let deadline = std::time::Instant::now() + LIMIT;
        let mut steps = 0;
        while std::time::Instant::now() < deadline {
            if corepool::is_cancelled() {
                ended.send(true).unwrap();
                return steps;
            }
            steps += 1;
            std::thread::sleep(Duration::from_micros(200));
        }
        ended.send(false).unwrap();
        steps
    }
}

#[test]
fn dropping_the_result_stops_the_running_task() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (ended_tx, ended) = mpsc::channel();
        let r = pool.apply_async(stoppable(started_tx, ended_tx));
        started.recv().unwrap();
        drop(r);
        assert!(ended.recv().unwrap(), "the task saw it was cancelled");
        assert!(!corepool::is_cancelled(), "false outside a task");
    });
}

#[test]
fn a_detached_result_is_still_wanted() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.apply_async(move || {
            let mut seen = false;
            for _ in 0..20 {
                seen |= corepool::is_cancelled();
                std::thread::sleep(Duration::from_micros(100));
            }
            tx.send(seen).unwrap();
        })
        .detach();
        assert!(!rx.recv().unwrap(), "detached work is not cancelled");
    });
}

#[test]
fn terminate_stops_running_tasks_that_check_and_they_resolve_cancelled() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (ended_tx, ended) = mpsc::channel();
        let mut r = pool.apply_async(stoppable(started_tx, ended_tx));
        started.recv().unwrap();
        pool.terminate();
        assert!(ended.recv().unwrap());
        let err = r.get().unwrap_err();
        assert_eq!(
            err.task_error().unwrap().cancellation(),
            Some(Cancellation::Terminated),
            "a task that stopped early is cancelled, not a success"
        );
        pool.join().unwrap();
    });
}

#[test]
fn a_failing_map_stops_its_running_chunks() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let stopped = Arc::new(AtomicUsize::new(0));
        let (started_tx, started) = mpsc::channel::<()>();
        let (started_tx, started) = (
            std::sync::Mutex::new(started_tx),
            std::sync::Mutex::new(started),
        );
        let s = stopped.clone();
        let mut r = pool.spawn(
            Map::new(
                move |x: u32| {
                    if x == 0 {
                        // Item 0 waits until item 1 runs, then fails the map.
                        started.lock().unwrap().recv_timeout(LIMIT).unwrap();
                        panic!("item 0 fails");
                    }
                    started_tx.lock().unwrap().send(()).unwrap();
                    let deadline = std::time::Instant::now() + LIMIT;
                    while std::time::Instant::now() < deadline {
                        if corepool::is_cancelled() {
                            s.fetch_add(1, Ordering::SeqCst);
                            return x;
                        }
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    x
                },
                [0, 1],
            )
            .chunksize(1),
        );
        let err = r.get().unwrap_err();
        assert!(err.is_panic());
        pool.close();
        pool.join().unwrap();
        assert_eq!(stopped.load(Ordering::SeqCst), 1, "item 1 saw the map fail");
    });
}

#[test]
fn dropping_an_imap_stream_stops_its_running_chunks() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (ended_tx, ended) = mpsc::channel();
        let started_tx = std::sync::Mutex::new(started_tx);
        let ended_tx = std::sync::Mutex::new(ended_tx);
        let mut s = pool
            .imap(
                move |_: u32| {
                    started_tx.lock().unwrap().send(()).unwrap();
                    while !corepool::is_cancelled() {
                        std::thread::sleep(Duration::from_micros(200));
                    }
                    ended_tx.lock().unwrap().send(()).unwrap();
                },
                0..10,
            )
            .chunksize(1);
        // Poll once so the first chunk is submitted and starts.
        let _ = futures::FutureExt::now_or_never(s.next());
        started.recv_timeout(LIMIT).unwrap();
        drop(s);
        ended
            .recv_timeout(LIMIT)
            .expect("the running chunk stopped");
    });
}
