//! The stream recipe as a process: fill a stream, or consume it.
//!
//! ```text
//! corepool-redis-stream produce --stream S --count N
//! corepool-redis-stream consume --stream S --group G --consumer NAME [--workers 2]
//!     [--rounds 500000] [--read-count 16] [--chunksize 1] [--buffersize B]
//!     [--write-batch 64] [--min-idle-ms 60000] [--block-ms 1000] [--stop-when-idle]
//! ```
//!
//! The server is `--url` or `$COREPOOL_REDIS_URL`. Each entry is `n <i>`;
//! its result is `corepool_redis::digest(<i>, rounds)` in decimal, in the
//! hash `<stream>:results` under the entry's id. `consume` prints one line
//! `report ...` (counts, and the rate from the first entry taken to the
//! last acknowledgement) and one line `claimed_ids ...`.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, UNIX_EPOCH};

use corepool_redis::{StreamConsumer, digest};

type Error = Box<dyn std::error::Error>;

fn usage() -> ExitCode {
    eprintln!(
        "usage: corepool-redis-stream produce --stream S --count N [--url U]\n       \
         corepool-redis-stream consume --stream S --group G --consumer NAME [--url U] [--workers W]\n           \
         [--rounds R] [--read-count C] [--chunksize K] [--buffersize B] [--write-batch N]\n           \
         [--min-idle-ms MS] [--block-ms MS] [--stop-when-idle]"
    );
    ExitCode::from(2)
}

/// `--name value` pairs, and `--flag`s (as "true").
fn parse_args(args: &[String]) -> Result<HashMap<String, String>, Error> {
    let mut out = HashMap::new();
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        let Some(name) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}").into());
        };
        let value = match it.peek() {
            Some(v) if !v.starts_with("--") => it.next().cloned().unwrap_or_default(),
            _ => "true".to_owned(),
        };
        out.insert(name.to_owned(), value);
    }
    Ok(out)
}

struct Args(HashMap<String, String>);

impl Args {
    fn str(&self, name: &str) -> Result<String, Error> {
        self.0
            .get(name)
            .cloned()
            .ok_or_else(|| format!("--{name} is required").into())
    }

    fn num<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, Error> {
        match self.0.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: not a number: {v:?}").into()),
        }
    }

    fn url(&self) -> Result<String, Error> {
        self.str("url")
            .or_else(|_| std::env::var("COREPOOL_REDIS_URL"))
            .map_err(|_| "no server: give --url or set COREPOOL_REDIS_URL".into())
    }
}

async fn produce(args: &Args) -> Result<(), Error> {
    let client = redis::Client::open(args.url()?)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let stream = args.str("stream")?;
    let count: u64 = args.num("count", 1_000)?;
    let mut next = 0;
    while next < count {
        let mut pipe = redis::pipe();
        for i in next..count.min(next + 1_000) {
            pipe.cmd("XADD")
                .arg(&stream)
                .arg("*")
                .arg("n")
                .arg(i)
                .ignore();
        }
        let () = pipe.query_async(&mut conn).await?;
        next = count.min(next + 1_000);
    }
    println!("produced {count} entries into {stream}");
    Ok(())
}

fn unix_ms(t: Option<std::time::SystemTime>) -> u128 {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_millis())
}

async fn consume(args: &Args) -> Result<(), Error> {
    let client = redis::Client::open(args.url()?)?;
    let name = args.str("consumer")?;
    let workers: usize = args.num("workers", 2)?;
    let rounds: u64 = args.num("rounds", 500_000)?;
    let mut consumer = StreamConsumer::new(args.str("stream")?, args.str("group")?, name.clone())
        .read_count(args.num("read-count", 16)?)
        .chunksize(args.num("chunksize", 1)?)
        .write_batch(args.num("write-batch", 64)?)
        .min_idle(Duration::from_millis(args.num("min-idle-ms", 60_000)?))
        .block(Duration::from_millis(args.num("block-ms", 1_000)?))
        .stop_when_idle(args.0.contains_key("stop-when-idle"));
    if args.0.contains_key("buffersize") {
        consumer = consumer.buffersize(args.num("buffersize", 1)?);
    }
    consumer.create_group(&client).await?;
    let pool = corepool::Pool::new(workers)?;
    let report = consumer
        .run(&client, &pool, move |entry| {
            digest(entry.get("n").unwrap_or_default(), rounds).to_string()
        })
        .await?;
    let (first, last) = (unix_ms(report.first_read), unix_ms(report.last_ack));
    let secs = last.saturating_sub(first) as f64 / 1e3;
    let rate = if secs > 0.0 {
        report.acked as f64 / secs
    } else {
        0.0
    };
    println!(
        "report consumer={name} workers={workers} claimed={} read={} written={} acked={} failed={} \
         max_unacked={} first_read_ms={first} last_ack_ms={last} seconds={secs:.3} per_second={rate:.0}",
        report.claimed.len(),
        report.read,
        report.written,
        report.acked,
        report.failed.len(),
        consumer.max_unacked(workers),
    );
    println!("claimed_ids {}", report.claimed.join(","));
    Ok(())
}

// One runtime thread: the pool's workers do the CPU work, and the runtime
// only moves bytes to and from Redis.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = argv.split_first() else {
        return usage();
    };
    let args = match parse_args(rest) {
        Ok(args) => Args(args),
        Err(e) => {
            eprintln!("corepool-redis-stream: {e}");
            return usage();
        }
    };
    let done = match command.as_str() {
        "produce" => produce(&args).await,
        "consume" => consume(&args).await,
        _ => return usage(),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("corepool-redis-stream: {e}");
            ExitCode::FAILURE
        }
    }
}
