//! The fallible forms (`Apply::fallible`, `Map::fallible`, `imap` of a
//! function returning `Result`): the user's error comes back typed, the
//! first `Err` stops a map early, callbacks see the error, `imap` goes on
//! past an `Err`; and the plain map's "run every item" option.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};

use common::{Counter, on_tokio, within};
use corepool::{Apply, Map, Pool, TaskError, TaskErrorKind, TryError, WaitError};
use futures::StreamExt;

#[derive(Debug, PartialEq)]
struct BadRecord(u64);

/// The first `Err` stops the map: once the map has resolved with it, no
/// item starts any more (each running chunk checks before every item), and
/// the items after the failing one in its chunk never run.
///
/// Why "after resolution" rather than "after the failing item": the worker
/// that ran the failing item can be preempted between returning `Err` and
/// failing the map, and the other worker keeps going meanwhile (a whole
/// chunk, on a loaded 2-core machine). The map's resolution comes after it
/// is given up, so that is the moment the bound can be checked against.
#[test]
fn try_map_stops_early_on_the_first_err() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let ran = Arc::new(AtomicUsize::new(0));
        let resolved = Arc::new(AtomicBool::new(false));
        let after = Arc::new(AtomicUsize::new(0));
        let (r, res, af) = (ran.clone(), resolved.clone(), after.clone());
        let n = 1_000_000_u64;
        let err = pool
            .run(Map::fallible(
                move |x: u64| {
                    if res.load(Ordering::SeqCst) {
                        af.fetch_add(1, Ordering::SeqCst);
                    }
                    r.fetch_add(1, Ordering::SeqCst);
                    if x == 1_000 {
                        return Err(BadRecord(x));
                    }
                    Ok(x)
                },
                0..n,
            ))
            .unwrap_err();
        resolved.store(true, Ordering::SeqCst);
        match err {
            WaitError::Task(TryError::User { error, index }) => {
                assert_eq!(error, BadRecord(1_000));
                assert_eq!(index, Some(1_000));
            }
            other => panic!("{other:?}"),
        }
        pool.close();
        pool.join().unwrap(); // every chunk has stopped
        let (ran, after) = (ran.load(Ordering::SeqCst), after.load(Ordering::SeqCst));
        // At most the item each worker had already begun when it saw nothing
        // wrong yet.
        assert!(
            after <= pool.workers(),
            "{after} items started after the map resolved"
        );
        // Items 1 001..125 000 of the failing chunk never ran.
        assert!(ran < n as usize, "{ran} of {n} items ran");
    });
}

#[test]
fn try_map_with_callbacks_runs_only_the_error_callback() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let successes = Counter::new();
        let s = successes.clone();
        let (tx, rx) = mpsc::channel();
        let work = Map::fallible(
            |x: u8| {
                if x == 3 {
                    Err(format!("no {x}"))
                } else {
                    Ok(x)
                }
            },
            0..8,
        )
        .chunksize(1)
        .callback(move |_: &Vec<u8>| s.bump())
        .error_callback(move |e: &TryError<String>| {
            tx.send((e.user_error().cloned(), e.index())).unwrap()
        });
        let mut r = pool.spawn(work);
        let err = r.get().unwrap_err();
        assert_eq!(err.task_error().unwrap().user_error().unwrap(), "no 3");
        assert_eq!(rx.recv().unwrap(), (Some("no 3".to_owned()), Some(3)));
        pool.close();
        pool.join().unwrap();
        assert_eq!(successes.get(), 0, "an Err is not a success");
    });
}

#[test]
fn try_apply_gives_the_error_typed_and_panics_as_task_errors() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        assert_eq!(
            pool.spawn(Apply::fallible(|| Ok::<_, BadRecord>(5)))
                .await
                .unwrap(),
            5
        );
        match pool
            .spawn(Apply::fallible(|| Err::<u8, _>(BadRecord(7))))
            .await
        {
            Err(TryError::User { error, index }) => {
                assert_eq!((error, index), (BadRecord(7), None));
            }
            other => panic!("{other:?}"),
        }
        let err = pool
            .spawn(Apply::fallible(|| -> Result<u8, BadRecord> {
                panic!("boom")
            }))
            .await
            .unwrap_err();
        let task = err.task_error().unwrap();
        assert!(task.is_panic());
        assert_eq!(task.panic_message(), Some("boom"));
        // The error callback hears of it, typed; the success one does not.
        let (tx, rx) = mpsc::channel();
        let work = Apply::fallible(|| Err(BadRecord(9)))
            .callback(|_: &u8| panic!("not a success"))
            .error_callback(move |e: &TryError<BadRecord>| {
                tx.send(e.user_error().map(|b| b.0)).unwrap()
            });
        let err = pool.spawn(work).await.unwrap_err();
        assert_eq!(err.into_user_error(), Some(BadRecord(9)));
        assert_eq!(rx.recv().unwrap(), Some(9));
    });
}

#[test]
fn try_imap_yields_an_err_at_its_position_and_goes_on() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let out: Vec<_> = pool
            .imap(
                |x: u64| {
                    if x % 4 == 1 {
                        Err(BadRecord(x))
                    } else {
                        Ok(x * 10)
                    }
                },
                0..10,
            )
            .chunksize(3)
            .collect()
            .await;
        assert_eq!(out.len(), 10);
        for (i, r) in out.into_iter().enumerate() {
            let i = i as u64;
            // The item at position `i` is the result of input item `i`.
            match r {
                Ok(Ok(v)) => assert_eq!(v, i * 10),
                Ok(Err(error)) => {
                    assert_eq!(error, BadRecord(i));
                    assert_eq!(i % 4, 1);
                }
                Err(other) => panic!("{other:?}"),
            }
        }
        let errs = pool
            .imap_unordered(|x: u8| if x < 3 { Err(x) } else { Ok(x) }, 0..10)
            .filter(|r| std::future::ready(!matches!(r, Ok(Ok(_)))))
            .count()
            .await;
        assert_eq!(errs, 3);
    });
}

#[test]
fn not_failing_fast_runs_every_item_and_reports_the_first_error() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        for chunksize in [1, 3, 100] {
            let ran = Counter::new();
            let r = ran.clone();
            let work = Map::new(
                move |x: u32| {
                    r.bump();
                    if x % 10 == 7 { panic!("item {x}") } else { x }
                },
                0..50,
            )
            .chunksize(chunksize)
            .fail_fast(false);
            let err = pool.run(work).unwrap_err();
            assert!(err.is_panic());
            assert_eq!(ran.get(), 50, "chunksize {chunksize}: every item ran");
            let ran = Counter::new();
            let r = ran.clone();
            let work = Map::fallible(
                move |x: u32| {
                    r.bump();
                    if x == 20 || x == 40 { Err(x) } else { Ok(x) }
                },
                0..50,
            )
            .chunksize(chunksize)
            .fail_fast(false);
            let err = pool.run(work).unwrap_err();
            let user = *err.task_error().unwrap().user_error().unwrap();
            assert!(user == 20 || user == 40, "the first error to arrive");
            assert_eq!(ran.get(), 50);
        }
    });
}

#[test]
fn an_input_that_panics_fails_the_map_instead_of_unwinding() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let input = (0..10_u32).map(|x| if x == 6 { panic!("input broke") } else { x });
        let err = pool.map(|x: u32| x, input).unwrap_err();
        let task = err.task_error().unwrap();
        assert_eq!(task.kind(), TaskErrorKind::InputPanicked);
        assert_eq!(task.panic_message(), Some("input broke"));
        assert_eq!(task.index(), Some(6));
        // An input of unknown length is collected first: the same.
        let input = (0..10_u32).filter(|&x| if x == 4 { panic!("filter broke") } else { true });
        let err = pool.map(|x: u32| x, input).unwrap_err();
        assert_eq!(
            err.task_error().unwrap().kind(),
            TaskErrorKind::InputPanicked
        );
        assert_eq!(
            pool.map(|x: u8| x, [1]).unwrap(),
            [1],
            "the pool is unharmed"
        );
    });
}

#[test]
fn error_callbacks_can_look_at_the_panic_payload_by_reference() {
    within(|| {
        #[derive(Debug)]
        struct KeyError(u32);
        let pool = Pool::new(1).unwrap();
        let (tx, rx) = mpsc::channel();
        let work = Map::new(
            |x: u32| {
                if x == 2 {
                    std::panic::panic_any(KeyError(x))
                } else {
                    x
                }
            },
            0..4,
        )
        .error_callback(move |e: &TaskError| {
            let key = e
                .panic_payload()
                .and_then(|p| p.downcast_ref::<KeyError>().map(|k| k.0));
            tx.send(key).unwrap();
        });
        let mut r = pool.spawn(work);
        // The payload is still there for the caller after the callback looked.
        let err = r.get().unwrap_err().into_task_error().unwrap();
        assert_eq!(rx.recv().unwrap(), Some(2));
        assert_eq!(err.into_panic().downcast::<KeyError>().unwrap().0, 2);
    });
}

#[test]
fn sync_try_forms_refuse_on_a_current_thread_runtime() {
    within(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let pool = Pool::new(1).unwrap();
            let err = pool
                .run(Map::fallible(|x: u8| Ok::<_, ()>(x), [1]))
                .unwrap_err();
            assert!(err.would_deadlock().is_some());
            let err = pool.run(Apply::fallible(|| Ok::<_, ()>(1))).unwrap_err();
            assert!(err.would_deadlock().is_some());
            assert_eq!(
                pool.spawn(Map::fallible(|x: u8| Ok::<_, ()>(x), [1]))
                    .await
                    .unwrap(),
                [1]
            );
        });
    });
}
