"""The one ncnn model reader/writer every graph pass uses.

A model is a list of layers; each layer keeps its param values as the exact strings of the .param
file (so an unedited model round-trips byte for byte) and its weights as typed numpy arrays in the
order ncnn's `load_model` reads them from the .bin.
"""
from __future__ import annotations

import dataclasses
import struct
from pathlib import Path

import numpy as np

from rifebuild.core.errors import NcnnModelError
from rifebuild.core.files import atomic_write_bytes

PARAM_MAGIC = "7767517"
ARRAY_KEY_BASE = -23300

# Tags at the start of a "typed" weight blob (ncnn ModelBin type 0).
TAG_FP32 = 0x00000000
TAG_FP32_ALT = 0x0002C056
TAG_FP16 = 0x01306B47
TAG_INT8 = 0x000D4B38
_DTYPE_OF_TAG = {TAG_FP32: np.float32, TAG_FP32_ALT: np.float32, TAG_FP16: np.float16, TAG_INT8: np.int8}



@dataclasses.dataclass
class Weight:
    """One weight blob. `tag` is None for raw float32 blobs that carry no tag (biases, scales)."""

    data: np.ndarray
    tag: int | None = None

    def to_bytes(self) -> bytes:
        payload = np.ascontiguousarray(self.data).tobytes()
        pad = (-len(payload)) % 4
        head = b"" if self.tag is None else struct.pack("<I", self.tag)
        return head + payload + b"\0" * pad

    def as_float32(self) -> np.ndarray:
        return self.data.astype(np.float32)


@dataclasses.dataclass
class Layer:
    type: str
    name: str
    inputs: list[str]
    outputs: list[str]
    params: dict[int, str] = dataclasses.field(default_factory=dict)
    weights: list[Weight] = dataclasses.field(default_factory=list)

    def get(self, key: int, default=None):
        """Typed value of param `key`: int, float, or a list for array keys (-23300-k)."""
        if key not in self.params:
            return default
        return parse_value(self.params[key], is_array=key <= ARRAY_KEY_BASE)

    def set(self, key: int, value) -> None:
        self.params[key] = format_value(value)

    def to_line(self) -> str:
        head = f"{self.type:<24} {self.name:<24} {len(self.inputs)} {len(self.outputs)}"
        parts = [head, *self.inputs, *self.outputs]
        parts += [f"{k}={v}" for k, v in self.params.items()]
        return " ".join(parts)


def parse_value(raw: str, is_array: bool):
    def scalar(s: str):
        return float(s) if any(c in s for c in ".eE") else int(s)

    if is_array:
        items = raw.split(",")
        return [scalar(s) for s in items[1:]]
    return scalar(raw)


def format_value(value) -> str:
    def scalar(v) -> str:
        if isinstance(v, (bool, np.bool_)):
            return str(int(v))
        if isinstance(v, (int, np.integer)):
            return str(int(v))
        return repr(float(v))

    if isinstance(value, (list, tuple)):
        return ",".join([str(len(value)), *[scalar(v) for v in value]])
    return scalar(value)


@dataclasses.dataclass
class Model:
    layers: list[Layer]

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def producer(self) -> dict[str, Layer]:
        return {blob: layer for layer in self.layers for blob in layer.outputs}

    def consumers(self) -> dict[str, list[Layer]]:
        users: dict[str, list[Layer]] = {}
        for layer in self.layers:
            for blob in layer.inputs:
                users.setdefault(blob, []).append(layer)
        return users

    def blob_count(self) -> int:
        return len({blob for layer in self.layers for blob in layer.outputs})

    def param_text(self) -> str:
        lines = [PARAM_MAGIC, f"{len(self.layers)} {self.blob_count()}"]
        lines += [layer.to_line() for layer in self.layers]
        return "\n".join(lines) + "\n"

    def bin_bytes(self) -> bytes:
        return b"".join(w.to_bytes() for layer in self.layers for w in layer.weights)

    def layer_types(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for layer in self.layers:
            counts[layer.type] = counts.get(layer.type, 0) + 1
        return dict(sorted(counts.items()))


# ---------------------------------------------------------------------------------------------
# Weight layouts: what each layer type reads from the .bin, in ncnn's load_model order.
# Each entry returns a list of (count, typed) pairs; typed blobs start with a 4-byte tag.


def _conv_layout(layer: Layer) -> list[tuple[int, bool]]:
    num_output = layer.get(0, 0)
    blobs = [(layer.get(6, 0), True)]
    if layer.get(5, 0):
        blobs.append((num_output, False))
    int8_scale_term = layer.get(8, 0)
    if int8_scale_term:
        blobs.append((num_output, False))  # per-output-channel weight scales
        blobs.append((1, False))  # input (bottom blob) scale
        if int8_scale_term > 100:
            blobs.append((1, False))  # output (top blob) scale, for requantize fusion
    return blobs


def _convdw_layout(layer: Layer) -> list[tuple[int, bool]]:
    """Grouped convolution (4.14-lite's ResConv); int8 scales are per group."""
    blobs = [(layer.get(6, 0), True)]
    if layer.get(5, 0):
        blobs.append((layer.get(0, 0), False))
    if layer.get(8, 0):
        blobs += [(layer.get(7, 1), False), (1, False)] + ([(1, False)] if layer.get(8, 0) > 100 else [])
    return blobs


def _deconv_layout(layer: Layer) -> list[tuple[int, bool]]:
    blobs = [(layer.get(6, 0), True)]
    if layer.get(5, 0):
        blobs.append((layer.get(0, 0), False))
    return blobs


def _memorydata_layout(layer: Layer) -> list[tuple[int, bool]]:
    dims = [layer.get(k, 0) for k in (0, 1, 11, 2)]
    return [(int(np.prod([max(d, 1) for d in dims])), False)]


def _scale_layout(layer: Layer) -> list[tuple[int, bool]]:
    size = layer.get(0, 0)
    if size == -233:
        return []
    return [(size, False)] + ([(size, False)] if layer.get(1, 0) else [])


def _innerproduct_layout(layer: Layer) -> list[tuple[int, bool]]:
    return _deconv_layout(layer)


def _batchnorm_layout(layer: Layer) -> list[tuple[int, bool]]:
    return [(layer.get(0, 0), False)] * 4


def _prelu_layout(layer: Layer) -> list[tuple[int, bool]]:
    return [(layer.get(0, 0), False)]


WEIGHT_LAYOUTS = {
    "Convolution": _conv_layout,
    "ConvolutionDepthWise": _convdw_layout,
    "Deconvolution": _deconv_layout,
    "MemoryData": _memorydata_layout,
    "Scale": _scale_layout,
    "InnerProduct": _innerproduct_layout,
    "BatchNorm": _batchnorm_layout,
    "PReLU": _prelu_layout,
}
# Layer types known to carry no weights. Anything else is refused rather than misread.
WEIGHTLESS = {
    "Input", "Split", "Concat", "BinaryOp", "UnaryOp", "ReLU", "Sigmoid", "Interp", "Crop", "Slice",
    "PixelShuffle", "GridSample", "Permute", "Reshape", "Flatten", "Eltwise", "Noop", "Padding",
    "Clip", "Softmax", "Pooling", "Quantize", "Dequantize", "Requantize", "Cast", "rife.Warp",
}


def _read_blobs(buf: memoryview, offset: int, layer: Layer, bin_path: Path) -> int:
    layout = WEIGHT_LAYOUTS.get(layer.type)
    if layout is None:
        if layer.type not in WEIGHTLESS:
            raise NcnnModelError(
                f"{bin_path}: layer {layer.name!r} has type {layer.type!r}, whose weight layout "
                "rifebuild.ncnn_model does not know; add it to WEIGHT_LAYOUTS or WEIGHTLESS")
        return offset
    for count, typed in layout(layer):
        tag = None
        dtype = np.float32
        if typed:
            _need(buf, offset, 4, layer, bin_path)
            tag = struct.unpack_from("<I", buf, offset)[0]
            offset += 4
            if tag not in _DTYPE_OF_TAG:
                raise NcnnModelError(
                    f"{bin_path}: layer {layer.name!r} weight tag 0x{tag:08x} is not fp32/fp16/int8 "
                    "(table-quantized or corrupt .bin)")
            dtype = _DTYPE_OF_TAG[tag]
        nbytes = count * np.dtype(dtype).itemsize
        _need(buf, offset, nbytes, layer, bin_path)
        data = np.frombuffer(buf, dtype=dtype, count=count, offset=offset).copy()
        offset += nbytes + ((-nbytes) % 4)
        layer.weights.append(Weight(data=data, tag=tag))
    return offset


def _need(buf: memoryview, offset: int, nbytes: int, layer: Layer, bin_path: Path) -> None:
    if offset + nbytes > len(buf):
        raise NcnnModelError(
            f"{bin_path}: truncated at layer {layer.name!r} (needs {offset + nbytes} bytes, "
            f"file has {len(buf)}); the .bin does not belong to this .param or is incomplete")


def parse_param(text: str, param_path: Path | str = "<param>") -> list[Layer]:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0].strip() != PARAM_MAGIC:
        raise NcnnModelError(f"{param_path}: not an ncnn .param file (first line must be {PARAM_MAGIC})")
    try:
        layer_count, _blob_count = (int(x) for x in lines[1].split())
    except (IndexError, ValueError):
        raise NcnnModelError(f"{param_path}: line 2 must be '<layer count> <blob count>'") from None
    layers = []
    for lineno, line in enumerate(lines[2:], start=3):
        tok = line.split()
        try:
            nin, nout = int(tok[2]), int(tok[3])
            inputs = tok[4:4 + nin]
            outputs = tok[4 + nin:4 + nin + nout]
            params = {}
            for kv in tok[4 + nin + nout:]:
                key, value = kv.split("=", 1)
                params[int(key)] = value
        except (IndexError, ValueError):
            raise NcnnModelError(f"{param_path}:{lineno}: malformed layer line: {line!r}") from None
        if len(inputs) != nin or len(outputs) != nout:
            raise NcnnModelError(f"{param_path}:{lineno}: layer {tok[1]!r} lists fewer blobs than declared")
        layers.append(Layer(tok[0], tok[1], inputs, outputs, params))
    if len(layers) != layer_count:
        raise NcnnModelError(f"{param_path}: header says {layer_count} layers, file has {len(layers)}")
    return layers


def read(param_path: Path | str, bin_path: Path | str) -> Model:
    param_path, bin_path = Path(param_path), Path(bin_path)
    layers = parse_param(param_path.read_text(), param_path)
    buf = memoryview(bin_path.read_bytes())
    offset = 0
    for layer in layers:
        offset = _read_blobs(buf, offset, layer, bin_path)
    if offset != len(buf):
        raise NcnnModelError(
            f"{bin_path}: {len(buf) - offset} trailing bytes after the last weight; "
            "the .bin does not belong to this .param")
    return Model(layers)


def write(model: Model, param_path: Path | str, bin_path: Path | str) -> None:
    """Write param+bin atomically (each file appears complete or not at all)."""
    atomic_write_bytes(bin_path, model.bin_bytes())
    atomic_write_bytes(param_path, model.param_text().encode())
