//! The causes found by a hostile-but-plausible user (issue 18), one test
//! each, every one under a watchdog so a hang fails:
//!
//! 1. a job run inline by a waiting worker kept its place in a bounded queue
//!    (nested `imap`s hung the pool, nested maps were shed as `QueueFull`,
//!    a second nested `apply` on a capacity-1 pool was shed);
//! 2. a captured value whose `Drop` panics killed the worker dropping it;
//! 3. a `fail_fast(false)` map whose losing error panics in `Drop` never
//!    resolved (and a fail-fast map the same way);
//! 4. cancellation did not reach nested work;
//! 5. metrics counted jobs twice;
//! 6. `join` returned before recycled workers' thread-local destructors ran.

use crate::common;

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use common::{Counter, bounded, within};
use corepool::{Map, Metrics, Pool};

/// Panics when dropped (outside an unwind).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("a Drop that panics");
        }
    }
}

/// Quiet: the pool logs these panics, the default hook prints them.
fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info.payload().downcast_ref::<&str>().copied();
            if message != Some("a Drop that panics") {
                previous(info);
            }
        }));
    });
}

fn assert_balanced(m: &Metrics) {
    assert_eq!(
        m.submitted,
        m.completed + m.failed + m.cancelled,
        "every submitted job counted once: {m:?}"
    );
}

/// Waits until the pool has no job queued or running, then its metrics.
fn at_rest(pool: &Pool) -> Metrics {
    let deadline = Instant::now() + common::LIMIT;
    loop {
        let m = pool.metrics();
        if m.queued == 0
            && m.busy_workers == 0
            && m.submitted == m.completed + m.failed + m.cancelled
        {
            return m;
        }
        assert!(Instant::now() < deadline, "never at rest: {m:?}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

// ===== 1. queue places of jobs run inline =====

#[test]
fn nested_imaps_on_a_bounded_queue_finish() {
    within(|| {
        // The README's own capacity, two workers, two tasks each reading a
        // nested imap of 1 000 items.
        let pool = bounded(2, 16);
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let inner = pool.clone();
                pool.apply_async(move || {
                    inner
                        .imap(|x: u64| x * 2, 0..1_000_u64)
                        .into_blocking_iter()
                        .map(Result::unwrap)
                        .sum::<u64>()
                })
            })
            .collect();
        for mut t in tasks {
            assert_eq!(t.get().unwrap(), 999_000);
        }
        assert_balanced(&at_rest(&pool));
    });
}

#[test]
fn a_nested_imap_on_one_worker_and_one_place_finishes() {
    within(|| {
        let pool = bounded(1, 1);
        let inner = pool.clone();
        let sum = pool
            .apply(move || {
                inner
                    .imap(|x: u32| x + 1, 0..10_u32)
                    .chunksize(1)
                    .into_blocking_iter()
                    .map(Result::unwrap)
                    .sum::<u32>()
            })
            .unwrap();
        assert_eq!(sum, 55);
    });
}

#[test]
fn sequential_nested_maps_are_not_shed() {
    within(|| {
        let pool = bounded(2, 16);
        let tasks: Vec<_> = (0..2)
            .map(|_| {
                let inner = pool.clone();
                pool.apply_async(move || {
                    (0..50)
                        .filter(|_| inner.map(|x: u32| x + 1, 0..100).is_err())
                        .count()
                })
            })
            .collect();
        for mut t in tasks {
            assert_eq!(t.get().unwrap(), 0, "no nested map failed");
        }
        let m = at_rest(&pool);
        assert_eq!(m.rejected, 0, "nothing was shed: {m:?}");
        assert_balanced(&m);
    });
}

#[test]
fn a_second_nested_apply_on_one_place_is_not_shed() {
    within(|| {
        let pool = bounded(1, 1);
        let inner = pool.clone();
        let got = pool
            .apply(move || (inner.apply(|| 1).unwrap(), inner.apply(|| 2).unwrap()))
            .unwrap();
        assert_eq!(got, (1, 2));
        assert_eq!(pool.metrics().rejected, 0);
    });
}

#[test]
fn many_nested_applies_leave_nothing_queued() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let inner = pool.clone();
        let (done, is_done) = mpsc::channel();
        let watcher = pool.clone();
        let task = pool.apply_async(move || {
            let mut sum = 0_u64;
            for i in 0..100_000_u64 {
                sum += inner.apply(move || i).unwrap();
            }
            done.send(()).unwrap();
            sum
        });
        // While the task runs, nothing piles up in the queue (each nested
        // apply ran right there, unqueued).
        let mut most = 0;
        while is_done.try_recv().is_err() {
            most = most.max(watcher.metrics().queued);
            std::thread::sleep(Duration::from_micros(200));
        }
        let mut task = task;
        assert_eq!(task.get().unwrap(), (0..100_000_u64).sum());
        assert!(
            most <= 1,
            "at most the outer task was ever queued, saw {most}"
        );
        assert_balanced(&at_rest(&pool));
    });
}

// ===== 2. a panicking Drop of a captured value =====

#[test]
fn a_panicking_drop_of_a_captured_value_does_not_kill_the_worker() {
    quiet_panics();
    within(|| {
        let pool = Pool::new(1).unwrap();
        // A map's function is shared by its chunks: the last chunk's job
        // drops it on the worker.
        let guard = PanicOnDrop;
        let f = move |x: u32| {
            let _ = &guard;
            x
        };
        assert_eq!(pool.map(f, 0..10).unwrap().len(), 10);
        // An apply whose closure is dropped unrun (its result dropped
        // before it started) and one whose value panics when dropped.
        let hold = common::occupy(&pool, 1);
        let guard = PanicOnDrop;
        drop(pool.apply_async(move || {
            let _ = &guard;
        }));
        pool.apply_async(|| PanicOnDrop).detach();
        hold.release();
        // The one worker is still there.
        for i in 0..5 {
            assert_eq!(pool.apply(move || i).unwrap(), i);
        }
        assert_eq!(pool.metrics().workers, 1);
    });
}

// ===== 3. a losing error whose payload panics in Drop =====

#[test]
fn a_map_whose_losing_errors_panic_in_drop_still_resolves() {
    quiet_panics();
    within(|| {
        let pool = Pool::new(2).unwrap();
        for fail_fast in [false, true] {
            let work = Map::new(
                |x: u32| -> u32 {
                    if x % 2 == 1 {
                        std::panic::panic_any(PanicOnDrop);
                    }
                    x
                },
                0..16,
            )
            .chunksize(1)
            .fail_fast(fail_fast);
            let err = pool.run(work).unwrap_err();
            assert!(err.is_panic(), "{err:?}");
            // The winning error's payload is the user's to drop: on this
            // thread, its panic is the caller's own.
            let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(err)));
            assert!(dropped.is_err());
        }
        assert_eq!(pool.apply(|| 3).unwrap(), 3);
    });
}

// ===== 4. cancellation reaches nested work =====

#[test]
fn dropping_the_outer_result_cancels_nested_work() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let inner = pool.clone();
        let (started, has_started) = mpsc::channel();
        let (stopped, has_stopped) = mpsc::channel();
        let outer = pool.apply_async(move || {
            // A nested job on another worker, waited for here.
            let mut nested = inner.apply_async(move || {
                started.send(()).unwrap();
                let began = Instant::now();
                while !corepool::is_cancelled() {
                    assert!(began.elapsed() < Duration::from_secs(10), "never cancelled");
                    std::thread::yield_now();
                }
                stopped.send(corepool::cancellation()).unwrap();
            });
            let _ = nested.get();
        });
        has_started.recv().unwrap();
        drop(outer);
        assert_eq!(
            has_stopped.recv().unwrap(),
            Some(corepool::Cancellation::Abandoned)
        );
        assert_balanced(&at_rest(&pool));
    });
}

#[test]
fn a_nested_loop_run_in_place_sees_the_outer_cancellation() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let inner = pool.clone();
        let (started, has_started) = mpsc::channel();
        let outer = pool.apply_async(move || {
            // Runs right here, on this worker.
            inner
                .apply(move || {
                    started.send(()).unwrap();
                    while !corepool::is_cancelled() {
                        std::thread::yield_now();
                    }
                })
                .unwrap_err()
                .is_cancelled()
        });
        has_started.recv().unwrap();
        drop(outer);
        // The one worker is free again: the nested loop ended.
        assert_eq!(pool.apply(|| 9).unwrap(), 9);
    });
}

#[test]
fn queued_nested_work_of_a_dropped_result_never_runs() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let ran = Counter::new();
        let inner = pool.clone();
        let hold = common::occupy(&pool, 1);
        let (submitted, has_submitted) = mpsc::channel();
        let (go, wait) = mpsc::channel::<()>();
        let counted = ran.clone();
        let outer = pool.apply_async(move || {
            // Queued behind the occupied worker.
            let nested = inner.apply_async(move || counted.bump());
            submitted.send(()).unwrap();
            // The nested handle is held while the outer task waits.
            let _ = wait.recv();
            drop(nested);
        });
        has_submitted.recv().unwrap();
        drop(outer);
        hold.release();
        drop(go);
        at_rest(&pool);
        assert_eq!(ran.get(), 0, "the nested job was cancelled, not run");
    });
}

#[test]
fn detached_nested_work_outlives_its_parent() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let inner = pool.clone();
        let (done, is_done) = mpsc::channel();
        let (started, has_started) = mpsc::channel();
        let outer = pool.apply_async(move || {
            inner
                .apply_async(move || {
                    started.send(()).unwrap();
                    std::thread::sleep(Duration::from_millis(20));
                    done.send(corepool::is_cancelled()).unwrap();
                })
                .detach();
        });
        has_started.recv().unwrap();
        drop(outer);
        assert!(!is_done.recv().unwrap(), "detached work is not cancelled");
    });
}

// ===== 5. metrics count every job once =====

#[test]
fn terminate_does_not_count_shells_of_jobs_already_run() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let inner = pool.clone();
        // Ten nested chunks run inline by the waiting worker leave shells.
        pool.apply(move || inner.map(|x: u32| x, 0..10).unwrap())
            .unwrap();
        pool.terminate();
        pool.join().unwrap();
        let m = pool.metrics();
        assert_balanced(&m);
        assert_eq!(m.cancelled, 0, "{m:?}");
    });
}

#[test]
fn an_imap_that_waits_for_room_is_not_counted_as_rejected() {
    within(|| {
        let pool = bounded(1, 1);
        let sum: u32 = pool
            .imap(|x: u32| x, 0..100)
            .chunksize(1)
            .into_blocking_iter()
            .map(Result::unwrap)
            .sum();
        assert_eq!(sum, 4_950);
        let m = at_rest(&pool);
        assert_eq!((m.rejected, m.submitted), (0, 100), "{m:?}");
    });
}

#[test]
fn the_counters_balance_under_a_storm_and_never_decrease() {
    quiet_panics();
    within(|| {
        let pool = Pool::builder()
            .workers(3)
            .queue_capacity(8)
            .max_tasks_per_worker(7)
            .build()
            .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sampler = {
            let (pool, stop) = (pool.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut last = pool.metrics();
                while !stop.load(Ordering::SeqCst) {
                    let m = pool.metrics();
                    for (now, before) in [
                        (m.submitted, last.submitted),
                        (m.rejected, last.rejected),
                        (m.completed, last.completed),
                        (m.failed, last.failed),
                        (m.cancelled, last.cancelled),
                    ] {
                        assert!(now >= before, "a counter went down: {last:?} -> {m:?}");
                    }
                    last = m;
                    std::thread::yield_now();
                }
            })
        };
        let storm: Vec<_> = (0..4)
            .map(|t| {
                let pool = pool.clone();
                std::thread::spawn(move || {
                    for i in 0..150_u32 {
                        match (i + t) % 8 {
                            0 => drop(pool.apply_async(move || i)),
                            1 => pool.apply_async(move || i).detach(),
                            2 => drop(pool.offer(move || i)),
                            3 => drop(pool.map(|x: u32| x / (x % 5), 0..20)),
                            4 => drop(pool.map_async(|x: u32| x, 0..40)),
                            5 => {
                                let inner = pool.clone();
                                drop(pool.apply(move || inner.map(|x: u32| x, 0..8)));
                            }
                            6 => drop(pool.apply(|| -> u8 { panic!("a Drop that panics") })),
                            _ => {
                                let v: Vec<_> =
                                    pool.imap(|x: u32| x, 0..30).into_blocking_iter().collect();
                                assert_eq!(v.len(), 30);
                            }
                        }
                    }
                })
            })
            .collect();
        for s in storm {
            s.join().unwrap();
        }
        let m = at_rest(&pool);
        assert_balanced(&m);
        // And with terminate in the middle of more work.
        for i in 0..50_u32 {
            pool.apply_async(move || i).detach();
        }
        pool.terminate();
        pool.join().unwrap();
        stop.store(true, Ordering::SeqCst);
        sampler.join().unwrap();
        assert_balanced(&pool.metrics());
    });
}

// ===== 6. join waits for recycled threads =====

#[test]
fn join_waits_for_recycled_workers_thread_local_destructors() {
    static STARTED: AtomicUsize = AtomicUsize::new(0);
    static DESTROYED: AtomicUsize = AtomicUsize::new(0);
    struct Local;
    impl Drop for Local {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(1)); // a slow destructor
            DESTROYED.fetch_add(1, Ordering::SeqCst);
        }
    }
    thread_local! {
        static LOCAL: Cell<Option<Local>> = const { Cell::new(None) };
    }
    within(|| {
        let pool = Pool::builder()
            .workers(2)
            .max_tasks_per_worker(1)
            .initializer(|| {
                STARTED.fetch_add(1, Ordering::SeqCst);
                LOCAL.with(|l| l.set(Some(Local)));
            })
            .build()
            .unwrap();
        for i in 0..100 {
            pool.apply(move || i).unwrap();
        }
        pool.close();
        pool.join().unwrap();
        assert_eq!(
            DESTROYED.load(Ordering::SeqCst),
            STARTED.load(Ordering::SeqCst),
            "every thread that started has run its destructors"
        );
    });
}

// ===== faults while recycling =====

/// A replacement that cannot start (here its initializer panics, as when the
/// OS refuses a thread: the same path) loses no job; the old worker keeps
/// working, and the failure is counted (and logged as an `error` event).
#[test]
fn a_replacement_that_cannot_start_loses_nothing() {
    static STARTS: AtomicUsize = AtomicUsize::new(0);
    quiet_panics();
    within(|| {
        let pool = Pool::builder()
            .workers(2)
            .max_tasks_per_worker(2)
            .initializer(|| {
                // The first two workers start; every replacement fails.
                if STARTS.fetch_add(1, Ordering::SeqCst) >= 2 {
                    panic!("a Drop that panics"); // (quieted like the others)
                }
            })
            .build()
            .unwrap();
        let results: Vec<_> = (0..40_u32).map(|i| pool.apply_async(move || i)).collect();
        for (i, mut r) in results.into_iter().enumerate() {
            assert_eq!(r.get().unwrap(), i as u32, "no job lost");
        }
        let m = at_rest(&pool);
        assert!(m.recycle_failures > 0, "the failure is visible: {m:?}");
        assert_eq!(m.workers, 2);
        // Both workers are still there: two tasks that wait for each other.
        let (a_tx, a_rx) = mpsc::channel();
        let (b_tx, b_rx) = mpsc::channel();
        let a = pool.apply_async(move || {
            a_tx.send(()).unwrap();
            b_rx.recv_timeout(common::LIMIT).is_ok()
        });
        let b = pool.apply_async(move || {
            b_tx.send(()).unwrap();
            a_rx.recv_timeout(common::LIMIT).is_ok()
        });
        let (mut a, mut b) = (a, b);
        assert!(
            a.get().unwrap() && b.get().unwrap(),
            "two workers are alive"
        );
        assert_balanced(&pool.metrics());
    });
}
