"""Graph passes over ncnn models (all through rifebuild.ncnn_model).

- rewrite_warp: every pnnx GridSample warp subgraph (flow slice, pixel->normalised division, base
  grid MemoryData, grid add, GridSample) becomes one `rife.Warp` layer (image of any channel count:
  frames, or encoder features in 4.7+; 2-channel pixel flow), so the model no longer depends on the
  export resolution. Parts pnnx shares between warps at the same flow (through Splits) are followed.
- lower_warp: the reverse, for stock ncnn: rife.Warp -> GridSample subgraph for one chosen resolution.
- fold_channel_scales: Convolution (or grouped ConvolutionDepthWise) -> BinaryOp mul by a per-channel
  MemoryData (ResConv's beta, which pnnx keeps unless it is all ones) folds into the weights and bias.
- to_fp16_storage: typed fp32 weights -> fp16 storage (what ncnn's fp16 models carry).
- remove_dead_layers: drop layers (and their weights) whose outputs nobody reads; keep Splits tidy.
- name_flow_blobs: the IFBlocks' PixelShuffle outputs become `flow0`..`flow3` (4 blocks; `flow4` too in
  the 5-block 4.25/4.26), the blobs that rife-ncnn-vulkan's TTA modes (-x, -z) extract, average and feed
  back with ex.input. No pass renames a blob, so the names survive every later pass (fp16, int8, stock).
- pad_inside: the model pads in0/in1/in2 itself (zeros; the timestep map by replication) up to the
  version's multiple and crops out0 back to in0's size, so it takes frames of any size, whatever
  multiple a client pads them to (clients hard-code it by folder name and disagree).
- make_dropin: the pnnx model -> the drop-in rife.Warp model (the passes above, in the rule's order).
"""
from __future__ import annotations

import math

import numpy as np

from rifebuild.core.errors import FlowBlobError, WarpPatternError
from rifebuild.ncnn.graph import TAG_FP16, TAG_FP32, TAG_FP32_ALT, Layer, Model, Weight

WARP_TYPE = "rife.Warp"
BINARY_ADD, BINARY_MUL, BINARY_DIV = 0, 2, 3
# rife-ncnn-vulkan's v4 TTA extracts these (each IFBlock's flow(4) + mask(1) + 1 spare channel, at
# 1/scale of the frame; 4.21+ add block features) and feeds them back with ex.input; its reference v4.6
# model names them so. A 5-block version (4.25/4.26) has flow0..flow4.
FLOW_BLOBS = ("flow0", "flow1", "flow2", "flow3")


def flow_blobs(blocks: int) -> list[str]:
    return [f"flow{i}" for i in range(blocks)]



def model_outputs(model: Model) -> list[str]:
    """Blobs produced but never consumed: the model's outputs (e.g. out0)."""
    used = {blob for layer in model.layers for blob in layer.inputs}
    return [blob for layer in model.layers for blob in layer.outputs if blob not in used]


def _through_splits(blob: str, producer: dict[str, Layer]) -> tuple[str, Layer | None]:
    """Follow Split layers upstream: the blob that was split, and the layer that made it."""
    layer = producer.get(blob)
    while layer is not None and layer.type == "Split":
        blob = layer.inputs[0]
        layer = producer.get(blob)
    return blob, layer


def _scalar_op(layer: Layer | None) -> tuple[int, float] | None:
    """(op, constant) for a BinaryOp with a scalar right operand, else None."""
    if layer is None or layer.type != "BinaryOp" or len(layer.inputs) != 1 or layer.get(1, 0) != 1:
        return None
    return layer.get(0, 0), float(layer.get(2, 0.0))


def _pixel_to_norm_factor(op_const: tuple[int, float] | None) -> float | None:
    """Multiplier that the op applies (x / c or x * c); None if neither."""
    if op_const is None:
        return None
    op, const = op_const
    if op == BINARY_DIV and const != 0:
        return 1.0 / const
    if op == BINARY_MUL:
        return const
    return None


def _match_warp(grid_sample: Layer, producer: dict[str, Layer]) -> str:
    """Return the 2-channel pixel-flow blob feeding this GridSample's grid, or raise."""
    where = f"GridSample {grid_sample.name!r}"
    expected = {0: 1, 1: 2, 2: 1, 3: 1}  # bilinear, border, align_corners, grid in [2,H,W]
    for key, value in expected.items():
        if grid_sample.get(key, 0) != value:
            raise WarpPatternError(f"{where}: param {key}={grid_sample.get(key, 0)}, expected {value}")
    _, add = _through_splits(grid_sample.inputs[1], producer)  # one grid may serve several warps
    if add is None or add.type != "BinaryOp" or add.get(0, 0) != BINARY_ADD or len(add.inputs) != 2:
        raise WarpPatternError(f"{where}: grid is not base_grid + normalised_flow")
    base = concat = None
    for blob in add.inputs:
        # pnnx shares the normalised flow (and the base grid) between the frame's warp and the warp of
        # its encoder features at the same flow (4.7+), through a Split
        _, origin = _through_splits(blob, producer)
        if origin is not None and origin.type == "MemoryData":
            base = origin
        elif origin is not None and origin.type == "Concat":
            concat = origin
    if base is None or concat is None or len(concat.inputs) != 2 or concat.get(0, 0) != 0:
        raise WarpPatternError(f"{where}: grid add does not combine a MemoryData grid and a channel concat")
    width, height, channels = base.get(0, 0), base.get(1, 0), base.get(2, 0)
    if channels != 2:
        raise WarpPatternError(f"{where}: base grid {base.name!r} has {channels} channels, expected 2")
    scales = [_pixel_to_norm_factor(_scalar_op(producer.get(b))) for b in concat.inputs]
    want = [2.0 / (width - 1), 2.0 / (height - 1)]
    if any(s is None or not math.isclose(s, w, rel_tol=1e-5) for s, w in zip(scales, want)):
        raise WarpPatternError(f"{where}: flow scaling {scales} does not match a {height}x{width} grid")
    slice_inputs = [producer[b].inputs[0] for b in concat.inputs]
    slicer = producer.get(slice_inputs[0])
    if (slicer is None or slicer.type != "Slice" or slicer.outputs != slice_inputs
            or slicer.get(1, 0) != 0):
        raise WarpPatternError(f"{where}: x/y flow components do not come from one channel Slice")
    return slicer.inputs[0]


def rewrite_warp(model: Model) -> int:
    """Replace every GridSample warp subgraph with rife.Warp. Returns the number replaced."""
    outputs = model_outputs(model)
    producer = model.producer()
    count = 0
    for index, layer in enumerate(model.layers):
        if layer.type != "GridSample":
            continue
        flow = _match_warp(layer, producer)
        model.layers[index] = Layer(WARP_TYPE, f"warp_{count}", [layer.inputs[0], flow], list(layer.outputs))
        count += 1
    remove_dead_layers(model, outputs)
    split_shared_blobs(model)
    return count


def split_shared_blobs(model: Model) -> int:
    """Give every blob one reader, as ncnn requires (a second reader of a released blob fails in light
    mode): a blob read by several layers gets a Split, or more outputs on the Split that made it.

    Needed after the warp rewrite when one flow slice served a frame warp and a feature warp (4.7+):
    both rife.Warp layers then read the flow blob. Returns the number of blobs split.
    """
    readers: dict[str, list[tuple[Layer, int]]] = {}
    for layer in model.layers:
        for slot, blob in enumerate(layer.inputs):
            readers.setdefault(blob, []).append((layer, slot))
    producer = model.producer()
    shared = [blob for blob, uses in readers.items() if len(uses) > 1]
    for blob in shared:
        uses = readers[blob]
        maker = producer[blob]
        if maker.type == "Split":
            names = [blob] + [f"{blob}_{k}" for k in range(1, len(uses))]
            at = maker.outputs.index(blob)
            maker.outputs[at:at + 1] = names
        else:
            names = [f"{blob}_split_{k}" for k in range(len(uses))]
            split = Layer("Split", f"{blob}_split", [blob], names)
            model.layers.insert(model.layers.index(maker) + 1, split)
        for (layer, slot), name in zip(uses, names):
            layer.inputs[slot] = name
    return len(shared)


def fold_channel_scales(model: Model) -> int:
    """Fold `conv(x) * beta` (beta a [C,1,1] MemoryData) into the conv. Returns the number folded.

    A beta read through a Split (an ensemble graph runs each block twice with one set of weights: two
    convs, one beta) folds into every conv it scales; the MemoryData goes once nothing reads it."""
    outputs = model_outputs(model)
    producer, consumers = model.producer(), model.consumers()
    folded = 0
    for mul in [l for l in model.layers if l.type == "BinaryOp" and l.get(0, 0) == BINARY_MUL]:
        if len(mul.inputs) != 2 or mul.get(1, 0) != 0:
            continue
        made = [producer.get(b) for b in mul.inputs]
        # grouped convolutions (4.14-lite) are ConvolutionDepthWise; weights are per output channel alike
        conv = next((l for l in made if l is not None and l.type in ("Convolution", "ConvolutionDepthWise")), None)
        scale = next((_through_splits(b, producer)[1] for b, l in zip(mul.inputs, made) if l is not conv), None)
        if conv is None or scale is None or scale.type != "MemoryData":
            continue
        channels = conv.get(0, 0)
        if ((scale.get(0, 0), scale.get(1, 0), scale.get(2, 0)) != (1, 1, channels)
                or len(consumers[conv.outputs[0]]) != 1
                or conv.get(9, 0) != 0 or conv.get(8, 0) != 0 or conv.weights[0].tag not in (TAG_FP32, TAG_FP32_ALT)):
            continue
        beta = scale.weights[0].data.astype(np.float32)
        weight = conv.weights[0]
        weight.data = (weight.data.reshape(channels, -1) * beta[:, None]).ravel().astype(np.float32)
        if conv.get(5, 0):
            conv.weights[1].data = (conv.weights[1].data * beta).astype(np.float32)
        conv.outputs = list(mul.outputs)
        model.layers = [l for l in model.layers if l is not mul]
        folded += 1
    remove_dead_layers(model, outputs)
    return folded


def rename_blob(model: Model, old: str, new: str) -> None:
    """Rename one blob everywhere it is produced or read."""
    for layer in model.layers:
        layer.inputs = [new if b == old else b for b in layer.inputs]
        layer.outputs = [new if b == old else b for b in layer.outputs]


def ifblock_heads(model: Model) -> list[Layer]:
    """The IFBlocks' heads, in graph order: the PixelShuffle(2) after each block's Deconvolution (4.5+); in
    4.0-4.4, whose blocks end in a ConvTranspose to flow + mask with no PixelShuffle and which have no
    encoder, the Deconvolutions themselves."""
    if not any(layer.type == "PixelShuffle" for layer in model.layers):
        return [layer for layer in model.layers if layer.type == "Deconvolution"]
    producer = model.producer()
    heads = []
    for layer in model.layers:
        if layer.type != "PixelShuffle":
            continue
        deconv = producer.get(layer.inputs[0])
        if layer.get(0, 1) != 2 or deconv is None or deconv.type != "Deconvolution":
            raise FlowBlobError(f"PixelShuffle {layer.name!r} is not an IFBlock head (2x PixelShuffle of a "
                                "Deconvolution); is this a RIFE v4 model?")
        heads.append(layer)
    return heads


def name_flow_blobs(model: Model, blocks: int = 4) -> list[str]:
    """Name the IFBlock heads' outputs flow0..flow{blocks-1} (rife-ncnn-vulkan's TTA blobs). Idempotent.
    `blocks` is the version's IFBlock count (rifebuild.model.spec): a different count of heads means the
    graph is not the version the user named."""
    heads, names = ifblock_heads(model), flow_blobs(blocks)
    if len(heads) != blocks:
        raise FlowBlobError(f"the model has {len(heads)} IFBlock heads (PixelShuffle), this RIFE version has "
                            f"{blocks}; is the model the version you named?")
    head_blobs = {head.outputs[0] for head in heads}
    clash = sorted({b for l in model.layers for b in l.outputs if b in names} - head_blobs)
    if clash:
        raise FlowBlobError(f"blob names {clash} are taken by other layers; they are reserved for the IFBlock heads")
    for head, name in zip(heads, names):
        rename_blob(model, head.outputs[0], name)
    return names


MODEL_INPUTS = ("in0", "in1", "in2")  # frame 0, frame 1, timestep map: rife-ncnn-vulkan's v4 interface
TIMESTEP = "in2"
PADDING_ZERO, PADDING_REPLICATE = 0, 1  # ncnn Padding type
INTERP_NEAREST = 1  # ncnn Interp resize_type
PADDED_OUTPUT = "out0_padded"


def pad_inside(model: Model, multiple: int) -> bool:
    """Make the model pad its inputs to `multiple` itself and crop out0 back to in0's size.

    Clients pad frames to a multiple they pick from the folder name (rife-ncnn-vulkan: 32 for every v4
    model; TNTwise's: 64 for rife-v4.25*/4.26*), which is too little for 4.25/4.26 (64) and 4.25-lite
    (128). A fixed Padding cannot reach the next multiple of an unknown size, so per input X, with only
    layers rife-ncnn-vulkan's ncnn builds (and our slim libncnn: no Pooling, no MemoryData):

        P = Padding(X, bottom = right = multiple - 1)      zeros: what the clients and PyTorch pad with;
                                                           the timestep map replicates its edge (t)
        G = Interp(Interp(P, nearest, scale 1/m), nearest, scale m)
                                                           ncnn's size is (int)(size * scale), exact for
                                                           a power-of-two m: floor((h+m-1)/m) = ceil(h/m),
                                                           then ceil(h/m) * m
        X' = Crop(P, G)                                    two-input Crop: P's top-left at G's w, h, c

    and out0 = Crop(out0_padded, in0). At a size that already is a multiple, X' equals X. Returns False
    when the model already pads inside (the pass is idempotent).
    """
    if any(layer.outputs == [PADDED_OUTPUT] for layer in model.layers):
        return False
    if multiple < 1 or multiple & (multiple - 1):
        raise WarpPatternError(f"padding multiple {multiple} is not a power of two")
    inputs = [layer for layer in model.layers if layer.type == "Input"]
    if sorted(b for layer in inputs for b in layer.outputs) != sorted(MODEL_INPUTS):
        raise WarpPatternError(f"inputs are {[b for l in inputs for b in l.outputs]}, expected in0, in1, in2")
    outputs = model_outputs(model)
    if outputs != ["out0"]:
        raise WarpPatternError(f"outputs are {outputs}, expected out0")
    for blob in MODEL_INPUTS:
        fitted = f"{blob}_fit"
        for layer in model.layers:
            layer.inputs = [fitted if b == blob else b for b in layer.inputs]
        kind = PADDING_REPLICATE if blob == TIMESTEP else PADDING_ZERO
        chain = [
            Layer("Padding", f"{blob}_pad", [blob], [f"{blob}_pad"],
                  {1: str(multiple - 1), 3: str(multiple - 1), 4: str(kind)}),
            Layer("Interp", f"{blob}_cells", [f"{blob}_pad"], [f"{blob}_cells"],
                  {0: str(INTERP_NEAREST), 1: repr(1.0 / multiple), 2: repr(1.0 / multiple)}),
            Layer("Interp", f"{blob}_grid", [f"{blob}_cells"], [f"{blob}_grid"],
                  {0: str(INTERP_NEAREST), 1: repr(float(multiple)), 2: repr(float(multiple))}),
            Layer("Crop", f"{blob}_fit", [f"{blob}_pad", f"{blob}_grid"], [fitted]),
        ]
        at = next(i for i, layer in enumerate(model.layers) if layer.type == "Input" and layer.outputs == [blob])
        model.layers[at + 1:at + 1] = chain  # before the input's first reader (pnnx puts its Split right after)
    rename_blob(model, "out0", PADDED_OUTPUT)
    model.layers.append(Layer("Crop", "out0_crop", [PADDED_OUTPUT, "in0"], ["out0"]))
    split_shared_blobs(model)  # in0 and each padded input now have two readers
    return True


def make_dropin(model: Model, where: str, blocks: int, *, padding: int, ensemble: bool = False) -> dict:
    """pnnx model -> rife-ncnn-vulkan drop-in: rife.Warp, ResConv betas folded, flow0.. named, padding
    to the version's multiple inside.

    `where` (the source file) starts every error message; `blocks`: the version's IFBlock count;
    `padding`: its padding multiple (rifebuild.model.spec; no default: a wrong one is the bug this fixes).
    ensemble: the graph runs every block twice (on the pair and on the swapped pair) and averages the two
    flows after upsampling, so no blob is a block's flow in the layout the client's TTA feeds back: its
    2 x `blocks` heads are counted, not named (the client's TTA averages the swapped pair itself anyway).
    """
    try:
        count = rewrite_warp(model)
        if count == 0:
            raise WarpPatternError("no GridSample warp found; is this a RIFE model?")
        folded = fold_channel_scales(model)
        if ensemble:
            heads = len(ifblock_heads(model))
            if heads != 2 * blocks:
                raise FlowBlobError(f"the model has {heads} IFBlock heads, an ensemble of this RIFE version has "
                                    f"{2 * blocks}; is the model the version you named?")
            names = []
        else:
            names = name_flow_blobs(model, blocks)
        pad_inside(model, padding)
    except (WarpPatternError, FlowBlobError) as exc:
        raise type(exc)(f"{where}: {exc}") from None
    return {"warps": count, "folded": folded, "flow_blobs": names, "padding": padding}


def remove_dead_layers(model: Model, outputs: list[str]) -> None:
    """Drop layers whose outputs are unused (weights go with them); trim and bypass Splits.

    `outputs` are the model's real outputs, taken before the edit that left blobs dangling.
    """
    keep = set(outputs)
    changed = True
    while changed:
        changed = False
        used = {blob for layer in model.layers for blob in layer.inputs} | keep
        survivors = []
        for layer in model.layers:
            live = [b for b in layer.outputs if b in used]
            if layer.type == "Split" and live and len(live) != len(layer.outputs):
                layer.outputs = live
                changed = True
            if live or layer.type == "Input":
                survivors.append(layer)
            else:
                changed = True
        model.layers = survivors
    _bypass_single_splits(model)


def _bypass_single_splits(model: Model) -> None:
    for split in [layer for layer in model.layers if layer.type == "Split" and len(layer.outputs) == 1]:
        source, alias = split.inputs[0], split.outputs[0]
        for layer in model.layers:
            layer.inputs = [source if b == alias else b for b in layer.inputs]
        model.layers.remove(split)


def base_grid(height: int, width: int) -> np.ndarray:
    """[2,H,W] grid of normalised coordinates (x then y), as grid_sample with align_corners=True wants."""
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)
    grid = np.empty((2, height, width), np.float32)
    grid[0] = xs[None, :]
    grid[1] = ys[:, None]
    return grid


def lower_warp(model: Model, height: int, width: int) -> int:
    """Replace every rife.Warp with a stock GridSample subgraph fixed to height x width."""
    warps = [layer for layer in model.layers if layer.type == WARP_TYPE]
    if not warps:
        return 0
    base_blobs = [f"warp_base_grid_{i}" for i in range(len(warps))]
    base = Layer("MemoryData", "warp_base_grid", [], ["warp_base_grid"] if len(warps) > 1 else base_blobs[:1],
                 {0: str(width), 1: str(height), 2: "2"}, [Weight(base_grid(height, width).ravel())])
    prelude = [base]
    if len(warps) > 1:
        prelude.append(Layer("Split", "warp_base_grid_split", ["warp_base_grid"], base_blobs))
    lowered: list[Layer] = []
    for layer in model.layers:
        if layer.type != WARP_TYPE:
            lowered.append(layer)
            continue
        if prelude:
            lowered += prelude
            prelude = []
        i = warps.index(layer)
        image, flow = layer.inputs
        n = f"{layer.name}_"
        lowered += [
            Layer("Slice", n + "xy", [flow], [n + "fx", n + "fy"], {-23300: "2,1,-233", 1: "0"}),
            Layer("BinaryOp", n + "nx", [n + "fx"], [n + "gx"],
                  {0: str(BINARY_DIV), 1: "1", 2: repr((width - 1) / 2.0)}),
            Layer("BinaryOp", n + "ny", [n + "fy"], [n + "gy"],
                  {0: str(BINARY_DIV), 1: "1", 2: repr((height - 1) / 2.0)}),
            Layer("Concat", n + "cat", [n + "gx", n + "gy"], [n + "gxy"], {0: "0"}),
            Layer("BinaryOp", n + "grid", [base_blobs[i], n + "gxy"], [n + "grid"], {0: str(BINARY_ADD)}),
            Layer("GridSample", n + "sample", [image, n + "grid"], list(layer.outputs),
                  {0: "1", 1: "2", 2: "1", 3: "1"}),
        ]
    model.layers = lowered
    return len(warps)


def to_fp16_storage(model: Model) -> int:
    """Store every typed fp32 weight as fp16 (ncnn converts back at load). Returns blobs changed."""
    changed = 0
    for layer in model.layers:
        for weight in layer.weights:
            if weight.tag in (TAG_FP32, TAG_FP32_ALT):
                weight.data = weight.data.astype(np.float16)
                weight.tag = TAG_FP16
                changed += 1
    return changed
