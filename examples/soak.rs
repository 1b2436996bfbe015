//! A soak run (not part of CI): mixed load for a long time (an hour by
//! default) — every kind of submission and admission mode, shedding,
//! dropped results, nested calls, recycling, panics and panicking drops —
//! with the process's RSS, threads and memory mappings sampled every
//! interval. It fails (exit code 1) if any result is lost (every submission
//! must resolve) or the metrics do not balance at the end.
//!
//! ```sh
//! cargo run --release --example soak -- 60 60   # minutes, seconds between samples
//! cargo run --release --example soak -- 2 10    # a short run
//! ```
//!
//! Linux only (it reads `/proc/self`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use corepool::{Apply, Map, Pool};

/// Panics in `Drop` (not while unwinding).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("soak: a Drop that panics");
        }
    }
}

fn status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .map(|m| m.lines().count())
        .unwrap_or(0)
}

/// Counts submissions and their resolutions: none may be lost.
#[derive(Default)]
struct Ledger {
    submitted: AtomicU64,
    resolved: AtomicU64,
}

fn load(pool: &Pool, ledger: &Ledger, round: u64) {
    // Every branch waits for its outcome (or drops its handle, which
    // cancels or detaches): a lost result would hang this driver, and the
    // ledger in `main` would show it.
    ledger.submitted.fetch_add(1, Ordering::Relaxed);
    match round % 10 {
        0 => drop(pool.apply(move || round.wrapping_mul(31))),
        1 => drop(pool.map(|x: u64| x ^ 7, 0..200)),
        2 => drop(pool.apply_async(move || round).get()),
        // Dropped at once: cancelled if not started.
        3 => drop(pool.apply_async(move || round)),
        4 => {
            let map = Map::new(|x: u64| x + 1, (0..64).collect::<Vec<_>>());
            if let Ok(mut r) = pool.offer(map) {
                drop(r.get());
            } // else shed: handed back
        }
        5 => {
            let inner = pool.clone();
            drop(pool.apply(move || inner.map(|x: u64| x * 2, 0..32).map(|v| v.len())));
        }
        6 => drop(pool.apply(|| -> u8 { panic!("soak: a task that panics") })),
        7 => {
            let captured = PanicOnDrop;
            drop(pool.apply(move || drop(captured)));
        }
        8 => {
            let ok = pool
                .imap(|x: u64| x, 0..100)
                .into_blocking_iter()
                .filter(Result::is_ok)
                .count();
            assert!(ok <= 100);
        }
        _ => {
            let work = Apply::fallible(move || {
                if round % 3 == 0 {
                    Err("soak: user error")
                } else {
                    Ok(round)
                }
            });
            drop(pool.spawn(work).get());
        }
    }
    ledger.resolved.fetch_add(1, Ordering::Relaxed);
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let minutes = args.first().copied().unwrap_or(60);
    let every = Duration::from_secs(args.get(1).copied().unwrap_or(60));
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .unwrap_or_default();
        if !message.starts_with("soak: ") {
            previous(info);
        }
    }));
    let pool = Pool::builder()
        .workers(2)
        .queue_capacity(32)
        .max_tasks_per_worker(1_000)
        .build()
        .expect("a pool");
    let ledger = Arc::new(Ledger::default());
    let stop = Arc::new(AtomicBool::new(false));
    let drivers: Vec<_> = (0..4_u64)
        .map(|t| {
            let (pool, ledger, stop) = (pool.clone(), ledger.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut round = t;
                while !stop.load(Ordering::Relaxed) {
                    load(&pool, &ledger, round);
                    round += 4;
                }
            })
        })
        .collect();
    let started = Instant::now();
    let end = started + Duration::from_secs(minutes * 60);
    println!("minute  rss_kib  threads  mappings  submitted   resolved  pool_submitted  rejected");
    while Instant::now() < end {
        std::thread::sleep(every.min(end.saturating_duration_since(Instant::now())));
        let m = pool.metrics();
        println!(
            "{:6.1} {:8} {:8} {:9} {:10} {:10} {:15} {:9}",
            started.elapsed().as_secs_f64() / 60.0,
            status("VmRSS:"),
            status("Threads:"),
            mappings(),
            ledger.submitted.load(Ordering::Relaxed),
            ledger.resolved.load(Ordering::Relaxed),
            m.submitted,
            m.rejected,
        );
    }
    stop.store(true, Ordering::Relaxed);
    for d in drivers {
        d.join().expect("a driver");
    }
    pool.close();
    pool.join().expect("join");
    let m = pool.metrics();
    let (submitted, resolved) = (
        ledger.submitted.load(Ordering::Relaxed),
        ledger.resolved.load(Ordering::Relaxed),
    );
    println!("{m:?}");
    let balanced = m.submitted == m.completed + m.failed + m.cancelled;
    if submitted != resolved || !balanced {
        eprintln!("LOST: {submitted} submitted, {resolved} resolved; metrics balanced: {balanced}");
        std::process::exit(1);
    }
    println!("ok: {submitted} submissions, all resolved; metrics balance");
}
