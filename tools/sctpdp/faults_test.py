"""The fault suite (issue 16), on real SCTP in the guest (faults_test.sh):
per-stream sequence-verified traffic (`load` against `serve --mode=verify`)
on every engine a case applies to, under

  netem     loss, delay with jitter, reordering, duplication, corruption and
            a rate limit on a veth pair between two network namespaces, hot
            associations moving to workers meanwhile;
  restart   a peer killed with its ABORT lost that comes back on the same
            ports (SCTP_RESTART): counted, its new numbering verified;
  abort_flow  a peer that ABORTs mid-transfer beside verified traffic;
  shutdown  a peer that SHUTDOWNs with data queued both ways (echo);
  abort     a peer that ABORTs in the middle of a partial delivery, on the
            one-to-many socket and on a peeled one, beside verified traffic;
  flood     an INIT flood past --max-associations, and past one peer
            address's share (--max-associations-per-peer), beside verified
            traffic;
  sigterm   SIGTERM to serve while load sends at full speed: summary, exit 0,
            nothing verified out of order, nothing counted that was not sent;
  churn     connect / send / close cycles (hostile_peer.py churn): serve's
            descriptors and RSS after warm-up and at the end.

Ends with one summary table: per case and engine, the faults injected,
messages sent / received / lost / duplicated / reordered, associations
moved, serve's fds and RSS before and after. Waits are on events (stats
lines, a peer's lines) with a hang guard; assertions are on counts.

  faults_test.py SCTPDP HOSTILE_PEER [--churn=N] [--cases=netem,restart,abort_flow,shutdown,abort,flood,sigterm,churn]
"""
import json
import os
import signal
import subprocess
import sys
import threading
import time

import limits_test as lt  # check, read_until, GUARD; B: the sctpdp binary (argv[1])

PEER = None
CHURN = 2000
# --sanitized: serve runs under ASan or TSan, whose allocators (quarantine,
# shadow memory, thread state kept for reports) decide its RSS: the churn
# case then checks fds, not RSS.
SANITIZED = False
ROWS = []
SERVER_NS, CLIENT_NS = "sctpdp-fs", "sctpdp-fc"
SERVER_IP, CLIENT_IP = "10.77.0.1", "10.77.0.2"


def sh(*cmd):
    subprocess.run(cmd, check=True, timeout=lt.GUARD)


def in_ns(ns, cmd):
    return ["ip", "netns", "exec", ns, *cmd] if ns else list(cmd)


class Serve:
    """`sctpdp serve` with a stats line every 100 ms, read by a thread (so
    serve never blocks on its stdout); waits are on those lines."""

    def __init__(self, engine, *flags, ns=None, host="127.0.0.1", mode="verify"):
        self.p = subprocess.Popen(
            in_ns(ns, [lt.B, "serve", "--engine=" + engine, "--listen=%s:0" % host, "--mode=" + mode,
                       "--stats-interval=100ms", *flags]),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.host, self.engine = host, engine
        self.cv = threading.Condition()
        self.stats, self.summary, self.port, self.ended = {}, None, None, False
        self.err = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.err.extend(self.p.stderr), daemon=True).start()
        self.wait(lambda: self.port is not None)

    def _read(self):
        for line in self.p.stdout:
            with self.cv:
                if line.startswith("{"):
                    d = json.loads(line)
                    if d["type"] == "summary":
                        self.summary = d
                    else:
                        self.stats = d
                elif "listening on port" in line:
                    self.port = int(line.split("port ")[1].split(",")[0])
                self.cv.notify_all()
        with self.cv:
            self.ended = True
            self.cv.notify_all()

    def wait(self, pred, guard=None):
        """True once pred(...) holds (checked at each line), False at the guard."""
        with self.cv:
            ok = self.cv.wait_for(lambda: pred() or self.ended, timeout=guard or lt.GUARD * 2)
            return ok and pred()

    def until(self, name, value, guard=None):
        return self.wait(lambda: self.stats.get(name, 0) >= value, guard)

    def resources(self, settled=False):
        """(open fds, RSS in KiB) of serve; settled: once every association
        has ended (their sockets closed)."""
        if settled:
            self.wait(lambda: self.stats.get("associations", 1) == 0)
        fds = len(os.listdir("/proc/%d/fd" % self.p.pid))
        rss = next(int(l.split()[1]) for l in open("/proc/%d/status" % self.p.pid) if l.startswith("VmRSS:"))
        return fds, rss

    def stop(self):
        """SIGTERM; the summary (None when serve hung and was killed)."""
        self.p.send_signal(signal.SIGTERM)
        try:
            self.p.wait(timeout=lt.GUARD * 2)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.wait(lambda: self.ended)
        if self.summary is None:
            print("  serve stderr: " + "".join(self.err)[-600:], flush=True)
        return self.summary or {}


def load(port, *flags, ns=None, host="127.0.0.1"):
    """Runs load to the end: its exit code and summary (dict)."""
    r = subprocess.run(in_ns(ns, [lt.B, "load", "--connect=%s:%d" % (host, port), *flags]), capture_output=True,
                       text=True, timeout=lt.GUARD * 4)
    summary = next((json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")), {})
    if r.returncode != 0:
        print("  load stderr: " + r.stderr[-600:], flush=True)
    return r.returncode, summary


class Peer:
    """hostile_peer.py MODE ARGS, talking line by line."""

    def __init__(self, *args, ns=None):
        self.p = subprocess.Popen(in_ns(ns, ["/usr/bin/python3", PEER, *map(str, args)]), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.fd = self.p.stdout.fileno()

    def said(self):
        m = lt.read_until(self.fd, rb"([^\n]*)\n")
        return m.group(1).decode() if m else None

    def tell(self):
        self.p.stdin.write("\n")
        self.p.stdin.flush()

    def end(self):
        self.p.stdin.close()
        try:
            self.p.wait(timeout=lt.GUARD)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


def row(case, engine, faults, sent, summary, before, after):
    got = summary.get("verified", 0)
    dups = summary.get("duplicates", 0)
    ROWS.append((case, engine, faults, sent, got, max(0, sent - (got - dups)), dups, summary.get("reorders", 0),
                 summary.get("peeled", 0), before, after))


def verified_exactly(label, sent, summary, bytes_sent=None):
    """Every message sent arrived once, in order per stream."""
    lt.check("%s: serve verified all %d sent, none lost, duplicated or reordered" % (label, sent),
             (summary.get("verified"), summary.get("gaps"), summary.get("duplicates"), summary.get("reorders")) ==
             (sent, 0, 0, 0), summary)
    if bytes_sent is not None:
        lt.check("%s: every byte arrived" % label, summary.get("bytes_in") == bytes_sent, summary)


# --- netem ------------------------------------------------------------------

def netns_up():
    for ns in (SERVER_NS, CLIENT_NS):
        sh("ip", "netns", "add", ns)
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        # Retransmission timers short enough that a lost tail costs 200 ms,
        # not 1 s: the run stays short, the faults the same.
        sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.sctp.rto_min=200", "net.sctp.rto_initial=500")
    sh("ip", "link", "add", "fs0", "netns", SERVER_NS, "type", "veth", "peer", "name", "fc0", "netns", CLIENT_NS)
    for ns, dev, ip in ((SERVER_NS, "fs0", SERVER_IP), (CLIENT_NS, "fc0", CLIENT_IP)):
        sh("ip", "-n", ns, "addr", "add", ip + "/24", "dev", dev)
        sh("ip", "-n", ns, "link", "set", dev, "up")


def netem(spec, ends=(SERVER_NS, CLIENT_NS)):
    """The same netem qdisc on both ends of the veth (data and SACKs alike)."""
    for ns, dev in ((SERVER_NS, "fs0"), (CLIENT_NS, "fc0")):
        if ns in ends:
            sh("ip", "netns", "exec", ns, "tc", "qdisc", "replace", "dev", dev, "root", "netem", *spec.split())


def netem_drops():
    total = 0
    for ns, dev in ((SERVER_NS, "fs0"), (CLIENT_NS, "fc0")):
        out = subprocess.run(["ip", "netns", "exec", ns, "tc", "-s", "qdisc", "show", "dev", dev],
                             capture_output=True, text=True).stdout
        if "dropped" in out:
            total += int(out.split("dropped ")[1].split(",")[0])
    return total


NETEM = "loss 3% delay 5ms 2ms reorder 25% 50% duplicate 2% corrupt 1% rate 20mbit"
NETEM_SHORT = "loss 3%, delay 5+-2ms, reorder 25%, dup 2%, corrupt 1%, 20mbit"


def netem_case(engine, peeled):
    kernel = ("--kernel-stats-interval=100ms",) if engine == "uring" else ()
    s = Serve(engine, "--peel-rate=100", "--sustain=200ms", *kernel, ns=SERVER_NS, host=SERVER_IP)
    before = s.resources()
    netem(NETEM)
    rc, ls = load(s.port, "--associations=6", "--hot=2", "--rate=200", "--cold-rate=10", "--streams=4",
                  "--size=64", "--size-max=2000", "--duration=3s", ns=CLIENT_NS, host=SERVER_IP)
    sent = ls.get("messages", 0)
    lt.check("netem %s: load exits 0" % engine, rc == 0 and sent > 0, ls)
    s.until("verified", sent)
    drops = netem_drops()
    after = s.resources()
    netem("delay 0ms")
    summary = s.stop()
    verified_exactly("netem %s" % engine, sent, summary, ls.get("bytes"))
    lt.check("netem %s: %d associations moved while the faults ran" % (engine, peeled),
             summary.get("peeled") == peeled, summary)
    lt.check("netem %s: netem dropped packets (the faults were there)" % engine, drops > 0, drops)
    if kernel:
        # The kernel's own statistics were read and saw the faults: duplicate
        # DATA chunks (netem's, and the client's retransmissions).
        k = summary.get("kernel", {})
        lt.check("netem %s: the kernel's statistics saw the data and its duplicates" % engine,
                 k.get("reads", 0) > 0 and k.get("data_chunks_in", 0) > 0 and
                 k.get("duplicate_chunks_in", 0) > 0, k)
    row("netem", engine, "%s: %d pkts dropped" % (NETEM_SHORT, drops), sent, summary, before, after)


# --- a peer that restarts keeping its ports ----------------------------------------

def restart_case(engine, where, flags, peeled):
    """A peer bound to a fixed port sends 100 numbered messages; its
    ABORT lost (netem loss 100% on its side), it is killed and starts again
    on the same ports: a new INIT for the same association (SCTP_RESTART)."""
    label = "restart %s %s" % (engine, where)
    s = Serve(engine, *flags, ns=SERVER_NS, host=SERVER_IP)
    before = s.resources()
    args = ("restart", "%s:%d" % (SERVER_IP, s.port), CLIENT_IP + ":40123", 100)
    first = Peer(*args, ns=CLIENT_NS)
    lt.check(label + ": the first incarnation sent", first.said() == "sent")
    lt.check(label + ": serve verified its 100", s.until("verified", 100), s.stats)
    if peeled:
        lt.check(label + ": its association moved", s.until("peeled", 1), s.stats)
    netem("loss 100%", ends=(CLIENT_NS,))
    first.p.kill()
    first.p.wait()
    netem("delay 0ms", ends=(CLIENT_NS,))
    second = Peer(*args, ns=CLIENT_NS)
    lt.check(label + ": the second incarnation sent", second.said() == "sent")
    lt.check(label + ": serve counted the restart", s.until("restarts", 1), s.stats)
    lt.check(label + ": and verified the new incarnation's 100", s.until("verified", 200), s.stats)
    lt.check(label + ": one association throughout", s.stats.get("associations") == 1, s.stats)
    after = s.resources()
    second.end()
    summary = s.stop()
    verified_exactly(label, 200, summary)
    lt.check(label + ": 1 restart", summary.get("restarts") == 1, summary)
    row("restart", "%s %s" % (engine, where), "peer killed (ABORT lost), same ports again", 200, summary, before,
        after)


# --- ABORT in the middle of a partial delivery ---------------------------------

def abort_case(engine, where, flags, peeled):
    """A 16 MiB message, far over the 64 KiB receive buffer; once serve has
    read pieces of it the peer ABORTs. Beside it, verified load traffic."""
    label = "abort %s %s" % (engine, where)
    s = Serve(engine, "--rcvbuf=64KiB", "--max-message=32MiB", *flags)
    before = s.resources()
    peer = Peer("abort-mid", s.port, 16 << 20, 1)
    lt.check(label + ": the peer is up", peer.said() == "connected")
    if peeled:
        lt.check(label + ": its association moved first", s.until("peeled", 1))
    peer.tell()
    lt.check(label + ": the peer queued its message", peer.said() == "sent")
    lt.check(label + ": serve reads the message in pieces", s.until("copied_bytes", 1))
    rc, ls = load(s.port, "--associations=2", "--streams=2", "--count=200", "--rate=400")
    sent = ls.get("messages", 0)
    peer.tell()
    lt.check(label + ": the peer aborted mid-message", peer.said() == "aborted")
    peer.end()
    lt.check(label + ": the aborted partial message counted as discarded", s.until("discarded", 1), s.stats)
    s.until("verified", sent + 1)
    after = s.resources(settled=True)
    summary = s.stop()
    lt.check(label + ": load exits 0", rc == 0, ls)
    # The peer's 10-byte first message, then load's: the aborted one never.
    verified_exactly(label, sent + 1, summary, ls.get("bytes", 0) + 10)
    lt.check(label + ": discarded 1", summary.get("discarded") == 1, summary)
    row("abort-partial", "%s %s" % (engine, where), "ABORT after %d KiB of 16 MiB" % (s.stats.get("copied_bytes", 0)
                                                                                    >> 10),
        sent + 2, summary, before, after)


# --- ABORT mid-transfer; SHUTDOWN with data queued both ways -----------------------

def abort_flow_case(engine, where, flags, peeled):
    """A peer sending numbered messages as fast as it can ABORTs mid-transfer
    beside verified load traffic: what serve got of it is a prefix (no gap,
    duplicate or reorder), load's traffic exact."""
    label = "abort-flow %s %s" % (engine, where)
    s = Serve(engine, *flags)
    before = s.resources()
    peer = Peer("abort-flow", s.port)
    lt.check(label + ": the peer is sending", peer.said() == "flowing")
    if peeled:
        lt.check(label + ": its association moved", s.until("peeled", 1), s.stats)
    rc, ls = load(s.port, "--associations=2", "--streams=2", "--count=200", "--rate=400")
    peer.tell()
    said = peer.said() or ""
    lt.check(label + ": the peer aborted mid-transfer", said.startswith("aborted "), said)
    peer.end()
    flow = int(said.split()[1]) if said.startswith("aborted ") else 0
    sent = ls.get("messages", 0)
    s.until("verified", sent)
    after = s.resources(settled=True)
    summary = s.stop()
    got = summary.get("verified", 0) - sent
    lt.check(label + ": load exits 0", rc == 0, ls)
    lt.check(label + ": serve got a prefix of the aborted flow (%d of %d) and all of load's" % (got, flow),
             100 <= got <= flow and (summary.get("gaps"), summary.get("duplicates"), summary.get("reorders")) ==
             (0, 0, 0), summary)
    row("abort-flow", "%s %s" % (engine, where), "ABORT after %d sent, %d in flight" % (flow, flow - got),
        sent + flow, summary, before, after)


def shutdown_case(engine):
    """A peer sends 400 numbered messages to serve --mode=echo without
    reading and SHUTDOWNs at once, then reads: everything it sent arrives;
    every echo serve sent arrives, in order; the rest are counted refused or
    dropped (SCTP takes no new data after SHUTDOWN)."""
    label = "shutdown %s" % engine
    s = Serve(engine, mode="echo")
    before = s.resources()
    said = Peer("shutdown-echo", s.port, 400, 1000).said() or ""
    s.until("messages_in", 400)
    after = s.resources(settled=True)
    summary = s.stop()
    echoed = int(said.split()[1]) if said.startswith("echoed ") else -1
    lt.check(label + ": serve got all 400", summary.get("messages_in") == 400, summary)
    lt.check(label + ": every echo serve sent arrived, in order", (echoed, said.endswith("in order")) ==
             (summary.get("messages_out"), True), "%s; %s" % (said, summary))
    lt.check(label + ": every message echoed or counted refused or dropped",
             summary.get("messages_out", 0) + summary.get("echo_refused", 0) + summary.get("replies_dropped", 0) ==
             400, summary)
    summary = dict(summary, verified=summary.get("messages_in", 0))  # echo mode: no sequence check in serve
    row("shutdown", engine, "SHUTDOWN, 400 queued in, %d echoes out" % echoed, 400, summary, before, after)


# --- SIGTERM under full load -----------------------------------------------------

def sigterm_case(engine):
    """serve gets SIGTERM while load sends at full speed (2 hot associations
    unpaced, 6 paced): it reads what the kernel already acknowledged, prints
    its summary and exits 0; what it verified has no gap, duplicate or
    reorder and is no more than load sent. (A second signal exiting at once
    is limits_test's.)"""
    label = "sigterm %s" % engine
    # Every engine with the data plane's 4 MiB receive buffer: with the
    # kernel's default, the one-to-many socket's buffer (shared by every
    # association at net.sctp.rcvbuf_policy=0) closed the hot associations'
    # windows and epoll stalled for minutes at about 2,000 messages (CI).
    s = Serve(engine, "--ppid=7", "--rcvbuf=4MiB")
    before = s.resources()
    lp = subprocess.Popen([lt.B, "load", "--connect=127.0.0.1:%d" % s.port, "--associations=8", "--hot=2",
                           "--rate=0", "--cold-rate=20", "--streams=4", "--size=1024", "--ppid=7",
                           "--duration=600s"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lt.check(label + ": load under way", s.until("messages_in", 3000), s.stats)
    if engine == "uring":  # the stop then drains the workers' sockets too
        lt.check(label + ": the hot associations moved", s.until("peeled", 2), s.stats)
    during = s.resources()
    summary = s.stop()
    lt.check(label + ": serve prints its summary and exits 0", (s.p.returncode, bool(summary)) == (0, True),
             "exit %s; %s" % (s.p.returncode, summary))
    lp.send_signal(signal.SIGTERM)
    try:
        out, _ = lp.communicate(timeout=lt.GUARD)
    except subprocess.TimeoutExpired:
        lp.kill()
        out, _ = lp.communicate()
    sent = next((json.loads(l) for l in out.splitlines() if l.startswith("{")), {}).get("messages", -1)
    lt.check(label + ": no gap, duplicate, reorder or malformed message",
             [summary.get(k) for k in ("gaps", "duplicates", "reorders", "malformed")] == [0, 0, 0, 0], summary)
    lt.check(label + ": serve verified no more than load sent", 0 < summary.get("verified", 0) <= sent,
             "verified %s, sent %s" % (summary.get("verified"), sent))
    # "sent" is load's count, which includes what was still in its own
    # socket buffers, never acknowledged by serve's kernel, at the stop.
    row("sigterm", engine, "SIGTERM at full load (sent: load's, its queue too)", max(sent, 0), dict(summary, verified=min(summary.get("verified", 0),
                                                                                     max(sent, 0))), before, during)


# --- INIT flood past --max-associations ------------------------------------------

def flood_case(engine, limit="--max-associations=8"):
    """20 INITs beside load's 4 verified associations, all from 127.0.0.1,
    past `limit` (the whole table's, or one peer address's share)."""
    label = "flood %s %s" % (engine, limit)
    s = Serve(engine, limit)
    before = s.resources()
    # load's associations live through the flood: it sends until SIGTERM.
    lp = subprocess.Popen([lt.B, "load", "--connect=127.0.0.1:%d" % s.port, "--associations=4", "--streams=2",
                           "--rate=100", "--duration=1h"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lt.check(label + ": load's associations up", s.until("associations", 4))
    peer = Peer("limit", s.port, 20, 16)
    lt.check(label + ": 16 of 20 flooding associations aborted", peer.said() == "rejected 16")
    lt.check(label + ": rejected counted", s.until("rejected", 16), s.stats)
    peer.tell()
    peer.end()
    lp.send_signal(signal.SIGTERM)
    out, err = lp.communicate(timeout=lt.GUARD)
    rc, ls = lp.returncode, json.loads(out.strip().splitlines()[-1] if out.strip() else "{}")
    sent = ls.get("messages", 0)
    s.until("verified", sent)
    after = s.resources(settled=True)
    summary = s.stop()
    lt.check(label + ": load exits 0", rc == 0, ls)
    verified_exactly(label, sent, summary, ls.get("bytes"))
    lt.check(label + ": 16 rejected, no more", summary.get("rejected") == 16, summary)
    row("init-flood", engine, "20 INITs, 4 under " + limit, sent, summary, before, after)


# --- churn ------------------------------------------------------------------------

def churned(s, cycles, hold, ns=None):
    """hostile_peer churn: `cycles` associations; every `hold`-th stays until
    serve has moved as many as have been held so far (at least one move per
    held one). True when all went."""
    peer = Peer("churn", s.port, cycles, hold, ns=ns)
    held = s.stats.get("peeled", 0)
    while True:
        said = peer.said()
        if said != "holding":
            peer.end()
            return said == "done"
        held += 1
        s.until("peeled", held)
        peer.tell()


def churn_case(engine, flags, hold):
    """CHURN connect/send/close cycles, every `hold`-th one peeled before
    its close; fds and RSS after the first half (warm-up: glibc's arenas and
    mmap threshold settle, the threads engine's most), after the third
    quarter and at the end. A leak grows RSS in both last quarters; a
    one-time step (an arena, a buffer grown once) in one of them only."""
    label = "churn %s" % engine
    s = Serve(engine, *flags)
    before = s.resources()
    warm, third = CHURN // 2, (3 * CHURN) // 4
    lt.check(label + ": warm-up cycles", churned(s, warm, hold))
    s.until("messages_in", warm)
    warmed = s.resources()
    lt.check(label + ": third quarter", churned(s, third - warm, hold))
    s.until("messages_in", third)
    mid = s.resources()
    lt.check(label + ": last quarter", churned(s, CHURN - third, hold))
    s.wait(lambda: s.stats.get("messages_in", 0) >= CHURN and s.stats.get("associations", 1) == 0)
    # An ended association's socket closes a moment after the count drops
    # (threads: its thread closes it on the way out): wait for that, bounded.
    s.wait(lambda: s.resources()[0] <= warmed[0])
    after = s.resources()
    summary = s.stop()
    lt.check(label + ": every message served", summary.get("verified") == CHURN, summary)
    if hold:
        lt.check(label + ": one in %d or more moved before its close" % hold,
                 summary.get("peeled", 0) >= CHURN // hold, summary)
    growth = (after[1] - warmed[1]) * 100.0 / warmed[1]
    quarters = ((mid[1] - warmed[1]) * 100.0 / warmed[1], (after[1] - mid[1]) * 100.0 / warmed[1])
    print("  %s: after warm-up %d fds %d KiB, then %d KiB, at the end %d fds %d KiB: RSS %+.1f%% (%+.1f%%, %+.1f%%)" %
          (label, warmed[0], warmed[1], mid[1], after[0], after[1], growth, *quarters), flush=True)
    lt.check(label + ": fds flat after warm-up", after[0] == warmed[0], (warmed, after))
    if SANITIZED:
        print("  %s: RSS not checked under a sanitizer" % label, flush=True)
    else:
        lt.check(label + ": RSS does not grow quarter after quarter (2.5% each)",
                 min(quarters) < 2.5, "%+.1f%%, %+.1f%%" % quarters)
    row("churn", engine, "%d connect/send/close; RSS %+.1f%% after warm-up" % (CHURN, growth), CHURN, summary, before,
        after)


def table():
    head = ("case", "engine", "faults injected", "sent", "recv", "lost", "dup", "reord", "peeled", "fds",
            "rss_kib")
    lines = [head] + [(c, e, f, *map(str, (n, r, l, d, o, p)), "%d>%d" % (b[0], a[0]), "%d>%d" % (b[1], a[1]))
                      for c, e, f, n, r, l, d, o, p, b, a in ROWS]
    widths = [max(len(str(x[i])) for x in lines) for i in range(len(head))]
    print("\nfault suite summary (fds and RSS of serve: before > after)", flush=True)
    for x in lines:
        print("  ".join(str(v).ljust(w) if i < 3 else str(v).rjust(w) for i, (v, w) in enumerate(zip(x, widths))))


def main():
    global PEER, CHURN, SANITIZED
    only = None
    PEER = sys.argv[2]
    for a in sys.argv[3:]:
        if a.startswith("--churn="):
            CHURN = int(a.split("=")[1])
        if a == "--sanitized":
            SANITIZED = True
        if a.startswith("--cases="):
            only = a.split("=")[1].split(",")
    netns_up()
    cases = [(netem_case, "uring", 2), (netem_case, "epoll", 0), (netem_case, "threads", 6),
             (restart_case, "uring", "one-to-many", (), False),
             (restart_case, "uring", "peeled", ("--peel-all",), True),
             (restart_case, "epoll", "one-to-many", (), False), (restart_case, "threads", "peeled", (), True),
             (abort_flow_case, "uring", "one-to-many", (), False),
             (abort_flow_case, "uring", "peeled", ("--peel-all",), True),
             (abort_flow_case, "epoll", "one-to-many", (), False), (abort_flow_case, "threads", "peeled", (), True),
             (shutdown_case, "uring"), (shutdown_case, "epoll"), (shutdown_case, "threads"),
             (abort_case, "uring", "one-to-many", (), False), (abort_case, "uring", "peeled", ("--peel-all",), True),
             (abort_case, "epoll", "one-to-many", (), False), (abort_case, "threads", "peeled", (), True),
             (flood_case, "uring"), (flood_case, "epoll"), (flood_case, "threads"),
             (flood_case, "uring", "--max-associations-per-peer=8"),
             (flood_case, "epoll", "--max-associations-per-peer=8"),
             (flood_case, "threads", "--max-associations-per-peer=8"),
             (sigterm_case, "uring"), (sigterm_case, "epoll"), (sigterm_case, "threads"),
             # Every association is peeled as it comes up, but most are gone
             # by then; one in 50 stays until it is.
             (churn_case, "uring", ("--peel-all",), 50), (churn_case, "epoll", (), 0),
             (churn_case, "threads", (), 50)]
    for case, *args in cases:
        if only and case.__name__[:-len("_case")] not in only:
            continue
        start = time.monotonic()
        case(*args)
        print("  (%s %s: %.0f s)" % (case.__name__, args[0], time.monotonic() - start), flush=True)
    table()
    print("%d passed, %d failed" % (lt.results.count(True), lt.results.count(False)), flush=True)
    return 0 if lt.results and all(lt.results) else 1


if __name__ == "__main__":
    sys.exit(main())
