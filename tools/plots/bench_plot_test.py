#!/usr/bin/python3
"""bench_plot.py draws a recorded `sctpdp bench` run (testdata/bench.jsonl, a
guest run of every mode and the latency search): every picture is there, a
valid PNG of a sensible size and an SVG that parses, with the engines and
percentiles named; a run with cells only draws only the throughput figure;
a file with nothing to draw, or that is not JSON, exits non-zero with a
one-line reason."""
import os
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
SCRIPT = os.path.join(HERE, "bench_plot.py")
FIXTURE = os.path.join(HERE, "testdata", "bench.jsonl")
fails = 0


def check(label, ok, detail=""):
    global fails
    print(("ok   " if ok else "FAIL ") + label + ("" if ok else f": {detail}"))
    fails += not ok


def draw(path, out):
    # Matplotlib's cache where it can write (else it says so on stderr).
    env = dict(os.environ, MPLCONFIGDIR=tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR")))
    return subprocess.run([sys.executable, SCRIPT, path, "--out", out], capture_output=True, text=True, env=env)


def png_size(path):
    """(width, height) from the IHDR chunk; None when it is not a PNG."""
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def check_png(path):
    size = png_size(path)
    check(f"{os.path.basename(path)} is a PNG of at least 600x300", size is not None and size[0] >= 600 and
          size[1] >= 300, size)
    check(f"{os.path.basename(path)} is more than 20 KB (not blank)", os.path.getsize(path) > 20000,
          os.path.getsize(path))


def svg_text(path):
    root = ET.parse(path).getroot()
    return root, " ".join(t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")) + open(path).read()


def check_svg(path, words):
    try:
        root, text = svg_text(path)
    except ET.ParseError as e:
        check(f"{os.path.basename(path)} parses as XML", False, e)
        return
    check(f"{os.path.basename(path)} is an SVG", root.tag == "{http://www.w3.org/2000/svg}svg", root.tag)
    paths = sum(1 for _ in root.iter("{http://www.w3.org/2000/svg}path"))
    check(f"{os.path.basename(path)} draws more than 100 paths", paths > 100, paths)
    for w in words:
        check(f"{os.path.basename(path)} names {w}", w in text)


def main():
    out = tempfile.mkdtemp(dir=os.environ.get("TEST_TMPDIR"))
    r = draw(FIXTURE, out)
    check("draws the recorded run", r.returncode == 0, r.stderr)
    names = ["bench-throughput.png", "bench-throughput.svg", "bench-latency.png", "bench-latency.svg"]
    check("prints every picture's path", r.stdout.split() == [os.path.join(out, n) for n in names], r.stdout)
    for n in names:
        check(f"{n} exists", os.path.exists(os.path.join(out, n)))
    if all(os.path.exists(os.path.join(out, n)) for n in names):
        check_png(os.path.join(out, "bench-throughput.png"))
        check_png(os.path.join(out, "bench-latency.png"))
        # Matplotlib's SVG draws text as glyph paths: the words are in its comments.
        check_svg(os.path.join(out, "bench-throughput.svg"), ["uring", "epoll", "threads", "echo", "sink"])
        check_svg(os.path.join(out, "bench-latency.svg"), ["uring", "epoll", "threads", "p99.9", "capacity"])

    cells_only = os.path.join(out, "cells.jsonl")
    with open(FIXTURE) as f, open(cells_only, "w") as g:
        g.writelines(line for line in f if '"type":"cell"' in line or '"type":"ratio"' in line)
    only = os.path.join(out, "only")
    os.mkdir(only)
    r = draw(cells_only, only)
    check("cells alone: the throughput figure only", r.returncode == 0 and
          sorted(os.listdir(only)) == ["bench-throughput.png", "bench-throughput.svg"], (r.stderr, os.listdir(only)))

    empty = os.path.join(out, "empty.jsonl")
    with open(empty, "w") as f:
        f.write('{"type":"bench","engines":["uring"]}\n')
    r = draw(empty, out)
    check("nothing to draw: exit 1, one line", r.returncode == 1 and "nothing to draw" in r.stderr and
          r.stderr.count("\n") == 1, r.stderr)
    bad = os.path.join(out, "bad.jsonl")
    with open(bad, "w") as f:
        f.write('{"type":"cell",\n')
    r = draw(bad, out)
    check("not JSON: exit 1 naming the line", r.returncode == 1 and "bad.jsonl:1" in r.stderr, r.stderr)
    print(f"{fails} failed")
    sys.exit(1 if fails else 0)


if __name__ == "__main__":
    main()
