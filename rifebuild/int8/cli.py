"""int8: calibration table (ncnn's format), per-layer sensitivity, the int8 model."""
from __future__ import annotations

import argparse
from pathlib import Path

from rifebuild.core import threads
from rifebuild.core.args import PATH, action, out

MODEL_IN = ((["--param"], {**PATH, "help": "fp32 rife.Warp model .param"}),
            (["--bin"], {**PATH, "help": "fp32 rife.Warp model .bin"}))
# The workflow always passes it: activations from the reference build are the same bits on any x86-64
# machine, so the table and the int8 model are too (without it: the ncnn Python package, whose last bits
# follow this CPU's SIMD path).
REFERENCE_BENCH = (["--reference-bench"], {"type": Path, "default": None,
                                           "help": "rife-bench of the reference build (native target 'reference')"})


def calibrate(a) -> None:
    """fp32 model + calibration split -> flownet.table (ncnn's format) + calibration.json."""
    from rifebuild.int8 import calibrate as calibration

    calibration.run(a.param, a.bin, a.data, a.method, threads.count(), a.eq_frames, a.eq_steps, a.out_table,
                    a.out_json, a.reference_bench)


def sensitivity(a) -> None:
    """Per-layer int8 sensitivity table (one layer int8 at a time, PSNR vs fp32)."""
    from rifebuild.int8.quantize import run_sensitivity

    run_sensitivity(a.param, a.bin, a.table, a.data, a.frames, a.keep_float, threads.count(), a.out,
                    a.reference_bench)


def quantize(a) -> None:
    """fp32 rife.Warp model + table -> int8 model (mixed precision from config and sensitivity)."""
    from rifebuild.int8.quantize import build

    build(a.param, a.bin, a.table, a.float_layers, a.sensitivity, a.keep_float, a.requantize,
          a.out_param, a.out_bin, a.out_json)


def register(actions) -> None:
    action(actions, "calibrate", calibrate, *MODEL_IN,
           (["--data"], {**PATH, "help": "calibration cache folder (`calibration data`)"}),
           (["--method"], {"choices": ["kl", "aciq", "eq"], "required": True,
                           "help": "threshold search: kl, aciq, or eq (KL refined per layer)"}),
           (["--eq-frames"], {"help": "eq: frames of the per-layer search", "type": int, "default": 4}),
           (["--eq-steps"], {"help": "eq: candidate scales per layer", "type": int, "default": 32}),
           (["--out-table"], {**PATH, "help": "calibration table to write (ncnn's format)"}),
           (["--out-json"], {**PATH, "help": "JSON record to write"}),
           REFERENCE_BENCH)
    action(actions, "sensitivity", sensitivity, *MODEL_IN,
           (["--table"], {**PATH, "help": "calibration table (`int8 calibrate`)"}),
           (["--data"], {**PATH, "help": "calibration cache folder (`calibration data`)"}),
           (["--frames"], {"help": "calibration frames the sensitivity is measured on", "type": int, "default": 4}),
           (["--keep-float"], {"help": "keep the N most sensitive Convolutions float", "type": int, "default": 0}),
           REFERENCE_BENCH,
           out())
    action(actions, "quantize", quantize, *MODEL_IN,
           (["--table"], {**PATH, "help": "calibration table (`int8 calibrate`)"}),
           (["--float-layers"], {"help": "Convolution names kept float", "nargs": "*", "default": []}),
           (["--sensitivity"], {"help": "sensitivity.tsv (needed when --keep-float > 0)"}),
           (["--keep-float"], {"help": "keep the N most sensitive Convolutions float", "type": int, "default": 0}),
           (["--requantize"], {"action": argparse.BooleanOptionalAction, "default": True,
                               "help": "fuse requantize where an int8 conv feeds only int8 convs"}),
           (["--out-param"], {**PATH, "help": "int8 .param to write"}),
           (["--out-bin"], {**PATH, "help": "int8 .bin to write"}),
           (["--out-json"], {**PATH, "help": "JSON record to write"}))
