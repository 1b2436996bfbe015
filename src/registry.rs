//! The state a pool's handles and its worker threads share: the job queue,
//! the lifecycle flags, and the shutdown signal.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use async_channel::{Receiver, Sender};

use crate::error::TaskError;
use crate::job::{Job, Task};
use crate::unwind;

/// Distinguishes pools, so a worker can tell its own pool's sync calls apart.
static NEXT_POOL_ID: AtomicU64 = AtomicU64::new(1);

pub(crate) struct Registry {
    pub(crate) id: u64,
    pub(crate) workers: usize,
    /// The MPMC job queue: callers `try_send` (never blocks: the queue is
    /// unbounded), workers spin on `try_recv` then block in `recv_blocking`.
    sender: Sender<Job>,
    pub(crate) receiver: Receiver<Job>,
    terminated: AtomicBool,
    next_job: AtomicU64,
    /// Every worker holds a clone of the matching sender and never sends:
    /// this receiver reports `Closed` once the last worker has exited.
    shutdown: Receiver<()>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

// ===== impl Registry =====

impl Registry {
    /// A registry with no threads yet, and the shutdown sender every worker
    /// must hold a clone of.
    pub(crate) fn new(workers: usize) -> (Arc<Self>, Sender<()>) {
        let (sender, receiver) = async_channel::unbounded();
        let (shutdown_tx, shutdown) = async_channel::bounded(1);
        let registry = Registry {
            id: NEXT_POOL_ID.fetch_add(1, Ordering::Relaxed),
            workers,
            sender,
            receiver,
            terminated: AtomicBool::new(false),
            next_job: AtomicU64::new(0),
            shutdown,
            threads: Mutex::new(Vec::with_capacity(workers)),
        };
        (Arc::new(registry), shutdown_tx)
    }

    pub(crate) fn add_thread(&self, handle: JoinHandle<()>) {
        self.threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(handle);
    }

    pub(crate) fn next_job_id(&self) -> u64 {
        self.next_job.fetch_add(1, Ordering::Relaxed)
    }

    /// Queues a task. If the pool no longer accepts work, the task is
    /// rejected with a `Closed` error instead.
    pub(crate) fn submit(&self, id: u64, kind: &'static str, chunk: usize, task: Box<dyn Task>) {
        if let Err(err) = self.sender.try_send(Job {
            id,
            kind,
            chunk,
            task,
        }) {
            err.into_inner().task.reject(TaskError::closed());
        }
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }

    pub(crate) fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    pub(crate) fn close(&self) {
        if self.sender.close() {
            tracing::debug!(pool = self.id, "pool closed");
        }
    }

    pub(crate) fn terminate(&self) {
        self.terminated.store(true, Ordering::Release);
        self.close();
        // Workers also check `terminated` before each job, so a job they
        // take while this drains is cancelled too.
        let mut cancelled = 0_usize;
        while let Ok(job) = self.receiver.try_recv() {
            cancel(job);
            cancelled += 1;
        }
        tracing::debug!(pool = self.id, cancelled, "pool terminated");
    }

    pub(crate) fn queued(&self) -> usize {
        self.receiver.len()
    }

    /// Resolves when every worker has exited.
    pub(crate) async fn wait_shutdown(&self) {
        // Nobody sends on this channel: `recv` ends with `Closed` when the
        // last worker drops its sender.
        let _ = self.shutdown.recv().await;
    }

    /// Joins the threads that have not been joined yet.
    pub(crate) fn join_threads(&self) {
        let threads = std::mem::take(&mut *self.threads.lock().unwrap_or_else(|e| e.into_inner()));
        for thread in threads {
            // Workers catch every user panic, so a join error is a bug.
            thread.join().expect("a corepool worker thread panicked");
        }
    }
}

/// Drops a job that will not run; its result resolves as cancelled. A panic
/// from a captured value's `Drop` must not escape into the caller.
pub(crate) fn cancel(job: Job) {
    if unwind::catch(move || drop(job)).is_err() {
        tracing::warn!("a cancelled task's drop panicked");
    }
}
