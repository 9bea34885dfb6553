"""ONNX export whose warp grid follows the runtime input shape (any H, W multiple of 32).

The default export bakes the export resolution into warp (a constant base grid and the
(W-1)/2, (H-1)/2 divisors), so the model silently breaks at any other size. Here warp builds its
pixel grid from the flow tensor's shape (Shape/Range ops) and the export declares H and W dynamic,
so one ONNX (and the MNN models made from it) serves every resolution: the ONNX artifact of a run
(results/export/<model>/flownet.onnx, verified at every verify size). The fixed-size form is made only
on request (rule onnx_fixed).
"""
from __future__ import annotations

from pathlib import Path

from rifebuild.export.trace import export_onnx
from rifebuild.model.ifnet import IFNet

EXAMPLE_SIZE = (64, 96)


def example_size(pad: int) -> tuple[int, int]:
    """EXAMPLE_SIZE rounded up to the version's padding multiple (64x128 for 4.25, 128x128 for 4.25-lite)."""
    return tuple(-(-v // pad) * pad for v in EXAMPLE_SIZE)


def export_dynamic_onnx(net: IFNet, dest: Path | str, opset: int = 17) -> None:
    """Trace at a small size with H/W declared dynamic (runtime-shape warp grid), simplify, check."""
    export_onnx(net, *example_size(net.spec.padding), opset, dest, any_size=True)


def symbolic_dims(path: Path | str) -> list[list]:
    """Input dims as stored in the ONNX (strings for dynamic axes): what users see in Netron."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input]

