//! Load benchmark of the example web service (`examples/web_service.rs`):
//! the same service with its CPU work on corepool, on tokio's
//! `spawn_blocking`, and inline on the runtime, each saturated by the same
//! closed-loop load over loopback while a probe times `/health`.
//!
//! Run: `cargo run --release -p corepool-benches --example web_load [-- --secs 5 --conns 32 --rounds 3000000]`
//!
//! Everything (server runtime, pool, load generator) shares this machine's
//! cores, equally for the three modes: read the ratios.

#[path = "http_client.rs"]
#[allow(dead_code)] // `send` is for the tests
mod http;
#[path = "../examples/web_service.rs"]
#[allow(dead_code)]
mod web_service;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use corepool::Pool;
use http::Conn;
use web_service::Mode;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Run {
    ok: usize,
    shed: usize,
    work: Vec<Duration>,
    health: Vec<Duration>,
    secs: f64,
}

fn run(mode: Mode, secs: u64, conns: usize, rounds: u64) -> Run {
    let workers = corepool::cpu_count();
    let pool = Pool::builder()
        .workers(workers)
        .queue_capacity(8 * workers)
        .build()
        .unwrap();
    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = server_rt.spawn(web_service::serve(listener, pool, mode, async move {
        let _ = stopped.await;
    }));
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let result = client_rt.block_on(async move {
        let done = Arc::new(AtomicBool::new(false));
        let path = format!("/work?rounds={rounds}");
        let loaders: Vec<_> = (0..conns)
            .map(|_| {
                let (done, path) = (done.clone(), path.clone());
                tokio::spawn(async move {
                    let mut conn = Conn::connect(addr).await.unwrap();
                    let (mut ok, mut shed, mut times) = (0, 0, Vec::new());
                    while !done.load(Ordering::Relaxed) {
                        let t = Instant::now();
                        match conn.get(&path).await {
                            Ok((200, _)) => {
                                ok += 1;
                                times.push(t.elapsed());
                            }
                            Ok((503, _)) => {
                                shed += 1;
                                // A shed client backs off a little, as clients do.
                                tokio::time::sleep(Duration::from_millis(1)).await;
                            }
                            _ => break,
                        }
                    }
                    (ok, shed, times)
                })
            })
            .collect();
        let probe = {
            let done = done.clone();
            tokio::spawn(async move {
                let mut conn = Conn::connect(addr).await.unwrap();
                let mut times = Vec::new();
                while !done.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    if conn.get("/health").await.is_err() {
                        break;
                    }
                    times.push(t.elapsed());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                times
            })
        };
        let started = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        done.store(true, Ordering::Relaxed);
        let mut run = Run {
            ok: 0,
            shed: 0,
            work: Vec::new(),
            health: probe.await.unwrap(),
            secs: 0.0,
        };
        for l in loaders {
            let (ok, shed, times) = l.await.unwrap();
            run.ok += ok;
            run.shed += shed;
            run.work.extend(times);
        }
        run.secs = started.elapsed().as_secs_f64();
        run
    });
    let _ = stop.send(());
    let _ = server_rt.block_on(server);
    result
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str, default: u64| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (secs, conns, rounds) = (
        arg("--secs", 5),
        arg("--conns", 32) as usize,
        arg("--rounds", 3_000_000),
    );
    let t = Instant::now();
    std::hint::black_box(web_service::digest(rounds));
    println!(
        "{conns} connections for {secs} s, work of {rounds} rounds (~{:.1} ms here), /health probed every 10 ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    println!("| mode | work req/s | work p50 | work p99 | 503s | /health p50 | /health p99 |");
    println!("|---|---|---|---|---|---|---|");
    for (name, mode) in [
        ("corepool (offer, 503 when full)", Mode::Corepool),
        ("spawn_blocking", Mode::SpawnBlocking),
        ("inline on the runtime", Mode::Inline),
    ] {
        let mut r = run(mode, secs, conns, rounds);
        r.work.sort();
        r.health.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1e3;
        println!(
            "| {name} | {:.0} | {:.1} ms | {:.1} ms | {} | {:.2} ms | {:.2} ms |",
            r.ok as f64 / r.secs,
            ms(percentile(&r.work, 0.5)),
            ms(percentile(&r.work, 0.99)),
            r.shed,
            ms(percentile(&r.health, 0.5)),
            ms(percentile(&r.health, 0.99)),
        );
    }
}
