//! The pool's job queue: an MPMC FIFO that submitters push to and workers
//! pop from, which can be closed (no more pushes; pops drain what is left,
//! then report `Closed`). Pushing is lock-free (`ConcurrentQueue`, the queue
//! inside async-channel, used directly: the channel's listeners would be
//! notified on every push, ~90 instructions a job, and no worker listens
//! there), so many tokio tasks submitting at once do not serialize on a
//! lock. The queue itself is unbounded: a bounded pool's
//! capacity is counted in `places.rs`, where a claimed job gives its place
//! back at once.
//!
//! There is one FIFO per [`Priority`](crate::Priority); a worker takes
//! from the highest non-empty one, so queued work of a higher priority
//! always starts first (lanes, `lane.rs`). Trying an empty FIFO is a
//! couple of loads, so the levels cost little when only one is used.
//!
//! Normally this is a `ConcurrentQueue` per level. Under `cfg(corepool_loom)`
//! it is a `Mutex<VecDeque>` with the same contract, so the loom models of
//! close/terminate racing submission (`src/tests/loom_registry.rs`) can
//! explore the registry's protocol; the FIFO itself is concurrent-queue's
//! to get right, and is linearizable, which the stand-in is too.
//!
//! # Scaling past a few cores (a design, not built)
//!
//! Every submission is one push and every start one pop on the same
//! FIFO, so all workers and submitters contend on its head and tail
//! cache lines. A contended compare-and-swap costs ~50–100 ns when the line
//! moves between cores (more across sockets), so one queue tops out at a
//! few million jobs per second in all, whatever the worker count. With `W`
//! workers running jobs of `t` each, the queue sees `W / t` pops per
//! second: it starts to matter near 1 M/s, i.e. for jobs shorter than about
//! `W` µs (16 µs on 16 workers). Maps and `imap` cut their input into chunks
//! of ~50 µs to ~1 ms of work (`cost.rs`, `imap/window.rs`), so they stay
//! below that up to ~50 workers; a burst of single tiny `apply`s (P4 in
//! BENCHMARKS.md, ~5 µs each) would hit it from about 8 workers.
//!
//! What would lift it is rayon's and tokio's shape: a deque per worker
//! (the owner pushes and pops its own end without contention; idle workers
//! steal half of another's from the other end), a global injector per
//! priority level for submissions from outside the pool (a worker takes a
//! batch from it at once, so the shared traffic is divided by the batch),
//! and a jobs-event counter in the sleep protocol so a push wakes a sleeper
//! only when none is searching. Nested work from a worker would go to its
//! own deque, which is where `blocking.rs`'s waiter already looks first.
//! Lanes stay as they are (parking happens after a pop). On this 2-core
//! machine nothing can show a gain (the queue is not the bottleneck at 2
//! workers: P2 and P4 spend their time in wake-ups and tokio), so it is
//! left for a machine with more cores.

use crate::job::Job;

/// Priority levels: one FIFO each, highest first.
const LEVELS: usize = 3;

/// Why [`Queue::try_pop`] returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Empty {
    /// Nothing queued now; more may come.
    Now,
    /// Closed and drained: nothing will ever come.
    Forever,
}

#[cfg(not(corepool_loom))]
pub(crate) struct Queue {
    levels: [Level; LEVELS],
    /// The levels ever pushed to (a bit each; the default level's from the
    /// start): a worker polling for work looks only at those, so a pool
    /// without lanes of other priorities pays for one FIFO, not three.
    /// A pusher sets its bit before it sends; the fences of the sleeping
    /// protocol (below) order that write before a sleeper's look.
    used: std::sync::atomic::AtomicUsize,
    /// Workers asleep in `pop_blocking` (see the protocol there).
    sleepers: std::sync::atomic::AtomicUsize,
    bed: std::sync::Mutex<()>,
    wake: std::sync::Condvar,
}

/// One priority's FIFO: async-channel's own queue, without the channel's
/// wake-up machinery (workers sleep on the queue's `Condvar`, so a push
/// that notified the channel's listeners would pay for nobody).
#[cfg(not(corepool_loom))]
type Level = concurrent_queue::ConcurrentQueue<Job>;

#[cfg(not(corepool_loom))]
impl Queue {
    pub(crate) fn new() -> Self {
        Queue {
            levels: [Level::unbounded(), Level::unbounded(), Level::unbounded()],
            used: std::sync::atomic::AtomicUsize::new(1 << crate::lane::Priority::Normal.level()),
            sleepers: std::sync::atomic::AtomicUsize::new(0),
            bed: std::sync::Mutex::new(()),
            wake: std::sync::Condvar::new(),
        }
    }

    /// Queues `job` at priority `level`, or hands it back if the queue is
    /// closed.
    pub(crate) fn push(&self, job: Job, level: usize) -> Result<(), Job> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.used.load(Relaxed) & (1 << level) == 0 {
            self.used.fetch_or(1 << level, Relaxed);
        }
        self.levels[level].push(job).map_err(|e| e.into_inner())?;
        // Dekker with the sleeper's fence (see `pop_blocking`): either this
        // load sees its count, or its look at the queue sees the job.
        std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
        if self.sleepers.load(std::sync::atomic::Ordering::Relaxed) > 0 {
            // Taking and releasing the lock orders this push before a
            // sleeper's look or after its wait began; the notification
            // itself comes after the release, so the woken worker does not
            // wake only to block on a lock the pusher still holds.
            drop(crate::sync::lock(&self.bed));
            self.wake.notify_one();
        }
        Ok(())
    }

    /// The next job of the highest priority there is.
    pub(crate) fn try_pop(&self) -> Result<Job, Empty> {
        const NORMAL: usize = crate::lane::Priority::Normal as usize;
        let used = self.used.load(std::sync::atomic::Ordering::Relaxed);
        if used == 1 << NORMAL {
            // No lane of another priority was ever used: one FIFO, as
            // cheap to poll as a pool without levels (workers poll it in
            // their polling rounds).
            match self.levels[NORMAL].pop() {
                Ok(job) => return Ok(job),
                Err(concurrent_queue::PopError::Empty) => return Err(Empty::Now),
                // Closed: the mask read may predate a push at another level
                // just before the close; "forever" is said only after
                // every level is seen closed and empty, below.
                Err(concurrent_queue::PopError::Closed) => return self.scan(usize::MAX),
            }
        }
        self.scan(used)
    }

    /// Tries the levels in `used` (a bit each), highest first. Reports
    /// `Forever` only if every level is closed and empty: a level outside
    /// `used` is then looked at too (a stale mask must not hide a job
    /// pushed just before the close; a closed queue's `pop` still sees
    /// it).
    fn scan(&self, used: usize) -> Result<Job, Empty> {
        let mut empty = Empty::Forever;
        for (i, level) in self.levels.iter().enumerate() {
            if used & (1 << i) == 0 {
                continue; // never pushed to (as far as `used` tells)
            }
            match level.pop() {
                Ok(job) => return Ok(job),
                Err(concurrent_queue::PopError::Empty) => empty = Empty::Now,
                Err(concurrent_queue::PopError::Closed) => {}
            }
        }
        if empty == Empty::Forever && used != usize::MAX {
            return self.scan(usize::MAX);
        }
        Err(empty)
    }

    /// Blocks until a job arrives; `None` once closed and drained.
    ///
    /// # Protocol
    ///
    /// A worker with nothing to do sleeps on a `Condvar` rather than in
    /// async-channel's `recv_blocking`, whose listener is allocated on every
    /// wait: an idle worker woken for each job would cost an allocation per
    /// job. Under the `bed` lock the worker counts itself in `sleepers`
    /// (`SeqCst`), looks at the queue once more, and only then waits
    /// (releasing the lock atomically). A pusher sends first, then reads
    /// `sleepers`; each side puts a `SeqCst` fence between its write and its
    /// read (the queue's own operations are only acquire/release, so the
    /// fences, not the counter's ordering, make this Dekker's pattern):
    /// either the pusher sees the sleeper and notifies under the lock (which
    /// the sleeper holds until it waits, so the notification cannot fall
    /// between its look and its wait), or the sleeper's look sees the job.
    /// Closing notifies every sleeper the same way.
    pub(crate) fn pop_blocking(&self) -> Option<Job> {
        use std::sync::atomic::Ordering::SeqCst;
        loop {
            let bed = crate::sync::lock(&self.bed);
            self.sleepers.fetch_add(1, SeqCst);
            std::sync::atomic::fence(SeqCst);
            match self.try_pop() {
                Ok(job) => {
                    self.sleepers.fetch_sub(1, SeqCst);
                    return Some(job);
                }
                Err(Empty::Forever) => {
                    self.sleepers.fetch_sub(1, SeqCst);
                    return None;
                }
                Err(Empty::Now) => {}
            }
            let bed = self.wake.wait(bed).unwrap_or_else(|e| e.into_inner());
            self.sleepers.fetch_sub(1, SeqCst);
            drop(bed);
            match self.try_pop() {
                Ok(job) => return Some(job),
                Err(Empty::Forever) => return None,
                Err(Empty::Now) => {} // spurious, or another worker was first
            }
        }
    }

    /// Closes the queue; `true` if this call closed it. Wakes every
    /// sleeping worker to drain what is left and exit.
    pub(crate) fn close(&self) -> bool {
        let mut closed = false;
        for level in &self.levels {
            closed |= level.close();
        }
        let _bed = crate::sync::lock(&self.bed);
        self.wake.notify_all();
        closed
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.levels[LEVELS - 1].is_closed()
    }
}

#[cfg(corepool_loom)]
pub(crate) struct Queue {
    inner: crate::sync::Mutex<([std::collections::VecDeque<Job>; LEVELS], bool)>,
}

#[cfg(corepool_loom)]
impl Queue {
    pub(crate) fn new() -> Self {
        Queue {
            inner: crate::sync::Mutex::new((Default::default(), false)),
        }
    }

    pub(crate) fn push(&self, job: Job, level: usize) -> Result<(), Job> {
        let mut inner = crate::sync::lock(&self.inner);
        if inner.1 {
            return Err(job);
        }
        inner.0[level].push_back(job);
        Ok(())
    }

    pub(crate) fn try_pop(&self) -> Result<Job, Empty> {
        let mut inner = crate::sync::lock(&self.inner);
        match inner.0.iter_mut().find_map(|level| level.pop_front()) {
            Some(job) => Ok(job),
            None if inner.1 => Err(Empty::Forever),
            None => Err(Empty::Now),
        }
    }

    pub(crate) fn pop_blocking(&self) -> Option<Job> {
        loop {
            match self.try_pop() {
                Ok(job) => return Some(job),
                Err(Empty::Forever) => return None,
                Err(Empty::Now) => loom::thread::yield_now(),
            }
        }
    }

    pub(crate) fn close(&self) -> bool {
        !std::mem::replace(&mut crate::sync::lock(&self.inner).1, true)
    }

    pub(crate) fn is_closed(&self) -> bool {
        crate::sync::lock(&self.inner).1
    }
}
