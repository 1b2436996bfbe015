//! Load benchmark of the example web service (`examples/web_service.rs`):
//! the same service with its CPU work on corepool, on tokio's
//! `spawn_blocking`, and inline on the runtime, each saturated by the same
//! closed-loop load over loopback while a probe times `/health`.
//!
//! Run: `cargo run --release -p corepool-benches --example web_load [-- --secs 5 --conns 32 --rounds 3000000]`
//!
//! `--goodput` runs the retry-flood scenario instead: 16, then 128, then
//! 1000 connections that resend every 503 at once (no back-off), against
//! corepool (`PoolService` under `LoadShed`) and `spawn_blocking` behind a
//! `Semaphore` of the same admission (workers + queue places, with
//! `max_blocking_threads` = workers), interleaved, and reports the
//! requests completed (200) per second:
//! `cargo run --release -p corepool-benches --example web_load -- --goodput [--secs 5 --rounds 13000000 --repeat 1 --penalty on|off --close-on-503]`
//! (`--penalty`: the example's per-connection retry penalty on 503s; both
//! by default)
//!
//! Everything (server runtime, pool, load generator) shares this machine's
//! cores, equally for the modes: read the ratios.

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
use web_service::{Mode, Options};

/// CPU time this process (server, pool and load generator) has used, in
/// seconds, from `/proc/self/stat` (utime + stime, at 100 ticks a second);
/// 0 where there is no procfs.
fn process_cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the line, 12 and 13 here.
    (ticks(11) + ticks(12)) / 100.0
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

struct Run {
    ok: usize,
    shed: usize,
    /// Connections made again after the server closed one (`Connection:
    /// close` on a 503), and connects that failed.
    reconnects: usize,
    work: Vec<Duration>,
    health: Vec<Duration>,
    secs: f64,
    /// CPU seconds the whole process used during the run.
    cpu: f64,
}

/// How a load run is set up.
#[derive(Clone, Copy)]
struct Load {
    options: Options,
    secs: u64,
    conns: usize,
    rounds: u64,
    /// How long a client waits after a 503 before it sends again (`None`:
    /// it resends at once, a retry flood).
    backoff: Option<Duration>,
    /// The server runtime's `max_blocking_threads` (`None`: tokio's 512).
    blocking_threads: Option<usize>,
}

fn run(load: Load) -> Run {
    let Load {
        options,
        secs,
        conns,
        rounds,
        backoff,
        blocking_threads,
    } = load;
    let workers = corepool::cpu_count();
    let pool = Pool::builder()
        .workers(workers)
        .queue_capacity(8 * workers)
        .build()
        .unwrap();
    let mut server_rt = tokio::runtime::Builder::new_multi_thread();
    server_rt
        .worker_threads(workers)
        .thread_name("server")
        .enable_all();
    if let Some(threads) = blocking_threads {
        server_rt.max_blocking_threads(threads);
    }
    let server_rt = server_rt.build().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let listener = server_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let server = server_rt.spawn(web_service::serve_with(
        listener,
        pool,
        options,
        async move {
            let _ = stopped.await;
        },
    ));
    let client_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("load-client")
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
                    let (mut ok, mut shed, mut reconnects, mut times) = (0, 0, 0, Vec::new());
                    while !done.load(Ordering::Relaxed) {
                        if conn.closing() {
                            // The server closed it: connect again, at once.
                            reconnects += 1;
                            match Conn::connect(addr).await {
                                Ok(c) => conn = c,
                                Err(_) => {
                                    tokio::task::yield_now().await;
                                    continue;
                                }
                            }
                        }
                        let t = Instant::now();
                        match conn.get(&path).await {
                            Ok((200, _)) => {
                                ok += 1;
                                times.push(t.elapsed());
                            }
                            Ok((503, _)) => {
                                shed += 1;
                                if let Some(backoff) = backoff {
                                    tokio::time::sleep(backoff).await;
                                }
                            }
                            _ => break,
                        }
                    }
                    (ok, shed, reconnects, times)
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
        let cpu_before = process_cpu_secs();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        done.store(true, Ordering::Relaxed);
        let mut run = Run {
            ok: 0,
            shed: 0,
            reconnects: 0,
            work: Vec::new(),
            health: probe.await.unwrap(),
            secs: 0.0,
            cpu: 0.0,
        };
        for l in loaders {
            let (ok, shed, reconnects, times) = l.await.unwrap();
            run.ok += ok;
            run.shed += shed;
            run.reconnects += reconnects;
            run.work.extend(times);
        }
        run.secs = started.elapsed().as_secs_f64();
        run.cpu = process_cpu_secs() - cpu_before;
        run
    });
    let _ = stop.send(());
    let _ = server_rt.block_on(server);
    result
}

/// The retry-flood scenario: completed requests per second at 16, 128 and
/// 1000 connections that resend every 503 at once, corepool against
/// `spawn_blocking` + `Semaphore`, interleaved.
fn goodput(
    secs: u64,
    rounds: u64,
    close_on_503: bool,
    repeat: usize,
    penalties: &[bool],
    conns_list: &[usize],
) {
    let workers = corepool::cpu_count();
    println!(
        "| connections | 503s | mode | round | completed req/s | 503/s | reconnects/s | p50 | p99 | CPU the process got | completed per CPU-second |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|");
    // Rounds outermost, each in the opposite order of the one before: the
    // machine's other load drifts, so no configuration always runs first.
    for round in 1..=repeat {
        let mut plan: Vec<(usize, bool)> = conns_list
            .iter()
            .flat_map(|&c| penalties.iter().map(move |&p| (c, p)))
            .collect();
        if round % 2 == 0 {
            plan.reverse();
        }
        for (conns, penalty) in plan {
            let mut modes = [
                ("corepool (`PoolService` + `LoadShed`)", Mode::Corepool),
                ("`spawn_blocking` + `Semaphore`", Mode::SpawnBlockingLimited),
            ];
            if round % 2 == 0 {
                modes.reverse();
            }
            for (name, mode) in modes {
                let mut options = Options::new(mode);
                options.close_on_503 = close_on_503;
                options.permits = 9 * workers;
                if !penalty {
                    options.retry_penalty = None;
                }
                let mut r = run(Load {
                    options,
                    secs,
                    conns,
                    rounds,
                    backoff: None,
                    blocking_threads: Some(workers),
                });
                r.work.sort();
                let ms = |d: Duration| d.as_secs_f64() * 1e3;
                let policy = if penalty { "retry penalty" } else { "at once" };
                println!(
                    "| {conns} | {policy} | {name} | {round} | {:.1} | {:.0} | {:.0} | {:.0} ms | {:.0} ms | {:.2} cores | {:.1} |",
                    r.ok as f64 / r.secs,
                    r.shed as f64 / r.secs,
                    r.reconnects as f64 / r.secs,
                    ms(percentile(&r.work, 0.5)),
                    ms(percentile(&r.work, 0.99)),
                    r.cpu / r.secs,
                    r.ok as f64 / r.cpu.max(0.01),
                );
            }
        }
    }
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
    if args.iter().any(|a| a == "--goodput") {
        let close = args.iter().any(|a| a == "--close-on-503");
        println!(
            "retry flood: {secs} s each, work of {rounds} rounds (~{:.1} ms here), 503s resent at once, Connection: close on 503: {close}",
            t.elapsed().as_secs_f64() * 1e3
        );
        let penalties: &[bool] = match args.iter().position(|a| a == "--penalty") {
            Some(i) if args.get(i + 1).map(String::as_str) == Some("on") => &[true],
            Some(i) if args.get(i + 1).map(String::as_str) == Some("off") => &[false],
            _ => &[false, true],
        };
        let conns_list: Vec<usize> = match args.iter().position(|a| a == "--conns") {
            Some(_) => vec![conns],
            None => vec![16, 128, 1000],
        };
        goodput(
            secs,
            rounds,
            close,
            arg("--repeat", 1) as usize,
            penalties,
            &conns_list,
        );
        return;
    }
    println!(
        "{conns} connections for {secs} s, work of {rounds} rounds (~{:.1} ms here), /health probed every 10 ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    println!("| mode | work req/s | work p50 | work p99 | 503s | /health p50 | /health p99 |");
    println!("|---|---|---|---|---|---|---|");
    for (name, mode) in [
        (
            "corepool (`PoolService` + `LoadShed`, 503 when full)",
            Mode::Corepool,
        ),
        ("spawn_blocking", Mode::SpawnBlocking),
        ("inline on the runtime", Mode::Inline),
    ] {
        let mut r = run(Load {
            options: Options::new(mode),
            secs,
            conns,
            rounds,
            // A shed client backs off a little, as clients do.
            backoff: Some(Duration::from_millis(1)),
            blocking_threads: None,
        });
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
