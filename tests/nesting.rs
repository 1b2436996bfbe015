//! Sync calls made on the pool's own workers: nested work completes, and a
//! waiting worker runs only the unstarted work it waits for, never an
//! unrelated job (no stack growth with the queue, no stack inversion, no
//! foreign code inside the caller's critical section, deadlines kept).
//!
//! Each scenario below hung, deadlocked or aborted the process when a
//! waiting worker "helped" by running the head of the queue; each is gated
//! on channels so that the broken behaviour cannot pass by luck of timing.

use crate::common;

use std::cell::RefCell;
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::{LIMIT, within};
use corepool::{Map, Pool};

const TASKS: u64 = 10_000;

/// Ten thousand map items that each make a blocking call on the same pool.
/// Helping with the queue nested one stack frame per queued item and
/// overflowed the worker's stack ("has overflowed its stack", an abort) at
/// about 1 500 items on 2 workers.
#[test]
fn ten_thousand_nested_applies_in_a_map_do_not_grow_the_stack() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let p = pool.clone();
        let out = pool
            .run(Map::new(move |i: u64| p.apply(move || i * 2).unwrap(), 0..TASKS).chunksize(1))
            .unwrap();
        assert_eq!(out, (0..TASKS).map(|i| i * 2).collect::<Vec<_>>());
    });
}

/// The same with ten thousand queued `apply_async` tasks.
#[test]
fn ten_thousand_queued_tasks_that_each_apply_complete() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let results: Vec<_> = (0..TASKS)
            .map(|i| {
                let p = pool.clone();
                pool.apply_async(move || p.apply(move || i + 1).unwrap())
            })
            .collect();
        let mut sum = 0;
        for mut r in results {
            sum += r.get().unwrap();
        }
        assert_eq!(sum, (1..=TASKS).sum::<u64>());
    });
}

/// Stack inversion: task A blocks on its own nested call while job X, queued
/// *before* A's nested job, waits for A's result. If A's wait ran X on top
/// of A, X would wait for A underneath it forever. Repeated with ten
/// thousand such X jobs queued.
#[test]
fn a_job_waiting_for_a_result_is_never_run_on_top_of_that_result() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let p = pool.clone();
        let a = Arc::new(pool.apply_async(move || {
            gate_rx.recv().unwrap(); // until every X is queued
            p.apply(|| 40).unwrap() + 2
        }));
        let xs: Vec<_> = (0..TASKS)
            .map(|_| {
                let a = a.clone();
                pool.apply_async(move || {
                    a.wait().unwrap();
                    a.ready()
                })
            })
            .collect();
        gate_tx.send(()).unwrap();
        a.wait().unwrap();
        for mut x in xs {
            assert!(x.get().unwrap());
        }
        let mut a = Arc::into_inner(a).expect("every X has finished");
        assert_eq!(a.get().unwrap(), 42);
    });
}

/// A task holding a lock across a sync call: unrelated queued jobs that take
/// the same lock must not run inside the critical section (that deadlocked).
#[test]
fn unrelated_jobs_never_run_inside_the_callers_critical_section() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let lock = Arc::new(Mutex::new(0_u64));
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let (p, l) = (pool.clone(), lock.clone());
        let holder = pool.apply_async(move || {
            gate_rx.recv().unwrap();
            let mut guard = l.lock().unwrap();
            *guard += p.apply(|| 1).unwrap();
            *guard
        });
        let others: Vec<_> = (0..TASKS)
            .map(|_| {
                let l = lock.clone();
                pool.apply_async(move || *l.lock().unwrap() += 1)
            })
            .collect();
        gate_tx.send(()).unwrap();
        let mut holder = holder;
        assert_eq!(holder.get().unwrap(), 1, "no other job ran inside the lock");
        for mut o in others {
            o.get().unwrap();
        }
        assert_eq!(*lock.lock().unwrap(), 1 + TASKS);
    });
}

/// The same with a thread-local `RefCell` borrowed across the call: a
/// foreign job borrowing it on the same stack failed with "already
/// borrowed".
#[test]
fn unrelated_jobs_never_see_the_callers_thread_local_borrow() {
    thread_local!(static SCRATCH: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) });
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let p = pool.clone();
        let holder = pool.apply_async(move || {
            gate_rx.recv().unwrap();
            SCRATCH.with(|s| {
                let mut scratch = s.borrow_mut();
                scratch.push(p.apply(|| 7).unwrap());
                scratch.len()
            })
        });
        let others: Vec<_> = (0..1_000)
            .map(|i| pool.apply_async(move || SCRATCH.with(|s| s.borrow_mut().push(i))))
            .collect();
        gate_tx.send(()).unwrap();
        let mut holder = holder;
        assert_eq!(holder.get().unwrap(), 1);
        for mut o in others {
            o.get().expect("no job found the scratch borrowed");
        }
    });
}

/// `get_timeout` on a worker keeps its deadline: it does not run a queued
/// job (here one that blocks until the test has seen the timeout, so running
/// it would hang), and its own job, queued behind, is not lost.
#[test]
fn get_timeout_on_a_worker_keeps_its_deadline() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (queued_tx, queued_rx) = mpsc::channel::<()>();
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let p = pool.clone();
        let mut a = pool.apply_async(move || {
            queued_rx.recv().unwrap(); // the blocker is queued now
            let mut own = p.apply_async(|| 5);
            let timed_out = own.get_timeout(Duration::from_millis(10)).unwrap_err();
            (timed_out.is_timeout(), own)
        });
        let mut blocker = pool.apply_async(move || release_rx.recv_timeout(LIMIT).is_ok());
        queued_tx.send(()).unwrap();
        let (timed_out, mut own) = a.get().unwrap();
        assert!(timed_out);
        release_tx.send(()).unwrap();
        assert!(blocker.get().unwrap(), "the blocker ran after the timeout");
        assert_eq!(own.get().unwrap(), 5, "the timed-out result is not lost");
    });
}

/// Nested maps three deep with far more tasks than workers still finish.
#[test]
fn maps_nested_three_deep_finish() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let p1 = pool.clone();
        let out = pool
            .run(
                Map::new(
                    move |i: u64| {
                        let p2 = p1.clone();
                        p1.run(
                            Map::new(
                                move |j: u64| {
                                    p2.run(
                                        Map::new(move |k: u64| i * 100 + j * 10 + k, 0..4)
                                            .chunksize(1),
                                    )
                                    .unwrap()
                                    .into_iter()
                                    .sum::<u64>()
                                },
                                0..4,
                            )
                            .chunksize(1),
                        )
                        .unwrap()
                        .into_iter()
                        .sum::<u64>()
                    },
                    0..8,
                )
                .chunksize(1),
            )
            .unwrap();
        let expected: Vec<u64> = (0..8)
            .map(|i| {
                (0..4)
                    .flat_map(|j| (0..4).map(move |k| i * 100 + j * 10 + k))
                    .sum()
            })
            .collect();
        assert_eq!(out, expected);
    });
}

/// The blocking `imap` iterator on a worker runs its own chunks.
#[test]
fn blocking_imap_on_every_worker_finishes() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let p = pool.clone();
        let sums = pool
            .run(
                Map::new(
                    move |_: u8| {
                        p.imap(|x: u32| x, 0..1_000)
                            .into_blocking_iter()
                            .map(Result::unwrap)
                            .sum::<u32>()
                    },
                    0..4,
                )
                .chunksize(1),
            )
            .unwrap();
        assert_eq!(sums, [499_500; 4]);
    });
}
