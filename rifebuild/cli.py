"""`python -m rifebuild <stage> ...`: the one-line calls the Snakemake rules make.

Each stage is a small function gluing library calls; known failures exit with one readable line.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

from rifebuild.atomic import atomic_path


def _resolution(text: str) -> tuple[int, int]:
    h, w = text.lower().split("x")
    return int(h), int(w)


def cmd_fetch_weights(a: argparse.Namespace) -> None:
    from rifebuild.weights import download

    download(a.url, a.out, sha256=a.sha256 or None, timeout=a.timeout, retries=a.retries)


def cmd_checkpoint(a: argparse.Namespace) -> None:
    """Validate the source checkpoint (strict v4.6 keys) and place it at results/checkpoint/."""
    from rifebuild.weights import load_ifnet, save_state_dict, synthetic_state_dict

    if a.synthetic_seed is not None:
        save_state_dict(synthetic_state_dict(a.synthetic_seed), a.out)
        load_ifnet(a.out)
        return
    load_ifnet(a.source)
    with atomic_path(a.out) as tmp:
        shutil.copyfile(a.source, tmp)


def cmd_reference(a: argparse.Namespace) -> None:
    from rifebuild.reference import write_reference
    from rifebuild.weights import load_ifnet

    h, w = _resolution(a.resolution)
    write_reference(load_ifnet(a.checkpoint), h, w, a.seed, a.timestep, a.out)


def cmd_torchscript(a: argparse.Namespace) -> None:
    from rifebuild.export import export_torchscript
    from rifebuild.weights import load_ifnet

    export_torchscript(load_ifnet(a.checkpoint), a.height, a.width, a.out)


def cmd_onnx(a: argparse.Namespace) -> None:
    from rifebuild.export import export_onnx
    from rifebuild.weights import load_ifnet

    export_onnx(load_ifnet(a.checkpoint), a.height, a.width, a.opset, a.out)


def cmd_verify_onnx(a: argparse.Namespace) -> None:
    from rifebuild import verify

    verify.verify_onnx(a.onnx, a.reference, a.max_abs_err, a.threads, a.out)


def cmd_pnnx(a: argparse.Namespace) -> None:
    from rifebuild.export import convert_with_pnnx

    convert_with_pnnx(a.torchscript, a.height, a.width, a.out_param, a.out_bin, log=a.pnnx_log)


def cmd_warp_rewrite(a: argparse.Namespace) -> None:
    """pnnx model -> resolution-independent rife.Warp model (+ fp16-storage copy)."""
    from rifebuild import ncnn_model, ncnn_passes

    model = ncnn_model.read(a.param, a.bin)
    count = ncnn_passes.rewrite_warp(model)
    if count == 0:
        raise ncnn_passes.WarpPatternError(f"{a.param}: no GridSample warp found; is this a RIFE model?")
    folded = ncnn_passes.fold_channel_scales(model)
    ncnn_model.write(model, a.out_param, a.out_bin)
    print(f"rewrote {count} warps into rife.Warp; folded {folded} channel scales; layers: {model.layer_types()}")
    if a.fp16_param:
        ncnn_passes.to_fp16_storage(model)
        ncnn_model.write(model, a.fp16_param, a.fp16_bin)


def cmd_lower(a: argparse.Namespace) -> None:
    from rifebuild import ncnn_model, ncnn_passes

    h, w = _resolution(a.resolution)
    model = ncnn_model.read(a.param, a.bin)
    ncnn_passes.lower_warp(model, h, w)
    ncnn_model.write(model, a.out_param, a.out_bin)


def cmd_verify_ncnn(a: argparse.Namespace) -> None:
    from rifebuild import verify

    verify.verify_ncnn(a.model_dir, a.reference, a.precision, a.max_abs_err, a.threads, a.out)


def cmd_calibration_data(a: argparse.Namespace) -> None:
    """Calibration/evaluation triplets (builtin, Vimeo-90K or video frames) cached as PNG."""
    from rifebuild.calibdata import write_cache

    manifest = write_cache(a.source, {"calibration": a.calibration_size, "evaluation": a.evaluation_size},
                           _resolution(a.resolution), [_resolution(r) for r in a.eval_resolution], a.seed,
                           a.max_motion, a.out)
    print(f"wrote {manifest['written']}; skipped {manifest['skipped']}")


def cmd_calibrate(a: argparse.Namespace) -> None:
    """fp32 model + calibration split -> flownet.table (ncnn's format) + calibration.json."""
    from rifebuild import calibrate

    calibrate.run(a.param, a.bin, a.data, a.method, a.threads, a.eq_frames, a.eq_steps, a.out_table, a.out_json)


def cmd_sensitivity(a: argparse.Namespace) -> None:
    """Per-layer int8 sensitivity table (one layer int8 at a time, PSNR vs fp32)."""
    from rifebuild import int8

    int8.run_sensitivity(a.param, a.bin, a.table, a.data, a.frames, a.keep_float, a.threads, a.out)


def cmd_quantize(a: argparse.Namespace) -> None:
    """fp32 rife.Warp model + table -> int8 model (mixed precision from config and sensitivity)."""
    from rifebuild import int8

    int8.build(a.param, a.bin, a.table, a.float_layers, a.sensitivity, a.keep_float, not a.no_requantize,
               a.out_param, a.out_bin, a.out_json)


def cmd_verify_int8(a: argparse.Namespace) -> None:
    from rifebuild import verify

    verify.verify_int8(a.model_dir, a.fp32_dir, a.checkpoint, a.data, a.threads, a.min_psnr, a.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m rifebuild", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name, func, *args):
        p = sub.add_parser(name, help=func.__doc__)
        for flags, kwargs in args:
            p.add_argument(*flags, **kwargs)
        p.set_defaults(func=func)

    req = {"required": True}
    add("fetch-weights", cmd_fetch_weights, (["--url"], req), (["--out"], req),
        (["--sha256"], {"default": ""}), (["--timeout"], {"type": float, "default": 60.0}),
        (["--retries"], {"type": int, "default": 3}))
    add("checkpoint", cmd_checkpoint, (["--source"], {}), (["--synthetic-seed"], {"type": int}),
        (["--out"], req))
    add("reference", cmd_reference, (["--checkpoint"], req), (["--resolution"], req),
        (["--seed"], {"type": int, "default": 0}), (["--timestep"], {"type": float, "default": 0.5}),
        (["--out"], req))
    dims = ((["--height"], {"type": int, **req}), (["--width"], {"type": int, **req}))
    add("torchscript", cmd_torchscript, (["--checkpoint"], req), *dims, (["--out"], req))
    add("onnx", cmd_onnx, (["--checkpoint"], req), *dims, (["--opset"], {"type": int, "default": 17}),
        (["--out"], req))
    add("verify-onnx", cmd_verify_onnx, (["--onnx"], req), (["--reference"], req),
        (["--max-abs-err"], {"type": float, **req}), (["--threads"], {"type": int, "default": 2}),
        (["--out"], req))
    add("pnnx", cmd_pnnx, (["--torchscript"], req), *dims, (["--out-param"], req), (["--out-bin"], req),
        (["--pnnx-log"], {}))
    add("warp-rewrite", cmd_warp_rewrite, (["--param"], req), (["--bin"], req), (["--out-param"], req),
        (["--out-bin"], req), (["--fp16-param"], {}), (["--fp16-bin"], {}))
    add("lower", cmd_lower, (["--param"], req), (["--bin"], req), (["--resolution"], req),
        (["--out-param"], req), (["--out-bin"], req))
    add("verify-ncnn", cmd_verify_ncnn, (["--model-dir"], req), (["--reference"], {"nargs": "+", **req}),
        (["--precision"], {"choices": ["fp32", "fp16"], **req}),
        (["--max-abs-err"], {"type": float, **req}), (["--threads"], {"type": int, "default": 2}),
        (["--out"], req))
    add("calibration-data", cmd_calibration_data, (["--source"], req), (["--resolution"], req),
        (["--eval-resolution"], {"nargs": "*", "default": []}),
        (["--calibration-size"], {"type": int, **req}), (["--evaluation-size"], {"type": int, **req}),
        (["--seed"], {"type": int, "default": 0}), (["--max-motion"], {"type": float, "default": 12.0}),
        (["--out"], req))
    model_in = ((["--param"], req), (["--bin"], req))
    threads = (["--threads"], {"type": int, "default": 2})
    add("calibrate", cmd_calibrate, *model_in, (["--data"], req), (["--method"], req), threads,
        (["--eq-frames"], {"type": int, "default": 4}), (["--eq-steps"], {"type": int, "default": 32}),
        (["--out-table"], req), (["--out-json"], req))
    add("sensitivity", cmd_sensitivity, *model_in, (["--table"], req), (["--data"], req),
        (["--frames"], {"type": int, "default": 4}), (["--keep-float"], {"type": int, "default": 0}), threads,
        (["--out"], req))
    add("quantize", cmd_quantize, *model_in, (["--table"], req), (["--float-layers"], {"nargs": "*", "default": []}),
        (["--sensitivity"], {}), (["--keep-float"], {"type": int, "default": 0}),
        (["--no-requantize"], {"action": "store_true"}), (["--out-param"], req), (["--out-bin"], req),
        (["--out-json"], req))
    add("verify-int8", cmd_verify_int8, (["--model-dir"], req), (["--fp32-dir"], req), (["--checkpoint"], req),
        (["--data"], req), threads, (["--min-psnr"], {"type": float, **req}), (["--out"], req))
    return parser


def user_errors() -> tuple[type[Exception], ...]:
    from rifebuild.calibdata import CalibrationDataError
    from rifebuild.calibrate import CalibrationError
    from rifebuild.config import ConfigError
    from rifebuild.int8 import Int8Error
    from rifebuild.quant import TableError
    from rifebuild.export import ExportError
    from rifebuild.ncnn_model import NcnnModelError
    from rifebuild.ncnn_passes import WarpPatternError
    from rifebuild.verify import VerificationError
    from rifebuild.weights import CheckpointError, DownloadError

    return (ConfigError, ExportError, NcnnModelError, WarpPatternError, VerificationError,
            CheckpointError, DownloadError, FileNotFoundError, CalibrationDataError, CalibrationError,
            Int8Error, TableError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except user_errors() as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
