//! Helpers shared by the behaviour tests: a hang fails instead of stalling,
//! drop counters, and a way to hold workers busy deterministically.
#![allow(dead_code, unreachable_pub)]

use std::any::Any;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use corepool::Pool;

/// The limit for any one test body; generous, since CI machines are shared.
pub const LIMIT: Duration = Duration::from_secs(20);

/// Runs `f` on its own thread and fails the test if it has not returned
/// within [`LIMIT`]. A panic in `f` fails the test with that panic.
pub fn within<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    // The thread and the timeout are written once, over an erased body:
    // generic, they were compiled again for each of the ~190 bodies.
    let value = within_erased(Box::new(move || Box::new(f()) as Box<dyn Any + Send>));
    *value.downcast::<T>().expect("the body's own type")
}

type Body = Box<dyn FnOnce() -> Box<dyn Any + Send> + Send>;

fn within_erased(f: Body) -> Box<dyn Any + Send> {
    let (tx, rx) = mpsc::channel();
    let handle = thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(LIMIT) {
        Ok(value) => {
            handle.join().unwrap();
            value
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("test hung: no result within {LIMIT:?}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(handle.join().unwrap_err())
        }
    }
}

/// Runs an async test body on a fresh multi-thread tokio runtime, under
/// [`within`].
pub fn on_tokio<F, Fut, T>(f: F) -> T
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = T>,
    T: Send + 'static,
{
    within(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f())
    })
}

/// Counts events (drops, runs) across threads.
#[derive(Clone, Default)]
pub struct Counter(Arc<AtomicUsize>);

impl Counter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    /// A value that bumps this counter when dropped.
    pub fn tracked(&self) -> Tracked {
        Tracked(self.clone())
    }
}

/// Bumps its counter on drop.
pub struct Tracked(Counter);

impl std::fmt::Debug for Tracked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tracked")
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        self.0.bump();
    }
}

/// Holds `n` workers of `pool` busy until released (or dropped).
pub struct Occupied {
    release: Vec<mpsc::Sender<()>>,
}

impl Occupied {
    pub fn release(self) {}
}

/// Blocks `n` workers: returns once all of them are inside a blocking task.
pub fn occupy(pool: &Pool, n: usize) -> Occupied {
    let (started_tx, started_rx) = mpsc::channel();
    let mut release = Vec::new();
    for _ in 0..n {
        let (tx, rx) = mpsc::channel::<()>();
        let started = started_tx.clone();
        pool.apply_async(move || {
            started.send(()).unwrap();
            let _ = rx.recv();
        })
        .detach();
        release.push(tx);
    }
    for _ in 0..n {
        started_rx
            .recv_timeout(LIMIT)
            .expect("workers did not start");
    }
    Occupied { release }
}

/// A pool of `workers` with a queue of `capacity` jobs.
pub fn bounded(workers: usize, capacity: usize) -> Pool {
    Pool::builder()
        .workers(workers)
        .queue_capacity(capacity)
        .build()
        .unwrap()
}
