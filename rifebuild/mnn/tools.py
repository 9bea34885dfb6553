"""MNN's converter and quantizer, called offline and without MNN's telemetry.

MNN's `mnnconvert`/`mnnquant` console scripts import `MNN.tools.utils.log`, which runs
`pip install -U aliyun-log-python-sdk` (it downgrades protobuf and breaks onnx) and sends machine
data over the network. The compiled `_tools` extension underneath does neither, so we call
`_tools.mnnconvert(argv)` / `_tools.mnnquant(argv)` directly. Never import `MNN.tools` here.

Each call runs in a child process: the native tools can abort or crash on a model they do not
handle, and a crash must become a clear error, not a dead Snakemake job. The child runs without
network: in a new network namespace (`unshare -n`, no interface up) where this user may make one (root,
or unprivileged user namespaces), and in every case its Python refuses every socket connection.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import os
import signal
import subprocess
import sys
import uuid
from functools import lru_cache
from pathlib import Path

from rifebuild.core.errors import MnnToolError
from rifebuild.core.files import atomic_path

BIZ_CODE = "rifebuild"

# The child: disable Python sockets, then call one function of the compiled extension with argv.
_CHILD = r"""
import socket, sys
def _refuse(*args, **kwargs):
    raise OSError("network access is disabled while MNN tools run")
socket.socket.connect = socket.socket.connect_ex = _refuse
socket.create_connection = socket.getaddrinfo = _refuse
import _tools
from rifebuild.core.errors import MnnToolError
ok = getattr(_tools, sys.argv[1])(sys.argv[2:])
sys.exit(0 if ok else 3)
"""


@lru_cache(maxsize=1)
def _can_unshare_network() -> bool:
    try:
        return subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode == 0
    except OSError:  # no unshare(1) on this system
        return False


def offline(argv: list[str]) -> list[str]:
    """`argv` run in a new network namespace when this user may create one, else as it is."""
    return ["unshare", "-n", *argv] if _can_unshare_network() else list(argv)


def mnn_version() -> str:
    return importlib.metadata.version("mnn")


def run_tool(function: str, argv: list[str], log: Path | str | None = None) -> str:
    """Run `_tools.<function>(argv)` in a child process; return its output, raise on failure."""
    proc = subprocess.run(offline([sys.executable, "-c", _CHILD, function, *argv]), capture_output=True,
                          text=True, env={**os.environ, "PYTHONNOUSERSITE": "1"})
    output = proc.stdout + proc.stderr
    if log is not None:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        Path(log).write_text(output)
    if proc.returncode != 0:
        if proc.returncode < 0:
            cause = f"crashed with {signal.Signals(-proc.returncode).name}"
        else:
            cause = f"exited with status {proc.returncode}"
        tail = "\n".join(output.strip().splitlines()[-5:])
        where = f" (log: {log})" if log else ""
        raise MnnToolError(f"MNN {function} {cause}{where}; last lines:\n{tail}")
    return output


def convert(onnx_path: Path | str, dest: Path | str, fp16: bool = False, weight_bits: int = 0,
            log: Path | str | None = None) -> None:
    """ONNX -> .mnn; fp16 stores weights as half floats, weight_bits=8 stores int8 weights."""
    if fp16 and weight_bits:
        raise ValueError("choose fp16 weights or int8 weights, not both")
    if not Path(onnx_path).is_file():
        raise MnnToolError(f"{onnx_path}: ONNX model not found; build it first")
    with atomic_path(dest) as tmp:
        argv = ["MNNConvert", "-f", "ONNX", "--modelFile", str(onnx_path), "--MNNModel", str(tmp),
                "--bizCode", BIZ_CODE]
        if fp16:
            argv.append("--fp16")
        if weight_bits:
            argv += ["--weightQuantBits", str(weight_bits)]
        run_tool("mnnconvert", argv, log)
        _require_output(tmp, "mnnconvert", log)
        make_uuid_deterministic(tmp)


def quantize(src: Path | str, dest: Path | str, config_json: Path | str,
             log: Path | str | None = None) -> None:
    """Offline int8 quantization of a float .mnn with MNN's calibration tool."""
    with atomic_path(dest) as tmp:
        side = tmp.with_name(tmp.name + ".json")  # the quantizer also dumps its tensor table here
        try:
            run_tool("mnnquant", ["mnnquant", str(src), str(tmp), str(config_json)], log)
            _require_output(tmp, "mnnquant", log)
            make_uuid_deterministic(tmp)
        finally:
            side.unlink(missing_ok=True)


def _require_output(path: Path, function: str, log) -> None:
    # The tools report some failures only in their log and still "succeed": check the file.
    if path.stat().st_size == 0:
        where = f"; see {log}" if log else ""
        raise MnnToolError(f"MNN {function} wrote no model{where}")


def make_uuid_deterministic(path: Path | str) -> None:
    """Replace the random UUID the converter stamps into every model with one derived from the
    model's other bytes, so the same inputs give a byte-identical .mnn (same length: stays valid)."""
    import MNN  # the runtime only

    path = Path(path)
    old = MNN.get_model_uuid(str(path)).encode()
    data = path.read_bytes()
    if not old or data.count(old) != 1:
        return  # no UUID (or an ambiguous one): leave the model as the tool wrote it
    digest = hashlib.sha256(data.replace(old, b"0" * len(old))).digest()
    new = str(uuid.UUID(bytes=digest[:16], version=4)).encode()
    path.write_bytes(data.replace(old, new))
