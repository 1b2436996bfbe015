"""Python's Pool.imap with a paused consumer: the workload of
examples/imap_memory.rs (1 KiB result per item; the consumer sleeps, then
takes everything). Prints the parent's peak RSS and the throughput.

    python3 benches/python/imap_memory.py --items 1000000 [--pause-secs 5] [--chunksize 1]
"""
import argparse
import multiprocessing
import resource
import time


def make(i):
    return bytes([i % 256]) * 1024


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--items", type=int, default=1_000_000)
    p.add_argument("--pause-secs", type=float, default=5)
    p.add_argument("--chunksize", type=int, default=1)
    a = p.parse_args()
    with multiprocessing.Pool(multiprocessing.cpu_count()) as pool:
        t = time.time()
        it = pool.imap(make, range(a.items), chunksize=a.chunksize)
        checksum = next(it)[0]
        time.sleep(a.pause_secs)
        resumed = time.time()
        for r in it:
            checksum += r[0]
        busy = time.time() - resumed
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB -> MiB on Linux
        print(
            f"python imap: items={a.items} chunksize={a.chunksize} workers={multiprocessing.cpu_count()} "
            f"peak_rss={peak:.1f} MiB total={time.time() - t:.2f} s after_pause={busy:.2f} s "
            f"throughput={a.items / busy:.0f} items/s checksum={checksum}"
        )


if __name__ == "__main__":
    main()
