//! The OS refusing a thread while a worker recycles: the process's address
//! space is capped (`RLIMIT_AS`, through util-linux's `prlimit`, on this
//! process) below what a replacement worker's stack needs, so every
//! replacement fails to spawn. No job is lost, both workers keep working,
//! and the failure is counted in `Metrics::recycle_failures` (and logged).
//!
//! The limit applies to a whole process and cannot be lifted again without
//! spawning a process (which the limit itself may refuse), so the test runs
//! in a child: the test binary re-run with only the (otherwise ignored)
//! `child` test, which lowers its own limit and never raises it. Linux only;
//! without `prlimit` the child fails, and so does the test.

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

use corepool::Pool;

/// A worker's stack: reserved address space, never touched; more than the
/// room left under the limit.
const STACK: usize = 1 << 30;

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
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("the child hung");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut out = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut out).unwrap();
    assert!(status.success(), "the child failed:\n{out}");
    assert!(
        out.contains("1 passed"),
        "the child test did not run:\n{out}"
    );
}

/// Run only by the test above, in a process of its own.
#[test]
#[ignore = "run in a child process by the_os_refusing_a_replacement_thread_loses_nothing"]
fn child() {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let pool = Pool::builder()
            .workers(2)
            .stack_size(STACK)
            .max_tasks_per_worker(1)
            .build()
            .unwrap();
        // Leave room for small allocations (a malloc arena reserves 64 MiB)
        // but not for another worker's stack. Measured before any job runs:
        // no worker has recycled yet, so no exited thread's stack can be
        // given back later and make room that the limit did not count.
        let limit = vm_size_bytes() + (256 << 20);
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
