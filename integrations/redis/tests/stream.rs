//! The stream recipe against a real Redis: `$COREPOOL_REDIS_URL` (set by
//! `.ci/run`, which starts a throwaway server with `.ci/redis.sh`). Without
//! it, every test prints a notice and passes without checking anything.
//!
//! The kill test runs the consumer as a process of its own
//! (`corepool-redis-stream consume`), SIGKILLs it mid-stream, and lets a
//! second consumer process take over. While they run, the test audits the
//! group atomically (a Lua script) every few milliseconds: every entry
//! delivered and no longer pending (acknowledged) must have its result.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use corepool_redis::{Entry, StreamConsumer, digest};
use redis::Value;
use redis::aio::MultiplexedConnection;

const BIN: &str = env!("CARGO_BIN_EXE_corepool-redis-stream");

/// Entries in the kill test's stream.
const ENTRIES: u64 = 2_000;
/// About 1.4 ms of CPU per entry in a release build (less in a debug one,
/// whose digest is many times slower).
const ROUNDS: u64 = if cfg!(debug_assertions) {
    75_000
} else {
    750_000
};
/// The consumers' settings: 2 workers, reads of 8, chunks of 1, 8 chunks in
/// flight, writes of at most 16.
const WORKERS: usize = 2;
const READ_COUNT: usize = 8;
const BUFFERSIZE: usize = 8;
const WRITE_BATCH: usize = 16;
/// Consumer A is killed once it has acknowledged this many entries.
const KILL_AFTER_ACKED: u64 = 400;
/// The whole test, and each wait in it.
const TEST_LIMIT: Duration = Duration::from_secs(50);
const WAIT_LIMIT: Duration = Duration::from_secs(20);

/// The server, or `None` (with a notice) when none is configured.
fn redis_url(test: &str) -> Option<String> {
    match std::env::var("COREPOOL_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{test}: skipped: COREPOOL_REDIS_URL is unset (bash .ci/redis.sh start)");
            None
        }
    }
}

/// A key no other run uses.
fn fresh_key(test: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("corepool-test:{test}:{}:{nanos}", std::process::id())
}

/// A child process, SIGKILLed and reaped when dropped (a failed assertion
/// included).
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill(); // by its PID; an error if it has exited
        let _ = self.0.wait();
    }
}

impl Proc {
    fn consumer(url: &str, stream: &str, name: &str, min_idle_ms: u64) -> Proc {
        let child = Command::new(BIN)
            .args(["consume", "--url", url, "--stream", stream, "--group", "g"])
            .args(["--consumer", name, "--stop-when-idle", "--block-ms", "300"])
            .args([
                "--workers",
                &WORKERS.to_string(),
                "--rounds",
                &ROUNDS.to_string(),
            ])
            .args(["--read-count", &READ_COUNT.to_string(), "--chunksize", "1"])
            .args(["--buffersize", &BUFFERSIZE.to_string()])
            .args(["--write-batch", &WRITE_BATCH.to_string()])
            .args(["--min-idle-ms", &min_idle_ms.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the consumer");
        Proc(child)
    }

    /// Waits for the exit (at most `WAIT_LIMIT`), then returns its stdout.
    async fn finish(&mut self) -> String {
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.0.try_wait().unwrap() {
                break status;
            }
            assert!(
                started.elapsed() < WAIT_LIMIT,
                "the consumer did not exit in {WAIT_LIMIT:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let mut out = String::new();
        self.0
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert!(
            status.success(),
            "the consumer failed: {status}; stdout: {out}"
        );
        out
    }
}

/// The group's state, read atomically by a Lua script.
#[derive(Debug, Clone, Copy)]
struct Audit {
    /// Entries delivered to some consumer (up to the group's last-delivered id).
    delivered: i64,
    /// Delivered and no longer pending: acknowledged.
    acked: i64,
    /// Pending (delivered, not acknowledged).
    pending: i64,
    /// Acknowledged entries without a result: must stay 0.
    acked_without_result: i64,
    /// Pending entries whose result is written already.
    pending_with_result: i64,
}

const AUDIT: &str = r"
local last = '0-0'
for _, g in ipairs(redis.call('XINFO', 'GROUPS', KEYS[1])) do
    local name, id
    for i = 1, #g, 2 do
        if g[i] == 'name' then name = g[i + 1] end
        if g[i] == 'last-delivered-id' then id = g[i + 1] end
    end
    if name == ARGV[1] then last = id end
end
local pending = {}
local pel = redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1000000)
for _, p in ipairs(pel) do pending[p[1]] = true end
local delivered = redis.call('XRANGE', KEYS[1], '-', last)
local acked, bad, written = 0, 0, 0
for _, e in ipairs(delivered) do
    local has = redis.call('HEXISTS', KEYS[2], e[1]) == 1
    if pending[e[1]] then
        if has then written = written + 1 end
    else
        acked = acked + 1
        if not has then bad = bad + 1 end
    end
end
return {#delivered, acked, #pel, bad, written}
";

async fn audit(conn: &mut MultiplexedConnection, stream: &str, results: &str) -> Audit {
    let v: Vec<i64> = redis::cmd("EVAL")
        .arg(AUDIT)
        .arg(2)
        .arg(stream)
        .arg(results)
        .arg("g")
        .query_async(conn)
        .await
        .expect("the audit script");
    let audit = Audit {
        delivered: v[0],
        acked: v[1],
        pending: v[2],
        acked_without_result: v[3],
        pending_with_result: v[4],
    };
    assert_eq!(
        audit.acked_without_result, 0,
        "an entry was acknowledged before its result was written: {audit:?}"
    );
    audit
}

/// The pending entries of the group: (id, consumer), in id order.
async fn pending(conn: &mut MultiplexedConnection, stream: &str) -> Vec<(String, String)> {
    let rows: Vec<(String, String, u64, u64)> = redis::cmd("XPENDING")
        .arg(stream)
        .arg("g")
        .arg("-")
        .arg("+")
        .arg(1_000_000)
        .query_async(conn)
        .await
        .unwrap();
    rows.into_iter().map(|(id, who, _, _)| (id, who)).collect()
}

/// The ids of the server's client connections.
async fn client_ids(conn: &mut MultiplexedConnection) -> HashSet<u64> {
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query_async(conn)
        .await
        .unwrap();
    list.lines()
        .filter_map(|line| {
            let id = line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("id="))?;
            id.parse().ok()
        })
        .collect()
}

/// `key=value` fields of the consumer's `report` line, and its claimed ids.
fn parse_report(out: &str) -> (HashMap<String, String>, Vec<String>) {
    let mut fields = HashMap::new();
    let mut claimed = Vec::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("report ") {
            for kv in rest.split_whitespace() {
                let (k, v) = kv.split_once('=').unwrap();
                fields.insert(k.to_owned(), v.to_owned());
            }
        } else if let Some(rest) = line.strip_prefix("claimed_ids") {
            claimed = rest
                .trim()
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect();
        }
    }
    assert!(!fields.is_empty(), "no report line in {out:?}");
    (fields, claimed)
}

async fn connect(url: &str) -> MultiplexedConnection {
    let client = redis::Client::open(url).unwrap();
    let config =
        redis::AsyncConnectionConfig::new().set_response_timeout(Some(Duration::from_secs(10)));
    client
        .get_multiplexed_async_connection_with_config(&config)
        .await
        .unwrap()
}

async fn fill(conn: &mut MultiplexedConnection, stream: &str, n: u64) {
    let mut pipe = redis::pipe();
    for i in 0..n {
        pipe.cmd("XADD")
            .arg(stream)
            .arg("*")
            .arg("n")
            .arg(i)
            .ignore();
    }
    let () = pipe.query_async(conn).await.unwrap();
}

async fn delete(conn: &mut MultiplexedConnection, keys: &[&str]) {
    let _: Value = redis::cmd("DEL").arg(keys).query_async(conn).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_consumer_is_taken_over_and_every_entry_is_written_before_its_ack() {
    let Some(url) = redis_url("kill_mid_stream") else {
        return;
    };
    tokio::time::timeout(TEST_LIMIT, kill_mid_stream(url))
        .await
        .expect("the kill test ran out of time");
}

async fn kill_mid_stream(url: String) {
    let started = Instant::now();
    let mut conn = connect(&url).await;
    let stream = fresh_key("kill");
    let results = format!("{stream}:results");
    fill(&mut conn, &stream, ENTRIES).await;
    let settings = StreamConsumer::new(&stream, "g", "A")
        .read_count(READ_COUNT)
        .chunksize(1)
        .buffersize(BUFFERSIZE)
        .write_batch(WRITE_BATCH);
    settings
        .create_group(&redis::Client::open(url.as_str()).unwrap())
        .await
        .unwrap();
    let bound = settings.max_unacked(WORKERS) as i64;

    // Consumer A, killed once it has acknowledged KILL_AFTER_ACKED entries.
    let before_a = client_ids(&mut conn).await;
    let mut a = Proc::consumer(&url, &stream, "A", 60_000);
    let mut audits = 0;
    let at_kill = loop {
        let now = audit(&mut conn, &stream, &results).await;
        audits += 1;
        assert!(
            now.pending <= bound,
            "A holds {} unacknowledged, over {bound}",
            now.pending
        );
        if now.acked as u64 >= KILL_AFTER_ACKED {
            a.0.kill().unwrap(); // SIGKILL
            let _ = a.0.wait();
            // Commands A sent just before it died may still be in its
            // sockets: its state is final once Redis has closed them.
            let closing = Instant::now();
            while !client_ids(&mut conn).await.is_subset(&before_a) {
                assert!(closing.elapsed() < WAIT_LIMIT, "A's connections stay open");
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            break audit(&mut conn, &stream, &results).await;
        }
        assert!(
            a.0.try_wait().unwrap().is_none(),
            "A exited before the kill"
        );
        assert!(
            started.elapsed() < WAIT_LIMIT,
            "A acknowledged too little in {WAIT_LIMIT:?}: {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    drop(a);
    assert!(
        (at_kill.acked as u64) < ENTRIES,
        "A acknowledged everything before the kill: make it slower ({at_kill:?})"
    );
    let a_pending = pending(&mut conn, &stream).await;
    assert!(a_pending.iter().all(|(_, who)| who == "A"), "{a_pending:?}");
    assert_eq!(a_pending.len() as i64, at_kill.pending);
    assert!(at_kill.pending <= bound, "{at_kill:?}, bound {bound}");

    // Consumer B claims A's pending entries at once (A is dead: no idle
    // time to wait for), then reads the rest.
    let mut b = Proc::consumer(&url, &stream, "B", 0);
    let out = loop {
        let now = audit(&mut conn, &stream, &results).await;
        audits += 1;
        assert!(
            now.pending <= bound,
            "B holds {} unacknowledged, over {bound}",
            now.pending
        );
        if b.0.try_wait().unwrap().is_some() {
            break b.finish().await;
        }
        assert!(started.elapsed() < TEST_LIMIT, "B did not finish: {now:?}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    drop(b);
    let (report, claimed) = parse_report(&out);
    let a_pending_ids: Vec<String> = a_pending.into_iter().map(|(id, _)| id).collect();
    assert_eq!(
        claimed, a_pending_ids,
        "B claimed exactly what A left pending, in order"
    );
    let b_read: u64 = report["read"].parse().unwrap();
    assert_eq!(
        b_read,
        ENTRIES - at_kill.acked as u64,
        "B processed A's unacknowledged entries and the unread ones, nothing else"
    );
    assert_eq!(report["failed"], "0");

    let done = audit(&mut conn, &stream, &results).await;
    assert_eq!(
        (done.delivered, done.acked, done.pending),
        (ENTRIES as i64, ENTRIES as i64, 0)
    );

    // Every result is there, and is the function's value: A's writes that B
    // repeated wrote the same value again.
    let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query_async(&mut conn)
        .await
        .unwrap();
    let written: HashMap<String, String> = redis::cmd("HGETALL")
        .arg(&results)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(written.len() as u64, ENTRIES);
    let pool = corepool::Pool::new(WORKERS).unwrap();
    let expected = pool
        .map_async(
            |(id, fields): (String, HashMap<String, String>)| {
                (id, digest(fields["n"].as_bytes(), ROUNDS).to_string())
            },
            entries,
        )
        .await
        .unwrap();
    for (id, value) in expected {
        assert_eq!(written.get(&id), Some(&value), "the result of {id}");
    }

    println!(
        "kill test: {ENTRIES} entries; A acknowledged {} and left {} pending ({} of them \
         written, not acknowledged) when killed; B claimed and re-processed {}, read {} in all; \
         bound on unacknowledged entries per consumer {bound}; {audits} audits, none found an \
         acknowledged entry without its result; {:.1} s",
        at_kill.acked,
        at_kill.pending,
        at_kill.pending_with_result,
        claimed.len(),
        b_read,
        started.elapsed().as_secs_f64()
    );
    delete(&mut conn, &[&stream, &results]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_entry_is_neither_written_nor_acknowledged() {
    let Some(url) = redis_url("panicking_entry") else {
        return;
    };
    tokio::time::timeout(TEST_LIMIT, panicking_entry(url))
        .await
        .expect("the panic test ran out of time");
}

async fn panicking_entry(url: String) {
    let mut conn = connect(&url).await;
    let stream = fresh_key("panic");
    fill(&mut conn, &stream, 50).await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let pool = corepool::Pool::new(2).unwrap();
    let consumer = StreamConsumer::new(&stream, "g", "solo")
        .read_count(4)
        .write_batch(3)
        .block(Duration::from_millis(100))
        .stop_when_idle(true);
    consumer.create_group(&client).await.unwrap();
    consumer.create_group(&client).await.unwrap(); // idempotent
    let report = consumer
        .run(&client, &pool, |entry: &Entry| {
            let n: u64 = std::str::from_utf8(entry.get("n").unwrap())
                .unwrap()
                .parse()
                .unwrap();
            assert!(n != 17, "entry 17 is poison");
            n * 2
        })
        .await
        .unwrap();
    assert_eq!((report.read, report.written, report.acked), (50, 49, 49));
    assert_eq!(report.failed.len(), 1);
    assert!(report.claimed.is_empty());
    let left = pending(&mut conn, &stream).await;
    assert_eq!(left, [(report.failed[0].clone(), "solo".to_owned())]);
    let results = consumer.results_key().to_owned();
    let written: HashMap<String, u64> = redis::cmd("HGETALL")
        .arg(&results)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(written.len(), 49);
    assert!(!written.contains_key(&report.failed[0]));
    let values: HashSet<u64> = written.values().copied().collect();
    assert_eq!(
        values,
        (0..50).filter(|&n| n != 17).map(|n| n * 2).collect()
    );

    // A second run with no idle time to wait for claims the poison entry
    // first, and it fails again: still pending, never acknowledged.
    let again = consumer
        .clone()
        .min_idle(Duration::ZERO)
        .run(&client, &pool, |entry: &Entry| {
            assert!(entry.get("n") != Some(&b"17"[..]), "still poison");
            0_u64
        })
        .await
        .unwrap();
    assert_eq!(again.claimed, report.failed);
    assert_eq!((again.read, again.acked, again.failed.len()), (1, 0, 1));
    delete(&mut conn, &[&stream, &results]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_pool_ends_the_run_with_an_error_and_leaves_nothing_half_done() {
    let Some(url) = redis_url("closed_pool") else {
        return;
    };
    let mut conn = connect(&url).await;
    let stream = fresh_key("closed");
    fill(&mut conn, &stream, 10).await;
    let client = redis::Client::open(url.as_str()).unwrap();
    let consumer = StreamConsumer::new(&stream, "g", "solo")
        .block(Duration::from_millis(100))
        .stop_when_idle(true);
    consumer.create_group(&client).await.unwrap();
    let pool = corepool::Pool::new(1).unwrap();
    pool.close();
    let run = consumer.run(&client, &pool, |entry: &Entry| entry.id.len());
    let error = tokio::time::timeout(WAIT_LIMIT, run)
        .await
        .expect("the run ended")
        .unwrap_err();
    assert_eq!(error.kind(), redis::ErrorKind::Client, "{error}");
    let results = consumer.results_key().to_owned();
    let written: u64 = redis::cmd("HLEN")
        .arg(&results)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(written, 0);
    // Whatever was read stays pending: nothing acknowledged unwritten.
    let audit = audit(&mut conn, &stream, &results).await;
    assert_eq!(audit.acked, 0, "{audit:?}");
    delete(&mut conn, &[&stream, &results]).await;
}
