#!/usr/bin/python3
"""Draws the pictures of an `sctpdp regress` run from its regress.json.

    tools/plots/regress_plot.py OUT/regress.json [--out DIR]

One figure per metric (regress-METRIC.png and .svg): a panel per bench cell
and compared side, with every run of both sides (one marker per boot, so
between-boot spread shows), each side's median, and the 95% interval of
B's median implied by the change's interval (A's median x (1 + CI)).
regress writes the JSON and calls this; an old run can be redrawn from it.
"""
import argparse
import json
import os
import sys

from plotting import save  # noqa: E402 (first: it picks matplotlib's backend)
import matplotlib.pyplot as plt  # noqa: E402

MARKERS = "os^Dv<>ph*"
COLOURS = {"improvement": "tab:green", "regression": "tab:red", "unstable": "tab:orange", "no change": "tab:gray"}


def load(path):
    try:
        with open(path) as f:
            report = json.load(f)
    except (OSError, ValueError) as e:
        sys.exit(f"regress_plot: cannot read {path}: {e}")
    if report.get("type") != "regress" or "metrics" not in report:
        sys.exit(f"regress_plot: {path} is not a regress.json (no type=regress with metrics)")
    return report


def draw_side(ax, x, samples, colour):
    """Every run of one side, jittered by boot, and the median line."""
    values = []
    for boot, runs in enumerate(samples):
        for run, v in enumerate(runs):
            dx = (boot - (len(samples) - 1) / 2) * 0.06 + (run - (len(runs) - 1) / 2) * 0.015
            ax.plot(x + dx, v, MARKERS[boot % len(MARKERS)], color=colour, alpha=0.75, markersize=5)
            values.append(v)
    return values


def draw_panel(ax, row, baseline):
    a, b = row["a"], row["b"]
    draw_side(ax, 0, a["samples"], "tab:blue")
    draw_side(ax, 1, b["samples"], "tab:purple")
    ax.hlines(a["median"], -0.3, 0.3, colors="tab:blue", linewidth=2)
    ax.hlines(b["median"], 0.7, 1.3, colors="tab:purple", linewidth=2)
    verdict = row["verdict"]
    if row.get("change") is not None:
        lo, hi = (a["median"] * (1 + c) for c in row["ci"])
        ax.vlines(1.38, lo, hi, colors=COLOURS.get(verdict, "black"), linewidth=5, alpha=0.6)
        title = f"{row['cell']}\n{row['change'] * 100:+.1f}% [{row['ci'][0] * 100:+.1f}, {row['ci'][1] * 100:+.1f}]"
    else:
        title = f"{row['cell']}\n(no change defined)"
    ax.set_title(f"{title} {verdict}", fontsize=8, color=COLOURS.get(verdict, "black"))
    ax.set_xticks([0, 1])
    ax.set_xticklabels([f"{baseline}\n±{a['rsd'] * 100:.1f}%", f"{row['side']}\n±{b['rsd'] * 100:.1f}%"], fontsize=8)
    ax.set_xlim(-0.5, 1.6)
    ax.tick_params(axis="y", labelsize=7)
    ax.grid(axis="y", alpha=0.3)


def draw_metric(metric, rows, baseline, out_dir):
    cols = min(3, len(rows))
    nrows = (len(rows) + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(3.6 * cols, 3.4 * nrows), squeeze=False)
    for ax, row in zip(axes.flat, rows):
        draw_panel(ax, row, baseline)
    for ax in list(axes.flat)[len(rows):]:
        ax.axis("off")
    better = "higher is better" if rows[0].get("higher_is_better") else "lower is better"
    fig.suptitle(f"{metric} ({better}); markers: boots; bar: 95% interval of the change", fontsize=9)
    fig.tight_layout()
    return save(fig, out_dir, f"regress-{metric}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", help="regress.json written by sctpdp regress")
    parser.add_argument("--out", help="output directory (default: beside the JSON)")
    args = parser.parse_args()
    report = load(args.json)
    out_dir = args.out or os.path.dirname(os.path.abspath(args.json))
    by_metric = {}
    for row in report["metrics"]:
        by_metric.setdefault(row["metric"], []).append(row)
    if not by_metric:
        sys.exit("regress_plot: no metrics to draw (a run without bench samples)")
    for metric, rows in by_metric.items():
        for path in draw_metric(metric, rows, report["baseline"], out_dir):
            print(path)


if __name__ == "__main__":
    main()
