#!/usr/bin/env bash
# Two builds of Senim side by side under the same calls load (a change's
# before and after): alternately, ROUNDS rounds, each server fresh; prints
# B/A of the server's CPU per forwarded packet, min/median/max of the
# rounds' ratios.
#
#   bench/livekit/ab.sh /tmp/senim-before /tmp/senim-after
#
# Environment: ROUNDS (3), ROOMS ("20"), RECORD ("false true"), WARMUP (5s),
# WINDOW (20s), OUT (a new directory under /tmp).
set -euo pipefail
A=$1 B=$2
ROUNDS=${ROUNDS:-3}
ROOMS=${ROOMS:-20}
RECORD=${RECORD:-"false true"}
WARMUP=${WARMUP:-5s}
WINDOW=${WINDOW:-20s}
OUT=${OUT:-$(mktemp -d /tmp/senim-ab.XXXXXX)}
SENIM_PORT=${SENIM_PORT:-18480}
mkdir -p "$OUT"
ulimit -n 20000 2>/dev/null || true
pid=""
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap stop EXIT
# one BIN LABEL ROUND ROOMS RECORD
one() {
	local data="$OUT/data" name="$2-rec$5-$4-r$3"
	rm -rf "$data" && mkdir -p "$data"
	SENIM_DATA_DIR="$data" SENIM_HTTP_ADDR=127.0.0.1:$SENIM_PORT SENIM_TURN_ADDR=127.0.0.1:$((SENIM_PORT + 1)) \
		SENIM_DOCUMENT_PUBLIC_URL=http://127.0.0.1:$SENIM_PORT SENIM_LOG_LEVEL=warn SENIM_LIMITS_MAX_CONNS_PER_IP=5000 \
		SENIM_MEDIA_RECORD=$5 "$1" serve >"$OUT/$name.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$SENIM_PORT/metrics" >/dev/null && break; sleep 0.1; done
	"$A" load calls --addr 127.0.0.1:$SENIM_PORT --data "$data" --rooms "$4" --warmup "$WARMUP" --window "$WINDOW" \
		--server-pid "$pid" --quiet --json "$OUT/$name.json" >"$OUT/$name.txt"
	stop
	rm -rf "$data"
	echo "$name: $(grep 'per packet' "$OUT/$name.txt")" >&2
}
for r in $(seq "$ROUNDS"); do
	for n in $ROOMS; do
		for rec in $RECORD; do
			one "$A" a "$r" "$n" "$rec"
			one "$B" b "$r" "$n" "$rec"
		done
	done
done
python3 - "$OUT" <<'PY'
import glob, json, os, re, statistics, sys
runs = {}
for p in glob.glob(os.path.join(sys.argv[1], "*.json")):
    m = re.fullmatch(r"([ab])-rec(\w+)-(\d+)-r(\d+)", os.path.basename(p)[:-5])
    if m:
        runs.setdefault((m.group(2), int(m.group(3))), {}).setdefault(m.group(1), {})[int(m.group(4))] = json.load(open(p))
print("rooms | recording | A µs/packet (median) | B µs/packet (median) | B/A (min/median/max)")
print("---|---|---|---|---")
for (rec, rooms), ab in sorted(runs.items()):
    a, b = ab.get("a", {}), ab.get("b", {})
    rs = sorted(b[i]["cpu_us_per_packet"] / a[i]["cpu_us_per_packet"] for i in a if i in b)
    if rs:
        print("%d | %s | %.2f | %.2f | %.2f / %.2f / %.2f" % (rooms, rec, statistics.median(x["cpu_us_per_packet"] for x in a.values()),
              statistics.median(x["cpu_us_per_packet"] for x in b.values()), rs[0], statistics.median(rs), rs[-1]))
PY
