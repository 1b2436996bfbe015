//! Priority lanes: a capped lane never exceeds its parallelism, queued work
//! of a higher priority starts first, a lane keeps its order, terminate
//! reaches parked jobs, and a lane counts its own jobs.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::{Counter, LIMIT, occupy, within};
use corepool::{Cancellation, Lane, Pool, Priority};

/// Tracks how many of a lane's jobs run at once, and the most seen.
#[derive(Clone, Default)]
struct Concurrency {
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
}

impl Concurrency {
    fn run(&self, work: impl FnOnce()) {
        let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.most.fetch_max(n, Ordering::SeqCst);
        work();
        self.now.fetch_sub(1, Ordering::SeqCst);
    }
    fn most(&self) -> usize {
        self.most.load(Ordering::SeqCst)
    }
}

#[test]
fn a_capped_lane_never_takes_more_workers_and_leaves_the_others_free() {
    within(|| {
        let pool = Pool::new(4).unwrap();
        let batch = pool.lane(Lane::new("batch").max_workers(1)).unwrap();
        let seen = Concurrency::default();
        let jobs: Vec<_> = (0..12)
            .map(|_| {
                let seen = seen.clone();
                batch.apply_async(move || seen.run(|| std::thread::sleep(Duration::from_millis(5))))
            })
            .collect();
        // Meanwhile the other three workers serve the pool's own work.
        let others = Concurrency::default();
        let o = others.clone();
        let served = pool.map(
            move |_: u32| o.run(|| std::thread::sleep(Duration::from_millis(5))),
            0..12,
        );
        assert_eq!(served.unwrap().len(), 12);
        for mut j in jobs {
            j.get().unwrap();
        }
        assert_eq!(seen.most(), 1, "the batch lane held at most one worker");
        assert!(others.most() >= 2, "the rest of the pool was not starved");
        let m = batch.metrics();
        assert_eq!(
            (m.submitted, m.completed, m.queued, m.busy_workers),
            (12, 12, 0, 0)
        );
    });
}

#[test]
fn a_capped_lane_keeps_its_order_and_its_map_and_imap_work() {
    within(|| {
        let pool = Pool::new(3).unwrap();
        let lane = pool.lane(Lane::new("one").max_workers(1)).unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let jobs: Vec<_> = (0..20)
            .map(|i| {
                let order = order.clone();
                lane.apply_async(move || order.lock().unwrap().push(i))
            })
            .collect();
        for mut j in jobs {
            j.get().unwrap();
        }
        assert_eq!(*order.lock().unwrap(), (0..20).collect::<Vec<_>>());
        assert_eq!(lane.map(|x: u32| x * 2, 0..100).unwrap()[99], 198);
        let squares: Vec<u64> = lane
            .imap(|x: u64| x * x, 0..1000)
            .into_blocking_iter()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(squares[999], 998_001);
    });
}

#[test]
fn queued_work_starts_in_priority_order() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let low = pool.lane(Lane::new("low").priority(Priority::Low)).unwrap();
        let high = pool
            .lane(Lane::new("high").priority(Priority::High))
            .unwrap();
        let busy = occupy(&pool, 1);
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut results = Vec::new();
        for (name, view) in [("low", &low), ("normal", &pool), ("high", &high)] {
            for i in 0..3 {
                let order = order.clone();
                results.push(view.apply_async(move || order.lock().unwrap().push((name, i))));
            }
        }
        busy.release();
        for mut r in results {
            r.get().unwrap();
        }
        let names: Vec<_> = order.lock().unwrap().iter().map(|(n, _)| *n).collect();
        assert_eq!(
            names,
            [
                "high", "high", "high", "normal", "normal", "normal", "low", "low", "low"
            ]
        );
    });
}

#[test]
fn terminate_cancels_parked_jobs_at_once() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let lane = pool.lane(Lane::new("one").max_workers(1)).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (release, hold) = mpsc::channel::<()>();
        let mut running = lane.apply_async(move || {
            started_tx.send(()).unwrap();
            let _ = hold.recv();
            1
        });
        started.recv_timeout(LIMIT).unwrap();
        let ran = Counter::new();
        let parked: Vec<_> = (0..3)
            .map(|_| {
                let ran = ran.clone();
                lane.apply_async(move || ran.bump())
            })
            .collect();
        // The free worker pops them and parks them in the lane.
        let deadline = std::time::Instant::now() + LIMIT;
        while pool.metrics().busy_workers > 1 || lane.metrics().queued != 3 {
            assert!(std::time::Instant::now() < deadline);
            std::thread::yield_now();
        }
        pool.terminate();
        for mut p in parked {
            // Resolved now, while the lane's running job still holds on.
            let err = p.get().unwrap_err();
            assert_eq!(err.cancellation(), Some(Cancellation::Terminated));
        }
        release.send(()).unwrap();
        assert_eq!(running.get().unwrap(), 1);
        pool.join().unwrap();
        assert_eq!(ran.get(), 0);
        let m = lane.metrics();
        assert_eq!((m.submitted, m.completed, m.cancelled), (4, 1, 3));
    });
}

#[test]
fn close_lets_parked_jobs_run() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let lane = pool.lane(Lane::new("one").max_workers(1)).unwrap();
        let ran = Counter::new();
        let jobs: Vec<_> = (0..10)
            .map(|_| {
                let ran = ran.clone();
                lane.apply_async(move || {
                    std::thread::sleep(Duration::from_millis(2));
                    ran.bump()
                })
            })
            .collect();
        drop(lane);
        pool.close();
        pool.join().unwrap();
        assert_eq!(ran.get(), 10);
        for mut j in jobs {
            j.get().unwrap();
        }
    });
}

#[test]
fn a_lane_of_zero_workers_is_refused_and_views_share_the_pool() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let err = pool.lane(Lane::new("none").max_workers(0)).unwrap_err();
        assert!(err.to_string().contains("max_workers = 0"), "{err}");
        let lane = pool.lane(Lane::new("a")).unwrap();
        lane.apply(|| ()).unwrap();
        pool.apply(|| ()).unwrap();
        assert_eq!(lane.metrics().completed, 1, "the lane's own");
        assert_eq!(pool.metrics().completed, 2, "the pool's: every lane's");
        lane.close();
        assert!(pool.is_closed(), "a view closes the pool it views");
    });
}

#[test]
fn a_nested_wait_inside_a_capped_lane_does_not_deadlock() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let lane = pool.lane(Lane::new("one").max_workers(1)).unwrap();
        let inner = lane.clone();
        // The outer job holds the lane's only place and waits on a job of
        // the same lane: the waiting worker runs it itself.
        let total = lane.apply(move || inner.map(|x: u32| x + 1, 0..50).unwrap().len());
        assert_eq!(total.unwrap(), 50);
    });
}

#[test]
fn parked_lane_jobs_wait_behind_queued_work_of_a_higher_priority() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let low = pool
            .lane(Lane::new("low").max_workers(1).priority(Priority::Low))
            .unwrap();
        let high = pool
            .lane(Lane::new("high").priority(Priority::High))
            .unwrap();
        let order = Arc::new(Mutex::new(Vec::new()));
        let record = |name: &'static str| {
            let order = order.clone();
            move || order.lock().unwrap().push(name)
        };
        // L1 holds the lane's only place (and one worker) until released.
        let (l1_started_tx, l1_started) = mpsc::channel();
        let (release_l1, hold_l1) = mpsc::channel::<()>();
        let l1 = {
            let r = record("L1");
            low.apply_async(move || {
                r();
                l1_started_tx.send(()).unwrap();
                let _ = hold_l1.recv();
            })
        };
        l1_started.recv_timeout(LIMIT).unwrap();
        // The free worker pops L2 and L3 and parks them (the lane is at its
        // cap), then pops N, which holds it: once N has started, L2 and L3
        // are parked (FIFO: they were queued before N).
        let l2 = low.apply_async(record("L2"));
        let l3 = low.apply_async(record("L3"));
        let (n_started_tx, n_started) = mpsc::channel();
        let (release_n, hold_n) = mpsc::channel::<()>();
        let n = {
            let r = record("N");
            pool.apply_async(move || {
                r();
                n_started_tx.send(()).unwrap();
                let _ = hold_n.recv();
            })
        };
        n_started.recv_timeout(LIMIT).unwrap();
        // Queued now: H, of a higher priority than the parked L2 and L3.
        let h = high.apply_async(record("H"));
        release_l1.send(()).unwrap();
        for mut r in [l1, l2, l3, h] {
            r.get().unwrap();
        }
        release_n.send(()).unwrap();
        let mut n = n;
        n.get().unwrap();
        assert_eq!(*order.lock().unwrap(), ["L1", "N", "H", "L2", "L3"]);
    });
}

#[test]
fn a_capped_lane_keeps_the_recycling_quota() {
    within(|| {
        let pool = Pool::builder()
            .workers(2)
            .max_tasks_per_worker(2)
            .build()
            .unwrap();
        let lane = pool.lane(Lane::new("one").max_workers(1)).unwrap();
        let threads = Arc::new(Mutex::new(Vec::new()));
        let jobs: Vec<_> = (0..12)
            .map(|_| {
                let threads = threads.clone();
                lane.apply_async(move || {
                    std::thread::sleep(Duration::from_millis(1));
                    threads.lock().unwrap().push(std::thread::current().id());
                })
            })
            .collect();
        for mut j in jobs {
            j.get().unwrap();
        }
        let threads = threads.lock().unwrap();
        // No thread ran more than its quota of two jobs of the lane.
        for id in threads.iter() {
            let ran = threads.iter().filter(|t| *t == id).count();
            assert!(ran <= 2, "a thread ran {ran} jobs with a quota of 2");
        }
    });
}

#[test]
fn closing_with_parked_jobs_does_not_churn_worker_threads() {
    within(|| {
        let starts = Counter::new();
        let s = starts.clone();
        let pool = Pool::builder()
            .workers(3)
            .initializer(move || s.bump())
            .build()
            .unwrap();
        let lane = pool.lane(Lane::new("one").max_workers(1)).unwrap();
        let jobs: Vec<_> = (0..3)
            .map(|_| lane.apply_async(|| std::thread::sleep(Duration::from_millis(100))))
            .collect();
        std::thread::sleep(Duration::from_millis(20)); // two are parked now
        pool.close();
        pool.join().unwrap();
        for mut j in jobs {
            j.get().unwrap();
        }
        assert_eq!(
            starts.get(),
            3,
            "each worker started once; none was replaced"
        );
    });
}
