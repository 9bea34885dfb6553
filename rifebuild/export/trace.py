"""Export the IFNet export form: TorchScript (pnnx's input) and ONNX + onnxsim."""
from __future__ import annotations

import warnings
from pathlib import Path

import torch

from rifebuild.core.errors import ExportError
from rifebuild.core.files import atomic_path
from rifebuild.model.ifnet import ExportModel, IFNet
from rifebuild.model.spec import check_size

INPUT_NAMES = ["in0", "in1", "in2"]
OUTPUT_NAMES = ["out0"]


def example_inputs(height: int, width: int) -> tuple[torch.Tensor, ...]:
    return (torch.full((1, 3, height, width), 0.5), torch.full((1, 3, height, width), 0.5),
            torch.full((1, 1, height, width), 0.5))


def export_torchscript(net: IFNet, height: int, width: int, dest: Path | str) -> None:
    """Trace the export form at one resolution (pnnx's input)."""
    check_size(net.spec, height, width)
    module = ExportModel(net).eval()
    with torch.no_grad():
        traced = torch.jit.trace(module, example_inputs(height, width))
    with atomic_path(dest) as tmp:
        traced.save(str(tmp))


def export_onnx(net: IFNet, height: int, width: int, opset: int, dest: Path | str,
                any_size: bool = False) -> None:
    """torch.onnx export (TorchScript-based exporter: standard ops, GridSample for warp) + onnxsim.

    any_size=False fixes the export resolution (ncnn branch); True declares H and W dynamic and builds
    the warp grid from the runtime shape (MNN branch).
    """
    import onnx
    import onnxsim

    check_size(net.spec, height, width)
    if opset < 16:
        raise ExportError(f"onnx opset {opset} has no GridSample; use opset >= 16")
    module = ExportModel(net, any_size=any_size).eval()
    axes = {name: {2: "height", 3: "width"} for name in INPUT_NAMES + OUTPUT_NAMES} if any_size else None
    with atomic_path(dest) as tmp:
        with torch.no_grad(), warnings.catch_warnings():
            # shape-to-tensor conversions warn under tracing; the verification runs prove the result
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(module, example_inputs(height, width), str(tmp), input_names=INPUT_NAMES,
                              output_names=OUTPUT_NAMES, dynamic_axes=axes, opset_version=opset, dynamo=False)
        model, ok = onnxsim.simplify(onnx.load(str(tmp)))
        if not ok:
            raise ExportError(f"{dest}: onnxsim could not validate the simplified model")
        onnx.checker.check_model(model)
        model.producer_version = torch.__version__.split("+")[0]
        onnx.save(model, str(tmp))
