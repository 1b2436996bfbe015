//! A capped lane's scheduling (`lane.rs`): two workers popping jobs of a
//! lane capped at one, racing `terminate`'s take of the parked jobs. Every
//! job is run or taken exactly once, never two at once, and the lane ends
//! with no place held.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;

use crate::lane::{Lane, LaneCore};

#[test]
fn loom_a_capped_lane_runs_each_job_once_and_one_at_a_time() {
    loom::model(|| {
        let lane: Arc<LaneCore<u32>> = Arc::new(Lane::new("one").max_workers(1).into_core());
        let running = Arc::new(AtomicUsize::new(0));
        let ran = Arc::new(AtomicUsize::new(0));
        // A worker as `Registry::execute` drives it: admit, then run the
        // parked jobs until the lane gives its place back.
        let worker = |job: u32| {
            let (lane, running, ran) = (lane.clone(), running.clone(), ran.clone());
            thread::spawn(move || {
                let mut next = lane.admit(job);
                while let Some(_job) = next {
                    assert_eq!(running.fetch_add(1, Ordering::SeqCst), 0, "two at once");
                    running.fetch_sub(1, Ordering::SeqCst);
                    ran.fetch_add(1, Ordering::SeqCst);
                    next = lane.next();
                }
            })
        };
        let (a, b) = (worker(1), worker(2));
        let taken = lane.take_parked().len();
        a.join().unwrap();
        b.join().unwrap();
        assert_eq!(ran.load(Ordering::SeqCst) + taken, 2, "each job once");
        // No place held, nothing left parked: a third job runs at once.
        assert_eq!(lane.admit(3), Some(3));
        assert!(lane.next().is_none());
    });
}
