#!/usr/bin/python3
"""Draws the pictures of an `sctpdp bench` run from its JSON lines.

    tools/plots/bench_plot.py bench.jsonl [--out DIR]

bench-throughput.png and .svg: per mode (echo, sink, paced), messages/s and
server CPU per message for each engine and cell (size, hot/all), medians of
the runs, with the data plane's ratio to each baseline over its bars.
bench-latency.png and .svg (latency mode): per engine, the round-trip
percentiles (from when each message was due) against offered load, log
scale, with the figure from the send dashed and the engine's capacity
marked; a last panel puts every engine's p50 and p99 side by side.
`sctpdp bench --plot DIR` writes DIR/bench.jsonl and calls this; any run
saved with `bench --json > FILE` can be drawn again.
"""
import argparse
import json
import os
import statistics
import sys

from plotting import save  # noqa: E402 (first: it picks matplotlib's backend)
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402

ENGINES = ("uring", "epoll", "threads")
COLOURS = {"uring": "tab:blue", "epoll": "tab:orange", "threads": "tab:green"}
MODES = ("echo", "sink", "paced")
PERCENTILES = (("p50", "p50", "o"), ("p90", "p90", "s"), ("p99", "p99", "^"), ("p999", "p99.9", "D"),
               ("max", "max", "v"))


def load(path):
    """The JSON lines of a bench run, by type."""
    by_type = {}
    try:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                line = line.strip()
                if not line.startswith("{"):
                    continue  # a table line, or bench's prose
                try:
                    row = json.loads(line)
                except ValueError as e:
                    sys.exit(f"bench_plot: {path}:{n}: not JSON: {e}")
                by_type.setdefault(row.get("type"), []).append(row)
    except OSError as e:
        sys.exit(f"bench_plot: cannot read {path}: {e}")
    return by_type


def cell_key(row):
    return (row["size"], row["hot"], row["associations"])


def cell_label(key):
    size, hot, total = key
    size_text = f"{size // 1024} KiB" if size % 1024 == 0 else f"{size} B"
    return f"{size_text}\n{hot}/{total} hot"


def title(rows):
    """The run's machine and parameters, from its "bench" line."""
    if not rows.get("bench"):
        return ""
    b = rows["bench"][0]
    return f"kernel {b.get('kernel', '?')}, {b.get('cpus', '?')} CPUs, repeats: {b.get('repeats', '?')}"


def medians(cells, field):
    """(mode, cell, engine) -> the median of `field` over the runs."""
    runs = {}
    for c in cells:
        runs.setdefault((c["mode"], cell_key(c), c["engine"]), []).append(c[field])
    return {k: statistics.median(v) for k, v in runs.items()}


def ratio_text(ratios, mode, key, field):
    parts = [f"x{r[field]:.2f} {r['versus']}" for r in ratios
             if r["mode"] == mode and cell_key(r) == key and r.get(field)]
    return "\n".join(parts)


def draw_bars(ax, values, ratios, mode, field, ratio_field, ylabel):
    keys = sorted({k for (m, k, _) in values if m == mode})
    engines = [e for e in ENGINES if any((mode, k, e) in values for k in keys)]
    width = 0.8 / max(1, len(engines))
    for i, engine in enumerate(engines):
        xs = [j + (i - (len(engines) - 1) / 2) * width for j in range(len(keys))]
        ys = [values.get((mode, k, engine), 0) for k in keys]
        ax.bar(xs, ys, width, color=COLOURS[engine], label=engine)
        if engine != "uring":
            continue
        for x, y, k in zip(xs, ys, keys):
            text = ratio_text(ratios, mode, k, ratio_field)
            if text:
                ax.annotate(text, (x, y), textcoords="offset points", xytext=(0, 3), ha="center", fontsize=7)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([cell_label(k) for k in keys], fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(f"{mode}: {field}", fontsize=9)
    ax.margins(y=0.25)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)


def draw_throughput(rows, out_dir):
    cells = rows.get("cell", [])
    modes = [m for m in MODES if any(c["mode"] == m for c in cells)]
    if not modes:
        return []
    rate = medians(cells, "messages_per_s")
    cpu = medians(cells, "cpu_s_per_million")  # CPU seconds per million messages = microseconds per message
    ratios = rows.get("ratio", [])
    fig, axes = plt.subplots(len(modes), 2, figsize=(10, 3.4 * len(modes)), squeeze=False)
    for row, mode in zip(axes, modes):
        draw_bars(row[0], rate, ratios, mode, "messages/s", "messages_per_s", "messages/s (median)")
        draw_bars(row[1], cpu, ratios, mode, "server CPU per message", "cpu_per_message", "CPU µs per message")
    fig.suptitle(f"sctpdp bench: the data plane (uring) against the baselines; {title(rows)}", fontsize=9)
    fig.tight_layout()
    return save(fig, out_dir, "bench-throughput")


def latency_points(rows):
    """(cell, engine) -> sorted [(load_percent, offered, {percentile: median}, {from the send})]."""
    runs = {}
    for r in rows.get("latency", []):
        runs.setdefault((cell_key(r), r["engine"], r["load_percent"]), []).append(r)
    points = {}
    for (key, engine, percent), rs in runs.items():
        def median_of(obj):
            return {p: statistics.median(r[obj].get(p, 0) for r in rs) for p, _, _ in PERCENTILES}
        offered = statistics.median(r["offered_per_s"] for r in rs)
        points.setdefault((key, engine), []).append(
            (percent, offered, median_of("rtt_from_schedule_us"), median_of("rtt_us")))
    for v in points.values():
        v.sort()
    return points


def draw_engine(ax, pts, engine, capacity):
    xs = [p[1] for p in pts]
    for key, label, marker in PERCENTILES:
        ax.plot(xs, [max(p[2][key], 1) for p in pts], marker=marker, markersize=4, label=label)
    ax.plot(xs, [max(p[3]["p50"], 1) for p in pts], "--", color="grey", linewidth=1, label="p50 from the send")
    ax.plot(xs, [max(p[3]["p99"], 1) for p in pts], ":", color="grey", linewidth=1, label="p99 from the send")
    if capacity:
        ax.axvline(capacity, color=COLOURS.get(engine, "black"), linestyle="--", alpha=0.6)
        ax.annotate(f"capacity\n{capacity:.0f}/s", (capacity, 0), xycoords=("data", "axes fraction"),
                    xytext=(-3, 3), textcoords="offset points", ha="right", va="bottom", fontsize=7)
    ax.set_xticks(xs)
    ax.set_xticklabels([f"{p[0]}%\n{p[1]:.0f}/s" for p in pts], fontsize=7)
    ax.set_title(f"{engine}: round trips from when due", fontsize=9)


def draw_comparison(ax, points, key, engines):
    for engine in engines:
        pts = points[(key, engine)]
        xs = [p[1] for p in pts]
        colour = COLOURS.get(engine, "black")
        ax.plot(xs, [max(p[2]["p99"], 1) for p in pts], marker="^", color=colour, label=f"{engine} p99")
        ax.plot(xs, [max(p[2]["p50"], 1) for p in pts], "--", marker="o", color=colour, label=f"{engine} p50")
    pts = points[(key, engines[0])]
    ax.set_xticks([p[1] for p in pts])
    ax.set_xticklabels([f"{p[0]}%\n{p[1]:.0f}/s" for p in pts], fontsize=7)
    ax.set_title("every engine, the same offered load", fontsize=9)


def human_us(value, _):
    """An axis label for a round trip in microseconds."""
    for unit, scale in (("s", 1e6), ("ms", 1e3)):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} µs"


def draw_latency(rows, out_dir):
    points = latency_points(rows)
    if not points:
        return []
    capacity = {(cell_key(c), c["engine"]): c["capacity_per_s"] for c in rows.get("capacity", [])}
    keys = sorted({k for k, _ in points})
    engines = [e for e in ENGINES if any((k, e) in points for k in keys)]
    cols = len(engines) + 1
    fig, axes = plt.subplots(len(keys), cols, figsize=(3.8 * cols, 3.6 * len(keys)), squeeze=False, sharey="row")
    for row, key in zip(axes, keys):
        present = [e for e in engines if (key, e) in points]
        for ax, engine in zip(row, present):
            draw_engine(ax, points[(key, engine)], engine, capacity.get((key, engine)))
        draw_comparison(row[len(present)], points, key, present)
        for ax in row[len(present) + 1:]:
            ax.axis("off")
        for ax in row:
            ax.set_yscale("log")
            ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(human_us))
            ax.grid(alpha=0.3, which="both")
            ax.tick_params(axis="y", labelsize=7)
            ax.legend(fontsize=6)
        row[0].set_ylabel(f"{cell_label(key).replace(chr(10), ', ')}\nround trip (log scale)", fontsize=8)
    ref = rows["latency"][0]
    fig.suptitle(f"sctpdp bench latency: offered load as % of {ref['reference']}'s capacity "
                 f"({ref['reference_capacity_per_s']:.0f} msg/s), open loop; {title(rows)}", fontsize=9)
    fig.tight_layout()
    return save(fig, out_dir, "bench-latency")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="JSON lines written by sctpdp bench --json (or --plot DIR: DIR/bench.jsonl)")
    parser.add_argument("--out", help="output directory (default: beside the JSON)")
    args = parser.parse_args()
    rows = load(args.json)
    out_dir = args.out or os.path.dirname(os.path.abspath(args.json))
    paths = draw_throughput(rows, out_dir) + draw_latency(rows, out_dir)
    if not paths:
        sys.exit(f"bench_plot: {args.json}: nothing to draw (no cell or latency lines)")
    for path in paths:
        print(path)


if __name__ == "__main__":
    main()
