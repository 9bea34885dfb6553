"""Verification records: every artifact gets a JSON of its errors against the PyTorch reference."""
from __future__ import annotations

import importlib.metadata
import tempfile
from pathlib import Path

from rifebuild import metrics, ncnn_model, ncnn_passes
from rifebuild.atomic import atomic_write_json, sha256_of
from rifebuild.reference import inputs_digest, load_reference
from rifebuild.runner import run_ncnn, run_onnx

TOOLS = ("torch", "onnx", "onnxruntime", "onnxsim", "pnnx", "ncnn", "mnn", "numpy")


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
        with tempfile.TemporaryDirectory(prefix="rife-verify-") as tmp:
            lowered = _lowered_pair(model_dir, int(h), int(w), Path(tmp), "flownet")
            output = run_ncnn(*lowered, inputs, threads, fp16=precision == "fp16")
        checks.append(_check(output, Path(reference_path), inputs, reference, bound))
    record = {"artifact": str(model_dir), "runtime": "ncnn (Python package), rife.Warp lowered to GridSample",
              "precision": precision, "artifact_sha256": {p.name: sha256_of(p) for p in (param, bin_)},
              "tool_versions": tool_versions(), "checks": checks}
    _finish(record, out)
    return record


def _lowered_pair(model_dir: Path, height: int, width: int, folder: Path, name: str) -> tuple[Path, Path]:
    model = ncnn_model.read(model_dir / "flownet.param", model_dir / "flownet.bin")
    ncnn_passes.lower_warp(model, height, width)
    param, bin_ = folder / f"{name}.param", folder / f"{name}.bin"
    ncnn_model.write(model, param, bin_)
    return param, bin_


def _mean_metrics(outputs, targets) -> dict:
    psnrs = [metrics.compare(o, t)["psnr_db"] for o, t in zip(outputs, targets)]
    psnrs = [p if p is not None else 100.0 for p in psnrs]  # identical frames: cap, JSON has no inf
    return {"psnr_db": float(sum(psnrs) / len(psnrs)),
            "ssim": float(sum(metrics.ssim(o, t) for o, t in zip(outputs, targets)) / len(psnrs))}


def verify_int8(int8_dir, fp32_dir, checkpoint, data_root, threads: int, min_psnr: float, out) -> dict:
    """int8 vs fp32 ncnn, vs PyTorch and vs ground truth on the evaluation split, per resolution.

    Fails (writes nothing) when int8's mean PSNR against fp32 ncnn is below `min_psnr` anywhere.
    """
    from rifebuild import calibdata
    from rifebuild.runner import NcnnSession, run_torch
    from rifebuild.weights import load_ifnet

    int8_dir, fp32_dir, root = Path(int8_dir), Path(fp32_dir), Path(data_root)
    net = load_ifnet(checkpoint)
    checks = []
    for folder in sorted((root / "evaluation").iterdir(), key=lambda p: [int(v) for v in p.name.split("x")]):
        h, w = (int(v) for v in folder.name.split("x"))
        triplets = calibdata.read_cache(root, "evaluation", h, w)
        inputs = [calibdata.model_inputs(t) for t in triplets]
        truth = [t[1] for t in triplets]
        with tempfile.TemporaryDirectory(prefix="rife-verify-int8-") as tmp:
            outputs = {}
            for name, model_dir in (("int8", int8_dir), ("fp32", fp32_dir)):
                with NcnnSession(*_lowered_pair(model_dir, h, w, Path(tmp), name), threads) as session:
                    outputs[name] = [session.run(x)["out0"] for x in inputs]
        outputs["torch"] = [run_torch(net, x) for x in inputs]
        passed = _mean_metrics(outputs["int8"], outputs["fp32"])["psnr_db"] >= min_psnr
        checks.append({
            "resolution": [h, w], "frames": len(triplets),
            "int8_vs_fp32_ncnn": _mean_metrics(outputs["int8"], outputs["fp32"]),
            "int8_vs_pytorch": _mean_metrics(outputs["int8"], outputs["torch"]),
            "int8_vs_ground_truth": _mean_metrics(outputs["int8"], truth),
            "fp32_ncnn_vs_ground_truth": _mean_metrics(outputs["fp32"], truth),
            "pytorch_vs_ground_truth": _mean_metrics(outputs["torch"], truth),
            "min_psnr_vs_fp32": min_psnr, "passed": passed})
        print(f"{h}x{w}: int8 vs fp32 {checks[-1]['int8_vs_fp32_ncnn']}, vs ground truth "
              f"{checks[-1]['int8_vs_ground_truth']} (fp32: {checks[-1]['fp32_ncnn_vs_ground_truth']})")
    files = [int8_dir / n for n in ("flownet.param", "flownet.bin", "flownet.table")]
    record = {"artifact": str(int8_dir), "runtime": "ncnn (Python package), rife.Warp lowered to GridSample",
              "precision": "int8", "artifact_sha256": {p.name: sha256_of(p) for p in files if p.exists()},
              "evaluation_data": str(root), "tool_versions": tool_versions(), "checks": checks}
    failed = [c for c in checks if not c["passed"]]
    if failed:
        c = failed[0]
        raise VerificationError(
            f"{int8_dir}: int8 vs fp32 PSNR {c['int8_vs_fp32_ncnn']['psnr_db']:.2f} dB at "
            f"{c['resolution'][0]}x{c['resolution'][1]} is below int8.min_psnr_vs_fp32 = {min_psnr:g}; "
            "keep more layers float (int8.sensitivity_keep_float) or try another calibration.method")
    atomic_write_json(out, record)
    return record
