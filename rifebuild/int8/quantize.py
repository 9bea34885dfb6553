"""The int8 ncnn model: apply a calibration table to the fp32 model, the way ncnn2int8 does.

Each calibrated Convolution gets int8 weights (int8 tag), int8_scale_term=2 (per-output-channel
weight scales + one input scale, appended raw after the bias). Deconvolution and weightless layers
stay float. Requantize fusion: a Convolution whose output feeds only int8 Convolutions (directly
or through a Split) that share one input scale gets int8_scale_term=102 and that scale as its
output scale, so ncnn hands the next convolution int8 data without a float round trip.

Mixed precision: layers named in `float_layers` stay float; `sensitivity` measures, for one layer
at a time, the PSNR of the model's output against fp32 when only that layer is int8, so the most
sensitive ones can be kept float.
"""
from __future__ import annotations

import copy
import sys
import tempfile
from pathlib import Path

import numpy as np

from rifebuild.calibration import triplets as calibdata
from rifebuild.core.errors import Int8Error
from rifebuild.core.files import atomic_write_bytes
from rifebuild.evaluate import metrics
from rifebuild.int8 import quant
from rifebuild.ncnn import graph as ncnn_model
from rifebuild.ncnn.graph import TAG_INT8, Layer, Model, Weight

INT8_SCALE_TERM = 2  # what ncnn2int8 writes for Convolution: per-output-channel weight scales
REQUANTIZE_OFFSET = 100  # int8_scale_term > 100: an output scale follows (requantize fusion)



def quantize_conv(layer: Layer, weight_scales: np.ndarray, input_scale: float) -> None:
    """Turn one float Convolution into ncnn's int8 layout (in place)."""
    num_output = layer.get(0, 0)
    if len(weight_scales) != num_output:
        raise Int8Error(f"table has {len(weight_scales)} weight scales for {layer.name!r}, "
                        f"which has {num_output} outputs; re-run calibration for this model")
    weight = layer.weights[0].as_float32().reshape(num_output, -1)
    int8 = quant.quantize(weight, weight_scales[:, None]).ravel()
    bias = [layer.weights[1]] if layer.get(5, 0) else []
    layer.weights = [Weight(int8, TAG_INT8), *bias, Weight(np.asarray(weight_scales, np.float32)),
                     Weight(np.array([input_scale], np.float32))]
    layer.set(8, INT8_SCALE_TERM)


def _int8_consumers(blob: str, consumers: dict[str, list[Layer]]) -> list[Layer] | None:
    """The int8 Convolutions reading `blob` directly or through one Split; None if anything else does."""
    found = []
    for user in consumers.get(blob, []):
        if user.type == "Split":
            inner = _int8_consumers_direct(user.outputs, consumers)
            if inner is None:
                return None
            found += inner
        elif user.type == "Convolution" and user.get(8, 0) and len(user.inputs) == 1:
            found.append(user)
        else:
            return None
    return found or None


def _int8_consumers_direct(blobs: list[str], consumers: dict[str, list[Layer]]) -> list[Layer] | None:
    found = []
    for blob in blobs:
        for user in consumers.get(blob, []):
            if user.type != "Convolution" or not user.get(8, 0) or len(user.inputs) != 1:
                return None
            found.append(user)
    return found


def fuse_requantize(model: Model) -> list[str]:
    """Give int8 convs that feed only int8 convs (one shared input scale) an output scale."""
    consumers = model.consumers()
    fused = []
    for layer in model.layers:
        if layer.type != "Convolution" or layer.get(8, 0) != INT8_SCALE_TERM:
            continue
        users = _int8_consumers(layer.outputs[0], consumers)
        if not users:
            continue
        scales = {float(u.weights[-1].data[0]) for u in users}
        if len(scales) != 1:
            continue
        layer.set(8, INT8_SCALE_TERM + REQUANTIZE_OFFSET)
        layer.weights.append(Weight(np.array([scales.pop()], np.float32)))
        fused.append(layer.name)
    return fused


def quantize_model(model: Model, weight_scales: dict[str, np.ndarray], input_scales: dict[str, float],
                   float_layers: list[str] | tuple[str, ...] = (), requantize: bool = True) -> dict:
    """Quantize every Convolution found in the table, except `float_layers`. Returns a summary."""
    convs = {l.name: l for l in model.layers if l.type == "Convolution"}
    unknown = sorted(set(float_layers) - set(convs))
    if unknown:
        raise Int8Error(f"int8.float_layers names {unknown}, which are not Convolution layers of the model; "
                        f"use names from the sensitivity table")
    missing = sorted(n for n in convs if n not in float_layers and (n not in weight_scales or n not in input_scales))
    if missing:
        raise Int8Error(f"the calibration table has no scales for {missing}; re-run calibration for this model")
    quantized = []
    for name, layer in convs.items():
        if name in float_layers or layer.get(8, 0):
            continue
        quantize_conv(layer, weight_scales[name], input_scales[name])
        quantized.append(name)
    fused = fuse_requantize(model) if requantize else []
    return {"int8": quantized, "float": sorted(float_layers, key=list(convs).index), "requantize_fused": fused}


# ---------------------------------------------------------------------------------------------
# sensitivity: one layer int8 at a time


def _outputs(model: Model, height: int, width: int, folder: Path, name: str, inputs: list[dict], threads: int,
             reference: Path | None) -> list[np.ndarray]:
    from rifebuild.int8.calibrate import open_session

    with open_session(model, height, width, folder, threads, reference, name=name) as session:
        return [session.run(x)["out0"] for x in inputs]


def sensitivity(model: Model, weight_scales: dict, input_scales: dict, triplets: list,
                threads: int = 2, reference: Path | None = None) -> list[dict]:
    """Per Convolution: mean PSNR (dB) of the output vs fp32 when only it is int8; worst first.
    `reference`: rife-bench of the reference build (see calibrate.open_session)."""
    from tqdm import tqdm

    height, width = triplets[0][0].shape[1:]
    inputs = [calibdata.model_inputs(t) for t in triplets]
    convs = [l.name for l in model.layers if l.type == "Convolution" and not l.get(8, 0)]
    rows = []
    with tempfile.TemporaryDirectory(prefix="rife-sens-") as tmp:
        folder = Path(tmp)
        fp32 = _outputs(model, height, width, folder, "fp32", inputs, threads, reference)
        for name in tqdm(convs, desc="sensitivity", file=sys.stderr, mininterval=1.0):
            single = copy.deepcopy(model)
            quantize_conv(single.layer(name), weight_scales[name], input_scales[name])
            outputs = _outputs(single, height, width, folder, "one", inputs, threads, reference)
            psnr = float(np.mean([metrics.psnr(o, r) for o, r in zip(outputs, fp32)]))
            rows.append({"layer": name, "psnr_db": psnr})
    rows.sort(key=lambda r: (r["psnr_db"], r["layer"]))
    for rank, row in enumerate(rows, start=1):
        row["rank"] = rank
    return rows


def format_sensitivity(rows: list[dict], kept_float: list[str]) -> str:
    lines = ["rank\tlayer\tpsnr_db_vs_fp32\tkept_float"]
    lines += [f"{r['rank']}\t{r['layer']}\t{r['psnr_db']:.3f}\t{int(r['layer'] in kept_float)}" for r in rows]
    return "\n".join(lines) + "\n"


def parse_sensitivity(text: str) -> list[dict]:
    rows = []
    for line in text.splitlines()[1:]:
        if line.strip():
            rank, layer, psnr, _ = line.split("\t")
            rows.append({"rank": int(rank), "layer": layer, "psnr_db": float(psnr)})
    return rows


def write_sensitivity(path: Path | str, rows: list[dict], keep_float: int) -> None:
    kept = [r["layer"] for r in rows[:keep_float]]
    atomic_write_bytes(path, format_sensitivity(rows, kept).encode())


def most_sensitive(path: Path | str, count: int) -> list[str]:
    return [r["layer"] for r in parse_sensitivity(Path(path).read_text())[:count]]


def run_sensitivity(param, bin_, table, data_root, frames: int, keep_float: int, threads: int, out,
                    reference: Path | None = None) -> list[dict]:
    """Measure per-layer sensitivity on the first `frames` calibration triplets; write the TSV."""
    from rifebuild.int8.calibrate import calibration_triplets

    weight_scales, input_scales = quant.read_table(table)
    triplets = calibration_triplets(data_root)[:frames]
    rows = sensitivity(ncnn_model.read(param, bin_), weight_scales, input_scales, triplets, threads, reference)
    write_sensitivity(out, rows, keep_float)
    return rows


def build(param, bin_, table, float_layers: list[str], sensitivity_tsv, keep_float: int, requantize: bool,
          out_param, out_bin, out_json) -> dict:
    """fp32 rife.Warp model + table -> int8 model, keeping the configured and most sensitive layers float."""
    from rifebuild.core.files import atomic_write_json

    model = ncnn_model.read(param, bin_)
    weight_scales, input_scales = quant.read_table(table)
    keep = list(dict.fromkeys([*float_layers, *(most_sensitive(sensitivity_tsv, keep_float) if keep_float else [])]))
    summary = quantize_model(model, weight_scales, input_scales, keep, requantize)
    ncnn_model.write(model, out_param, out_bin)
    sizes = {"fp32_bin_bytes": Path(bin_).stat().st_size, "int8_bin_bytes": Path(out_bin).stat().st_size}
    summary = {**summary, **sizes, "bin_size_ratio": round(sizes["int8_bin_bytes"] / sizes["fp32_bin_bytes"], 4)}
    atomic_write_json(out_json, summary)
    print(f"int8: {len(summary['int8'])} convolutions, float: {summary['float']}, requantize fused: "
          f"{len(summary['requantize_fused'])}, bin {summary['bin_size_ratio']:.1%} of fp32")
    return summary
