//! A model-based test of the public API: random sequences of submissions of
//! every kind and admission mode (permits included), on the pool and on two
//! lanes (a low one capped at one worker, a high one), nested calls,
//! dropped results, panics and
//! panicking drops, `close`, `terminate` and `join`, on 1–3 workers with
//! bounded and unbounded queues and with recycling, checked against a simple
//! reference model. proptest shrinks a failing sequence to a smallest one.
//!
//! What the model says of each result it keeps:
//!
//! * submitted while the pool was closed (by the sequence): cancelled as
//!   `PoolClosed`, nothing else;
//! * otherwise: the right value (or the right error: a panic at the right
//!   index, the user's `Err` at the right index), or a cancellation the
//!   sequence allows: `QueueFull` on a bounded queue (shed, depends on
//!   timing; never for work spent through a permit), `Terminated` once the
//!   sequence terminated the pool;
//! * every result resolves exactly once, within the time limit (no hang);
//! * after the sequence, no worker was lost (every worker takes part in a
//!   rendezvous), and at rest `submitted == completed + failed + cancelled`,
//!   in the pool and in each lane.
//!
//! `cargo test` (and so CI) runs 1 000 cases, about a second;
//! `PROPTEST_CASES=100000 cargo test --release --test model`
//! runs many.

use std::sync::mpsc;
use std::time::Duration;

use corepool::{AsyncResult, Cancellation, Map, Pool, TaskError, TryError};
use proptest::prelude::*;

const LIMIT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone)]
enum Op {
    /// `apply`, waited for on the driver thread.
    Apply {
        v: u32,
        panics: bool,
    },
    /// `apply_async`, kept (to check) or dropped at once.
    ApplyAsync {
        v: u32,
        panics: bool,
        keep: bool,
    },
    /// `offer` of a closure.
    Offer {
        v: u32,
    },
    /// `map_async`, maybe panicking at one index, maybe with a chunksize.
    MapAsync {
        n: u8,
        panic_at: Option<u8>,
        chunk: Option<u8>,
    },
    /// A fallible map through `spawn`, maybe failing at one index.
    Fallible {
        n: u8,
        err_at: Option<u8>,
    },
    /// A blocking `imap`, consumed on the driver thread.
    Imap {
        n: u8,
    },
    /// A map that waits for room (`submit`), kept.
    SubmitMap {
        n: u8,
        chunk: u8,
    },
    /// A map offered (refused at once when the queue is full or closed).
    OfferMap {
        n: u8,
    },
    /// A timed wait that gives up at once, then a wait that does not.
    Timed {
        v: u32,
    },
    /// An `apply_async` whose task runs a nested map and a nested apply.
    Nested {
        n: u8,
    },
    /// A detached task that captures a value whose `Drop` panics, and
    /// returns one (dropped on the worker, or by the detaching thread if
    /// the work already finished, which is then the caller's own panic).
    PanickingDrop,
    /// A permit taken with `try_reserve` on a view (0: the pool, 1: a low
    /// lane capped at one worker, 2: a high lane) and spent at once: its
    /// work is never shed.
    Permit {
        v: u32,
        view: u8,
    },
    /// `apply_async` on a view, kept.
    InLane {
        v: u32,
        view: u8,
        panics: bool,
    },
    /// Drops the kept result at this position (modulo their number).
    DropKept(usize),
    Close,
    Terminate,
}

#[derive(Debug, Clone)]
struct Config {
    workers: usize,
    capacity: Option<usize>,
    max_tasks: Option<usize>,
}

fn config() -> impl Strategy<Value = Config> {
    (
        1..=3_usize,
        prop::option::of(1..=6_usize),
        prop::option::of(1..=4_usize),
    )
        .prop_map(|(workers, capacity, max_tasks)| Config {
            workers,
            capacity,
            max_tasks,
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (any::<u32>(), prop::bool::weighted(0.2))
            .prop_map(|(v, panics)| Op::Apply { v, panics }),
        6 => (any::<u32>(), prop::bool::weighted(0.2), prop::bool::weighted(0.8))
            .prop_map(|(v, panics, keep)| Op::ApplyAsync { v, panics, keep }),
        3 => any::<u32>().prop_map(|v| Op::Offer { v }),
        4 => (0..40_u8, prop::option::of(0..40_u8), prop::option::of(1..8_u8))
            .prop_map(|(n, panic_at, chunk)| Op::MapAsync { n, panic_at, chunk }),
        3 => (0..30_u8, prop::option::of(0..30_u8))
            .prop_map(|(n, err_at)| Op::Fallible { n, err_at }),
        2 => (0..30_u8).prop_map(|n| Op::Imap { n }),
        2 => (0..30_u8, 1..6_u8).prop_map(|(n, chunk)| Op::SubmitMap { n, chunk }),
        2 => (0..30_u8).prop_map(|n| Op::OfferMap { n }),
        2 => any::<u32>().prop_map(|v| Op::Timed { v }),
        3 => (1..20_u8).prop_map(|n| Op::Nested { n }),
        1 => Just(Op::PanickingDrop),
        2 => (any::<u32>(), 0..3_u8).prop_map(|(v, view)| Op::Permit { v, view }),
        3 => (any::<u32>(), 0..3_u8, prop::bool::weighted(0.1))
            .prop_map(|(v, view, panics)| Op::InLane { v, view, panics }),
        2 => any::<usize>().prop_map(Op::DropKept),
        1 => Just(Op::Close),
        1 => Just(Op::Terminate),
    ]
}

/// What a kept result must resolve to.
#[derive(Debug)]
enum Expect {
    Value(u32),
    Panic,
    Values(Vec<u32>),
    PanicAt(usize),
    UserErrAt(usize),
}

/// The reasons a result may be cancelled for, given what the sequence did.
#[derive(Debug, Clone, Copy)]
struct Allowed {
    closed_at_submission: bool,
    bounded: bool,
}

enum Kept {
    One(AsyncResult<u32>, Expect, Allowed),
    Many(AsyncResult<Vec<u32>>, Expect, Allowed),
    Fallible(AsyncResult<Vec<u32>, TryError<u8>>, Expect, Allowed),
}

/// Checks a cancellation against what was allowed at submission and what
/// happened after (a terminate makes `Terminated` allowed for everything
/// still pending; a pool closed at submission allows only `PoolClosed`).
fn check_cancelled(
    why: Option<Cancellation>,
    allowed: Allowed,
    terminated: bool,
) -> Result<(), String> {
    match why {
        Some(Cancellation::PoolClosed) if allowed.closed_at_submission => Ok(()),
        _ if allowed.closed_at_submission => Err(format!("closed at submission, got {why:?}")),
        Some(Cancellation::QueueFull) if allowed.bounded => Ok(()),
        Some(Cancellation::Terminated) if terminated => Ok(()),
        // Terminate also closes: work submitted while it runs is refused.
        Some(Cancellation::PoolClosed) if terminated => Ok(()),
        other => Err(format!("unexpected cancellation {other:?}")),
    }
}

fn check_task(
    outcome: Result<u32, TaskError>,
    expect: &Expect,
    allowed: Allowed,
    terminated: bool,
) -> Result<(), String> {
    match (outcome, expect) {
        (Err(e), _) if e.is_cancelled() => check_cancelled(e.cancellation(), allowed, terminated),
        _ if allowed.closed_at_submission => Err("ran though the pool was closed".into()),
        (Ok(v), Expect::Value(w)) if v == *w => Ok(()),
        (Err(e), Expect::Panic) if e.is_panic() => Ok(()),
        (other, expect) => Err(format!("{other:?} where {expect:?} was expected")),
    }
}

fn check_many(
    outcome: Result<Vec<u32>, TaskError>,
    expect: &Expect,
    allowed: Allowed,
    terminated: bool,
) -> Result<(), String> {
    match (outcome, expect) {
        (Err(e), _) if e.is_cancelled() => check_cancelled(e.cancellation(), allowed, terminated),
        _ if allowed.closed_at_submission => Err("ran though the pool was closed".into()),
        (Ok(v), Expect::Values(w)) if v == *w => Ok(()),
        (Err(e), Expect::PanicAt(i)) if e.is_panic() && e.index() == Some(*i) => Ok(()),
        (other, expect) => Err(format!("{other:?} where {expect:?} was expected")),
    }
}

fn check_fallible(
    outcome: Result<Vec<u32>, TryError<u8>>,
    expect: &Expect,
    allowed: Allowed,
    terminated: bool,
) -> Result<(), String> {
    match (outcome, expect) {
        (Err(TryError::Task(e)), _) if e.is_cancelled() => {
            check_cancelled(e.cancellation(), allowed, terminated)
        }
        _ if allowed.closed_at_submission => Err("ran though the pool was closed".into()),
        (Ok(v), Expect::Values(w)) if v == *w => Ok(()),
        (Err(TryError::User { error, index }), Expect::UserErrAt(i))
            if usize::from(error) == *i && index == Some(*i) =>
        {
            Ok(())
        }
        (other, expect) => Err(format!("{other:?} where {expect:?} was expected")),
    }
}

/// Panics in `Drop` (not while unwinding).
struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            panic!("model: a Drop that panics");
        }
    }
}

fn value(v: u32, panics: bool) -> u32 {
    if panics {
        panic!("model: a task that panics");
    }
    v
}

/// Runs one sequence; `Err` describes the first disagreement with the model.
fn run(config: Config, ops: Vec<Op>) -> Result<(), String> {
    let mut builder = Pool::builder().workers(config.workers);
    if let Some(capacity) = config.capacity {
        builder = builder.queue_capacity(capacity);
    }
    if let Some(n) = config.max_tasks {
        builder = builder.max_tasks_per_worker(n);
    }
    let pool = builder.build().map_err(|e| e.to_string())?;
    let lane = |l: corepool::Lane| pool.lane(l).map_err(|e| e.to_string());
    let views = [
        pool.clone(),
        lane(
            corepool::Lane::new("low")
                .max_workers(1)
                .priority(corepool::Priority::Low),
        )?,
        lane(corepool::Lane::new("high").priority(corepool::Priority::High))?,
    ];
    let bounded = config.capacity.is_some();
    let (mut closed, mut terminated) = (false, false);
    let mut kept: Vec<Kept> = Vec::new();
    for op in ops {
        let allowed = Allowed {
            closed_at_submission: closed,
            bounded,
        };
        match op {
            Op::Apply { v, panics } => {
                let outcome = pool.apply(move || value(v, panics));
                let outcome = outcome.map_err(|e| e.into_task_error().expect("a task error"));
                let expect = if panics {
                    Expect::Panic
                } else {
                    Expect::Value(v)
                };
                check_task(outcome, &expect, allowed, terminated)?;
            }
            Op::ApplyAsync { v, panics, keep } => {
                let r = pool.apply_async(move || value(v, panics));
                let expect = if panics {
                    Expect::Panic
                } else {
                    Expect::Value(v)
                };
                if keep {
                    kept.push(Kept::One(r, expect, allowed));
                }
            }
            Op::Offer { v } => match pool.offer(move || v) {
                Ok(r) if closed => return Err(format!("offer accepted by a closed pool: {r:?}")),
                Ok(r) => kept.push(Kept::One(r, Expect::Value(v), allowed)),
                Err(refused) if refused.is_closed() && !closed && !terminated => {
                    return Err("offer refused as closed by an open pool".into());
                }
                Err(refused) if refused.is_full() && !bounded => {
                    return Err("offer refused as full by an unbounded pool".into());
                }
                Err(refused) => {
                    if refused.into_inner()() != v {
                        return Err("offer handed back other work".into());
                    }
                }
            },
            Op::MapAsync { n, panic_at, chunk } => {
                let panic_at = panic_at.filter(|&i| i < n);
                let f = move |x: u32| {
                    if Some(x) == panic_at.map(u32::from) {
                        panic!("model: an item that panics");
                    }
                    x * 3
                };
                let r = match chunk {
                    Some(c) => pool.spawn(Map::new(f, 0..u32::from(n)).chunksize(c.into())),
                    None => pool.map_async(f, 0..u32::from(n)),
                };
                let expect = match panic_at {
                    Some(i) => Expect::PanicAt(i.into()),
                    None => Expect::Values((0..u32::from(n)).map(|x| x * 3).collect()),
                };
                kept.push(Kept::Many(r, expect, allowed));
            }
            Op::Fallible { n, err_at } => {
                let err_at = err_at.filter(|&i| i < n);
                let f = move |x: u8| {
                    if Some(x) == err_at {
                        Err(x)
                    } else {
                        Ok(u32::from(x))
                    }
                };
                let r = pool.spawn(Map::fallible(f, 0..n));
                let expect = match err_at {
                    Some(i) => Expect::UserErrAt(i.into()),
                    None => Expect::Values((0..u32::from(n)).collect()),
                };
                kept.push(Kept::Fallible(r, expect, allowed));
            }
            Op::Imap { n } => {
                let items: Vec<_> = pool
                    .imap(|x: u32| x + 1, 0..u32::from(n))
                    .into_blocking_iter()
                    .collect();
                // On a closed pool the stream pulls nothing and ends after
                // one `PoolClosed` error (an endless input must end too).
                let expected = if closed {
                    items.len().min(1)
                } else {
                    usize::from(n)
                };
                if items.len() != expected {
                    return Err(format!("imap of {n} yielded {}", items.len()));
                }
                for (i, item) in items.into_iter().enumerate() {
                    match item {
                        Ok(v) if v == i as u32 + 1 && !closed => {}
                        Err(e) if e.is_cancelled() => {
                            check_cancelled(e.cancellation(), allowed, terminated)?
                        }
                        other => return Err(format!("imap item {i}: {other:?}")),
                    }
                }
            }
            Op::SubmitMap { n, chunk } => {
                let work = Map::new(|x: u32| x + 7, (0..u32::from(n)).collect::<Vec<_>>())
                    .chunksize(chunk.into());
                match futures::executor::block_on(pool.submit(work)) {
                    Ok(r) if closed => {
                        return Err(format!("submit accepted by a closed pool: {r:?}"));
                    }
                    // Waiting for room: never shed.
                    Ok(r) => kept.push(Kept::Many(
                        r,
                        Expect::Values((0..u32::from(n)).map(|x| x + 7).collect()),
                        Allowed {
                            closed_at_submission: false,
                            bounded: false,
                        },
                    )),
                    Err(refused) if refused.is_closed() && closed => {}
                    Err(refused) => {
                        return Err(format!("submit refused an open pool: {refused:?}"));
                    }
                }
            }
            Op::OfferMap { n } => {
                let work = Map::new(|x: u32| x * 5, (0..u32::from(n)).collect::<Vec<_>>());
                match pool.offer(work) {
                    Ok(r) if closed => {
                        return Err(format!("offer accepted by a closed pool: {r:?}"));
                    }
                    Ok(r) => kept.push(Kept::Many(
                        r,
                        Expect::Values((0..u32::from(n)).map(|x| x * 5).collect()),
                        allowed,
                    )),
                    Err(refused) if refused.is_closed() && !closed => {
                        return Err("offer refused as closed by an open pool".into());
                    }
                    Err(refused) if refused.is_full() && !bounded => {
                        return Err("offer refused as full by an unbounded pool".into());
                    }
                    Err(_) => {}
                }
            }
            Op::Timed { v } => {
                let mut r = pool.apply_async(move || v);
                match r.get_timeout(Duration::ZERO) {
                    Ok(got) if got == v => {}
                    Err(corepool::WaitError::TimedOut) => {
                        let outcome = r.get_timeout(LIMIT).map_err(|e| match e {
                            corepool::WaitError::Task(e) => Ok(e),
                            other => Err(other.to_string()),
                        });
                        let outcome = match outcome {
                            Ok(v) => Ok(v),
                            Err(Ok(e)) => Err(e),
                            Err(Err(why)) => return Err(why),
                        };
                        check_task(outcome, &Expect::Value(v), allowed, terminated)?;
                    }
                    Err(corepool::WaitError::Task(e)) => {
                        check_task(Err(e), &Expect::Value(v), allowed, terminated)?
                    }
                    other => return Err(format!("timed wait: {other:?}")),
                }
            }
            Op::Nested { n } => {
                let inner = pool.clone();
                let r = pool.apply_async(move || {
                    let v = inner.map(|x: u32| x + 1, 0..u32::from(n));
                    let w = inner.apply(|| 1_u32);
                    match (v, w) {
                        (Ok(v), Ok(w)) => v.into_iter().sum::<u32>() + w,
                        // A nested call is refused once the pool is
                        // closed: the outer task then reports 0.
                        _ => 0,
                    }
                });
                let n = u32::from(n);
                kept.push(Kept::One(r, Expect::Value(n * (n + 1) / 2 + 1), allowed));
            }
            Op::PanickingDrop => {
                let captured = PanicOnDrop;
                let r = pool.apply_async(move || {
                    let _captured = captured;
                    PanicOnDrop
                });
                // Dropping the handle may drop a finished value here: that
                // panic is the caller's (its own thread), caught here.
                let detached =
                    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| r.detach()));
                let _ = detached;
            }
            Op::Permit { v, view } => match views[usize::from(view)].try_reserve() {
                Ok(_) if closed => return Err("a permit from a closed pool".into()),
                Ok(permit) => {
                    let never_shed = Allowed {
                        closed_at_submission: false,
                        bounded: false,
                    };
                    kept.push(Kept::One(
                        permit.spawn(move || v),
                        Expect::Value(v),
                        never_shed,
                    ));
                }
                Err(corepool::ReserveError::Closed) if closed => {}
                Err(corepool::ReserveError::Full) if bounded && !closed => {}
                Err(other) => return Err(format!("try_reserve: {other} (closed: {closed})")),
            },
            Op::InLane { v, view, panics } => {
                let r = views[usize::from(view)].apply_async(move || value(v, panics));
                let expect = if panics {
                    Expect::Panic
                } else {
                    Expect::Value(v)
                };
                kept.push(Kept::One(r, expect, allowed));
            }
            Op::DropKept(i) => {
                if !kept.is_empty() {
                    let at = i % kept.len();
                    drop(kept.remove(at));
                }
            }
            Op::Close => {
                pool.close();
                closed = true;
            }
            Op::Terminate => {
                pool.terminate();
                closed = true;
                terminated = true;
            }
        }
    }
    // No worker was lost: while the pool is open, every worker joins a
    // rendezvous (each holds its worker until all have arrived).
    if !closed {
        rendezvous(&pool, config.workers)?;
    }
    // Every kept result resolves, once, as the model allows.
    for k in kept {
        match k {
            Kept::One(mut r, expect, allowed) => {
                let outcome = r.get_timeout(LIMIT).map_err(|e| match e {
                    corepool::WaitError::Task(e) => Ok(e),
                    other => Err(other.to_string()),
                });
                let outcome = match outcome {
                    Ok(v) => Ok(v),
                    Err(Ok(e)) => Err(e),
                    Err(Err(why)) => return Err(why),
                };
                // A nested task whose inner calls were refused reports 0:
                // only once the pool was closed (nested work is never shed).
                let expect = match (&outcome, expect) {
                    (Ok(0), Expect::Value(_)) if closed => Expect::Value(0),
                    (_, expect) => expect,
                };
                check_task(outcome, &expect, allowed, terminated)?;
                if !r.get().is_err_and(|e| e.is_taken()) {
                    return Err("a second get did not say taken".into());
                }
            }
            Kept::Many(mut r, expect, allowed) => {
                let outcome = r.get_timeout(LIMIT).map_err(|e| match e {
                    corepool::WaitError::Task(e) => e,
                    other => panic!("waiting: {other}"),
                });
                check_many(outcome, &expect, allowed, terminated)?;
            }
            Kept::Fallible(mut r, expect, allowed) => {
                let outcome = r.get_timeout(LIMIT).map_err(|e| match e {
                    corepool::WaitError::Task(e) => e,
                    other => panic!("waiting: {other}"),
                });
                check_fallible(outcome, &expect, allowed, terminated)?;
            }
        }
    }
    pool.close();
    pool.join().map_err(|e| e.to_string())?;
    let m = pool.metrics();
    if m.submitted != m.completed + m.failed + m.cancelled || m.queued != 0 || m.busy_workers != 0 {
        return Err(format!("metrics do not balance at rest: {m:?}"));
    }
    for view in &views[1..] {
        let l = view.metrics();
        if l.submitted != l.completed + l.failed + l.cancelled
            || l.queued != 0
            || l.busy_workers != 0
        {
            return Err(format!("a lane's metrics do not balance at rest: {l:?}"));
        }
    }
    if m.workers != config.workers {
        return Err(format!(
            "{} workers, configured {}",
            m.workers, config.workers
        ));
    }
    Ok(())
}

/// Every worker takes a task that waits until all of them have started one.
fn rendezvous(pool: &Pool, workers: usize) -> Result<(), String> {
    let (arrived, arrivals) = mpsc::channel();
    let (go, _) = std::sync::mpsc::channel::<()>();
    let go = std::sync::Arc::new(std::sync::Mutex::new(go));
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let release_rx = std::sync::Arc::new(std::sync::Mutex::new(release_rx));
    let mut results = Vec::new();
    for _ in 0..workers {
        let arrived = arrived.clone();
        let release = release_rx.clone();
        let _go = go.clone();
        let submitted = futures::executor::block_on(pool.submit(move || {
            arrived.send(()).unwrap();
            let _ = release.lock().unwrap().recv_timeout(LIMIT);
        }))
        .map_err(|e| e.to_string())?;
        results.push(submitted);
    }
    for _ in 0..workers {
        arrivals
            .recv_timeout(LIMIT)
            .map_err(|_| format!("a worker was lost: fewer than {workers} took part"))?;
    }
    drop(release_tx);
    for mut r in results {
        r.get_timeout(LIMIT).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

fn quiet() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<&str>()
            .copied()
            .unwrap_or_default();
        if !message.starts_with("model: ") {
            previous(info);
        }
    }));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn the_pool_agrees_with_the_model(config in config(), ops in prop::collection::vec(op(), 0..24)) {
        static QUIET: std::sync::Once = std::sync::Once::new();
        QUIET.call_once(quiet);
        // A hang fails the case (and is shrunk) instead of stalling.
        let (tx, rx) = mpsc::channel();
        let case = format!("{config:?} {ops:?}");
        std::thread::spawn(move || {
            let _ = tx.send(run(config, ops));
        });
        match rx.recv_timeout(LIMIT * 3) {
            Ok(Ok(())) => {}
            Ok(Err(disagreement)) => prop_assert!(false, "{disagreement}\n{case}"),
            Err(mpsc::RecvTimeoutError::Timeout) => prop_assert!(false, "hung: {case}"),
            Err(mpsc::RecvTimeoutError::Disconnected) => prop_assert!(false, "the driver panicked: {case}"),
        }
    }
}
