//! Peak memory and throughput of `imap` with a paused consumer: each item
//! yields a 1 KiB result, the consumer sleeps before taking anything, then
//! takes everything. Python's `Pool.imap` keeps pulling input and piling up
//! results while the consumer sleeps; corepool stops at its window.
//!
//! The same workload in Python: `python3 benches/python/imap_memory.py`.
//!
//! Run: `cargo run --release --example imap_memory -- [--items N] [--pause-secs S] [--chunksize C]`
//! (without `--chunksize`, the default adaptive chunking)
//! Prints one line: items, chunksize, peak RSS (VmHWM), time, throughput.

use std::time::{Duration, Instant};

use corepool::Pool;

fn arg(name: &str, default: u64) -> u64 {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .map_or(default, |i| args[i + 1].parse().expect("a number"))
}

/// Peak resident set size of this process, in KiB (Linux's VmHWM).
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let items = arg("--items", 1_000_000);
    let pause = Duration::from_secs(arg("--pause-secs", 5));
    let chunksize = arg("--chunksize", 0) as usize; // 0: the adaptive default
    let pool = Pool::builder().build()?;

    let t = Instant::now();
    let stream = pool.imap(|i: u64| vec![i as u8; 1024], 0..items);
    let stream = if chunksize == 0 {
        stream
    } else {
        stream.chunksize(chunksize)
    };
    let shown = if chunksize == 0 {
        "adaptive".to_owned()
    } else {
        chunksize.to_string()
    };
    let mut results = stream.into_blocking_iter();
    // Start the stream, then pause the consumer (as the Python script does).
    let mut checksum = u64::from(results.next().transpose()?.map_or(0, |v| v[0]));
    std::thread::sleep(pause);
    let resumed = Instant::now();
    for r in results {
        checksum = checksum.wrapping_add(u64::from(r?[0]));
    }
    let busy = resumed.elapsed();
    println!(
        "corepool imap: items={items} chunksize={shown} workers={} peak_rss={:.1} MiB total={:.2} s \
         after_pause={:.2} s throughput={:.0} items/s checksum={checksum}",
        pool.workers(),
        peak_rss_kib() as f64 / 1024.0,
        t.elapsed().as_secs_f64(),
        busy.as_secs_f64(),
        items as f64 / busy.as_secs_f64(),
    );
    Ok(())
}
