//! Mixed load and overload on two workers: what priority lanes, a lane's
//! parallelism cap and admission by queue wait do for latency, measured.
//!
//! Run: `cargo run --release -p corepool-benches --example mixed_load [-- --secs 10 --rounds 2 --part a|b]`
//!
//! (a) **Batch and interactive.** A batch client keeps 8 jobs of 40 ms of
//! CPU (a calibrated busy loop, not a sleep) in flight, and an interactive
//! job of 0.5 ms arrives every 10 ms, for `--secs`, on 2 workers: a plain
//! pool (FIFO), the batch in a `Priority::Low` lane, the batch in a Low lane
//! capped at `max_workers(1)`, and tokio's `spawn_blocking` with
//! `max_blocking_threads(2)`. Interactive latency is submission to result.
//!
//! (b) **2x overload.** 10 ms jobs offered (`offer`, refused when full) at
//! 400/s, twice what 2 workers do, with `queue_capacity(16)`, without and
//! with `queue_wait_target(20 ms)`, and `spawn_blocking` behind a semaphore
//! of the same 18 places: the accepted jobs' latency and the accept rate.
//! A fourth row admits in the caller on the *predicted* wait of a new job
//! (queued x mean run time / workers ≤ 20 ms), the rule this benchmark
//! suggests for `queue_wait_target`, which reads the wait of the last job
//! started (a signal one queue length old).
//!
//! The configurations run in `--rounds` alternating rounds (the machine is
//! shared and noisy); each row is one configuration in one round. This is
//! not criterion: single runs, percentiles of every sample.

use std::sync::Arc;
use std::time::{Duration, Instant};

use corepool::{Lane, Pool, Priority};
use tokio::sync::Semaphore;
use tokio::time::MissedTickBehavior;

/// `iters` rounds of 64-bit mixing: pure CPU.
fn burn(iters: u64) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15_u64;
    for i in 0..iters {
        h = (h ^ (h >> 29) ^ i).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    std::hint::black_box(h)
}

/// Rounds of `burn` per millisecond of CPU here (the fastest of a few
/// tries: the others were preempted).
fn calibrate() -> f64 {
    let n = 20_000_000;
    (0..5)
        .map(|_| {
            let t = Instant::now();
            burn(std::hint::black_box(n));
            n as f64 / (t.elapsed().as_secs_f64() * 1e3)
        })
        .fold(0.0, f64::max)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Where the jobs run.
#[derive(Clone)]
enum Exec {
    /// Interactive jobs on `interactive`, batch jobs on `batch` (the same
    /// pool, or a lane of it).
    Pool { interactive: Pool, batch: Pool },
    /// `spawn_blocking` for both.
    Blocking,
}

impl Exec {
    async fn run(&self, batch: bool, iters: u64) {
        match self {
            Exec::Pool {
                interactive,
                batch: lane,
            } => {
                let pool = if batch { lane } else { interactive };
                pool.spawn(move || burn(iters)).await.expect("the job ran");
            }
            Exec::Blocking => {
                tokio::task::spawn_blocking(move || burn(iters))
                    .await
                    .expect("the job ran");
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mixed {
    Fifo,
    LowLane,
    CappedLowLane,
    SpawnBlocking,
}

impl Mixed {
    fn name(self) -> &'static str {
        match self {
            Mixed::Fifo => "plain pool (FIFO, no lanes)",
            Mixed::LowLane => "batch in a `Priority::Low` lane",
            Mixed::CappedLowLane => "batch in a Low lane, `max_workers(1)`",
            Mixed::SpawnBlocking => "`spawn_blocking`, `max_blocking_threads(2)`",
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

struct MixedRun {
    interactive: Vec<Duration>,
    batch_done: u64,
    secs: f64,
}

fn mixed(config: Mixed, secs: f64, per_ms: f64) -> MixedRun {
    let pool = Pool::builder().workers(2).build().unwrap();
    let exec = match config {
        Mixed::Fifo => Exec::Pool {
            interactive: pool.clone(),
            batch: pool.clone(),
        },
        Mixed::LowLane => Exec::Pool {
            interactive: pool.clone(),
            batch: pool
                .lane(Lane::new("batch").priority(Priority::Low))
                .unwrap(),
        },
        Mixed::CappedLowLane => Exec::Pool {
            interactive: pool.clone(),
            batch: pool
                .lane(Lane::new("batch").priority(Priority::Low).max_workers(1))
                .unwrap(),
        },
        Mixed::SpawnBlocking => Exec::Blocking,
    };
    let batch_iters = (40.0 * per_ms) as u64;
    let interactive_iters = (0.5 * per_ms) as u64;
    let rt = runtime();
    let run = rt.block_on(async move {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        let batch: Vec<_> = (0..8)
            .map(|_| {
                let exec = exec.clone();
                tokio::spawn(async move {
                    let mut done = 0_u64;
                    while Instant::now() < end {
                        exec.run(true, batch_iters).await;
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(10));
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut interactive = Vec::new();
        while Instant::now() < end {
            tick.tick().await;
            let exec = exec.clone();
            interactive.push(tokio::spawn(async move {
                let t = Instant::now();
                exec.run(false, interactive_iters).await;
                t.elapsed()
            }));
        }
        let mut run = MixedRun {
            interactive: Vec::new(),
            batch_done: 0,
            secs: 0.0,
        };
        for b in batch {
            run.batch_done += b.await.unwrap();
        }
        run.secs = started.elapsed().as_secs_f64();
        for i in interactive {
            run.interactive.push(i.await.unwrap());
        }
        run
    });
    drop(rt);
    pool.close();
    pool.join().unwrap();
    run
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Overload {
    Capacity,
    WaitTarget,
    /// The caller offers only while the wait a new job can expect (queued
    /// jobs x mean run time / workers, from `metrics()`) is within 20 ms:
    /// the admission rule suggested for `queue_wait_target`, tried from
    /// outside.
    PredictedWait,
    SpawnBlockingSemaphore,
}

impl Overload {
    fn name(self) -> &'static str {
        match self {
            Overload::Capacity => "`queue_capacity(16)`",
            Overload::WaitTarget => "`queue_capacity(16)` + `queue_wait_target(20 ms)`",
            Overload::PredictedWait => {
                "`queue_capacity(16)` + caller admits on predicted wait ≤ 20 ms"
            }
            Overload::SpawnBlockingSemaphore => "`spawn_blocking` + `Semaphore(18)`",
        }
    }
}

struct OverloadRun {
    accepted: Vec<Duration>,
    /// Submission to the job's end on its worker (no wake-up of the
    /// awaiting task).
    on_worker: Vec<Duration>,
    offered: u64,
    secs: f64,
}

fn overload(config: Overload, secs: f64, per_ms: f64) -> OverloadRun {
    let mut builder = Pool::builder().workers(2).queue_capacity(16);
    if config == Overload::WaitTarget {
        builder = builder.queue_wait_target(Duration::from_millis(20));
    }
    let pool = builder.build().unwrap();
    // 2 running + 16 queued, as the pool admits.
    let permits = Arc::new(Semaphore::new(18));
    let iters = (10.0 * per_ms) as u64;
    let rt = runtime();
    let p = pool.clone();
    let run = rt.block_on(async move {
        let started = Instant::now();
        let end = started + Duration::from_secs_f64(secs);
        // 400 offers a second; late ticks catch up (the offered rate holds).
        let mut tick = tokio::time::interval(Duration::from_micros(2500));
        tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let (mut offered, mut accepted) = (0, Vec::new());
        while Instant::now() < end {
            tick.tick().await;
            offered += 1;
            let t = Instant::now();
            if config == Overload::SpawnBlockingSemaphore {
                if let Ok(permit) = permits.clone().try_acquire_owned() {
                    let job = tokio::task::spawn_blocking(move || {
                        let _permit = permit;
                        burn(iters);
                        Instant::now()
                    });
                    accepted.push(tokio::spawn(async move {
                        let done = job.await.unwrap();
                        (t.elapsed(), done - t)
                    }));
                }
                continue;
            }
            if config == Overload::PredictedWait {
                let m = p.metrics();
                let ran = m.completed + m.failed + m.cancelled;
                let mean = if ran == 0 {
                    Duration::ZERO
                } else {
                    m.run_time / ran as u32
                };
                if mean * m.queued as u32 / 2 > Duration::from_millis(20) {
                    continue;
                }
            }
            if let Ok(job) = p.offer(move || {
                burn(iters);
                Instant::now()
            }) {
                accepted.push(tokio::spawn(async move {
                    let done = job.await.unwrap();
                    (t.elapsed(), done - t)
                }));
            }
        }
        let mut run = OverloadRun {
            accepted: Vec::new(),
            on_worker: Vec::new(),
            offered,
            secs: started.elapsed().as_secs_f64(),
        };
        for a in accepted {
            let (awaited, on_worker) = a.await.unwrap();
            run.accepted.push(awaited);
            run.on_worker.push(on_worker);
        }
        run
    });
    drop(rt);
    pool.close();
    pool.join().unwrap();
    run
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: f64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (secs, rounds) = (arg("--secs", 10.0), arg("--rounds", 2.0) as usize);
    // `--part a` or `--part b`: only that part.
    let part = args
        .iter()
        .position(|a| a == "--part")
        .and_then(|i| args.get(i + 1))
        .map_or("ab", String::as_str);
    let per_ms = calibrate();
    println!(
        "command: cargo run --release -p corepool-benches --example mixed_load -- --secs {secs} --rounds {rounds} --part {part}"
    );
    println!(
        "calibrated: {:.0} rounds of mixing per ms of CPU (the fastest of 5 tries)",
        per_ms
    );
    let mixed_configs = [
        Mixed::Fifo,
        Mixed::LowLane,
        Mixed::CappedLowLane,
        Mixed::SpawnBlocking,
    ];
    let mut mixed_rows = Vec::new();
    let mut overload_rows = Vec::new();
    for round in 1..=rounds {
        // Alternate the order from round to round.
        let mut order = mixed_configs.to_vec();
        if !part.contains('a') {
            order.clear();
        }
        if round % 2 == 0 {
            order.reverse();
        }
        for config in order {
            let mut r = mixed(config, secs, per_ms);
            r.interactive.sort();
            eprintln!("round {round}: {} done", config.name());
            mixed_rows.push((config, round, r));
        }
        let mut order = vec![
            Overload::Capacity,
            Overload::WaitTarget,
            Overload::PredictedWait,
            Overload::SpawnBlockingSemaphore,
        ];
        if !part.contains('b') {
            order.clear();
        }
        if round % 2 == 0 {
            order.reverse();
        }
        for config in order {
            let mut r = overload(config, secs, per_ms);
            r.accepted.sort();
            r.on_worker.sort();
            eprintln!("round {round}: {} done", config.name());
            overload_rows.push((config, round, r));
        }
    }
    println!();
    println!(
        "(a) 2 workers; batch: 8 jobs of 40 ms CPU in flight; interactive: a 0.5 ms job every 10 ms; {secs} s each"
    );
    println!();
    println!("| configuration | round | interactive jobs | p50 | p99 | max | batch jobs/s |");
    println!("|---|---|---|---|---|---|---|");
    for config in mixed_configs {
        for (c, round, r) in &mixed_rows {
            if *c != config {
                continue;
            }
            println!(
                "| {} | {round} | {} | {:.2} ms | {:.2} ms | {:.2} ms | {:.1} |",
                c.name(),
                r.interactive.len(),
                ms(percentile(&r.interactive, 0.5)),
                ms(percentile(&r.interactive, 0.99)),
                ms(r.interactive.last().copied().unwrap_or_default()),
                r.batch_done as f64 / r.secs,
            );
        }
    }
    println!();
    println!(
        "(b) 2 workers; 10 ms CPU jobs offered at 400/s (2x capacity), refused when full; {secs} s each"
    );
    println!();
    println!(
        "| configuration | round | offered | accepted | accept rate | accepted/s | p50 | p99 | max | p99 to the job's end on its worker |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|");
    for config in [
        Overload::Capacity,
        Overload::WaitTarget,
        Overload::PredictedWait,
        Overload::SpawnBlockingSemaphore,
    ] {
        for (c, round, r) in &overload_rows {
            if *c != config {
                continue;
            }
            println!(
                "| {} | {round} | {} | {} | {:.0} % | {:.0} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |",
                c.name(),
                r.offered,
                r.accepted.len(),
                100.0 * r.accepted.len() as f64 / r.offered as f64,
                r.accepted.len() as f64 / r.secs,
                ms(percentile(&r.accepted, 0.5)),
                ms(percentile(&r.accepted, 0.99)),
                ms(r.accepted.last().copied().unwrap_or_default()),
                ms(percentile(&r.on_worker, 0.99)),
            );
        }
    }
}
