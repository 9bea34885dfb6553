"""The machine's practical fp32 peak: a large single-precision matrix product, timed in the same rounds
as the models and with the same thread count, so "fraction of peak" compares like with like.

A well-tuned sgemm is the most arithmetic per second the cores sustain in practice (the data sheet
peak is higher and never reached); a runtime's GFLOP/s over it says how much of the machine it uses.
"""
from __future__ import annotations

from collections.abc import Callable

from rifebuild.bench.flops import gflop_per_s


def sgemm(n: int, threads: int) -> tuple[Callable[[], object], str]:
    """An n x n float32 matrix product with numpy's BLAS (held to `threads` by the command line's
    --threads, which sets OPENBLAS_NUM_THREADS before numpy loads)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a, b = rng.random((n, n), dtype=np.float32), rng.random((n, n), dtype=np.float32)
    c = np.empty((n, n), np.float32)
    return (lambda: np.matmul(a, b, out=c)), f"numpy {np.__version__}"


def sgemm_flops(n: int) -> int:
    return 2 * n ** 3


def peak_gflops(latencies_ms: list[float], n: int) -> float:
    """The best turn: the peak is what the machine can do, so the fastest run is the estimate."""
    return gflop_per_s(sgemm_flops(n), min(latencies_ms))
