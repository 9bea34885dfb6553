"""The one evaluator: runs each artifact on the fixed references (and the evaluation split) and writes
its verification record (rifebuild.evaluate.record). A failed check writes nothing and fails the rule."""
from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from rifebuild.evaluate import record as rec
from rifebuild.evaluate.metrics import compare, compare_frames
from rifebuild.evaluate.reference import inputs_digest, load_reference
from rifebuild.evaluate.runtimes import NcnnSession, run_ncnn, run_onnx, run_torch
from rifebuild.ncnn import graph, passes

LOWERED = "ncnn (Python package), rife.Warp lowered to GridSample"


def _vs_reference(output: np.ndarray, reference_path, inputs, reference, bound: dict | None) -> dict:
    return rec.check("pytorch", reference.shape[1:], compare(output, reference), bound, inputs=reference_path,
                     inputs_sha256=inputs_digest(inputs))


def verify_onnx(onnx_path, reference_paths, bound: float, threads: int, out, details: dict | None = None) -> dict:
    """onnxruntime vs PyTorch on every reference (a fixed-size export gets one, a dynamic one several)."""
    record = rec.new(onnx_path, "onnxruntime", "fp32")
    record["details"].update(details or {})
    for reference_path in reference_paths:
        inputs, reference = load_reference(reference_path)
        record["checks"].append(_vs_reference(run_onnx(onnx_path, inputs, threads), reference_path, inputs,
                                              reference, {"max_abs_err": bound}))
    return rec.finish(record, out, hint="the bound is verify.onnx_max_abs_err")


def verify_ncnn(model_dir, reference_paths, precision: str, bound: dict, threads: int, out) -> dict:
    """Lower the rife.Warp model to stock GridSample at each reference's resolution and run it.

    Running at several resolutions from one rife.Warp model proves resolution independence. A stock
    model (no rife.Warp) runs as it is. `bound`: {"max_abs_err": x} (fp32) or {"min_psnr_db": x} (fp16).
    """
    model_dir = Path(model_dir)
    record = rec.new(model_dir, LOWERED, precision)
    for reference_path in reference_paths:
        inputs, reference = load_reference(reference_path)
        h, w = reference.shape[1:]
        with tempfile.TemporaryDirectory(prefix="rife-verify-") as tmp:
            lowered = lowered_pair(model_dir, int(h), int(w), Path(tmp), "flownet")
            output = run_ncnn(*lowered, inputs, threads, fp16=precision == "fp16")
        record["checks"].append(_vs_reference(output, reference_path, inputs, reference, bound))
    key = "fp16_min_psnr_db" if "min_psnr_db" in bound else f"{precision}_max_abs_err"
    return rec.finish(record, out, hint=f"the bound is verify.{key}")


def lowered_pair(model_dir: Path, height: int, width: int, folder: Path, name: str) -> tuple[Path, Path]:
    model = graph.read(Path(model_dir) / "flownet.param", Path(model_dir) / "flownet.bin")
    passes.lower_warp(model, height, width)
    param, bin_ = folder / f"{name}.param", folder / f"{name}.bin"
    graph.write(model, param, bin_)
    return param, bin_


def verify_int8(int8_dir, fp32_dir, checkpoint, data_root, threads: int, min_psnr: float, out, *, model: str,
                min_worst_psnr: float | None = None) -> dict:
    """int8 vs fp32 ncnn and vs PyTorch on the evaluation split at every size it was rendered at, and
    vs ground truth. Gates: the mean PSNR vs fp32 ncnn, and the worst frame's PSNR vs PyTorch (a mean
    hides the one frame with large motion where int8 flow goes wrong, as it did in the client at 720p)."""
    from rifebuild.calibration import triplets as cal
    from rifebuild.checkpoint.load import load_ifnet

    int8_dir, fp32_dir, root = Path(int8_dir), Path(fp32_dir), Path(data_root)
    net = load_ifnet(checkpoint, model)
    record = rec.new(int8_dir, LOWERED, "int8", [int8_dir / n for n in ("flownet.param", "flownet.bin", "flownet.table")])
    record["details"]["evaluation_data"] = str(root)
    for folder in sorted((root / "evaluation").iterdir(), key=lambda p: [int(v) for v in p.name.split("x")]):
        h, w = (int(v) for v in folder.name.split("x"))
        triplets = cal.read_cache(root, "evaluation", h, w)
        inputs = [cal.model_inputs(t) for t in triplets]
        truth = [t[1] for t in triplets]
        digest = inputs_digest({f"{i}{k}": v for i, x in enumerate(inputs) for k, v in x.items()})
        with tempfile.TemporaryDirectory(prefix="rife-verify-int8-") as tmp:
            outputs = {}
            for name, model_dir in (("int8", int8_dir), ("fp32", fp32_dir)):
                with NcnnSession(*lowered_pair(model_dir, h, w, Path(tmp), name), threads) as session:
                    outputs[name] = [session.run(x)["out0"] for x in inputs]
        outputs["torch"] = [run_torch(net, x) for x in inputs]
        split = f"evaluation/{h}x{w}"
        record["checks"] += [
            rec.check("ncnn-fp32", (h, w), compare_frames(outputs["int8"], outputs["fp32"]), {"min_psnr_db": min_psnr},
                      inputs=split, inputs_sha256=digest),
            rec.check("pytorch", (h, w), compare_frames(outputs["int8"], outputs["torch"]),
                      None if min_worst_psnr is None else {"min_worst_psnr_db": min_worst_psnr}, inputs=split,
                      inputs_sha256=digest)]
        for subject, key in (("artifact", "int8"), ("ncnn-fp32", "fp32"), ("pytorch", "torch")):
            record["ground_truth"].append(rec.ground_truth(subject, split, (h, w), compare_frames(outputs[key], truth)))
        torch_check = record["checks"][-1]
        print(f"{h}x{w}: {record['checks'][-2]['psnr_db']:.2f} dB vs fp32 ncnn, {torch_check['psnr_db']:.2f} dB "
              f"(worst frame {torch_check['worst_psnr_db']:.2f} dB) vs PyTorch, "
              f"{record['ground_truth'][-3]['psnr_db']:.2f} dB vs ground truth")
    return rec.finish(record, out, hint="keep more layers float (int8.sensitivity_keep_float) or try another "
                                        "calibration.method; the bounds are int8.min_psnr_vs_fp32 and "
                                        "int8.min_worst_psnr_vs_pytorch")


def verify_mnn(mnn_path, reference_paths, out, eval_dir, checkpoint, min_psnr: float, *, model: str,
               timestep: float = 0.5, threads: int = 2) -> dict:
    """MNN runtime vs PyTorch at every reference resolution (gate: min PSNR), and both vs ground truth."""
    from rifebuild.calibration.triplets import center_crop, read_triplets
    from rifebuild.checkpoint.load import load_ifnet
    from rifebuild.evaluate.mnn_runtime import forward, load_module

    module = load_module(mnn_path, threads)
    record = rec.new(mnn_path, "MNN (Python package)", _mnn_precision(mnn_path))
    for reference_path in reference_paths:
        inputs, reference = load_reference(reference_path)
        record["checks"].append(_vs_reference(forward(module, inputs), reference_path, inputs, reference,
                                              {"min_psnr_db": min_psnr}))
    samples = [s for s in read_triplets(eval_dir) if "gt" in s]
    if samples:
        net = load_ifnet(checkpoint, model)
        pad = net.spec.padding
        outputs, torch_outputs, truth = [], [], []
        for sample in samples:
            _, h, w = sample["in0"].shape
            h, w = h // pad * pad, w // pad * pad  # the model's contract: callers crop or pad to its multiple
            inputs = {k: center_crop(sample[k], h, w, eval_dir) for k in ("in0", "in1")}
            inputs["in2"] = np.full((1, h, w), timestep, np.float32)
            truth.append(center_crop(sample["gt"], h, w, eval_dir))
            outputs.append(forward(module, inputs))
            torch_outputs.append(run_torch(net, inputs))
        split = str(eval_dir)
        record["ground_truth"] += [rec.ground_truth("artifact", split, truth[0].shape[1:], compare_frames(outputs, truth)),
                                   rec.ground_truth("pytorch", split, truth[0].shape[1:],
                                                    compare_frames(torch_outputs, truth))]
    return rec.finish(record, out, hint="the bound is mnn.min_psnr_db")


def _mnn_precision(model) -> str:
    name = Path(model).stem
    return next((p for p in ("fp16", "wq8", "int8") if name.endswith(p)), "fp32")
