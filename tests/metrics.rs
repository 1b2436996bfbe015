//! `Pool::metrics`: the counts match what was sent.

use crate::common;

use std::sync::mpsc;

use common::{bounded, occupy, within};
use corepool::{Apply, Map, Pool};

#[test]
fn counts_match_what_was_sent() {
    within(|| {
        let pool = bounded(2, 4);
        let m = pool.metrics();
        assert_eq!(
            (m.workers, m.busy_workers, m.queued, m.submitted),
            (2, 0, 0, 0)
        );

        for i in 0..10_u32 {
            pool.apply(move || i).unwrap();
        }
        let _ = pool.apply(|| -> () { panic!("one failure") });
        let _ = pool.run(Apply::fallible(|| Err::<(), _>("one error")));
        pool.run(Map::new(|x: u32| x, 0..8).chunksize(2)).unwrap(); // 4 jobs

        // Two workers held, four queued (the bound), two shed.
        let (started_tx, started) = mpsc::channel();
        let (release_tx, release) = mpsc::channel::<()>();
        let release = std::sync::Arc::new(std::sync::Mutex::new(release));
        let held: Vec<_> = (0..2)
            .map(|_| {
                let (s, r) = (started_tx.clone(), release.clone());
                pool.apply_async(move || {
                    s.send(()).unwrap();
                    let _ = r.lock().unwrap().recv();
                })
            })
            .collect();
        started.recv().unwrap();
        started.recv().unwrap();
        let m = pool.metrics();
        assert_eq!(m.busy_workers, 2);
        let queued: Vec<_> = (0..4).map(|i| pool.offer(move || i).unwrap()).collect();
        assert!(pool.offer(|| 9).unwrap_err().is_full());
        assert!(pool.offer(|| 9).unwrap_err().is_full());
        assert_eq!(pool.metrics().queued, 4);
        drop(release_tx);
        for mut r in held {
            r.get().unwrap();
        }
        for mut r in queued {
            r.get().unwrap();
        }
        let m = pool.metrics();
        // 10 + 1 + 1 + 4 + 2 + 4 accepted; 2 refused.
        assert_eq!(m.submitted, 22);
        assert_eq!(m.rejected, 2);
        assert_eq!(m.failed, 2, "a panic and a fallible Err");
        assert_eq!(m.completed, 20);
        assert_eq!(m.cancelled, 0);
        assert!(m.run_time > std::time::Duration::ZERO);
        // Terminate cancels what is queued.
        let busy = occupy(&pool, 2);
        let doomed: Vec<_> = (0..3).map(|i| pool.offer(move || i).unwrap()).collect();
        pool.terminate();
        busy.release();
        for mut r in doomed {
            assert!(r.get().unwrap_err().is_cancelled());
        }
        pool.join().unwrap();
        assert_eq!(pool.metrics().cancelled, 3);
    });
}

#[test]
fn the_histograms_count_what_ran_in_the_pool_and_in_each_lane() {
    within(|| {
        use std::time::Duration;
        let pool = Pool::new(2).unwrap();
        let lane = pool.lane(corepool::Lane::new("slow")).unwrap();
        for _ in 0..4 {
            lane.apply(|| std::thread::sleep(Duration::from_millis(3)))
                .unwrap();
        }
        for _ in 0..6 {
            pool.apply(|| ()).unwrap();
        }
        let _ = pool.apply(|| -> u8 { panic!("counted too") });
        let (all, slow) = (pool.metrics(), lane.metrics());
        assert_eq!(all.run_time_histogram.count(), 11, "every job that ended");
        assert_eq!(
            all.queue_wait_histogram.count(),
            11,
            "every job that started"
        );
        assert_eq!(
            all.run_time_histogram
                .count_at_most(Duration::from_secs(3600)),
            11
        );
        assert_eq!(slow.run_time_histogram.count(), 4, "the lane's own");
        // Every one of the lane's jobs ran at least 3 ms; most of the pool's
        // ran for almost nothing.
        let slow_p50 = slow.run_time_histogram.quantile(0.5).unwrap();
        assert!(slow_p50 >= Duration::from_millis(3), "{slow_p50:?}");
        assert!(all.run_time_histogram.quantile(0.5).unwrap() < slow_p50);
        // The lane's sleeps all fall above 3 ms.
        assert_eq!(
            slow.run_time_histogram
                .count_at_most(Duration::from_millis(3)),
            0
        );
        assert!(all.run_time_histogram.quantile(1.0).unwrap() >= slow_p50);
    });
}
