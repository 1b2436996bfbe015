//! The factorial experiment of the Python blog post this project started
//! from: factorials of (4, 8, 12, 20, 16) with 0.5 s per multiplication step
//! on 4 workers, each task reporting "start@" and "finish@" lines to the
//! caller through a channel (the post used a `Pipe`).
//!
//! Expected: about 9.5 s for every concurrent form (the post printed about
//! 10.5 s with Python, which includes about 1 s of process start-up) and
//! about 27.5 s for `apply`; 4, 8, 12 and 20 start together and 16 starts
//! when 4 finishes. The whole run takes about 95 s (27.5 s + 7 × 9.5 s).
//!
//! The blocking forms run from this plain `main`; the async forms run inside
//! a tokio runtime, `.await`ed.
//!
//! Run: `cargo run --release --example factorial_timeline [-- --step-ms 500]`

use std::time::{Duration, Instant};

use async_channel::Sender;
use corepool::{Map, Pool};
use futures::TryStreamExt;

const VAR: [u64; 5] = [4, 8, 12, 20, 16];

/// The post's `f(x, conn, t0)`.
fn f(x: u64, conn: Sender<String>, t0: Instant, step: Duration) -> u64 {
    let x0 = x;
    let _ = conn.send_blocking(format!(
        "factorial of {x0}: start@{:.2}s",
        t0.elapsed().as_secs_f64()
    ));
    let (mut ans, mut x) = (1_u64, x);
    while x > 1 {
        ans *= x;
        std::thread::sleep(step);
        x -= 1;
    }
    let t = t0.elapsed().as_secs_f64();
    let _ = conn.send_blocking(format!("factorial of {x0}: finish@{t:.2}s, res = {ans}"));
    ans
}

fn report(form: &str, rx: &async_channel::Receiver<String>, t0: Instant, res: &[u64]) -> f64 {
    println!("== {form}\noutput:");
    while let Ok(line) = rx.try_recv() {
        println!("{line}");
    }
    let t = t0.elapsed().as_secs_f64();
    println!("factorial of {VAR:?}@{t:.2}s: {res:?}\n");
    t
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let step_ms = std::env::args()
        .skip_while(|a| a != "--step-ms")
        .nth(1)
        .map_or(Ok(500), |s| s.parse())?;
    let step = Duration::from_millis(step_ms);
    let pool = Pool::new(4)?;
    let (tx, rx) = async_channel::unbounded();
    let mut totals = Vec::new();

    let t0 = Instant::now();
    let mut res = Vec::new();
    for x in VAR {
        let tx = tx.clone();
        res.push(pool.apply(move || f(x, tx, t0, step))?);
    }
    totals.push(("apply", report("apply", &rx, t0, &res)));

    // One task per chunk, as the post's `chunksize=1`.
    let t0 = Instant::now();
    let params: Vec<_> = VAR.iter().map(|&x| (x, tx.clone(), t0)).collect();
    let res = pool.run(Map::new(move |(x, conn, t0)| f(x, conn, t0, step), params).chunksize(1))?;
    totals.push(("map", report("map", &rx, t0, &res)));

    let t0 = Instant::now();
    let params: Vec<_> = VAR.iter().map(|&x| (x, tx.clone(), t0)).collect();
    // The default chunksize, ⌈5 / (16 × 4 workers)⌉, is 1 here too.
    let res = pool.starmap(move |x, conn, t0| f(x, conn, t0, step), params)?;
    totals.push(("starmap", report("starmap", &rx, t0, &res)));

    let t0 = Instant::now();
    let params: Vec<_> = VAR.iter().map(|&x| (x, tx.clone(), t0)).collect();
    let res: Vec<u64> = pool
        .imap(move |(x, conn, t0)| f(x, conn, t0, step), params)
        .into_blocking_iter()
        .collect::<Result<_, _>>()?;
    totals.push(("imap (blocking)", report("imap (blocking)", &rx, t0, &res)));

    // The async forms, awaited inside a tokio runtime.
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let t0 = Instant::now();
        let handles: Vec<_> = VAR
            .iter()
            .map(|&x| {
                let tx = tx.clone();
                pool.apply_async(move || f(x, tx, t0, step))
            })
            .collect();
        let mut res = Vec::new();
        for h in handles {
            res.push(h.await?);
        }
        totals.push(("apply_async", report("apply_async", &rx, t0, &res)));

        let t0 = Instant::now();
        let params: Vec<_> = VAR.iter().map(|&x| (x, tx.clone(), t0)).collect();
        let res = pool
            .spawn(Map::new(move |(x, conn, t0)| f(x, conn, t0, step), params).chunksize(1))
            .await?;
        totals.push(("map_async", report("map_async", &rx, t0, &res)));

        let t0 = Instant::now();
        let params: Vec<_> = VAR.iter().map(|&x| (x, tx.clone(), t0)).collect();
        let res: Vec<u64> = pool
            .imap(move |(x, conn, t0)| f(x, conn, t0, step), params)
            .try_collect()
            .await?;
        totals.push(("imap", report("imap", &rx, t0, &res)));

        let t0 = Instant::now();
        let params: Vec<_> = VAR.iter().map(|&x| (x, tx.clone(), t0)).collect();
        let res: Vec<u64> = pool
            .imap_unordered(move |(x, conn, t0)| f(x, conn, t0, step), params)
            .try_collect()
            .await?;
        totals.push(("imap_unordered", report("imap_unordered", &rx, t0, &res)));
        Ok::<_, corepool::TaskError>(())
    })?;

    let scale = step.as_secs_f64() / 0.5;
    println!("| form | corepool total | expected | the post's Python |");
    println!("|---|---|---|---|");
    for (form, total) in totals {
        let (expected, python) = if form == "apply" {
            (27.5, 29.01)
        } else {
            (9.5, 10.6)
        };
        println!(
            "| {form} | {total:.2} s | {:.2} s | {:.2} s |",
            expected * scale,
            python * scale
        );
    }
    Ok(())
}
