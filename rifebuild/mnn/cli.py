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
    action(actions, "convert", convert, (["--onnx"], PATH),
           (["--variant"], {"choices": ["fp32", "fp16", "wq8"], "required": True}), out(), (["--tool-log"], {"default": None}))
    action(actions, "samples", samples, (["--frames"], PATH), out(),
           (["--resolution"], {"type": resolution, "default": (256, 448)}),
           (["--max-samples"], {"type": int, "default": 16}), (["--timestep"], {"type": float, "default": 0.5}))
    action(actions, "quantize", quantize, (["--src"], PATH), (["--samples"], PATH), out(), (["--config-out"], PATH),
           (["--feature-method"], {"choices": ["KL", "ADMM", "EMA"], "default": "EMA"}),
           (["--weight-method"], {"choices": ["MAX_ABS", "ADMM"], "default": "MAX_ABS"}),
           (["--batch-size"], {"type": int, "default": 8}), (["--skip-op"], {"action": "append", "default": []}),
           (["--tool-log"], {"default": None}))
