"""Compile the slim static libncnn and rife-bench for one target (CMake; incremental re-runs).

native.build_dir may be shared by several working directories (clones). Each CMake tree is therefore
keyed by what it builds: <build_dir>/<target>/ncnn-<key> from the ncnn source path + configure args,
<build_dir>/<target>/rife-bench-<key> from this clone's native/ path + its args (which name the ncnn
install it links). Two clones never reconfigure, or delete, each other's trees; two builds of the same
tree take turns through an exclusive flock on its `rifebuild.lock`.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

from rifebuild.core.errors import NativeError
from rifebuild.core.files import atomic_path, file_lock
from rifebuild.native.source import source_in_use
from rifebuild.native.targets import NATIVE_SRC, Target, ncnn_cmake_options, profiling_variant, target_spec

LOCK = "rifebuild.lock"
STAMP = "rifebuild-configure.args"


def run_logged(cmd: list[str], log, cwd: Path | None = None) -> None:
    log.write("$ " + " ".join(map(str, cmd)) + "\n")
    log.flush()
    proc = subprocess.run(list(map(str, cmd)), check=False, stdout=log, stderr=subprocess.STDOUT, cwd=cwd)
    if proc.returncode != 0:
        raise NativeError(f"Command failed ({proc.returncode}): {' '.join(map(str, cmd))}; see {log.name}.")


def tree_key(src: Path, args: list[str]) -> str:
    """A short hash of what a CMake tree builds: its source folder and its configure arguments."""
    return hashlib.sha256("\n".join([str(src), *map(str, args)]).encode()).hexdigest()[:16]


def configure(src: Path, build: Path, args: list[str], log) -> None:
    """cmake -S/-B, skipped when the same arguments configured this folder before.

    The folder is never deleted: its name is keyed by `src` + `args` (tree_key), so a folder configured
    from another source is another build's tree (a shared native.build_dir), not a stale one.
    """
    stamp = build / STAMP
    want = "\n".join([str(src), *map(str, args)]) + "\n"
    have = stamp.read_text() if stamp.exists() else None
    if have == want and (build / "CMakeCache.txt").exists():
        return
    configured_from = have.split("\n", 1)[0] if have is not None else str(src)
    if configured_from != str(src):  # only on a tree_key collision: never delete another build's tree
        raise NativeError(f"{build} was configured from {configured_from}, not {src}; it belongs to another "
                          "build: delete it, or set native.build_dir to a folder of this checkout")
    build.mkdir(parents=True, exist_ok=True)
    run_logged(["cmake", "-S", src, "-B", build, *args], log)
    stamp.write_text(want)


def shared_toolchain_args(cmake_args: tuple[str, ...], build_root: Path) -> list[str]:
    """`cmake_args` with a toolchain file from this clone's native/ replaced by a copy named by its content
    in `build_root`/toolchains: clones sharing native.build_dir then key (and reuse) one libncnn tree."""
    out = []
    for arg in cmake_args:
        name, _, value = arg.partition("=")
        if name == "-DCMAKE_TOOLCHAIN_FILE" and Path(value).is_relative_to(NATIVE_SRC):
            data = Path(value).read_bytes()
            copy = Path(build_root) / "toolchains" / f"{hashlib.sha256(data).hexdigest()[:16]}-{Path(value).name}"
            if not copy.is_file():
                with atomic_path(copy) as tmp:
                    tmp.write_bytes(data)
            arg = f"{name}={copy}"
        out.append(arg)
    return out


def ncnn_tree(target: Target, ncnn_root: Path, version: str, build_root: Path) -> tuple[Path, list[str]]:
    """The keyed folder of the slim libncnn build for `target` and its configure args (less the prefix)."""
    args = [*shared_toolchain_args(target.cmake_args, build_root), *ncnn_cmake_options(target, ncnn_root, version)]
    return Path(build_root) / f"ncnn-{tree_key(ncnn_root, args)}", args


def build_ncnn(target: Target, ncnn_root: Path, version: str, build_root: Path, jobs: int, log) -> Path:
    """Configure, build and install the slim libncnn; returns the install prefix."""
    tree, args = ncnn_tree(target, ncnn_root, version, build_root)
    prefix = tree / "install"
    with file_lock(tree / LOCK, log=log):
        configure(ncnn_root, tree / "build", [*args, f"-DCMAKE_INSTALL_PREFIX={prefix}"], log)
        run_logged(["cmake", "--build", tree / "build", "-j", str(jobs)], log)
        run_logged(["cmake", "--install", tree / "build"], log)
    return prefix


def build_rife_bench(target: Target, prefix: Path, build_root: Path, jobs: int, log,
                     out_bin: Path | None = None) -> Path:
    """Configure and build native/ (rife.Warp + rife-bench) against the installed libncnn; with `out_bin`,
    copy the binary there atomically before another build of the same tree may replace it."""
    cmake_dir = next(Path(prefix).glob("lib*/cmake/ncnn"), None)
    if cmake_dir is None:
        raise NativeError(f"{prefix} holds no lib*/cmake/ncnn after the ncnn install; see {log.name}.")
    args = [*target.cmake_args, "-DCMAKE_BUILD_TYPE=Release", f"-Dncnn_DIR={cmake_dir}",
            f"-DRIFE_TARGET={target.name}", *(["-DRIFE_VULKAN=ON"] if target.vulkan else [])]
    tree = Path(build_root) / f"rife-bench-{tree_key(NATIVE_SRC, args)}"
    # shared on the ncnn tree: its install must not change while rife-bench links against it
    with file_lock(Path(prefix).parent / LOCK, shared=True, log=log), file_lock(tree / LOCK, log=log):
        configure(NATIVE_SRC, tree / "build", args, log)
        run_logged(["cmake", "--build", tree / "build", "-j", str(jobs)], log)
        binary = tree / "build" / "rife-bench"
        if out_bin is not None:
            with atomic_path(out_bin) as tmp:
                shutil.copy2(binary, tmp)
    return binary


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
    with open(log_path, "a") as log, source_in_use(ncnn_root, log=log):
        t0 = time.monotonic()
        prefix = build_ncnn(target, ncnn_root, version, build_root, jobs, log)
        t1 = time.monotonic()
        build_rife_bench(target, prefix, build_root, jobs, log, out_bin=Path(out_bin))
        t2 = time.monotonic()
    out_bin = Path(out_bin)
    return {"target": target.name, "ncnn_s": round(t1 - t0, 1), "rife_bench_s": round(t2 - t1, 1),
            "size_bytes": out_bin.stat().st_size}
