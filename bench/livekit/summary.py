#!/usr/bin/env python3
"""Prints senim/livekit per configuration from run.sh's JSON reports: for
each round the ratio of the two servers' CPU per forwarded packet (video and
audio), then min/median/max over the rounds; the same ratio per forwarded
stream (the same thing when both deliver the full 210 + 50 packets a second;
a load tool starved of CPU sends fewer, which per packet corrects); and each
server's own figures."""
import glob
import json
import os
import re
import statistics
import sys

out = sys.argv[1]
runs = {}
for path in glob.glob(os.path.join(out, "*.json")):
    name = os.path.basename(path)[:-5]
    m = re.fullmatch(r"(senim-rec(?:true|false)|livekit)-(\d+)(?:x(\d+))?-r(\d+)", name)
    if not m:
        continue
    with open(path) as f:
        rep = json.load(f)
    subs = int(m.group(3) or 1)
    runs.setdefault((m.group(1), int(m.group(2)), subs), {})[int(m.group(4))] = rep


def mmm(xs):
    xs = sorted(xs)
    return "%.2f / %.2f / %.2f" % (xs[0], statistics.median(xs), xs[-1])


print("configuration | server | µs per packet (min/median/max) | core-ms/s per stream (median) | loss | senim / livekit per packet (min/median/max) | per stream")
print("---|---|---|---|---|---|---")
for (server, rooms, subs), reps in sorted(runs.items(), key=lambda kv: (kv[0][1], kv[0][2], kv[0][0])):
    conf = "%d rooms of 1→%d" % (rooms, subs) if rooms > 1 or subs == 1 else "1 room of 1→%d" % subs
    us = [r["cpu_us_per_packet"] for r in reps.values()]
    per = [r["cpu_ms_per_stream_second"] for r in reps.values()]
    lost = sum(r["lost_packets"] for r in reps.values())
    sent = sum(r["video_packets"] + r["audio_packets"] + r["lost_packets"] for r in reps.values())
    ratio, ratio_stream = "", ""
    lk = runs.get(("livekit", rooms, subs))
    if server != "livekit" and lk:
        rs = [reps[i]["cpu_us_per_packet"] / lk[i]["cpu_us_per_packet"] for i in reps if i in lk]
        ss = [reps[i]["cpu_ms_per_stream_second"] / lk[i]["cpu_ms_per_stream_second"] for i in reps if i in lk]
        if rs:
            ratio, ratio_stream = mmm(rs) + " (%d rounds)" % len(rs), mmm(ss)
    label = {"senim-rectrue": "senim, recording on", "senim-recfalse": "senim, recording off", "livekit": "livekit"}[server]
    print("%s | %s | %s | %.2f | %d of %d | %s | %s" % (conf, label, mmm(us), statistics.median(per), lost, sent, ratio, ratio_stream))
