//! corepool against what a user would pick instead, in the same run.
//!
//! `cargo bench -p corepool-benches --bench pool` runs the quick mode (a few minutes on 2 cores);
//! `COREPOOL_BENCH_LONG=1 cargo bench -p corepool-benches --bench pool` runs the full sizes.
//! Every contender gets `cpu_count()` workers: rayon's pool, tokio's
//! `max_blocking_threads`, corepool's pool. Criterion reports times; the
//! latency percentiles (P2, P4) are printed after the criterion groups.
//!
//! | id | workload |
//! |---|---|
//! | P1 | ordered map of tiny items (~6 ns each), collected into a `Vec` |
//! | P2 | round trip: one tokio task awaits sequential single tiny tasks, back to back and with a 1 ms idle gap |
//! | P3 | CPU scaling: 64 tasks of ~5 ms |
//! | P4 | burst: 1 000 concurrent tokio tasks each awaiting one ~10 µs task |
//! | P5 | streaming: lazy items of 1-5 µs, one slow item in every 1 000 |
//! | P6 | a fallible map (`Map::fallible`) of 1 M tiny items failing at item 1 000: early stop |

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use corepool::{Map, Pool};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group};
use futures::{StreamExt, TryStreamExt, stream};
use rayon::prelude::*;
use tokio::runtime::Runtime;

// ===== set-up shared by every group =====

fn long_mode() -> bool {
    std::env::var_os("COREPOOL_BENCH_LONG").is_some()
}

fn workers() -> usize {
    corepool::cpu_count()
}

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers())
            .max_blocking_threads(workers())
            .enable_all()
            .build()
            .unwrap()
    })
}

fn pool() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| Pool::new(workers()).unwrap())
}

fn rayon_pool() -> &'static rayon::ThreadPool {
    static POOL: OnceLock<rayon::ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(workers())
            .build()
            .unwrap()
    })
}

/// Runs `fut` as a tokio task (not on the `block_on` thread), as a service would.
fn in_task<F, T>(fut: F) -> T
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    runtime().block_on(runtime().spawn(fut)).unwrap()
}

/// The rayon + oneshot bridge that tokio-rayon popularised.
async fn rayon_oneshot<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = tokio::sync::oneshot::channel();
    rayon_pool().spawn(move || {
        let _ = tx.send(f());
    });
    rx.await.unwrap()
}

/// About 6 ns of arithmetic per item in a plain loop (the "tiny").
#[inline]
fn tiny(x: u64) -> u64 {
    let mut h = x ^ 0x9E37_79B9_7F4A_7C15;
    for _ in 0..16 {
        h = (h ^ (h >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    h
}

/// Spins on arithmetic for about `us` microseconds (calibrated once).
fn work_us(us: f64) -> u64 {
    static ROUNDS_PER_US: OnceLock<f64> = OnceLock::new();
    let per_us = *ROUNDS_PER_US.get_or_init(|| {
        let n = 2_000_000_u64;
        let t = Instant::now();
        let mut h = 1;
        for i in 0..n {
            h = tiny(black_box(h ^ i));
        }
        black_box(h);
        n as f64 / (t.elapsed().as_secs_f64() * 1e6)
    });
    let mut h = 1;
    for i in 0..(us * per_us) as u64 {
        h = tiny(black_box(h ^ i));
    }
    h
}

fn configure(c: &mut Criterion) {
    let _ = (runtime(), pool(), rayon_pool(), work_us(1.0));
    let _ = c;
}

// ===== P1: ordered map of tiny items =====

fn p1_map(c: &mut Criterion) {
    configure(c);
    let n: u64 = 1_000_000;
    let mut g = c.benchmark_group("P1_map_1M_tiny");
    g.throughput(Throughput::Elements(n));
    g.bench_function("loop", |b| b.iter(|| (0..n).map(tiny).collect::<Vec<_>>()));
    g.bench_function("rayon_par_iter", |b| {
        b.iter(|| rayon_pool().install(|| (0..n).into_par_iter().map(tiny).collect::<Vec<_>>()))
    });
    g.bench_function("corepool_map_async", |b| {
        b.iter(|| in_task(async move { pool().map_async(tiny, 0..n).await.unwrap() }))
    });
    g.bench_function("corepool_map_sync", |b| {
        b.iter(|| pool().map(tiny, 0..n).unwrap())
    });
    g.bench_function("spawn_blocking_per_chunk", |b| {
        b.iter(|| {
            in_task(async move {
                let chunk = n.div_ceil(4 * workers() as u64);
                let handles: Vec<_> = (0..n)
                    .step_by(chunk as usize)
                    .map(|lo| {
                        tokio::task::spawn_blocking(move || {
                            (lo..(lo + chunk).min(n)).map(tiny).collect::<Vec<_>>()
                        })
                    })
                    .collect();
                let mut out = Vec::with_capacity(n as usize);
                for h in handles {
                    out.extend(h.await.unwrap());
                }
                out
            })
        })
    });
    g.finish();

    // Per-item submission is three orders of magnitude slower: fewer items.
    let n: u64 = if long_mode() { 100_000 } else { 10_000 };
    let mut g = c.benchmark_group("P1_map_per_item_tiny");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("spawn_blocking_per_item", |b| {
        b.iter(|| {
            in_task(async move {
                let hs: Vec<_> = (0..n)
                    .map(|x| tokio::task::spawn_blocking(move || tiny(x)))
                    .collect();
                let mut out = Vec::with_capacity(n as usize);
                for h in hs {
                    out.push(h.await.unwrap());
                }
                out
            })
        })
    });
    g.bench_function("rayon_oneshot_per_item", |b| {
        b.iter(|| {
            in_task(async move {
                let fs: Vec<_> = (0..n).map(|x| rayon_oneshot(move || tiny(x))).collect();
                futures::future::join_all(fs).await
            })
        })
    });
    g.bench_function("corepool_apply_async_per_item", |b| {
        b.iter(|| {
            in_task(async move {
                let fs: Vec<_> = (0..n)
                    .map(|x| pool().apply_async(move || tiny(x)))
                    .collect();
                futures::future::try_join_all(fs).await.unwrap()
            })
        })
    });
    g.finish();
}

// ===== P2: round trip =====

/// Awaits `iters` sequential tiny tasks through `submit` inside one tokio
/// task, with `gap` of idle time between calls; returns the busy time.
fn round_trips<F, Fut>(iters: u64, gap: Duration, submit: F) -> (Duration, Vec<Duration>)
where
    F: Fn(u64) -> Fut + Send + 'static,
    Fut: Future<Output = u64> + Send,
{
    in_task(async move {
        let mut total = Duration::ZERO;
        let mut each = Vec::with_capacity(iters as usize);
        for i in 0..iters {
            if !gap.is_zero() {
                tokio::time::sleep(gap).await;
            }
            let t = Instant::now();
            black_box(submit(i).await);
            let d = t.elapsed();
            total += d;
            each.push(d);
        }
        (total, each)
    })
}

macro_rules! contenders {
    ($mac:ident) => {
        $mac!("corepool_apply_async", |x: u64| pool()
            .apply_async(move || tiny(x))
            .map(|r| r.unwrap()));
        $mac!("spawn_blocking", |x: u64| tokio::task::spawn_blocking(
            move || tiny(x)
        )
        .map(|r| r.unwrap()));
        $mac!("rayon_oneshot", |x: u64| rayon_oneshot(move || tiny(x)));
        $mac!("blocking_unblock", |x: u64| blocking::unblock(
            move || tiny(x)
        ));
    };
}

fn p2_round_trip(c: &mut Criterion) {
    use futures::FutureExt;
    configure(c);
    let mut g = c.benchmark_group("P2_round_trip");
    macro_rules! bench {
        ($name:expr, $submit:expr) => {
            g.bench_function(BenchmarkId::new("back_to_back", $name), |b| {
                b.iter_custom(|iters| round_trips(iters, Duration::ZERO, $submit).0)
            });
        };
    }
    contenders!(bench);
    g.finish();

    let mut g = c.benchmark_group("P2_round_trip_1ms_gap");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(if long_mode() { 10 } else { 2 }));
    macro_rules! bench_gap {
        ($name:expr, $submit:expr) => {
            g.bench_function(BenchmarkId::new("after_idle", $name), |b| {
                b.iter_custom(|iters| round_trips(iters, Duration::from_millis(1), $submit).0)
            });
        };
    }
    contenders!(bench_gap);
    g.finish();
}

// ===== P3: CPU scaling =====

fn p3_scaling(c: &mut Criterion) {
    configure(c);
    let tasks = 64_u64;
    let mut g = c.benchmark_group("P3_scaling_64x5ms");
    g.sample_size(10);
    g.bench_function("loop", |b| {
        b.iter(|| (0..tasks).map(|_| work_us(5_000.0)).collect::<Vec<_>>())
    });
    g.bench_function("rayon_par_iter", |b| {
        b.iter(|| {
            rayon_pool().install(|| {
                (0..tasks)
                    .into_par_iter()
                    .map(|_| work_us(5_000.0))
                    .collect::<Vec<_>>()
            })
        })
    });
    g.bench_function("spawn_blocking", |b| {
        b.iter(|| {
            in_task(async move {
                let hs: Vec<_> = (0..tasks)
                    .map(|_| tokio::task::spawn_blocking(|| work_us(5_000.0)))
                    .collect();
                futures::future::try_join_all(hs).await.unwrap()
            })
        })
    });
    g.bench_function("corepool_map_async", |b| {
        b.iter(|| {
            in_task(async move {
                // Python's `map_async(f, it, chunksize=1)`.
                pool()
                    .spawn(Map::new(|_| work_us(5_000.0), 0..tasks).chunksize(1))
                    .await
                    .unwrap()
            })
        })
    });
    g.finish();
}

// ===== P4: burst =====

fn burst<F, Fut>(submit: F) -> (Duration, Vec<Duration>)
where
    F: Fn() -> Fut + Send + Sync + Copy + 'static,
    Fut: Future<Output = u64> + Send + 'static,
{
    in_task(async move {
        let t = Instant::now();
        let tasks: Vec<_> = (0..1_000)
            .map(|_| {
                tokio::spawn(async move {
                    let t = Instant::now();
                    black_box(submit().await);
                    t.elapsed()
                })
            })
            .collect();
        let mut each = Vec::with_capacity(1_000);
        for task in tasks {
            each.push(task.await.unwrap());
        }
        (t.elapsed(), each)
    })
}

macro_rules! burst_contenders {
    ($mac:ident) => {
        $mac!("corepool_apply_async", || pool()
            .apply_async(|| work_us(10.0))
            .map(|r| r.unwrap()));
        $mac!("spawn_blocking", || tokio::task::spawn_blocking(
            || work_us(10.0)
        )
        .map(|r| r.unwrap()));
        $mac!("rayon_oneshot", || rayon_oneshot(|| work_us(10.0)));
    };
}

fn p4_burst(c: &mut Criterion) {
    use futures::FutureExt;
    configure(c);
    let mut g = c.benchmark_group("P4_burst_1000x10us");
    g.throughput(Throughput::Elements(1_000));
    g.sample_size(20);
    macro_rules! bench {
        ($name:expr, $submit:expr) => {
            g.bench_function($name, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| burst($submit).0).sum())
            });
        };
    }
    burst_contenders!(bench);
    g.finish();
}

/// P4 interleaved: each round times one burst of each contender in turn
/// (the order rotating); the median of the per-round ratios to corepool.
fn p4_paired_report() {
    use futures::FutureExt;
    let rounds = if long_mode() { 101 } else { 41 };
    let mut times: Vec<(&str, Vec<f64>)> = Vec::new();
    macro_rules! slot {
        ($name:expr, $submit:expr) => {
            times.push(($name, Vec::new()));
        };
    }
    burst_contenders!(slot);
    let n = times.len();
    for round in 0..rounds {
        for k in 0..n {
            let c = (round + k) % n;
            let mut i = 0;
            macro_rules! run {
                ($name:expr, $submit:expr) => {
                    if i == c {
                        let d = burst($submit).0;
                        times[c].1.push(d.as_secs_f64() * 1e3);
                    }
                    i += 1;
                };
            }
            burst_contenders!(run);
            let _ = i;
        }
    }
    println!("\n== P4 paired ({rounds} interleaved rounds of a burst of 1 000 tasks of ~10 us)");
    for c in 0..n {
        let mut ratios: Vec<f64> = (0..rounds).map(|r| times[c].1[r] / times[0].1[r]).collect();
        ratios.sort_by(f64::total_cmp);
        let mut t = times[c].1.clone();
        t.sort_by(f64::total_cmp);
        println!(
            "  {:<24} median {:>6.2} ms   median ratio to corepool {:.2}",
            times[c].0,
            t[rounds / 2],
            ratios[rounds / 2]
        );
    }
}

// ===== P5: streaming =====

/// 1-5 µs of work by index, and 500 µs for one item in every 1 000.
fn stream_item(i: u64) -> u64 {
    if i % 1_000 == 999 {
        work_us(500.0)
    } else {
        work_us(1.0 + (i % 5) as f64)
    }
}

fn p5_stream(c: &mut Criterion) {
    configure(c);
    let n: u64 = if long_mode() { 10_000_000 } else { 100_000 };
    let window = 2 * workers();
    let mut g = c.benchmark_group("P5_stream");
    g.throughput(Throughput::Elements(n));
    g.sample_size(10);
    g.bench_function("corepool_map_async", |b| {
        b.iter(|| in_task(async move { pool().map_async(stream_item, 0..n).await.unwrap().len() }))
    });
    g.bench_function(BenchmarkId::new("corepool_imap", "default_adaptive"), |b| {
        b.iter(|| {
            in_task(async move {
                pool()
                    .imap(stream_item, 0..n)
                    .try_fold(0_u64, |a, _| async move { Ok(a + 1) })
                    .await
            })
        })
    });
    g.bench_function(
        BenchmarkId::new("corepool_imap_unordered", "default_adaptive"),
        |b| {
            b.iter(|| {
                in_task(async move {
                    let s = pool().imap_unordered(stream_item, 0..n);
                    s.try_fold(0_u64, |a, _| async move { Ok(a + 1) }).await
                })
            })
        },
    );
    for chunksize in [1, 64] {
        g.bench_function(
            BenchmarkId::new("corepool_imap", format!("chunksize_{chunksize}")),
            |b| {
                b.iter(|| {
                    in_task(async move {
                        pool()
                            .imap(stream_item, 0..n)
                            .chunksize(chunksize)
                            .try_fold(0_u64, |a, _| async move { Ok(a + 1) })
                            .await
                    })
                })
            },
        );
        g.bench_function(
            BenchmarkId::new("corepool_imap_unordered", format!("chunksize_{chunksize}")),
            |b| {
                b.iter(|| {
                    in_task(async move {
                        let s = pool()
                            .imap_unordered(stream_item, 0..n)
                            .chunksize(chunksize);
                        s.try_fold(0_u64, |a, _| async move { Ok(a + 1) }).await
                    })
                })
            },
        );
    }
    g.bench_function("spawn_blocking_buffered", |b| {
        b.iter(|| {
            in_task(async move {
                let s = stream::iter(0..n)
                    .map(|i| tokio::task::spawn_blocking(move || stream_item(i)))
                    .buffered(window);
                s.fold(0_u64, |a, _| async move { a + 1 }).await
            })
        })
    });
    g.bench_function("spawn_blocking_buffer_unordered", |b| {
        b.iter(|| {
            in_task(async move {
                let s = stream::iter(0..n)
                    .map(|i| tokio::task::spawn_blocking(move || stream_item(i)))
                    .buffer_unordered(window);
                s.fold(0_u64, |a, _| async move { a + 1 }).await
            })
        })
    });
    g.finish();
}

// ===== the adaptive cases (`cargo bench -p corepool-benches --bench pool -- adaptive`) =====

/// Medians over `runs` of (time to the first result, time to all results)
/// of an ordered `imap` over `n` items costing `cost(i)` µs.
fn imap_times(
    n: u64,
    cost: fn(u64) -> f64,
    chunksize: Option<usize>,
    runs: usize,
) -> (Duration, Duration) {
    let mut first = Vec::new();
    let mut all = Vec::new();
    for _ in 0..runs {
        let (f, a) = in_task(async move {
            let t = Instant::now();
            let s = pool().imap(move |i| work_us(cost(i)), 0..n);
            let mut s = match chunksize {
                Some(c) => s.chunksize(c),
                None => s,
            };
            s.next().await.unwrap().unwrap();
            let f = t.elapsed();
            while let Some(r) = s.next().await {
                r.unwrap();
            }
            (f, t.elapsed())
        });
        first.push(f);
        all.push(a);
    }
    first.sort();
    all.sort();
    (first[runs / 2], all[runs / 2])
}

fn adaptive_report() {
    println!("\n== adaptive chunking: imap's default next to fixed chunksizes (medians)");
    let slow: fn(u64) -> f64 = |_| 10_000.0;
    let changing: fn(u64) -> f64 = |i| {
        if (40_000..40_400).contains(&i) {
            1_000.0
        } else {
            1.0
        }
    };
    let tiny: fn(u64) -> f64 = |_| 1.0;
    for (name, n, cost, runs) in [
        ("slow items, 10 ms each (40)", 40, slow, 3),
        ("tiny items, ~1 us each (200 k)", 200_000, tiny, 5),
        (
            "1 us, then 400 of 1 ms, then 1 us (80 k)",
            80_000,
            changing,
            3,
        ),
    ] {
        let (d_first, d_all) = imap_times(n, cost, None, runs);
        println!("{name}:");
        println!(
            "  default (adaptive)   first {:>9.1} us   all {:>8.1} ms",
            d_first.as_secs_f64() * 1e6,
            d_all.as_secs_f64() * 1e3
        );
        for c in [1, 256] {
            let (first, all) = imap_times(n, cost, Some(c), runs);
            println!(
                "  chunksize {c:<4}       first {:>9.1} us   all {:>8.1} ms   default/this: first {:.2}x, all {:.2}x",
                first.as_secs_f64() * 1e6,
                all.as_secs_f64() * 1e3,
                d_first.as_secs_f64() / first.as_secs_f64(),
                d_all.as_secs_f64() / all.as_secs_f64()
            );
        }
        let t = Instant::now();
        for _ in 0..runs {
            in_task(async move {
                pool()
                    .map_async(move |i| work_us(cost(i)), 0..n)
                    .await
                    .unwrap()
                    .len()
            });
        }
        let map = t.elapsed() / runs as u32;
        println!(
            "  map_async            all {:>8.1} ms   default's throughput = {:.2}x map_async's",
            map.as_secs_f64() * 1e3,
            map.as_secs_f64() / d_all.as_secs_f64()
        );
    }
}

// ===== latency percentiles (P2, P4) =====

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e6
}

fn report(label: &str, mut each: Vec<Duration>) {
    each.sort();
    println!(
        "{label:<48} p50 {:>9.2} µs   p99 {:>9.2} µs",
        percentile(&each, 0.50),
        percentile(&each, 0.99)
    );
}

/// P1 on a noisy machine: the contenders alternate round by round, so drift
/// hits them alike; prints the medians and the median of per-round ratios.
fn p1_paired_report() {
    let n: u64 = 1_000_000;
    let rounds = if long_mode() { 301 } else { 101 };
    let time = |f: &dyn Fn()| {
        let t = Instant::now();
        f();
        t.elapsed().as_secs_f64() * 1e3
    };
    let (mut rayon, mut corepool, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let r = time(&|| {
            black_box(
                rayon_pool().install(|| (0..n).into_par_iter().map(tiny).collect::<Vec<_>>()),
            );
        });
        let c = time(&|| {
            black_box(in_task(async move {
                pool().map_async(tiny, 0..n).await.unwrap()
            }));
        });
        rayon.push(r);
        corepool.push(c);
        ratios.push(c / r);
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    println!(
        "P1 paired ({rounds} rounds, 1 M tiny): rayon {:.2} ms, corepool map_async {:.2} ms, median ratio {:.2}x",
        median(&mut rayon),
        median(&mut corepool),
        median(&mut ratios)
    );
}

fn latency_report() {
    use futures::FutureExt;
    let (seq, idle, bursts) = if long_mode() {
        (100_000, 10_000, 20)
    } else {
        (20_000, 500, 5)
    };
    println!(
        "\n== latency percentiles ({} workers, {} mode)",
        workers(),
        if long_mode() { "long" } else { "quick" }
    );
    macro_rules! seq {
        ($name:expr, $submit:expr) => {
            report(
                &format!("P2 back to back ({seq}) {}", $name),
                round_trips(seq, Duration::ZERO, $submit).1,
            );
            report(
                &format!("P2 after 1 ms idle ({idle}) {}", $name),
                round_trips(idle, Duration::from_millis(1), $submit).1,
            );
        };
    }
    contenders!(seq);
    macro_rules! bursts {
        ($name:expr, $submit:expr) => {
            let each: Vec<Duration> = (0..bursts).flat_map(|_| burst($submit).1).collect();
            report(&format!("P4 burst latency ({bursts}x1000) {}", $name), each);
        };
    }
    burst_contenders!(bursts);
}

fn criterion() -> Criterion {
    let (warm, measure) = if long_mode() { (3, 10) } else { (1, 3) };
    Criterion::default()
        .warm_up_time(Duration::from_secs(warm))
        .measurement_time(Duration::from_secs(measure))
        .configure_from_args()
}

/// A tiny fallible item: `Err` at `fail_at`.
fn checked(x: u64, fail_at: u64) -> Result<u64, u64> {
    if x == fail_at { Err(x) } else { Ok(tiny(x)) }
}

/// P6: a fallible map of 1 M tiny items whose item 1 000 fails. A map
/// that stops early returns after about the items in flight; one that does
/// not runs all 1 M (the `Vec<Result<..>>` a plain map gives).
fn p6_fallible_map(c: &mut Criterion) {
    configure(c);
    let n: u64 = 1_000_000;
    let fail_at = 1_000;
    let mut g = c.benchmark_group("P6_fallible_map_early_stop_1M");
    g.sample_size(20);
    g.bench_function("corepool_spawn_map_fallible", |b| {
        b.iter(|| {
            in_task(async move {
                let r = pool()
                    .spawn(Map::fallible(move |x| checked(x, fail_at), 0..n))
                    .await;
                assert!(r.is_err());
            })
        })
    });
    g.bench_function("corepool_map_async_of_results_no_early_stop", |b| {
        b.iter(|| {
            in_task(async move {
                let v = pool()
                    .map_async(move |x| checked(x, fail_at), 0..n)
                    .await
                    .unwrap();
                assert!(v.iter().any(Result::is_err));
            })
        })
    });
    g.bench_function("rayon_try_for_each", |b| {
        b.iter(|| {
            rayon_pool().install(|| {
                let r = (0..n)
                    .into_par_iter()
                    .try_for_each(|x| checked(x, fail_at).map(drop));
                assert!(r.is_err());
            })
        })
    });
    g.bench_function("rayon_collect_result_vec", |b| {
        b.iter(|| {
            rayon_pool().install(|| {
                let r: Result<Vec<u64>, u64> = (0..n)
                    .into_par_iter()
                    .map(|x| checked(x, fail_at))
                    .collect();
                assert!(r.is_err());
            })
        })
    });
    g.finish();
}

// ===== P7: small maps from many requests =====

/// One small map of 64 tiny items, as each contender does it.
#[derive(Clone, Copy, Debug)]
enum SmallMap {
    Corepool,
    RayonOneshot,
    SpawnBlockingParIter,
}

impl SmallMap {
    const ALL: [SmallMap; 3] = [
        SmallMap::Corepool,
        SmallMap::RayonOneshot,
        SmallMap::SpawnBlockingParIter,
    ];

    fn name(self) -> &'static str {
        match self {
            SmallMap::Corepool => "corepool_map_async",
            SmallMap::RayonOneshot => "rayon_spawn_par_iter_oneshot",
            SmallMap::SpawnBlockingParIter => "spawn_blocking_par_iter",
        }
    }

    async fn run(self) -> Vec<u64> {
        match self {
            SmallMap::Corepool => pool().map_async(tiny, 0..64_u64).await.unwrap(),
            SmallMap::RayonOneshot => {
                rayon_oneshot(|| (0..64_u64).into_par_iter().map(tiny).collect()).await
            }
            SmallMap::SpawnBlockingParIter => tokio::task::spawn_blocking(|| {
                rayon_pool().install(|| (0..64_u64).into_par_iter().map(tiny).collect())
            })
            .await
            .unwrap(),
        }
    }
}

/// `maps` small maps from 8 concurrent tokio tasks (a small batch per
/// request); the time for all of them.
fn small_maps(kind: SmallMap, maps: usize) -> Duration {
    in_task(async move {
        let t = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                tokio::spawn(async move {
                    for _ in 0..maps / 8 {
                        assert_eq!(black_box(kind.run().await).len(), 64);
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        t.elapsed()
    })
}

fn p7_small_maps(c: &mut Criterion) {
    configure(c);
    let mut g = c.benchmark_group("P7_small_maps_800x64");
    g.throughput(Throughput::Elements(800));
    for kind in SmallMap::ALL {
        g.bench_function(kind.name(), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| small_maps(kind, 800)).sum())
        });
    }
    g.finish();
}

/// P7 interleaved: each round times 800 small maps of each contender in
/// turn; the median of the per-round ratios to corepool.
fn p7_paired_report() {
    let rounds = if long_mode() { 101 } else { 31 };
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); SmallMap::ALL.len()];
    for round in 0..rounds {
        for k in 0..SmallMap::ALL.len() {
            let c = (round + k) % SmallMap::ALL.len();
            times[c].push(small_maps(SmallMap::ALL[c], 800).as_secs_f64() * 1e3);
        }
    }
    println!("\n== P7 paired ({rounds} interleaved rounds of 800 maps of 64 tiny items, 8 tasks)");
    for (c, kind) in SmallMap::ALL.iter().enumerate() {
        let mut ratios: Vec<f64> = (0..rounds).map(|r| times[c][r] / times[0][r]).collect();
        ratios.sort_by(f64::total_cmp);
        let mut t = times[c].clone();
        t.sort_by(f64::total_cmp);
        println!(
            "  {:<30} median {:>7.2} ms   median ratio to corepool {:.2}",
            kind.name(),
            t[rounds / 2],
            ratios[rounds / 2]
        );
    }
}

criterion_group! {
    name = benches;
    config = criterion();
    targets = p1_map, p2_round_trip, p3_scaling, p4_burst, p5_stream, p6_fallible_map, p7_small_maps
}

fn main() {
    benches();
    // `cargo bench -- <filter>` runs only the matching groups; the
    // percentiles and the paired P1 ratio run with a full `cargo bench`, or
    // with the `latency` / `paired` filters.
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    if args.is_empty() || args.iter().any(|a| a == "latency") {
        latency_report();
    }
    if args.is_empty() || args.iter().any(|a| a == "paired") {
        p1_paired_report();
    }
    if args.is_empty() || args.iter().any(|a| a == "adaptive") {
        adaptive_report();
    }
    if args.is_empty() || args.iter().any(|a| a == "P4" || a == "p4") {
        p4_paired_report();
    }
    if args.is_empty() || args.iter().any(|a| a == "P7" || a == "p7") {
        p7_paired_report();
    }
    Criterion::default().configure_from_args().final_summary();
}
