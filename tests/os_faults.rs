//! The OS refusing a thread while a worker recycles: the process's address
//! space is capped (`RLIMIT_AS`, through util-linux's `prlimit`, on this
//! process) below what a replacement worker's stack needs, so every
//! replacement fails to spawn. No job is lost, both workers keep working,
//! and the failure is counted in `Metrics::recycle_failures` (and logged).
//!
//! Its own test binary with a single test: the limit applies to the whole
//! process. Linux only; without `prlimit` the test says so and checks
//! nothing else (it then fails, so a CI without the tool is noticed).

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use corepool::Pool;

/// A worker's stack: reserved address space, never touched.
const STACK: usize = 512 << 20;

fn vm_size_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmSize:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib << 10
}

fn set_address_space_limit(limit: &str) {
    let pid = std::process::id().to_string();
    let status = Command::new("prlimit")
        .args(["--pid", &pid, &format!("--as={limit}:")])
        .status()
        .expect("util-linux's prlimit is needed for this test");
    assert!(status.success(), "prlimit failed");
}

#[test]
fn the_os_refusing_a_replacement_thread_loses_nothing() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let pool = Pool::builder()
            .workers(2)
            .stack_size(STACK)
            .max_tasks_per_worker(1)
            .build()
            .unwrap();
        // Warm up what the workers allocate, then leave room for small
        // allocations but not for another worker's stack.
        for i in 0..4 {
            assert_eq!(pool.apply(move || i).unwrap(), i);
        }
        let limit = vm_size_bytes() + (128 << 20);
        set_address_space_limit(&limit.to_string());
        let results: Vec<_> = (0..40_u32).map(|i| pool.apply_async(move || i)).collect();
        let values: Vec<u32> = results.into_iter().map(|mut r| r.get().unwrap()).collect();
        let m = pool.metrics();
        // Both workers are still there: two tasks that wait for each other.
        let (a_tx, a_rx) = mpsc::channel();
        let (b_tx, b_rx) = mpsc::channel();
        let mut a = pool.apply_async(move || {
            a_tx.send(()).unwrap();
            b_rx.recv_timeout(Duration::from_secs(10)).is_ok()
        });
        let mut b = pool.apply_async(move || {
            b_tx.send(()).unwrap();
            a_rx.recv_timeout(Duration::from_secs(10)).is_ok()
        });
        let both = a.get().unwrap() && b.get().unwrap();
        set_address_space_limit("unlimited");
        pool.close();
        pool.join().unwrap();
        tx.send((values, m, both)).unwrap();
    });
    let (values, m, both) = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the test hung");
    eprintln!("under the limit: {m:?}");
    assert_eq!(values, (0..40).collect::<Vec<_>>(), "no job lost");
    assert!(m.recycle_failures > 0, "the refusal is visible: {m:?}");
    assert_eq!(m.workers, 2);
    assert!(both, "both workers kept working");
}
