#!/usr/bin/env bash
# senim serve with runtime.procs = adaptive and = all side by side: for each
# round, each setting in turn, a fresh server and data directory, then a
# senim load run against it (docs/runtime-procs.md).
#
#   go build -o /tmp/senim ./cmd/senim
#   bench/procs/ab.sh /tmp/procs-acts 3 acts      # senim load acts --rate 15
#   bench/procs/ab.sh /tmp/procs-active 3 active  # 1,000 active acts at 900 steps/s
#
# Environment: BIN (/tmp/senim), PORT (20000: each run takes the next ten;
# keep it under the kernel's ephemeral range, 32768 here, or a port the load
# tool's own connections hold may be taken), RATE (15, for acts), DURATION
# (30s), MODES ("adaptive all"). BINS ("old=/tmp/senim-old new=/tmp/senim-new")
# compares builds instead, each with runtime.procs = adaptive.
set -uo pipefail
[ $# -eq 3 ] || { echo "usage: $0 OUTDIR ROUNDS acts|active" >&2; exit 2; }
out=$1 rounds=$2 what=$3
bin=${BIN:-/tmp/senim} port=${PORT:-20000}
root=$(cd "$(dirname "$0")/../.." && pwd)
mkdir -p "$out"
case $what in
acts) load=(acts --duration "${DURATION:-30s}" --rate "${RATE:-15}" --notaries 32 --citizens 64) ;;
active) load=(active --acts 1000 --steps 900 --duration "${DURATION:-30s}" --notaries 64 --citizens 128) ;;
*) echo "acts or active, not $what" >&2; exit 2 ;;
esac
variants=()
if [ -n "${BINS:-}" ]; then
	for v in $BINS; do variants+=("$v"); done
else
	for m in ${MODES:-adaptive all}; do variants+=("$m=$bin"); done
fi
for r in $(seq 1 "$rounds"); do
	for v in "${variants[@]}"; do
		vname=${v%%=*} vbin=${v#*=} mode=adaptive
		[ -n "${BINS:-}" ] || mode=$vname
		port=$((port + 10))
		data=$out/data name=$vname-r$r
		rm -rf "$data" && mkdir -p "$data"
		SENIM_RUNTIME_PROCS=$mode SENIM_DATA_DIR=$data SENIM_HTTP_ADDR=127.0.0.1:$port \
			SENIM_TURN_ADDR=127.0.0.1:$((port + 1)) SENIM_DOCUMENT_PUBLIC_URL=http://127.0.0.1:$port \
			SENIM_LIMITS_MAX_CONNS_PER_IP=19000 SENIM_LIMITS_MAX_CONNS=19000 SENIM_LOG_LEVEL=warn \
			SENIM_MEDIA_RECORD=false "$vbin" serve --config "$root/config.toml" >"$out/$name.server.log" 2>&1 &
		pid=$!
		for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
		echo "$name: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/loadavg.txt"
		(cd "$root" && "$vbin" load "${load[@]}" --addr 127.0.0.1:$port --data "$data" >"$out/$name.txt" 2>&1)
		# What the event log's store wrote (builds before the store's metrics have none).
		curl -fs "http://127.0.0.1:$port/metrics" | grep -E '^(senim_store_|go_memstats_alloc_bytes_total)' >"$out/$name.store.txt"
		kill $pid 2>/dev/null
		wait $pid 2>/dev/null
		rm -rf "$data"
		echo "$name: $(grep -E 'CPU per (act|step)|other-party p|server CPU ÷ floor' "$out/$name.txt" | tr -s ' ' | tr '\n' ' ') $(grep -E 'flushed|compacted|alloc_bytes' "$out/$name.store.txt" | tr '\n' ' ')"
	done
done
