"""sctpdp serve and load at their limits, on real SCTP (run by limits_test.sh
in the guest): a message of serve's --max-message, more streams than the
server grants, a metrics endpoint under idle connections, and a second
SIGTERM while the stop is held up. Waits are on events; every wait has a
60 s hang guard."""
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile

B = sys.argv[1]
GUARD = 60
MIB = 1 << 20
results = []
buffers = {}


def check(name, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + name + ("" if ok else ": " + str(detail)), flush=True)
    results.append(ok)


def read_until(fd, pattern):
    """The first match of `pattern` (bytes regex) in what `fd` gives, or None
    at EOF or after the hang guard. Keeps what follows for the next call."""
    buf = buffers.get(fd, b"")
    while True:
        m = re.search(pattern, buf)
        if m:
            buffers[fd] = buf[m.end():]
            return m
        ready, _, _ = select.select([fd], [], [], GUARD)
        chunk = os.read(fd, 65536) if ready else b""
        if not chunk:
            buffers[fd] = buf
            print("  (read so far: %r)" % buf[-400:], flush=True)
            return None
        buf += chunk


def serve(*flags, stdout=subprocess.PIPE):
    """serve on a free port: the process, and its stdout's fd when a pipe."""
    p = subprocess.Popen([B, "serve", "--listen=127.0.0.1:0", *flags], stdout=stdout, stderr=subprocess.PIPE)
    out = p.stdout.fileno() if stdout == subprocess.PIPE else None
    return p, out


def started(fd):
    m = read_until(fd, rb"listening on port (\d+)([^\n]*)\n")
    if m is None:
        return None, None
    metrics = re.search(rb"metrics on 127\.0\.0\.1:(\d+)", m.group(2))
    return int(m.group(1)), (int(metrics.group(1)) if metrics else None)


def stop(p):
    """SIGTERM; serve's exit code and summary line."""
    fd = p.stdout.fileno()
    p.send_signal(signal.SIGTERM)
    try:
        out, _ = p.communicate(timeout=GUARD)
    except subprocess.TimeoutExpired:
        p.kill()
        p.communicate()
        return None, ""
    rest = buffers.pop(fd, b"") + out
    return p.returncode, rest.decode()


def served(fd, count):
    """Waits for a stats line with `count` messages verified: load's exit
    means sent, not arrived (its close lets the kernel finish sending), and
    SIGTERM would end the associations with messages still in flight."""
    read_until(fd, rb'"verified":%d[,}]' % count)


def field(name, text):
    m = re.search(r'"%s":(\d+)' % name, text)
    return int(m.group(1)) if m else None


def load(port, *flags, prefix=()):
    r = subprocess.run([*prefix, B, "load", "--connect=127.0.0.1:%d" % port, *flags], capture_output=True,
                       text=True, timeout=GUARD * 2)
    return r.returncode, r.stdout, r.stderr


def big_messages():
    p, out = serve("--mode=verify", "--stats-interval=100ms")
    port, _ = started(out)
    rc, summary_load, err = load(port, "--size=1MiB", "--count=4", "--streams=1")
    check("load --size=1MiB exits 0", rc == 0, err.strip())
    # Without CAP_NET_ADMIN the send buffer stops at 2 x net.core.wmem_max.
    wmem_max = int(open("/proc/sys/net/core/wmem_max").read())
    rc, _, err = load(port, "--size=1MiB", "--count=1", prefix=("setpriv", "--bounding-set=-net_admin"))
    if 2 * wmem_max < MIB:
        check("load --size=1MiB without CAP_NET_ADMIN exits 2 naming wmem_max", rc == 2 and "wmem_max" in err,
              "exit %d: %s" % (rc, err.strip()))
    served(out, 4)
    rc, summary = stop(p)
    check("serve --mode=verify counted the 1 MiB messages", (rc, field("verified", summary),
          field("bytes_in", summary)) == (0, 4, 4 * MIB), summary)


def granted_streams(socket_kind):
    p, out = serve("--mode=verify", "--streams=16", "--stats-interval=100ms")
    port, _ = started(out)
    rc, summary_load, err = load(port, "--streams=64", "--count=100", "--associations=2", "--socket=" + socket_kind)
    check("%s: load --streams=64 against 16 granted exits 0" % socket_kind, rc == 0, err.strip())
    check("%s: one warning names 64 requested and 16 granted" % socket_kind,
          err.count("--streams=64: the server granted 16") == 1, err.strip())
    check("%s: load reports 16 streams granted" % socket_kind, field("streams_granted", summary_load) == 16,
          summary_load)
    served(out, 200)
    rc, summary = stop(p)
    check("%s: serve verified all 200, in order" % socket_kind,
          (rc, field("verified", summary), field("gaps", summary), field("reorders", summary)) == (0, 200, 0, 0),
          summary)


def idle_metrics_clients():
    p, out = serve("--metrics-port=0")
    _, mport = started(out)
    idle = []
    for _ in range(300):
        s = socket.create_connection(("127.0.0.1", mport), timeout=GUARD)
        idle.append(s)
    text = b""
    try:
        scrape = socket.create_connection(("127.0.0.1", mport), timeout=GUARD)
        scrape.sendall(b"GET /metrics HTTP/1.0\r\n\r\n")
        while True:
            chunk = scrape.recv(65536)
            if not chunk:
                break
            text += chunk
        scrape.close()
    except OSError as e:
        text += str(e).encode()
    check("a scrape answers with 300 idle connections open", b'sctpdp_messages_in_total{engine="uring"}' in text,
          text[-300:])
    # 300 fresh ones, then the stop: they must not delay it.
    for _ in range(300):
        idle.append(socket.create_connection(("127.0.0.1", mport), timeout=GUARD))
    rc, summary = stop(p)
    check("serve exits 0 at SIGTERM with 600 idle metrics connections", rc == 0 and '"summary"' in summary,
          "exit %s" % rc)
    for s in idle:
        s.close()


def full_fifo(tmp):
    """A FIFO to give a process as stdout: (its blocking write end, our
    non-blocking read/write end, to read what it says first and then to
    fill the pipe so that its next write blocks)."""
    path = os.path.join(tmp, "stdout.%d" % len(buffers))
    os.mkfifo(path)
    ours = os.open(path, os.O_RDWR | os.O_NONBLOCK)
    theirs = os.open(path, os.O_WRONLY)
    return theirs, ours


def fill(fd):
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except BlockingIOError:
        pass


def second_signal(name, p, err_fd):
    """The first SIGTERM starts the stop, held up on the full stdout pipe;
    the second ends the process at once with 128 + 15."""
    p.send_signal(signal.SIGTERM)
    stopping = read_until(err_fd, rb"stopping[^\n]*\n")
    check("%s: the first SIGTERM says it stops" % name, stopping is not None)
    p.send_signal(signal.SIGTERM)
    try:
        rc = p.wait(timeout=GUARD)
    except subprocess.TimeoutExpired:
        p.kill()
        rc = "still running"
    check("%s: a second SIGTERM during a held-up stop exits 143" % name, rc == 143, "exit %s" % rc)
    p.wait()


def second_signals(tmp):
    theirs, ours = full_fifo(tmp)
    p, _ = serve("--mode=sink", stdout=theirs)
    os.close(theirs)
    port, _ = started(ours)
    fill(ours)
    second_signal("serve", p, p.stderr.fileno())
    # load: the summary blocks on the full pipe; the signal mask is up once
    # the progress line shows.
    sink, out = serve("--mode=sink")
    port, _ = started(out)
    theirs, ours = full_fifo(tmp)
    lp = subprocess.Popen([B, "load", "--connect=127.0.0.1:%d" % port, "--rate=50", "--duration=1h", "--progress"],
                          stdout=theirs, stderr=subprocess.PIPE)
    os.close(theirs)
    fill(ours)
    check("load: progress shows", read_until(lp.stderr.fileno(), rb"sent") is not None)
    second_signal("load", lp, lp.stderr.fileno())
    stop(sink)


def main():
    tmp = tempfile.mkdtemp(dir="/dev/shm")
    big_messages()
    granted_streams("stream")
    granted_streams("seqpacket")
    idle_metrics_clients()
    second_signals(tmp)
    print("%d passed, %d failed" % (results.count(True), results.count(False)), flush=True)
    return 0 if results and all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
