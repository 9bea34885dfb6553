"""MNN branch: the any-size ONNX (rifebuild.export.dynamic_onnx) -> fp32 / fp16 / weight-int8 / full-int8 .mnn (rules/mnn.smk).

Verification of the models lives in rifebuild.evaluate (one evaluator for every runtime).
"""
from __future__ import annotations

import json
from pathlib import Path

from rifebuild.calibration.triplets import read_triplets
from rifebuild.core.errors import CalibrationError
from rifebuild.core.files import atomic_write_json
from rifebuild.mnn.samples import quant_config, write_sequence_samples
from rifebuild.mnn.tools import MnnToolError, convert, quantize

# variant name -> converter options (int8 is made by the quantizer from the fp32 model)
CONVERT_OPTIONS = {"fp32": {}, "fp16": {"fp16": True}, "wq8": {"weight_bits": 8}}
VARIANT_FILES = {"fp32": "flownet.mnn", "fp16": "flownet-fp16.mnn", "wq8": "flownet-wq8.mnn",
                 "int8": "flownet-int8.mnn"}


def build_variant(onnx_path, variant: str, out, log=None) -> None:
    if variant not in CONVERT_OPTIONS:
        raise ValueError(f"variant {variant!r} is unknown; use one of {', '.join(CONVERT_OPTIONS)} "
                         "(int8 is made by `quant`)")
    convert(onnx_path, out, log=log, **CONVERT_OPTIONS[variant])


def build_calibration(frames, out, size, max_samples: int, timestep: float = 0.5) -> int:
    samples = read_triplets(frames)[:max_samples]
    return write_sequence_samples(samples, out, size[0], size[1], timestep)


def op_names(model: Path | str) -> dict[str, str]:
    """Op name -> op type of an .mnn model (MNN names each op after its output), read with MNN.expr."""
    import MNN.expr as expr

    return {var.name: var.op_type for var in expr.load_as_list(str(model))}


def check_skip_ops(src: Path | str, skip_ops) -> None:
    """Every mnn.int8.skip_ops name must be an op of the model: MNN's quantizer ignores unknown names, so a
    typo would quietly quantize the op it was meant to keep float."""
    if not skip_ops:
        return
    ops = op_names(src)
    unknown = [op for op in skip_ops if op not in ops]
    if unknown:
        example = next((name for name, kind in ops.items() if kind == "Convolution"), next(iter(ops), ""))
        raise CalibrationError(f"mnn.int8.skip_ops: {unknown[0]!r} is not an op of {src}; use the names of its ops "
                               f"(named after their outputs, e.g. {example!r})")


def build_int8(src, samples_dir, out, config_out, feature_method: str, weight_method: str,
               batch_size: int = 8, skip_ops=None, log=None) -> None:
    """Write the quantizer config next to the model, then run MNN's offline quantizer."""
    check_skip_ops(src, skip_ops)
    samples_dir = Path(samples_dir)
    count = len([p for p in samples_dir.iterdir() if p.is_dir()]) if samples_dir.is_dir() else 0
    if count == 0:
        raise CalibrationError(f"{samples_dir}: no calibration samples; run the `mnn_calibration` rule "
                               "(it needs the calibration split of frame triplets)")
    shape = json.loads(next(p for p in sorted(samples_dir.iterdir()) if p.is_dir()).joinpath("input.json")
                       .read_text())["inputs"][0]["shape"]
    config = quant_config(samples_dir, count, shape[2], shape[3], feature_method, weight_method,
                          batch_size, skip_ops)
    atomic_write_json(config_out, config)
    try:
        quantize(src, out, config_out, log=log)
    except MnnToolError as exc:
        hint = ""
        if feature_method == "KL" and "SIGSEGV" in str(exc):
            hint = ("\nMNN 3.6.1's KL calibration crashes on Resize (bilinear interpolate) layers, which "
                    "RIFE uses; set mnn.int8.feature_method to EMA or ADMM.")
        raise MnnToolError(f"{exc}{hint}") from None
