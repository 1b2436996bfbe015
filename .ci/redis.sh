#!/usr/bin/env bash
# A throwaway Redis for the tests of integrations/redis.
#
#   bash .ci/redis.sh start   # prints the port; installs redis-server if missing
#   bash .ci/redis.sh stop    # kills the server started above, by its PID
#
# Or source it and call redis_start / redis_stop. The server listens on
# 127.0.0.1 on a free port, keeps nothing on disk (--save "" --appendonly
# no) and runs in the background. Its PID and port are written under
# $COREPOOL_REDIS_DIR (default: a directory under ${TMPDIR:-/tmp}), and
# redis_start sets REDIS_PORT and REDIS_PID.
set -euo pipefail

: "${COREPOOL_REDIS_DIR:=${TMPDIR:-/tmp}/corepool-redis-ci}"

redis_install() {
    if command -v redis-server >/dev/null && command -v redis-cli >/dev/null; then
        return 0
    fi
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        if command -v sudo >/dev/null; then
            sudo=(sudo)
        else
            echo "redis.sh: redis-server is missing, and installing it needs root or sudo" >&2
            return 1
        fi
    fi
    echo "redis.sh: installing redis-server with apt-get" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >&2
}

# A port nothing listens on now: the one the OS picks for a socket bound to
# port 0 (a race with other processes is possible but unlikely; the server
# failing to bind shows up below as a server that never answers).
redis_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

redis_start() {
    redis_install
    mkdir -p "$COREPOOL_REDIS_DIR"
    if [ -f "$COREPOOL_REDIS_DIR/pid" ] && kill -0 "$(cat "$COREPOOL_REDIS_DIR/pid")" 2>/dev/null; then
        echo "redis.sh: a server started here is still running (PID $(cat "$COREPOOL_REDIS_DIR/pid")); stop it first" >&2
        return 1
    fi
    local port
    port=$(redis_free_port)
    # Backgrounded rather than --daemonize: $! is then the server's own PID.
    redis-server --bind 127.0.0.1 --port "$port" --save "" --appendonly no \
        --dir "$COREPOOL_REDIS_DIR" --logfile "$COREPOOL_REDIS_DIR/redis.log" \
        </dev/null >/dev/null 2>&1 &
    local pid=$!
    echo "$pid" >"$COREPOOL_REDIS_DIR/pid"
    echo "$port" >"$COREPOOL_REDIS_DIR/port"
    local tries=0
    until [ "$(redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null)" = "PONG" ]; do
        tries=$((tries + 1))
        if ! kill -0 "$pid" 2>/dev/null || [ "$tries" -ge 100 ]; then
            echo "redis.sh: redis-server (PID $pid, port $port) did not answer; its log:" >&2
            cat "$COREPOOL_REDIS_DIR/redis.log" >&2 || true
            redis_stop
            return 1
        fi
        sleep 0.1
    done
    REDIS_PORT=$port
    REDIS_PID=$pid
    echo "redis.sh: redis-server PID $pid on 127.0.0.1:$port" >&2
}

redis_stop() {
    local pidfile="$COREPOOL_REDIS_DIR/pid"
    [ -f "$pidfile" ] || return 0
    local pid
    pid=$(cat "$pidfile")
    if kill "$pid" 2>/dev/null; then
        # Up to 5 s for a clean exit, then SIGKILL.
        local tries=0
        while kill -0 "$pid" 2>/dev/null && [ "$tries" -lt 50 ]; do
            sleep 0.1
            tries=$((tries + 1))
        done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$pidfile" "$COREPOOL_REDIS_DIR/port"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    case "${1:-}" in
        start) redis_start && echo "$REDIS_PORT" ;;
        stop) redis_stop ;;
        *)
            echo "usage: $0 start|stop" >&2
            exit 2
            ;;
    esac
fi
