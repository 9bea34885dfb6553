"""The one place that runs a model for verification: PyTorch, onnxruntime, ncnn (Python package)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from rifebuild.model import ExportModel, IFNet

Inputs = dict[str, np.ndarray]  # in0, in1: [3,H,W]; in2: [1,H,W]; float32


def run_torch(net: IFNet, inputs: Inputs) -> np.ndarray:
    with torch.no_grad():
        out = ExportModel(net).eval()(*(torch.from_numpy(inputs[k])[None] for k in ("in0", "in1", "in2")))
    return out[0].numpy()


def run_onnx(path: Path | str, inputs: Inputs, threads: int = 2) -> np.ndarray:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    feed = {k: inputs[k][None] for k in ("in0", "in1", "in2")}
    return session.run(["out0"], feed)[0][0]


def run_ncnn(param: Path | str, bin_: Path | str, inputs: Inputs, threads: int = 2,
             fp16: bool = False) -> np.ndarray:
    """Run a stock-ncnn model (no custom layers) with the ncnn Python package.

    fp16=False forces full fp32 arithmetic and storage (the reference behaviour); fp16=True lets ncnn
    use fp16 storage/arithmetic where the CPU supports it, as an app would.
    """
    import ncnn

    net = ncnn.Net()
    net.opt.use_vulkan_compute = False
    net.opt.num_threads = threads
    for flag in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage"):
        setattr(net.opt, flag, fp16 and flag != "use_bf16_storage")
    if net.load_param(str(param)) != 0 or net.load_model(str(bin_)) != 0:
        raise RuntimeError(f"ncnn could not load {param} / {bin_}")
    ex = net.create_extractor()
    mats = [ncnn.Mat(np.ascontiguousarray(inputs[key], dtype=np.float32)) for key in ("in0", "in1", "in2")]
    for key, mat in zip(("in0", "in1", "in2"), mats):
        ex.input(key, mat)
    ret, out = ex.extract("out0")
    result = np.array(out).copy()
    del out, ex, mats  # the extractor's blobs must go before the net's allocators
    net.clear()
    if ret != 0:
        raise RuntimeError(f"ncnn extract failed ({ret}) for {param}")
    return result
