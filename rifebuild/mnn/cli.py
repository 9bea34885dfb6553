"""MNN branch: the any-size ONNX -> fp32/fp16/wq8 conversion, quantizer samples, int8 (timed by `rifebuild bench`)."""
from __future__ import annotations

from rifebuild.core.args import PATH, action, out, resolution


def convert(a) -> None:
    """ONNX -> .mnn with MNN's converter (fp32, fp16 weights or int8 weights)."""
    from rifebuild.mnn.build import build_variant

    build_variant(a.onnx, a.variant, a.out, a.tool_log)


def samples(a) -> None:
    """Calibration triplets -> the quantizer's multi-input sample folders."""
    from rifebuild.mnn.build import build_calibration

    count = build_calibration(a.frames, a.out, a.resolution, a.max_samples, a.timestep)
    print(f"wrote {count} calibration samples to {a.out}")


def quantize(a) -> None:
    """fp32 .mnn + samples -> full int8 .mnn with MNN's offline quantizer."""
    from rifebuild.mnn.build import build_int8

    build_int8(a.src, a.samples, a.out, a.config_out, a.feature_method, a.weight_method, a.batch_size,
               a.skip_op, a.tool_log)


def register(actions) -> None:
    action(actions, "convert", convert, (["--onnx"], {**PATH, "help": "the any-size ONNX (results/export/<model>/flownet.onnx)"}),
           (["--variant"], {"choices": ["fp32", "fp16", "wq8"], "required": True,
                            "help": "fp32, fp16 weights or int8 weights only (wq8)"}),
           out(), (["--tool-log"], {"help": "where the MNN tool's own output goes", "default": None}))
    action(actions, "samples", samples, (["--frames"], {**PATH, "help": "frame triplet folder to sample from"}), out(),
           (["--resolution"], {"help": "HxW the samples are cropped to", "type": resolution, "default": (256, 448)}),
           (["--max-samples"], {"help": "most samples written", "type": int, "default": 16}),
           (["--timestep"], {"help": "timestep input of the samples", "type": float, "default": 0.5}))
    action(actions, "quantize", quantize, (["--src"], {**PATH, "help": "the fp32 .mnn model"}),
           (["--samples"], {**PATH, "help": "sample folder (`mnn samples`)"}), out(),
           (["--config-out"], {**PATH, "help": "quantizer config JSON to write"}),
           (["--feature-method"], {"choices": ["KL", "ADMM", "EMA"], "default": "EMA",
                                   "help": "activation method (KL crashes MNN 3.6.1 on RIFE's Resize)"}),
           (["--weight-method"], {"help": "weight method", "choices": ["MAX_ABS", "ADMM"], "default": "MAX_ABS"}),
           (["--batch-size"], {"help": "EMA batch size", "type": int, "default": 8}),
           (["--skip-op"], {"help": "op name kept float (repeat for each)", "action": "append", "default": []}),
           (["--tool-log"], {"help": "where the MNN tool's own output goes", "default": None}))
