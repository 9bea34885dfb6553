"""Calibration: run the fp32 model on calibration frames and choose every Convolution's int8 scales.

The rife.Warp model is lowered to stock GridSample at the calibration resolution so the ncnn Python
package can run it with light mode off; each Convolution's input blob is extracted per frame.
Methods (see rifebuild.quant): `kl` and `aciq` as ncnn2table computes them, `eq` = KL refined per
layer by a search over the input scale that maximises the cosine similarity between the layer's
int8 and fp32 outputs on the first `eq_frames` frames.
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rifebuild.calibration import triplets as calibdata
from rifebuild.core.errors import CalibrationError
from rifebuild.core.files import atomic_write_json
from rifebuild.evaluate.runtimes import NcnnSession
from rifebuild.int8 import quant
from rifebuild.native.run import BlobSession
from rifebuild.ncnn import graph as ncnn_model
from rifebuild.ncnn import passes as ncnn_passes
from rifebuild.ncnn.graph import Layer, Model

METHODS = ("kl", "aciq", "eq")



def conv_layers(model: Model) -> list[Layer]:
    """Float Convolutions: the layers that get int8 (Deconvolution has no int8 kernel in ncnn)."""
    return [l for l in model.layers if l.type == "Convolution" and l.get(8, 0) == 0]


def conv_geometry(layer: Layer) -> dict:
    kw = layer.get(1, 0)
    kh = layer.get(11, kw)
    dw = layer.get(2, 1)
    sw = layer.get(3, 1)
    pad = layer.get(4, 0)
    pads = {pad, layer.get(15, pad), layer.get(14, pad), layer.get(16, layer.get(14, pad))}
    if len(pads) != 1 or pad < 0:
        raise CalibrationError(f"Convolution {layer.name!r}: asymmetric/auto padding {sorted(pads)} is not supported")
    return {"kernel": (kh, kw), "stride": (layer.get(13, sw), sw), "dilation": (layer.get(12, dw), dw),
            "pad": pad, "num_output": layer.get(0, 0)}


def is_six_bit(layer: Layer) -> bool:
    g = conv_geometry(layer)
    return quant.is_winograd_3x3s1(g["kernel"], g["stride"], g["dilation"])


def layer_weight_scales(layer: Layer, method: str) -> np.ndarray:
    """Per-output-channel weight scales; ACIQ clips weights too (as ncnn2table does)."""
    weight = layer.weights[0].as_float32()
    num_output = layer.get(0, 0)
    six_bit = is_six_bit(layer)
    if method != "aciq":
        return quant.weight_scales(weight, num_output, six_bit)
    rows = np.abs(weight.reshape(num_output, -1))
    levels, bits = (31, 6) if six_bit else (127, 8)
    scales = [levels / quant.aciq_threshold(float(r.max()), r.size, bits) if r.max() > 0 else 1.0 for r in rows]
    return np.array(scales, np.float32)


def _activation(layer: Layer):
    import torch.nn.functional as F

    kind = layer.get(9, 0)
    if kind == 0:
        return lambda x: x
    if kind == 1:
        return F.relu
    if kind == 2:
        slope = float((layer.get(-23310) or [0.0])[0])
        return lambda x: F.leaky_relu(x, slope)
    raise CalibrationError(f"Convolution {layer.name!r}: activation_type {kind} is not supported by EQ")


def _progress(iterable, desc: str):
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, file=sys.stderr, mininterval=1.0)


class _Stats:
    def __init__(self, names: list[str]):
        self.absmax = dict.fromkeys(names, 0.0)
        self.count = dict.fromkeys(names, 0)
        self.hist = {n: np.zeros(quant.NUM_BINS, np.int64) for n in names}


def open_session(model: Model, height: int, width: int, folder: Path, threads: int,
                 reference: Path | None = None, keep_blobs: bool = False, name: str = "flownet"):
    """A session running `model` on calibration frames. With `reference` (rife-bench of the reference
    build) the rife.Warp model runs there: the same bits on any x86-64 runner, so the table and the int8
    model do not depend on the build machine. Without it: the ncnn Python package on the model lowered to
    GridSample, whose last bits follow this CPU's SIMD path (library use, tests)."""
    param, bin_ = folder / f"{name}.param", folder / f"{name}.bin"
    if reference is not None:
        ncnn_model.write(model, param, bin_)
        return BlobSession(reference, param, bin_, threads)
    lowered = Model([Layer(l.type, l.name, list(l.inputs), list(l.outputs), dict(l.params), list(l.weights))
                     for l in model.layers])
    ncnn_passes.lower_warp(lowered, height, width)
    ncnn_model.write(lowered, param, bin_)
    return NcnnSession(param, bin_, threads, keep_blobs=keep_blobs)


def calibrate(model: Model, triplets: list, method: str, threads: int = 2, eq_frames: int = 4,
              eq_steps: int = 32, reference: Path | None = None) -> dict:
    """Return {'weight_scales': {name: [...]}, 'input_scales': {name: s}, 'layers': per-layer stats}."""
    if method not in METHODS:
        raise CalibrationError(f"calibration.method = {method!r}: use one of {', '.join(METHODS)}")
    convs = conv_layers(model)
    if not convs:
        raise CalibrationError("the model has no float Convolution layers to calibrate")
    if not triplets:
        raise CalibrationError("no calibration frames; raise calibration.calibration_size")
    height, width = triplets[0][0].shape[1:]
    blobs = [c.inputs[0] for c in convs]
    stats = _Stats([c.name for c in convs])
    with tempfile.TemporaryDirectory(prefix="rife-calib-") as tmp:
        with open_session(model, height, width, Path(tmp), threads, reference, keep_blobs=True) as session:
            for triplet in _progress(triplets, "calibration: absmax"):
                acts = session.run(calibdata.model_inputs(triplet), blobs)
                for conv in convs:
                    x = acts[conv.inputs[0]]
                    if not np.isfinite(x).all():
                        raise CalibrationError(f"{conv.name}'s input is not finite on a calibration frame: "
                                               "the fp32 model is broken (check its verification record)")
                    stats.absmax[conv.name] = max(stats.absmax[conv.name], float(np.abs(x).max()))
                    stats.count[conv.name] = x.size
            if method in ("kl", "eq"):
                for triplet in _progress(triplets, "calibration: histograms"):
                    acts = session.run(calibdata.model_inputs(triplet), blobs)
                    for conv in convs:
                        stats.hist[conv.name] += quant.histogram(acts[conv.inputs[0]], stats.absmax[conv.name])
            thresholds = {}
            for conv in convs:
                absmax = stats.absmax[conv.name]
                if method == "aciq":
                    thresholds[conv.name] = quant.aciq_threshold(absmax, stats.count[conv.name]) if absmax > 0 else 0.0
                else:
                    thresholds[conv.name] = quant.kl_threshold(stats.hist[conv.name], absmax)
            input_scales = {n: quant.scale_of(t) for n, t in thresholds.items()}
            weight_scales = {c.name: layer_weight_scales(c, method) for c in convs}
            similarity = {}
            if method == "eq":
                input_scales, similarity = _eq_search(session, convs, triplets[:eq_frames], input_scales,
                                                      weight_scales, eq_steps)
    layers = {c.name: {"absmax": stats.absmax[c.name], "threshold": 127.0 / input_scales[c.name],
                       "input_scale": input_scales[c.name], "six_bit_weights": is_six_bit(c),
                       **({"eq_cosine": similarity[c.name]} if similarity else {})} for c in convs}
    return {"weight_scales": weight_scales, "input_scales": input_scales, "layers": layers}


def _eq_search(session: NcnnSession, convs: list[Layer], triplets: list, input_scales: dict,
               weight_scales: dict, steps: int) -> tuple[dict, dict]:
    """Per layer, the input scale in [0.5, 2] x KL's whose int8 output is most like fp32 (cosine).

    The simulation runs in float64: torch's float32 convolutions round differently per SIMD path, and
    the search's argmax must not depend on the build machine.
    """
    import torch
    import torch.nn.functional as F

    factors = 0.5 + 1.5 * np.arange(steps) / steps
    sims = {c.name: np.zeros(steps) for c in convs}
    prepared = {}
    for conv in convs:
        g = conv_geometry(conv)
        weight = torch.from_numpy(conv.weights[0].as_float32()).reshape(g["num_output"], -1, *g["kernel"])
        ws = torch.from_numpy(weight_scales[conv.name])
        wq = torch.clamp(torch.round(weight * ws.view(-1, 1, 1, 1)), -127, 127)
        bias = torch.from_numpy(conv.weights[1].as_float32()).double() if conv.get(5, 0) else None
        prepared[conv.name] = (weight.double(), wq.double(), ws.double(), bias, g, _activation(conv))
    with torch.no_grad():
        for triplet in _progress(triplets, "calibration: eq search"):
            acts = session.run(calibdata.model_inputs(triplet), [c.inputs[0] for c in convs])
            for conv in convs:
                weight, wq, ws, bias, g, act = prepared[conv.name]
                x = torch.from_numpy(acts[conv.inputs[0]]).double()[None]
                ref = act(F.conv2d(x, weight, bias, g["stride"], g["pad"], g["dilation"]))
                for k, f in enumerate(factors):
                    out = quant.conv_int8_sim(x, wq, bias, ws, float(input_scales[conv.name] * f), g["stride"],
                                              g["pad"], act)
                    sims[conv.name][k] += quant.cosine(out, ref)
    best = {n: float(input_scales[n] * factors[int(np.argmax(s))]) for n, s in sims.items()}
    cosine = {n: float(s.max() / max(len(triplets), 1)) for n, s in sims.items()}
    return best, cosine


def calibration_triplets(data_root) -> list:
    """The cached calibration split (one resolution: the calibration resolution)."""
    folder = Path(data_root) / "calibration"
    resolutions = sorted(p.name for p in folder.iterdir() if p.is_dir()) if folder.is_dir() else []
    if len(resolutions) != 1:
        raise CalibrationError(f"{folder}: expected one resolution folder, found {resolutions}; "
                               "re-run the calibration_data rule")
    height, width = (int(v) for v in resolutions[0].split("x"))
    return calibdata.read_cache(data_root, "calibration", height, width)


def run(param, bin_, data_root, method: str, threads: int, eq_frames: int, eq_steps: int,
        out_table, out_json, reference: Path | None = None) -> dict:
    """Calibrate the rife.Warp model on the cached calibration split; write the table + a record."""
    model = ncnn_model.read(param, bin_)
    start = time.monotonic()
    triplets = calibration_triplets(data_root)
    height, width = triplets[0][0].shape[1:]
    result = calibrate(model, triplets, method, threads, eq_frames, eq_steps, reference)
    seconds = time.monotonic() - start
    quant.write_table(out_table, result["weight_scales"], result["input_scales"])
    record = {"method": method, "frames": len(triplets), "resolution": [height, width],
              "activations": "reference build" if reference is not None else "ncnn Python package",
              "calibration_seconds": round(seconds, 2), "layers": result["layers"]}
    atomic_write_json(out_json, record)
    print(f"calibrated {len(result['layers'])} convolutions on {len(triplets)} frames with {method} "
          f"in {seconds:.1f} s")
    return record
