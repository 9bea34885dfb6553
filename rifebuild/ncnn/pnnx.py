"""ncnn from pnnx: the TorchScript of the export form converted by the pinned pnnx binary."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rifebuild.core.errors import ExportError
from rifebuild.core.files import atomic_path


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
