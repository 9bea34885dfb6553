"""Run an .mnn model with MNN's Python runtime (Module API), at whatever size the inputs have.

Only `MNN.nn` / `MNN.expr` are imported: the runtime, never `MNN.tools` (telemetry, see mnn_tools).
The module is loaded shape-mutable, so each call may use another resolution.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from rifebuild.evaluate.runtimes import Inputs

INPUT_NAMES = ["in0", "in1", "in2"]
OUTPUT_NAMES = ["out0"]


def load_module(path: Path | str, threads: int = 2):
    import MNN.nn as nn

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: MNN model not found; build it first")
    runtime = nn.create_runtime_manager(({"backend": "CPU", "numThread": threads, "precision": "normal"},))
    return nn.load_module_from_file(str(path), INPUT_NAMES, OUTPUT_NAMES, runtime_manager=runtime,
                                    shape_mutable=True)


def forward(module, inputs: Inputs) -> np.ndarray:
    """One inference: inputs as in runner.Inputs ([C,H,W] float32), output [3,H,W] float32."""
    import MNN.expr as expr

    feeds = []
    for name in INPUT_NAMES:
        batch = np.ascontiguousarray(inputs[name][None], dtype=np.float32)
        feeds.append(expr.const(batch, list(batch.shape), expr.NCHW))
    out = module.forward(feeds)[0]
    return np.array(expr.convert(out, expr.NCHW).read(), dtype=np.float32)[0]


def run_mnn(path: Path | str, inputs: Inputs, threads: int = 2) -> np.ndarray:
    return forward(load_module(path, threads), inputs)
