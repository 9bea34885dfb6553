"""Verification record of an .mnn model: MNN runtime vs PyTorch fp32 (and vs ground truth).

Runs on the reference .npz of every configured resolution (the same inputs and PyTorch outputs the
ncnn branch uses); the models are shape-mutable, so this also proves they work at several sizes.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from rifebuild.atomic import sha256_of
from rifebuild.metrics import compare, psnr_from_mse, ssim
from rifebuild.calibdata import center_crop
from rifebuild.mnn_calib import read_triplets
from rifebuild.mnn_run import forward, load_module
from rifebuild.model import IFNet
from rifebuild.reference import inputs_digest, load_reference
from rifebuild.runner import run_torch
from rifebuild.verify import tool_versions


def verify_model(path: Path | str, references, eval_dir: Path | str | None = None, net: IFNet | None = None,
                 timestep: float = 0.5, threads: int = 2) -> dict:
    """Compare the MNN model with each reference .npz (inputs + PyTorch output, one per resolution);
    with eval_dir (and the PyTorch net), also compare both with the ground-truth middle frames."""
    module = load_module(path, threads)
    record = {"model": Path(path).name, "sha256": sha256_of(path), "bytes": Path(path).stat().st_size,
              "tools": tool_versions(), "resolutions": []}
    for reference_path in references:
        inputs, reference = load_reference(reference_path)
        output = forward(module, inputs)
        record["resolutions"].append({"size": list(reference.shape[1:]), "reference": Path(reference_path).name,
                                      "inputs_sha256": inputs_digest(inputs),
                                      "vs_torch": {**compare(output, reference), "ssim": ssim(output, reference)}})
    if eval_dir is not None:
        if net is None:
            raise ValueError("comparing with ground truth needs the checkpoint (for the PyTorch numbers)")
        record["ground_truth"] = _vs_ground_truth(module, net, eval_dir, timestep)
    return record


def _vs_ground_truth(module, net: IFNet, eval_dir, timestep: float) -> dict:
    samples = [s for s in read_triplets(eval_dir) if "gt" in s]
    if not samples:
        raise ValueError(f"{eval_dir}: no sample has a ground-truth middle frame (im2.png or gt.npy)")
    psnrs = {"mnn": [], "torch": [], "mnn_vs_torch": []}  # mean of per-sample PSNR, as interpolation papers report
    ssims = {"mnn": [], "torch": []}
    digest = hashlib.sha256()
    for sample in samples:
        _, h, w = sample["in0"].shape
        h, w = h // 32 * 32, w // 32 * 32  # the model's contract: callers crop or pad to 32
        inputs = {k: center_crop(sample[k], h, w, eval_dir) for k in ("in0", "in1")}
        inputs["in2"] = np.full((1, h, w), timestep, np.float32)
        truth = center_crop(sample["gt"], h, w, eval_dir)
        digest.update(inputs_digest(inputs).encode())
        outputs = {"mnn": forward(module, inputs), "torch": run_torch(net, inputs)}
        psnrs["mnn_vs_torch"].append(_psnr(outputs["mnn"], outputs["torch"]))
        for name, output in outputs.items():
            psnrs[name].append(_psnr(output, truth))
            ssims[name].append(ssim(output, truth))
    return {"split": str(eval_dir), "samples": len(samples), "inputs_sha256": digest.hexdigest(),
            "psnr_db": float(np.mean(psnrs["mnn"])), "ssim": float(np.mean(ssims["mnn"])),
            "torch_psnr_db": float(np.mean(psnrs["torch"])),
            "torch_ssim": float(np.mean(ssims["torch"])), "mnn_vs_torch_psnr_db": float(np.mean(psnrs["mnn_vs_torch"]))}


def _psnr(output: np.ndarray, reference: np.ndarray) -> float:
    return psnr_from_mse(float(np.mean((output.astype(np.float64) - reference) ** 2))) or 99.0
