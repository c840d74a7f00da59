#!/usr/bin/env bash
# Senim's SFU side by side with LiveKit: the same calls load against each
# server in turn, ROUNDS rounds, each server fresh for each measurement;
# then summary.py prints senim/livekit per configuration (min/median/max of
# the rounds' ratios). See README.md.
#
#   bench/livekit/run.sh                       # 3 rounds, 10 and 20 rooms of 1→1
#   ROUNDS=1 ROOMS="10" WINDOW=10s bench/livekit/run.sh
#
# Environment: LIVEKIT (the livekit-server binary, default /tmp/livekit-server),
# ROUNDS (3), ROOMS ("10 20"), WARMUP (5s), WINDOW (20s), OUT (a new
# directory under /tmp), DUPLEX (1: both participants publish, as in a
# real call; default 0: 1→1), FANOUT (e.g. "10 40": one room of 1→k, Senim's
# SFU through bench/fanout, recording on and off, and LiveKit; an act's call
# carries two participants, so `senim load calls` cannot), FANOUT_PORT
# (bench/fanout's signaling, 18490).
#
#   ROOMS= FANOUT="10 40" bench/livekit/run.sh  # 1→10 and 1→40 alone
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
LIVEKIT=${LIVEKIT:-/tmp/livekit-server}
ROUNDS=${ROUNDS:-3}
ROOMS=${ROOMS-"10 20"}
WARMUP=${WARMUP:-5s}
WINDOW=${WINDOW:-20s}
DUPLEX=${DUPLEX:-0}
FANOUT=${FANOUT:-}
OUT=${OUT:-$(mktemp -d /tmp/senim-vs-livekit.XXXXXX)}
SENIM_PORT=${SENIM_PORT:-18480}
FANOUT_PORT=${FANOUT_PORT:-18490}
mkdir -p "$OUT"
ulimit -n 20000 2>/dev/null || true

echo "building into $OUT" >&2
if [ -n "$ROOMS" ]; then (cd "$root" && go build -o "$OUT/senim" ./cmd/senim); fi
if [ -n "$FANOUT" ]; then (cd "$root" && go build -o "$OUT/fanout" ./bench/fanout); fi
(cd "$here" && go build -o "$OUT/lkload" .)
[ -x "$LIVEKIT" ] || { echo "no livekit-server at $LIVEKIT (README.md says how to build it)" >&2; exit 2; }

duplex=()
[ "$DUPLEX" = 1 ] && duplex=(--duplex)
pid=""
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=""; }
trap stop EXIT

# senim ROUND ROOMS RECORD(true|false)
senim() {
	local data="$OUT/data" name="senim-rec$3-$2-r$1"
	rm -rf "$data" && mkdir -p "$data"
	echo "$name: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/loadavg.txt"
	SENIM_DATA_DIR="$data" SENIM_HTTP_ADDR=127.0.0.1:$SENIM_PORT SENIM_TURN_ADDR=127.0.0.1:$((SENIM_PORT + 1)) \
		SENIM_DOCUMENT_PUBLIC_URL=http://127.0.0.1:$SENIM_PORT SENIM_LOG_LEVEL=warn SENIM_LIMITS_MAX_CONNS_PER_IP=5000 \
		SENIM_MEDIA_RECORD=$3 "$OUT/senim" serve >"$OUT/$name.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -fs "http://127.0.0.1:$SENIM_PORT/metrics" >/dev/null && break; sleep 0.1; done
	"$OUT/senim" load calls --addr 127.0.0.1:$SENIM_PORT --data "$data" --rooms "$2" "${duplex[@]}" \
		--warmup "$WARMUP" --window "$WINDOW" --server-pid "$pid" --quiet --json "$OUT/$name.json" >"$OUT/$name.txt"
	stop
	rm -rf "$data"
	grep -E "per stream|per packet|lost" "$OUT/$name.txt" | sed "s/^/$name: /" >&2
}

# fanout ROUND SUBSCRIBERS RECORD(true|false): one room of 1→k on Senim's
# SFU (bench/fanout), a fresh server process whose CPU alone is measured.
fanout() {
	local data="$OUT/data" name="senim-rec$3-1x$2-r$1"
	rm -rf "$data" && mkdir -p "$data"
	echo "$name: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/loadavg.txt"
	SENIM_LOG_LEVEL=warn "$OUT/fanout" server --addr 127.0.0.1:$FANOUT_PORT --record="$3" --data "$data" >"$OUT/$name.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$FANOUT_PORT) 2>/dev/null && break; sleep 0.1; done
	"$OUT/fanout" load --addr 127.0.0.1:$FANOUT_PORT --server-pid "$pid" --rooms 1 --subscribers "$2" \
		--warmup "$WARMUP" --window "$WINDOW" --quiet --json "$OUT/$name.json" | sed "s/^/$name: /" >&2
	stop
	rm -rf "$data"
}

# livekit ROUND ROOMS SUBSCRIBERS
livekit() {
	local name="livekit-$2x$3-r$1"
	echo "$name: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$OUT/loadavg.txt"
	"$LIVEKIT" --config "$here/livekit.yaml" --node-ip 127.0.0.1 >"$OUT/$name.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do curl -fs http://127.0.0.1:7880/ >/dev/null && break; sleep 0.1; done
	local d=("${duplex[@]}")
	[ "$3" != 1 ] && d=()
	"$OUT/lkload" --server-pid "$pid" --rooms "$2" --subscribers "$3" "${d[@]}" --warmup "$WARMUP" --window "$WINDOW" \
		--json "$OUT/$name.json" 2>"$OUT/$name.lkload.log" | sed "s/^/$name: /" >&2
	stop
}

for r in $(seq "$ROUNDS"); do
	for n in $ROOMS; do
		senim "$r" "$n" true
		senim "$r" "$n" false
		livekit "$r" "$n" 1
	done
	for k in $FANOUT; do
		fanout "$r" "$k" true
		fanout "$r" "$k" false
		livekit "$r" 1 "$k"
	done
done
python3 "$here/summary.py" "$OUT"
echo "load average (1, 5, 15 min) before each run: $OUT/loadavg.txt" >&2
