"""The Python column of BENCHMARKS.md: P1 (map of tiny items), P2 (apply
round trip, back to back and after 1 ms idle) and P3 (64 tasks of ~5 ms)
through multiprocessing.Pool with cpu_count() workers.

    python3 benches/python/pool_bench.py [--long]
"""
import multiprocessing
import statistics
import sys
import time

MASK = (1 << 64) - 1


def tiny(x):
    h = x ^ 0x9E3779B97F4A7C15
    for _ in range(16):
        h = ((h ^ (h >> 29)) * 0xBF58476D1CE4E5B9) & MASK
    return h


def five_ms(_):
    end = time.perf_counter() + 0.005
    h = 1
    while time.perf_counter() < end:
        h = tiny(h)
    return h


def pct(xs, p):
    xs = sorted(xs)
    return xs[round((len(xs) - 1) * p)] * 1e6


def main():
    long = "--long" in sys.argv
    n_workers = multiprocessing.cpu_count()
    with multiprocessing.Pool(n_workers) as pool:
        n = 1_000_000
        t = time.perf_counter()
        [tiny(x) for x in range(n)]
        loop = time.perf_counter() - t
        t = time.perf_counter()
        pool.map(tiny, range(n))
        pm = time.perf_counter() - t
        print(f"P1 loop {loop / n * 1e9:.1f} ns/item, Pool.map {pm / n * 1e9:.1f} ns/item")

        seq = 100_000 if long else 10_000
        lat = []
        for i in range(seq):
            t = time.perf_counter()
            pool.apply(tiny, (i,))
            lat.append(time.perf_counter() - t)
        print(f"P2 apply back to back ({seq}): mean {statistics.mean(lat) * 1e6:.1f} us, "
              f"p50 {pct(lat, .5):.1f} us, p99 {pct(lat, .99):.1f} us")
        idle = 10_000 if long else 500
        lat = []
        for i in range(idle):
            time.sleep(0.001)
            t = time.perf_counter()
            pool.apply(tiny, (i,))
            lat.append(time.perf_counter() - t)
        print(f"P2 apply after 1 ms idle ({idle}): p50 {pct(lat, .5):.1f} us, p99 {pct(lat, .99):.1f} us")

        t = time.perf_counter()
        [five_ms(i) for i in range(64)]
        loop = time.perf_counter() - t
        t = time.perf_counter()
        pool.map(five_ms, range(64), chunksize=1)
        pm = time.perf_counter() - t
        print(f"P3 64x5ms loop {loop:.3f} s, Pool.map {pm:.3f} s, speed-up x{loop / pm:.2f}")


if __name__ == "__main__":
    main()
