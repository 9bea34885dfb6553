"""One runtime in its own process, timed one inference at a time on request (`rifebuild bench worker`).

Why a process per variant: each keeps its model loaded and warm while the others take their turns,
and its peak RSS is its own. The protocol is the one `rife-bench serve` speaks: after loading and
`warmup` untimed runs it prints one JSON line with "ready"; every `run` line on stdin gets one timed
inference and one JSON line {"ms", "cpu_ms"}; `quit` (or the end of stdin) gets {"peak_rss_kb"}.
Libraries that print to stdout (MNN does) are moved to stderr, so stdout carries only the protocol.
"""
from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

from rifebuild.core.errors import BenchError

RUNTIMES = ("torch", "onnxruntime", "ncnn", "mnn", "sgemm")


def peak_rss_kb() -> int:
    """VmHWM: the peak resident set of this process since exec (getrusage would also count the
    parent's peak across fork+exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def inputs(height: int, width: int, seed: int = 0) -> dict:
    """Two random frames and a t=0.5 map: timing does not depend on the content, only on the shape."""
    import numpy as np

    rng = np.random.default_rng(seed)
    return {"in0": rng.random((3, height, width), dtype=np.float32),
            "in1": rng.random((3, height, width), dtype=np.float32),
            "in2": np.full((1, height, width), 0.5, np.float32)}


def load(runtime: str, artifact: str, height: int, width: int, threads: int, *,
         model: str | None = None) -> tuple[Callable[[], object], str]:
    """A zero-argument callable running one inference of `artifact` (checkpoint, ONNX, ncnn folder or .mnn),
    and the runtime's version; `model`, the RIFE version, builds the network a checkpoint belongs to."""
    if runtime == "sgemm":
        from rifebuild.bench.peak import sgemm

        return sgemm(height, threads)
    feed = inputs(height, width)
    if runtime == "torch":
        import torch

        from rifebuild.checkpoint.load import load_ifnet
        from rifebuild.model.ifnet import ExportModel

        if model is None:
            raise BenchError("the torch runtime needs the RIFE version of its checkpoint: pass --model")
        torch.set_num_threads(threads)
        net = ExportModel(load_ifnet(artifact, model)).eval()
        args = [torch.from_numpy(feed[k])[None] for k in ("in0", "in1", "in2")]

        def infer():
            with torch.inference_mode():
                return net(*args)

        return infer, torch.__version__
    if runtime == "onnxruntime":
        import onnxruntime

        from rifebuild.evaluate.runtimes import onnx_feed, onnx_session

        session, batch = onnx_session(artifact, threads), onnx_feed(feed)
        return (lambda: session.run(["out0"], batch)), onnxruntime.__version__
    if runtime == "ncnn":
        import ncnn

        from rifebuild.evaluate.runtimes import NcnnSession

        folder = Path(artifact)
        session = NcnnSession(folder / "flownet.param", folder / "flownet.bin", threads)
        return (lambda: session.run(feed)), ncnn.__version__
    if runtime == "mnn":
        from importlib.metadata import version

        from rifebuild.evaluate.mnn_runtime import forward, load_module

        module = load_module(artifact, threads)
        return (lambda: forward(module, feed)), version("mnn")
    raise BenchError(f"unknown benchmark runtime {runtime!r}; use one of {', '.join(RUNTIMES)}")


def serve(runtime: str, artifact: str, height: int, width: int, threads: int, warmup: int, *,
          model: str | None = None, stdin=None) -> None:
    """Load, warm up, then answer `run` / `quit` lines (module docstring)."""
    proto = os.fdopen(os.dup(sys.stdout.fileno()), "w", buffering=1)
    sys.stdout.flush()
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # library prints go to stderr from here on
    stdin = stdin or sys.stdin

    def send(obj: dict) -> None:
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    infer, version = load(runtime, artifact, height, width, threads, model=model)
    for _ in range(warmup):
        infer()
    send({"ready": True, "runtime": runtime, "version": version, "height": height, "width": width,
          "threads": threads, "warmup": warmup})
    for line in stdin:
        command = line.strip()
        if command == "quit":
            break
        if command != "run":
            raise BenchError(f"bench worker reads `run` or `quit` lines, got {command!r}")
        c0, t0 = time.process_time(), time.perf_counter()
        infer()
        t1, c1 = time.perf_counter(), time.process_time()
        send({"ms": round((t1 - t0) * 1e3, 3), "cpu_ms": round((c1 - c0) * 1e3, 3)})
    send({"peak_rss_kb": peak_rss_kb()})
