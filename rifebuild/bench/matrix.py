"""The benchmark matrix: which runtime runs which artifact, at which size, with how many threads.

Built from the ROLE=PATH inputs the rule passes (the roles of the report, plus the host binary and the
any-size ONNX), so a branch that is switched off has no artifact, and every variant that cannot run
at a size is listed with the reason (the stock GridSample models are baked at one resolution)
instead of silently missing from the tables.

The rife-bench-vulkan variants run the host-vulkan rife-bench on each Vulkan device the run times
(bench.gpu.devices), twice: one frame (`serve`, like the CPU rows) and the throughput of interpolating a
synthetic clip (`serve --in-dir`: pairs pipelined over bench.gpu.jobs, frame I/O included, ms per
interpolated frame) -- what a video user of that GPU sees. They take their turns in the first thread
count's cells: on a GPU the CPU threads only feed it.
"""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from rifebuild.core.errors import BenchError
from rifebuild.native.run import serve_args


@dataclass(frozen=True)
class Variant:
    key: str  # bench.variants name
    label: str  # table/plot label
    runtime: str  # rife-bench serve, or the Python worker's --runtime
    precision: str
    artifact: str  # the artifact's role prefix (size and quality come from its records)
    gpu: bool = False  # the host-vulkan build on each timed Vulkan device


VARIANTS = (
    Variant("pytorch", "PyTorch fp32 (eager)", "torch", "fp32", "pytorch"),
    Variant("onnxruntime", "onnxruntime fp32 (any-size ONNX)", "onnxruntime", "fp32", "onnx"),
    Variant("ncnn-python", "ncnn Python fp32 (stock GridSample)", "ncnn", "fp32", "ncnn-stock"),
    Variant("rife-bench-fp32", "rife-bench fp32 (ncnn, rife.Warp)", "rife-bench", "fp32", "ncnn-fp32"),
    Variant("rife-bench-fp16", "rife-bench fp16 storage (ncnn, rife.Warp)", "rife-bench", "fp16", "ncnn-fp16"),
    Variant("rife-bench-int8", "rife-bench int8 (ncnn, rife.Warp)", "rife-bench", "int8", "ncnn-int8"),
    Variant("rife-bench-vulkan-fp32", "rife-bench fp32 on Vulkan", "rife-bench", "fp32", "ncnn-fp32", gpu=True),
    Variant("rife-bench-vulkan-fp16", "rife-bench fp16 on Vulkan", "rife-bench", "fp16", "ncnn-fp16", gpu=True),
    Variant("rife-bench-vulkan-int8", "rife-bench int8 on Vulkan", "rife-bench", "int8", "ncnn-int8", gpu=True),
    Variant("mnn-fp32", "MNN fp32", "mnn", "fp32", "mnn-fp32"),
    Variant("mnn-fp16", "MNN fp16 weights", "mnn", "fp16", "mnn-fp16"),
    Variant("mnn-wq8", "MNN int8 weights (wq8)", "mnn", "wq8", "mnn-wq8"),
    Variant("mnn-int8", "MNN int8 (offline quantizer)", "mnn", "int8", "mnn-int8"),
)
BY_KEY = {v.key: v for v in VARIANTS}
# Every ratio in the tables divides by this variant's median from the same rounds.
BASELINE = "rife-bench-fp32"
# The practical fp32 peak: a single-precision matrix product this large (2*N^3 flops, ~17 GFLOP) is
# compute-bound from 1 to dozens of cores and takes well under a second per turn.
SGEMM_N = 2048
MODES = ("single", "interpolate")  # one frame; ms per interpolated frame of a clip (GPU rows)
VULKAN_BINARY = "native-host-vulkan.binary"


@dataclass(frozen=True)
class Gpu:
    """What the rife-bench-vulkan variants time: Vulkan devices, interpolate workers, and the folder whose
    <H>x<W>/ subfolders hold each size's synthetic clip (suite.write_clips)."""
    devices: tuple[int, ...] = ()
    jobs: int = 3
    clips: Path | None = None
    frames: int = 0  # frames per clip


@dataclass
class Run:
    """One variant at one size and thread count: the command of the worker process that times it."""
    key: str
    argv: list[str]
    env: dict = field(default_factory=dict)
    variant: str = ""  # the Variant key, when it is not `key` (GPU runs: one per device and mode)
    gpu: int | None = None
    mode: str = "single"

    @property
    def of(self) -> str:
        return self.variant or self.key


@dataclass
class Cell:
    height: int
    width: int
    threads: int
    runs: list[Run]

    @property
    def size(self) -> str:
        return f"{self.height}x{self.width}"


def parse_size(text: str) -> tuple[int, int]:
    h, _, w = text.partition("x")
    return int(h), int(w)


def resolve_threads(requested: list[str], job_threads: int, cpus: int | None = None) -> list[int]:
    """`bench.threads` -> thread counts: "all" is every core the job holds (its threads:, i.e. all of
    --cores) but no more than the CPUs this process may use; numbers are capped the same way (the
    rule's threads: is honoured); duplicates go."""
    cpus = cpus or len(os.sched_getaffinity(0))
    limit = max(1, min(job_threads, cpus))
    out: list[int] = []
    for item in requested:
        if item == "all":
            n = limit
        else:
            try:
                n = int(item)
            except ValueError:
                raise BenchError(f"bench.threads: {item!r} is neither a thread count nor `all`") from None
            if n < 1:
                raise BenchError(f"bench.threads: {n} must be at least 1")
            n = min(n, limit)
        if n not in out:
            out.append(n)
    return out


def _model_dir(roles: dict[str, Path], role: str) -> Path | None:
    return roles[role].parent if role in roles else None


def gpu_runs(variant: Variant, roles: dict[str, Path], height: int, width: int, threads: int, warmup: int,
             gpu: Gpu) -> list[Run] | str:
    """A GPU variant's workers on every timed device (one frame, then the clip's throughput), or why none."""
    binary, folder = roles.get(VULKAN_BINARY), _model_dir(roles, f"{variant.artifact}.model")
    if not gpu.devices:
        return "no Vulkan device timed (none on this machine, or bench.gpu.devices is [])"
    if binary is None or folder is None:
        return "not built (no host-vulkan rife-bench or no model in this configuration)"
    runs = []
    for device in gpu.devices:
        single = rife_bench_run(variant.key, binary, folder, height, width, threads, warmup, variant.precision, device)
        runs.append(Run(f"{variant.key}@{device}", single.argv, variant=variant.key, gpu=device))
        if gpu.clips is not None:
            out = gpu.clips / f"out-{variant.key}@{device}-{height}x{width}"  # rife-bench creates it
            argv = [str(binary), *map(str, serve_args(folder, width, height, threads, warmup, variant.precision,
                                                      device)),
                    "--in-dir", str(gpu.clips / f"{height}x{width}"), "--out-dir", str(out), "--jobs", str(gpu.jobs)]
            runs.append(Run(f"{variant.key}@{device}/interpolate", argv, variant=variant.key, gpu=device,
                            mode="interpolate"))
    return runs


def variant_run(variant: Variant, roles: dict[str, Path], height: int, width: int, threads: int,
                warmup: int, *, model: str) -> Run | str:
    """The worker command for `variant` at this size, or the sentence saying why it cannot run."""
    if variant.runtime == "rife-bench":
        binary, folder = roles.get("native-host.binary"), _model_dir(roles, f"{variant.artifact}.model")
        if binary is None or folder is None:
            return "not built (no host rife-bench or no model in this configuration)"
        return rife_bench_run(variant.key, binary, folder, height, width, threads, warmup, variant.precision)
    if variant.key == "ncnn-python":
        role = f"ncnn-stock-{height}x{width}.model"
        if role not in roles:
            built = sorted(r[len("ncnn-stock-"):-len(".model")] for r in roles
                           if r.startswith("ncnn-stock-") and r.endswith(".model"))
            return (f"the stock GridSample model is fixed to one resolution (built for {', '.join(built) or 'none'}); "
                    f"add [{height}, {width}] to stock_resolutions to time it here")
        artifact = roles[role].parent
    else:
        role = "checkpoint" if variant.key == "pytorch" else f"{variant.artifact}.model"
        if role not in roles:
            return "not built in this configuration"
        artifact = roles[role]
    return Run(variant.key, python_worker(variant.runtime, artifact, height, width, threads, warmup, model=model))


def rife_bench_run(key: str, binary: Path, model: Path, height: int, width: int, threads: int, warmup: int,
                   precision: str, gpu: int | None = None) -> Run:
    """`rife-bench serve` of the rife.Warp model folder `model` (also the family table's latency)."""
    return Run(key, [str(binary), *map(str, serve_args(model, width, height, threads, warmup, precision, gpu))])


def python_worker(runtime: str, artifact: Path | str, height: int, width: int, threads: int, warmup: int, *,
                  model: str | None = None) -> list[str]:
    """`rifebuild --threads N bench worker ...` with this Python (the same venv as the stage); the PyTorch
    worker needs the RIFE version to build the network the checkpoint belongs to."""
    return [sys.executable, "-m", "rifebuild", "--threads", str(threads), "bench", "worker", f"--runtime={runtime}",
            f"--artifact={artifact}", *([f"--model={model}"] if model else []), f"--size={height}x{width}",
            f"--warmup={warmup}"]


def sgemm_run(threads: int, warmup: int) -> Run:
    return Run("sgemm", python_worker("sgemm", "-", SGEMM_N, SGEMM_N, threads, warmup))


def plan(roles: dict[str, Path], sizes: list[tuple[int, int]], threads: list[int], variants: list[str],
         warmup: int, *, model: str, gpu: Gpu = Gpu()) -> tuple[list[Cell], list[dict]]:
    """Cells (size x threads, each with its workers in variant order, the sgemm peak last) and the
    variants that cannot run, with the reason. GPU variants run in the first thread count's cells."""
    unknown = [v for v in variants if v not in BY_KEY]
    if unknown:
        raise BenchError(f"bench.variants: unknown {', '.join(unknown)}; choose from {', '.join(BY_KEY)}")
    if BASELINE not in variants:
        raise BenchError(f"bench.variants must include {BASELINE}: it is the baseline of every ratio")
    cells, not_run = [], []
    for height, width in dict.fromkeys(sizes):
        for t in threads:
            runs = []
            for key in variants:
                if BY_KEY[key].gpu:
                    if t != threads[0]:
                        continue
                    run = gpu_runs(BY_KEY[key], roles, height, width, t, warmup, gpu)
                else:
                    run = variant_run(BY_KEY[key], roles, height, width, t, warmup, model=model)
                if isinstance(run, Run):
                    runs.append(run)
                elif isinstance(run, list):
                    runs += run
                elif t == threads[0]:  # one line per variant and size
                    not_run.append({"variant": key, "label": BY_KEY[key].label, "size": f"{height}x{width}",
                                    "reason": run})
            if not any(r.key == BASELINE for r in runs):
                raise BenchError(f"the baseline {BASELINE} cannot run at {height}x{width}: build the host rife-bench "
                                 "(native.targets must include host)")
            cells.append(Cell(height, width, t, [*runs, sgemm_run(t, warmup)]))
    return cells, not_run
