//! Allocations per operation, counted by a global allocator across every
//! thread of the process (submitter and workers): one `apply_async` round
//! trip, one `offer`, one sync `apply`, and one item of the blocking `imap`
//! iterator.
//!
//! A job cell holds its result slot, so a round trip allocates the cell and
//! nothing else. The queue (async-channel's unbounded list) allocates one
//! block of 31 slots as the queue's tail moves on, so over many operations
//! the count is 1 + 1/31 per queued job; the bound below allows for that
//! block and nothing more.
//!
//! Its own test binary, with the tests run one at a time under a lock: the
//! counter is process-wide.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

mod common;

use common::{bounded, within};
use corepool::Pool;

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

const ROUNDS: usize = 3_100;

/// The queue's share: one block of 31 slots per 31 jobs.
const QUEUE_BLOCK: f64 = 1.0 / 31.0;

/// Allocations per round of `op`, after a warm-up.
fn per_round(mut op: impl FnMut()) -> f64 {
    for _ in 0..200 {
        op();
    }
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    for _ in 0..ROUNDS {
        op();
    }
    let after = ALLOCATIONS.load(Ordering::SeqCst);
    (after - before) as f64 / ROUNDS as f64
}

#[test]
fn an_apply_async_round_trip_allocates_its_job_cell_only() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A hang fails the test (the watchdog thread is made before counting).
    within(move || {
        let pool = Pool::new(1).unwrap();
        let per = per_round(|| {
            let r = pool.apply_async(|| 7_u64);
            assert_eq!(futures::executor::block_on(r).unwrap(), 7);
        });
        eprintln!("apply_async round trip: {per:.3} allocations");
        assert!(
            per <= 1.0 + QUEUE_BLOCK + 0.01,
            "{per} allocations per round trip"
        );
    });
}

#[test]
fn an_offer_allocates_its_job_cell_only() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A hang fails the test (the watchdog thread is made before counting).
    within(move || {
        let pool = Pool::new(1).unwrap();
        let per = per_round(|| {
            let mut r = pool.offer(|| 7_u64).ok().unwrap();
            assert_eq!(r.get().unwrap(), 7);
        });
        eprintln!("offer: {per:.3} allocations");
        assert!(
            per <= 1.0 + QUEUE_BLOCK + 0.01,
            "{per} allocations per offer"
        );
    });
}

#[test]
fn a_refusal_allocates_nothing() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A hang fails the test (the watchdog thread is made before counting).
    within(move || {
        let pool = bounded(1, 1);
        let busy = common::occupy(&pool, 1);
        let _held = pool.try_reserve().unwrap(); // the only place: full now
        // Under overload the refusals are the common case: an `offer`
        // handed back and a `try_reserve` refused build no job.
        let per = per_round(|| {
            assert!(pool.offer(|| 7_u64).unwrap_err().is_full());
            assert!(pool.try_reserve().unwrap_err().is_full());
        });
        eprintln!("a refused offer and try_reserve: {per:.3} allocations");
        assert_eq!(per, 0.0, "{per} allocations per refusal");
        busy.release();
    });
}

#[test]
fn a_sync_apply_allocates_at_most_once() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A hang fails the test (the watchdog thread is made before counting).
    within(move || {
        let pool = Pool::new(1).unwrap();
        let per = per_round(|| assert_eq!(pool.apply(|| 7_u64).unwrap(), 7));
        eprintln!("sync apply: {per:.3} allocations");
        assert!(
            per <= 1.0 + QUEUE_BLOCK + 0.01,
            "{per} allocations per apply"
        );
    });
}

#[test]
fn the_blocking_imap_iterator_allocates_nothing_per_item() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // A hang fails the test (the watchdog thread is made before counting).
    within(move || {
        let pool = Pool::new(2).unwrap();
        const ITEMS: usize = 100_000;
        // Fixed chunks of 1 000 items: per item, only what a chunk costs
        // (its job, its outcome vector) spread over its items remains.
        let mut it = pool
            .imap(|x: u64| x + 1, 0..ITEMS as u64)
            .chunksize(1_000)
            .into_blocking_iter();
        for _ in 0..10_000 {
            it.next().unwrap().unwrap();
        }
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        let mut n = 0;
        for item in it.by_ref() {
            item.unwrap();
            n += 1;
        }
        let per = (ALLOCATIONS.load(Ordering::SeqCst) - before) as f64 / n as f64;
        assert_eq!(n, ITEMS - 10_000);
        eprintln!("blocking imap: {per:.4} allocations per item");
        assert!(per < 0.05, "{per} allocations per item");
    });
}
