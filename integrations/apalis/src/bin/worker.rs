//! `corepool-apalis-worker`: the worker process of `tests/kill.rs` and of
//! the throughput figures in the crate's README.
//!
//! ```text
//! corepool-apalis-worker work  --redis URL --queue Q --name N [options]
//! corepool-apalis-worker bench --redis URL [--jobs 4000] [--processes 1,2] [--rounds 3] [options]
//! ```
//!
//! `work` runs one apalis worker on Redis queue `Q` whose handler is a
//! [`CpuService`] on a corepool pool (`--workers`, `--queue-capacity`).
//! Jobs are `u64` ids; a job spins `--job-iters` rounds of splitmix64 (about
//! 2 ms of CPU by default) and returns `splitmix64(id)`. Before apalis
//! acknowledges a job, the worker records in Redis, in one transaction:
//!
//! - `Q:results` (hash): `HSETNX id value`, the result, written once;
//! - `Q:runs` (hash): `HINCRBY id 1`, how many times the job ran to the end;
//! - `Q:runner` (hash): `HSET id N`, the worker that ran it last;
//! - `Q:stats` (hash): `N:executions`, and `N:max_held`, the most jobs this
//!   process held at once: taken from apalis (`call`) and not yet finished
//!   on the pool (the CPU function returned, or the job was dropped unrun);
//!   and `N:max_inflight`, the largest size of the worker's in-flight set in
//!   Redis (`Q:inflight:N`: fetched, not yet acknowledged) seen when a job
//!   starts.
//!
//! `bench` pushes `--jobs` jobs on a fresh queue, starts `P` `work`
//! processes (this executable) and times them until every result is
//! recorded, for each `P` of `--processes`, in interleaved rounds.
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use apalis::prelude::{BackendExt, BoxDynError, Task, TaskSink, WorkerBuilder};
use apalis_redis::{ConnectionManager, RedisStorage};
use corepool::{Pool, TaskError};
use corepool_apalis::{CpuService, redis_config};
use tower::Service;

/// Rounds of splitmix64 per job: about 2 ms on the 2-core CI machine.
const DEFAULT_JOB_ITERS: u64 = 500_000;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The CPU work: `iters` rounds of splitmix64, then a value that depends on
/// `id` alone, so that a test can check it cheaply.
fn cpu_job(id: u64, iters: u64) -> u64 {
    let mut x = id;
    for _ in 0..iters {
        x = splitmix64(black_box(x));
    }
    black_box(x);
    splitmix64(id)
}

/// Command-line options, `--key value`.
struct Options(HashMap<String, String>);

impl Options {
    fn parse(args: &[String]) -> Result<Options, Error> {
        let mut map = HashMap::new();
        let mut it = args.iter();
        while let Some(key) = it.next() {
            let name = key
                .strip_prefix("--")
                .ok_or_else(|| format!("expected --option, got {key:?}"))?;
            let value = it.next().ok_or_else(|| format!("{key} needs a value"))?;
            map.insert(name.to_string(), value.clone());
        }
        Ok(Options(map))
    }

    fn string(&self, key: &str) -> Result<String, Error> {
        self.0
            .get(key)
            .cloned()
            .ok_or_else(|| format!("--{key} is required").into())
    }

    fn num<T: std::str::FromStr>(&self, key: &str, default: T) -> Result<T, Error> {
        match self.0.get(key) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{key}: bad value {v:?}").into()),
        }
    }
}

/// Jobs held by this process: counted from `call` until the job leaves the
/// pool.
#[derive(Default)]
struct Held {
    now: AtomicUsize,
    max: AtomicUsize,
}

/// One held job; dropped on the pool's worker thread when the CPU function
/// returns (it is part of the job's arguments), or with the job if it is
/// dropped unrun.
struct HeldGuard(Arc<Held>);

impl Held {
    fn enter(self: &Arc<Self>) -> HeldGuard {
        let now = self.now.fetch_add(1, Ordering::SeqCst) + 1;
        self.max.fetch_max(now, Ordering::SeqCst);
        HeldGuard(self.clone())
    }
}

impl Drop for HeldGuard {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

struct Keys {
    name: String,
    results: String,
    runs: String,
    runner: String,
    stats: String,
    inflight: String,
}

impl Keys {
    fn new(queue: &str, name: &str) -> Keys {
        Keys {
            name: name.to_string(),
            results: format!("{queue}:results"),
            runs: format!("{queue}:runs"),
            runner: format!("{queue}:runner"),
            stats: format!("{queue}:stats"),
            // apalis_redis' key for this worker's in-flight set.
            inflight: format!("{queue}:inflight:{name}"),
        }
    }
}

/// The handler: a [`CpuService`] for the CPU work, then the result written
/// to Redis (idempotently) before apalis acknowledges the job.
#[derive(Clone)]
struct Recording<S> {
    cpu: S,
    conn: ConnectionManager,
    keys: Arc<Keys>,
    held: Arc<Held>,
    max_inflight: Arc<AtomicUsize>,
}

impl<S> Service<Task<u64>> for Recording<S>
where
    S: Service<Task<(u64, HeldGuard)>, Response = u64, Error = TaskError>,
    S::Future: Send + 'static,
{
    type Response = u64;
    type Error = BoxDynError;
    type Future = Pin<Box<dyn Future<Output = Result<u64, BoxDynError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxDynError>> {
        self.cpu.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, task: Task<u64>) -> Self::Future {
        let id = task.args;
        let guard = self.held.enter();
        let job = self.cpu.call(task.map_args(|id| (id, guard)));
        let (mut conn, keys) = (self.conn.clone(), self.keys.clone());
        let (held, max_inflight) = (self.held.clone(), self.max_inflight.clone());
        Box::pin(async move {
            let inflight: usize = redis::cmd("SCARD")
                .arg(&keys.inflight)
                .query_async(&mut conn)
                .await?;
            max_inflight.fetch_max(inflight, Ordering::SeqCst);
            let value = job.await?;
            let name = &keys.name;
            redis::pipe()
                .atomic()
                .hset_nx(&keys.results, id, value.to_string())
                .hincr(&keys.runs, id, 1)
                .hset(&keys.runner, id, name)
                .hincr(&keys.stats, format!("{name}:executions"), 1)
                .hset(
                    &keys.stats,
                    format!("{name}:max_held"),
                    held.max.load(Ordering::SeqCst),
                )
                .hset(
                    &keys.stats,
                    format!("{name}:max_inflight"),
                    max_inflight.load(Ordering::SeqCst),
                )
                .exec_async(&mut conn)
                .await?;
            Ok(value)
        })
    }
}

async fn work(opts: &Options) -> Result<(), Error> {
    let url = opts.string("redis")?;
    let queue = opts.string("queue")?;
    let name = opts.string("name")?;
    let workers = opts.num("workers", 2)?;
    let queue_capacity = opts.num("queue-capacity", 2)?;
    let iters = opts.num("job-iters", DEFAULT_JOB_ITERS)?;
    let batch = opts.num("batch", 1)?;
    let heartbeat = Duration::from_millis(opts.num("heartbeat-ms", 1000)?);
    let missed = opts.num("missed-heartbeats", 3)?;
    let poll = Duration::from_millis(opts.num("poll-ms", 10)?);

    let pool = Pool::builder()
        .workers(workers)
        .queue_capacity(queue_capacity)
        .build()?;
    let conn = apalis_redis::connect(url.as_str()).await?;
    let config = redis_config(&queue)
        .batch_size(batch)
        .heartbeat_interval(heartbeat)
        .missed_heartbeats(missed);
    // Wakes an idle worker every `poll` to look for jobs (else it would look
    // again only at its next heartbeat).
    let backend = RedisStorage::<u64>::new(conn.clone())
        .with_config(config)
        .poll_with_interval(poll);
    let handler = Recording {
        cpu: CpuService::new(pool, move |(id, _held): (u64, HeldGuard)| {
            cpu_job(id, iters)
        }),
        conn,
        keys: Arc::new(Keys::new(&queue, &name)),
        held: Arc::default(),
        max_inflight: Arc::default(),
    };
    WorkerBuilder::new(name)
        .backend(backend)
        .build(handler)
        .run()
        .await?;
    Ok(())
}

/// Child processes, killed (SIGKILL) and reaped by PID when dropped.
#[derive(Default)]
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

async fn bench(opts: &Options) -> Result<(), Error> {
    let url = opts.string("redis")?;
    let jobs: u64 = opts.num("jobs", 4000)?;
    let rounds: usize = opts.num("rounds", 3)?;
    let processes: Vec<usize> = opts
        .0
        .get("processes")
        .map_or("1,2", String::as_str)
        .split(',')
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let iters = opts.num("job-iters", DEFAULT_JOB_ITERS)?;
    let passthrough: Vec<String> = ["workers", "queue-capacity", "job-iters", "batch"]
        .iter()
        .filter_map(|k| opts.0.get(*k).map(|v| [format!("--{k}"), v.clone()]))
        .flatten()
        .collect();

    // One job's CPU time on one thread, for the ideal figure.
    let start = Instant::now();
    for id in 0..100 {
        black_box(cpu_job(id, iters));
    }
    let per_job = start.elapsed() / 100;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "one job: {:.2} ms of CPU; {cores} cores: at most {:.0} jobs/s",
        per_job.as_secs_f64() * 1e3,
        cores as f64 / per_job.as_secs_f64()
    );

    let exe = std::env::current_exe()?;
    let client = redis::Client::open(url.as_str())?;
    let mut conn = client.get_connection_manager().await?;
    let run = std::process::id();
    let mut figures: HashMap<usize, Vec<f64>> = HashMap::new();
    for round in 0..rounds {
        for &p in &processes {
            let queue = format!("corepool-apalis-bench:{run}:{round}:{p}");
            let mut storage =
                RedisStorage::<u64>::new(conn.clone()).with_config(redis_config(&queue));
            storage.push_bulk((0..jobs).collect()).await?;
            let start = Instant::now();
            let mut children = Children::default();
            for i in 0..p {
                let child = Command::new(&exe)
                    .args(["work", "--redis", &url, "--queue", &queue])
                    .args(["--name", &format!("bench-{run}-{round}-{p}-{i}")])
                    .args(&passthrough)
                    .stdin(Stdio::null())
                    .spawn()?;
                children.0.push(child);
            }
            let deadline = start + Duration::from_secs(300);
            loop {
                let done: u64 = redis::cmd("HLEN")
                    .arg(format!("{queue}:results"))
                    .query_async(&mut conn)
                    .await?;
                if done >= jobs {
                    break;
                }
                if Instant::now() > deadline {
                    return Err(format!("{queue}: {done} of {jobs} results after 300 s").into());
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let seconds = start.elapsed().as_secs_f64();
            drop(children);
            let per_s = jobs as f64 / seconds;
            let stats: HashMap<String, u64> = redis::cmd("HGETALL")
                .arg(format!("{queue}:stats"))
                .query_async(&mut conn)
                .await?;
            let mut held: Vec<String> = stats
                .iter()
                .filter(|(k, _)| k.ends_with(":max_held") || k.ends_with(":max_inflight"))
                .map(|(k, v)| format!("{}={v}", k.rsplit(':').next().unwrap_or(k)))
                .collect();
            held.sort();
            println!(
                "round {round}: {p} process(es): {jobs} jobs in {seconds:.2} s = {per_s:.0} jobs/s \
                 (per process: {})",
                held.join(" ")
            );
            figures.entry(p).or_default().push(per_s);
        }
    }
    for p in processes {
        let mut f = figures.remove(&p).unwrap_or_default();
        f.sort_by(f64::total_cmp);
        if let Some(median) = f.get(f.len() / 2) {
            println!(
                "{p} process(es): median {median:.0} jobs/s over {} rounds",
                f.len()
            );
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("work") => match Options::parse(&args[1..]) {
            Ok(opts) => work(&opts).await,
            Err(e) => Err(e),
        },
        Some("bench") => match Options::parse(&args[1..]) {
            Ok(opts) => bench(&opts).await,
            Err(e) => Err(e),
        },
        _ => Err("usage: corepool-apalis-worker work|bench --redis URL [--option value]...".into()),
    };
    if let Err(e) = result {
        eprintln!("corepool-apalis-worker: {e}");
        std::process::exit(1);
    }
}
