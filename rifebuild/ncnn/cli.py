"""ncnn models: pnnx conversion, the rife.Warp rewrite (+ fp16 storage), stock GridSample lowering."""
from __future__ import annotations

from rifebuild.core.args import PATH, action, resolution

MODEL_IN = ((["--param"], PATH), (["--bin"], PATH))
MODEL_OUT = ((["--out-param"], PATH), (["--out-bin"], PATH))


def pnnx(a) -> None:
    """TorchScript -> ncnn param/bin with pnnx (GridSample warps at the export resolution)."""
    from rifebuild.ncnn.pnnx import convert_with_pnnx

    convert_with_pnnx(a.torchscript, a.height, a.width, a.out_param, a.out_bin, log=a.pnnx_log)


def warp_rewrite(a) -> None:
    """pnnx model -> resolution-independent rife.Warp model (+ an fp16-storage copy)."""
    from rifebuild.core.errors import WarpPatternError
    from rifebuild.ncnn import graph, passes

    model = graph.read(a.param, a.bin)
    count = passes.rewrite_warp(model)
    if count == 0:
        raise WarpPatternError(f"{a.param}: no GridSample warp found; is this a RIFE model?")
    folded = passes.fold_channel_scales(model)
    graph.write(model, a.out_param, a.out_bin)
    print(f"rewrote {count} warps into rife.Warp; folded {folded} channel scales; layers: {model.layer_types()}")
    passes.to_fp16_storage(model)
    graph.write(model, a.fp16_param, a.fp16_bin)


def lower(a) -> None:
    """rife.Warp model -> stock-ncnn GridSample model fixed to one resolution."""
    from rifebuild.ncnn import graph, passes

    h, w = a.resolution
    model = graph.read(a.param, a.bin)
    passes.lower_warp(model, h, w)
    graph.write(model, a.out_param, a.out_bin)


def register(actions) -> None:
    action(actions, "pnnx", pnnx, (["--torchscript"], PATH), (["--height"], {"type": int, "required": True}),
           (["--width"], {"type": int, "required": True}), *MODEL_OUT, (["--pnnx-log"], PATH))
    action(actions, "warp-rewrite", warp_rewrite, *MODEL_IN, *MODEL_OUT, (["--fp16-param"], PATH),
           (["--fp16-bin"], PATH))
    action(actions, "lower", lower, *MODEL_IN, (["--resolution"], {"type": resolution, "required": True}),
           *MODEL_OUT)
