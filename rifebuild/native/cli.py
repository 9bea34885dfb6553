"""Native runtime: ncnn source, libncnn + rife-bench per target, checks, per-layer profile (timing: `rifebuild bench`)."""
from __future__ import annotations

import json
from pathlib import Path

from rifebuild.core import threads
from rifebuild.core.args import PATH, action, model, optional_float, optional_int, out
from rifebuild.core.files import atomic_write_json
from rifebuild.native.targets import BUILDABLE, HOST_BIN, REPO, TARGETS, X86_ISAS

PRECISION = (["--precision"], {"default": "fp32", "choices": ["fp32", "fp16", "int8"],
                               "help": "how rife-bench runs the model"})
GPU = (["--gpu"], {"type": optional_int, "default": None,
                   "help": "Vulkan device index (needs a -vulkan build of rife-bench); empty: the CPU"})
SOURCE = ((["--version"], {"help": "ncnn version (native.ncnn_version)", "required": True}),
          (["--sha256"], {"help": "sha256 of the ncnn source archive (native.ncnn_sha256)", "required": True}),
          (["--url"], {"default": None,
                       "help": "another ncnn source archive (native.ncnn_url); default: the wheel's sdist via pip"}),
          (["--resources"], {"type": Path, "default": REPO / "resources", "help": "download cache folder"}),
          (["--build-dir"], {"help": "CMake build folders (native.build_dir)", "type": Path, "required": True}))
TIMING = ((["--width"], {"help": "frame width", "type": int, "default": 1280}),
          (["--height"], {"help": "frame height", "type": int, "default": 736}),
          (["--warmup"], {"help": "untimed runs after loading", "type": int, "default": 1}),
          (["--loops"], {"help": "timed runs per round", "type": int, "default": 5}))


def _source_cfg(a) -> dict:
    return {"ncnn_version": a.version, "ncnn_sha256": a.sha256, "ncnn_url": a.url, "build_dir": a.build_dir}


def source(a) -> None:
    """Fetch + unpack the pinned ncnn source (once per native.build_dir); prints its root folder and, with
    --out, records it in this working directory (the workflow's output: never a file of the shared tree)."""
    from rifebuild.native.source import ncnn_source_root

    root = ncnn_source_root(_source_cfg(a), a.resources)
    if a.out:
        atomic_write_json(a.out, {"root": str(root), "sha256": a.sha256})
    print(root)


def build(a) -> None:
    """Build results/native/<target>/rife-bench (slim static libncnn + rife.Warp)."""
    from rifebuild.native.build import build_target
    from rifebuild.native.source import ncnn_source_root

    root = ncnn_source_root(_source_cfg(a), a.resources)  # unpacked already: no download
    info = build_target(a.target, root, a.version, a.out, a.build_dir, a.jobs, a.ndk, a.log, a.host_isa)
    print(json.dumps(info))


def interpolate(a) -> None:
    """PNG/JPEG frames -> interpolated PNG with rife-bench."""
    from rifebuild.model import spec
    from rifebuild.native.run import interpolate as run_interpolate

    run_interpolate(a.bin, a.model_dir, a.frame0, a.frame1, a.out, a.t, threads.count(1), a.precision,
                    align=spec.get(a.model).arch.padding, gpu=a.gpu)


def verify(a) -> None:
    """rife.Warp model through rife-bench vs PyTorch references."""
    from rifebuild.native.check import verify as run_verify

    run_verify(a.bin, a.model_dir, a.references, a.out, a.tolerance, a.precision, a.min_psnr, gpu=a.gpu,
               target=a.target)


def cross_check(a) -> None:
    """Another target's binary (arm64 under qemu) vs the host binary."""
    from rifebuild.native.check import cross_check as run_cross_check
    from rifebuild.native.targets import runner_for

    run_cross_check(a.host_bin, a.bin, a.model_dir, runner_for(a.target), a.target, a.out, precision=a.precision,
                    min_psnr=a.min_psnr)


def profile(a) -> None:
    """Per-layer times (NCNN_BENCHMARK build of rife-bench, host only) -> JSON + table."""
    from rifebuild.native import profile as native_profile
    from rifebuild.native.build import build_target
    from rifebuild.native.source import ncnn_source_root

    binary = Path(a.build_dir) / "host-profile" / "rife-bench"
    build_target("host", ncnn_source_root(_source_cfg(a), a.resources), a.version, binary, a.build_dir, a.jobs,
                 isa=a.host_isa, profile=True)
    record = native_profile.profile(binary, a.model_dir, a.precision, a.baseline_model_dir, a.width, a.height,
                                    a.threads_, a.warmup, a.loops, a.rounds)
    atomic_write_json(a.out, record)
    print(native_profile.format_profile(record), end="")


def register(actions) -> None:
    jobs = (["--jobs"], {"help": "compile jobs", "type": int, "default": 2})
    isa = (["--host-isa"], {"default": "auto", "choices": ["auto", *X86_ISAS],
                            "help": "x86 instruction set of the host build"})
    action(actions, "source", source, *SOURCE,
           (["--out"], {"type": Path, "default": None,
                        "help": "record the unpacked root here (the workflow's output, in its working directory)"}))
    action(actions, "build", build, *SOURCE,
           (["--target"], {"required": True, "choices": BUILDABLE, "help": "the target to build or check"}),
           out(),
           jobs,
           (["--ndk"], {"default": None, "help": "Android NDK folder (android-arm64); default: $ANDROID_NDK etc."}),
           isa,
           (["--log"], {"help": "where the build's output goes; default: the console", "type": Path, "default": None}))
    action(actions, "interpolate", interpolate,
           (["--bin"], {"help": "the rife-bench binary", "type": Path, "default": HOST_BIN}),
           (["--model-dir"], {**PATH, "help": "rife.Warp model folder (flownet.param + flownet.bin)"}),
           (["frame0"], {"type": Path, "help": "first frame (PNG/JPEG)"}),
           (["frame1"], {"type": Path, "help": "second frame"}), (["out"], {"type": Path, "help": "the PNG to write"}),
           (["--t"], {"help": "timestep of the interpolated frame", "type": float, "default": 0.5}),
           (["--precision"], {"default": "auto", "choices": ["auto", "fp32", "fp16", "int8"],
                              "help": "auto: what the model folder is built for"}), model(), GPU)
    action(actions, "verify", verify, (["--bin"], {**PATH, "help": "the rife-bench binary"}),
           (["--model-dir"], {**PATH, "help": "rife.Warp model folder (flownet.param + flownet.bin)"}), out(),
           (["--tolerance"], {"type": float, "default": 1e-3,
                              "help": "largest allowed max abs error vs PyTorch"}), PRECISION,
           (["--min-psnr"], {"type": optional_float, "default": None, "help": "pass on PSNR (quantized models)"}),
           GPU, (["--target"], {"default": "host", "choices": TARGETS,
                                "help": "the target rife-bench was built for (recorded)"}),
           (["references"], {"type": Path, "nargs": "+", "help": "reference .npz files (inputs + PyTorch output)"}))
    action(actions, "cross-check", cross_check,
           (["--host-bin"], {**PATH, "help": "the host rife-bench the other target is compared with"}),
           (["--bin"], {**PATH, "help": "the rife-bench binary"}),
           (["--target"], {"help": "the target to build or check", "required": True, "choices": TARGETS}),
           (["--model-dir"], {**PATH, "help": "rife.Warp model folder (flownet.param + flownet.bin)"}), out(),
           PRECISION,
           (["--min-psnr"], {"type": optional_float, "default": None, "help": "pass on PSNR (quantized models)"}))
    action(actions, "profile", profile, *SOURCE,
           (["--model-dir"], {**PATH, "help": "rife.Warp model folder (flownet.param + flownet.bin)"}),
           (["--precision"], {"default": "int8", "choices": ["fp32", "fp16", "int8"],
                              "help": "how rife-bench runs the model"}),
           (["--baseline-model-dir"], {"type": Path, "default": None,
                                       "help": "a second model folder timed in the same rounds (e.g. fp32 for int8)"}),
           *TIMING,
           (["--bench-threads"], {"help": "threads of the timed runs", "type": int, "default": 2, "dest": "threads_"}),
           (["--rounds"], {"help": "rounds of turns", "type": int, "default": 2}), jobs, isa, out())
