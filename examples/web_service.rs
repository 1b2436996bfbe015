//! corepool in an axum service: CPU work offloaded through
//! [`corepool::PoolService`] under tower's `LoadShed` (a full pool answers
//! `503` at once) and `Timeout` (a request that takes too long cancels its
//! job), stopped when the client hangs up, counted at `/metrics`
//! (Prometheus/OpenMetrics text through `prometheus-client`, with the queue
//! wait and run time as real histograms), with `/health` and a graceful
//! shutdown.
//!
//! Run: `cargo run --release -p corepool-benches --example web_service [-- --port 3000]`
//! then `curl 'http://127.0.0.1:3000/work?rounds=2000000'` and
//! `curl http://127.0.0.1:3000/metrics`. `/work?lane=batch&rounds=...` runs
//! in a low-priority lane capped at one worker (batch work that must not
//! take the workers interactive requests need); `/metrics` has its own
//! series, `corepool_lane_*{lane="batch"}`.
//!
//! A connection that keeps being refused has its 503s held back longer and
//! longer (the first at once, the n-th in a row after 1 ms × 2^(n-2), at
//! most 1 s; a 200 resets it): a client that resends every 503 at once
//! then waits on its own connection instead of taking the CPU the work
//! needs (`--no-retry-penalty` turns it off; BENCHMARKS.md, "Goodput under
//! a retry flood"). `--close-on-503` answers 503s with `Connection: close`.
//!
//! `--mode spawn_blocking`, `--mode spawn_blocking_limited` (a `Semaphore`
//! with as many permits as corepool admits: 503 when none is free) and
//! `--mode inline` run the same work through tokio's `spawn_blocking` or on
//! the runtime's own threads, for the load benchmark (`web_load`).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{ConnectInfo, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use corepool::{Lane, Metrics, Pool, PoolService, Priority};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use tokio::sync::Semaphore;
use tower::load_shed::LoadShed;
use tower::load_shed::error::Overloaded;
use tower::timeout::Timeout;
use tower::timeout::error::Elapsed;
use tower::{ServiceBuilder, ServiceExt};

/// How `/work` runs its CPU work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// On corepool, through `PoolService` under `LoadShed` and `Timeout`:
    /// 503 when the pool's queue is full.
    Corepool,
    /// On tokio's blocking pool, everything queued.
    SpawnBlocking,
    /// On tokio's blocking pool behind a `Semaphore` with as many permits
    /// as corepool admits (workers + queue places): 503 when none is free.
    SpawnBlockingLimited,
    /// On the runtime's worker thread itself (what not to do).
    Inline,
}

/// How the service answers.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Where `/work` runs.
    pub mode: Mode,
    /// How long a `/work` request may take (queue wait included) before it
    /// is answered 503 and its job cancelled.
    pub timeout: Duration,
    /// Whether a 503 closes the connection (`Connection: close`), so that a
    /// client that resends at once has to reconnect first.
    pub close_on_503: bool,
    /// The most a 503 is held back on a connection that keeps being refused:
    /// the first refusal on a connection is answered at once, the n-th in a
    /// row after 1 ms × 2^(n-2), up to this; a 200 resets it. A client that
    /// resends every 503 at once (a retry flood) then waits on its own
    /// connection instead of taking the CPU the work needs. `None`: every
    /// 503 at once.
    pub retry_penalty: Option<Duration>,
    /// `SpawnBlockingLimited`'s permits: set it to what the pool admits
    /// (workers + queue capacity).
    pub permits: usize,
}

impl Options {
    /// `mode`, a 10 s timeout, keep-alive after a 503, a retry penalty of
    /// up to 1 s, the permits of a
    /// pool of `cpu_count()` workers with 8 queue places each.
    pub fn new(mode: Mode) -> Options {
        Options {
            mode,
            timeout: Duration::from_secs(10),
            close_on_503: false,
            retry_penalty: Some(Duration::from_secs(1)),
            permits: 9 * corepool::cpu_count(),
        }
    }
}

/// The CPU function behind `/work`.
type Digest = fn(u64) -> Option<u64>;

/// `/work`'s service: the pool's readiness, shed when not ready, timed out.
type WorkService = LoadShed<Timeout<PoolService<Digest>>>;

/// `/work`'s service for one request. (`PoolService` is `Send` but not
/// `Sync`, its pending `Reserve` being a boxed `Send` future, so it cannot
/// sit in axum's shared state to be cloned: made per request, one `Arc`.)
fn work_service(pool: &Pool, options: &Options) -> WorkService {
    ServiceBuilder::new()
        // A full pool: `Overloaded` at once (503) instead of waiting.
        .load_shed()
        // Too slow: the response future is dropped, which cancels the job.
        .timeout(options.timeout)
        .service(PoolService::new(pool.clone(), digest as Digest))
}

#[derive(Clone)]
struct App {
    pool: Pool,
    /// The lane of `/work?lane=batch`: low priority, at most one worker.
    batch: Pool,
    options: Options,
    /// `SpawnBlockingLimited`'s admission.
    permits: Arc<Semaphore>,
    registry: Arc<prometheus_client::registry::Registry>,
    /// Refusals in a row per connection (by peer address), for the retry
    /// penalty.
    strikes: Arc<Mutex<HashMap<SocketAddr, u32>>>,
}

/// `rounds=N` from the query string (about 1.4 ns of work a round here).
fn rounds(query: Option<&str>) -> u64 {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .find_map(|pair| pair.strip_prefix("rounds="))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000)
}

/// The CPU work: `rounds` of 64-bit mixing (a stand-in for hashing a
/// request body). It checks `corepool::is_cancelled()` between batches of
/// rounds and gives up when the client is gone.
pub fn digest(rounds: u64) -> Option<u64> {
    let mut h = 0x9E37_79B9_7F4A_7C15_u64;
    for batch in 0..rounds.div_ceil(4096) {
        if corepool::is_cancelled() {
            return None;
        }
        for i in 0..4096_u64.min(rounds - batch * 4096) {
            h = (h ^ (h >> 29) ^ i).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        }
    }
    Some(h)
}

/// The answer to a request that was not admitted (or took too long): a
/// 503, held back by the retry penalty if the connection keeps being
/// refused.
async fn unavailable(app: &App, peer: SocketAddr) -> Response {
    let options = &app.options;
    if let Some(max) = options.retry_penalty {
        let strikes = {
            let mut strikes = app.strikes.lock().unwrap_or_else(|e| e.into_inner());
            if strikes.len() >= 100_000 {
                // Closed connections leave their entry: forget them all now
                // and then.
                strikes.clear();
            }
            let n = strikes.entry(peer).or_insert(0);
            *n = n.saturating_add(1);
            *n
        };
        if strikes >= 2 {
            let penalty = Duration::from_millis(1 << (strikes - 2).min(20)).min(max);
            tokio::time::sleep(penalty).await;
        }
    }
    let mut response = StatusCode::SERVICE_UNAVAILABLE.into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    if options.close_on_503 {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn work(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    RawQuery(query): RawQuery,
) -> Response {
    let rounds = rounds(query.as_deref());
    let batch = query
        .as_deref()
        .is_some_and(|q| q.split('&').any(|pair| pair == "lane=batch"));
    let pool = if batch { &app.batch } else { &app.pool };
    let value = match app.options.mode {
        // `oneshot` waits for readiness (under `LoadShed`: at once, ready or
        // not) and calls. If the client hangs up, axum drops this future and
        // with it the job's result: queued work is skipped, running work
        // sees `is_cancelled()`. `Timeout` drops it the same way.
        Mode::Corepool => match work_service(pool, &app.options).oneshot(rounds).await {
            Ok(value) => value,
            // Not ready: the queue is full (or its wait above target).
            Err(e) if e.is::<Overloaded>() => return unavailable(&app, peer).await,
            // Too slow: the job was cancelled with its result.
            Err(e) if e.is::<Elapsed>() => return unavailable(&app, peer).await,
            // The pool is closing (shutdown).
            Err(e) if e.is::<corepool::TaskError>() => return unavailable(&app, peer).await,
            Err(_) => None,
        },
        Mode::SpawnBlocking => tokio::task::spawn_blocking(move || digest(rounds))
            .await
            .ok()
            .flatten(),
        Mode::SpawnBlockingLimited => {
            let Ok(permit) = app.permits.clone().try_acquire_owned() else {
                return unavailable(&app, peer).await;
            };
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                digest(rounds)
            })
            .await
            .ok()
            .flatten()
        }
        Mode::Inline => digest(rounds),
    };
    if app.options.retry_penalty.is_some() {
        app.strikes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&peer);
    }
    match value {
        Some(h) => format!("{h:016x}\n").into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn health() -> &'static str {
    "ok\n"
}

/// The upper bounds (seconds) of the Prometheus histograms' `le` buckets.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// A corepool `Histogram` as Prometheus buckets: per-bucket counts (the
/// encoder accumulates them), from the cumulative `count_at_most`, and the
/// `+Inf` bucket. A value counts in the first `le` bound at or above the
/// upper edge of its log-linear bucket (at most 12.5 % above the value), so
/// a value just under a bound may land in the next bucket, never below.
fn buckets(h: &corepool::Histogram) -> Vec<(f64, u64)> {
    let mut below = 0;
    let mut out: Vec<(f64, u64)> = BUCKETS
        .iter()
        .map(|&le| {
            let at_most = h.count_at_most(Duration::from_secs_f64(le));
            let n = at_most - below;
            below = at_most;
            (le, n)
        })
        .collect();
    out.push((f64::MAX, h.count() - below));
    out
}

/// A histogram for `encode_histogram`, from a snapshot.
struct ConstHistogram {
    histogram: corepool::Histogram,
    sum: Duration,
}

impl EncodeMetric for ConstHistogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), fmt::Error> {
        encoder.encode_histogram::<prometheus_client::encoding::NoLabelSet>(
            self.sum.as_secs_f64(),
            self.histogram.count(),
            &buckets(&self.histogram),
            None,
        )
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Histogram
    }
}

/// A pool's metrics, read at each scrape (a `prometheus-client`
/// collector): counters, gauges, and the queue-wait and run-time
/// histograms, as `corepool_*` for the whole pool and `corepool_lane_*`
/// with a `lane` label for each lane added.
#[derive(Debug)]
pub struct PoolCollector {
    pool: Pool,
    lanes: Vec<(String, Pool)>,
}

impl PoolCollector {
    /// A collector of `pool`'s metrics.
    pub fn new(pool: Pool) -> PoolCollector {
        PoolCollector {
            pool,
            lanes: Vec::new(),
        }
    }

    /// Also a lane's own metrics (`view` from `Pool::lane`), labelled
    /// `lane="name"`.
    pub fn with_lane(mut self, name: impl Into<String>, view: Pool) -> PoolCollector {
        self.lanes.push((name.into(), view));
        self
    }
}

/// One series: a lane's name (`None`: the whole pool) and its snapshot.
type Series<'a> = (Option<&'a str>, Metrics);

/// Encodes one metric family: the whole pool's series unlabelled, or each
/// lane's with its label.
fn encode_family<M: EncodeMetric>(
    mut family: MetricEncoder<'_>,
    series: &[Series<'_>],
    metric: impl Fn(&Metrics) -> M,
) -> Result<(), fmt::Error> {
    for (lane, m) in series {
        match lane {
            Some(lane) => metric(m).encode(family.encode_family(&[("lane", *lane)])?)?,
            // The whole pool: one series, no label.
            None => return metric(m).encode(family),
        }
    }
    Ok(())
}

/// Every family of `series`, named `corepool_{prefix}{name}`.
fn encode_series(
    encoder: &mut DescriptorEncoder<'_>,
    prefix: &str,
    series: &[Series<'_>],
) -> Result<(), fmt::Error> {
    type Get<T> = fn(&Metrics) -> T;
    let gauges: [(&str, &str, Get<usize>); 3] = [
        ("workers", "Worker threads.", |m| m.workers),
        ("busy_workers", "Workers running a job.", |m| m.busy_workers),
        ("queued_jobs", "Jobs waiting for a worker.", |m| m.queued),
    ];
    for (name, help, get) in gauges {
        let name = format!("{prefix}{name}");
        let family = encoder.encode_descriptor(&name, help, None, MetricType::Gauge)?;
        encode_family(family, series, |m| ConstGauge::new(get(m) as i64))?;
    }
    // Counter names get `_total` from the encoder.
    let counters: [(&str, &str, Get<u64>); 5] = [
        ("jobs_submitted", "Jobs accepted.", |m| m.submitted),
        (
            "jobs_rejected",
            "Jobs refused (queue full or closed).",
            |m| m.rejected,
        ),
        ("jobs_completed", "Jobs that ran to a value.", |m| {
            m.completed
        }),
        ("jobs_failed", "Jobs that panicked or returned Err.", |m| {
            m.failed
        }),
        ("jobs_cancelled", "Jobs cancelled or stopped early.", |m| {
            m.cancelled
        }),
    ];
    for (name, help, get) in counters {
        let name = format!("{prefix}{name}");
        let family = encoder.encode_descriptor(&name, help, None, MetricType::Counter)?;
        encode_family(family, series, |m| ConstCounter::new(get(m)))?;
    }
    // A distribution and the sum of its values.
    type Timed = (corepool::Histogram, Duration);
    let histograms: [(&str, &str, Get<Timed>); 2] = [
        (
            "queue_wait_seconds",
            "Time jobs waited in the queue before they started.",
            |m| (m.queue_wait_histogram.clone(), m.queue_wait),
        ),
        ("run_seconds", "Time jobs ran.", |m| {
            (m.run_time_histogram.clone(), m.run_time)
        }),
    ];
    for (name, help, get) in histograms {
        let name = format!("{prefix}{name}");
        let family = encoder.encode_descriptor(&name, help, None, MetricType::Histogram)?;
        encode_family(family, series, |m| {
            let (histogram, sum) = get(m);
            ConstHistogram { histogram, sum }
        })?;
    }
    Ok(())
}

impl Collector for PoolCollector {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        encode_series(&mut encoder, "", &[(None, self.pool.metrics())])?;
        if !self.lanes.is_empty() {
            let lanes: Vec<Series<'_>> = self
                .lanes
                .iter()
                .map(|(name, view)| (Some(name.as_str()), view.metrics()))
                .collect();
            encode_series(&mut encoder, "lane_", &lanes)?;
        }
        Ok(())
    }
}

/// The OpenMetrics content type (which Prometheus scrapes).
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

async fn metrics(State(app): State<App>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &app.registry) {
        Ok(()) => ([(header::CONTENT_TYPE, OPENMETRICS)], text).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The service's routes.
pub fn app(pool: Pool, options: Options) -> Router {
    // Batch requests queue behind the others and never take more than one
    // worker, so that interactive ones always find one free.
    let batch = pool
        .lane(Lane::new("batch").priority(Priority::Low).max_workers(1))
        .expect("a cap of 1 is valid");
    let mut registry = prometheus_client::registry::Registry::with_prefix("corepool");
    registry.register_collector(Box::new(
        PoolCollector::new(pool.clone()).with_lane("batch", batch.clone()),
    ));
    let permits = Arc::new(Semaphore::new(options.permits));
    Router::new()
        .route("/work", get(work))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(App {
            pool,
            batch,
            options,
            permits,
            registry: Arc::new(registry),
            strikes: Arc::default(),
        })
}

/// Serves `app` on `listener` until `shutdown` resolves; then stops taking
/// connections, lets the requests in flight finish, and closes and drains
/// the pool.
pub async fn serve(
    listener: tokio::net::TcpListener,
    pool: Pool,
    mode: Mode,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, pool, Options::new(mode), shutdown).await
}

/// [`serve`] with all the options.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    pool: Pool,
    options: Options,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = app(pool.clone(), options).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await?;
    pool.close();
    pool.join_async().await.map_err(std::io::Error::other)
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("pool", &self.pool)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

#[allow(dead_code)] // also compiled into the tests and the load benchmark
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .map(|i| args[i + 1].clone())
    };
    let port: u16 = arg("--port").map_or(Ok(3000), |p| p.parse())?;
    let mode = match arg("--mode").as_deref() {
        None | Some("corepool") => Mode::Corepool,
        Some("spawn_blocking") => Mode::SpawnBlocking,
        Some("spawn_blocking_limited") => Mode::SpawnBlockingLimited,
        Some("inline") => Mode::Inline,
        Some(other) => return Err(format!("unknown mode {other}").into()),
    };
    let mut options = Options::new(mode);
    options.close_on_503 = args.iter().any(|a| a == "--close-on-503");
    if args.iter().any(|a| a == "--no-retry-penalty") {
        options.retry_penalty = None;
    }
    let workers = corepool::cpu_count();
    // A queue of 8 jobs per worker: beyond that, a request would wait longer
    // than 8 jobs' time, and is better answered 503 at once.
    let pool = Pool::builder()
        .workers(workers)
        .queue_capacity(8 * workers)
        .build()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // The same number of threads for the blocking modes as corepool has.
        .max_blocking_threads(workers)
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on http://{} ({mode:?})", listener.local_addr()?);
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve_with(listener, pool, options, ctrl_c).await
    })?;
    Ok(())
}
