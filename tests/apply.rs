//! apply, apply_async, AsyncResult's Python-side methods, callbacks.

use crate::common;

use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::{Counter, occupy, on_tokio, within};
use corepool::{Apply, Cancellation, Pool, TaskError, TaskErrorKind, WaitError};

#[test]
fn apply_returns_the_value_and_runs_on_a_worker_thread() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let name = pool
            .apply(|| std::thread::current().name().unwrap().to_owned())
            .unwrap();
        assert!(name.starts_with("corepool-worker-"), "{name}");
    });
}

#[test]
fn apply_async_is_submitted_eagerly_without_polling() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (tx, rx) = mpsc::channel();
        let mut r = pool.apply_async(move || tx.send(7).unwrap());
        // Nobody polls `r`, yet the task runs.
        assert_eq!(rx.recv_timeout(common::LIMIT).unwrap(), 7);
        r.get().unwrap();
    });
}

#[test]
fn panic_is_a_typed_error_and_the_worker_lives_on() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        for i in 0..5 {
            let err = pool
                .apply(move || -> u8 { panic!("panic {i}") })
                .unwrap_err();
            assert!(err.is_panic());
            assert_eq!(err.panic_message(), Some(format!("panic {i}").as_str()));
            assert_eq!(err.index(), None);
        }
        // Still one worker, still working.
        assert_eq!(pool.apply(|| 1).unwrap(), 1);
    });
}

#[test]
fn get_timeout_loses_nothing() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let mut r = pool.apply_async(move || {
            go_rx.recv().unwrap();
            String::from("late")
        });
        for _ in 0..3 {
            let err = r.get_timeout(Duration::from_millis(5)).unwrap_err();
            assert!(matches!(err, WaitError::TimedOut), "{err:?}");
            assert!(!r.ready());
            assert_eq!(r.successful(), None);
        }
        go_tx.send(()).unwrap();
        r.wait().unwrap();
        assert!(r.ready());
        assert_eq!(r.successful(), Some(true));
        assert_eq!(r.get().unwrap(), "late");
    });
}

#[test]
fn wait_timeout_then_await_gets_the_value() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let r = pool.apply_async(move || {
            go_rx.recv().unwrap();
            5
        });
        assert!(
            r.wait_timeout(Duration::from_millis(5))
                .unwrap_err()
                .is_timeout(),
            "not ready yet"
        );
        go_tx.send(()).unwrap();
        assert_eq!(r.await.unwrap(), 5);
    });
}

#[test]
fn await_works_without_tokio() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let r = pool.apply_async(|| 40 + 2);
        assert_eq!(futures::executor::block_on(r).unwrap(), 42);
    });
}

#[test]
fn dropping_the_result_cancels_work_that_has_not_started() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let busy = occupy(&pool, 1);
        let ran = Counter::new();
        let drops = Counter::new();
        let (ran2, tracked) = (ran.clone(), drops.tracked());
        let r = pool.apply_async(move || {
            let _keep = &tracked;
            ran2.bump();
        });
        drop(r);
        busy.release();
        // A later task on the only worker runs after the cancelled one.
        pool.apply(|| ()).unwrap();
        assert_eq!(ran.get(), 0, "a cancelled closure must never run");
        assert_eq!(drops.get(), 1, "the closure is dropped exactly once");
    });
}

#[test]
fn detach_keeps_the_work_running() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let busy = occupy(&pool, 1);
        let ran = Counter::new();
        let ran2 = ran.clone();
        pool.apply_async(move || ran2.bump()).detach();
        busy.release();
        pool.close();
        pool.join().unwrap();
        assert_eq!(ran.get(), 1);
    });
}

#[test]
fn value_of_an_abandoned_running_task_is_dropped_once() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let drops = Counter::new();
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let d = drops.clone();
        let r = pool.apply_async(move || {
            started_tx.send(()).unwrap();
            go_rx.recv().unwrap();
            d.tracked()
        });
        started_rx.recv().unwrap();
        drop(r); // running: it finishes, its value is dropped
        go_tx.send(()).unwrap();
        pool.close();
        pool.join().unwrap();
        assert_eq!(drops.get(), 1);
    });
}

#[test]
fn callback_runs_before_the_result_is_observable() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        for i in 0..50_u32 {
            let seen = Arc::new(Mutex::new(None));
            let seen2 = seen.clone();
            let work = Apply::new(move || i * 2).callback(move |v: &u32| {
                *seen2.lock().unwrap() = Some(*v);
            });
            let mut r = pool.spawn(work);
            let v = r.get().unwrap();
            // Python's ordering: by the time `get` returns, the callback ran.
            assert_eq!(*seen.lock().unwrap(), Some(v));
        }
    });
}

#[test]
fn error_callback_gets_the_panic() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (tx, rx) = mpsc::channel();
        let ok_calls = Counter::new();
        let ok2 = ok_calls.clone();
        let work = Apply::new(|| panic!("kaput"))
            .callback(move |_: &()| ok2.bump())
            .error_callback(move |e: &TaskError| {
                tx.send((e.kind(), e.panic_message().map(str::to_owned)))
                    .unwrap()
            });
        let err = pool.spawn(work).get().unwrap_err();
        assert!(err.is_panic());
        assert_eq!(
            rx.recv().unwrap(),
            (TaskErrorKind::Panicked, Some("kaput".to_owned()))
        );
        assert_eq!(ok_calls.get(), 0);
    });
}

#[test]
fn panicking_callback_is_reported_and_breaks_nothing() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let value_drops = Counter::new();
        let d = value_drops.clone();
        let work =
            Apply::new(move || d.tracked()).callback(|_: &common::Tracked| panic!("callback bug"));
        let err = pool.spawn(work).get().unwrap_err();
        let err = err.into_task_error().unwrap();
        assert_eq!(err.kind(), TaskErrorKind::CallbackPanicked);
        assert_eq!(err.panic_message(), Some("callback bug"));
        assert_eq!(value_drops.get(), 1, "the value is dropped once");
        // gh-83371: a panicking callback must not hang the pool.
        let results: Vec<_> = (0..10).map(|i| pool.apply_async(move || i)).collect();
        let sum: i32 = results.into_iter().map(|mut r| r.get().unwrap()).sum();
        assert_eq!(sum, 45);
    });
}

#[test]
fn callbacks_are_fire_and_forget() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        for i in 0..20 {
            let tx = tx.clone();
            // Fire and forget: nobody keeps the AsyncResult.
            pool.spawn(Apply::new(move || i).callback(move |v: &i32| tx.send(*v).unwrap()))
                .detach();
        }
        drop(tx);
        let mut got: Vec<i32> = rx.iter().collect();
        got.sort();
        assert_eq!(got, (0..20).collect::<Vec<_>>());
    });
}

#[test]
fn error_callback_hears_of_a_closed_pool() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        pool.close();
        let (tx, rx) = mpsc::channel();
        let mut r = pool.spawn(
            Apply::new(|| 1)
                .error_callback(move |e: &TaskError| tx.send(e.cancellation()).unwrap()),
        );
        let err = r.get().unwrap_err();
        assert!(err.is_cancelled());
        assert!(err.to_string().contains("pool was closed"), "{err}");
        assert_eq!(rx.recv().unwrap(), Some(Cancellation::PoolClosed));
    });
}

#[test]
fn into_panic_resumes_the_original_payload() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        #[derive(Debug, PartialEq)]
        struct Custom(u32);
        let err = pool.apply(|| std::panic::panic_any(Custom(3))).unwrap_err();
        assert_eq!(err.panic_message(), None);
        assert_eq!(
            err.into_task_error()
                .unwrap()
                .into_panic()
                .downcast::<Custom>()
                .unwrap(),
            Box::new(Custom(3))
        );
    });
}

#[test]
fn dropping_a_result_with_callbacks_does_not_cancel_it() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let busy = occupy(&pool, 1);
        let (tx, rx) = mpsc::channel();
        let r = pool.spawn(Apply::new(|| 5).callback(move |v: &i32| tx.send(*v).unwrap()));
        drop(r); // queued, not started: without callbacks this would cancel it
        busy.release();
        assert_eq!(rx.recv_timeout(common::LIMIT).unwrap(), 5);
    });
}

/// A result shared between threads wakes every thread waiting on it, with
/// or without a timeout (the slot used to keep one waker: the other waiter
/// hung, or returned only at its deadline). The waits are an hour long, so a
/// waiter that is not woken fails the test by its time limit. Repeated, so
/// the waiters are already parked in most rounds when the job finishes.
#[test]
fn every_thread_waiting_on_a_shared_result_is_woken() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        for _ in 0..50 {
            let (release_tx, release_rx) = mpsc::channel::<()>();
            let r = Arc::new(pool.apply_async(move || release_rx.recv().unwrap()));
            let (entered_tx, entered_rx) = mpsc::channel();
            let waiters: Vec<_> = (0..4)
                .map(|i| {
                    let (r, entered) = (r.clone(), entered_tx.clone());
                    std::thread::spawn(move || {
                        entered.send(()).unwrap();
                        if i % 2 == 0 {
                            r.wait().unwrap();
                        } else {
                            r.wait_timeout(Duration::from_secs(3600)).unwrap();
                        }
                        r.ready()
                    })
                })
                .collect();
            for _ in 0..4 {
                entered_rx.recv().unwrap();
            }
            release_tx.send(()).unwrap();
            for w in waiters {
                assert!(w.join().unwrap());
            }
        }
    });
}

/// `Duration::MAX` means "no deadline", as `std::sync::mpsc::Receiver::recv_timeout`
/// treats it, instead of overflowing `Instant + Duration`.
#[test]
fn huge_timeouts_mean_no_deadline() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let mut r = pool.apply_async(|| 1);
        assert_eq!(r.get_timeout(Duration::MAX).unwrap(), 1);
        let r = pool.apply_async(|| 2);
        r.wait_timeout(Duration::MAX).unwrap();
        assert!(r.ready());
        let mut it = pool.imap(|x: u8| x, [3]).into_blocking_iter();
        assert_eq!(it.next_timeout(Duration::MAX).unwrap().unwrap(), 3);
        assert!(it.next_timeout(Duration::MAX).is_none());
    });
}
