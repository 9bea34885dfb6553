"""rife-bench latency for the model-family table: a version's fp32 and int8 rife.Warp models, timed in turns.

Both models are loaded into their own `rife-bench serve` process and timed round by round by the
benchmark stage's runner (rifebuild.bench.runner.time_cell), so machine noise hits fp32 and int8 alike
and their ratio holds even when the absolute numbers drift. The int8 model is the one the table's int8
errors and size come from: one quantization per architecture.
"""
from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from rifebuild.core.errors import ReportError
from rifebuild.model import spec
from rifebuild.ncnn import graph

PRECISIONS = ("fp32", "int8")
COLUMN = "rife-bench fp32 / int8 ms (size, threads)"


@dataclasses.dataclass(frozen=True)
class Plan:
    """What to time: the host rife-bench, the size before rounding up to a version's padding, threads,
    timed runs of each model (after `warmup` untimed ones)."""

    binary: Path
    height: int = 736
    width: int = 1280
    threads: int = 2
    runs: int = 3
    warmup: int = 1

    def size(self, padding: int) -> tuple[int, int]:
        """The plan's size rounded up to the version's padding multiple (736x1280 -> 768x1280 for 64 and 128)."""
        return spec.round_up(self.height, self.width, padding)

    def check(self) -> None:
        """Fail before any conversion when the binary is missing or a count is not positive."""
        if not Path(self.binary).is_file():
            raise ReportError(f"{self.binary} does not exist; build it first (snakemake {self.binary}) "
                              "or pass --latency-bin")
        if self.threads < 1 or self.runs < 1:
            raise ReportError(f"--latency-threads ({self.threads}) and --latency-runs ({self.runs}) must be at least 1")


def measure(plan: Plan, models: dict[str, graph.Model], padding: int, work: Path) -> dict:
    """Write the models ({"fp32": ..., "int8": ...}) as rife-bench model folders under `work` and time them in
    turns at the plan's size for this padding; median, p90, min and every run of each, and int8 / fp32."""
    from rifebuild.bench.matrix import Cell, rife_bench_run
    from rifebuild.bench.runner import summary, time_cell

    start = time.perf_counter()
    height, width = plan.size(padding)
    runs = []
    for precision in PRECISIONS:
        folder = Path(work) / precision
        folder.mkdir(parents=True, exist_ok=True)
        graph.write(models[precision], folder / "flownet.param", folder / "flownet.bin")
        runs.append(rife_bench_run(precision, plan.binary, folder, height, width, plan.threads, plan.warmup,
                                   precision))
    timed = time_cell(Cell(height, width, plan.threads, runs), plan.runs,
                      {p: f"rife-bench {p}" for p in PRECISIONS}, log=lambda text: print(text, file=sys.stderr))
    out = {"size": f"{height}x{width}", "threads": plan.threads, "warmup": plan.warmup}
    for precision in PRECISIONS:
        out[precision] = {**summary(timed[precision]["latency_ms"]), "latency_ms": timed[precision]["latency_ms"]}
    out["int8_vs_fp32"] = round(out["int8"]["median_ms"] / out["fp32"]["median_ms"], 3)
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def cell(latency: dict | None) -> str:
    """The table cell: median fp32 / int8 ms, their ratio, the size and threads they were timed at."""
    if not latency:
        return "-"
    return (f"{latency['fp32']['median_ms']:.1f} / {latency['int8']['median_ms']:.1f} "
            f"(x{latency['int8_vs_fp32']:.2f}; {latency['size']}, {latency['threads']} t)")
