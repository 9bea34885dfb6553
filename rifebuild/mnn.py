"""MNN branch: dynamic-shape ONNX -> fp32 / fp16 / weight-int8 / full-int8 .mnn, each verified.

Command line (one sub-command per Snakemake rule, see rules/mnn.smk):
  python -m rifebuild.mnn onnx    --weights W --out M.onnx --check-out C.json --reference R1.npz R2.npz
  python -m rifebuild.mnn convert --onnx M.onnx --variant fp32|fp16|wq8 --out X.mnn [--log L]
  python -m rifebuild.mnn frames  --out DIR [--count 8 --size 256x448 --seed 100]  (synthetic triplets)
  python -m rifebuild.mnn calib   --frames DIR --out DIR --size 256x448 [--max-samples 16]
  python -m rifebuild.mnn quant   --src X.mnn --samples DIR --out Y.mnn --config-out Y.quant.json
                                  [--feature-method EMA] [--weight-method MAX_ABS] [--log L]
  python -m rifebuild.mnn verify  --model X.mnn --reference R1.npz R2.npz --out X.verify.json
                                  [--eval DIR --weights W] [--min-psnr DB]
(R*.npz: results/reference/<H>x<W>.npz, the shared verification inputs + PyTorch outputs.)
  python -m rifebuild.mnn bench   --model X.mnn --out B.json [--size 736x1280 --threads 2 --runs 5]
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rifebuild.atomic import atomic_write_json
from rifebuild.mnn_calib import (FEATURE_METHODS, WEIGHT_METHODS, CalibrationError, quant_config, read_triplets,
                                 write_sequence_samples, write_synthetic_frames)
from rifebuild.mnn_tools import MnnToolError, convert, quantize

# variant name -> converter options (int8 is made by the quantizer from the fp32 model)
CONVERT_OPTIONS = {"fp32": {}, "fp16": {"fp16": True}, "wq8": {"weight_bits": 8}}
VARIANT_FILES = {"fp32": "flownet.mnn", "fp16": "flownet-fp16.mnn", "wq8": "flownet-wq8.mnn",
                 "int8": "flownet-int8.mnn"}


def parse_size(text: str) -> tuple[int, int]:
    """'736x1280' -> (736, 1280): height x width, both multiples of 32."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size {text!r}: write it as HEIGHTxWIDTH, e.g. 256x448") from None
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise argparse.ArgumentTypeError(f"size {text!r}: height and width must be positive multiples of 32")
    return h, w


def build_onnx(weights, out, check_out, references, opset: int = 17, max_abs_err: float = 1e-3) -> None:
    """Export the dynamic-shape ONNX and prove it with onnxruntime on every reference (size)."""
    from rifebuild.mnn_export import check_dynamic_onnx, export_dynamic_onnx, symbolic_dims
    from rifebuild.weights import load_ifnet

    net = load_ifnet(weights)
    export_dynamic_onnx(net, out, opset)
    checks = check_dynamic_onnx(out, references)
    bad = [c for c in checks if c["max_abs_err"] > max_abs_err]
    if bad:
        Path(out).unlink()
        raise RuntimeError(f"{out}: onnxruntime differs from PyTorch at {bad[0]['size']} "
                           f"(max abs error {bad[0]['max_abs_err']:.2e}); the dynamic warp export is wrong")
    atomic_write_json(check_out, {"onnx": Path(out).name, "input_dims": symbolic_dims(out), "checks": checks})


def build_variant(onnx_path, variant: str, out, log=None) -> None:
    if variant not in CONVERT_OPTIONS:
        raise ValueError(f"variant {variant!r} is unknown; use one of {', '.join(CONVERT_OPTIONS)} "
                         "(int8 is made by `quant`)")
    convert(onnx_path, out, log=log, **CONVERT_OPTIONS[variant])


def build_calibration(frames, out, size, max_samples: int, timestep: float = 0.5) -> int:
    samples = read_triplets(frames)[:max_samples]
    return write_sequence_samples(samples, out, size[0], size[1], timestep)


def build_int8(src, samples_dir, out, config_out, feature_method: str, weight_method: str,
               batch_size: int = 8, skip_ops=None, log=None) -> None:
    """Write the quantizer config next to the model, then run MNN's offline quantizer."""
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


def verify(model, references, out, eval_dir=None, weights=None, min_psnr=None, timestep: float = 0.5,
           threads: int = 2) -> dict:
    from rifebuild.mnn_verify import verify_model
    from rifebuild.weights import load_ifnet

    net = load_ifnet(weights) if weights else None
    record = verify_model(model, references, eval_dir, net, timestep, threads)
    record["min_psnr_db"] = min_psnr
    if min_psnr is not None:
        for row in record["resolutions"]:
            psnr = row["vs_torch"]["psnr_db"]
            if psnr is not None and psnr < min_psnr:
                raise RuntimeError(f"{model}: PSNR vs PyTorch {psnr:.2f} dB at {row['size'][0]}x{row['size'][1]} "
                                   f"is below the configured minimum {min_psnr} dB:\n"
                                   + json.dumps(record["resolutions"], indent=1))
    atomic_write_json(out, record)
    return record


def bench(model, out, size, threads: int, runs: int, seed: int = 0) -> dict:
    from rifebuild.mnn_run import latency_ms
    from rifebuild.reference import fixed_inputs

    result = {"model": Path(model).name, "size": list(size), "bytes": Path(model).stat().st_size,
              **latency_ms(model, fixed_inputs(size[0], size[1], seed, 0.5), threads, runs)}
    atomic_write_json(out, result)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m rifebuild.mnn", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("onnx")
    p.add_argument("--weights", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--check-out", required=True)
    p.add_argument("--reference", nargs="+", required=True)
    p.add_argument("--opset", type=int, default=17)
    p.add_argument("--max-abs-err", type=float, default=1e-3)
    p = sub.add_parser("convert")
    p.add_argument("--onnx", required=True)
    p.add_argument("--variant", required=True, choices=sorted(CONVERT_OPTIONS))
    p.add_argument("--out", required=True)
    p.add_argument("--log")
    p = sub.add_parser("frames")
    p.add_argument("--out", required=True)
    p.add_argument("--count", type=int, default=8)
    p.add_argument("--size", type=parse_size, default=(256, 448))
    p.add_argument("--seed", type=int, default=100, help="use another seed for an evaluation set")
    p = sub.add_parser("calib")
    p.add_argument("--frames", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=parse_size, default=(256, 448))
    p.add_argument("--max-samples", type=int, default=16)
    p.add_argument("--timestep", type=float, default=0.5)
    p = sub.add_parser("quant")
    p.add_argument("--src", required=True)
    p.add_argument("--samples", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--config-out", required=True)
    p.add_argument("--feature-method", default="EMA", help="/".join(FEATURE_METHODS))
    p.add_argument("--weight-method", default="MAX_ABS", help="/".join(WEIGHT_METHODS))
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--skip-op", action="append", default=[])
    p.add_argument("--log")
    p = sub.add_parser("verify")
    p.add_argument("--model", required=True)
    p.add_argument("--reference", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--eval")
    p.add_argument("--weights")
    p.add_argument("--min-psnr", type=float)
    p.add_argument("--timestep", type=float, default=0.5)
    p.add_argument("--threads", type=int, default=2)
    p = sub.add_parser("bench")
    p.add_argument("--model", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--size", type=parse_size, default=(736, 1280))
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        if args.command == "onnx":
            build_onnx(args.weights, args.out, args.check_out, args.reference, args.opset, args.max_abs_err)
        elif args.command == "convert":
            build_variant(args.onnx, args.variant, args.out, args.log)
        elif args.command == "frames":
            write_synthetic_frames(args.out, args.count, *args.size, seed=args.seed)
        elif args.command == "calib":
            count = build_calibration(args.frames, args.out, args.size, args.max_samples, args.timestep)
            print(f"wrote {count} calibration samples to {args.out}")
        elif args.command == "quant":
            build_int8(args.src, args.samples, args.out, args.config_out, args.feature_method,
                       args.weight_method, args.batch_size, args.skip_op, args.log)
        elif args.command == "verify":
            record = verify(args.model, args.reference, args.out, args.eval, args.weights, args.min_psnr,
                            args.timestep, args.threads)
            print(json.dumps(record["resolutions"], indent=1))
        elif args.command == "bench":
            print(json.dumps(bench(args.model, args.out, args.size, args.threads, args.runs)))
    except (CalibrationError, MnnToolError, FileNotFoundError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
