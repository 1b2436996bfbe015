//! Pools give back everything they take: heap, threads and the address
//! space of their threads' stacks. Forty thousand pools are built and
//! dropped (half joined, half just dropped), and the process must end where
//! it began.
//!
//! This file is its own test binary with a single test, because it counts
//! the whole process's live heap through a global allocator and its threads
//! and memory mappings through `/proc/self`: another test running beside it
//! would move those figures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::{Duration, Instant};

use corepool::Pool;

/// Counts the bytes currently allocated by the process.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const POOLS: usize = 40_000;

fn threads() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("Threads:")).unwrap();
    line["Threads:".len()..].trim().parse().unwrap()
}

fn mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps")
        .unwrap()
        .lines()
        .count()
}

fn live_bytes() -> isize {
    LIVE.load(Ordering::Relaxed)
}

/// Waits (bounded) until `probe` is at most `limit`, returning its last value.
fn settle(limit: usize, probe: impl Fn() -> usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = probe();
        if now <= limit || Instant::now() > deadline {
            return now;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn cycle(pools: usize) {
    for i in 0..pools {
        let pool = Pool::new(1).unwrap();
        pool.apply_async(|| ()).detach();
        if i % 2 == 0 {
            pool.close();
            pool.join().unwrap();
        }
        // Odd pools are dropped while their worker may still be running:
        // the worker exits on its own and must take its state with it.
    }
}

/// Settles and checks threads, mappings and live heap against the baseline.
fn assert_at_baseline(what: &str, threads_before: usize, maps_before: usize, heap_before: isize) {
    let threads_after = settle(threads_before, threads);
    // Stacks of exited threads are unmapped once they are joined or
    // detached (glibc keeps a small cache of them).
    let maps_after = settle(maps_before + 64, mappings);
    let heap_after = settle((heap_before + 64 * 1024) as usize, || {
        live_bytes().max(0) as usize
    }) as isize;
    eprintln!(
        "{what}: threads {threads_before} -> {threads_after}, \
         mappings {maps_before} -> {maps_after}, live heap {heap_before} -> {heap_after} bytes"
    );
    assert_eq!(
        threads_after, threads_before,
        "{what}: threads left running"
    );
    assert!(
        maps_after <= maps_before + 64,
        "{what}: mappings grew from {maps_before} to {maps_after}: stacks were not released"
    );
    // ~4 KiB per leaked pool would be ~160 MiB here.
    assert!(
        heap_after - heap_before < 64 * 1024,
        "{what}: live heap grew by {} bytes",
        heap_after - heap_before
    );
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "reads /proc/self")]
fn forty_thousand_pools_leave_heap_threads_and_mappings_at_baseline() {
    // A hang fails the test. The watchdog is started before the baseline is
    // taken, so it is one of the threads counted there; `within` cannot be
    // used here, as its thread would come and go between the counts.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(240));
        eprintln!("test hung: the pools did not come back within 240 s");
        std::process::exit(101);
    });
    let threads_before = threads(); // no pool yet: the harness's own threads
    // Warm up: first-use allocations (thread-locals, tracing's callsite
    // registry, the allocator's own caches) are not leaks.
    cycle(200);
    assert_eq!(settle(threads_before, threads), threads_before);
    let maps_before = mappings();
    let heap_before = live_bytes();

    // From two threads at once (joined before the counts), which halves
    // the wall time on two cores and races pool teardown against pool
    // construction elsewhere in the process.
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| cycle(POOLS / 2));
        }
    });
    assert_at_baseline("40000 pools", threads_before, maps_before, heap_before);

    // Recycled workers leave nothing behind either: 1 000 threads come and go.
    let recycled = Pool::builder()
        .workers(2)
        .max_tasks_per_worker(1)
        .build()
        .unwrap();
    recycled
        .run(corepool::Map::new(|x: u32| x, 0..1_000).chunksize(1))
        .unwrap();
    recycled.close();
    recycled.join().unwrap();
    drop(recycled);
    assert_at_baseline(
        "1000 recycled workers",
        threads_before,
        maps_before,
        heap_before,
    );
}
