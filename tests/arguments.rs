//! Arguments a hostile or careless caller may pass: each gets the right
//! results or a clear error, and none aborts or panics the process.

use crate::common;

use common::within;
use corepool::{Map, Pool};

/// Claims an exact length it does not have.
struct Liar {
    items: std::ops::Range<u32>,
    claimed: usize,
}

impl Iterator for Liar {
    type Item = u32;
    fn next(&mut self) -> Option<u32> {
        self.items.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.claimed, Some(self.claimed))
    }
}

#[test]
fn huge_imap_chunksizes_reserve_only_what_the_input_fills() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        for chunksize in [usize::MAX, 1 << 40, 1 << 20] {
            let v: Vec<u32> = pool
                .imap(|x: u32| x * 2, 0..5)
                .chunksize(chunksize)
                .into_blocking_iter()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(v, [0, 2, 4, 6, 8], "chunksize {chunksize}");
            let mut v: Vec<u32> = pool
                .imap_unordered(|x: u32| x, 0..5)
                .chunksize(chunksize)
                .into_blocking_iter()
                .collect::<Result<_, _>>()
                .unwrap();
            v.sort();
            assert_eq!(v, [0, 1, 2, 3, 4]);
        }
    });
}

#[test]
fn huge_map_chunksizes_work() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        for chunksize in [usize::MAX, 1 << 40] {
            assert_eq!(
                pool.run(Map::new(|x: u32| x + 1, 0..5).chunksize(chunksize))
                    .unwrap(),
                [1, 2, 3, 4, 5]
            );
        }
    });
}

#[test]
fn huge_worker_counts_are_build_errors() {
    for workers in [usize::MAX, 1 << 40, corepool::MAX_WORKERS + 1] {
        let err = Pool::builder().workers(workers).build().unwrap_err();
        assert!(
            err.to_string().contains("more than a pool may have"),
            "{err}"
        );
    }
}

#[test]
fn a_thread_the_os_refuses_is_a_build_error() {
    within(|| {
        // No OS maps a 1 TiB stack per thread.
        let err = Pool::builder()
            .workers(2)
            .stack_size(1 << 40)
            .build()
            .unwrap_err();
        assert!(err.to_string().contains("failed to spawn"), "{err}");
        assert!(
            std::error::Error::source(&err).is_some(),
            "the io error is the source"
        );
    });
}

#[test]
fn a_thread_name_with_a_nul_byte_is_a_build_error() {
    within(|| {
        let err = Pool::builder()
            .workers(3)
            .thread_name(|i| {
                if i == 1 {
                    "bad\0name".into()
                } else {
                    format!("ok-{i}")
                }
            })
            .build()
            .unwrap_err();
        assert_eq!(err.to_string(), "the name of worker 1 contains a NUL byte");
    });
}

#[test]
fn a_lying_size_hint_gives_the_right_results() {
    within(|| {
        let pool = Pool::new(2).unwrap();
        for claimed in [usize::MAX, 1 << 40, 100, 5, 3, 1, 0] {
            let input = || Liar {
                items: 0..5,
                claimed,
            };
            assert_eq!(
                pool.map(|x: u32| x * 10, input()).unwrap(),
                [0, 10, 20, 30, 40],
                "claimed {claimed}"
            );
            assert_eq!(
                pool.run(Map::new(|x: u32| x, input()).chunksize(2))
                    .unwrap(),
                [0, 1, 2, 3, 4],
                "claimed {claimed}, chunksize 2"
            );
            let v: Vec<u32> = pool
                .imap(|x: u32| x, input())
                .into_blocking_iter()
                .collect::<Result<_, _>>()
                .unwrap();
            assert_eq!(v, [0, 1, 2, 3, 4]);
        }
    });
}

#[test]
fn a_panicking_thread_name_function_is_a_build_error_and_stops_started_threads() {
    within(|| {
        let started = common::Counter::new();
        let s = started.clone();
        let err = Pool::builder()
            .workers(3)
            .initializer(move || s.bump())
            .thread_name(|i| {
                if i == 2 {
                    panic!("no name for you");
                }
                format!("w{i}")
            })
            .build()
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the thread name function panicked for worker 2: no name for you"
        );
        // Workers 0 and 1 were started, then stopped and joined by `build`.
        assert!(started.get() <= 2);
    });
}
