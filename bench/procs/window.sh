#!/usr/bin/env bash
# One senim serve and one `senim load acts` run against it; over a window
# after the sign-ins, the CPU of the server, of the tool and of the whole
# machine (both cores, /proc/stat), and the server's voluntary context
# switches (docs/performance-cpu.md, "The act path's system calls").
#
#   bench/procs/window.sh NAME BIN PORT     # e.g. new /tmp/senim-new 21400
#
# Environment: RATE (30 acts/s), DUR (40s), DELAY (7: the window opens when
# the tool reports this second of its run, the sign-ins over), WINDOW (20
# seconds), OUT (/tmp/window), PERF (set: perf record -g
# of the server over the window, to $OUT/NAME.perf). "machine-tool" is what
# the server cost with the kernel's work for it, a kernel worker's fsyncs
# included, which the server's own CPU does not count. Clock ticks (100 a
# second here).
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: $0 NAME BIN PORT" >&2; exit 2; }
name=$1 bin=$2 port=$3 out=${OUT:-/tmp/window}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
data=$out/data-$name
rm -rf "$data" && mkdir -p "$data"
SENIM_DATA_DIR=$data SENIM_HTTP_ADDR=127.0.0.1:$port SENIM_TURN_ADDR=127.0.0.1:$((port + 1)) \
	SENIM_DOCUMENT_PUBLIC_URL=http://127.0.0.1:$port SENIM_LIMITS_MAX_CONNS_PER_IP=19000 \
	SENIM_LIMITS_MAX_CONNS=19000 SENIM_LOG_LEVEL=warn SENIM_MEDIA_RECORD=false \
	"$bin" serve --config "$root/config.toml" >"$out/$name.server.log" 2>&1 &
pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
(cd "$root" && exec "$bin" load acts --duration "${DUR:-40s}" --rate "${RATE:-30}" --notaries 32 --citizens 64 \
	--addr "127.0.0.1:$port" --data "$data" >"$out/$name.txt" 2>&1) &
tool=$!
for _ in $(seq 3000); do
	grep -qE "^ *${DELAY:-7}s " "$out/$name.txt" 2>/dev/null && break
	kill -0 $tool 2>/dev/null || break
	sleep 0.1
done
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
busy() { awk '/^cpu /{print $2 + $3 + $4 + $7 + $8 + $9}' /proc/stat; }
vol() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/{v += $2} END{print v}'; }
s0=$(ticks $pid) t0=$(ticks $tool) m0=$(busy) v0=$(vol $pid)
if [ -n "${PERF:-}" ]; then
	perf record -F 1999 -g -o "$out/$name.perf" -p $pid -- sleep "${WINDOW:-20}" >/dev/null 2>&1
else
	sleep "${WINDOW:-20}"
fi
s1=$(ticks $pid) t1=$(ticks $tool) m1=$(busy) v1=$(vol $pid)
wait $tool
procs=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^senim_runtime_procs /{p = $2} /^senim_runtime_procs_changes_total /{c = $2} /^senim_store_block_cache_hits_total /{h = $2} /^senim_store_block_cache_misses_total /{m = $2} END{print p " (" c " changes) block-cache hits " h " misses " m}')
kill $pid 2>/dev/null
wait $pid 2>/dev/null
rm -rf "$data"
echo "$name: server $((s1 - s0)) tool $((t1 - t0)) machine $((m1 - m0)) machine-tool $((m1 - m0 - (t1 - t0))) voluntary-switches $((v1 - v0)) procs $procs | $(grep -E 'acts/s over|CPU per act|less the tool' "$out/$name.txt" | tr -s ' ' | sed 's/server RSS.*//' | tr '\n' ' ')"
