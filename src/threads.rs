//! [`Threads`]: the worker threads a pool joins, the current one of each
//! worker index and the recycled ones that may still be running their
//! thread-local destructors.

use std::thread::JoinHandle;

use crate::sync::{self, Mutex};

/// The threads to join (see the module docs).
#[derive(Default)]
pub(crate) struct Threads {
    inner: Mutex<Handles>,
}

#[derive(Default)]
struct Handles {
    current: Vec<JoinHandle<()>>,
    retired: Vec<JoinHandle<()>>,
}

impl Threads {
    /// Records the thread of the next worker index (build order).
    pub(crate) fn add(&self, handle: JoinHandle<()>) {
        sync::lock(&self.inner).current.push(handle);
    }

    /// Puts a recycled worker's new thread in its slot. The old thread is
    /// kept to be joined (it is about to exit), so `join` also waits for its
    /// thread-local destructors; old threads that have already exited are
    /// joined here, so the list stays short.
    pub(crate) fn replace(&self, index: usize, handle: JoinHandle<()>) {
        let mut threads = sync::lock(&self.inner);
        let old = match threads.current.get_mut(index) {
            Some(slot) => Some(std::mem::replace(slot, handle)),
            None => {
                threads.current.push(handle);
                None
            }
        };
        let (done, running): (Vec<_>, Vec<_>) = std::mem::take(&mut threads.retired)
            .into_iter()
            .partition(JoinHandle::is_finished);
        threads.retired = running;
        threads.retired.extend(old);
        drop(threads);
        for thread in done {
            let _ = thread.join();
        }
    }

    /// Joins the threads that have not been joined yet, recycled ones too,
    /// of the pool `pool` (for the log).
    pub(crate) fn join_all(&self, pool: u64) {
        let threads = std::mem::take(&mut *sync::lock(&self.inner));
        for thread in threads.retired.into_iter().chain(threads.current) {
            // Workers catch every user panic; a thread that died anyway (a
            // panicking `Drop` in a thread-local, say) has nothing to report.
            if thread.join().is_err() {
                tracing::error!(pool, "a worker thread panicked");
            }
        }
    }
}
