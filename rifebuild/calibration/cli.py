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
    action(actions, "data", data,
           (["--source"], {"required": True,
                           "help": "builtin, a Vimeo-90K folder or a folder of video frames (calibration.data)"}),
           (["--resolution"], {"type": resolution, "required": True,
                               "help": "HxW of the calibration split (frames are centre-cropped)"}),
           (["--eval-resolution"], {"type": resolution, "nargs": "*", "default": [],
                                    "help": "HxW sizes the evaluation split is also rendered at"}),
           (["--calibration-size"], {"help": "triplets in the calibration split", "type": int, "required": True}),
           (["--evaluation-size"], {"type": int, "required": True,
                                    "help": "triplets in the evaluation split (disjoint)"}),
           (["--seed"], {"help": "builtin triplets: scene and motion seed", "type": int, "default": 0}),
           (["--max-motion"], {"type": float, "default": 12.0,
                               "help": "builtin triplets: motion in pixels per half interval at --resolution"}),
           out())
