"""ONNX export whose warp grid follows the runtime input shape (any H, W multiple of 32).

The default export bakes the export resolution into warp (a constant base grid and the
(W-1)/2, (H-1)/2 divisors), so the model silently breaks at any other size. Here warp builds its
pixel grid from the flow tensor's shape (Shape/Range ops) and the export declares H and W dynamic,
so one ONNX (and the MNN models made from it) serves every resolution.
"""
from __future__ import annotations

import contextlib
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from rifebuild import model as rife_model
from rifebuild.atomic import atomic_path
from rifebuild.metrics import compare
from rifebuild.model import ExportModel, IFNet
from rifebuild.reference import load_reference
from rifebuild.runner import run_onnx

INPUT_NAMES = ["in0", "in1", "in2"]
OUTPUT_NAMES = ["out0"]
EXAMPLE_SIZE = (64, 96)


def warp_any_size(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Same sampling as rifebuild.model.warp, with the grid made from flow's runtime shape."""
    h, w = flow.shape[2], flow.shape[3]  # traced as Shape ops, not constants
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, -1)
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, -1, 1)
    # align_corners=True: pixel p maps to -1 + 2p/(size-1)
    gx = (xs + flow[:, 0]) * (2.0 / (torch.as_tensor(w, dtype=flow.dtype) - 1.0)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / (torch.as_tensor(h, dtype=flow.dtype) - 1.0)) - 1.0
    grid = torch.stack((gx, gy), 3)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


@contextlib.contextmanager
def runtime_shape_warp():
    """Make IFNet use warp_any_size while the block runs (IFNet calls the module-level warp)."""
    original = rife_model.warp
    rife_model.warp = warp_any_size
    try:
        yield
    finally:
        rife_model.warp = original


def export_dynamic_onnx(net: IFNet, dest: Path | str, opset: int = 17) -> None:
    """Trace at a small size with H/W declared dynamic, simplify with onnxsim, check, write."""
    import onnx
    import onnxsim

    h, w = EXAMPLE_SIZE
    example = (torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0)),
               torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(1)),
               torch.full((1, 1, h, w), 0.5))
    axes = {name: {2: "height", 3: "width"} for name in INPUT_NAMES + OUTPUT_NAMES}
    module = ExportModel(net).eval()
    with atomic_path(dest) as tmp:
        with runtime_shape_warp(), torch.no_grad(), warnings.catch_warnings():
            # shape-to-tensor conversions warn under tracing; check_dynamic_onnx proves the result
            warnings.simplefilter("ignore", torch.jit.TracerWarning)
            torch.onnx.export(module, example, str(tmp), input_names=INPUT_NAMES, output_names=OUTPUT_NAMES,
                              dynamic_axes=axes, opset_version=opset, dynamo=False)
        model, ok = onnxsim.simplify(onnx.load(str(tmp)))
        if not ok:
            raise RuntimeError(f"{dest}: onnxsim could not validate the simplified dynamic-shape model")
        onnx.checker.check_model(model)
        model.producer_version = torch.__version__.split("+")[0]
        onnx.save(model, str(tmp))


def check_dynamic_onnx(path: Path | str, references) -> list[dict]:
    """Run the ONNX with onnxruntime on each reference .npz (any size) and compare with PyTorch's output."""
    results = []
    for reference_path in references:
        inputs, reference = load_reference(reference_path)
        results.append({"size": list(reference.shape[1:]), **compare(run_onnx(path, inputs), reference)})
    return results


def symbolic_dims(path: Path | str) -> list[list]:
    """Input dims as stored in the ONNX (strings for dynamic axes): what users see in Netron."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]

