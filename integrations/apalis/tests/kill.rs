//! Two worker processes on a real Redis, one of them killed with SIGKILL
//! mid-run: nothing is lost, every result is recorded once, and no process
//! ever holds more jobs than its pool has room for.
//!
//! Needs `COREPOOL_REDIS_URL` (CI sets it: `.ci/redis.sh` starts a
//! throwaway server); skipped with a notice when it is unset.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use apalis::prelude::TaskSink;
use apalis_redis::{ConnectionManager, RedisStorage};

const JOBS: u64 = 2_000;
/// Each worker process: a pool of 2 workers and a queue of 2.
const POOL_WORKERS: usize = 2;
const POOL_QUEUE: usize = 2;
/// One job fetched from Redis at a time (`corepool_apalis::redis_config`):
/// a job reaches the handler in the poll that fetched it, none waits in
/// apalis' buffer, so the handler's count of held jobs is what the process
/// took from Redis.
const BATCH: usize = 1;
/// The victim is presumed dead after 4 missed heartbeats of 1 s. apalis
/// compares heartbeat times in whole seconds, so a live worker is presumed
/// dead if its heartbeats stop for somewhat more than 3 s (4 less the
/// rounding); 3 missed heartbeats would leave a live worker on a loaded
/// 2-core machine only about 1 s of slack.
const HEARTBEAT_MS: u64 = 1_000;
const MISSED_HEARTBEATS: u64 = 4;

/// The worker binary's result for job `id` (see src/bin/worker.rs).
fn expected(id: u64) -> u64 {
    let mut z = id.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The worker processes, killed (SIGKILL) and reaped by PID when dropped,
/// whatever the test's outcome.
struct Workers(Vec<Child>);

impl Drop for Workers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn spawn_worker(url: &str, queue: &str, name: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_corepool-apalis-worker"))
        .args(["work", "--redis", url, "--queue", queue, "--name", name])
        .args(["--workers", &POOL_WORKERS.to_string()])
        .args(["--queue-capacity", &POOL_QUEUE.to_string()])
        .args(["--batch", &BATCH.to_string()])
        .args(["--heartbeat-ms", &HEARTBEAT_MS.to_string()])
        .args(["--missed-heartbeats", &MISSED_HEARTBEATS.to_string()])
        .stdin(Stdio::null())
        .spawn()
        .expect("start a worker process")
}

/// Polls `probe` every 20 ms until it returns `Some`, for at most `limit`.
async fn wait_for<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn query<T: redis::FromRedisValue>(conn: &ConnectionManager, cmd: &mut redis::Cmd) -> T {
    cmd.query_async(&mut conn.clone())
        .await
        .unwrap_or_else(|e| panic!("redis: {e}"))
}

fn stat(stats: &HashMap<String, u64>, worker: &str, key: &str) -> u64 {
    stats.get(&format!("{worker}:{key}")).copied().unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_run_loses_nothing_and_holds_no_more_than_the_pool() {
    let Ok(url) = std::env::var("COREPOOL_REDIS_URL") else {
        eprintln!("kill.rs: skipped, COREPOOL_REDIS_URL is unset (e.g. redis://127.0.0.1:6379/)");
        return;
    };
    let started = Instant::now();
    let run = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
    );
    let queue = format!("corepool-apalis-kill:{run}");
    let (victim, survivor) = (format!("victim-{run}"), format!("survivor-{run}"));
    let conn = tokio::time::timeout(Duration::from_secs(10), apalis_redis::connect(url.as_str()))
        .await
        .expect("connecting to Redis timed out")
        .expect("connect to Redis");

    let mut workers = Workers(vec![
        spawn_worker(&url, &queue, &victim),
        spawn_worker(&url, &queue, &survivor),
    ]);
    // Both registered with apalis (its workers' sorted set).
    wait_for(
        "both workers to register",
        Duration::from_secs(20),
        || async {
            let n: usize = query(&conn, redis::cmd("ZCARD").arg(format!("{queue}:workers"))).await;
            (n == 2).then_some(())
        },
    )
    .await;

    // The third party: pushes the jobs, ids 0..JOBS.
    let mut producer =
        RedisStorage::<u64>::new(conn.clone()).with_config(corepool_apalis::redis_config(&queue));
    tokio::time::timeout(
        Duration::from_secs(20),
        producer.push_bulk((0..JOBS).collect()),
    )
    .await
    .expect("pushing the jobs timed out")
    .expect("push the jobs");

    // Mid-run: the victim has finished some jobs, and a quarter are done.
    let stats_key = format!("{queue}:stats");
    let results_key = format!("{queue}:results");
    wait_for(
        "the run to be under way",
        Duration::from_secs(30),
        || async {
            let stats: HashMap<String, u64> =
                query(&conn, redis::cmd("HGETALL").arg(&stats_key)).await;
            let done: u64 = query(&conn, redis::cmd("HLEN").arg(&results_key)).await;
            (stat(&stats, &victim, "executions") >= 50 && done >= JOBS / 4).then_some(())
        },
    )
    .await;
    workers.0[0].kill().expect("SIGKILL the victim");
    workers.0[0].wait().expect("reap the victim");
    let killed_at = Instant::now();

    // What the victim held when it died: its in-flight set (apalis task
    // ids), frozen until the survivor re-enqueues it; their job ids.
    let inflight_key = format!("{queue}:inflight:{victim}");
    let orphan_tasks: Vec<String> = query(&conn, redis::cmd("SMEMBERS").arg(&inflight_key)).await;
    assert!(
        !orphan_tasks.is_empty(),
        "the victim held no job when it was killed"
    );
    let orphan_data: Vec<String> = query(
        &conn,
        redis::cmd("HMGET")
            .arg(format!("{queue}:data"))
            .arg(&orphan_tasks),
    )
    .await;
    let orphans: Vec<u64> = orphan_data
        .iter()
        .map(|json| json.trim().parse().expect("a job's data is its id"))
        .collect();

    // Every job's result recorded; the victim's jobs come back once it has
    // missed its heartbeats, and the survivor runs each of them (those whose
    // result the victim had written before it died run a second time).
    let runner_key = format!("{queue}:runner");
    wait_for(
        "every result, and the victim's jobs re-run",
        Duration::from_secs(45),
        || async {
            let done: u64 = query(&conn, redis::cmd("HLEN").arg(&results_key)).await;
            let left: usize = query(&conn, redis::cmd("EXISTS").arg(&inflight_key)).await;
            let runners: Vec<Option<String>> =
                query(&conn, redis::cmd("HMGET").arg(&runner_key).arg(&orphans)).await;
            let rerun = runners.iter().all(|r| r.as_ref() == Some(&survivor));
            (done == JOBS && left == 0 && rerun).then_some(())
        },
    )
    .await;
    let recovered_after = killed_at.elapsed();

    // Exactly one result per job, and the right one.
    let results: HashMap<u64, u64> = query(&conn, redis::cmd("HGETALL").arg(&results_key)).await;
    assert_eq!(results.len() as u64, JOBS);
    for id in 0..JOBS {
        assert_eq!(results.get(&id), Some(&expected(id)), "job {id}'s result");
    }
    // At least once: each job ran to the end one or more times.
    let runs: HashMap<u64, u64> =
        query(&conn, redis::cmd("HGETALL").arg(format!("{queue}:runs"))).await;
    let total_runs: u64 = runs.values().sum();
    let rerun: Vec<u64> = {
        let mut ids: Vec<u64> = runs
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(id, _)| *id)
            .collect();
        ids.sort_unstable();
        ids
    };
    assert!((0..JOBS).all(|id| runs.get(&id).is_some_and(|n| *n >= 1)));
    // Readiness: a process never held more jobs than its pool has places
    // (workers + queue): counted from the handler's `call`, which apalis
    // makes in the same poll as the fetch when the batch is 1, to the job
    // leaving the pool. Redis' in-flight set of the worker is printed too:
    // it also counts the jobs finished on the pool whose result is being
    // written or whose acknowledgement apalis has not flushed yet, which the
    // pool does not bound (see README.md).
    let stats: HashMap<String, u64> = query(&conn, redis::cmd("HGETALL").arg(&stats_key)).await;
    let capacity = (POOL_WORKERS + POOL_QUEUE) as u64;
    eprintln!(
        "kill.rs: {JOBS} jobs, {total_runs} runs ({} re-executions, of jobs {rerun:?}); \
         victim killed holding {} jobs {orphans:?}; all results {:.1} s after the kill, \
         {:.1} s in all",
        total_runs - JOBS,
        orphans.len(),
        recovered_after.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    for name in [&victim, &survivor] {
        let (held, inflight) = (
            stat(&stats, name, "max_held"),
            stat(&stats, name, "max_inflight"),
        );
        eprintln!(
            "kill.rs: {name}: {} executions, max held {held} (bound {capacity}), \
             max size of its in-flight set in Redis {inflight}",
            stat(&stats, name, "executions"),
        );
        assert!(held >= 1 && held <= capacity, "{name} held {held} jobs");
    }
    // The victim's orphans are among the re-executed jobs or ran once, by
    // the survivor; every re-execution is one of them (no other job runs
    // twice in a run where only the victim died).
    for id in &rerun {
        assert!(
            orphans.contains(id),
            "job {id} ran twice but the victim did not hold it"
        );
    }
    drop(workers);
}
