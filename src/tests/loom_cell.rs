//! The job cell: one job claimed by a worker, by `terminate`'s rejection and
//! by a waiting worker at once, and a cell dropped unclaimed. Whoever wins,
//! the job runs or is cancelled exactly once, its closure is dropped exactly
//! once, its queue place is given back exactly once, and its result resolves
//! (a lost wake-up shows up as loom's deadlock report).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;

use crate::error::Cancellation;
use crate::job::{Job, Labels, Task, Worker};
use crate::metrics::WorkerStats;
use crate::places::Places;
use crate::result::AsyncResult;
use crate::work::prepare_closure;

fn labels() -> Labels {
    Labels {
        id: 0,
        kind: "apply",
        chunk: 0,
        stateful: false,
    }
}

/// A queued job whose closure counts its runs and its drop.
fn job(
    runs: &Arc<AtomicUsize>,
    drops: &Arc<AtomicUsize>,
    places: &Places,
) -> (Job, AsyncResult<u32>) {
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (runs, guard) = (runs.clone(), OnDrop(drops.clone()));
    let (job, result) = prepare_closure(labels(), Default::default(), 0, move || {
        let _guard = guard;
        runs.fetch_add(1, Ordering::SeqCst);
        5
    });
    assert!(places.try_take());
    job.head().set_placed();
    (job, result)
}

fn worker<'a>(places: &'a Places, stats: &'a WorkerStats, inline: bool) -> Worker<'a> {
    Worker {
        places,
        stats,
        index: 0,
        generation: 0,
        inline,
        max_queue_wait: None,
    }
}

#[test]
fn run_reject_and_inline_claim_race_for_one_job() {
    loom::model(|| {
        let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let places = Arc::new(Places::new(Some(1), None, 1));
        let stats = Arc::new(WorkerStats::default());
        let (job, result) = job(&runs, &drops, &places);
        let popper = {
            let (job, places, stats) = (job.clone(), places.clone(), stats.clone());
            thread::spawn(move || job.run(&worker(&places, &stats, false)))
        };
        let terminator = {
            let (job, places) = (job.clone(), places.clone());
            thread::spawn(move || job.reject(&places, Cancellation::Terminated))
        };
        let inlined = job.clone().run(&worker(&places, &stats, true));
        let popped = popper.join().unwrap();
        let rejected = terminator.join().unwrap();
        assert_eq!(
            [popped, rejected, inlined]
                .iter()
                .filter(|&&won| won)
                .count(),
            1,
            "exactly one claimer wins"
        );
        assert_eq!(places.used(), 0, "the place is given back once");
        let outcome = loom::future::block_on(result);
        match outcome {
            Ok(v) => assert_eq!((v, runs.load(Ordering::SeqCst)), (5, 1)),
            Err(e) => {
                assert_eq!(e.cancellation(), Some(Cancellation::Terminated));
                assert_eq!(runs.load(Ordering::SeqCst), 0);
            }
        }
        drop(job);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the closure is dropped once"
        );
    });
}

#[test]
fn dropping_the_result_races_the_worker() {
    loom::model(|| {
        let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let places = Arc::new(Places::new(Some(1), None, 1));
        let stats = Arc::new(WorkerStats::default());
        let (job, result) = job(&runs, &drops, &places);
        let owner = thread::spawn(move || drop(result));
        assert!(job.clone().run(&worker(&places, &stats, false)));
        owner.join().unwrap();
        // Run, or skipped as abandoned: either way once, and nothing leaks.
        assert!(runs.load(Ordering::SeqCst) <= 1);
        assert_eq!(places.used(), 0);
        drop(job);
        assert_eq!(
            drops.load(Ordering::SeqCst),
            1,
            "the closure is dropped once"
        );
    });
}
