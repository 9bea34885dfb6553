"""Compile the slim static libncnn and rife-bench for one target (CMake; incremental re-runs)."""
from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

from rifebuild.core.errors import NativeError
from rifebuild.core.files import atomic_path
from rifebuild.native.targets import NATIVE_SRC, Target, ncnn_cmake_options, profiling_variant, target_spec


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
