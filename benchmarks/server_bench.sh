#!/usr/bin/env bash
# pulsards vs a fresh redis-server, side by side, with redis-benchmark.
#
#   benchmarks/server_bench.sh            # defaults below
#   N=200000 ROUNDS=3 TESTS=set,get benchmarks/server_bench.sh
#   CUSTOM="XADD s * f v;HSET h f v" benchmarks/server_bench.sh   # any commands
#
# Both servers run on free ports (redis-server with --save '' --appendonly no)
# and are stopped at the end, whatever happens.  For every test and pipeline
# depth the two servers are measured alternately ROUNDS times and the best
# round of each is kept (the machine is shared: the best is the least noisy).
# Prints requests per second and the pulsards/Redis ratio, the server's CPU
# time per request (from /proc/PID/schedstat, least of the rounds; the CPU a
# request costs moves far less with the machine's other load than the rate
# does); first, on the fresh servers, memory per key for 200k small string
# keys.  Besides the redis-benchmark tests (TESTS), CUSTOM commands are
# measured the same way (XADD by default: streams have no test of their
# own).  Needs redis-server and redis-benchmark (Debian's redis-server and
# redis-tools packages).
set -euo pipefail

cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
N=${N:-100000}
CLIENTS=${CLIENTS:-50}
ROUNDS=${ROUNDS:-2}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-ping_inline,ping_mbulk,set,get,incr,lpush,lpop,sadd,hset,zadd,zpopmin,lrange_100,mset}
# Commands redis-benchmark has no test of its own for, ";"-separated.
CUSTOM=${CUSTOM-"XADD bench:stream * field value"}
MEMORY_KEYS=${MEMORY_KEYS:-200000}

for tool in redis-server redis-benchmark; do
    command -v "$tool" >/dev/null || { echo "server_bench: $tool not found (apt-get install redis-server redis-tools)" >&2; exit 2; }
done

workdir=$(mktemp -d -t pulsards-bench.XXXXXX)
pulsards_pid=""
redis_pid=""
cleanup() {
    [ -n "$pulsards_pid" ] && kill "$pulsards_pid" 2>/dev/null && wait "$pulsards_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    rm -rf "$workdir"
}
trap cleanup EXIT INT TERM

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

"$PY" -m stores.pulsards --port 0 --loglevel warning >"$workdir/pulsards.out" 2>"$workdir/pulsards.err" &
pulsards_pid=$!
redis_port=$(free_port)
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$workdir" \
    --daemonize no >"$workdir/redis.log" 2>&1 &
redis_pid=$!

for _ in $(seq 100); do
    pulsards_port=$(sed -n 's/^pulsards ready port=//p' "$workdir/pulsards.out")
    if [ -n "$pulsards_port" ] && redis-cli -p "$redis_port" ping >/dev/null 2>&1; then break; fi
    sleep 0.1
done
[ -n "${pulsards_port:-}" ] || { echo "server_bench: pulsards did not start" >&2; cat "$workdir/pulsards.err" >&2; exit 1; }

# best_rps PORT TEST PIPELINE -> "NAME RPS" lines (redis-benchmark may print several tests)
run_bench() {
    local what=(-t "$2")
    [[ $2 == *" "* ]] && read -r -a what <<<"$2"  # a custom command, its words as they are
    redis-benchmark -h 127.0.0.1 -p "$1" -c "$CLIENTS" -n "$N" -P "$3" --csv "${what[@]}" \
        2>/dev/null | tail -n +2 | tr -d '"' | awk -F, '{print $1 "," $2}'
}

# The server's CPU time so far, in ns (user + system, of its main thread: the
# one that serves requests in both servers).
cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }

# Memory first, on fresh servers: RSS growth per key for MEMORY_KEYS keys of 16 bytes
# holding 32-byte values (after the rate tests, memory their data freed would be
# reused and the growth understated).
"$PY" - "$redis_port" "$pulsards_port" "$MEMORY_KEYS" <<'PYEOF'
import sys
import redis

def rss(client):
    return int(client.info("memory")["used_memory_rss"])

print()
print(f"memory: {int(sys.argv[3])} keys (16-byte keys, 32-byte values)")
results = {}
for name, port in (("redis", int(sys.argv[1])), ("pulsards", int(sys.argv[2]))):
    client = redis.Redis(port=port)
    client.flushall()
    before = rss(client)
    pipe = client.pipeline(transaction=False)
    for i in range(int(sys.argv[3])):
        pipe.set(b"key:%012d" % i, b"v" * 32)
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()
    after = rss(client)
    results[name] = (after - before) / int(sys.argv[3])
    print(f"  {name:9s} {results[name]:8.1f} bytes/key (RSS {before} -> {after})")
    client.flushall()
    client.close()
if results["redis"] > 0:
    print(f"  ratio pulsards/redis: {results['pulsards'] / results['redis']:.2f}")
else:  # too few keys for Redis' RSS to move a page
    print("  ratio pulsards/redis: - (raise MEMORY_KEYS)")
PYEOF

declare -A best cpu
echo "redis-benchmark -c $CLIENTS -n $N, best of $ROUNDS alternating rounds; redis-server $(redis-server --version | sed 's/.*v=\([^ ]*\).*/\1/') on :$redis_port, pulsards on :$pulsards_port"
for pipeline in $PIPELINES; do
    IFS=',' read -r -a tests <<<"$TESTS"
    IFS=';' read -r -a custom <<<"$CUSTOM"
    for test in "${tests[@]}" "${custom[@]}"; do
        for _ in $(seq "$ROUNDS"); do
            for server in redis pulsards; do
                port=$redis_port pid=$redis_pid
                [ "$server" = pulsards ] && port=$pulsards_port pid=$pulsards_pid
                redis-cli -p "$port" flushall >/dev/null
                before=$(cpu_ns "$pid")
                lines=$(run_bench "$port" "$test" "$pipeline")
                spent=$(( $(cpu_ns "$pid") - before ))
                while IFS=, read -r name rps; do
                    key="$pipeline|$name|$server"
                    old=${best[$key]:-0}
                    if awk -v a="$rps" -v b="$old" 'BEGIN{exit !(a>b)}'; then best[$key]=$rps; fi
                    # A run that measures two commands (LRANGE fills its list with
                    # LPUSH first) gives no CPU time of either alone.
                    [ "$(wc -l <<<"$lines")" = 1 ] || continue
                    us=$(awk -v ns="$spent" -v n="$N" 'BEGIN{printf "%.3f", ns / n / 1000}')
                    old=${cpu[$key]:-}
                    if [ -z "$old" ] || awk -v a="$us" -v b="$old" 'BEGIN{exit !(a<b)}'; then cpu[$key]=$us; fi
                done <<<"$lines"
            done
        done
    done
done

printf '\n%-4s %-36s %11s %13s %6s   %s\n' "P" "test" "redis rps" "pulsards rps" "ratio" \
    "CPU us/request: redis pulsards ratio"
for pipeline in $PIPELINES; do
    for key in "${!best[@]}"; do
        case $key in "$pipeline|"*"|redis") echo "${key%|redis}";; esac
    done | sort | while read -r test_key; do
        name=${test_key#*|}
        r=${best[$test_key|redis]:-0}
        p=${best[$test_key|pulsards]:-0}
        ratio=$(awk -v a="$p" -v b="$r" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }')
        rc=${cpu[$test_key|redis]:-} pc=${cpu[$test_key|pulsards]:-}
        # Redis' CPU per request over pulsards': comparable with the rps ratio.
        cpu_ratio=$(awk -v a="$rc" -v b="$pc" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "-" }')
        printf '%-4s %-36s %11.0f %13.0f %6s   %14s %8s %5s\n' "$pipeline" "$name" "$r" "$p" \
            "$ratio" "${rc:--}" "${pc:--}" "$cpu_ratio"
    done
done
