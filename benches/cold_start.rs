//! P2 cold: the first round trip after the workers went idle (the common
//! case in a lightly loaded service), corepool against `spawn_blocking` and
//! rayon + a oneshot, **interleaved**: each round sleeps `gap`, then times
//! one round trip of each contender in turn (the order rotating per round),
//! so a noisy neighbour slows all of them alike. A hot figure (`HOT` calls
//! back to back right after the cold one, 16 by default) is taken the same
//! way, so that a change that helps the cold case can be seen not to cost
//! the hot one; with `HOT=0` every cold call follows cold calls only.
//!
//! ```sh
//! cargo run --release -p corepool-benches --example cold_start            # 2 000 rounds, 1 ms idle
//! cargo run --release -p corepool-benches --example cold_start -- 500 10  # rounds, idle ms
//! HOT=0 cargo run --release -p corepool-benches --example cold_start      # no burst between cold calls
//! ```
//!
//! Every contender gets 2 threads (tokio's blocking pool is capped at the
//! pool's size, as the performance issue asks). Prints p50 / p90 / p99 per
//! contender, and the median over rounds of each contender's time divided by
//! corepool's in the same round.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Submit = Box<dyn Fn(u64) -> Pin<Box<dyn Future<Output = u64> + Send>> + Send + Sync>;

fn tiny(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ x
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let rounds: usize = args.next().map_or(2_000, |a| a.parse().unwrap());
    let gap = Duration::from_millis(args.next().map_or(1, |a| a.parse().unwrap()));
    let hot_n: usize = std::env::var("HOT").map_or(16, |v| v.parse().unwrap());

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pool = corepool::Pool::new(2).unwrap();
    let rayon = Arc::new(
        rayon::ThreadPoolBuilder::new()
            .num_threads(2)
            .build()
            .unwrap(),
    );

    let contenders: Vec<(&str, Submit)> = vec![
        ("corepool apply_async", {
            let pool = pool.clone();
            Box::new(move |x| {
                let r = pool.apply_async(move || tiny(x));
                Box::pin(async move { r.await.unwrap() })
            })
        }),
        (
            "spawn_blocking",
            Box::new(|x| {
                Box::pin(async move { tokio::task::spawn_blocking(move || tiny(x)).await.unwrap() })
            }),
        ),
        ("rayon + oneshot", {
            let rayon = rayon.clone();
            Box::new(move |x| {
                let (tx, rx) = futures::channel::oneshot::channel();
                rayon.spawn(move || {
                    let _ = tx.send(tiny(x));
                });
                Box::pin(async move { rx.await.unwrap() })
            })
        }),
    ];
    let n = contenders.len();

    let (cold, hot) = rt.block_on(async move {
        tokio::spawn(async move {
            // Warm up: threads started, allocator caches filled.
            for (_, submit) in &contenders {
                for i in 0..200 {
                    std::hint::black_box(submit(i).await);
                }
            }
            let mut cold = vec![Vec::with_capacity(rounds); n];
            let mut hot = vec![Vec::with_capacity(rounds); n];
            for round in 0..rounds {
                for k in 0..n {
                    let c = (round + k) % n;
                    let submit = &contenders[c].1;
                    tokio::time::sleep(gap).await;
                    let t = Instant::now();
                    std::hint::black_box(submit(round as u64).await);
                    cold[c].push(t.elapsed().as_secs_f64() * 1e6);
                    let t = Instant::now();
                    for i in 0..hot_n {
                        std::hint::black_box(submit(i as u64).await);
                    }
                    hot[c].push(t.elapsed().as_secs_f64() * 1e6 / hot_n.max(1) as f64);
                }
            }
            (cold, hot)
        })
        .await
        .unwrap()
    });

    let names: Vec<&str> = ["corepool apply_async", "spawn_blocking", "rayon + oneshot"].to_vec();
    for (label, samples) in [
        (format!("cold (after {gap:?} idle)"), &cold),
        (format!("hot (mean of {hot_n} back to back)"), &hot),
    ] {
        if samples[0].iter().all(|&t| t < 0.5) {
            continue; // HOT=0: no hot calls were made
        }
        println!("\n{label}, {rounds} interleaved rounds, µs:");
        for c in 0..n {
            let mut ratios: Vec<f64> = (0..rounds).map(|r| samples[c][r] / samples[0][r]).collect();
            ratios.sort_by(f64::total_cmp);
            let mut s = samples[c].clone();
            s.sort_by(f64::total_cmp);
            println!(
                "  {:<22} p50 {:>7.1}  p90 {:>7.1}  p99 {:>7.1}   median ratio to corepool {:.2}",
                names[c],
                percentile(&s, 0.5),
                percentile(&s, 0.9),
                percentile(&s, 0.99),
                percentile(&ratios, 0.5),
            );
        }
    }
}
