"""ncnn models: pnnx conversion, the rife.Warp rewrite (+ fp16 storage), stock GridSample lowering."""
from __future__ import annotations

from rifebuild.core.args import PATH, action, model, resolution

MODEL_IN = ((["--param"], {**PATH, "help": "input model .param"}), (["--bin"], {**PATH, "help": "input model .bin"}))
MODEL_OUT = ((["--out-param"], {**PATH, "help": "the .param to write"}),
             (["--out-bin"], {**PATH, "help": "the .bin to write"}))


def pnnx(a) -> None:
    """TorchScript -> ncnn param/bin with pnnx (GridSample warps at the export resolution)."""
    from rifebuild.ncnn.pnnx import convert_with_pnnx

    convert_with_pnnx(a.torchscript, a.height, a.width, a.out_param, a.out_bin, log=a.pnnx_log)


def warp_rewrite(a) -> None:
    """pnnx model -> resolution-independent rife.Warp drop-in model (+ an fp16-storage copy)."""
    from rifebuild.model import spec
    from rifebuild.ncnn import graph, passes

    version = spec.get(a.model)
    model = graph.read(a.param, a.bin)
    done = passes.make_dropin(model, str(a.param), blocks=len(version.arch.widths), padding=version.arch.padding,
                              ensemble=version.ensemble)
    graph.write(model, a.out_param, a.out_bin)
    print(f"rewrote {done['warps']} warps into rife.Warp; folded {done['folded']} channel scales; named "
          f"{', '.join(done['flow_blobs']) or 'no flow blobs (ensemble)'}; pads inside to a multiple of "
          f"{done['padding']}; layers: {model.layer_types()}")
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
    action(actions, "pnnx", pnnx,
           (["--torchscript"], {**PATH, "help": "TorchScript of the export form (`export torchscript`)"}),
           (["--height"], {"help": "export height the TorchScript was traced at", "type": int, "required": True}),
           (["--width"], {"help": "export width the TorchScript was traced at", "type": int, "required": True}),
           *MODEL_OUT, (["--pnnx-log"], {**PATH, "help": "where pnnx's own output goes"}))
    action(actions, "warp-rewrite", warp_rewrite, model(),
           *MODEL_IN, *MODEL_OUT, (["--fp16-param"], {**PATH, "help": ".param of the fp16-storage copy"}),
           (["--fp16-bin"], {**PATH, "help": ".bin of the fp16-storage copy"}))
    action(actions, "lower", lower, *MODEL_IN,
           (["--resolution"], {"type": resolution, "required": True,
                               "help": "HxW the stock GridSample model is fixed to"}),
           *MODEL_OUT)
