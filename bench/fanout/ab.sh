#!/usr/bin/env bash
# Two or more bench/fanout builds side by side: for each round, recording
# on then off, each build in turn, each server fresh; then the CPU per
# forwarded packet of each run and, per configuration, the first build's
# over the second's (min/median/max of the rounds). See README.md.
#
#   (cd /work/main && go build -o /tmp/fanout-main ./bench/fanout)
#   go build -o /tmp/fanout-new ./bench/fanout
#   bench/fanout/ab.sh /tmp/fanout-ab 3 /tmp/fanout-new /tmp/fanout-main
#
# Environment: ROOMS (10), SUBSCRIBERS (1), WINDOW (20s), PORT (18600:
# the first signaling port; each run takes the next), LOADFLAGS (more
# flags for fanout load, e.g. --twcc).
set -uo pipefail
[ $# -ge 3 ] || { echo "usage: $0 OUTDIR ROUNDS BUILD..." >&2; exit 2; }
out=$1 rounds=$2
shift 2
mkdir -p "$out"
port=${PORT:-18600}
for r in $(seq 1 "$rounds"); do
	for rec in true false; do
		for bin in "$@"; do
			name=$(basename "$bin")-rec$rec-r$r
			port=$((port + 1))
			"$bin" server --addr 127.0.0.1:$port --record=$rec >"$out/$name.server.log" 2>&1 &
			sp=$!
			sleep 1
			"$bin" load --addr 127.0.0.1:$port --server-pid $sp --rooms "${ROOMS:-10}" --subscribers "${SUBSCRIBERS:-1}" \
				--window "${WINDOW:-20s}" --json "$out/$name.json" --quiet ${LOADFLAGS:-} >"$out/$name.load.log" 2>&1
			kill $sp
			wait $sp 2>/dev/null
		done
	done
done
python3 - "$out" "$@" <<'PY'
import glob, json, os, statistics, sys
out, bins = sys.argv[1], [os.path.basename(b) for b in sys.argv[2:]]
for rec in ("true", "false"):
    rounds = {}
    for b in bins:
        for f in glob.glob(f"{out}/{b}-rec{rec}-r*.json"):
            r = f.rsplit("-r", 1)[1].split(".")[0]
            rounds.setdefault(r, {})[b] = json.load(open(f))
    print("recording", "on" if rec == "true" else "off")
    for r, v in sorted(rounds.items()):
        print(" round", r, "  ".join(f"{b}: {v[b]['cpu_us_per_packet']:.2f} µs/packet, lost {v[b]['lost_packets']}" for b in bins if b in v))
    ratios = sorted(v[bins[0]]["cpu_us_per_packet"] / v[bins[1]]["cpu_us_per_packet"] for v in rounds.values() if bins[0] in v and bins[1] in v)
    if ratios:
        print(f" {bins[0]} / {bins[1]}: min {ratios[0]:.3f} median {statistics.median(ratios):.3f} max {ratios[-1]:.3f}")
PY
