#!/usr/bin/env bash
# The load generator's CPU per message beside the server's, in the same run:
# serve (uring) against load at 1 KiB, 8 hot of 64 associations, echo then
# sink, with each of load's engines (LOAD_ENGINES, default "uring sockets");
# per mode and engine one line for each side (us of CPU per message) and the
# server's shared-lock acquisitions and copies per message, with the copies
# it cannot avoid apart: messages waiting for an association when it moved
# (moves), and echoes of messages received past a thread's retain budget
# (budget; each one copy on the way out). Run it in the guest, with an
# optimised binary:
#   bazel build -c opt //tools/sctpdp:sctpdp
#   tools/sctpvm --cpus 2 --timeout 300 -- perf/load_vs_server.sh $PWD/bazel-bin/tools/sctpdp/sctpdp [SECONDS]
set -euo pipefail
B=$1
secs=${2:-10}
work=$(mktemp -d)
. "$(dirname "$0")/serve_lib.sh"
for mode in echo sink; do
for engine in ${LOAD_ENGINES:-uring sockets}; do
  serve_start /dev/null --mode=$mode
  extra=()
  [ $mode = echo ] && extra=(--echo --window=64)
  "$B" load --engine=$engine --connect=127.0.0.1:$serve_port --associations=64 --hot=8 --rate=0 --cold-rate=5 --bundle=16 \
    --size=1KiB --duration=${secs}s "${extra[@]}" > "$work/load.json" 2>/dev/null
  serve_stop "$work/serve.json"
  /usr/bin/python3 - "$mode/$engine" "$work/serve.json" "$work/load.json" <<'PY'
import json, sys
mode = sys.argv[1]
s = json.loads(open(sys.argv[2]).read().splitlines()[-1])
l = json.loads(open(sys.argv[3]).read().splitlines()[-1])
server = 1e6 * s["cpu_s"] / max(s["messages_in"], 1)
load = 1e6 * l["cpu_s"] / max(l["messages"], 1)
n = max(s["messages_in"], 1)
print("%s: server %d msgs, %.1f us/msg, shared_locks/msg %.5f, copies/msg %.4f (moves %.4f, budget %.4f), "
      "syscalls/msg %.4f" %
      (mode, s["messages_in"], server, s["shared_locks_per_message"], s["copies_per_message"],
       s.get("move_copies", 0) / n, s.get("retain_refused", 0) / n, s["syscalls_per_message"]))
print("%s: load   %d msgs, %.1f us/msg: load/server x%.2f%s" % (mode, l["messages"], load, load / max(server, 1e-9),
      ", its sendmsg EAGAIN/msg %.4f" % (l["plane"]["send_eagain"] / max(l["messages"], 1)) if "plane" in l else ""))
PY
done
done
rm -rf "$work"
