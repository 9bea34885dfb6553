"""Build libncnn + rife-bench per target (host, linux-arm64, android-arm64) and run rife-bench.

Why a slim build: ncnn's default build compiles ~120 layer types for every CPU instruction-set
variant (>20 min on 2 cores). RIFE needs ~30 layer types and one ISA per target, which builds in a
few minutes. CMake build folders under build/native/<target>/ are kept, so a re-run is incremental.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rifebuild.atomic import atomic_path, atomic_write_json
from rifebuild.metrics import compare

REPO = Path(__file__).resolve().parent.parent
NATIVE_SRC = REPO / "native"
TARGETS = ("host", "linux-arm64", "android-arm64")


def default_config() -> dict:
    """The `native:` section with every default filled in (config.schema.yaml is the one source)."""
    from rifebuild.config import validate

    return validate({})["native"]


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


def host_isa(cpuinfo: str = "/proc/cpuinfo") -> str:
    """The best x86 level this machine runs: the host binary is built for it alone."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        return "avx2"
    flags = set(re.search(r"^flags\s*:(.*)$", text, flags=re.M).group(1).split()) if "flags" in text else set()
    return next(isa for isa, need in X86_FLAGS.items() if need <= flags)


def target_spec(name: str, ndk: str | None = None, isa: str = "auto") -> Target:
    if name == "host":
        isa = host_isa() if isa == "auto" else isa
        if isa not in X86_ISAS:
            raise NativeError(f"native.host_isa must be auto, {', '.join(X86_ISAS)}; got {isa!r}.")
        return Target(name, (), X86_ISAS[isa])
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
                "-DANDROID_PLATFORM=android-24", "-DANDROID_STL=c++_static")
        return Target(name, args, ARM64_V82)
    raise NativeError(f"Unknown native target {name!r}; use one of {', '.join(TARGETS)}.")


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
    if stamp.exists() and stamp.read_text().split("\n", 1)[0] != str(src):
        shutil.rmtree(build)  # CMake cannot switch a build folder to another source tree
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


def ncnn_source_root(cfg: dict, resources: Path = REPO / "resources", dest: Path | None = None) -> Path:
    """Fetch (or reuse) the pinned ncnn source archive and unpack it into `dest`; returns its root.

    `dest` defaults to <build_dir>/src-<sha256 prefix>: beside the CMake build folders, so a build
    folder shared by several working directories always sees the same source path.
    """
    from rifebuild import ncnn_source

    dest = dest or Path(cfg.get("build_dir", REPO / "build/native")) / f"src-{cfg['ncnn_sha256'][:12]}"
    if ncnn_source.unpacked_sha256(dest) == cfg["ncnn_sha256"]:
        return ncnn_source.source_root(dest)  # already unpacked: no download cache needed
    archive = ncnn_source.fetch_sdist(cfg["ncnn_version"], cfg["ncnn_sha256"], Path(resources) / "ncnn",
                                      url=cfg.get("ncnn_url"))
    return ncnn_source.unpack(archive, dest)


def build_target(name: str, ncnn_root: Path, version: str, out_bin: Path, build_dir: Path,
                 jobs: int = 2, ndk: str | None = None, log_path: Path | None = None, isa: str = "auto",
                 profile: bool = False) -> dict:
    """Build rife-bench for one target and copy it atomically to `out_bin`; returns timings."""
    target = target_spec(name, ndk, isa)
    if profile:
        target = profiling_variant(target)
    ncnn_root = Path(ncnn_root).resolve()  # absolute paths: same configure args from any caller
    build_root = Path(build_dir).resolve() / target.name
    build_root.mkdir(parents=True, exist_ok=True)
    log_path = Path(log_path or build_root / "build.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log:
        t0 = time.monotonic()
        prefix = build_ncnn(target, ncnn_root, version, build_root, jobs, log)
        t1 = time.monotonic()
        binary = build_rife_bench(target, prefix, build_root, jobs, log)
        t2 = time.monotonic()
    out_bin = Path(out_bin)
    with atomic_path(out_bin) as tmp:
        shutil.copy2(binary, tmp)
    return {"target": target.name, "ncnn_s": round(t1 - t0, 1), "rife_bench_s": round(t2 - t1, 1),
            "size_bytes": out_bin.stat().st_size}


# ---------------------------------------------------------------------------------------------
# Running rife-bench
# ---------------------------------------------------------------------------------------------

def runner_for(target: str) -> tuple[str, ...]:
    """Command prefix that runs `target`'s binary on this machine (qemu for linux-arm64)."""
    if target == "android-arm64":
        raise NativeError("android-arm64 binaries run only on a device: `adb push` results/native/android-arm64/"
                          "rife-bench to /data/local/tmp and run it there.")
    return target_spec(target).runner


def run_rife_bench(binary: Path, args: list, runner: tuple[str, ...] = ()) -> subprocess.CompletedProcess:
    """Run rife-bench; its one-sentence error (its last stderr line) becomes a NativeError."""
    binary = Path(binary)
    if not binary.is_file():
        raise NativeError(f"{binary} does not exist; build it first (snakemake {binary}).")
    proc = subprocess.run([*runner, str(binary), *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()
        raise NativeError(msg[-1] if msg else f"{binary} exited with status {proc.returncode}.")
    return proc


def call(binary: Path, args: list, runner: tuple[str, ...] = ()) -> str:
    """Run rife-bench; returns its stdout."""
    return run_rife_bench(binary, args, runner).stdout


def _save_npy(path: Path, array) -> Path:
    import numpy as np

    np.save(path, np.ascontiguousarray(array, dtype=np.float32))
    return path


def dump(binary: Path, inputs: dict, model_dir: Path | None = None, param: Path | None = None,
         bin_: Path | None = None, output: str = "out0", threads: int = 1, precision: str = "fp32",
         runner: tuple[str, ...] = ()):
    """Run the model on float32 arrays (name -> [C,H,W] or [1,C,H,W]) and return `output` as an array."""
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory(prefix="rife-dump-") as tmp:
        args = ["dump", "--threads", threads, "--precision", precision, "--output", output,
                "--out", Path(tmp) / "out.npy"]
        if model_dir is not None:
            args += ["--model", model_dir]
        else:
            args += ["--param", param] + (["--bin", bin_] if bin_ else [])
        for name in sorted(inputs):
            arr = np.asarray(inputs[name], dtype=np.float32)
            arr = arr[0] if arr.ndim == 4 else arr
            args += ["--input", f"{name}={_save_npy(Path(tmp) / f'{name}.npy', arr)}"]
        call(binary, args, runner)
        return np.load(Path(tmp) / "out.npy")


def interpolate(binary: Path, model_dir: Path, frame0: Path, frame1: Path, out: Path, timestep: float = 0.5,
                threads: int = 1, precision: str = "fp32", runner: tuple[str, ...] = ()) -> Path:
    """PNG/JPEG frames -> interpolated PNG. Pillow converts to/from PPM, the format rife-bench reads."""
    import tempfile

    from PIL import Image, UnidentifiedImageError

    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="rife-interp-") as tmp:
        ppm = []
        for i, frame in enumerate((frame0, frame1)):
            try:
                with Image.open(frame) as img:
                    img.convert("RGB").save(Path(tmp) / f"in{i}.ppm")
            except (OSError, UnidentifiedImageError) as exc:
                raise NativeError(f"Cannot read image {frame} ({exc}); pass a PNG or JPEG file.") from exc
            ppm.append(Path(tmp) / f"in{i}.ppm")
        call(binary, ["interpolate", "--model", model_dir, "--in0", ppm[0], "--in1", ppm[1], "--t", timestep,
                      "--threads", threads, "--precision", precision, "--out", Path(tmp) / "out.ppm"], runner)
        with Image.open(Path(tmp) / "out.ppm") as img, atomic_path(out) as part:
            img.save(part, format="PNG")
    return out


def bench_args(model_dir: Path, width: int, height: int, threads: int, warmup: int, loops: int,
               precision: str) -> list:
    """rife-bench's `bench` command line (shared with the per-layer profile)."""
    return ["bench", "--model", model_dir, "--width", width, "--height", height, "--threads", threads,
            "--warmup", warmup, "--loops", loops, "--precision", precision]


def bench(binary: Path, model_dir: Path, width: int, height: int, threads: int = 1, warmup: int = 1,
          loops: int = 5, precision: str = "fp32", runner: tuple[str, ...] = ()) -> dict:
    """rife-bench bench: per-run latencies, median, min, peak RSS, ncnn version, target."""
    import json

    out = call(binary, bench_args(model_dir, width, height, threads, warmup, loops, precision), runner)
    return json.loads(out)


def verify_model(binary: Path, model_dir: Path, reference_npz: Path, tolerance: float = 1e-3, threads: int = 1,
                 runner: tuple[str, ...] = (), precision: str = "fp32", min_psnr: float | None = None) -> dict:
    """Run the rife.Warp model on a PyTorch reference (npz of in0, in1, in2, out0) and compare.

    Float models pass on max abs error <= tolerance; quantized ones (min_psnr given) on PSNR >= min_psnr.
    """
    import numpy as np

    with np.load(reference_npz) as data:
        inputs = {k: data[k] for k in ("in0", "in1", "in2")}
        ref = data["out0"]
    got = dump(binary, inputs, model_dir=model_dir, threads=threads, precision=precision, runner=runner)
    record = compare(got, ref.reshape(got.shape))
    record.update({"reference": str(reference_npz), "shape": list(got.shape), "precision": precision,
                   **_verdict(record, tolerance, min_psnr)})
    return record


def _verdict(record: dict, tolerance: float, min_psnr: float | None) -> dict:
    if min_psnr is None:
        return {"tolerance": tolerance, "passed": record["max_abs_err"] <= tolerance}
    psnr = record["psnr_db"]
    return {"min_psnr_db": min_psnr, "passed": psnr is None or psnr >= min_psnr}


def provenance(binary: Path, model_dir: Path, references: list[Path], runner: tuple[str, ...] = ()) -> dict:
    """What a verification record was made from: file hashes and rife-bench's own version line."""
    from rifebuild.atomic import sha256_of

    model_dir = Path(model_dir)
    files = [Path(binary), model_dir / "flownet.param", model_dir / "flownet.bin", *map(Path, references)]
    return {"binary": str(binary), "model": str(model_dir),
            "version": call(binary, ["version"], runner).strip(),
            "sha256": {str(f): sha256_of(f) for f in files}}


def _pooled(runs: list[dict]) -> dict:
    """One record from several bench runs of the same configuration: latencies pooled, median over all."""
    import numpy as np

    ms = [m for r in runs for m in r["latency_ms"]]
    cpu = [m for r in runs for m in r.get("cpu_ms", [])]
    merged = {**runs[0], "loops": len(ms), "rounds": len(runs), "latency_ms": ms, "cpu_ms": cpu,
              "median_ms": round(float(np.median(ms)), 3), "min_ms": round(min(ms), 3)}
    if "peak_rss_kb" in runs[0]:
        merged["peak_rss_kb"] = max(r["peak_rss_kb"] for r in runs)
    return merged


def bench_alternating(binary: Path, model_dir: Path, width: int, height: int, threads: list[int], warmup: int,
                      loops: int, rounds: int, precision: str = "fp32", baseline_dir: Path | None = None,
                      stock_dir: Path | None = None, runner: tuple[str, ...] = ()) -> dict:
    """Latency of `model_dir` per thread count, with its baselines timed in turn in the same run.

    Why rounds: on a shared machine the load drifts over seconds; letting the model, the fp32
    baseline (`baseline_dir`) and the ncnn-Python baseline (`stock_dir`) take turns `rounds` times
    exposes them to the same drift, so the ratios hold even when the absolute numbers move.
    """
    runs = {t: {"model": [], "baseline": [], "python": []} for t in threads}
    for _ in range(rounds):
        for t in threads:
            runs[t]["model"].append(bench(binary, model_dir, width, height, t, warmup, loops, precision, runner))
            if baseline_dir:
                runs[t]["baseline"].append(bench(binary, baseline_dir, width, height, t, warmup, loops, "fp32",
                                                 runner))
            if stock_dir:
                runs[t]["python"].append(bench_python_ncnn(Path(stock_dir) / "flownet.param",
                                                           Path(stock_dir) / "flownet.bin", width, height, t,
                                                           warmup, loops))
    model = [_pooled(runs[t]["model"]) for t in threads]
    record = {"rife_bench": model}
    if baseline_dir:
        base = [_pooled(runs[t]["baseline"]) for t in threads]
        record["fp32_baseline"] = base
        record["ratio_vs_fp32"] = [round(m["median_ms"] / b["median_ms"], 3) for m, b in zip(model, base)]
    if stock_dir:
        py = [_pooled(runs[t]["python"]) for t in threads]
        record["ncnn_python"] = py
        record["speedup_vs_python"] = [round(x["median_ms"] / m["median_ms"], 3) for m, x in zip(model, py)]
    return record


def bench_python_ncnn(param: Path, bin_: Path, width: int, height: int, threads: int = 1, warmup: int = 1,
                      loops: int = 5) -> dict:
    """Baseline: the ncnn Python package running a stock (GridSample) model on the same inputs shape.

    The net is loaded (fp32 options) by runner.NcnnSession; only the inference itself is timed.
    """
    import ncnn
    import numpy as np

    from rifebuild.runner import NcnnSession

    rng = np.random.default_rng(0)
    frames = [ncnn.Mat(rng.random((3, height, width), dtype=np.float32)) for _ in range(2)]
    t = ncnn.Mat(np.full((1, height, width), 0.5, np.float32))
    ms, cpu_ms = [], []
    try:
        session = NcnnSession(param, bin_, threads)
    except RuntimeError as exc:
        raise NativeError(f"{exc} with the ncnn Python package; re-export the stock model.") from exc
    with session:
        for i in range(warmup + loops):
            c0 = time.process_time()
            t0 = time.perf_counter()
            with session.net.create_extractor() as ex:
                ex.input("in0", frames[0])
                ex.input("in1", frames[1])
                ex.input("in2", t)
                ex.extract("out0")
            if i >= warmup:
                ms.append((time.perf_counter() - t0) * 1e3)
                cpu_ms.append((time.process_time() - c0) * 1e3)
    return {"runner": "ncnn-python", "ncnn_version": ncnn.__version__, "width": width, "height": height,
            "threads": threads, "latency_ms": [round(m, 3) for m in ms], "cpu_ms": [round(m, 3) for m in cpu_ms],
            "median_ms": round(float(np.median(ms)), 3), "min_ms": round(min(ms), 3)}


def cross_check(host_bin: Path, other_bin: Path, model_dir: Path, runner: tuple[str, ...], height: int = 64,
                width: int = 64, tolerance: float = 1e-3, precision: str = "fp32",
                min_psnr: float | None = None) -> dict:
    """Same seeded inputs through the host binary and another target's binary (e.g. under qemu)."""
    import numpy as np

    rng = np.random.default_rng(0)
    inputs = {"in0": rng.random((3, height, width), dtype=np.float32),
              "in1": rng.random((3, height, width), dtype=np.float32),
              "in2": np.full((1, height, width), 0.5, np.float32)}
    host = dump(host_bin, inputs, model_dir=model_dir, threads=2, precision=precision)
    other = dump(other_bin, inputs, model_dir=model_dir, threads=2, precision=precision, runner=runner)
    record = compare(other, host)
    record.update({"shape": list(host.shape), "precision": precision, **_verdict(record, tolerance, min_psnr)})
    return record


def _cli(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import sys

    from rifebuild import ncnn_source
    from rifebuild.ncnn_source import SourceError

    from rifebuild.config import validate

    config = validate({})
    defaults = config["native"]
    p = argparse.ArgumentParser(prog="python -m rifebuild.native", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    src = argparse.ArgumentParser(add_help=False)
    src.add_argument("--version", default=defaults["ncnn_version"])
    src.add_argument("--sha256", default=defaults["ncnn_sha256"])
    src.add_argument("--url", default=None)
    src.add_argument("--resources", type=Path, default=REPO / "resources", help="download cache folder")
    src.add_argument("--build-dir", type=Path, default=REPO / defaults["build_dir"])
    sub.add_parser("source", parents=[src], help="fetch + unpack the pinned ncnn source; prints its root folder")
    b = sub.add_parser("build", parents=[src], help="build results/native/<target>/rife-bench")
    b.add_argument("--target", required=True, choices=TARGETS)
    b.add_argument("--out", required=True, type=Path)
    b.add_argument("--source-dir", type=Path, help="unpacked ncnn source (default: fetch + unpack the pinned one)")
    b.add_argument("--jobs", type=int, default=defaults["jobs"])
    b.add_argument("--ndk", default=None)
    b.add_argument("--host-isa", default=defaults["host_isa"], choices=["auto", *X86_ISAS])
    b.add_argument("--log", type=Path, default=None)
    i = sub.add_parser("interpolate", help="PNG/JPEG frames -> interpolated PNG")
    i.add_argument("--bin", type=Path, default=REPO / "results/native/host/rife-bench")
    i.add_argument("--model", type=Path, required=True)
    i.add_argument("frame0", type=Path)
    i.add_argument("frame1", type=Path)
    i.add_argument("out", type=Path)
    i.add_argument("--t", type=float, default=0.5)
    i.add_argument("--threads", type=int, default=1)
    i.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"])
    v = sub.add_parser("verify", help="rife.Warp model vs PyTorch references -> JSON")
    v.add_argument("--bin", type=Path, required=True)
    v.add_argument("--model", type=Path, required=True)
    v.add_argument("--out", type=Path, required=True)
    v.add_argument("--tolerance", type=float, default=config["verify"]["fp32_max_abs_err"])
    v.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"])
    v.add_argument("--min-psnr", type=float, default=None, help="pass on PSNR (quantized models) instead of max error")
    v.add_argument("references", type=Path, nargs="+")
    c = sub.add_parser("cross-check", help="another target's binary vs the host binary -> JSON")
    c.add_argument("--host-bin", type=Path, required=True)
    c.add_argument("--bin", type=Path, required=True)
    c.add_argument("--target", required=True, choices=TARGETS)
    c.add_argument("--model", type=Path, required=True)
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"])
    c.add_argument("--min-psnr", type=float, default=None)
    k = sub.add_parser("bench", help="latency JSON for rife-bench (and the ncnn Python baseline)")
    k.add_argument("--bin", type=Path, required=True)
    k.add_argument("--target", default="host", choices=TARGETS)
    k.add_argument("--model", type=Path, required=True)
    k.add_argument("--stock-model", type=Path, default=None, help="GridSample model dir for the Python baseline")
    k.add_argument("--width", type=int, default=1280)
    k.add_argument("--height", type=int, default=736)
    k.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    k.add_argument("--warmup", type=int, default=1)
    k.add_argument("--loops", type=int, default=5)
    k.add_argument("--rounds", type=int, default=defaults["bench"]["rounds"],
                   help="the model and its baselines take turns this many times; latencies are pooled")
    k.add_argument("--precision", default="fp32", choices=["fp32", "fp16", "int8"])
    k.add_argument("--baseline-model", type=Path, default=None,
                   help="fp32 model dir benchmarked alternately in the same run (e.g. fp32 next to int8)")
    k.add_argument("--out", type=Path, required=True)
    f = sub.add_parser("profile", parents=[src],
                       help="per-layer times (NCNN_BENCHMARK build of rife-bench, host only) -> JSON + table")
    f.add_argument("--model", type=Path, required=True)
    f.add_argument("--precision", default="int8", choices=["fp32", "fp16", "int8"])
    f.add_argument("--baseline-model", type=Path, default=None, help="fp32 model dir profiled alternately")
    f.add_argument("--width", type=int, default=1280)
    f.add_argument("--height", type=int, default=736)
    f.add_argument("--threads", type=int, default=2)
    f.add_argument("--warmup", type=int, default=1)
    f.add_argument("--loops", type=int, default=5)
    f.add_argument("--rounds", type=int, default=2)
    f.add_argument("--jobs", type=int, default=defaults["jobs"])
    f.add_argument("--host-isa", default=defaults["host_isa"], choices=["auto", *X86_ISAS])
    f.add_argument("--out", required=True, type=Path)
    a = p.parse_args(argv)
    try:
        if a.cmd == "source":
            cfg = {"ncnn_version": a.version, "ncnn_sha256": a.sha256, "ncnn_url": a.url, "build_dir": a.build_dir}
            print(ncnn_source_root(cfg, a.resources))
        elif a.cmd == "build":
            cfg = {"ncnn_version": a.version, "ncnn_sha256": a.sha256, "ncnn_url": a.url, "build_dir": a.build_dir}
            root = ncnn_source.source_root(a.source_dir) if a.source_dir else ncnn_source_root(cfg, a.resources)
            info = build_target(a.target, root, a.version, a.out, a.build_dir, a.jobs, a.ndk, a.log, a.host_isa)
            print(json.dumps(info))
        elif a.cmd == "interpolate":
            interpolate(a.bin, a.model, a.frame0, a.frame1, a.out, a.t, a.threads, a.precision)
        elif a.cmd == "verify":
            records = [verify_model(a.bin, a.model, r, a.tolerance, threads=2, precision=a.precision,
                                    min_psnr=a.min_psnr) for r in a.references]
            if not all(r["passed"] for r in records):
                bound = f"PSNR {a.min_psnr} dB" if a.min_psnr is not None else f"max abs error {a.tolerance}"
                raise NativeError(f"rife-bench {a.precision} output vs PyTorch misses {bound}: "
                                  + ", ".join(f"{r['max_abs_err']:.2e} / {r['psnr_db']} dB" for r in records))
            atomic_write_json(a.out, {**provenance(a.bin, a.model, a.references), "checks": records, "passed": True})
        elif a.cmd == "cross-check":
            runner = runner_for(a.target)
            rec = cross_check(a.host_bin, a.bin, a.model, runner, precision=a.precision, min_psnr=a.min_psnr)
            if not rec["passed"]:
                raise NativeError(f"{a.target} {a.precision} output differs from host by {rec['max_abs_err']:.2e}"
                                  f" ({rec['psnr_db']} dB)")
            atomic_write_json(a.out, {**provenance(a.bin, a.model, [], runner), "host_binary": str(a.host_bin), **rec})
        elif a.cmd == "bench":
            record = bench_alternating(a.bin, a.model, a.width, a.height, a.threads, a.warmup, a.loops, a.rounds,
                                       a.precision, a.baseline_model, a.stock_model, runner_for(a.target))
            atomic_write_json(a.out, record)
        elif a.cmd == "profile":
            from rifebuild import native_profile

            cfg = {"ncnn_version": a.version, "ncnn_sha256": a.sha256, "ncnn_url": a.url, "build_dir": a.build_dir}
            binary = Path(a.build_dir) / "host-profile" / "rife-bench"
            build_target("host", ncnn_source_root(cfg, a.resources), a.version, binary, a.build_dir, a.jobs,
                         isa=a.host_isa, profile=True)
            record = native_profile.profile(binary, a.model, a.precision, a.baseline_model, a.width, a.height,
                                            a.threads, a.warmup, a.loops, a.rounds)
            atomic_write_json(a.out, record)
            print(native_profile.format_profile(record), end="")
    except (NativeError, SourceError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    # Run the CLI of the imported module, not of this __main__ copy: helpers in other modules
    # (native_profile) raise rifebuild.native.NativeError, which _cli must catch as the same class.
    from rifebuild.native import _cli as _module_cli

    raise SystemExit(_module_cli())
