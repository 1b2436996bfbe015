//! A tour of corepool, after seed 000: two workers, two tasks of 0.3 s each.
//! `apply` takes about twice as long as one task (it blocks per call); every
//! concurrent form takes about as long as one. Then a real CPU job shows the
//! speed-up over a plain loop.
//!
//! Run: `cargo run --release --example quickstart`

use std::time::{Duration, Instant};

use corepool::{Callbacks, MapOptions, Pool};
use futures::{StreamExt, TryStreamExt};

const TASK: Duration = Duration::from_millis(300);

/// Seed 000's `target(x, y)`: sleep, then add.
fn target(x: u64, y: u64) -> u64 {
    std::thread::sleep(TASK);
    x + y
}

fn show(name: &str, started: Instant, value: impl std::fmt::Debug) {
    let secs = started.elapsed().as_secs_f64();
    let value = format!("{value:?}");
    println!(
        "{name:<16} -> {value:<12} in {secs:.2} s ({:.1} tasks' time)",
        secs / TASK.as_secs_f64()
    );
}

/// A real CPU job: count the primes below `n` by trial division.
fn primes_below(lo: u64, hi: u64) -> u64 {
    (lo.max(2)..hi)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool = Pool::new(2)?;
    let args = [(1, 2), (3, 4)];
    println!(
        "corepool tour: {} workers, tasks of {:?}\n",
        pool.workers(),
        TASK
    );

    let t = Instant::now();
    let v: Vec<u64> = args
        .iter()
        .map(|&(x, y)| pool.apply(move || target(x, y)))
        .collect::<Result<_, _>>()?;
    show("apply", t, v);

    let t = Instant::now();
    let handles: Vec<_> = args
        .iter()
        .map(|&(x, y)| pool.apply_async(move || target(x, y)))
        .collect();
    let mut v = Vec::new();
    for h in handles {
        v.push(h.await?);
    }
    show("apply_async", t, v);

    let t = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    for &(x, y) in &args {
        let tx = tx.clone();
        let cb = Callbacks::new().on_success(move |v: &u64| tx.send(*v).unwrap());
        pool.apply_async_with(move || target(x, y), cb).detach();
    }
    drop(tx);
    show("callback", t, rx.iter().collect::<Vec<_>>());

    let t = Instant::now();
    show("map", t, pool.map(|(x, y)| target(x, y), args)?);

    let t = Instant::now();
    show(
        "map_async",
        t,
        pool.map_async(|(x, y)| target(x, y), args).await?,
    );

    let t = Instant::now();
    show("starmap", t, pool.starmap(target, args)?);

    let t = Instant::now();
    show("starmap_async", t, pool.starmap_async(target, args).await?);

    let t = Instant::now();
    let v: Vec<u64> = pool.imap(|(x, y)| target(x, y), args).try_collect().await?;
    show("imap", t, v);

    // Seed 000's imap_unordered: the task with x = 1 sleeps longer, so the
    // result of (3, 4) comes first.
    let t = Instant::now();
    let slower_first = |(x, y): (u64, u64)| {
        std::thread::sleep(TASK * (5 - x as u32) / 2);
        x + y
    };
    let v: Vec<u64> = pool
        .imap_unordered(slower_first, args)
        .try_collect()
        .await?;
    show("imap_unordered", t, v);

    // The default hook would print the panic and a backtrace; keep it short.
    std::panic::set_hook(Box::new(|info| eprintln!("(panic hook) {info}")));
    let err = pool
        .apply_async(|| -> u64 { panic!("a task panicked") })
        .await
        .unwrap_err();
    let _ = std::panic::take_hook();
    println!("{:<16} -> {err}", "panic");
    let err = pool
        .map_with(|x: u64| x, 0..4, MapOptions::new().chunksize(0))
        .unwrap_err();
    println!("{:<16} -> {err}", "chunksize 0");

    // A real CPU job: primes below 3 million, in 64 slices.
    let n = 3_000_000_u64;
    let slices: Vec<(u64, u64)> = (0..64).map(|i| (i * n / 64, (i + 1) * n / 64)).collect();
    println!();
    let t = Instant::now();
    let serial: u64 = slices.iter().map(|&(lo, hi)| primes_below(lo, hi)).sum();
    let loop_time = t.elapsed();
    let cpu_pool = Pool::builder().build()?; // one worker per CPU
    let t = Instant::now();
    // Later slices cost more: one slice per job balances the load.
    let opts = MapOptions::new().chunksize(1);
    let parallel: u64 = cpu_pool
        .starmap_async_with(primes_below, slices.clone(), opts)
        .await?
        .into_iter()
        .sum();
    let pool_time = t.elapsed();
    assert_eq!(serial, parallel);
    println!("primes below {n}: {serial}");
    println!("plain loop       {:>8.3} s", loop_time.as_secs_f64());
    println!(
        "corepool ({} workers) {:>4.3} s  speed-up x{:.2}",
        cpu_pool.workers(),
        pool_time.as_secs_f64(),
        loop_time.as_secs_f64() / pool_time.as_secs_f64()
    );

    let t = Instant::now();
    let streamed = cpu_pool
        .imap_unordered(|(lo, hi)| primes_below(lo, hi), slices)
        .map(Result::unwrap);
    let total: u64 = streamed.fold(0, |a, b| async move { a + b }).await;
    assert_eq!(total, serial);
    println!("imap_unordered   {:>8.3} s", t.elapsed().as_secs_f64());

    pool.close();
    pool.join_async().await?;
    Ok(())
}
