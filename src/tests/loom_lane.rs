//! A capped lane's scheduling (`lane.rs`): two workers each popping one of
//! the tokens of a lane capped at one (with the queue closed, so a waiting
//! token is served by the finishing worker itself), racing `terminate`'s
//! take of the lane's jobs. Every job is run or taken exactly once, never
//! two at once, in the lane's order, and the lane ends with no place held.

use std::sync::{Arc, Mutex};

use loom::thread;

use crate::lane::{Lane, LaneCore};

#[test]
fn loom_a_capped_lane_runs_each_job_once_in_order_and_one_at_a_time() {
    loom::model(|| {
        let lane: Arc<LaneCore<u32>> = Arc::new(Lane::new("one").max_workers(1).into_core());
        lane.push(1);
        lane.push(2);
        let ran = Arc::new(Mutex::new(Vec::new()));
        let running = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        // A worker that popped a token, as `Registry::execute` drives it.
        let worker = || {
            let (lane, ran, running) = (lane.clone(), ran.clone(), running.clone());
            thread::spawn(move || {
                let mut next = lane.start_next();
                while let Some(job) = next {
                    use std::sync::atomic::Ordering::SeqCst;
                    assert_eq!(running.fetch_add(1, SeqCst), 0, "two at once");
                    ran.lock().unwrap().push(job);
                    running.fetch_sub(1, SeqCst);
                    next = if lane.finish() {
                        lane.start_next()
                    } else {
                        None
                    };
                }
            })
        };
        let (a, b) = (worker(), worker());
        let taken = lane.take_parked();
        a.join().unwrap();
        b.join().unwrap();
        let ran = ran.lock().unwrap().clone();
        assert_eq!(
            ran.len() + taken.len(),
            2,
            "each job once: {ran:?} {taken:?}"
        );
        let mut all: Vec<u32> = ran.iter().chain(taken.iter()).copied().collect();
        all.sort_unstable();
        assert_eq!(all, [1, 2]);
        if ran.len() == 2 {
            assert_eq!(ran, [1, 2], "in the lane's order");
        }
        // No place held, nothing left: a new job and its token run at once.
        lane.push(3);
        assert_eq!(lane.start_next(), Some(3));
        assert!(!lane.finish(), "no token waits");
    });
}
