//! A streaming job: a large text, generated lazily line by line, hashed on
//! the pool through `imap` and written out in input order, with a progress
//! line; then the same through `imap_unordered`. Memory stays flat whatever
//! the input length: the input is pulled only as results are written.
//!
//! Run: `cargo run --release --example stream_pipeline [-- --lines N | --long]`
//! (default 500 000 lines; `--long` is 10 000 000).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::time::Instant;

use corepool::Pool;
use futures::StreamExt;

/// The input: lines of a made-up log, produced on demand.
fn lines(n: u64) -> impl Iterator<Item = (u64, String)> + Send + 'static {
    (0..n).map(|i| {
        (
            i,
            format!(
                "{i:010} GET /api/items/{} 200 {}ms user={}",
                i * 7919 % 100_003,
                i % 977,
                i % 31
            ),
        )
    })
}

/// The CPU work: 64 rounds of FNV-1a over the line.
fn hash((i, line): (u64, String)) -> (u64, u64) {
    let mut h = 0xcbf2_9ce4_8422_2325_u64;
    for round in 0..64_u64 {
        for b in line.bytes() {
            h = (h ^ u64::from(b) ^ round).wrapping_mul(0x0100_0000_01b3);
        }
    }
    (i, h)
}

/// A one-line progress report on stderr, redrawn at most every 100 ms.
struct Progress {
    label: &'static str,
    len: u64,
    pos: u64,
    started: Instant,
    drawn: Instant,
}

impl Progress {
    fn new(len: u64, label: &'static str) -> Self {
        let now = Instant::now();
        Progress {
            label,
            len,
            pos: 0,
            started: now,
            drawn: now,
        }
    }

    fn inc(&mut self) {
        self.pos += 1;
        if self.drawn.elapsed().as_millis() >= 100 || self.pos == self.len {
            self.drawn = Instant::now();
            let rate = self.pos as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
            eprint!(
                "\r{:>15} {:>3}% {}/{} {:.0} lines/s   ",
                self.label,
                self.pos * 100 / self.len.max(1),
                self.pos,
                self.len,
                rate
            );
        }
    }

    fn finish(&self) {
        eprintln!();
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: u64 = match args.iter().position(|a| a == "--lines") {
        Some(i) => args[i + 1].parse()?,
        None if args.iter().any(|a| a == "--long") => 10_000_000,
        None => 500_000,
    };
    let pool = Pool::builder().build()?;
    println!("hashing {n} lines on {} workers", pool.workers());
    let dir = std::env::temp_dir();

    // Ordered: results are written in input order.
    let path = dir.join("corepool_pipeline_imap.tsv");
    let mut out = BufWriter::new(File::create(&path)?);
    let mut bar = Progress::new(n, "imap");
    let t = Instant::now();
    let mut results = pool.imap(hash, lines(n)).chunksize(256);
    let mut expected = 0;
    while let Some(r) = results.next().await {
        let (i, h) = r?;
        assert_eq!(i, expected, "imap yields in input order");
        expected += 1;
        writeln!(out, "{i}\t{h:016x}")?;
        bar.inc();
    }
    out.flush()?;
    bar.finish();
    let ordered = t.elapsed();
    println!(
        "imap           {n} lines in {:.2} s ({:.0} lines/s) -> {}",
        ordered.as_secs_f64(),
        n as f64 / ordered.as_secs_f64(),
        path.display()
    );

    // Unordered: each result as soon as it is ready.
    let path = dir.join("corepool_pipeline_imap_unordered.tsv");
    let mut out = BufWriter::new(File::create(&path)?);
    let mut bar = Progress::new(n, "imap_unordered");
    let t = Instant::now();
    let mut results = pool.imap_unordered(hash, lines(n)).chunksize(256);
    let mut count = 0_u64;
    while let Some(r) = results.next().await {
        let (i, h) = r?;
        writeln!(out, "{i}\t{h:016x}")?;
        count += 1;
        bar.inc();
    }
    out.flush()?;
    bar.finish();
    assert_eq!(count, n);
    let unordered = t.elapsed();
    println!(
        "imap_unordered {n} lines in {:.2} s ({:.0} lines/s) -> {}",
        unordered.as_secs_f64(),
        n as f64 / unordered.as_secs_f64(),
        path.display()
    );

    let t = Instant::now();
    let serial = lines(n).map(hash).fold(0_u64, |a, (_, h)| a ^ h);
    println!(
        "plain loop     {n} lines in {:.2} s (checksum {serial:016x})",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}
