"""Export the patched IFNet: TorchScript (for pnnx), ONNX + onnxsim, and ncnn via pnnx."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import torch

from rifebuild.atomic import atomic_path
from rifebuild.model import ExportModel, IFNet

INPUT_NAMES = ["in0", "in1", "in2"]
OUTPUT_NAMES = ["out0"]


class ExportError(RuntimeError):
    """A converter step that failed, with its log named."""


def example_inputs(height: int, width: int) -> tuple[torch.Tensor, ...]:
    return (torch.full((1, 3, height, width), 0.5), torch.full((1, 3, height, width), 0.5),
            torch.full((1, 1, height, width), 0.5))


def export_torchscript(net: IFNet, height: int, width: int, dest: Path | str) -> None:
    """Trace the export form at one resolution (pnnx's input)."""
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


def pnnx_executable() -> str:
    """The pnnx binary of the venv this Python runs in (the pip package ships it)."""
    candidate = Path(sys.executable).parent / "pnnx"
    found = str(candidate) if candidate.exists() else shutil.which("pnnx")
    if not found:
        raise ExportError("pnnx not found; run `make setup` (it installs the pinned pnnx package)")
    return found


def convert_with_pnnx(torchscript: Path | str, height: int, width: int, param_out: Path | str,
                      bin_out: Path | str, log: Path | str | None = None) -> None:
    """pnnx TorchScript -> ncnn param/bin with fp32 weights.

    pnnx also reads ONNX, but its bundled onnxruntime has no GridSample kernel, so its ONNX
    constant folding aborts on this model; TorchScript of the same export module converts cleanly.
    """
    shape = f"[1,3,{height},{width}]f32"
    with tempfile.TemporaryDirectory(prefix="pnnx-") as work:
        work = Path(work)
        cmd = [pnnx_executable(), str(Path(torchscript).resolve()), "fp16=0",
               f"inputshape={shape},{shape},[1,1,{height},{width}]f32",
               f"pnnxparam={work / 'm.pnnx.param'}", f"pnnxbin={work / 'm.pnnx.bin'}",
               f"pnnxpy={work / 'm_pnnx.py'}", f"pnnxonnx={work / 'm.pnnx.onnx'}",
               f"ncnnparam={work / 'm.ncnn.param'}", f"ncnnbin={work / 'm.ncnn.bin'}",
               f"ncnnpy={work / 'm_ncnn.py'}"]
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                              env={**os.environ, "OMP_NUM_THREADS": "1"})
        output = proc.stdout + proc.stderr
        if log:
            Path(log).parent.mkdir(parents=True, exist_ok=True)
            Path(log).write_text(" ".join(cmd) + "\n" + output)
        if proc.returncode != 0 or not (work / "m.ncnn.param").exists():
            tail = "\n".join(output.strip().splitlines()[-5:])
            raise ExportError(f"pnnx failed on {torchscript} (exit {proc.returncode}):\n{tail}")
        for src, dest in ((work / "m.ncnn.bin", bin_out), (work / "m.ncnn.param", param_out)):
            with atomic_path(dest) as tmp:
                shutil.copyfile(src, tmp)
