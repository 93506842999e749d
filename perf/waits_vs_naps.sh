#!/usr/bin/env bash
# Coalescing by min-timeout waits (inside io_uring_enter, 6.12's
# IORING_FEAT_MIN_TIMEOUT) against coalescing by naps (clock_nanosleep outside
# it), side by side on one kernel: serve uring with --coalesce-by=best and
# --coalesce-by=nap, alternating, against load at 1 KiB, 8 hot of 64
# associations, in three modes: sink and echo at full rate (bursts of 16 with
# MSG_MORE; echo keeps 64 awaiting per association), and echo paced at
# PACED_RATE msg/s in all (default 4000: the 56 cold associations at 5 msg/s,
# the rest shared by the 8 hot; open loop, round trips from when each message
# was due). MODES picks among "sink echo paced".
# RUNS runs of each (default 3); per run one line, then the medians and the
# ratios waits/naps. On a kernel without min-timeout waits both ways nap, and
# the script says so. Run it in the 6.12 guest, with an optimised binary:
#   bazel build -c opt //tools/sctpdp:sctpdp
#   tools/sctpvm --kernel 6.12 --cpus 2 --timeout 900 -- perf/waits_vs_naps.sh $PWD/bazel-bin/tools/sctpdp/sctpdp [SECONDS]
set -euo pipefail
B=$1
secs=${2:-5}
runs=${RUNS:-3}
paced=${PACED_RATE:-4000}
hot_rate=$(/usr/bin/python3 -c "print(max(1, ($paced - 56 * 5) / 8))")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
. "$(dirname "$0")/serve_lib.sh"

# One run: serve (uring, --coalesce-by=$2) in mode $1 against load with the
# remaining arguments; appends one JSON line to $work/runs.jsonl.
one_run() {
  local mode=$1 way=$2 label=$3
  shift 3
  serve_start "$work/serve.err" --mode="$mode" --coalesce-by="$way"
  "$B" load --connect=127.0.0.1:"$serve_port" --associations=64 --hot=8 --cold-rate=5 --bundle=16 --size=1KiB \
    --duration="${secs}s" "$@" > "$work/load.json" 2> "$work/load.err" || { cat "$work/load.err" >&2; exit 1; }
  serve_stop "$work/serve.json"
  /usr/bin/python3 - "$label" "$way" "$work/serve.json" "$work/load.json" "$work/serve.err" >> "$work/runs.jsonl" <<'PY'
import json, sys
label, way = sys.argv[1], sys.argv[2]
s = json.loads(open(sys.argv[3]).read().splitlines()[-1])
l = json.loads(open(sys.argv[4]).read().splitlines()[-1])
log = open(sys.argv[5]).read()
n = max(s["messages_in"], 1)
rtt = l.get("rtt_from_schedule_us") or l.get("rtt_us") or {}
print(json.dumps({"mode": label, "way": way, "messages_per_s": l["messages_per_s"],
                  "server_us_per_msg": 1e6 * s["cpu_s"] / n, "syscalls_per_msg": s["syscalls_per_message"],
                  "naps": s["naps"], "gathers": s["gathers"], "p50_us": rtt.get("p50"), "p99_us": rtt.get("p99"),
                  "waits_logged": "(min-timeout waits)" in log}))
PY
  tail -1 "$work/runs.jsonl"
}

for r in $(seq "$runs"); do
  for way in best nap; do
    for mode in ${MODES:-sink echo paced}; do
      case $mode in
        sink) one_run sink "$way" sink --rate=0 ;;
        echo) one_run echo "$way" echo --rate=0 --echo --window=64 ;;
        paced) one_run echo "$way" "paced-$paced" --rate="$hot_rate" --echo ;;
      esac
    done
  done
done

/usr/bin/python3 - "$work/runs.jsonl" <<'PY'
import json, statistics, sys
runs = [json.loads(x) for x in open(sys.argv[1])]
if not any(r["waits_logged"] for r in runs if r["way"] == "best"):
    print("this kernel has no min-timeout waits: both ways napped")
med = lambda rs, k: statistics.median(r[k] for r in rs) if rs and all(r[k] is not None for r in rs) else None
fmt = lambda v, f: ("%" + f) % v if v is not None else "-"
print("%-12s %-6s %9s %10s %12s %9s %9s %8s %9s" %
      ("mode", "way", "msgs/s", "us/msg", "syscalls/msg", "p50_us", "p99_us", "naps", "gathers"))
modes = list(dict.fromkeys(r["mode"] for r in runs))
for mode in modes:
    m = {}
    for way in ("best", "nap"):
        rs = [r for r in runs if r["mode"] == mode and r["way"] == way]
        m[way] = {k: med(rs, k) for k in ("messages_per_s", "server_us_per_msg", "syscalls_per_msg", "p50_us",
                                          "p99_us", "naps", "gathers")}
        v = m[way]
        print("%-12s %-6s %9s %10s %12s %9s %9s %8s %9s" %
              (mode, "waits" if way == "best" else "naps", fmt(v["messages_per_s"], ".0f"),
               fmt(v["server_us_per_msg"], ".1f"), fmt(v["syscalls_per_msg"], ".4f"), fmt(v["p50_us"], ".0f"),
               fmt(v["p99_us"], ".0f"), fmt(v["naps"], ".0f"), fmt(v["gathers"], ".0f")))
    ratio = lambda k: fmt(m["best"][k] / m["nap"][k], ".2f") if m["best"][k] and m["nap"][k] else "-"
    print("  %s: waits / naps  msgs/s x%s, us/msg x%s, syscalls/msg x%s, p50 x%s, p99 x%s" %
          (mode, ratio("messages_per_s"), ratio("server_us_per_msg"), ratio("syscalls_per_msg"), ratio("p50_us"),
           ratio("p99_us")))
PY
