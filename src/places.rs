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

//!
//! # Admission by queue wait
//!
//! With a [`queue_wait_target`](crate::PoolBuilder::queue_wait_target), a
//! place is also refused while the wait a new job can expect is above the
//! target: an operator states a latency instead of guessing a queue length.
//! The expected wait is the jobs queued ahead × the mean run time of the
//! pool's recent jobs (an exponentially weighted mean, weight 1/8 to the
//! newest, refreshed by every job that ends) / the workers. An empty queue
//! always admits, so the pool cannot lock itself out, and each claim wakes
//! one waiting submitter, which looks again.
//!
//! A first version refused while the *last job started* had waited longer
//! than the target (the sojourn time CoDel sheds on). Under a steady 2×
//! overload that job had entered the queue one queue-length earlier, so
//! everything offered since was admitted on an old, smaller wait: the queue
//! swung past the target and back, and accepted jobs waited 2–3× the target
//! at p99 (`benches/mixed_load.rs`, BENCHMARKS.md). The expected wait
//! reacts to every admission at once.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use crate::sync::{AtomicUsize, Ordering};

pub(crate) struct Places {
    capacity: Option<usize>,
    used: AtomicUsize,
    #[cfg(not(corepool_loom))]
    room: event_listener::Event,
    /// Refuse while a new job's expected wait is above this.
    wait_target: Option<Duration>,
    /// The workers that share the queue.
    workers: usize,
    /// The mean run time of recent jobs (ns), with a target only.
    mean_run: AtomicU64,
    /// Places held by unspent permits: taken, but no job is waiting in
    /// them (not queued, and no wait for the admission estimate).
    reserved: AtomicUsize,
}

impl Places {
    /// The places of a queue of `capacity` jobs, or unbounded, admitting
    /// while a new job's expected wait on `workers` is below `wait_target`.
    pub(crate) fn new(
        capacity: Option<usize>,
        wait_target: Option<Duration>,
        workers: usize,
    ) -> Self {
        Places {
            capacity,
            used: AtomicUsize::new(0),
            #[cfg(not(corepool_loom))]
            room: event_listener::Event::new(),
            wait_target,
            workers: workers.max(1),
            mean_run: AtomicU64::new(0),
            reserved: AtomicUsize::new(0),
        }
    }

    /// Whether admission reads run times (a wait target is set).
    pub(crate) fn wants_run_times(&self) -> bool {
        self.wait_target.is_some()
    }

    /// A job ran for `ns` nanoseconds: folded into the mean that admission by queue
    /// wait reads. Racy by design (a load and a store): two workers ending
    /// at once may lose one sample, which a mean does not miss.
    pub(crate) fn ran_for(&self, ns: u64) {
        use std::sync::atomic::Ordering::Relaxed;
        let mean = self.mean_run.load(Relaxed);
        let next = if mean == 0 {
            ns
        } else {
            mean - mean / 8 + ns / 8
        };
        self.mean_run.store(next.max(1), Relaxed);
    }

    /// Whether a new job's expected wait is above the target now.
    fn over_target(&self) -> bool {
        let Some(target) = self.wait_target else {
            return false;
        };
        let ahead = self.queued() as u128;
        let mean = u128::from(self.mean_run.load(std::sync::atomic::Ordering::Relaxed));
        ahead * mean / self.workers as u128 > target.as_nanos()
    }

    /// Takes a place: `false` when the queue is full (or its wait above the
    /// target).
    pub(crate) fn try_take(&self) -> bool {
        !self.over_target() && self.try_take_room()
    }

    /// Takes a place within the capacity, whatever the wait: for the later
    /// chunks of a map admitted by its first (they must not be refused for
    /// waiting behind the map's own chunks).
    pub(crate) fn try_take_room(&self) -> bool {
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

    /// Takes a place beyond the capacity (the rest of a map admitted
    /// whole through a permit).
    pub(crate) fn take_forced(&self) {
        self.used.fetch_add(1, Ordering::Relaxed);
    }

    /// Gives a place back, waking one submitter that waits for room.
    pub(crate) fn give_back(&self) {
        self.used.fetch_sub(1, Ordering::Relaxed);
        #[cfg(not(corepool_loom))]
        if self.capacity.is_some() || self.wait_target.is_some() {
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

    /// Whether a place would be refused now (full, or the wait above the
    /// target).
    pub(crate) fn is_full(&self) -> bool {
        self.over_target() || self.room() == Some(0)
    }

    /// Places taken now: jobs waiting for a worker, and places held by
    /// permits.
    pub(crate) fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// A place just taken is held by a permit.
    pub(crate) fn hold(&self) {
        self.reserved.fetch_add(1, Ordering::Relaxed);
    }

    /// A place held by a permit passes to a job (or is about to be given
    /// back).
    pub(crate) fn release_hold(&self) {
        self.reserved.fetch_sub(1, Ordering::Relaxed);
    }

    /// Places held by permits now.
    pub(crate) fn held(&self) -> usize {
        self.reserved.load(Ordering::Relaxed)
    }

    /// Jobs waiting for a worker now (places held by permits left out).
    pub(crate) fn queued(&self) -> usize {
        self.used().saturating_sub(self.held())
    }

    /// Free places now; `None` if unbounded.
    pub(crate) fn room(&self) -> Option<usize> {
        let capacity = self.capacity?;
        Some(capacity.saturating_sub(self.used()))
    }
}
