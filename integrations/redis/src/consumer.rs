//! [`StreamConsumer`]: a Redis Streams consumer whose work runs on a
//! corepool `imap`, acknowledged behind the ordered output.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use redis::aio::MultiplexedConnection;
use redis::{
    AsyncConnectionConfig, Client, ErrorKind, RedisError, RedisResult, ToRedisArgs, Value,
};

use crate::parse::{self, Entry};

/// Added to the `BLOCK` time of a read to make the reader's response
/// timeout, and the response timeout of the writes.
const SLACK: Duration = Duration::from_secs(10);

/// A consumer of one Redis stream in one consumer group, computing on a
/// [`corepool::Pool`] through an ordered [`imap`](corepool::Pool::imap).
///
/// [`run`](StreamConsumer::run):
///
/// 1. claims the entries pending for longer than
///    [`min_idle`](StreamConsumer::min_idle) in the group (`XAUTOCLAIM`,
///    [`read_count`](StreamConsumer::read_count) at a time: what a crashed
///    consumer left), then reads new ones (`XREADGROUP ... >`,
///    `read_count` at a time, blocking up to
///    [`block`](StreamConsumer::block)). A read is made only when the `imap`
///    window has room and the previous read is used up.
/// 2. runs the function on the pool, in chunks of
///    [`chunksize`](StreamConsumer::chunksize) entries, at most
///    [`buffersize`](StreamConsumer::buffersize) chunks in flight.
/// 3. takes the results in read order, as many as are ready (at most
///    [`write_batch`](StreamConsumer::write_batch)), writes them with one
///    `HSET <results> <id> <value> ...`, and once Redis has answered,
///    acknowledges those entries with one `XACK`.
///
/// An entry whose function panics is neither written nor acknowledged: it
/// stays pending, for a later consumer's `XAUTOCLAIM`, and its id is in
/// [`Report::failed`].
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
///
/// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
/// let pool = corepool::Pool::new(2)?;
/// let consumer = corepool_redis::StreamConsumer::new("jobs", "workers", "worker-1")
///     .results("jobs:results")
///     .min_idle(Duration::from_secs(30))
///     .stop_when_idle(true);
/// consumer.create_group(&client).await?;
/// let report = consumer.run(&client, &pool, |entry| entry.fields.len()).await?;
/// assert!(report.acked <= report.read);
/// # Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct StreamConsumer {
    stream: String,
    group: String,
    name: String,
    results: String,
    read_count: usize,
    block: Duration,
    min_idle: Duration,
    stop_when_idle: bool,
    chunksize: usize,
    buffersize: Option<usize>,
    write_batch: usize,
}

/// What a [`StreamConsumer::run`] did.
///
/// # Examples
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let client = redis::Client::open("redis://127.0.0.1:6379/")?;
/// # let pool = corepool::Pool::new(2)?;
/// let consumer = corepool_redis::StreamConsumer::new("jobs", "workers", "w1").stop_when_idle(true);
/// let report = consumer.run(&client, &pool, |entry| entry.id.len()).await?;
/// println!(
///     "claimed {} stale entries, read {}, acknowledged {}, {} panicked",
///     report.claimed.len(),
///     report.read,
///     report.acked,
///     report.failed.len()
/// );
/// # Ok(()) }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The ids taken over from other consumers with `XAUTOCLAIM`, in the
    /// order they were claimed (and processed: before any new entry).
    pub claimed: Vec<String>,
    /// Entries taken into the pool: the claimed ones and the new ones.
    pub read: u64,
    /// Entries whose result was written (`HSET`).
    pub written: u64,
    /// Entries acknowledged (`XACK`'s count: an entry another consumer
    /// acknowledged first is not counted).
    pub acked: u64,
    /// The ids whose function panicked or was cancelled: neither written
    /// nor acknowledged, left pending.
    pub failed: Vec<String>,
    /// When the first entry was taken.
    pub first_read: Option<SystemTime>,
    /// When the last acknowledgement was answered.
    pub last_ack: Option<SystemTime>,
}

impl StreamConsumer {
    /// A consumer named `name` of `stream` in `group`, writing its results
    /// into the hash `<stream>:results`. Defaults: reads of 16 entries,
    /// blocking up to 1 s, claiming entries idle for 60 s, running forever,
    /// chunks of 1 entry, 4 chunks per worker in flight, writes of at most
    /// 64 results.
    ///
    /// Give each live consumer its own name: a name reused after a crash
    /// also finds its old entries through `XAUTOCLAIM`, once idle.
    ///
    /// # Examples
    ///
    /// ```
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "workers", "worker-1");
    /// assert_eq!(consumer.results_key(), "jobs:results");
    /// ```
    pub fn new(
        stream: impl Into<String>,
        group: impl Into<String>,
        name: impl Into<String>,
    ) -> StreamConsumer {
        let stream = stream.into();
        StreamConsumer {
            results: format!("{stream}:results"),
            stream,
            group: group.into(),
            name: name.into(),
            read_count: 16,
            block: Duration::from_secs(1),
            min_idle: Duration::from_secs(60),
            stop_when_idle: false,
            chunksize: 1,
            buffersize: None,
            write_batch: 64,
        }
    }

    /// The hash the results are written into, one field per entry id.
    ///
    /// # Examples
    ///
    /// ```
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c").results("out");
    /// assert_eq!(consumer.results_key(), "out");
    /// ```
    pub fn results(mut self, key: impl Into<String>) -> StreamConsumer {
        self.results = key.into();
        self
    }

    /// The key of the results hash.
    ///
    /// # Examples
    ///
    /// ```
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c");
    /// assert_eq!(consumer.results_key(), "jobs:results");
    /// ```
    pub fn results_key(&self) -> &str {
        &self.results
    }

    /// Entries per `XREADGROUP` or `XAUTOCLAIM` (`COUNT`). Smaller reads
    /// hold fewer entries ahead of the pool; larger ones make fewer round
    /// trips.
    ///
    /// # Panics
    ///
    /// If `count` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c").read_count(8);
    /// assert_eq!(consumer.max_unacked(2), 8 + 8 + 64);
    /// ```
    #[track_caller]
    pub fn read_count(mut self, count: usize) -> StreamConsumer {
        assert!(count > 0, "read_count must be at least 1");
        self.read_count = count;
        self
    }

    /// How long a read waits for new entries (`BLOCK`); zero: it does not
    /// wait.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c")
    ///     .block(Duration::from_millis(200));
    /// # let _ = consumer;
    /// ```
    pub fn block(mut self, block: Duration) -> StreamConsumer {
        self.block = block;
        self
    }

    /// How long an entry must have been pending (delivered and not
    /// acknowledged) before this consumer claims it on start (`XAUTOCLAIM`'s
    /// min-idle-time). Longer than the slowest live consumer takes to
    /// acknowledge an entry, or live consumers steal each other's entries
    /// (harmless to the results, wasteful of work).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c")
    ///     .min_idle(Duration::from_secs(30));
    /// # let _ = consumer;
    /// ```
    pub fn min_idle(mut self, min_idle: Duration) -> StreamConsumer {
        self.min_idle = min_idle;
        self
    }

    /// Whether [`run`](StreamConsumer::run) returns once a read finds no
    /// new entry (after waiting [`block`](StreamConsumer::block)), the
    /// entries in flight done. Off by default: a consumer runs until it
    /// fails or is stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// let batch_job = corepool_redis::StreamConsumer::new("jobs", "g", "c").stop_when_idle(true);
    /// # let _ = batch_job;
    /// ```
    pub fn stop_when_idle(mut self, stop: bool) -> StreamConsumer {
        self.stop_when_idle = stop;
        self
    }

    /// Entries per pool job (the `imap`'s [`chunksize`](corepool::Imap::chunksize),
    /// fixed, so that the bound of [`max_unacked`](StreamConsumer::max_unacked)
    /// holds). 1 by default, right for entries of a millisecond or more;
    /// raise it for entries of microseconds.
    ///
    /// # Panics
    ///
    /// If `chunksize` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c").chunksize(4);
    /// assert_eq!(consumer.max_unacked(2), 16 + 8 * 4 + 64);
    /// ```
    #[track_caller]
    pub fn chunksize(mut self, chunksize: usize) -> StreamConsumer {
        assert!(chunksize > 0, "chunksize must be at least 1");
        self.chunksize = chunksize;
        self
    }

    /// Chunks in flight or waiting to be written (the `imap`'s
    /// [`buffersize`](corepool::Imap::buffersize)). By default 4 per worker
    /// of the pool.
    ///
    /// # Panics
    ///
    /// If `buffersize` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c").buffersize(8);
    /// assert_eq!(consumer.max_unacked(32), 16 + 8 + 64); // whatever the workers
    /// ```
    #[track_caller]
    pub fn buffersize(mut self, buffersize: usize) -> StreamConsumer {
        assert!(buffersize > 0, "buffersize must be at least 1");
        self.buffersize = Some(buffersize);
        self
    }

    /// The most results written by one `HSET` (and acknowledged by one
    /// `XACK`): the ready ones, in order, up to this many.
    ///
    /// # Panics
    ///
    /// If `batch` is 0.
    ///
    /// # Examples
    ///
    /// ```
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c").write_batch(16);
    /// assert_eq!(consumer.max_unacked(2), 16 + 8 + 16);
    /// ```
    #[track_caller]
    pub fn write_batch(mut self, batch: usize) -> StreamConsumer {
        assert!(batch > 0, "write_batch must be at least 1");
        self.write_batch = batch;
        self
    }

    /// The `imap`'s buffersize on a pool of `workers`.
    fn buffersize_for(&self, workers: usize) -> usize {
        self.buffersize.unwrap_or(4 * workers.max(1))
    }

    /// The most entries this consumer holds read and not acknowledged, on a
    /// pool of `workers` threads: the rest of a read
    /// ([`read_count`](StreamConsumer::read_count)), the `imap` window
    /// (`buffersize × chunksize`) and the batch being written
    /// ([`write_batch`](StreamConsumer::write_batch)). A crash re-delivers
    /// at most this many entries, and at most this many are in memory.
    ///
    /// # Examples
    ///
    /// ```
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "g", "c");
    /// assert_eq!(consumer.max_unacked(2), 16 + 4 * 2 + 64);
    /// ```
    pub fn max_unacked(&self, workers: usize) -> usize {
        self.read_count + self.buffersize_for(workers) * self.chunksize + self.write_batch
    }

    /// Creates the consumer group at the start of the stream (and the
    /// stream, if missing: `XGROUP CREATE <stream> <group> 0 MKSTREAM`); a
    /// group that exists already is left as it is.
    ///
    /// # Errors
    ///
    /// Connecting failed, or Redis refused (the key is not a stream).
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> redis::RedisResult<()> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "workers", "w1");
    /// consumer.create_group(&client).await?;
    /// consumer.create_group(&client).await?; // idempotent
    /// # Ok(()) }
    /// ```
    pub async fn create_group(&self, client: &Client) -> RedisResult<()> {
        let mut conn = client.get_multiplexed_async_connection().await?;
        let created: RedisResult<Value> = redis::cmd("XGROUP")
            .arg("CREATE")
            .arg(&self.stream)
            .arg(&self.group)
            .arg("0")
            .arg("MKSTREAM")
            .query_async(&mut conn)
            .await;
        match created {
            Err(e) if e.code() == Some("BUSYGROUP") => Ok(()),
            other => other.map(drop),
        }
    }

    /// Runs the consumer: claims stale pending entries, then reads new ones,
    /// computes `f` of each on `pool`, writes each result into the results
    /// hash under the entry's id, and acknowledges each entry once its
    /// result is written, in read order. Returns when the input ends (with
    /// [`stop_when_idle`](StreamConsumer::stop_when_idle)) and everything
    /// taken is written, or at the first Redis error.
    ///
    /// Dropping the future stops it: entries not yet acknowledged stay
    /// pending, for a later `XAUTOCLAIM`.
    ///
    /// # Errors
    ///
    /// The first Redis error (connecting, reading, writing or
    /// acknowledging), or an error of kind `Client` when `pool` is closed
    /// or terminated. The entries taken and not acknowledged stay pending.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let client = redis::Client::open("redis://127.0.0.1:6379/")?;
    /// let pool = corepool::Pool::new(2)?;
    /// let consumer = corepool_redis::StreamConsumer::new("jobs", "workers", "w1").stop_when_idle(true);
    /// consumer.create_group(&client).await?;
    /// let report = consumer
    ///     .run(&client, &pool, |entry| corepool_redis::digest(entry.get("n").unwrap_or_default(), 1_000))
    ///     .await?;
    /// println!("{} acknowledged", report.acked);
    /// # Ok(()) }
    /// ```
    pub async fn run<F, V>(
        &self,
        client: &Client,
        pool: &corepool::Pool,
        f: F,
    ) -> RedisResult<Report>
    where
        F: Fn(&Entry) -> V + Send + Sync + 'static,
        V: ToRedisArgs + Send + 'static,
    {
        let reads = AsyncConnectionConfig::new().set_response_timeout(Some(self.block + SLACK));
        let writes = AsyncConnectionConfig::new().set_response_timeout(Some(SLACK));
        // Two connections: a read blocked waiting for entries must not hold
        // up the writes and acknowledgements behind it.
        let reader = client
            .get_multiplexed_async_connection_with_config(&reads)
            .await?;
        let mut writer = client
            .get_multiplexed_async_connection_with_config(&writes)
            .await?;

        let shared = Arc::new(Mutex::new(Shared::default()));
        let reader = Reader {
            conn: reader,
            consumer: self.clone(),
            phase: Phase::Claim("0-0".to_owned()),
            buf: VecDeque::new(),
            shared: shared.clone(),
        };
        let entries = futures::stream::unfold(reader, Reader::next);
        let mut batches = pool
            .imap(
                move |entry: Entry| f(&entry),
                corepool::from_stream(entries),
            )
            .chunksize(self.chunksize)
            .buffersize(self.buffersize_for(pool.workers()))
            .ready_chunks(self.write_batch);

        let mut report = Report::default();
        while let Some(batch) = batches.next().await {
            // The ordered output: the results come in the order the reader
            // took the entries, so the front ids are theirs.
            let ids: Vec<String> = {
                let mut shared = lock(&shared);
                let n = batch.len().min(shared.order.len());
                shared.order.drain(..n).collect()
            };
            let mut batch = batch.into_iter();
            let mut hset = redis::cmd("HSET");
            hset.arg(&self.results);
            let mut done = Vec::with_capacity(ids.len());
            for (id, result) in ids.into_iter().zip(batch.by_ref()) {
                match result {
                    Ok(value) => {
                        hset.arg(&id).arg(value);
                        done.push(id);
                    }
                    Err(_) => report.failed.push(id),
                }
            }
            // A result beyond the ids is the stream's own last item: the
            // pool was closed (the stream then ends). What came before it
            // is still written and acknowledged.
            let ended = batch.next().and_then(Result::err);
            if !done.is_empty() {
                self.write_and_ack(&mut writer, hset, done, &mut report)
                    .await?;
            }
            if let Some(error) = ended {
                return Err(RedisError::from((
                    ErrorKind::Client,
                    "the corepool pool stopped taking work; the entries not acknowledged stay pending",
                    error.to_string(),
                )));
            }
        }
        drop(batches);

        let mut shared = lock(&shared);
        if let Some(error) = shared.error.take() {
            return Err(error);
        }
        report.claimed = std::mem::take(&mut shared.claimed);
        report.read = shared.read;
        report.first_read = shared.first_read;
        Ok(report)
    }
}

impl StreamConsumer {
    /// Writes a batch of results (`hset`, its arguments added) and then
    /// acknowledges their entries (`done`).
    async fn write_and_ack(
        &self,
        writer: &mut MultiplexedConnection,
        hset: redis::Cmd,
        done: Vec<String>,
        report: &mut Report,
    ) -> RedisResult<()> {
        // The results are in Redis (its answer came back) before their
        // entries are acknowledged: a crash in between re-delivers them,
        // and the re-run writes the same fields again.
        let _: Value = hset.query_async(writer).await?;
        report.written += done.len() as u64;
        let acked: u64 = redis::cmd("XACK")
            .arg(&self.stream)
            .arg(&self.group)
            .arg(&done)
            .query_async(writer)
            .await?;
        report.acked += acked;
        report.last_ack = Some(SystemTime::now());
        Ok(())
    }
}

/// What the reader (polled inside the `imap`) tells the writer.
#[derive(Default)]
struct Shared {
    /// The ids taken into the pool and not yet written, in order.
    order: VecDeque<String>,
    claimed: Vec<String>,
    read: u64,
    first_read: Option<SystemTime>,
    /// A failed read: the input ends, and `run` returns it.
    error: Option<RedisError>,
}

fn lock(shared: &Mutex<Shared>) -> std::sync::MutexGuard<'_, Shared> {
    // Nothing panics while holding it; a poisoned lock still holds the data.
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

enum Phase {
    /// Claiming stale entries, from this cursor on.
    Claim(String),
    /// Reading new entries.
    New,
    /// The input is over.
    Done,
}

/// The `imap`'s input: claimed entries, then new ones, read when the
/// window asks for one and the previous read is used up.
struct Reader {
    conn: MultiplexedConnection,
    consumer: StreamConsumer,
    phase: Phase,
    buf: VecDeque<Entry>,
    shared: Arc<Mutex<Shared>>,
}

impl Reader {
    async fn next(mut self) -> Option<(Entry, Reader)> {
        loop {
            if let Some(entry) = self.buf.pop_front() {
                let mut shared = lock(&self.shared);
                shared.order.push_back(entry.id.clone());
                shared.read += 1;
                shared.first_read.get_or_insert_with(SystemTime::now);
                drop(shared);
                return Some((entry, self));
            }
            let fetched = match &self.phase {
                Phase::Done => return None,
                Phase::Claim(cursor) => {
                    let cursor = cursor.clone();
                    self.claim(cursor).await
                }
                Phase::New => self.read_new().await,
            };
            if let Err(error) = fetched {
                lock(&self.shared).error = Some(error);
                self.phase = Phase::Done;
            }
        }
    }

    /// One `XAUTOCLAIM` from `cursor`.
    async fn claim(&mut self, cursor: String) -> RedisResult<()> {
        let c = &self.consumer;
        let reply: Value = redis::cmd("XAUTOCLAIM")
            .arg(&c.stream)
            .arg(&c.group)
            .arg(&c.name)
            .arg(u64::try_from(c.min_idle.as_millis()).unwrap_or(u64::MAX))
            .arg(&cursor)
            .arg("COUNT")
            .arg(c.read_count)
            .query_async(&mut self.conn)
            .await?;
        let (next, claimed) = parse::autoclaim_reply(reply)?;
        lock(&self.shared)
            .claimed
            .extend(claimed.iter().map(|e| e.id.clone()));
        self.buf.extend(claimed);
        // "0-0": the whole pending list was scanned.
        self.phase = if next == "0-0" {
            Phase::New
        } else {
            Phase::Claim(next)
        };
        Ok(())
    }

    /// One `XREADGROUP` of new entries.
    async fn read_new(&mut self) -> RedisResult<()> {
        let c = &self.consumer;
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(&c.group)
            .arg(&c.name)
            .arg("COUNT")
            .arg(c.read_count);
        if !c.block.is_zero() {
            cmd.arg("BLOCK").arg(
                u64::try_from(c.block.as_millis())
                    .unwrap_or(u64::MAX)
                    .max(1),
            );
        }
        cmd.arg("STREAMS").arg(&c.stream).arg(">");
        let reply: Value = cmd.query_async(&mut self.conn).await?;
        let entries = parse::read_reply(reply)?;
        if entries.is_empty() && c.stop_when_idle {
            self.phase = Phase::Done;
        }
        self.buf.extend(entries);
        Ok(())
    }
}
