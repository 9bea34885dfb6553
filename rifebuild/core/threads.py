"""Hold every runtime to the thread count Snakemake gave the job (`threads:`).

Without this, torch and OpenMP take every core in each of `--cores` parallel jobs and the machine
is oversubscribed. The environment variables must be set before torch or onnxruntime load.
"""
from __future__ import annotations

import os

_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
_count: int | None = None


def limit(count: int | None) -> None:
    """Cap torch/OpenMP at `count` threads (None: leave the libraries' defaults)."""
    global _count
    if count is None:
        return
    if count < 1:
        raise ValueError(f"thread count must be >= 1, got {count}")
    _count = count
    for name in _VARIABLES:
        os.environ[name] = str(count)
    import sys

    if "torch" in sys.modules:
        _apply_torch(count)


def count(default: int = 2) -> int:
    """The thread count set by `limit`, for the runtimes that take it as an argument (ncnn, MNN, ORT)."""
    return _count if _count is not None else default


def _apply_torch(count: int) -> None:
    import torch

    torch.set_num_threads(count)

