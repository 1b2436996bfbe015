//! corepool beyond one machine: an ordered [`imap`](corepool::Pool::imap)
//! over a Redis Streams consumer group.
//!
//! A [`StreamConsumer`] reads entries with `XREADGROUP`, lazily (a few at a
//! time, only when the `imap` window has room), computes a CPU function of
//! each entry on a [`corepool::Pool`], writes each result into a hash keyed
//! by the entry's id (`HSET results <id> <value>`), and acknowledges the
//! entry (`XACK`) only after its result is written. The ordered output of
//! `imap` is the commit watermark: results are written and acknowledged in
//! the order the entries were read. On start, the consumer first claims the
//! entries other consumers left pending for longer than
//! [`min_idle`](StreamConsumer::min_idle) (`XAUTOCLAIM`; a crashed
//! consumer's entries) and processes them before new ones.
//!
//! What that gives, and what it does not:
//!
//! * **At-least-once processing.** An entry is acknowledged only once its
//!   result is in Redis; a consumer that dies leaves its unacknowledged
//!   entries pending, and the next consumer to start claims them.
//! * **Idempotent results.** A re-processed entry writes the same field of
//!   the same hash again, with the same value if the function is
//!   deterministic: the re-delivery after a crash is invisible in Redis.
//! * **Bounded re-processing and memory.** At most
//!   [`max_unacked`](StreamConsumer::max_unacked) entries are read and not
//!   yet acknowledged by one consumer at any time (the read-ahead, the `imap`
//!   window and the batch being written), so a crash re-processes at most
//!   that many entries, and memory does not grow with the stream.
//! * **Not exactly-once side effects outside Redis**, and no ordering across
//!   consumers: each consumer writes in its own read order.
//!
//! # Examples
//!
//! ```no_run
//! use corepool_redis::StreamConsumer;
//! use std::time::Duration;
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let client = redis::Client::open("redis://127.0.0.1:6379/")?;
//!     let pool = corepool::Pool::new(2)?;
//!     let consumer = StreamConsumer::new("jobs", "workers", "worker-1") // stream, group, this consumer
//!         .results("jobs:results")              // HSET jobs:results <entry id> <value>
//!         .min_idle(Duration::from_secs(60));   // claim entries a dead consumer left for 60 s
//!     consumer.create_group(&client).await?;
//!     consumer
//!         .run(&client, &pool, |entry| corepool_redis::digest(entry.get("n").unwrap_or_default(), 500_000))
//!         .await?;                              // runs until an error (or, with stop_when_idle, the end)
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod consumer;
mod parse;

pub use consumer::{Report, StreamConsumer};
pub use parse::Entry;

/// A deterministic CPU function for examples, tests and measurements:
/// `rounds` rounds of 64-bit mixing over `data`, about 2 ns a round (1 000 000
/// rounds took 2.0 ms on the 2-core machine of README.md).
///
/// # Examples
///
/// ```
/// let a = corepool_redis::digest(b"entry 7", 1_000);
/// assert_eq!(a, corepool_redis::digest(b"entry 7", 1_000)); // deterministic
/// assert_ne!(a, corepool_redis::digest(b"entry 8", 1_000));
/// ```
pub fn digest(data: &[u8], rounds: u64) -> u64 {
    let mut h = 0x9E37_79B9_7F4A_7C15_u64;
    for &b in data {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
    }
    for i in 0..rounds {
        h = (h ^ (h >> 29) ^ i).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    h
}
