"""Build targets (host, linux-arm64, android-arm64): toolchains, one ISA each, the slim layer list.

Why a slim build: ncnn's default build compiles ~120 layer types for every CPU instruction-set
variant (>20 min on 2 cores). RIFE needs ~30 layer types and one ISA per target, which builds in a
few minutes.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from rifebuild.core.errors import NativeError

REPO = Path(__file__).resolve().parents[2]
NATIVE_SRC = REPO / "native"
HOST_BIN = REPO / "results/native/host/rife-bench"  # where the workflow builds the host binary
TARGETS = ("host", "linux-arm64", "android-arm64", "host-vulkan", "android-arm64-vulkan")
# The build int8 calibration runs on: baseline x86-64 (SSE2), no run-time CPU dispatch, so its float
# results are the same instruction stream, hence the same bits, on any x86-64 runner (AVX-512, AVX2 or
# neither). Not an artifact: never in native.targets or a release.
REFERENCE = "reference"
BUILDABLE = (*TARGETS, REFERENCE)
VULKAN_SUFFIX = "-vulkan"  # <cpu target>-vulkan: the same CPU target with ncnn's Vulkan backend on

# Layer types the RIFE models use (PReLU: rife-v4's activation), plus the ones ncnn's own layers create
# internally (Convolution/Deconvolution -> Padding, Packing, Cast, Gemm, Flatten, InnerProduct; fused
# activations -> ReLU, Sigmoid, Clip; Mat helpers -> Bias, Scale, Crop, Interp, (De)Quantize).
NEEDED_LAYERS = (
    "Input", "Split", "Concat", "Convolution", "Deconvolution", "ConvolutionDepthWise", "BinaryOp",
    "UnaryOp", "ReLU", "Clip", "Sigmoid", "Interp", "Crop", "Slice", "PixelShuffle", "MemoryData",
    "GridSample", "Eltwise", "Permute", "Reshape", "Flatten", "Scale", "Bias", "Quantize",
    "Dequantize", "Requantize", "Packing", "Cast", "Padding", "InnerProduct", "Gemm", "Noop",
    "Dropout", "Tile", "ExpandDims", "Squeeze", "PReLU",
)

COMMON_NCNN_OPTIONS = {
    "CMAKE_BUILD_TYPE": "Release",
    "NCNN_SHARED_LIB": "OFF",
    "NCNN_OPENMP": "ON",
    "NCNN_INT8": "ON",
    "NCNN_BF16": "OFF",
    "NCNN_VULKAN": "OFF",
    "NCNN_BUILD_TOOLS": "OFF",
    "NCNN_BUILD_EXAMPLES": "OFF",
    "NCNN_BUILD_BENCHMARK": "OFF",
    "NCNN_BUILD_TESTS": "OFF",
    "NCNN_PYTHON": "OFF",
    "NCNN_C_API": "OFF",
    "NCNN_PIXEL_ROTATE": "OFF",
    "NCNN_PIXEL_AFFINE": "OFF",
    "NCNN_PIXEL_DRAWING": "OFF",
    "NCNN_RUNTIME_CPU": "OFF",
}

# One instruction set per target: no runtime-dispatch variants.
X86_AVX2 = {
    "NCNN_SSE2": "ON", "NCNN_AVX": "ON", "NCNN_FMA": "ON", "NCNN_F16C": "ON", "NCNN_AVX2": "ON",
    "NCNN_XOP": "OFF", "NCNN_FMA4": "OFF", "NCNN_AVXVNNI": "OFF", "NCNN_AVXVNNIINT8": "OFF",
    "NCNN_AVXVNNIINT16": "OFF", "NCNN_AVXNECONVERT": "OFF", "NCNN_AVX512": "OFF",
    "NCNN_AVX512VNNI": "OFF", "NCNN_AVX512BF16": "OFF", "NCNN_AVX512FP16": "OFF",
}
X86_AVX512 = {**X86_AVX2, "NCNN_AVX512": "ON", "NCNN_AVX512VNNI": "ON"}
X86_SSE2 = {**X86_AVX2, "NCNN_AVX": "OFF", "NCNN_FMA": "OFF", "NCNN_F16C": "OFF", "NCNN_AVX2": "OFF"}
X86_ISAS = {"avx512": X86_AVX512, "avx2": X86_AVX2, "sse2": X86_SSE2}
# CPU flags (as /proc/cpuinfo names them) each x86 level needs.
X86_FLAGS = {"avx512": {"avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_vnni"},
             "avx2": {"avx", "avx2", "fma", "f16c"}, "sse2": set()}
# armv8.2-a + fp16 arithmetic + dotprod: every arm64 phone core since Cortex-A55/A75.
ARM64_V82 = {
    "NCNN_ARM82": "ON", "NCNN_ARM82DOT": "ON", "NCNN_ARM82FP16FML": "OFF", "NCNN_ARM84BF16": "OFF",
    "NCNN_ARM84I8MM": "OFF", "NCNN_ARM86SVE": "OFF", "NCNN_ARM86SVE2": "OFF",
    "NCNN_ARM86SVEBF16": "OFF", "NCNN_ARM86SVEI8MM": "OFF", "NCNN_ARM86SVEF32MM": "OFF",
}

@dataclass(frozen=True)
class Target:
    name: str
    cmake_args: tuple[str, ...]  # toolchain and target-specific -D options (shared by ncnn + rife-bench)
    ncnn_options: dict
    runner: tuple[str, ...] = ()  # prefix to run the binary here (qemu for arm64), () = native
    vulkan: bool = False  # ncnn's Vulkan backend (bundled glslang, loader opened at run time)


NDK_TOOLCHAIN = "build/cmake/android.toolchain.cmake"
NDK_VARS = ("ANDROID_NDK", "ANDROID_NDK_HOME", "ANDROID_NDK_ROOT")


def ndk_problem(folder: str) -> str | None:
    """Why `folder` is not an Android NDK (None: it is one)."""
    path = Path(folder)
    if not path.is_dir():
        return "no such folder"
    if not (path / NDK_TOOLCHAIN).is_file():
        return f"a folder without {NDK_TOOLCHAIN}, so not an NDK"
    return None


def find_ndk(configured: str | None = None) -> Path | None:
    """The Android NDK from config or $ANDROID_NDK / $ANDROID_NDK_HOME / $ANDROID_NDK_ROOT, if any.

    A configured native.android_ndk that is no NDK is an error naming it, never a silent fallback."""
    if configured:
        problem = ndk_problem(configured)
        if problem:
            raise NativeError(f"native.android_ndk = {configured!r}: {problem}; set it to the NDK folder (the one "
                              f"holding {NDK_TOOLCHAIN}) or leave it empty")
        return Path(configured)
    for cand in (os.environ.get(var) for var in NDK_VARS):
        if cand and ndk_problem(cand) is None:
            return Path(cand)
    return None


# What building and running linux-arm64 here takes (Debian: crossbuild-essential-arm64, qemu-user-static;
# `make setup-dev` installs them, `make setup` does not: the default run needs none of them).
ARM64_TOOLS = ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++", "qemu-aarch64-static")


def missing_arm64_tools() -> list[str]:
    return [tool for tool in ARM64_TOOLS if shutil.which(tool) is None]


def default_targets(ndk: str | None = None) -> list[str]:
    """host always; linux-arm64 when its cross toolchain and qemu are installed; android-arm64 when an
    NDK is found (a target a machine cannot build is asked for by naming it in native.targets)."""
    return (["host"] + ([] if missing_arm64_tools() else ["linux-arm64"])
            + (["android-arm64"] if find_ndk(ndk) else []))


def host_isa(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The best x86 level this machine runs: the host binary is built for it alone."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return "avx2"
    flags = set(re.search(r"^flags\s*:(.*)$", text, flags=re.M).group(1).split()) if "flags" in text else set()
    return next(isa for isa, need in X86_FLAGS.items() if need <= flags)


# The Vulkan builds: ncnn's bundled glslang compiles shaders at run time; simplevk (ncnn's own loader)
# dlopens the system's libvulkan when a GPU is first asked for, so the binary starts without one.
VULKAN_OPTIONS = {"NCNN_VULKAN": "ON", "NCNN_SIMPLEVK": "ON", "NCNN_SYSTEM_GLSLANG": "OFF"}


def is_vulkan(name: str) -> bool:
    return name.endswith(VULKAN_SUFFIX)


def target_spec(name: str, ndk: str | None = None, isa: str = "auto") -> Target:
    if is_vulkan(name) and name in TARGETS:
        cpu = target_spec(name[: -len(VULKAN_SUFFIX)], ndk, isa)
        return dataclasses.replace(cpu, name=name, ncnn_options={**cpu.ncnn_options, **VULKAN_OPTIONS},
                                   vulkan=True)
    if name == "host":
        isa = host_isa() if isa == "auto" else isa
        if isa not in X86_ISAS:
            raise NativeError(f"native.host_isa must be auto, {', '.join(X86_ISAS)}; got {isa!r}.")
        return Target(name, (), X86_ISAS[isa])
    if name == REFERENCE:
        return Target(name, (), X86_SSE2)
    if name == "linux-arm64":
        if missing_arm64_tools():
            raise NativeError(
                f"Target linux-arm64 needs {', '.join(missing_arm64_tools())}: run `make setup-dev` (Debian packages "
                "crossbuild-essential-arm64 and qemu-user-static), or drop linux-arm64 from native.targets."
            )
        tc = NATIVE_SRC / "cmake/aarch64-linux-gnu.toolchain.cmake"
        return Target(name, (f"-DCMAKE_TOOLCHAIN_FILE={tc}",), ARM64_V82, ("qemu-aarch64-static",))
    if name == "android-arm64":
        root = find_ndk(ndk)
        if root is None:
            unusable = [f"{var}={os.environ[var]!r} ({ndk_problem(os.environ[var])})" for var in NDK_VARS
                        if os.environ.get(var)]
            seen = f" ({'; '.join(unusable)})" if unusable else ""
            raise NativeError(
                f"Target android-arm64 needs the Android NDK{seen}: set ANDROID_NDK (or native.android_ndk in "
                "config.yaml) to an NDK folder, or drop android-arm64 from native.targets."
            )
        tc = root / NDK_TOOLCHAIN
        args = (f"-DCMAKE_TOOLCHAIN_FILE={tc}", "-DANDROID_ABI=arm64-v8a",
                "-DANDROID_PLATFORM=android-24", "-DANDROID_STL=c++_static")
        return Target(name, args, ARM64_V82)
    raise NativeError(f"Unknown native target {name!r}; use one of {', '.join(BUILDABLE)}.")


def all_layers(ncnn_root: Path) -> list[str]:
    """Every layer type ncnn's src/CMakeLists.txt declares (to switch the unneeded ones off)."""
    text = (Path(ncnn_root) / "src/CMakeLists.txt").read_text()
    return re.findall(r"^\s*ncnn_add_layer\((\w+)", text, flags=re.M)


def profiling_variant(target: Target) -> Target:
    """The same target with ncnn's per-layer timing on (NCNN_BENCHMARK), in its own build folder:
    the benchmarked rife-bench never carries the timing overhead."""
    return dataclasses.replace(target, name=f"{target.name}-profile",
                               ncnn_options={**target.ncnn_options, "NCNN_BENCHMARK": "ON"})


def ncnn_cmake_options(target: Target, ncnn_root: Path, version: str) -> list[str]:
    """-D options of the slim static libncnn for `target` (sorted: deterministic command line)."""
    opts = dict(COMMON_NCNN_OPTIONS)
    opts.update(target.ncnn_options)
    opts["NCNN_VERSION"] = version.split(".")[-1]
    needed = {n.lower() for n in NEEDED_LAYERS}
    for layer in all_layers(ncnn_root):
        opts[f"WITH_LAYER_{layer.lower()}"] = "ON" if layer.lower() in needed else "OFF"
    return [f"-D{k}={v}" for k, v in sorted(opts.items())]

# ---------------------------------------------------------------------------------------------
# Running rife-bench
# ---------------------------------------------------------------------------------------------

def runner_for(target: str) -> tuple[str, ...]:
    """Command prefix that runs `target`'s binary on this machine (qemu for linux-arm64)."""
    if target == "android-arm64":
        raise NativeError("android-arm64 binaries run only on a device: `adb push` results/native/android-arm64/"
                          "rife-bench to /data/local/tmp and run it there.")
    return target_spec(target).runner


def native_targets(native: dict) -> list[str]:
    """`native.targets`, or by default host (+ linux-arm64, android-arm64 where they can be built). The
    host-vulkan build that the Vulkan checks need is built for them, but released only when listed
    here: the bundle must not depend on whether the building machine has a Vulkan device."""
    return list(native["targets"] or default_targets(native["android_ndk"]))


def native_sources() -> list[str]:
    """The C++ sources, CMake files and toolchains under native/: a change rebuilds rife-bench."""
    return sorted(str(p) for p in NATIVE_SRC.rglob("*") if p.is_file() and p.suffix != ".md")
