"""Export the PyTorch model: TorchScript (pnnx's input) and ONNX + onnxsim at the export resolution."""
from __future__ import annotations

from rifebuild.core.args import PATH, action, model, out

DIMS = ((["--height"], {"type": int, "required": True,
                        "help": "export (trace) height, a multiple of the version's padding"}),
        (["--width"], {"type": int, "required": True,
                       "help": "export (trace) width, a multiple of the version's padding"}))


def torchscript(a) -> None:
    """Trace the export form at one resolution (pnnx's input)."""
    from rifebuild.checkpoint.load import load_ifnet
    from rifebuild.export.trace import export_torchscript

    export_torchscript(load_ifnet(a.checkpoint, a.model), a.height, a.width, a.out)


def onnx(a) -> None:
    """ONNX (opset >= 16, GridSample warp) simplified with onnxsim, fixed to the export resolution."""
    from rifebuild.checkpoint.load import load_ifnet
    from rifebuild.export.trace import export_onnx

    export_onnx(load_ifnet(a.checkpoint, a.model), a.height, a.width, a.opset, a.out)


def register(actions) -> None:
    action(actions, "torchscript", torchscript,
           (["--checkpoint"], {**PATH, "help": "the validated flownet.pkl (results/checkpoint/<model>/)"}),
           model(), *DIMS, out())
    action(actions, "onnx", onnx,
           (["--checkpoint"], {**PATH, "help": "the validated flownet.pkl (results/checkpoint/<model>/)"}),
           model(), *DIMS, (["--opset"], {"help": "ONNX opset (>= 16 for GridSample)", "type": int, "default": 17}),
           out())
