//! Fixed-size runs of corepool's hot paths, for instruction counts under
//! callgrind (which do not move with machine load, unlike timings):
//!
//! ```sh
//! cargo build --release -p corepool-benches --example ops
//! valgrind --tool=callgrind target/release/examples/ops p2 20000  # round trips from a tokio task
//! valgrind --tool=callgrind target/release/examples/ops p4 10000  # a burst of tokio tasks
//! valgrind --tool=callgrind target/release/examples/ops p1 300000 # 3 maps of tiny items
//! ```
//!
//! Divide callgrind's "Collected" total by the operation count (P1: 3 × n
//! items). The totals include the process's start-up and the runtime's and
//! workers' idling, so compare versions with the same arguments.

use std::time::Instant;
fn tiny(x: u64) -> u64 {
    x.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(17) ^ x
}
fn main() {
    let mode = std::env::args().nth(1).unwrap();
    let n: u64 = std::env::args().nth(2).unwrap().parse().unwrap();
    let pool = corepool::Pool::new(2).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    match mode.as_str() {
        "p2" => rt.block_on(async {
            tokio::spawn(async move {
                let mut s = 0;
                for i in 0..n {
                    s += pool.apply_async(move || i).await.unwrap();
                }
                s
            })
            .await
            .unwrap();
        }),
        "p1" => rt.block_on(async {
            for _ in 0..3 {
                let v = pool.map_async(tiny, 0..n).await.unwrap();
                assert_eq!(v.len() as u64, n);
            }
        }),
        "p4" => rt.block_on(async {
            let hs: Vec<_> = (0..n)
                .map(|i| {
                    let p = pool.clone();
                    tokio::spawn(async move { p.apply_async(move || i).await.unwrap() })
                })
                .collect();
            for h in hs {
                h.await.unwrap();
            }
        }),
        _ => panic!(),
    }
    eprintln!(
        "{mode} {n}: {:?} ({:.2} us/op)",
        t.elapsed(),
        t.elapsed().as_secs_f64() * 1e6 / n as f64
    );
}
