//! A tour of corepool, after the Python documentation's first example: two
//! workers, two tasks of 0.3 s each. `apply` takes about twice as long as
//! one task (it blocks per call); every concurrent form takes about as long
//! as one. Then errors, fallible work, per-worker state, a bounded queue
//! that sheds, cancellation and metrics, quality of service (a capped
//! background lane, a deadline, a permit, latency percentiles), and a real
//! CPU job with its speed-up over a plain loop.
//!
//! Python's eight names (`apply`, `apply_async`, `map`, `map_async`,
//! `starmap`, `starmap_async`, `imap`, `imap_unordered`) are shorthands for
//! one door: `run` (block for the value), `spawn` (a result at once; shed
//! if a bounded queue is full), `offer` (refuse at once and hand the work
//! back) and `submit` (wait for room). Each takes any work: a closure, an
//! `Apply` (a call with Python's `callback` / `error_callback`) or a `Map`
//! (with `chunksize`, `fail_fast` and the callbacks); `Apply::fallible` and
//! `Map::fallible` take functions returning `Result`.
//!
//! The sync forms run from this plain `main`; the async forms run inside a
//! tokio runtime, `.await`ed, as they would in an async service.
//!
//! Run: `cargo run --release --example quickstart`

use std::time::{Duration, Instant};

use corepool::{Apply, Cancellation, Lane, Map, Pool, Priority, TryError, WaitError};
use futures::{StreamExt, TryStreamExt};

const TASK: Duration = Duration::from_millis(300);

/// The Python example's `target(x, y)`: sleep, then add.
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

/// A real CPU job: count the primes in `lo..hi` by trial division.
fn primes_between(lo: u64, hi: u64) -> u64 {
    (lo.max(2)..hi)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

const ARGS: [(u64, u64); 2] = [(1, 2), (3, 4)];

/// The blocking forms, from plain (non-async) code.
fn sync_tour(pool: &Pool) -> Result<(), Box<dyn std::error::Error>> {
    println!("-- blocking forms, from a plain thread");
    let t = Instant::now();
    let v: Vec<u64> = ARGS
        .iter()
        .map(|&(x, y)| pool.apply(move || target(x, y)))
        .collect::<Result<_, _>>()?;
    show("apply", t, v);

    let t = Instant::now();
    show("map", t, pool.map(|(x, y)| target(x, y), ARGS)?);

    let t = Instant::now();
    show("starmap", t, pool.starmap(target, ARGS)?);

    // The door's blocking mode, with Python's keyword arguments on a `Map`.
    let t = Instant::now();
    let work = Map::new(|(x, y)| target(x, y), ARGS).chunksize(1);
    show("run(Map)", t, pool.run(work)?);

    let t = Instant::now();
    let v: Vec<u64> = pool
        .imap(|(x, y)| target(x, y), ARGS)
        .into_blocking_iter()
        .collect::<Result<_, _>>()?;
    show("imap (blocking)", t, v);

    let t = Instant::now();
    let (tx, rx) = std::sync::mpsc::channel();
    for &(x, y) in &ARGS {
        let tx = tx.clone();
        let work = Apply::new(move || target(x, y)).callback(move |v: &u64| tx.send(*v).unwrap());
        pool.spawn(work).detach();
    }
    drop(tx);
    show("spawn(callback)", t, rx.iter().collect::<Vec<_>>());
    Ok(())
}

/// The async forms, `.await`ed inside a tokio runtime.
async fn async_tour(pool: &Pool) -> Result<(), Box<dyn std::error::Error>> {
    println!("\n-- async forms, awaited from tokio");
    let t = Instant::now();
    let handles: Vec<_> = ARGS
        .iter()
        .map(|&(x, y)| pool.apply_async(move || target(x, y)))
        .collect();
    let mut v = Vec::new();
    for h in handles {
        v.push(h.await?);
    }
    show("apply_async", t, v);

    let t = Instant::now();
    let v = pool.map_async(|(x, y)| target(x, y), ARGS).await?;
    show("map_async", t, v);

    let t = Instant::now();
    show("starmap_async", t, pool.starmap_async(target, ARGS).await?);

    // `submit` waits for room in a bounded queue (this one is unbounded,
    // so it gets in at once) and resolves to the work's result.
    let t = Instant::now();
    let admitted = pool.submit(Map::new(|(x, y)| target(x, y), ARGS)).await?;
    show("submit(Map)", t, admitted.await?);

    let t = Instant::now();
    let v: Vec<u64> = pool.imap(|(x, y)| target(x, y), ARGS).try_collect().await?;
    show("imap", t, v);

    // As in the Python example, the task with x = 1 sleeps twice as long
    // here, so (3, 4)'s result comes first and the whole takes two tasks.
    println!("imap_unordered: the task (1, 2) sleeps 2 tasks' time, (3, 4) 1:");
    let t = Instant::now();
    let slower_first = |(x, y): (u64, u64)| {
        std::thread::sleep(TASK * (5 - x as u32) / 2);
        x + y
    };
    let v: Vec<u64> = pool
        .imap_unordered(slower_first, ARGS)
        .try_collect()
        .await?;
    show("imap_unordered", t, v);

    println!("\n-- errors");
    let err = pool
        .apply_async(|| -> u64 { panic!("a task panicked") })
        .await
        .unwrap_err();
    // The error says where the task panicked (Python's remote traceback).
    println!("{:<16} -> {err} (and the worker lives on)", "panic");
    let rejected =
        std::panic::catch_unwind(|| Map::<_, _, u64>::new(|x: u64| x, 0..4_u64).chunksize(0));
    println!(
        "{:<16} -> rejected where it is set: {}",
        "chunksize 0",
        rejected.map_or("panicked", |_| "accepted?!")
    );
    Ok(())
}

/// Fallible work, per-worker state, and worker recycling.
fn more_tour() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n-- fallible work, per-worker state, recycling");
    let pool = Pool::new(2)?;
    // Map::fallible: your error comes back typed; the first Err stops the map.
    let parsed = pool.run(Map::fallible(
        |s: &str| s.parse::<u32>(),
        ["7", "8", "x9", "10"],
    ));
    match parsed {
        Err(WaitError::Task(TryError::User { error, index })) => {
            println!(
                "{:<16} -> item {index:?} failed, typed: {error}",
                "Map::fallible"
            )
        }
        other => println!("{:<16} -> {other:?}", "Map::fallible"),
    }
    let one = pool.run(Apply::fallible(|| "42".parse::<u32>()))?;
    println!("{:<16} -> {one} (Ok, unwrapped)", "Apply::fallible");
    // Each worker owns a scratch buffer, made once on its own thread.
    let stateful = Pool::builder()
        .workers(2)
        .build_with_state(|_| String::with_capacity(1024))?;
    let shouted = stateful.map(
        |buf: &mut String, word: &str| {
            buf.clear();
            buf.push_str(word);
            buf.make_ascii_uppercase();
            buf.clone()
        },
        ["state", "per", "worker"],
    )?;
    println!("{:<16} -> {shouted:?}", "stateful map");
    // A fresh thread (and initializer) after every 2 tasks per worker.
    let recycled = Pool::builder().workers(1).max_tasks_per_worker(2).build()?;
    let threads: std::collections::HashSet<_> = (0..6)
        .map(|_| recycled.apply(|| std::thread::current().id()))
        .collect::<Result<_, _>>()?;
    println!(
        "{:<16} -> 6 tasks ran on {} threads",
        "max_tasks 2",
        threads.len()
    );
    Ok(())
}

/// What a service needs: a bounded queue that sheds, work that stops when
/// nobody wants it, and counters to export.
async fn service_tour() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n-- in a service");
    let pool = Pool::builder().workers(1).queue_capacity(2).build()?;
    // A long job that checks whether it is still wanted between steps.
    let long = pool.apply_async(|| {
        for _ in 0..1_000 {
            if corepool::is_cancelled() {
                return "stopped early";
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        "ran to the end"
    });
    while pool.metrics().busy_workers == 0 {
        tokio::task::yield_now().await; // until the worker has taken it
    }
    let queued: Vec<_> = (0..2).map(|i| pool.offer(move || i)).collect();
    let refused = pool.offer(|| 99);
    println!(
        "{:<16} -> {} accepted, then {}",
        "offer",
        queued.iter().filter(|r| r.is_ok()).count(),
        match &refused {
            Err(e) if e.is_full() => "Full (503: the closure is handed back, unrun)",
            _ => "accepted",
        }
    );
    // Any work can be offered; a refused `Map` comes back whole, input included.
    let refused_map = pool.offer(Map::new(|x: u32| x * 2, vec![1, 2, 3]));
    println!(
        "{:<16} -> {}",
        "offer(Map)",
        match refused_map {
            Err(e) if e.is_full() => "Full (the map is handed back, unrun)",
            _ => "accepted",
        }
    );
    // The client went away: dropping the results cancels the queued jobs
    // and tells the running one to stop.
    drop(queued);
    drop(long);
    let t = Instant::now();
    while pool.metrics().cancelled < 3 && t.elapsed() < Duration::from_secs(5) {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let m = pool.metrics();
    println!(
        "{:<16} -> submitted {}, rejected {}, cancelled {}, completed {}, after {:.0} ms",
        "metrics",
        m.submitted,
        m.rejected,
        m.cancelled,
        m.completed,
        t.elapsed().as_secs_f64() * 1e3
    );
    pool.close();
    pool.join_async().await?;
    Ok(())
}

/// Quality of service: background work in a capped low-priority lane
/// leaves a worker for requests; a deadline; a permit; percentiles.
async fn qos_tour() -> Result<(), Box<dyn std::error::Error>> {
    println!("\n-- quality of service");
    let pool = Pool::builder().workers(2).queue_capacity(64).build()?;
    let batch = pool.lane(Lane::new("batch").max_workers(1).priority(Priority::Low))?;
    // Sixteen 50 ms background jobs: without the cap they would take both
    // workers for 400 ms.
    let background: Vec<_> = (0..16)
        .map(|_| batch.spawn(|| std::thread::sleep(Duration::from_millis(50))))
        .collect();
    let t = Instant::now();
    pool.spawn(|| ()).await?;
    println!(
        "{:<16} -> a request behind 16 batch jobs answered in {:.2} ms (the lane holds 1 worker of 2)",
        "lane",
        t.elapsed().as_secs_f64() * 1e3
    );
    let late = pool
        .spawn(Apply::new(|| "work").deadline(Instant::now()))
        .await;
    println!(
        "{:<16} -> {}",
        "deadline",
        match late {
            Err(e) if e.cancellation() == Some(Cancellation::DeadlineExpired) => {
                "DeadlineExpired: past its deadline before it started, it never ran"
            }
            _ => "ran (unexpected)",
        }
    );
    let permit = pool.reserve().await?; // a place held before the work exists
    println!(
        "{:<16} -> a held place; spent: {}",
        "reserve",
        permit.spawn(|| 6 * 7).await?
    );
    for job in background {
        job.await?;
    }
    let m = batch.metrics();
    println!(
        "{:<16} -> batch lane: {} jobs, run time p50 {:?}, p99 {:?}",
        "histograms",
        m.completed,
        m.run_time_histogram.quantile(0.5).unwrap_or_default(),
        m.run_time_histogram.quantile(0.99).unwrap_or_default()
    );
    Ok(())
}

/// A real CPU job on one worker per CPU: primes below 3 million, in 64
/// slices.
async fn cpu_job() -> Result<(), Box<dyn std::error::Error>> {
    let n = 3_000_000_u64;
    let slices: Vec<(u64, u64)> = (0..64).map(|i| (i * n / 64, (i + 1) * n / 64)).collect();
    println!("\n-- a CPU job");
    let t = Instant::now();
    let serial: u64 = slices.iter().map(|&(lo, hi)| primes_between(lo, hi)).sum();
    let loop_time = t.elapsed();
    let cpu_pool = Pool::builder().build()?; // one worker per CPU
    let t = Instant::now();
    // Later slices cost more: one slice per job balances the load.
    let work = Map::new(|(lo, hi)| primes_between(lo, hi), slices.clone()).chunksize(1);
    let parallel: u64 = cpu_pool.spawn(work).await?.into_iter().sum();
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
        .imap_unordered(|(lo, hi)| primes_between(lo, hi), slices)
        .map(Result::unwrap);
    let total: u64 = streamed.fold(0, |a, b| async move { a + b }).await;
    assert_eq!(total, serial);
    println!("imap_unordered   {:>8.3} s", t.elapsed().as_secs_f64());
    cpu_pool.close();
    cpu_pool.join_async().await?;
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The panic hook reports each deliberate panic below; keep it to a line.
    // Installed before the first pool is built, so corepool chains onto it
    // (to note where tasks panic) instead of being replaced by it.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("   (the panic hook reports the deliberate panic: {info})")
    }));
    let pool = Pool::new(2)?;
    println!(
        "corepool tour: {} workers, tasks of {:?}\n",
        pool.workers(),
        TASK
    );
    sync_tour(&pool)?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async_tour(&pool))?;
    more_tour()?;
    runtime.block_on(service_tour())?;
    runtime.block_on(qos_tour())?;
    runtime.block_on(cpu_job())?;
    pool.close();
    pool.join()?;
    Ok(())
}
