"""Timing in turns: every variant of a cell loaded and warm in its own process, then timed round-robin.

Why turns: load drifts over seconds, on a busy machine and on a quiet one alike (other processes,
frequency, heat). When each round runs every variant once, the variants see the same drift and the
ratios against the baseline, measured in the same rounds, hold even where absolute numbers move.
The start of each round rotates, so no variant always runs right after the same neighbour.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

from rifebuild.bench.matrix import Cell, Run
from rifebuild.core.errors import BenchError

# Pause before each timed run: the previous runtime's idle threads may still spin (OpenMP, onnxruntime
# and MNN pools busy-wait for a few ms after a parallel region) and would steal the next one's cores.
GAP_S = 0.05


class Worker:
    """The parent side of the worker protocol (rifebuild.bench.worker; `rife-bench serve`)."""

    def __init__(self, run: Run, label: str):
        self.key, self.label = run.key, label
        self._stderr = tempfile.TemporaryFile(mode="w+")
        try:
            self.proc = subprocess.Popen(run.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                         stderr=self._stderr, text=True, bufsize=1)
        except OSError as exc:
            raise BenchError(f"cannot start {label} ({run.argv[0]}: {exc.strerror}); build it first") from None
        self.info = self._read("ready")

    def _read(self, key: str) -> dict:
        for line in self.proc.stdout:
            line = line.strip()
            if line.startswith("{"):
                message = json.loads(line)
                if key in message:
                    return message
        self.proc.wait()
        raise BenchError(f"{self.label} stopped (exit status {self.proc.returncode}): {self._last_error()}")

    def _last_error(self) -> str:
        self._stderr.seek(0)
        lines = [line.strip() for line in self._stderr.read().splitlines() if line.strip()]
        return lines[-1] if lines else "no message"

    def run(self) -> dict:
        try:
            self.proc.stdin.write("run\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            pass  # _read reports the exit
        sample = self._read("ms")
        if not (math.isfinite(sample["ms"]) and sample["ms"] > 0):
            raise BenchError(f"{self.label} reported a latency of {sample['ms']} ms")
        return sample

    def close(self) -> int:
        """Ends the worker; returns its peak RSS in kB."""
        try:
            self.proc.stdin.write("quit\n")
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        peak = self._read("peak_rss_kb")["peak_rss_kb"]
        self.proc.wait()
        self.echo_stderr()
        return peak

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.echo_stderr()

    def echo_stderr(self) -> None:
        """The worker's own messages, into the rule's log."""
        if self._stderr.closed:
            return
        self._stderr.seek(0)
        text = self._stderr.read().strip()
        if text:
            print(f"--- {self.label}:\n{text}", file=sys.stderr)
        self._stderr.close()


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default), without needing numpy here."""
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(ms: list[float]) -> dict:
    """median, p90, min, n of a variant's timed runs (all finite and positive, or an error)."""
    if not ms or not all(math.isfinite(m) and m > 0 for m in ms):
        raise BenchError(f"latencies {ms} are not all finite positive numbers")
    return {"median_ms": round(percentile(ms, 50), 3), "p90_ms": round(percentile(ms, 90), 3),
            "min_ms": round(min(ms), 3), "n": len(ms)}


def time_cell(cell: Cell, rounds: int, labels: dict[str, str], gap_s: float = GAP_S,
              start: Callable[[Run, str], Worker] = Worker, log=print) -> dict[str, dict]:
    """Start every worker of the cell (one after another: loading is not timed but must not overlap
    a timed run), then `rounds` rounds of one timed run each; returns samples and peak RSS per key."""
    workers: list[Worker] = []
    try:
        for run in cell.runs:
            log(f"[{cell.size}, {cell.threads} thread(s)] loading {labels.get(run.key, run.key)}")
            workers.append(start(run, labels.get(run.key, run.key)))
        samples: dict[str, list[dict]] = {w.key: [] for w in workers}
        for r in range(rounds):
            k = r % len(workers)
            for worker in workers[k:] + workers[:k]:
                time.sleep(gap_s)
                samples[worker.key].append(worker.run())
            log(f"[{cell.size}, {cell.threads} thread(s)] round {r + 1}/{rounds}: "
                + ", ".join(f"{w.key} {samples[w.key][-1]['ms']:.1f} ms" for w in workers))
        peaks = {}
        for worker in workers:
            peaks[worker.key] = worker.close()
    except BaseException:
        for worker in workers:
            worker.kill()
        raise
    return {w.key: {"latency_ms": [s["ms"] for s in samples[w.key]], "cpu_ms": [s["cpu_ms"] for s in samples[w.key]],
                    "peak_rss_kb": peaks[w.key], "info": w.info} for w in workers}
