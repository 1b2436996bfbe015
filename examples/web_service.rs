//! corepool in an axum service: CPU work offloaded with `.await`, shed with
//! `503` when the queue is full, stopped when the client hangs up, counted
//! at `/metrics` (Prometheus text), with `/health` and a graceful shutdown.
//!
//! Run: `cargo run --release -p corepool-benches --example web_service [-- --port 3000]`
//! then `curl 'http://127.0.0.1:3000/work?rounds=2000000'`.
//!
//! `--mode spawn_blocking` and `--mode inline` run the same work through
//! tokio's `spawn_blocking` or on the runtime's own threads, for the load
//! benchmark (`web_load`).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use corepool::{Pool, SubmitError};

/// How `/work` runs its CPU work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// On corepool: `offer` (503 when full), then `.await`.
    Corepool,
    /// On tokio's blocking pool.
    SpawnBlocking,
    /// On the runtime's worker thread itself (what not to do).
    Inline,
}

#[derive(Clone)]
struct App {
    pool: Pool,
    mode: Mode,
}

/// `rounds=N` from the query string (about 1 ns of work a round).
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

async fn work(State(app): State<App>, RawQuery(query): RawQuery) -> Response {
    let rounds = rounds(query.as_deref());
    let value = match app.mode {
        Mode::Corepool => match app.pool.offer(move || digest(rounds)) {
            // Shed before any work starts: the queue is at its bound.
            Err(SubmitError::Full(_)) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
            Err(SubmitError::Closed(_)) => return StatusCode::SERVICE_UNAVAILABLE.into_response(),
            // If the client hangs up, axum drops this future and with it the
            // result: queued work is skipped, running work sees
            // `is_cancelled()`.
            Ok(result) => result.await.ok().flatten(),
        },
        Mode::SpawnBlocking => tokio::task::spawn_blocking(move || digest(rounds))
            .await
            .ok()
            .flatten(),
        Mode::Inline => digest(rounds),
    };
    match value {
        Some(h) => format!("{h:016x}\n").into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn health() -> &'static str {
    "ok\n"
}

/// The pool's counters in Prometheus' text format.
pub fn prometheus(pool: &Pool) -> String {
    let m = pool.metrics();
    let gauges = [
        ("workers", "Worker threads.", m.workers as f64),
        (
            "busy_workers",
            "Workers running a job.",
            m.busy_workers as f64,
        ),
        ("queued_jobs", "Jobs waiting for a worker.", m.queued as f64),
    ];
    let counters = [
        ("jobs_submitted_total", "Jobs accepted.", m.submitted as f64),
        (
            "jobs_rejected_total",
            "Jobs refused (queue full or closed).",
            m.rejected as f64,
        ),
        (
            "jobs_completed_total",
            "Jobs that ran to a value.",
            m.completed as f64,
        ),
        (
            "jobs_failed_total",
            "Jobs that panicked or returned Err.",
            m.failed as f64,
        ),
        (
            "jobs_cancelled_total",
            "Jobs cancelled or stopped early.",
            m.cancelled as f64,
        ),
        (
            "queue_wait_seconds_total",
            "Time jobs waited in the queue.",
            m.queue_wait.as_secs_f64(),
        ),
        (
            "run_seconds_total",
            "Time jobs ran.",
            m.run_time.as_secs_f64(),
        ),
    ];
    let typed = gauges
        .iter()
        .map(|g| ("gauge", g))
        .chain(counters.iter().map(|c| ("counter", c)));
    let mut out = String::new();
    for (kind, (name, help, value)) in typed {
        out.push_str(&format!(
            "# HELP corepool_{name} {help}\n# TYPE corepool_{name} {kind}\ncorepool_{name} {value}\n"
        ));
    }
    out
}

async fn metrics(State(app): State<App>) -> String {
    prometheus(&app.pool)
}

/// The service's routes.
pub fn app(pool: Pool, mode: Mode) -> Router {
    Router::new()
        .route("/work", get(work))
        .route("/health", get(health))
        .route("/metrics", get(metrics))
        .with_state(App { pool, mode })
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
    axum::serve(listener, app(pool.clone(), mode))
        .with_graceful_shutdown(shutdown)
        .await?;
    pool.close();
    pool.join_async().await.map_err(std::io::Error::other)
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
        Some("inline") => Mode::Inline,
        Some(other) => return Err(format!("unknown mode {other}").into()),
    };
    let workers = corepool::cpu_count();
    // A queue of 8 jobs per worker: beyond that, a request would wait longer
    // than 8 jobs' time, and is better answered 503 at once.
    let pool = Pool::builder()
        .workers(workers)
        .queue_capacity(8 * workers)
        .build()?;
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
        println!("listening on http://{} ({mode:?})", listener.local_addr()?);
        let ctrl_c = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        serve(listener, pool, mode, ctrl_c).await
    })?;
    Ok(())
}
