//! `StatefulPool`: typed per-worker state, made on each worker at start,
//! lent as `&mut` to the stateful tasks that run there.

use crate::common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::{Arc, Mutex, mpsc};
use std::thread::ThreadId;

use common::{Counter, on_tokio, within};
use corepool::{Map, Pool};
use futures::TryStreamExt;

/// A worker's state that knows where it was made, and reports the tasks it
/// counted when it is dropped.
struct Home {
    index: usize,
    thread: ThreadId,
    tasks: usize,
    report: Option<mpsc::Sender<usize>>,
}

impl Drop for Home {
    fn drop(&mut self) {
        if let Some(report) = &self.report {
            let _ = report.send(self.tasks);
        }
    }
}

fn home(index: usize) -> Home {
    Home {
        index,
        thread: std::thread::current().id(),
        tasks: 0,
        report: None,
    }
}

/// Checks that the state lent to a task is its own worker's.
fn visit(home: &mut Home) -> usize {
    assert_eq!(
        home.thread,
        std::thread::current().id(),
        "another worker's state"
    );
    home.tasks += 1;
    home.index
}

#[test]
fn every_form_gets_its_own_workers_state() {
    within(|| {
        let (report, reports) = mpsc::channel();
        let report = Mutex::new(report);
        let pool = Pool::builder()
            .workers(3)
            .build_with_state(move |i| Home {
                report: Some(report.lock().unwrap().clone()),
                ..home(i)
            })
            .unwrap();
        let mut seen = Vec::new();
        seen.push(pool.apply(visit).unwrap());
        seen.extend(pool.map(|h: &mut Home, _: u32| visit(h), 0..50).unwrap());
        seen.extend(
            pool.run(Map::new(|h: &mut Home, _: u32| visit(h), 0..50).chunksize(1))
                .unwrap(),
        );
        seen.extend(
            pool.imap(|h: &mut Home, _: u32| visit(h), 0..50)
                .into_blocking_iter()
                .map(Result::unwrap),
        );
        seen.extend(
            pool.imap_unordered(|h: &mut Home, _: u32| visit(h), 0..50)
                .into_blocking_iter()
                .map(Result::unwrap),
        );
        assert_eq!(seen.len(), 201);
        assert!(seen.iter().all(|&i| i < 3));
        // Every task was counted by exactly one worker's state: the counts
        // reported by the states as the workers stop add up.
        pool.close();
        pool.join().unwrap();
        drop(pool); // the last handle: the constructor and its sender go
        let reported: usize = reports.iter().sum();
        assert_eq!(reported, 201);
    });
}

#[test]
fn async_forms_get_the_state_too() {
    on_tokio(|| async {
        let pool = Pool::builder().workers(2).build_with_state(home).unwrap();
        assert!(pool.apply_async(visit).await.unwrap() < 2);
        let v = pool
            .map_async(|h: &mut Home, x: u32| (visit(h), x), 0..20)
            .await
            .unwrap();
        assert_eq!(
            v.iter().map(|(_, x)| *x).collect::<Vec<_>>(),
            (0..20).collect::<Vec<_>>()
        );
        let v: Vec<usize> = pool
            .imap(|h: &mut Home, _: u8| visit(h), 0..10)
            .try_collect()
            .await
            .unwrap();
        assert_eq!(v.len(), 10);
    });
}

#[test]
fn state_need_not_be_send_and_is_dropped_on_its_worker() {
    within(|| {
        let drops = Counter::new();
        let d = drops.clone();
        // `Rc` is not `Send`: it is made, used and dropped on one thread.
        let pool = Pool::builder()
            .workers(2)
            .build_with_state(move |_| (Rc::new(RefCell::new(0_u32)), d.tracked()))
            .unwrap();
        let v = pool
            .map(
                |(cell, _): &mut (Rc<RefCell<u32>>, common::Tracked), x: u32| {
                    *cell.borrow_mut() += x;
                    x
                },
                0..10,
            )
            .unwrap();
        assert_eq!(v.len(), 10);
        assert_eq!(drops.get(), 0);
        pool.close();
        pool.join().unwrap();
        assert_eq!(
            drops.get(),
            2,
            "each worker dropped its state when it stopped"
        );
    });
}

#[test]
fn a_panicking_state_constructor_fails_the_build() {
    within(|| {
        let made = Counter::new();
        let m = made.clone();
        let err = Pool::builder()
            .workers(3)
            .build_with_state(move |i| {
                m.bump();
                if i == 1 {
                    panic!("no connection for worker {i}");
                }
                i
            })
            .unwrap_err();
        assert!(err.is_initializer_panic());
        assert_eq!(
            err.to_string(),
            "the state constructor panicked on worker 1: no connection for worker 1"
        );
        assert_eq!(made.get(), 3, "each worker tried once, none was respawned");
    });
}

#[test]
fn recycled_workers_make_fresh_state() {
    within(|| {
        let made = Arc::new(Mutex::new(Vec::new()));
        let m = made.clone();
        let pool = Pool::builder()
            .workers(1)
            .max_tasks_per_worker(2)
            .build_with_state(move |i| {
                m.lock().unwrap().push(i);
                0_u32
            })
            .unwrap();
        let counts: Vec<u32> = (0..6)
            .map(|_| {
                pool.apply(|n: &mut u32| {
                    *n += 1;
                    *n
                })
                .unwrap()
            })
            .collect();
        assert_eq!(counts, [1, 2, 1, 2, 1, 2], "a fresh state every two tasks");
        assert!(made.lock().unwrap().len() >= 3);
    });
}

#[test]
fn stateful_tasks_can_nest_plain_and_stateful_work() {
    within(|| {
        let pool = Pool::builder().workers(2).build_with_state(home).unwrap();
        let (p1, p2) = (pool.clone(), pool.clone());
        let out = pool
            .run(
                Map::new(
                    move |h: &mut Home, x: u32| {
                        visit(h);
                        // Plain nested work runs inline while the state is lent.
                        let plain: u32 = p1
                            .pool()
                            .map(|y: u32| y * 2, 0..x)
                            .unwrap()
                            .into_iter()
                            .sum();
                        plain
                    },
                    0..8,
                )
                .chunksize(1),
            )
            .unwrap();
        assert_eq!(
            out,
            (0..8)
                .map(|x: u32| (0..x).map(|y| y * 2).sum::<u32>())
                .collect::<Vec<_>>()
        );
        // Stateful work waited on from a stateful task is left to the other
        // worker (the state is lent), never run on top of the borrow.
        let nested = pool.apply(move |h: &mut Home| {
            let mine = visit(h);
            let theirs = p2.apply(visit).unwrap();
            (mine, theirs)
        });
        let (mine, theirs) = nested.unwrap();
        assert_ne!(
            mine, theirs,
            "the nested stateful task ran on the other worker"
        );
    });
}
