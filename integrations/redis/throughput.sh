#!/usr/bin/env bash
# Entries per second of the stream recipe, with 1 consumer and with 2
# consumers at once (each a process with a 2-worker pool), on a throwaway
# Redis. From the repository root:
#
#   bash integrations/redis/throughput.sh [ENTRIES] [ROUNDS] [RUNS]
#
# ENTRIES (default 10000) entries per run; ROUNDS (default 500000, about
# 1 ms) rounds of corepool_redis::digest per entry; RUNS (default 1) runs of
# each. The rate of a run is
# the entries acknowledged over the time from the first entry taken to the
# last acknowledgement (the earliest and the latest of the consumers). Each
# run also prints the CPU time the consumers used (per entry: the function
# plus the recipe's overhead) and the CPU time the rest of the machine used
# meanwhile (Redis, and whatever else runs: on a shared machine, the rate
# is only as good as the share of the cores the consumers got).
set -euo pipefail
cd "$(dirname "$0")/../.."
entries=${1:-10000}
rounds=${2:-500000}
runs=${3:-1}

cargo build --release -p corepool-redis --bin corepool-redis-stream
bin=target/release/corepool-redis-stream

# shellcheck source=../../.ci/redis.sh
source .ci/redis.sh
COREPOOL_REDIS_DIR=$(mktemp -d)
export COREPOOL_REDIS_DIR
trap 'redis_stop; rm -rf "$COREPOOL_REDIS_DIR"' EXIT
redis_start
export COREPOOL_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/"

# run CONSUMERS: a fresh stream of $entries, then CONSUMERS at once.
run() {
    local n=$1 stream="bench:$1:$RANDOM"
    "$bin" produce --stream "$stream" --count "$entries" >/dev/null
    local pids=() i
    local before after
    before=$(head -1 /proc/stat)
    for i in $(seq 1 "$n"); do
        # The consumer's CPU time (user, system) goes to c$i.cpu.
        ( TIMEFORMAT='%U %S'; time "$bin" consume --stream "$stream" --group g --consumer "c$i" \
            --workers 2 --rounds "$rounds" --stop-when-idle --block-ms 200 \
            >"$COREPOOL_REDIS_DIR/c$i.out" ) 2>"$COREPOOL_REDIS_DIR/c$i.cpu" &
        pids+=($!)
    done
    for i in "${pids[@]}"; do wait "$i"; done
    after=$(head -1 /proc/stat)
    cat "$COREPOOL_REDIS_DIR"/c*.out | grep '^report' | python3 -c '
import glob, sys
rows = [dict(kv.split("=", 1) for kv in line.split()[1:]) for line in sys.stdin]
acked = sum(int(r["acked"]) for r in rows)
first = min(int(r["first_read_ms"]) for r in rows)
last = max(int(r["last_ack_ms"]) for r in rows)
secs = (last - first) / 1e3
each = ", ".join(r["consumer"] + " " + r["acked"] for r in rows)
cpu = sum(sum(map(float, open(f).read().split()[-2:])) for f in glob.glob(sys.argv[1] + "/c*.cpu"))
busy = lambda line: sum(int(x) for i, x in enumerate(line.split()[1:]) if i not in (3, 4)) / 100
machine = busy(sys.argv[3]) - busy(sys.argv[2])
print(f"{len(rows)} consumer(s) x 2 workers: {acked} entries in {secs:.2f} s = {acked / secs:.0f} entries/s"
      f" ({each}); consumers used {cpu:.1f} CPU s = {1e6 * cpu / acked:.0f} us/entry;"
      f" the rest of the machine {max(machine - cpu, 0):.1f} CPU s")
' "$COREPOOL_REDIS_DIR" "$before" "$after"
    rm -f "$COREPOOL_REDIS_DIR"/c*.out "$COREPOOL_REDIS_DIR"/c*.cpu
    redis-cli -p "$REDIS_PORT" del "$stream" "$stream:results" >/dev/null
}

echo "$entries entries of $rounds rounds each; $(nproc) cores; load average $(cut -d' ' -f1-3 /proc/loadavg)"
for _ in $(seq 1 "$runs"); do
    run 1
    run 2
done
