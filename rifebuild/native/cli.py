"""Native runtime: ncnn source, libncnn + rife-bench per target, checks, per-layer profile (timing: `rifebuild bench`)."""
from __future__ import annotations

import json
from pathlib import Path

from rifebuild.core import threads
from rifebuild.core.args import PATH, action, optional_float, optional_int, rife_model
from rifebuild.core.files import atomic_write_json
from rifebuild.native.targets import HOST_BIN, REPO, TARGETS, X86_ISAS

PRECISION = (["--precision"], {"default": "fp32", "choices": ["fp32", "fp16", "int8"]})
GPU = (["--gpu"], {"type": optional_int, "default": None, "help": "Vulkan device index (a -vulkan build); empty: CPU"})
SOURCE = ((["--version"], {"required": True}), (["--sha256"], {"required": True}), (["--url"], {"default": None}),
          (["--resources"], {"type": Path, "default": REPO / "resources", "help": "download cache folder"}),
          (["--build-dir"], {"type": Path, "required": True}))
TIMING = ((["--width"], {"type": int, "default": 1280}), (["--height"], {"type": int, "default": 736}),
          (["--warmup"], {"type": int, "default": 1}), (["--loops"], {"type": int, "default": 5}))


def _source_cfg(a) -> dict:
    return {"ncnn_version": a.version, "ncnn_sha256": a.sha256, "ncnn_url": a.url, "build_dir": a.build_dir}


def source(a) -> None:
    """Fetch + unpack the pinned ncnn source; prints its root folder."""
    from rifebuild.native.source import ncnn_source_root

    print(ncnn_source_root(_source_cfg(a), a.resources))


def build(a) -> None:
    """Build results/native/<target>/rife-bench (slim static libncnn + rife.Warp)."""
    from rifebuild.native.build import build_target
    from rifebuild.native.source import ncnn_source_root, source_root

    root = source_root(a.source_dir) if a.source_dir else ncnn_source_root(_source_cfg(a), a.resources)
    info = build_target(a.target, root, a.version, a.out, a.build_dir, a.jobs, a.ndk, a.log, a.host_isa)
    print(json.dumps(info))


def interpolate(a) -> None:
    """PNG/JPEG frames -> interpolated PNG with rife-bench."""
    from rifebuild.model import spec
    from rifebuild.native.run import interpolate as run_interpolate

    run_interpolate(a.bin, a.model, a.frame0, a.frame1, a.out, a.t, threads.count(1), a.precision,
                    align=spec.get(a.rife_model).arch.padding, gpu=a.gpu)


def verify(a) -> None:
    """rife.Warp model through rife-bench vs PyTorch references."""
    from rifebuild.native.check import verify as run_verify

    run_verify(a.bin, a.model, a.references, a.out, a.tolerance, a.precision, a.min_psnr, gpu=a.gpu, target=a.target)


def cross_check(a) -> None:
    """Another target's binary (arm64 under qemu) vs the host binary."""
    from rifebuild.native.check import cross_check as run_cross_check
    from rifebuild.native.targets import runner_for

    run_cross_check(a.host_bin, a.bin, a.model, runner_for(a.target), a.target, a.out, precision=a.precision,
                    min_psnr=a.min_psnr)


def profile(a) -> None:
    """Per-layer times (NCNN_BENCHMARK build of rife-bench, host only) -> JSON + table."""
    from rifebuild.native import profile as native_profile
    from rifebuild.native.build import build_target
    from rifebuild.native.source import ncnn_source_root

    binary = Path(a.build_dir) / "host-profile" / "rife-bench"
    build_target("host", ncnn_source_root(_source_cfg(a), a.resources), a.version, binary, a.build_dir, a.jobs,
                 isa=a.host_isa, profile=True)
    record = native_profile.profile(binary, a.model, a.precision, a.baseline_model, a.width, a.height,
                                    a.threads_, a.warmup, a.loops, a.rounds)
    atomic_write_json(a.out, record)
    print(native_profile.format_profile(record), end="")


def register(actions) -> None:
    jobs = (["--jobs"], {"type": int, "default": 2})
    isa = (["--host-isa"], {"default": "auto", "choices": ["auto", *X86_ISAS]})
    action(actions, "source", source, *SOURCE)
    action(actions, "build", build, *SOURCE, (["--target"], {"required": True, "choices": TARGETS}),
           (["--out"], PATH), (["--source-dir"], {"type": Path}), jobs, (["--ndk"], {"default": None}), isa,
           (["--log"], {"type": Path, "default": None}))
    action(actions, "interpolate", interpolate,
           (["--bin"], {"type": Path, "default": HOST_BIN}), (["--model"], PATH),
           (["frame0"], {"type": Path}), (["frame1"], {"type": Path}), (["out"], {"type": Path}),
           (["--t"], {"type": float, "default": 0.5}), PRECISION, rife_model(), GPU)
    action(actions, "verify", verify, (["--bin"], PATH), (["--model"], PATH), (["--out"], PATH),
           (["--tolerance"], {"type": float, "default": 1e-3}), PRECISION,
           (["--min-psnr"], {"type": optional_float, "default": None, "help": "pass on PSNR (quantized models)"}),
           GPU, (["--target"], {"default": "host", "choices": TARGETS}), (["references"], {"type": Path, "nargs": "+"}))
    action(actions, "cross-check", cross_check, (["--host-bin"], PATH), (["--bin"], PATH),
           (["--target"], {"required": True, "choices": TARGETS}), (["--model"], PATH), (["--out"], PATH),
           PRECISION, (["--min-psnr"], {"type": optional_float, "default": None}))
    action(actions, "profile", profile, *SOURCE, (["--model"], PATH),
           (["--precision"], {"default": "int8", "choices": ["fp32", "fp16", "int8"]}),
           (["--baseline-model"], {"type": Path, "default": None}), *TIMING,
           (["--bench-threads"], {"type": int, "default": 2, "dest": "threads_"}),
           (["--rounds"], {"type": int, "default": 2}), jobs, isa, (["--out"], PATH))
