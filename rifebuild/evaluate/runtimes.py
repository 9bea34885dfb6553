"""The one place that runs a model for verification: PyTorch, onnxruntime, ncnn (Python package).

torch is imported where it is used: the benchmark's workers load one runtime each, and importing
torch costs seconds that an onnxruntime or ncnn worker has no use for.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rifebuild.model.ifnet import IFNet

Inputs = dict[str, np.ndarray]  # in0, in1: [3,H,W]; in2: [1,H,W]; float32


def run_torch(net: IFNet, inputs: Inputs) -> np.ndarray:
    import torch

    from rifebuild.model.ifnet import ExportModel

    with torch.no_grad():
        out = ExportModel(net).eval()(*(torch.from_numpy(inputs[k])[None] for k in ("in0", "in1", "in2")))
    return out[0].numpy()


def onnx_session(path: Path | str, threads: int = 2):
    """An onnxruntime CPU session held to `threads` (intra-op; one inter-op thread)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def onnx_feed(inputs: Inputs) -> dict[str, np.ndarray]:
    return {k: inputs[k][None] for k in ("in0", "in1", "in2")}


def run_onnx(path: Path | str, inputs: Inputs, threads: int = 2) -> np.ndarray:
    return onnx_session(path, threads).run(["out0"], onnx_feed(inputs))[0][0]


class NcnnSession:
    """One loaded stock-ncnn model (ncnn Python package) run on many inputs.

    fp16=False forces full fp32 arithmetic and storage (the reference behaviour); fp16=True lets ncnn
    use fp16 storage/arithmetic where the CPU supports it, as an app would. keep_blobs=True turns
    light mode off, so every intermediate blob (e.g. each Convolution's input) can be extracted.
    int8 Convolutions run as int8 (ncnn's default use_int8_inference).
    """

    def __init__(self, param: Path | str, bin_: Path | str, threads: int = 2, fp16: bool = False,
                 keep_blobs: bool = False):
        import ncnn

        self.param = param
        self.net = ncnn.Net()
        self.net.opt.use_vulkan_compute = False
        self.net.opt.num_threads = threads
        self.net.opt.lightmode = not keep_blobs
        for flag in ("use_fp16_packed", "use_fp16_storage", "use_fp16_arithmetic", "use_bf16_storage"):
            setattr(self.net.opt, flag, fp16 and flag != "use_bf16_storage")
        if self.net.load_param(str(param)) != 0 or self.net.load_model(str(bin_)) != 0:
            raise RuntimeError(f"ncnn could not load {param} / {bin_}")

    def run(self, inputs: Inputs, blobs: tuple[str, ...] | list[str] = ("out0",)) -> dict[str, np.ndarray]:
        """Feed in0, in1, in2 and any other blob in `inputs` (e.g. flow0, as rife-ncnn-vulkan's TTA
        feeds merged flows back); extract `blobs` in order (in light mode, a blob is gone once a
        later extraction consumed it: ask for out0 last)."""
        import ncnn

        ex = self.net.create_extractor()
        names = ["in0", "in1", "in2", *(k for k in inputs if k not in ("in0", "in1", "in2"))]
        # ncnn.Mat wraps the array's memory without a reference count, and ncnn's light mode dereferences
        # that count before a layer works in place on an input (a scalar BinaryOp on in2, as the ensemble's
        # 1 - t): a segfault. Clients allocate their input Mats; so do we (clone), the arrays kept alive anyway.
        arrays = [np.ascontiguousarray(inputs[key], dtype=np.float32) for key in names]
        mats = [ncnn.Mat(a).clone() for a in arrays]
        for key, mat in zip(names, mats):
            if ex.input(key, mat) != 0:
                raise RuntimeError(f"ncnn has no blob {key!r} to feed in {self.param}")
        results = {}
        for blob in blobs:
            ret, out = ex.extract(blob)
            if ret != 0:
                raise RuntimeError(f"ncnn extract of {blob!r} failed ({ret}) for {self.param}")
            results[blob] = np.array(out).copy()
            del out
        del ex, mats, arrays  # the extractor's blobs must go before the net's allocators
        return results

    def close(self) -> None:
        self.net.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_ncnn(param: Path | str, bin_: Path | str, inputs: Inputs, threads: int = 2,
             fp16: bool = False) -> np.ndarray:
    """Run a stock-ncnn model (no custom layers) once; see NcnnSession."""
    with NcnnSession(param, bin_, threads, fp16) as session:
        return session.run(inputs)["out0"]
