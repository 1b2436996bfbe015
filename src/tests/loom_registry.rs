//! The pool's lifecycle: `terminate` and `close` racing a submission and a
//! worker. Every submission resolves exactly once, a closure runs at most
//! once and is dropped exactly once, and the worker exits.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use loom::thread;

use crate::error::Cancellation;
use crate::pool::Pool;
use crate::registry::Registry;
use crate::worker;

/// A closure that counts its runs and its drop.
fn counted(
    runs: &Arc<AtomicUsize>,
    drops: &Arc<AtomicUsize>,
) -> impl FnOnce() -> u32 + Send + 'static {
    struct OnDrop(Arc<AtomicUsize>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (runs, guard) = (runs.clone(), OnDrop(drops.clone()));
    move || {
        let _guard = guard;
        runs.fetch_add(1, Ordering::SeqCst);
        5
    }
}

fn race(stop: fn(&Registry)) -> (Result<u32, Option<Cancellation>>, usize, usize) {
    let (runs, drops) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let (registry, _shutdown) = Registry::new(1, Default::default());
    let pool = Pool::from_registry(registry.clone());
    let w = {
        let registry = registry.clone();
        thread::spawn(move || worker::run(&registry, 0, 0, None))
    };
    let submitter = {
        let f = counted(&runs, &drops);
        thread::spawn(move || pool.apply_async(f))
    };
    stop(&registry);
    let result = submitter.join().unwrap();
    let outcome = loom::future::block_on(result).map_err(|e| e.cancellation());
    w.join().unwrap(); // the queue is closed: the worker exits
    assert_eq!(registry.queued(), 0, "every queue place was given back");
    (
        outcome,
        runs.load(Ordering::SeqCst),
        drops.load(Ordering::SeqCst),
    )
}

#[test]
fn terminate_racing_a_submission_and_a_worker() {
    loom::model(|| {
        let (outcome, runs, drops) = race(Registry::terminate);
        match outcome {
            Ok(v) => assert_eq!((v, runs), (5, 1)),
            Err(Some(Cancellation::Terminated | Cancellation::PoolClosed)) => assert_eq!(runs, 0),
            Err(other) => panic!("unexpected {other:?}"),
        }
        assert_eq!(drops, 1, "the closure is dropped exactly once");
    });
}

#[test]
fn close_racing_a_submission_never_cancels_accepted_work() {
    loom::model(|| {
        let (outcome, runs, drops) = race(Registry::close);
        match outcome {
            Ok(v) => assert_eq!((v, runs), (5, 1)),
            Err(Some(Cancellation::PoolClosed)) => assert_eq!(runs, 0),
            Err(other) => panic!("accepted work must run after close, got {other:?}"),
        }
        assert_eq!(drops, 1, "the closure is dropped exactly once");
    });
}
