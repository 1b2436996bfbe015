//! Fixed-size runs of corepool's hot paths, for instruction counts under
//! callgrind (which do not move with machine load, unlike timings):
//!
//! ```sh
//! cargo build --release -p corepool-benches --example ops
//! valgrind --tool=callgrind target/release/examples/ops p2 20000  # round trips from a tokio task
//! valgrind --tool=callgrind target/release/examples/ops p4 10000  # a burst of tokio tasks
//! valgrind --tool=callgrind target/release/examples/ops p1 300000 # 3 maps of tiny items
//! valgrind --tool=callgrind target/release/examples/ops p5 100000 # imap of tiny items, default chunking
//! ```
//!
//! Each mode has its peers: `p1-rayon` (`par_iter().map().collect()`),
//! `p2-spawn-blocking`, `p2-unblock` (smol's `blocking::unblock`),
//! `p4-spawn-blocking`, `p5-map` (the same items through `map_async`),
//! `p5-blocking` (the same `imap` through the blocking iterator),
//! `p5-next` (the same stream taken with `while let Some(x) = s.next().await`),
//! `p7` (n small maps of 64 items from 8 tokio tasks) and `p7-rayon`
//! (`rayon::spawn` + `par_iter` + a oneshot),
//! `p5-chunk1` (`imap` with `chunksize(1)`), and `idle` (the harness alone:
//! subtract it). `is-cancelled` makes `n` calls of `corepool::is_cancelled`
//! inside one task (its cost per check).
//!
//! Divide callgrind's "Collected" total, less `idle`'s, by the operation
//! count (P1: 3 × n items). The totals include the runtime's and the
//! workers' idling, so compare with the same arguments.

use futures::TryStreamExt;
use rayon::prelude::*;
use std::time::Instant;

fn tiny(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ x
}
fn main() {
    let mode = std::env::args().nth(1).unwrap();
    let n: u64 = std::env::args().nth(2).unwrap().parse().unwrap();
    let pool = corepool::Pool::new(2).unwrap();
    // The blocking pool gets the corepool pool's size, as the issue asks
    // (tokio's default of 512 threads also exceeds valgrind's thread limit).
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    match mode.as_str() {
        "p2" => rt.block_on(async {
            tokio::spawn(async move {
                let mut s = 0;
                for i in 0..n {
                    s += pool.apply_async(move || i).await.unwrap();
                }
                s
            })
            .await
            .unwrap();
        }),
        "p1" => rt.block_on(async {
            for _ in 0..3 {
                let v = pool.map_async(tiny, 0..n).await.unwrap();
                assert_eq!(v.len() as u64, n);
            }
        }),
        "p4" => rt.block_on(async {
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    let p = pool.clone();
                    tokio::spawn(async move { p.apply_async(move || i).await.unwrap() })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }),
        "p1-rayon" => {
            let rayon = rayon::ThreadPoolBuilder::new()
                .num_threads(2)
                .build()
                .unwrap();
            rayon.install(|| {
                for _ in 0..3 {
                    let v: Vec<u64> = (0..n).into_par_iter().map(tiny).collect();
                    assert_eq!(v.len() as u64, n);
                }
            })
        }
        "p2-spawn-blocking" => rt.block_on(async {
            tokio::spawn(async move {
                let mut s = 0;
                for i in 0..n {
                    s += tokio::task::spawn_blocking(move || i).await.unwrap();
                }
                s
            })
            .await
            .unwrap();
        }),
        "p2-unblock" => rt.block_on(async {
            tokio::spawn(async move {
                let mut s = 0;
                for i in 0..n {
                    s += blocking::unblock(move || i).await;
                }
                s
            })
            .await
            .unwrap();
        }),
        "p4-spawn-blocking" => rt.block_on(async {
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    tokio::spawn(
                        async move { tokio::task::spawn_blocking(move || i).await.unwrap() },
                    )
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }),
        "p5" | "p5-chunk1" => rt.block_on(async {
            let s = pool.imap(tiny, 0..n);
            let s = if mode == "p5" { s } else { s.chunksize(1) };
            let count = s
                .try_fold(0_u64, |a, _| async move { Ok(a + 1) })
                .await
                .unwrap();
            assert_eq!(count, n);
        }),
        "p5-next" => rt.block_on(async {
            // The same stream taken with `next()`, the cheapest consumer.
            use futures::StreamExt;
            let mut s = pool.imap(tiny, 0..n);
            let mut count = 0;
            while let Some(item) = s.next().await {
                std::hint::black_box(item.unwrap());
                count += 1;
            }
            assert_eq!(count, n);
        }),
        "p7" | "p7-rayon" => {
            // n small maps of 64 tiny items, from 8 concurrent tokio tasks
            // (a small batch per request); peer: rayon::spawn + par_iter +
            // a oneshot channel.
            let rayon = std::sync::Arc::new(
                rayon::ThreadPoolBuilder::new()
                    .num_threads(2)
                    .build()
                    .unwrap(),
            );
            rt.block_on(async {
                let tasks: Vec<_> = (0..8)
                    .map(|_| {
                        let (pool, rayon) = (pool.clone(), rayon.clone());
                        let mode = mode.clone();
                        tokio::spawn(async move {
                            for _ in 0..n / 8 {
                                let v = if mode == "p7" {
                                    pool.map_async(tiny, 0..64_u64).await.unwrap()
                                } else {
                                    let (tx, rx) = futures::channel::oneshot::channel();
                                    rayon.spawn(move || {
                                        let v: Vec<u64> =
                                            (0..64_u64).into_par_iter().map(tiny).collect();
                                        let _ = tx.send(v);
                                    });
                                    rx.await.unwrap()
                                };
                                assert_eq!(v.len(), 64);
                            }
                        })
                    })
                    .collect();
                for t in tasks {
                    t.await.unwrap();
                }
            });
        }
        "p5-blocking" => {
            // The same stream consumed from sync code (the blocking iterator).
            let count = pool
                .imap(tiny, 0..n)
                .into_blocking_iter()
                .map(Result::unwrap)
                .count();
            assert_eq!(count as u64, n);
        }
        "p5-map" => rt.block_on(async {
            assert_eq!(pool.map_async(tiny, 0..n).await.unwrap().len() as u64, n);
        }),
        "is-cancelled" => {
            // n checks inside one task: the cost of `corepool::is_cancelled`.
            let stopped = pool
                .apply(move || {
                    let mut seen = 0_u64;
                    for _ in 0..n {
                        seen += u64::from(std::hint::black_box(corepool::is_cancelled()));
                    }
                    seen
                })
                .unwrap();
            assert_eq!(stopped, 0);
        }
        "idle" => rt.block_on(async {}),
        _ => panic!("unknown mode {mode}"),
    }
    eprintln!(
        "{mode} {n}: {:?} ({:.2} us/op)",
        t.elapsed(),
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
