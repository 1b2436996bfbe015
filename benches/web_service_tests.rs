//! The axum example service (`examples/web_service.rs`) under real HTTP on
//! loopback: a client that hangs up stops its running job and its queued
//! jobs never run; a flood beyond capacity gets 503s while the queue stays
//! at its bound and memory stays flat; `/metrics` counts what was sent.

#[path = "http_client.rs"]
#[allow(dead_code)] // `closing` is for the load benchmark
mod http;
#[path = "../examples/web_service.rs"]
#[allow(dead_code)]
mod web_service;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use corepool::Pool;
use http::Conn;
use web_service::Mode;

const LIMIT: Duration = Duration::from_secs(20);

/// Runs `test` against a served pool on a fresh runtime, under a time limit.
fn with_server<F, Fut>(pool: Pool, test: F)
where
    F: FnOnce(SocketAddr, Pool) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(web_service::serve(
            listener,
            pool.clone(),
            Mode::Corepool,
            async move {
                let _ = stopped.await;
            },
        ));
        tokio::time::timeout(LIMIT, test(addr, pool))
            .await
            .expect("the test hung");
        let _ = stop.send(());
        tokio::time::timeout(LIMIT, server)
            .await
            .expect("graceful shutdown hung")
            .unwrap()
            .unwrap();
    });
}

/// Waits (bounded) until `done` holds.
async fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + LIMIT;
    while !done() {
        assert!(Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Effectively endless work: it only ends by cancellation.
const FOREVER: &str = "/work?rounds=100000000000000";

#[test]
fn a_client_that_hangs_up_stops_its_job_and_its_queued_jobs_never_run() {
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(4)
        .build()
        .unwrap();
    with_server(pool, |addr, pool| async move {
        let mut running = Conn::connect(addr).await.unwrap();
        running.send(FOREVER).await.unwrap();
        eventually("the first job runs", || pool.metrics().busy_workers == 1).await;
        let mut queued = Vec::new();
        for _ in 0..2 {
            let mut c = Conn::connect(addr).await.unwrap();
            c.send(FOREVER).await.unwrap();
            queued.push(c);
        }
        eventually("two jobs wait", || pool.metrics().queued == 2).await;
        // Every client hangs up.
        drop(running);
        drop(queued);
        eventually("all three are cancelled", || pool.metrics().cancelled == 3).await;
        let m = pool.metrics();
        assert_eq!((m.completed, m.busy_workers, m.queued), (0, 0, 0), "{m:?}");
        // The pool serves the next request as usual.
        let mut c = Conn::connect(addr).await.unwrap();
        assert_eq!(c.get("/work?rounds=1000").await.unwrap().0, 200);
    });
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_flood_beyond_capacity_gets_503s_at_the_bound_with_flat_memory() {
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(2)
        .build()
        .unwrap();
    with_server(pool, |addr, pool| async move {
        // Hold the only worker.
        let mut holder = Conn::connect(addr).await.unwrap();
        holder.send(FOREVER).await.unwrap();
        eventually("the worker is busy", || pool.metrics().busy_workers == 1).await;
        let flood = |n: usize| {
            let pool = pool.clone();
            async move {
                let tasks: Vec<_> = (0..n)
                    .map(|_| {
                        tokio::spawn(async move {
                            let mut c = Conn::connect(addr).await.unwrap();
                            // Small work: it finishes once the holder lets go,
                            // or is refused at once.
                            tokio::time::timeout(
                                Duration::from_millis(300),
                                c.get("/work?rounds=1000"),
                            )
                            .await
                            .map(|r| r.unwrap().0)
                        })
                    })
                    .collect();
                let mut shed = 0;
                for t in tasks {
                    if let Ok(503) = t.await.unwrap() {
                        shed += 1;
                    }
                    assert!(pool.metrics().queued <= 2, "the queue stays at its bound");
                }
                shed
            }
        };
        let shed = flood(50).await;
        assert!(shed >= 48, "{shed} of 50 shed with 2 places in the queue");
        let before = rss_kib();
        for _ in 0..10 {
            flood(50).await;
        }
        let grown = rss_kib().saturating_sub(before);
        assert!(
            grown < 32 * 1024,
            "memory grew by {grown} KiB over 500 more requests"
        );
        drop(holder);
        eventually("the holder stopped", || pool.metrics().busy_workers == 0).await;
    });
}

#[test]
fn metrics_count_what_was_sent() {
    let pool = Pool::builder()
        .workers(2)
        .queue_capacity(16)
        .build()
        .unwrap();
    with_server(pool, |addr, _pool| async move {
        let mut c = Conn::connect(addr).await.unwrap();
        for _ in 0..10 {
            let (status, body) = c.get("/work?rounds=10000").await.unwrap();
            assert_eq!(status, 200);
            assert_eq!(body.trim().len(), 16, "a digest: {body:?}");
        }
        assert_eq!(c.get("/health").await.unwrap(), (200, "ok\n".to_owned()));
        let (status, text) = c.get("/metrics").await.unwrap();
        assert_eq!(status, 200);
        let value = |name: &str| -> f64 {
            text.lines()
                .find_map(|l| l.strip_prefix(&format!("corepool_{name} ")))
                .unwrap_or_else(|| panic!("no {name} in {text}"))
                .parse()
                .unwrap()
        };
        assert_eq!(value("jobs_submitted_total"), 10.0);
        assert_eq!(value("jobs_completed_total"), 10.0);
        assert_eq!(value("jobs_rejected_total"), 0.0);
        assert_eq!(value("workers"), 2.0);
        assert!(value("run_seconds_sum") > 0.0);
    });
}

/// A sample: metric name, labels, value.
type Sample<'a> = (&'a str, Vec<(&'a str, &'a str)>, f64);

/// One sample line of the Prometheus/OpenMetrics text format:
/// `name{label="value",...} number`; `None` if the line is not one.
fn sample(line: &str) -> Option<Sample<'_>> {
    let (series, value) = line.rsplit_once(' ')?;
    let value: f64 = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().ok()?,
    };
    let (name, labels) = match series.split_once('{') {
        Some((name, rest)) => {
            let inner = rest.strip_suffix('}')?;
            let labels = inner
                .split(',')
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let (k, v) = l.split_once('=')?;
                    Some((k, v.strip_prefix('"')?.strip_suffix('"')?))
                })
                .collect::<Option<Vec<_>>>()?;
            (name, labels)
        }
        None => (series, Vec::new()),
    };
    let valid = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    (!name.is_empty() && name.chars().all(valid) && !name.starts_with(|c: char| c.is_ascii_digit()))
        .then_some((name, labels, value))
}

#[test]
fn metrics_parse_as_prometheus_text_with_histograms() {
    let pool = Pool::builder()
        .workers(2)
        .queue_capacity(16)
        .build()
        .unwrap();
    with_server(pool, |addr, _pool| async move {
        let mut c = Conn::connect(addr).await.unwrap();
        for _ in 0..5 {
            assert_eq!(c.get("/work?rounds=10000").await.unwrap().0, 200);
        }
        // One in the batch lane.
        assert_eq!(c.get("/work?lane=batch&rounds=10000").await.unwrap().0, 200);
        let (status, text) = c.get("/metrics").await.unwrap();
        assert_eq!(status, 200);
        assert_eq!(text.lines().last(), Some("# EOF"), "{text}");
        let mut samples = Vec::new();
        let mut types = Vec::new();
        for line in text.lines() {
            if let Some(comment) = line.strip_prefix("# ") {
                let mut words = comment.split(' ');
                match words.next() {
                    Some("TYPE") => types.push((
                        words.next().unwrap().to_owned(),
                        words.next().unwrap().to_owned(),
                    )),
                    Some("HELP" | "UNIT" | "EOF") => {}
                    other => panic!("unknown comment {other:?} in {line:?}"),
                }
            } else {
                samples.push(sample(line).unwrap_or_else(|| panic!("not a sample: {line:?}")));
            }
        }
        for name in ["corepool_queue_wait_seconds", "corepool_run_seconds"] {
            assert!(
                types.contains(&(name.to_owned(), "histogram".to_owned())),
                "{name} is a histogram: {text}"
            );
            let buckets: Vec<(f64, f64)> = samples
                .iter()
                .filter(|(n, _, _)| *n == format!("{name}_bucket"))
                .map(|(_, labels, v)| {
                    let le = labels
                        .iter()
                        .find(|(k, _)| *k == "le")
                        .expect("an le label")
                        .1;
                    let le = if le == "+Inf" {
                        f64::INFINITY
                    } else {
                        le.parse().unwrap()
                    };
                    (le, *v)
                })
                .collect();
            assert_eq!(buckets.len(), web_service::BUCKETS.len() + 1, "{text}");
            // Cumulative: bounds and counts never decrease; +Inf holds all.
            assert!(
                buckets
                    .windows(2)
                    .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
                "{buckets:?}"
            );
            let count = samples
                .iter()
                .find(|(n, _, _)| *n == format!("{name}_count"))
                .expect("a _count")
                .2;
            assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, count));
            assert_eq!(count, 6.0, "six jobs started and ran");
            assert!(samples.iter().any(|(n, _, _)| *n == format!("{name}_sum")));
        }
        let counter = |name: &str| {
            samples
                .iter()
                .find(|(n, _, _)| *n == name)
                .unwrap_or_else(|| panic!("no {name}"))
                .2
        };
        // The pool counts every job; the lane its own.
        assert_eq!(counter("corepool_jobs_completed_total"), 6.0);
        let lane = |name: &str| {
            samples
                .iter()
                .find(|(n, labels, _)| *n == name && labels.contains(&("lane", "batch")))
                .unwrap_or_else(|| panic!("no {name}{{lane=\"batch\"}} in {text}"))
                .2
        };
        assert_eq!(lane("corepool_lane_jobs_completed_total"), 1.0);
        assert_eq!(lane("corepool_lane_run_seconds_count"), 1.0);
        assert_eq!(lane("corepool_lane_queued_jobs"), 0.0);
        assert!(
            samples.iter().any(
                |(n, labels, v)| *n == "corepool_lane_queue_wait_seconds_bucket"
                    && labels.contains(&("lane", "batch"))
                    && labels.contains(&("le", "+Inf"))
                    && *v == 1.0
            ),
            "{text}"
        );
        assert_eq!(counter("corepool_workers"), 2.0);
        assert_eq!(counter("corepool_queued_jobs"), 0.0);
        // A worker may still be leaving its last job: present, at most 2.
        assert!(counter("corepool_busy_workers") <= 2.0);
    });
}

#[test]
fn a_connection_refused_again_and_again_is_still_answered_and_served_once_there_is_room() {
    let pool = Pool::builder()
        .workers(1)
        .queue_capacity(1)
        .build()
        .unwrap();
    with_server(pool, |addr, pool| async move {
        // The worker and the one queue place are taken.
        let mut running = Conn::connect(addr).await.unwrap();
        running.send(FOREVER).await.unwrap();
        eventually("the worker is busy", || pool.metrics().busy_workers == 1).await;
        let mut queued = Conn::connect(addr).await.unwrap();
        queued.send(FOREVER).await.unwrap();
        eventually("one job waits", || pool.metrics().queued == 1).await;
        // Refusal after refusal on one keep-alive connection: each is
        // answered (later and later, under the retry penalty), none hangs.
        let mut client = Conn::connect(addr).await.unwrap();
        for _ in 0..8 {
            assert_eq!(client.get("/work?rounds=1000").await.unwrap().0, 503);
        }
        // Room again: the same connection is served.
        drop(running);
        drop(queued);
        eventually("the pool is idle", || {
            let m = pool.metrics();
            m.busy_workers == 0 && m.queued == 0
        })
        .await;
        assert_eq!(client.get("/work?rounds=1000").await.unwrap().0, 200);
        assert_eq!(client.get("/work?rounds=1000").await.unwrap().0, 200);
    });
}
