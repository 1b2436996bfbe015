//! Python's `multiprocessing.Pool` for async Rust: a dedicated pool of CPU
//! worker threads whose results are futures and streams.
//!
//! CPU-heavy work (hashing, parsing, resizing, scoring) does not belong on an
//! async runtime's threads. corepool runs it on its own OS threads and hands
//! back results you can `.await` from tokio (or any executor), or wait for
//! from plain threads, with the API Python programmers know: `apply`,
//! `apply_async`, `map`, `map_async`, `starmap`, `imap`, `imap_unordered`,
//! `close`, `terminate`, `join`, callbacks and chunksize. Where Python's Pool
//! is broken, corepool is not: a panic is a typed error and the worker lives
//! on, `terminate` fails pending results instead of hanging them, `imap`
//! pulls its input lazily in a bounded window, and `chunksize = 0` is an
//! error.
//!
//! # Hello, pool
//!
//! ```
//! use corepool::Pool;
//!
//! let pool = Pool::new(4)?;
//! let squares = pool.map(|x: u64| x * x, 0..10)?;
//! assert_eq!(squares, [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # From async code
//!
//! Every `_async` method returns a future; the work starts at the call.
//!
//! ```
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use corepool::Pool;
//!
//! let pool = Pool::new(2)?;
//! let digest = pool.apply_async(|| (0..1_000_u64).fold(0, |h, x| h ^ x.wrapping_mul(0x9e37)));
//! let lengths = pool.map_async(|s: &str| s.len(), ["tokio", "corepool"]);
//! println!("{:x} {:?}", digest.await?, lengths.await?);
//! # Ok(()) }
//! ```
//!
//! # Streaming
//!
//! `imap` yields results in input order, `imap_unordered` as they finish;
//! both pull their input lazily, at most a bounded window ahead.
//!
//! ```
//! # #[tokio::main] async fn main() -> Result<(), corepool::TaskError> {
//! use futures::StreamExt;
//!
//! let pool = corepool::Pool::new(2).unwrap();
//! let mut lines = pool.imap(|line: String| line.len(), (0..).map(|i| format!("line {i}")));
//! let mut total = 0;
//! while let Some(len) = lines.next().await {
//!     total += len?;
//!     if total > 100 { break; } // an endless input is fine
//! }
//! # Ok(()) }
//! ```
//!
//! # One door: options as values, admission as a method
//!
//! Python's keyword arguments are builder methods of a value: an
//! [`Apply`] (one call; `callback`, `error_callback`) or a [`Map`]
//! (`chunksize`, `callback`, `error_callback`, `fail_fast`). Any work (a
//! closure, an `Apply`, a `Map`) goes through one of four doors:
//! [`spawn`](Pool::spawn) (shed if the bounded queue is full),
//! [`offer`](Pool::offer) (refuse at once and hand the work back),
//! [`submit`](Pool::submit) (wait for room) and [`run`](Pool::run) (block
//! for the value). Python's eight names are those doors with plain work.
//!
//! ```
//! use corepool::{Apply, Map, Pool};
//!
//! let pool = Pool::new(2)?;
//! let squares = pool.run(Map::new(|x: u64| x * x, 0..6).chunksize(2))?;
//! assert_eq!(squares, [0, 1, 4, 9, 16, 25]);
//!
//! let (tx, rx) = std::sync::mpsc::channel();
//! pool.spawn(Apply::new(|| 6 * 7).callback(move |v: &i32| tx.send(*v).unwrap()))
//!     .detach(); // fire and forget: the callback hears of it
//! assert_eq!(rx.recv()?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Fallible work
//!
//! [`Apply::fallible`] and [`Map::fallible`] take functions returning
//! `Result<T, E>`: your `E` comes back typed in a [`TryError<E>`], and a
//! fallible map stops at the first `Err`, as rayon's `try_for_each` does.
//!
//! ```
//! use corepool::{Map, TryError, WaitError};
//!
//! let pool = corepool::Pool::new(2)?;
//! let parsed = pool.run(Map::fallible(|s: &str| s.parse::<u8>(), ["1", "2", "x"]));
//! match parsed {
//!     Err(WaitError::Task(TryError::User { index, .. })) => assert_eq!(index, Some(2)),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # In a web service
//!
//! Bound the queue ([`PoolBuilder::queue_capacity`]) so overload is refused
//! instead of queued without limit; [`offer`](Pool::offer) then hands the
//! work back at once (answer 503), dropping a result cancels its work if it
//! has not started (a client that hung up), and [`metrics`](Pool::metrics)
//! says how busy the pool is.
//!
//! ```
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use corepool::{Pool, SubmitError};
//!
//! let pool = Pool::builder().workers(2).queue_capacity(64).build()?;
//! // In a handler:
//! let body = b"password".to_vec();
//! let status = match pool.offer(move || body.iter().map(|&b| u64::from(b)).sum::<u64>()) {
//!     Ok(hash) => {
//!         let _digest = hash.await?; // dropping `hash` would cancel it
//!         200
//!     }
//!     Err(SubmitError::Full(_)) => 503, // overloaded: shed before any work
//!     Err(SubmitError::Closed(_)) => 503, // shutting down
//! };
//! assert_eq!(status, 200);
//! let m = pool.metrics();
//! assert_eq!(m.submitted, m.completed);
//! # Ok(()) }
//! ```
//!
//! Quality of service is options on the same door:
//! [`Apply::deadline`] / [`Map::deadline`] and
//! [`PoolBuilder::max_queue_wait`] (work that would start too late never
//! runs: [`Cancellation::DeadlineExpired`]),
//! [`PoolBuilder::queue_wait_target`] (admission by queue delay),
//! [`Pool::lane`] (a [`Priority`] and a parallelism cap for background
//! work), [`Pool::reserve`] / [`Pool::try_reserve`] (a [`Permit`] holds a
//! place before the work exists), latency distributions in [`Metrics`]
//! ([`Histogram`]), and, with the cargo feature `tower`, `PoolService`, a
//! `tower::Service` whose readiness is the pool's capacity.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use corepool::{Apply, Lane, Pool, Priority};
//!
//! let pool = Pool::builder().workers(2).queue_wait_target(Duration::from_millis(50)).build()?;
//! let batch = pool.lane(Lane::new("batch").max_workers(1).priority(Priority::Low))?;
//! let mut nightly = batch.map_async(|x: u64| x.count_ones(), 0..10_000);
//! let request = Apply::new(|| "fresh").deadline(Instant::now() + Duration::from_secs(1));
//! assert_eq!(pool.run(request)?, "fresh"); // not behind the batch: it holds one worker at most
//! assert_eq!(nightly.get()?.len(), 10_000);
//! println!("p99 queue wait: {:?}", pool.metrics().queue_wait_histogram.quantile(0.99));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Per-worker state and recycling
//!
//! [`PoolBuilder::build_with_state`] gives each worker a value of your type
//! (a scratch buffer, a compiled regex set), lent as `&mut S` to the
//! closures of a [`StatefulPool`], which has the same door and names.
//! [`PoolBuilder::max_tasks_per_worker`] (Python's `maxtasksperchild`)
//! replaces a worker after so many tasks.
//!
//! ```
//! let pool = corepool::Pool::builder()
//!     .workers(2)
//!     .max_tasks_per_worker(100)
//!     .build_with_state(|_worker| Vec::<u8>::with_capacity(1 << 12))?;
//! let lengths = pool.map(|buf: &mut Vec<u8>, n: usize| { buf.clear(); buf.resize(n, 0); buf.len() }, [3, 1])?;
//! assert_eq!(lengths, [3, 1]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Panics are values
//!
//! ```
//! let pool = corepool::Pool::new(1)?;
//! let err = pool.map(|x: u32| 10 / x, [5, 2, 0, 1]).unwrap_err();
//! assert!(err.is_panic());
//! assert_eq!(err.index(), Some(2));
//! assert_eq!(pool.apply(|| "still alive")?, "still alive");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Errors
//!
//! A panic's error says where it happened ([`TaskError::panic_location`]):
//! the first pool built chains a panic hook onto the one in place (the
//! default or yours), which notes the location and then calls it, so your
//! hook still runs. A hook installed after the first pool replaces ours;
//! errors then carry no location, and nothing else changes.
//!
//! One error type per operation: awaiting a task gives a [`TaskError`]
//! (panicked or cancelled, with the job id of its tracing span), or a
//! [`TryError<E>`] for fallible work; every sync or timed wait gives a
//! [`WaitError`] (the task's error, [`WouldDeadlock`] where blocking would
//! stall a runtime, `TimedOut`, or `Taken` for a second `get`), which
//! answers `kind()`, `cancellation()`, `index()` and `panic_message()`
//! directly; `offer` and `submit` a [`SubmitError`] that hands the work
//! back; `join` a [`JoinError`]; `build` a [`BuildError`]. A `chunksize` or
//! `buffersize` of 0 panics where it is set, as `slice::chunks(0)` does.
//!
//! # Shutting down
//!
//! ```
//! let pool = corepool::Pool::new(2)?;
//! let mut pending = pool.apply_async(|| 42);
//! pool.close(); // no new work; queued work still runs
//! pool.join()?; // wait for it and for the threads to exit
//! assert_eq!(pending.get()?, 42);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Where blocking calls are allowed
//!
//! The sync forms (`apply`, `map`, `get`, `wait`, the blocking `imap`
//! iterator, `join`) work:
//!
//! * on plain threads, including tokio's `spawn_blocking` threads (of either
//!   runtime flavor) and the thread of a multi-thread `Runtime::block_on`;
//! * on the worker threads of a multi-thread tokio runtime: they block
//!   through `block_in_place`, so the runtime's other tasks move to another
//!   thread;
//! * in a `LocalSet` driven by a multi-thread runtime: they block the
//!   thread (the `LocalSet`'s other tasks wait meanwhile), never panic;
//! * on the pool's own workers: a waiting worker runs the unstarted jobs of
//!   the very result it waits for (its own `apply`, its map's chunks) and
//!   nothing else, so nested calls (`map` inside `map`) cannot deadlock the
//!   pool, and no unrelated job ever runs inside the caller's stack. A timed
//!   wait (`get_timeout`...) there runs nothing, to keep its deadline.
//!
//! On the thread of a `current_thread` tokio runtime they return
//! [`WouldDeadlock`] before submitting or taking anything:
//! `.await` the async form there. `join` on one of the pool's own workers
//! is refused the same way.
//!
//! # Tracing
//!
//! Each job runs in a `corepool.job` span, made when the job is submitted
//! and so a child of the span current there (a request's trace contains the
//! CPU work done for it). It carries `id`, `kind`, `chunk`, and once it runs
//! `worker`, `generation` (which thread of that worker index, see
//! `max_tasks_per_worker`), `inline` (a waiting worker ran it),
//! `queued_us` and `run_us`. Workers emit events when they start and stop.
//! corepool prints nothing.
//!
//! # Stopping running work
//!
//! Threads cannot be killed; a long task can instead call
//! [`is_cancelled`] between steps and return early when nobody wants its
//! result any more (its handle dropped, its map failed, its `imap` stream
//! dropped, the pool terminated, or the task that submitted it is itself no
//! longer wanted: cancellation reaches nested work unless it was
//! detached). It then resolves as cancelled; [`cancellation`] says why.

#![forbid(unsafe_code)]
#![cfg_attr(corepool_loom, allow(dead_code, unused_imports))]
#![warn(
    missing_docs,
    missing_debug_implementations,
    rust_2018_idioms,
    unreachable_pub
)]

mod admission;
mod args;
mod blocking;
mod build;
mod builder;
mod callbacks;
mod cancel;
mod clock;
mod cost;
mod error;
mod histogram;
mod imap;
mod job;
mod lane;
mod limits;
mod map;
mod metrics;
mod permit;
mod places;
mod pool;
mod queue;
mod registry;
mod result;
mod resume;
#[cfg(feature = "tower")]
mod service;
mod slot;
mod state;
mod stateful;
mod sync;
#[cfg(all(test, corepool_loom))]
mod tests;
mod threads;
mod unwind;
mod work;
mod worker;

pub use args::{StateTupleFn, TupleFn};
pub use builder::{PoolBuilder, cpu_count};
pub use cancel::{cancellation, is_cancelled};
pub use error::{
    BuildError, Cancellation, JoinError, PanicPayload, SubmitError, TaskError, TaskErrorKind,
    TryError, WaitError, WouldDeadlock,
};
pub use histogram::Histogram;
pub use imap::{BlockingIter, Imap, ImapUnordered, Input, StreamInput, from_stream};
pub use lane::{Lane, Priority};
pub use limits::{MAX_QUEUE_CAPACITY, MAX_WORKERS};
pub use metrics::Metrics;
pub use permit::{Permit, Reserve, ReserveError};
pub use pool::Pool;
pub use result::AsyncResult;
#[cfg(feature = "tower")]
pub use service::PoolService;
pub use stateful::StatefulPool;
pub use work::{Apply, Map, StateWork, Submit, Work};

/// The README's code blocks, compiled and run as doctests so that they
/// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
