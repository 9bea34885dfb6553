"""Build libncnn + rife-bench per target (host, linux-arm64, android-arm64) and run rife-bench.

Why a slim build: ncnn's default build compiles ~120 layer types for every CPU instruction-set
variant (>20 min on 2 cores). RIFE needs ~30 layer types and one ISA per target, which builds in a
few minutes. CMake build folders under build/native/<target>/ are kept, so a re-run is incremental.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
NATIVE_SRC = REPO / "native"
TARGETS = ("host", "linux-arm64", "android-arm64")

# Layer types the RIFE models use, plus the ones ncnn's own layers create internally
# (Convolution/Deconvolution -> Padding, Packing, Cast, Gemm, Flatten, InnerProduct; fused
# activations -> ReLU, Sigmoid, Clip; Mat helpers -> Bias, Scale, Crop, Interp, (De)Quantize).
NEEDED_LAYERS = (
    "Input", "Split", "Concat", "Convolution", "Deconvolution", "ConvolutionDepthWise", "BinaryOp",
    "UnaryOp", "ReLU", "Clip", "Sigmoid", "Interp", "Crop", "Slice", "PixelShuffle", "MemoryData",
    "GridSample", "Eltwise", "Permute", "Reshape", "Flatten", "Scale", "Bias", "Quantize",
    "Dequantize", "Requantize", "Packing", "Cast", "Padding", "InnerProduct", "Gemm", "Noop",
    "Dropout", "Tile", "ExpandDims", "Squeeze",
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
# armv8.2-a + fp16 arithmetic + dotprod: every arm64 phone core since Cortex-A55/A75.
ARM64_V82 = {
    "NCNN_ARM82": "ON", "NCNN_ARM82DOT": "ON", "NCNN_ARM82FP16FML": "OFF", "NCNN_ARM84BF16": "OFF",
    "NCNN_ARM84I8MM": "OFF", "NCNN_ARM86SVE": "OFF", "NCNN_ARM86SVE2": "OFF",
    "NCNN_ARM86SVEBF16": "OFF", "NCNN_ARM86SVEI8MM": "OFF", "NCNN_ARM86SVEF32MM": "OFF",
}


class NativeError(RuntimeError):
    """A problem the user can act on (missing NDK, failed build, bad rife-bench input)."""


@dataclass(frozen=True)
class Target:
    name: str
    cmake_args: tuple[str, ...]  # toolchain and target-specific -D options (shared by ncnn + rife-bench)
    ncnn_options: dict
    runner: tuple[str, ...] = ()  # prefix to run the binary here (qemu for arm64), () = native


def find_ndk(configured: str | None = None) -> Path | None:
    """The Android NDK from config or $ANDROID_NDK / $ANDROID_NDK_HOME / $ANDROID_NDK_ROOT, if any."""
    for cand in (configured, os.environ.get("ANDROID_NDK"), os.environ.get("ANDROID_NDK_HOME"),
                 os.environ.get("ANDROID_NDK_ROOT")):
        if cand and (Path(cand) / "build/cmake/android.toolchain.cmake").is_file():
            return Path(cand)
    return None


def default_targets(ndk: str | None = None) -> list[str]:
    """host and linux-arm64 always; android-arm64 only when an NDK is found."""
    return ["host", "linux-arm64"] + (["android-arm64"] if find_ndk(ndk) else [])


def target_spec(name: str, ndk: str | None = None) -> Target:
    if name == "host":
        return Target(name, (), X86_AVX2)
    if name == "linux-arm64":
        tc = NATIVE_SRC / "cmake/aarch64-linux-gnu.toolchain.cmake"
        return Target(name, (f"-DCMAKE_TOOLCHAIN_FILE={tc}",), ARM64_V82, ("qemu-aarch64-static",))
    if name == "android-arm64":
        root = find_ndk(ndk)
        if root is None:
            raise NativeError(
                "Target android-arm64 needs the Android NDK: set ANDROID_NDK (or native.android_ndk in "
                "config.yaml) to an NDK folder, or drop android-arm64 from native.targets."
            )
        tc = root / "build/cmake/android.toolchain.cmake"
        args = (f"-DCMAKE_TOOLCHAIN_FILE={tc}", "-DANDROID_ABI=arm64-v8a",
                "-DANDROID_PLATFORM=android-24", "-DNCNN_OPENMP_STATIC=ON")
        return Target(name, args, ARM64_V82)
    raise NativeError(f"Unknown native target {name!r}; use one of {', '.join(TARGETS)}.")


def all_layers(ncnn_root: Path) -> list[str]:
    """Every layer type ncnn's src/CMakeLists.txt declares (to switch the unneeded ones off)."""
    text = (Path(ncnn_root) / "src/CMakeLists.txt").read_text()
    return re.findall(r"^\s*ncnn_add_layer\((\w+)", text, flags=re.M)


def ncnn_cmake_options(target: Target, ncnn_root: Path, version: str) -> list[str]:
    """-D options of the slim static libncnn for `target` (sorted: deterministic command line)."""
    opts = dict(COMMON_NCNN_OPTIONS)
    opts.update(target.ncnn_options)
    opts["NCNN_VERSION"] = version.split(".")[-1]
    needed = {n.lower() for n in NEEDED_LAYERS}
    for layer in all_layers(ncnn_root):
        opts[f"WITH_LAYER_{layer.lower()}"] = "ON" if layer.lower() in needed else "OFF"
    return [f"-D{k}={v}" for k, v in sorted(opts.items())]


def _run(cmd: list[str], log, cwd: Path | None = None) -> None:
    log.write("$ " + " ".join(map(str, cmd)) + "\n")
    log.flush()
    proc = subprocess.run(list(map(str, cmd)), stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    if proc.returncode != 0:
        raise NativeError(f"Command failed ({proc.returncode}): {' '.join(map(str, cmd))}; see {log.name}.")


def _configure(src: Path, build: Path, args: list[str], log) -> None:
    """cmake -S/-B, skipped when the same arguments configured this folder before."""
    stamp = build / "rifebuild-configure.args"
    want = "\n".join([str(src), *args]) + "\n"
    if stamp.exists() and stamp.read_text() == want and (build / "CMakeCache.txt").exists():
        return
    build.mkdir(parents=True, exist_ok=True)
    _run(["cmake", "-S", src, "-B", build, *args], log)
    stamp.write_text(want)


def build_ncnn(target: Target, ncnn_root: Path, version: str, build_root: Path, jobs: int, log) -> Path:
    """Configure, build and install the slim libncnn; returns the install prefix."""
    build = build_root / "ncnn-build"
    prefix = build_root / "ncnn-install"
    args = [*target.cmake_args, *ncnn_cmake_options(target, ncnn_root, version),
            f"-DCMAKE_INSTALL_PREFIX={prefix}"]
    _configure(ncnn_root, build, args, log)
    _run(["cmake", "--build", build, "-j", str(jobs)], log)
    _run(["cmake", "--install", build], log)
    return prefix


def build_rife_bench(target: Target, prefix: Path, build_root: Path, jobs: int, log) -> Path:
    """Configure and build native/ (rife.Warp + rife-bench) against the installed libncnn."""
    build = build_root / "rife-bench-build"
    cmake_dir = next(prefix.glob("lib*/cmake/ncnn"))
    args = [*target.cmake_args, "-DCMAKE_BUILD_TYPE=Release", f"-Dncnn_DIR={cmake_dir}",
            f"-DRIFE_TARGET={target.name}"]
    _configure(NATIVE_SRC, build, args, log)
    _run(["cmake", "--build", build, "-j", str(jobs)], log)
    return build / "rife-bench"


def build_target(name: str, ncnn_root: Path, version: str, out_bin: Path, build_dir: Path,
                 jobs: int = 2, ndk: str | None = None, log_path: Path | None = None) -> dict:
    """Build rife-bench for one target and copy it atomically to `out_bin`; returns timings."""
    target = target_spec(name, ndk)
    build_root = Path(build_dir) / name
    build_root.mkdir(parents=True, exist_ok=True)
    log_path = Path(log_path or build_root / "build.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        t0 = time.monotonic()
        prefix = build_ncnn(target, Path(ncnn_root), version, build_root, jobs, log)
        t1 = time.monotonic()
        binary = build_rife_bench(target, prefix, build_root, jobs, log)
        t2 = time.monotonic()
    out_bin = Path(out_bin)
    out_bin.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_bin.with_name(out_bin.name + ".tmp")
    shutil.copy2(binary, tmp)
    os.replace(tmp, out_bin)
    return {"target": name, "ncnn_s": round(t1 - t0, 1), "rife_bench_s": round(t2 - t1, 1),
            "size_bytes": out_bin.stat().st_size}
