"""The benchmark's figures: latency per variant and thread count, quality against latency with the
Pareto front, size per artifact. PNGs from bench.json alone, byte-identical for the same record.

Why byte-identical: the figures go into the report and the release bundle, whose hashes must only
change when the numbers do. matplotlib's Agg backend is deterministic once its settings are fixed
(no user matplotlibrc, the bundled DejaVu font) and the PNG carries no timestamp or version
(metadata Software=None).
"""
from __future__ import annotations

from pathlib import Path

from rifebuild.bench.matrix import BASELINE
from rifebuild.bench.tables import ORDER, row_key, sorted_results
from rifebuild.core.files import atomic_path

STYLE = {"font.family": "DejaVu Sans", "font.size": 9, "axes.grid": True, "grid.alpha": 0.3,
         "axes.spines.top": False, "axes.spines.right": False, "figure.dpi": 100, "savefig.dpi": 100,
         "path.simplify": False}
COLORS = ("#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return matplotlib, plt


def save(fig, path: Path | str) -> None:
    _, plt = _pyplot()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", metadata={"Software": None})
    plt.close(fig)


def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """(latency, quality, name) points no other point beats on both: faster and at least as good."""
    front, best = [], float("-inf")
    for point in sorted(points, key=lambda p: (p[0], -p[1])):
        if point[1] > best:
            front.append(point)
            best = point[1]
    return front


def latency_figure(bench: dict, path: Path | str) -> None:
    matplotlib, plt = _pyplot()
    rows = sorted_results(bench)
    sizes, threads = bench["sizes"], sorted({r["threads"] for r in rows})
    with matplotlib.rc_context(STYLE):
        keys = sorted({row_key(r) for r in rows})  # GPU variants: a bar per device and mode
        names = {row_key(r): r["label"] for r in rows}
        fig, axes = plt.subplots(len(sizes), 1, figsize=(8, 0.45 * len(keys) * len(sizes) + 1.2 * len(sizes)),
                                 squeeze=False)
        height = 0.8 / len(threads)
        for ax, size in zip(axes[:, 0], sizes):
            for j, t in enumerate(threads):
                for i, key in enumerate(keys):
                    row = next((r for r in rows if r["size"] == size and r["threads"] == t and row_key(r) == key), None)
                    if row is None:
                        continue
                    y = i + (j - (len(threads) - 1) / 2) * height
                    ax.barh(y, row["median_ms"], height, color=COLORS[j % len(COLORS)],
                            label=f"{t} thread{'s' if t > 1 else ''}" if i == 0 else None)
                    ax.errorbar(row["median_ms"], y, xerr=[[0], [row["p90_ms"] - row["median_ms"]]], color="black",
                                capsize=2, linewidth=0.8)
                    ax.text(row["p90_ms"], y, f" {row['median_ms']:.0f} ms ({row['ratio_vs_baseline']:.2f}x)",
                            va="center", fontsize=7)
            ax.set_yticks(range(len(keys)), [names[k] + (" *" if ORDER[k[0]] == BASELINE else "") for k in keys])
            ax.invert_yaxis()
            ax.set_xlabel("median ms per frame (bar), p90 (whisker); (ratio to * from the same rounds)")
            ax.set_title(f"{size}")
            ax.legend(loc="lower right", fontsize=7)
            ax.set_xlim(0, max(r["p90_ms"] for r in rows if r["size"] == size) * 1.35)
        fig.tight_layout()
    save(fig, path)


def quality_figure(bench: dict, path: Path | str) -> None:
    matplotlib, plt = _pyplot()
    rows, quality = sorted_results(bench), bench["quality"]
    sizes, threads = bench["sizes"], sorted({r["threads"] for r in rows})
    resolutions = sorted({q["resolution"] for q in quality.values()})
    with matplotlib.rc_context(STYLE):
        fig, axes = plt.subplots(len(sizes), len(threads), figsize=(4.6 * len(threads), 3.6 * len(sizes)),
                                 squeeze=False)
        for a, size in enumerate(sizes):
            for b, t in enumerate(threads):
                ax = axes[a, b]
                points = [(r["median_ms"], quality[r["variant"]]["psnr_db"], r["variant"]) for r in rows
                          if r["size"] == size and r["threads"] == t and r["variant"] in quality]
                front = pareto_front(points)
                ax.scatter([p[0] for p in points], [p[1] for p in points], color="#999999", s=18, zorder=2)
                ax.step([p[0] for p in front], [p[1] for p in front], where="post", color=COLORS[3], zorder=1,
                        label="Pareto front")
                ax.scatter([p[0] for p in front], [p[1] for p in front], color=COLORS[3], s=26, zorder=3)
                for x, y, key in points:
                    ax.annotate(key, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=6.5)
                ax.set_title(f"{size}, {t} thread{'s' if t > 1 else ''}")
                ax.ticklabel_format(axis="y", useOffset=False)
                if points:  # at least 0.5 dB tall: near-equal scores stay readable instead of a 1e-3 axis
                    lo, hi = min(p[1] for p in points), max(p[1] for p in points)
                    pad = max(0.25, (hi - lo) * 0.15)
                    ax.set_ylim(lo - pad, hi + pad)
                ax.set_xlabel("median ms per frame")
                ax.set_ylabel(f"PSNR vs ground truth, dB ({', '.join(resolutions)})")
                ax.legend(loc="lower right", fontsize=7)
        fig.tight_layout()
    save(fig, path)


def size_figure(bench: dict, path: Path | str) -> None:
    matplotlib, plt = _pyplot()
    artifacts = bench["artifacts"]
    with matplotlib.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(7, 0.32 * len(artifacts) + 1.0))
        mb = [a["bytes"] / 1e6 for a in artifacts]
        ax.barh(range(len(artifacts)), mb, color=COLORS[0])
        for i, value in enumerate(mb):
            ax.text(value, i, f" {value:.1f}", va="center", fontsize=7)
        ax.set_yticks(range(len(artifacts)), [a["artifact"] for a in artifacts])
        ax.invert_yaxis()
        ax.set_xlabel("MB (weights file: .pkl, .onnx, ncnn .bin, .mnn)")
        ax.set_xlim(0, max(mb) * 1.15)
        fig.tight_layout()
    save(fig, path)
