"""Verification records: every artifact gets a JSON of its errors against the PyTorch reference."""
from __future__ import annotations

import importlib.metadata
import tempfile
from pathlib import Path

from rifebuild import metrics, ncnn_model, ncnn_passes
from rifebuild.atomic import atomic_write_json
from rifebuild.reference import inputs_digest, load_reference
from rifebuild.runner import run_ncnn, run_onnx
from rifebuild.weights import sha256_of

TOOLS = ("torch", "onnx", "onnxruntime", "onnxsim", "pnnx", "ncnn", "numpy")


class VerificationError(RuntimeError):
    """An artifact whose error against the reference exceeds its bound."""


def tool_versions() -> dict[str, str]:
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def _check(output, reference_path: Path, inputs, reference, bound: float) -> dict:
    h, w = reference.shape[1:]
    result = metrics.compare(output, reference)
    return {"resolution": [int(h), int(w)], "reference": str(reference_path),
            "reference_inputs_sha256": inputs_digest(inputs), **result,
            "max_abs_err_bound": bound, "passed": result["max_abs_err"] <= bound}


def _finish(record: dict, out: Path | str) -> None:
    """Write the record only if every check passed; otherwise fail with the numbers."""
    failed = [c for c in record["checks"] if not c["passed"]]
    if failed:
        worst = max(failed, key=lambda c: c["max_abs_err"])
        raise VerificationError(
            f"{record['artifact']}: max abs error {worst['max_abs_err']:.3g} at "
            f"{worst['resolution'][0]}x{worst['resolution'][1]} exceeds the bound {worst['max_abs_err_bound']:g}")
    atomic_write_json(out, record)


def verify_onnx(onnx_path, reference_path, bound: float, threads: int, out) -> dict:
    inputs, reference = load_reference(reference_path)
    output = run_onnx(onnx_path, inputs, threads)
    record = {"artifact": str(onnx_path), "runtime": "onnxruntime", "precision": "fp32",
              "artifact_sha256": sha256_of(onnx_path), "tool_versions": tool_versions(),
              "checks": [_check(output, Path(reference_path), inputs, reference, bound)]}
    _finish(record, out)
    return record


def verify_ncnn(model_dir, reference_paths, precision: str, bound: float, threads: int, out) -> dict:
    """Lower the rife.Warp model to stock GridSample at each reference's resolution and run it.

    Running at several resolutions from one rife.Warp model proves resolution independence. A stock
    model (no rife.Warp) runs as it is.
    """
    model_dir = Path(model_dir)
    param, bin_ = model_dir / "flownet.param", model_dir / "flownet.bin"
    checks = []
    for reference_path in reference_paths:
        inputs, reference = load_reference(reference_path)
        h, w = reference.shape[1:]
        model = ncnn_model.read(param, bin_)
        ncnn_passes.lower_warp(model, int(h), int(w))
        with tempfile.TemporaryDirectory(prefix="rife-verify-") as tmp:
            lowered = Path(tmp)
            ncnn_model.write(model, lowered / "flownet.param", lowered / "flownet.bin")
            output = run_ncnn(lowered / "flownet.param", lowered / "flownet.bin", inputs, threads,
                              fp16=precision == "fp16")
        checks.append(_check(output, Path(reference_path), inputs, reference, bound))
    record = {"artifact": str(model_dir), "runtime": "ncnn (Python package), rife.Warp lowered to GridSample",
              "precision": precision, "artifact_sha256": {p.name: sha256_of(p) for p in (param, bin_)},
              "tool_versions": tool_versions(), "checks": checks}
    _finish(record, out)
    return record
