//! [`PoolBuilder`]: configuration, and the start-up that either yields a
//! fully running pool or tears down everything it started.

use std::fmt;
use std::sync::{Arc, mpsc};
use std::time::Duration;

use crate::error::BuildError;
use crate::limits;
use crate::registry::{Admission, Registry};
use crate::state::MakeState;
use crate::worker::{Initializer, NameError, Spawner, StartStep, ThreadName};

/// Configures and builds a [`Pool`](crate::Pool).
///
/// # Examples
///
/// ```
/// use std::cell::Cell;
///
/// thread_local!(static SCRATCH: Cell<u64> = const { Cell::new(0) });
///
/// let pool = corepool::Pool::builder()
///     .workers(3)
///     .thread_name(|i| format!("hasher-{i}"))
///     .initializer(|| SCRATCH.with(|s| s.set(42)))
///     .build()?;
/// assert_eq!(pool.workers(), 3);
/// assert_eq!(pool.apply(|| SCRATCH.with(|s| s.get()))?, 42);
/// let name = pool.apply(|| std::thread::current().name().unwrap().to_owned())?;
/// assert!(name.starts_with("hasher-"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[must_use = "a builder does nothing until `build` is called"]
#[derive(Default)]
pub struct PoolBuilder {
    workers: Option<usize>,
    thread_name: Option<ThreadName>,
    stack_size: Option<usize>,
    initializer: Option<Initializer>,
    max_tasks_per_worker: Option<usize>,
    queue_capacity: Option<usize>,
    max_queue_wait: Option<Duration>,
    queue_wait_target: Option<Duration>,
    #[cfg(test)]
    fail_spawn_at: Option<usize>,
}

impl PoolBuilder {
    /// A builder with the defaults: [`cpu_count()`](cpu_count)
    /// workers named `corepool-worker-{index}`, the platform's default stack
    /// size, no initializer.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::PoolBuilder::new().build()?;
    /// assert_eq!(pool.workers(), corepool::cpu_count());
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// The number of worker threads (Python's `processes`). Defaults to
    /// [`cpu_count()`](cpu_count). Zero, or more than
    /// [`MAX_WORKERS`](crate::MAX_WORKERS), makes [`build`](Self::build)
    /// fail.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(2).build()?;
    /// assert_eq!(pool.workers(), 2);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = Some(workers);
        self
    }

    /// Names worker `i` (from 0) `name(i)`. Defaults to
    /// `corepool-worker-{i}`. A name containing a NUL byte, or a `name`
    /// that panics, makes [`build`](Self::build) fail.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).thread_name(|i| format!("cpu-{i}")).build()?;
    /// let name = pool.apply(|| std::thread::current().name().map(str::to_owned))?;
    /// assert_eq!(name.as_deref(), Some("cpu-0"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn thread_name(mut self, name: impl Fn(usize) -> String + Send + Sync + 'static) -> Self {
        self.thread_name = Some(Arc::new(name));
        self
    }

    /// The stack size of each worker thread, in bytes. Defaults to the
    /// standard library's default for spawned threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corepool::Pool::builder().workers(1).stack_size(8 << 20).build()?;
    /// assert_eq!(pool.apply(|| 1)?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Runs `init` once on each worker thread, before it takes any task
    /// (Python's `initializer`). [`build`](Self::build) waits for every
    /// worker's initializer; if one panics, `build` fails and no thread is
    /// left running (CPython instead respawns the worker forever,
    /// gh-87472).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    /// use std::sync::Arc;
    ///
    /// let started = Arc::new(AtomicUsize::new(0));
    /// let counter = started.clone();
    /// let pool = corepool::Pool::builder()
    ///     .workers(4)
    ///     .initializer(move || { counter.fetch_add(1, Ordering::SeqCst); })
    ///     .build()?;
    /// assert_eq!(started.load(Ordering::SeqCst), 4);
    /// # Ok::<(), corepool::BuildError>(())
    /// ```
    pub fn initializer(mut self, init: impl Fn() + Send + Sync + 'static) -> Self {
        self.initializer = Some(Arc::new(init));
        self
    }

    /// Bounds the queue: at most `capacity` jobs (an `apply`, a map or
    /// `imap` chunk) wait for a worker. Defaults to unbounded, as Python's
    /// Pool: a bound is a service's load-shedding policy, and an implicit one
    /// would make ordinary programs fail. A slot for each place is allocated
    /// at [`build`](Self::build), so `capacity` must be from 1 to
    /// [`MAX_QUEUE_CAPACITY`](crate::MAX_QUEUE_CAPACITY); anything else
    /// makes `build` fail.
    ///
    /// When the queue is full, [`Pool::apply_async`](crate::Pool::apply_async) and
    /// [`Pool::spawn`](crate::Pool::spawn) resolve at once to a cancelled error
    /// ([`Cancellation::QueueFull`](crate::Cancellation::QueueFull)), shed
    /// before any work starts. A map (`map`, `map_async`, `starmap`, a
    /// `Map` through `spawn` or `run`) is shed the same way when one of its
    /// chunks finds the queue full; without an explicit `chunksize` it is
    /// cut into no more chunks than the queue has free places at the call
    /// (for an input whose length is known), so only a (nearly) full queue
    /// sheds it. Nested work is not shed: a map or `apply` waited on by one
    /// of the pool's own workers runs what does not fit on that worker, and
    /// a job a waiting worker runs inline gives its place back at once.
    /// [`Pool::offer`](crate::Pool::offer) refuses at once and hands the work back;
    /// [`Pool::submit`](crate::Pool::submit) waits for room; an `imap` stream waits for room
    /// before it pulls more input.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use corepool::SubmitError;
    ///
    /// let pool = corepool::Pool::builder().workers(1).queue_capacity(1).build()?;
    /// let (release, hold) = mpsc::channel::<()>();
    /// let (started, has_started) = mpsc::channel();
    /// let busy = pool.apply_async(move || { started.send(()).unwrap(); hold.recv().unwrap() });
    /// has_started.recv()?; // the worker is busy
    /// let queued = pool.offer(|| 1).expect("room for one");
    /// match pool.offer(|| 2) {
    ///     Err(SubmitError::Full(f)) => assert_eq!(f(), 2), // the closure, handed back
    ///     other => panic!("{other:?}"),
    /// }
    /// release.send(())?;
    /// # drop((busy, queued));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = Some(capacity);
        self
    }

    /// Replaces each worker thread with a fresh one after it has run `n`
    /// jobs (Python's `maxtasksperchild`): the initializer runs again on the
    /// new thread, and thread-locals start over, so caches that grow or
    /// native libraries that leak are bounded. Defaults to never. `n = 0`
    /// makes [`build`](Self::build) fail.
    ///
    /// A job is one `apply`, or one chunk of a map or an `imap`. The new
    /// thread is started before the old one leaves, so results are never
    /// lost and the pool never runs short of workers; if the new thread
    /// cannot start (the initializer panics), the old one keeps working.
    /// `close`, `join` and `terminate` keep their meaning throughout.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::collections::HashSet;
    ///
    /// let pool = corepool::Pool::builder().workers(1).max_tasks_per_worker(2).build()?;
    /// let threads: HashSet<_> = (0..6)
    ///     .map(|_| pool.apply(|| std::thread::current().id()))
    ///     .collect::<Result<_, _>>()?;
    /// assert_eq!(threads.len(), 3, "a fresh thread every two tasks");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_tasks_per_worker(mut self, n: usize) -> Self {
        self.max_tasks_per_worker = Some(n);
        self
    }

    /// A job that has waited in the queue longer than `wait` never runs: it
    /// resolves as cancelled with
    /// [`DeadlineExpired`](crate::Cancellation::DeadlineExpired) when a
    /// worker reaches it, so a backlog is not spent on requests whose
    /// clients have long given up (a deadline of the pool's own, for work
    /// submitted without [`Apply::deadline`](crate::Apply::deadline)).
    /// It applies to work waiting to begin: an `apply`, a map's first chunk
    /// (its later chunks wait behind its own), not to an `imap`'s chunks
    /// nor to a job a waiting worker runs inline. Time a submitter spends
    /// waiting for room ([`submit`](crate::Pool::submit)) is not queue
    /// wait. Defaults to none. Zero makes [`build`](Self::build) fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corepool::Cancellation;
    ///
    /// let pool = corepool::Pool::builder()
    ///     .workers(1)
    ///     .max_queue_wait(Duration::from_millis(20))
    ///     .build()?;
    /// let (release, hold) = std::sync::mpsc::channel::<()>();
    /// let busy = pool.apply_async(move || hold.recv().ok());
    /// let mut stale = pool.apply_async(|| "too late");
    /// std::thread::sleep(Duration::from_millis(50)); // it waits 50 ms > 20 ms
    /// release.send(())?;
    /// let err = stale.get().unwrap_err();
    /// assert_eq!(err.cancellation(), Some(Cancellation::DeadlineExpired));
    /// # drop(busy);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn max_queue_wait(mut self, wait: Duration) -> Self {
        self.max_queue_wait = Some(wait);
        self
    }

    /// Admission by queue delay: while the wait a new job can expect (the
    /// jobs queued ahead × the mean run time of recent jobs / the workers)
    /// is above `target`, the pool refuses new work at once, as a full
    /// queue does
    /// ([`SubmitError::Full`](crate::SubmitError::Full) from
    /// [`offer`](crate::Pool::offer), shed as
    /// [`QueueFull`](crate::Cancellation::QueueFull) by
    /// [`spawn`](crate::Pool::spawn); [`submit`](crate::Pool::submit) and
    /// [`reserve`](crate::Pool::reserve) wait). An operator states the
    /// latency the service can afford instead of guessing a queue length;
    /// it combines with [`queue_capacity`](Self::queue_capacity). Places
    /// held by unspent permits are not counted as jobs ahead; every queued
    /// job is, whatever its lane or priority. The later chunks of a map
    /// admitted by its first need only room (they wait behind the map's
    /// own). Defaults to none. Zero makes [`build`](Self::build) fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corepool::Pool::builder()
    ///     .workers(2)
    ///     .queue_wait_target(Duration::from_millis(20))
    ///     .build()?;
    /// // An idle pool admits everything.
    /// assert_eq!(pool.offer(|| 1)?.get()?, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queue_wait_target(mut self, target: Duration) -> Self {
        self.queue_wait_target = Some(target);
        self
    }

    /// Starts the worker threads and returns the registry once every one
    /// of them has run its initializer (and made its state): what `build`
    /// (`pool.rs`) and `build_with_state` (`stateful.rs`) wrap.
    pub(crate) fn start(self, state: Option<MakeState>) -> Result<Arc<Registry>, BuildError> {
        let workers = self.workers.unwrap_or_else(cpu_count);
        limits::check(workers, self.max_tasks_per_worker, self.queue_capacity)?;
        if self.max_queue_wait == Some(Duration::ZERO) {
            return Err(BuildError::zero_wait("max_queue_wait"));
        }
        if self.queue_wait_target == Some(Duration::ZERO) {
            return Err(BuildError::zero_wait("queue_wait_target"));
        }
        crate::unwind::install_location_hook();
        let spawner = Arc::new(Spawner {
            thread_name: self.thread_name,
            stack_size: self.stack_size,
            initializer: self.initializer,
            state,
            max_tasks: self.max_tasks_per_worker,
        });
        let admission = Admission {
            capacity: self.queue_capacity,
            wait_target: self.queue_wait_target,
            max_queue_wait: self.max_queue_wait,
        };
        let (registry, shutdown) = Registry::new(workers, admission);
        // Until disarmed, tears the half-built pool down (rayon's Terminator).
        // It borrows the registry, so disarming it leaks nothing.
        let mut guard = TearDown {
            registry: &registry,
            armed: true,
        };
        let (report_tx, report_rx) = mpsc::channel();
        for index in 0..workers {
            let name = spawner.name(index).map_err(|e| match e {
                NameError::Panicked(message) => BuildError::thread_name_panicked(index, message),
                NameError::Nul => BuildError::thread_name(index),
            })?;
            #[cfg(test)]
            if self.fail_spawn_at == Some(index) {
                return Err(BuildError::spawn(std::io::Error::other(
                    "injected spawn failure",
                )));
            }
            let handle = spawner
                .spawn(
                    name,
                    registry.clone(),
                    index,
                    0,
                    report_tx.clone(),
                    shutdown.clone(),
                )
                .map_err(BuildError::spawn)?;
            registry.add_thread(handle);
        }
        drop((report_tx, shutdown));
        // One report per worker; a worker that died without reporting shows
        // up as a closed channel.
        for _ in 0..workers {
            match report_rx.recv() {
                Ok((_, Ok(()))) => {}
                Ok((index, Err((StartStep::Initializer, message)))) => {
                    return Err(BuildError::initializer(index, message));
                }
                Ok((index, Err((StartStep::State, message)))) => {
                    return Err(BuildError::state(index, message));
                }
                Err(_) => {
                    return Err(BuildError::spawn(std::io::Error::other(
                        "a worker thread exited before it started",
                    )));
                }
            }
        }
        guard.armed = false;
        drop(guard);
        tracing::debug!(pool = registry.id, workers, "pool started");
        Ok(registry)
    }

    #[cfg(test)]
    fn fail_spawn_at(mut self, index: usize) -> Self {
        self.fail_spawn_at = Some(index);
        self
    }
}

/// Terminates and joins a pool whose build failed, while armed.
struct TearDown<'a> {
    registry: &'a Registry,
    armed: bool,
}

impl Drop for TearDown<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.registry.terminate();
            self.registry.join_threads();
        }
    }
}

impl fmt::Debug for PoolBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Destructured, so that a new field cannot be left out (rayon's trick).
        let PoolBuilder {
            workers,
            thread_name,
            stack_size,
            initializer,
            max_tasks_per_worker,
            queue_capacity,
            max_queue_wait,
            queue_wait_target,
            #[cfg(test)]
                fail_spawn_at: _,
        } = self;
        let closure = |set: bool| if set { Some("<closure>") } else { None };
        f.debug_struct("PoolBuilder")
            .field("workers", workers)
            .field("thread_name", &closure(thread_name.is_some()))
            .field("stack_size", stack_size)
            .field("initializer", &closure(initializer.is_some()))
            .field("max_tasks_per_worker", max_tasks_per_worker)
            .field("queue_capacity", queue_capacity)
            .field("max_queue_wait", max_queue_wait)
            .field("queue_wait_target", queue_wait_target)
            .finish()
    }
}

#[cfg(all(test, not(corepool_loom)))]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts live worker threads through a thread-local guard.
    fn counting_builder(live: &Arc<AtomicUsize>) -> PoolBuilder {
        struct Live(Arc<AtomicUsize>);
        impl Drop for Live {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        thread_local!(static GUARD: std::cell::RefCell<Option<Live>> = const { std::cell::RefCell::new(None) });
        let live = live.clone();
        PoolBuilder::new().initializer(move || {
            live.fetch_add(1, Ordering::SeqCst);
            GUARD.with(|g| *g.borrow_mut() = Some(Live(live.clone())));
        })
    }

    #[test]
    fn failed_spawn_tears_down_started_threads() {
        let live = Arc::new(AtomicUsize::new(0));
        let (ran_init, init_ran) = mpsc::channel::<()>();
        let (ran_init, init_ran) = (
            std::sync::Mutex::new(ran_init),
            std::sync::Mutex::new(init_ran),
        );
        let counting = counting_builder(&live);
        let init = counting.initializer.clone().unwrap();
        let err = counting
            .initializer(move || {
                init();
                ran_init.lock().unwrap().send(()).unwrap();
            })
            // Naming worker 2 (just before its spawn fails) waits until
            // workers 0 and 1 are running, so the teardown has live threads
            // to stop; `live` then shows whether `build` joined them.
            .thread_name(move |i| {
                if i == 2 {
                    for _ in 0..2 {
                        init_ran.lock().unwrap().recv().unwrap();
                    }
                }
                format!("w{i}")
            })
            .workers(4)
            .fail_spawn_at(2)
            .build()
            .unwrap_err();
        // The io error is the source, not repeated in the message.
        let source = std::error::Error::source(&err).expect("the io error");
        assert_eq!(source.to_string(), "injected spawn failure");
        assert_eq!(err.to_string(), "failed to spawn a worker thread");
        // `build` joined the two threads it had started: their thread-local
        // guards have been dropped.
        assert_eq!(live.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn initializer_panic_on_one_worker_fails_the_build_and_stops_the_rest() {
        let calls = Arc::new(AtomicUsize::new(0));
        let calls2 = calls.clone();
        let err = PoolBuilder::new()
            .workers(3)
            .initializer(move || {
                if calls2.fetch_add(1, Ordering::SeqCst) == 1 {
                    panic!("second worker cannot start");
                }
            })
            .build()
            .unwrap_err();
        assert!(err.is_initializer_panic());
        assert!(
            err.to_string().contains("second worker cannot start"),
            "{err}"
        );
        // Each worker ran the initializer once; none was respawned.
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn debug_hides_closures() {
        let b = PoolBuilder::new().workers(2).initializer(|| {});
        let s = format!("{b:?}");
        assert!(s.contains("<closure>") && s.contains("Some(2)"), "{s}");
    }
}

/// The number of CPUs available to this process (Python's `cpu_count()`),
/// the default number of workers. At least 1.
///
/// # Examples
///
/// ```
/// assert!(corepool::cpu_count() >= 1);
/// ```
pub fn cpu_count() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
