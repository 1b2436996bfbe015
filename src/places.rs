//! The places of a pool's queue: how many jobs wait for a worker, and, on a
//! bounded queue, the capacity they count against.
//!
//! The channel that carries the jobs (`queue.rs`) is unbounded; the bound
//! is kept here, so that a job gives its place back the moment it is
//! *claimed*, by whoever claims it, and not when its shell is popped. A
//! worker blocked on its own pool runs the jobs it waits for inline (see
//! `blocking.rs`); their shells stay in the channel until another worker
//! pops them, but they no longer count, so nested work on a bounded queue
//! can neither fill the queue with shells nor be shed because of them.
//!
//! # Protocol
//!
//! `used` counts the places taken. [`Places::try_take`] takes one with a
//! compare-and-swap below the capacity (a plain increment when unbounded);
//! [`Places::give_back`] decrements and notifies one submitter waiting for
//! room. A waiter registers its listener *before* it tries again, so a
//! place given back between its failed try and its wait wakes it: no
//! wake-up is lost (event-listener's contract, as async-channel uses it).

use crate::sync::{AtomicUsize, Ordering};

pub(crate) struct Places {
    capacity: Option<usize>,
    used: AtomicUsize,
    #[cfg(not(corepool_loom))]
    room: event_listener::Event,
}

impl Places {
    /// The places of a queue of `capacity` jobs, or unbounded.
    pub(crate) fn new(capacity: Option<usize>) -> Self {
        Places {
            capacity,
            used: AtomicUsize::new(0),
            #[cfg(not(corepool_loom))]
            room: event_listener::Event::new(),
        }
    }

    /// Takes a place: `false` when the queue is full.
    pub(crate) fn try_take(&self) -> bool {
        let Some(capacity) = self.capacity else {
            self.used.fetch_add(1, Ordering::Relaxed);
            return true;
        };
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            if used >= capacity {
                return false;
            }
            match self.used.compare_exchange_weak(
                used,
                used + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(now) => used = now,
            }
        }
    }

    /// Gives a place back, waking one submitter that waits for room.
    pub(crate) fn give_back(&self) {
        self.used.fetch_sub(1, Ordering::Relaxed);
        #[cfg(not(corepool_loom))]
        if self.capacity.is_some() {
            self.room.notify_additional(1);
        }
    }

    /// Wakes every submitter waiting for room (the pool closed: they must
    /// look again and give up).
    pub(crate) fn wake_all(&self) {
        #[cfg(not(corepool_loom))]
        self.room.notify(usize::MAX);
    }

    /// Takes a place once one is free, or gives up when `give_up()` says so
    /// (checked after every wake-up). `true` if it took one.
    pub(crate) async fn take_when_free(&self, give_up: impl Fn() -> bool) -> bool {
        loop {
            if give_up() {
                return false;
            }
            if self.try_take() {
                return true;
            }
            #[cfg(not(corepool_loom))]
            {
                let listener = self.room.listen();
                if give_up() {
                    return false;
                }
                if self.try_take() {
                    return true;
                }
                listener.await;
            }
            #[cfg(corepool_loom)]
            loom::thread::yield_now();
        }
    }

    /// Jobs waiting for a worker now.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// Free places now; `None` if unbounded.
    pub(crate) fn room(&self) -> Option<usize> {
        let capacity = self.capacity?;
        Some(capacity.saturating_sub(self.used()))
    }
}
