"""Calibration and evaluation frame triplets (builtin, Vimeo-90K or video frames), cached as PNG."""
from __future__ import annotations

from rifebuild.core.args import action, out, resolution


def data(a) -> None:
    """Write both splits at the calibration resolution (+ evaluation at every verify resolution)."""
    from rifebuild.calibration.triplets import write_cache

    manifest = write_cache(a.source, {"calibration": a.calibration_size, "evaluation": a.evaluation_size},
                           a.resolution, a.eval_resolution, a.seed, a.max_motion, a.out)
    print(f"wrote {manifest['written']}; skipped {manifest['skipped']}")


def register(actions) -> None:
    action(actions, "data", data, (["--source"], {"required": True}),
           (["--resolution"], {"type": resolution, "required": True}),
           (["--eval-resolution"], {"type": resolution, "nargs": "*", "default": []}),
           (["--calibration-size"], {"type": int, "required": True}),
           (["--evaluation-size"], {"type": int, "required": True}),
           (["--seed"], {"type": int, "default": 0}), (["--max-motion"], {"type": float, "default": 12.0}), out())
