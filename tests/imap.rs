//! imap and imap_unordered: order, laziness, bounds, errors, cancellation.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use common::{Counter, occupy, on_tokio, within};
use corepool::{Cancellation, Map, Pool, TaskErrorKind, WaitError};
use futures::{Stream, StreamExt, TryStreamExt, stream};

/// An endless input that counts how many items were pulled.
fn counted(pulled: &Arc<AtomicUsize>) -> impl Iterator<Item = u64> + Send + 'static {
    let pulled = pulled.clone();
    (0..).inspect(move |_| {
        pulled.fetch_add(1, Ordering::SeqCst);
    })
}

#[test]
fn imap_yields_in_input_order() {
    on_tokio(|| async {
        let pool = Pool::new(4).unwrap();
        let out: Vec<u64> = pool
            .imap(
                |x: u64| {
                    std::thread::sleep(Duration::from_micros((7 - x % 7) * 200));
                    x * 3
                },
                0..100,
            )
            .try_collect()
            .await
            .unwrap();
        assert_eq!(out, (0..100).map(|x| x * 3).collect::<Vec<_>>());
    });
}

#[test]
fn imap_unordered_yields_in_completion_order() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let mut s = pool.imap_unordered(
            move |x: u32| {
                if x == 0 {
                    go_rx.lock().unwrap().recv().unwrap(); // the first item is held back
                }
                x
            },
            0..4,
        );
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(s.next().await.unwrap().unwrap());
        }
        assert_eq!(got, [1, 2, 3], "later items overtake the stuck one");
        go_tx.send(()).unwrap();
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        assert!(s.next().await.is_none());
        assert!(futures::stream::FusedStream::is_terminated(&s));
    });
}

#[test]
fn input_is_pulled_lazily_within_the_window() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        for (chunksize, buffersize) in [(1, 1), (1, 4), (3, 2), (8, 8)] {
            let pulled = Arc::new(AtomicUsize::new(0));
            let s = pool
                .imap(|x: u64| x, counted(&pulled))
                .chunksize(chunksize)
                .buffersize(buffersize);
            assert_eq!(
                pulled.load(Ordering::SeqCst),
                0,
                "nothing is pulled before the first poll"
            );
            let mut s = s;
            for k in 1..=50 {
                assert_eq!(s.next().await.unwrap().unwrap(), k - 1);
                let ahead = pulled.load(Ordering::SeqCst) - k as usize;
                assert!(
                    ahead <= chunksize * buffersize,
                    "chunksize {chunksize}, buffersize {buffersize}: {ahead} items pulled ahead of {k} taken"
                );
            }
        }
    });
}

#[test]
fn a_stuck_head_stops_input_pulling() {
    on_tokio(|| async {
        let pool = Pool::new(4).unwrap();
        let pulled = Arc::new(AtomicUsize::new(0));
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let mut s = pool
            .imap(
                move |x: u64| {
                    if x == 0 {
                        go_rx.lock().unwrap().recv().unwrap();
                    }
                    x
                },
                counted(&pulled),
            )
            .buffersize(6);
        // The head is stuck; the other workers finish everything else they get.
        let first = tokio::time::timeout(Duration::from_millis(200), s.next()).await;
        assert!(first.is_err(), "the head cannot be ready yet");
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            6,
            "the reorder buffer must not grow past the window"
        );
        go_tx.send(()).unwrap();
        let first10: Vec<u64> = s.by_ref().take(10).try_collect().await.unwrap();
        assert_eq!(first10, (0..10).collect::<Vec<_>>());
    });
}

/// Pulls 2 000 results of 1 KiB from an endless input through a slow
/// consumer and checks how many results are alive and how far the input
/// ran ahead, against the window: `chunksize` items per chunk, or for the
/// adaptive default at most 1 024 per chunk (and 64 per worker in all, or
/// 4 chunks per worker, whichever is more).
fn slow_consumer(chunksize: Option<usize>) {
    let pool = Pool::new(2).unwrap();
    let pulled = Arc::new(AtomicUsize::new(0));
    let live = Arc::new(AtomicUsize::new(0));
    struct Big(Arc<AtomicUsize>, #[allow(dead_code)] Vec<u8>);
    impl Drop for Big {
        fn drop(&mut self) {
            self.0.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let l = live.clone();
    let stream = pool.imap(
        move |_: u64| {
            l.fetch_add(1, Ordering::SeqCst);
            Big(l.clone(), vec![0; 1024])
        },
        counted(&pulled),
    );
    let (stream, window) = match chunksize {
        // The default window at chunksize 1: 64 items per worker.
        Some(1) => (stream.chunksize(1), 64 * pool.workers()),
        Some(n) => (stream.chunksize(n), n * 4 * pool.workers()),
        None => (stream, 1024 * 4 * pool.workers()),
    };
    let mut it = stream.into_blocking_iter();
    for _ in 0..2000 {
        let big = it.next().unwrap().unwrap();
        drop(big);
        if pulled.load(Ordering::SeqCst) % 100 == 0 {
            std::thread::sleep(Duration::from_millis(1)); // a slow consumer
        }
        assert!(
            live.load(Ordering::SeqCst) <= window,
            "results alive: {}",
            live.load(Ordering::SeqCst)
        );
        assert!(pulled.load(Ordering::SeqCst) <= 2000 + window);
    }
}

#[test]
fn a_slow_consumer_keeps_memory_bounded_on_an_endless_input() {
    within(|| slow_consumer(Some(1)));
}

#[test]
fn the_adaptive_default_keeps_memory_bounded_too() {
    within(|| slow_consumer(None));
}

#[test]
fn panicking_items_are_errors_in_place_and_the_stream_goes_on() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        for chunksize in [1, 3, 10] {
            let out: Vec<_> = pool
                .imap(
                    |x: u32| if x % 4 == 1 { panic!("item {x}") } else { x },
                    0..10,
                )
                .chunksize(chunksize)
                .collect()
                .await;
            assert_eq!(out.len(), 10);
            for (i, r) in out.into_iter().enumerate() {
                match r {
                    Ok(v) => assert_eq!(v as usize, i),
                    Err(e) => {
                        assert_eq!(i % 4, 1, "chunksize {chunksize}");
                        assert!(e.is_panic());
                        assert_eq!(e.index(), Some(i));
                        assert_eq!(e.panic_message(), Some(format!("item {i}").as_str()));
                    }
                }
            }
        }
    });
}

#[test]
fn an_input_panic_ends_the_stream_after_the_results_before_it() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let input = (0..10_u32).map(|x| if x == 5 { panic!("input broke") } else { x });
        for chunksize in [1, 2, 4] {
            let input = input.clone();
            let out: Vec<_> = pool
                .imap(|x: u32| x * 2, input)
                .chunksize(chunksize)
                .collect()
                .await;
            assert_eq!(out.len(), 6, "five results, then the error");
            for (i, r) in out[..5].iter().enumerate() {
                assert_eq!(*r.as_ref().unwrap(), i as u32 * 2);
            }
            let err = out[5].as_ref().unwrap_err();
            assert_eq!(err.kind(), TaskErrorKind::InputPanicked);
            assert_eq!(err.panic_message(), Some("input broke"));
            assert_eq!(err.index(), Some(5));
        }
        let unordered: Vec<_> = pool.imap_unordered(|x: u32| x, input).collect().await;
        assert_eq!(unordered.len(), 6);
        assert_eq!(
            unordered.last().unwrap().as_ref().unwrap_err().kind(),
            TaskErrorKind::InputPanicked
        );
    });
}

#[test]
fn dropping_the_stream_cancels_chunks_that_have_not_started() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let ran = Counter::new();
        let pulled = Arc::new(AtomicUsize::new(0));
        let r = ran.clone();
        let (started_tx, started_rx) = mpsc::channel();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let mut it = pool
            .imap(
                move |x: u64| {
                    r.bump();
                    if x == 0 {
                        started_tx.send(()).unwrap();
                        go_rx.lock().unwrap().recv().unwrap();
                    }
                    x
                },
                counted(&pulled),
            )
            .buffersize(5)
            .into_blocking_iter();
        assert!(matches!(
            it.next_timeout(Duration::from_millis(1)),
            Some(Err(WaitError::TimedOut))
        ));
        started_rx.recv().unwrap();
        drop(it);
        let pulled_at_drop = pulled.load(Ordering::SeqCst);
        go_tx.send(()).unwrap();
        pool.apply(|| ()).unwrap(); // the queue has been worked through
        assert_eq!(ran.get(), 1, "only the running item ran");
        assert_eq!(
            pulled.load(Ordering::SeqCst),
            pulled_at_drop,
            "no input is pulled after drop"
        );
        assert_eq!(pulled_at_drop, 5);
    });
}

#[test]
fn cancelled_closures_and_items_are_dropped_exactly_once() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let busy = occupy(&pool, 1);
        let item_drops = Counter::new();
        let fn_drops = Counter::new();
        let items: Vec<_> = (0..20).map(|_| item_drops.tracked()).collect();
        let guard = fn_drops.tracked();
        let mut s = pool
            .imap(
                move |t: common::Tracked| {
                    let _g = &guard;
                    drop(t)
                },
                items,
            )
            .chunksize(2)
            .buffersize(3);
        // Poll once to submit the window (3 chunks), then drop everything.
        let waker = futures::task::noop_waker();
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(s.poll_next_unpin(&mut cx).is_pending());
        drop(s);
        busy.release();
        pool.close();
        pool.join().unwrap();
        assert_eq!(
            item_drops.get(),
            20,
            "each item dropped once: 6 in cancelled chunks, 14 never pulled"
        );
        assert_eq!(fn_drops.get(), 1, "the function is dropped once");
    });
}

#[test]
fn empty_input_ends_at_once() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let mut s = pool.imap(|x: u8| x, Vec::new());
        assert_eq!(Stream::size_hint(&s), (0, Some(0)));
        assert!(s.next().await.is_none());
        assert!(s.next().await.is_none(), "fused");
        assert!(
            pool.imap_unordered(|x: u8| x, Vec::new())
                .next()
                .await
                .is_none()
        );
    });
}

#[test]
fn size_hint_tracks_what_is_left() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let mut s = pool.imap(|x: u8| x, 0..10).chunksize(3);
        assert_eq!(Stream::size_hint(&s), (10, Some(10)));
        s.next().await.unwrap().unwrap();
        assert_eq!(Stream::size_hint(&s), (9, Some(9)));
        let rest: Vec<_> = s.collect().await;
        assert_eq!(rest.len(), 9);
    });
}

#[test]
fn zero_chunksize_or_buffersize_is_rejected_where_it_is_set() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let ran = Counter::new();
        let r = ran.clone();
        let set = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.imap(
                move |x: u8| {
                    r.bump();
                    x
                },
                0..5,
            )
            .chunksize(0)
        }));
        let message = *set.unwrap_err().downcast::<&str>().unwrap();
        assert_eq!(message, "chunksize must be at least 1");
        let set = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            pool.imap_unordered(|x: u8| x, 0..5).buffersize(0)
        }));
        let message = *set.unwrap_err().downcast::<&str>().unwrap();
        assert_eq!(message, "buffersize must be at least 1");
        assert_eq!(ran.get(), 0, "nothing was submitted");
        assert_eq!(pool.apply(|| 1).unwrap(), 1, "the pool is unharmed");
    });
}

#[test]
fn stream_input_is_pulled_lazily_too() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let pulled = Arc::new(AtomicUsize::new(0));
        let p = pulled.clone();
        let input = stream::iter(0_u64..).inspect(move |_| {
            p.fetch_add(1, Ordering::SeqCst);
        });
        // Chunks of one item: the window is exactly 3 items.
        let mut s = pool
            .imap(|x: u64| x + 1, corepool::from_stream(input))
            .chunksize(1)
            .buffersize(3);
        for k in 1..=20 {
            assert_eq!(s.next().await.unwrap().unwrap(), k as u64);
            assert!(pulled.load(Ordering::SeqCst) <= k + 3);
        }
    });
}

#[test]
fn a_slow_stream_is_not_held_back_to_fill_a_chunk() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let (tx, rx) = futures::channel::mpsc::unbounded::<u32>();
        let mut s = pool
            .imap(|x: u32| x * 10, corepool::from_stream(rx))
            .chunksize(100);
        tx.unbounded_send(1).unwrap();
        // One item arrived and the input is pending: it is processed anyway.
        assert_eq!(s.next().await.unwrap().unwrap(), 10);
        tx.unbounded_send(2).unwrap();
        drop(tx);
        assert_eq!(s.next().await.unwrap().unwrap(), 20);
        assert!(s.next().await.is_none());
    });
}

#[test]
fn a_panicking_input_stream_ends_the_stream() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let input = stream::iter(0..3_u8).map(|x| if x == 2 { panic!("stream broke") } else { x });
        let out: Vec<_> = pool
            .imap_unordered(|x: u8| x, corepool::from_stream(input))
            .collect()
            .await;
        assert_eq!(out.len(), 3);
        assert_eq!(
            out[2].as_ref().unwrap_err().kind(),
            TaskErrorKind::InputPanicked
        );
    });
}

#[test]
fn blocking_iter_with_next_timeout_loses_nothing() {
    within(|| {
        let pool = Pool::new(1).unwrap();
        let (go_tx, go_rx) = mpsc::channel::<()>();
        let go_rx = Mutex::new(go_rx);
        let mut it = pool
            .imap(
                move |x: u32| {
                    if x == 0 {
                        go_rx.lock().unwrap().recv().unwrap();
                    }
                    x
                },
                0..3,
            )
            .into_blocking_iter();
        for _ in 0..3 {
            assert!(matches!(
                it.next_timeout(Duration::from_millis(2)),
                Some(Err(WaitError::TimedOut))
            ));
        }
        go_tx.send(()).unwrap();
        let rest: Vec<u32> = it.map(Result::unwrap).collect();
        assert_eq!(rest, [0, 1, 2]);
    });
}

#[test]
fn blocking_iter_works_inside_a_multi_thread_runtime_and_on_a_worker() {
    on_tokio(|| async {
        let pool = Pool::new(2).unwrap();
        let v: Vec<u8> = pool
            .imap(|x: u8| x, 0..5)
            .into_blocking_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(v, [0, 1, 2, 3, 4]);
        let inner = pool.clone();
        let sums = pool
            .spawn(
                Map::new(
                    move |_: u8| {
                        inner
                            .imap(|x: u32| x, 0..100)
                            .into_blocking_iter()
                            .map(Result::unwrap)
                            .sum::<u32>()
                    },
                    0..4,
                )
                .chunksize(1),
            )
            .await
            .unwrap();
        assert_eq!(sums, [4950; 4]);
    });
}

#[test]
fn a_closed_pool_ends_an_endless_imap() {
    on_tokio(|| async {
        let pool = Pool::new(1).unwrap();
        let pulled = Arc::new(AtomicUsize::new(0));
        let mut s = pool.imap(|x: u64| x, counted(&pulled)).chunksize(1);
        assert_eq!(s.next().await.unwrap().unwrap(), 0);
        pool.terminate();
        // What was in flight resolves (done or cancelled); then one Closed
        // error, and the stream ends instead of pulling forever.
        let rest: Vec<_> = s.collect().await;
        let last = rest.last().unwrap().as_ref().unwrap_err();
        assert_eq!(last.cancellation(), Some(Cancellation::PoolClosed));
        // The default window at chunksize 1 is 64 items per worker.
        let window = 64 * pool.workers();
        assert!(
            rest.len() <= window + 1,
            "only the window drains: {}",
            rest.len()
        );
    });
}

#[test]
fn starmap_style_imap_falls_out_of_tuple_fn() {
    on_tokio(|| async {
        use corepool::TupleFn;
        let pool = Pool::new(2).unwrap();
        let f = |a: u32, b: u32| a * b;
        let out: Vec<u32> = pool
            .imap(move |args| f.call_with(args), [(1, 2), (3, 4)])
            .try_collect()
            .await
            .unwrap();
        assert_eq!(out, [2, 12]);
    });
}
