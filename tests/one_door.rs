//! The one door: the surface is small, every kind of work goes through every
//! admission mode (plain and stateful), and the errors are small and
//! complete (one shape for "timed out", a second `get` and a second payload
//! view that neither panic nor hang, the panic's location).

use crate::common;

use std::sync::mpsc;
use std::time::Duration;

use common::{bounded, within};
use corepool::{
    Apply, Cancellation, Map, Pool, SubmitError, TaskError, TaskErrorKind, TryError, WaitError,
};

/// Python's eight names and the door's four modes.
const SUBMITTING: [&str; 12] = [
    "apply",
    "apply_async",
    "map",
    "map_async",
    "starmap",
    "starmap_async",
    "imap",
    "imap_unordered",
    "spawn",
    "offer",
    "submit",
    "run",
];

/// Counts the public methods declared in a source file's `impl` blocks.
fn public_methods(source: &str) -> Vec<&str> {
    source
        .lines()
        .filter_map(|line| line.strip_prefix("    pub fn "))
        .map(|rest| rest.split(['(', '<']).next().unwrap())
        .collect()
}

#[test]
fn pool_has_at_most_24_public_methods_all_in_one_file() {
    let methods = public_methods(include_str!("../src/pool.rs"));
    assert!(
        methods.len() <= 24,
        "{} methods: {methods:?}",
        methods.len()
    );
    for name in SUBMITTING {
        assert!(methods.contains(&name), "{name} is missing");
    }
    // No other file adds methods to `Pool`.
    for (file, source) in [
        ("stateful.rs", include_str!("../src/stateful.rs")),
        ("build.rs", include_str!("../src/build.rs")),
        ("lane.rs", include_str!("../src/lane.rs")),
        ("permit.rs", include_str!("../src/permit.rs")),
        ("work/apply.rs", include_str!("../src/work/apply.rs")),
        ("work/map.rs", include_str!("../src/work/map.rs")),
        ("imap/mod.rs", include_str!("../src/imap/mod.rs")),
    ] {
        assert!(!source.contains("impl Pool {"), "{file} has an `impl Pool`");
    }
}

#[test]
fn stateful_pool_has_the_same_door_and_names() {
    let plain = public_methods(include_str!("../src/pool.rs"));
    let stateful = public_methods(include_str!("../src/stateful.rs"));
    for name in SUBMITTING {
        assert!(plain.contains(&name) && stateful.contains(&name), "{name}");
    }
}

#[test]
fn a_task_error_is_one_pointer_wide() {
    assert!(std::mem::size_of::<Result<u32, TaskError>>() <= 16);
    assert_eq!(
        std::mem::size_of::<TaskError>(),
        std::mem::size_of::<usize>()
    );
}

#[test]
fn a_second_get_is_an_error_not_a_panic() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let mut r = pool.apply_async(|| 7);
        assert_eq!(r.get().unwrap(), 7);
        assert!(matches!(r.get(), Err(WaitError::Taken)));
        assert!(r.get_timeout(Duration::ZERO).unwrap_err().is_taken());
        // Waiting on a taken result still says it is ready.
        r.wait().unwrap();
        assert!(r.ready());
    });
}

#[test]
fn payload_views_never_hang() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let err = pool.apply(|| -> u8 { panic!("boom") }).unwrap_err();
        let a = err.panic_payload();
        let b = err.panic_payload();
        assert_eq!(
            a.unwrap().downcast_ref::<&str>(),
            b.unwrap().downcast_ref::<&str>()
        );
        let err = pool
            .apply(|| -> u8 { std::panic::panic_any(5_u64) })
            .unwrap_err();
        let a = err.panic_payload();
        let b = err.panic_payload(); // a second live view of a locked payload
        assert_eq!(a.unwrap().downcast_ref::<u64>(), Some(&5));
        assert!(b.is_none());
        assert!(err.panic_payload().is_some(), "free again once dropped");
    });
}

#[test]
fn a_panic_says_where_it_happened() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let line = line!() + 1;
        let err = pool.apply(|| -> u8 { panic!("here") }).unwrap_err();
        let location = err.panic_location().expect("a location");
        assert!(
            location.starts_with(&format!("tests/one_door.rs:{line}:")),
            "{location}"
        );
        assert!(err.to_string().contains(location), "{err}");
        let err = pool.map(|x: u8| 1 / x, [1, 0]).unwrap_err();
        assert!(err.panic_location().unwrap().contains("one_door.rs"));
        // Not a panic: no location.
        pool.close();
        assert!(pool.apply(|| 1).unwrap_err().panic_location().is_none());
    });
}

#[test]
fn sync_errors_answer_every_question_directly() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let err = pool.map(|x: u32| 10 / x, [1, 2, 0]).unwrap_err();
        assert_eq!(err.kind(), Some(TaskErrorKind::Panicked));
        assert_eq!(err.index(), Some(2));
        assert!(err.is_panic());
        assert!(err.panic_message().unwrap().contains("divide by zero"));
        assert!(err.panic_payload().is_some());
        assert!(err.id().is_some());

        let err = pool
            .run(Map::fallible(|s: &str| s.parse::<u8>(), ["1", "x"]))
            .unwrap_err();
        assert_eq!(err.kind(), Some(TaskErrorKind::User));
        assert_eq!(err.index(), Some(1));

        pool.terminate();
        let err = pool.apply(|| 1).unwrap_err();
        assert_eq!(err.kind(), Some(TaskErrorKind::Cancelled));
        assert_eq!(err.cancellation(), Some(Cancellation::PoolClosed));
        assert!(err.is_cancelled());
    });
}

#[test]
fn every_timed_wait_times_out_the_same_way() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (go, wait) = mpsc::channel::<()>();
        let wait = std::sync::Mutex::new(wait);
        let mut r = pool.apply_async(move || wait.lock().unwrap().recv().unwrap());
        assert!(matches!(
            r.get_timeout(Duration::ZERO),
            Err(WaitError::TimedOut)
        ));
        assert!(matches!(
            r.wait_timeout(Duration::ZERO),
            Err(WaitError::TimedOut)
        ));
        let (go2, wait2) = mpsc::channel::<()>();
        let wait2 = std::sync::Mutex::new(wait2);
        let mut it = pool
            .imap(
                move |x: u8| {
                    wait2.lock().unwrap().recv().unwrap();
                    x
                },
                [1],
            )
            .into_blocking_iter();
        assert!(matches!(
            it.next_timeout(Duration::ZERO),
            Some(Err(WaitError::TimedOut))
        ));
        go.send(()).unwrap();
        r.get().unwrap();
        go2.send(()).unwrap();
        assert_eq!(it.next().unwrap().unwrap(), 1);
    });
}

#[test]
fn a_task_can_ask_why_it_is_cancelled() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (started, has_started) = mpsc::channel();
        let mut r = pool.apply_async(move || {
            started.send(()).unwrap();
            loop {
                if let Some(why) = corepool::cancellation() {
                    return why;
                }
                std::thread::yield_now();
            }
        });
        has_started.recv().unwrap();
        pool.terminate();
        assert_eq!(
            r.get().unwrap_err().cancellation(),
            Some(Cancellation::Terminated)
        );

        let pool = Pool::new(1).unwrap();
        let (started, has_started) = mpsc::channel();
        let (seen, saw) = mpsc::channel();
        let r = pool.apply_async(move || {
            started.send(()).unwrap();
            loop {
                if let Some(why) = corepool::cancellation() {
                    seen.send(why).unwrap();
                    return;
                }
                std::thread::yield_now();
            }
        });
        has_started.recv().unwrap();
        drop(r);
        assert_eq!(saw.recv().unwrap(), Cancellation::Abandoned);
        assert_eq!(corepool::cancellation(), None, "none outside a task");
    });
}

/// Holds the only worker of `pool` until the returned sender is dropped.
fn hold_the_worker(pool: &Pool) -> mpsc::Sender<()> {
    let (release, held) = mpsc::channel::<()>();
    let (started, has_started) = mpsc::channel();
    pool.spawn(move || {
        started.send(()).unwrap();
        let _ = held.recv();
    })
    .detach();
    has_started.recv().unwrap();
    release
}

#[test]
fn every_kind_of_work_can_be_offered_and_handed_back() {
    within(|| {
        let pool = bounded(1, 1);
        let release = hold_the_worker(&pool);
        let queued = pool.offer(|| 1).unwrap(); // the only place
        // A closure, an Apply, a Map: each handed back as it was given.
        let f = match pool.offer(|| 2) {
            Err(SubmitError::Full(f)) => f,
            other => panic!("{other:?}"),
        };
        let apply = match pool.offer(Apply::new(|| 3).callback(|_: &i32| {})) {
            Err(SubmitError::Full(apply)) => apply,
            other => panic!("{other:?}"),
        };
        let map = match pool.offer(Map::new(|x: u8| x + 1, vec![1, 2, 3]).chunksize(1)) {
            Err(SubmitError::Full(map)) => map,
            other => panic!("{other:?}"),
        };
        drop(release);
        let mut queued = queued;
        assert_eq!(queued.get().unwrap(), 1);
        assert_eq!(f(), 2);
        // Resubmitted as they came back, they run (the map's three chunks
        // wait for the one place in turn).
        assert_eq!(pool.run(apply).unwrap(), 3);
        let map = futures::executor::block_on(pool.submit(map))
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(futures::executor::block_on(map).unwrap(), [2, 3, 4]);
        pool.close();
        assert!(matches!(pool.offer(|| 4), Err(SubmitError::Closed(_))));
        assert!(
            pool.offer(Map::new(|x: u8| x, vec![1]))
                .unwrap_err()
                .is_closed()
        );
    });
}

#[test]
fn a_map_can_wait_for_room() {
    common::on_tokio(|| async {
        let pool = bounded(1, 1);
        let r = pool
            .submit(Map::new(|x: u32| x * 2, (0..20).collect::<Vec<_>>()).chunksize(1))
            .await
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(r.await.unwrap(), (0..20).map(|x| x * 2).collect::<Vec<_>>());
        let m = pool.metrics();
        assert_eq!(
            (m.submitted, m.rejected),
            (20, 0),
            "waiting is not refusing"
        );
        pool.close();
        let refused = pool.submit(Map::new(|x: u8| x, vec![1])).await.unwrap_err();
        assert!(refused.is_closed());
    });
}

#[test]
fn a_stateful_pool_has_every_form() {
    within(|| {
        let pool = Pool::builder()
            .workers(1)
            .queue_capacity(1)
            .build_with_state(|_| 10_u32)
            .unwrap();
        assert_eq!(pool.apply(|n: &mut u32| *n).unwrap(), 10);
        assert_eq!(pool.run(Apply::new(|n: &mut u32| *n + 1)).unwrap(), 11);
        let err = pool
            .run(Apply::fallible(|_: &mut u32| Err::<u8, _>("no")))
            .unwrap_err();
        assert!(matches!(
            err,
            WaitError::Task(TryError::User { error: "no", .. })
        ));
        let v = pool
            .run(Map::fallible(
                |n: &mut u32, x: u32| Ok::<_, ()>(x + *n),
                vec![1, 2],
            ))
            .unwrap();
        assert_eq!(v, [11, 12]);
        assert_eq!(
            pool.starmap(|n: &mut u32, a: u32, b: u32| a * b + *n, [(2, 3)])
                .unwrap(),
            [16]
        );
        let mut r = pool.offer(|n: &mut u32| *n * 2).unwrap();
        assert_eq!(r.get().unwrap(), 20);
        let r = futures::executor::block_on(pool.submit(|n: &mut u32| *n * 3))
            .map_err(|e| e.to_string())
            .unwrap();
        assert_eq!(futures::executor::block_on(r).unwrap(), 30);
        pool.close();
        assert!(pool.offer(|n: &mut u32| *n).unwrap_err().is_closed());
    });
}

#[test]
fn callbacks_of_a_map_and_an_apply_run_once() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        let (tx, rx) = mpsc::channel();
        let (tx2, tx3) = (tx.clone(), tx.clone());
        pool.spawn(
            Map::new(|x: u8| x, vec![1, 2])
                .callback(move |v: &Vec<u8>| tx.send(format!("map {v:?}")).unwrap()),
        )
        .detach();
        pool.spawn(Apply::fallible(|| "x".parse::<u8>()).error_callback(
            move |e: &TryError<std::num::ParseIntError>| {
                tx2.send(format!("user {}", e.user_error().is_some()))
                    .unwrap()
            },
        ))
        .detach();
        pool.spawn(
            Apply::new(|| 5).callback(move |v: &i32| tx3.send(format!("apply {v}")).unwrap()),
        )
        .detach();
        let mut got: Vec<String> = (0..3).map(|_| rx.recv().unwrap()).collect();
        got.sort();
        assert_eq!(got, ["apply 5", "map [1, 2]", "user true"]);
        pool.close();
        pool.join().unwrap();
        assert!(rx.try_recv().is_err(), "each callback ran once");
    });
}

/// The modules of `src/` that `module` names as `crate::other` (doc links
/// and code alike; unit tests are left out).
fn imports(path: &std::path::Path) -> std::collections::BTreeSet<String> {
    let source = std::fs::read_to_string(path).unwrap();
    let code = source.split("#[cfg(all(test").next().unwrap();
    let code = code.split("#[cfg(test)]").next().unwrap();
    code.match_indices("crate::")
        .map(|(at, _)| {
            code[at + "crate::".len()..]
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect::<String>()
        })
        .filter(|m| !m.is_empty())
        .collect()
}

#[test]
fn no_module_imports_a_module_that_imports_it() {
    use std::collections::{BTreeMap, BTreeSet};
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let rel = path
                .strip_prefix(&src)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            if path.is_dir() {
                if rel != "tests" {
                    stack.push(path);
                }
                continue;
            }
            if rel == "lib.rs" || !rel.ends_with(".rs") {
                continue; // the crate root only documents and re-exports
            }
            let top = rel.split(['/', '.']).next().unwrap().to_owned();
            let deps: Vec<_> = imports(&path).into_iter().filter(|d| *d != top).collect();
            graph.entry(top).or_default().extend(deps);
        }
    }
    // A cycle is a module reachable from itself.
    for start in graph.keys() {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<&String> = graph[start].iter().collect();
        while let Some(m) = todo.pop() {
            assert_ne!(m, start, "{start} imports a module that imports it");
            if seen.insert(m.clone()) {
                todo.extend(graph.get(m).into_iter().flatten());
            }
        }
    }
}
