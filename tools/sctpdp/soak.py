"""The soak (issue 16), on real SCTP in the guest (soak_test.sh): serve
--engine=uring in verify mode for a set duration under mixed traffic and
faults:

  load    8 associations from another network namespace, over a veth with
          netem loss, delay with jitter, reordering and duplication: 2 hot
          (peeled to workers) and 6 cold, sizes spread over 16..4000 bytes;
  churn   hostile_peer.py connect / send / close cycles beside them, from
          the same namespace (the moves are load's hot associations').

Every --interval it prints serve's descriptors, RSS, threads and counters.
At the end (load and churn over, every association ended) it checks that
every message sent was verified once and in order, that descriptors and
threads are back where they started, and that RSS does not climb: a leak
grows it in both of the last two quarters, a one-time step (a buffer ring's
pages touched late) in one of them only.

  soak.py SCTPDP HOSTILE_PEER [--duration=600] [--interval=10] [--sanitized]

Default 10 minutes; CI runs 2 (soak_test.sh).
"""
import json
import os
import subprocess
import sys
import threading
import time

import faults_test as ft
import limits_test as lt  # B: the sctpdp binary (argv[1]); check

NETEM = "loss 1% delay 2ms 1ms reorder 10% 50% duplicate 1%"
CHURN_BATCH = 200


def threads_of(pid):
    return next(int(l.split()[1]) for l in open("/proc/%d/status" % pid) if l.startswith("Threads:"))


def sample(s, start):
    fds, rss = s.resources()
    st = s.stats
    return {"t": time.monotonic() - start, "fds": fds, "rss_kib": rss, "threads": threads_of(s.p.pid),
            "messages_in": st.get("messages_in", 0), "associations": st.get("associations", 0),
            "peeled": st.get("peeled", 0), "errors": st.get("errors", 0)}


def churn(s, stop, cycles):
    """Batches of churn cycles until `stop`; cycles[0] counts those done."""
    while not stop.is_set():
        if not ft.churned(s, CHURN_BATCH, 0, ns=ft.CLIENT_NS):
            cycles.append("failed")
            return
        cycles[0] += CHURN_BATCH


def run(duration, interval, sanitized):
    ft.netns_up()
    ft.netem(NETEM)
    os.environ["PEER_HOST"] = ft.SERVER_IP  # the churn peer's target, from the client namespace
    s = ft.Serve("uring", "--peel-rate=100", "--sustain=200ms", ns=ft.SERVER_NS, host=ft.SERVER_IP)
    start = time.monotonic()
    before = sample(s, start)
    lp = subprocess.Popen(
        ft.in_ns(ft.CLIENT_NS, [lt.B, "load", "--connect=%s:%d" % (ft.SERVER_IP, s.port), "--associations=8",
                                "--hot=2", "--rate=200", "--cold-rate=5", "--streams=4", "--size=16",
                                "--size-max=4000", "--duration=%ds" % duration]),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    stop, cycles = threading.Event(), [0]
    churner = threading.Thread(target=churn, args=(s, stop, cycles))
    churner.start()
    samples = [before]
    print("  %6s %5s %9s %7s %11s %6s %6s" % ("s", "fds", "rss_kib", "threads", "messages_in", "assoc", "peeled"))
    while lp.poll() is None and not s.ended:
        s.wait(lambda: s.ended, guard=interval)  # a sample every interval; serve ending cuts it short
        samples.append(sample(s, start))
        x = samples[-1]
        print("  %6.0f %5d %9d %7d %11d %6d %6d" % (x["t"], x["fds"], x["rss_kib"], x["threads"], x["messages_in"],
                                                  x["associations"], x["peeled"]), flush=True)
    stop.set()
    churner.join()
    out, err = lp.communicate(timeout=lt.GUARD)
    load = next((json.loads(l) for l in out.splitlines() if l.startswith("{")), {})
    lt.check("soak: load exits 0", lp.returncode == 0, err[-600:])
    lt.check("soak: churn cycles all went", "failed" not in cycles, cycles)
    expected = load.get("messages", 0) + cycles[0]
    s.wait(lambda: s.stats.get("verified", 0) >= expected and s.stats.get("associations", 1) == 0)
    s.wait(lambda: s.resources()[0] <= before["fds"])  # an ended association's socket closes a moment later
    end = sample(s, start)
    summary = s.stop()
    lt.check("soak: every message verified once, in order (%d from load, %d churn)" % (load.get("messages", 0),
                                                                                        cycles[0]),
             [summary.get(k) for k in ("verified", "gaps", "duplicates", "reorders")] == [expected, 0, 0, 0], summary)
    lt.check("soak: hot associations moved", summary.get("peeled", 0) >= 2, summary)
    lt.check("soak: descriptors back where they started", end["fds"] == before["fds"], (before, end))
    lt.check("soak: threads back where they started", end["threads"] == before["threads"], (before, end))
    half = min(samples, key=lambda x: abs(x["t"] - duration / 2))
    third = min(samples, key=lambda x: abs(x["t"] - 3 * duration / 4))
    q3 = (third["rss_kib"] - half["rss_kib"]) * 100.0 / half["rss_kib"]
    q4 = (end["rss_kib"] - third["rss_kib"]) * 100.0 / half["rss_kib"]
    print("  RSS %d KiB at half time, %+.1f%% in the third quarter, %+.1f%% in the last; %d churn cycles" %
          (half["rss_kib"], q3, q4, cycles[0]), flush=True)
    if not sanitized:  # ASan/TSan allocators decide RSS there
        lt.check("soak: RSS does not climb in both last quarters (over 1% each)", not (q3 > 1.0 and q4 > 1.0),
                 "%+.1f%%, %+.1f%%" % (q3, q4))


def main():
    ft.PEER = sys.argv[2]
    duration, interval, sanitized = 600, 10, False
    for a in sys.argv[3:]:
        if a.startswith("--duration="):
            duration = int(a.split("=")[1])
        elif a.startswith("--interval="):
            interval = int(a.split("=")[1])
        elif a == "--sanitized":
            sanitized = True
    run(duration, interval, sanitized)
    print("%d passed, %d failed" % (lt.results.count(True), lt.results.count(False)), flush=True)
    return 0 if lt.results and all(lt.results) else 1


if __name__ == "__main__":
    sys.exit(main())
