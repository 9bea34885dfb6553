"""Export the PyTorch model: TorchScript (pnnx's input, at the export resolution) and the any-size ONNX."""
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
    """The ONNX artifact: any size (H/W dynamic, warp grid from the runtime shape), onnxsim-simplified."""
    from rifebuild.checkpoint.load import load_ifnet
    from rifebuild.export.dynamic_onnx import export_dynamic_onnx

    export_dynamic_onnx(load_ifnet(a.checkpoint, a.model), a.out, a.opset)


def onnx_fixed(a) -> None:
    """ONNX fixed to one resolution (constant warp grid), on request only: the any-size one serves all."""
    from rifebuild.checkpoint.load import load_ifnet
    from rifebuild.export.trace import export_onnx

    export_onnx(load_ifnet(a.checkpoint, a.model), a.height, a.width, a.opset, a.out)


def register(actions) -> None:
    checkpoint = (["--checkpoint"], {**PATH, "help": "the validated flownet.pkl (results/checkpoint/<model>/)"})
    opset = (["--opset"], {"type": int, "default": 17, "help": "ONNX opset (>= 16: GridSample)"})
    action(actions, "torchscript", torchscript, checkpoint, model(), *DIMS, out())
    action(actions, "onnx", onnx, checkpoint, model(), opset, out())
    action(actions, "onnx-fixed", onnx_fixed, checkpoint, model(), *DIMS, opset, out())
