"""native.build: keyed CMake trees in a shared native.build_dir and the lock around each tree; nihui's
client (native.rife_ncnn_vulkan) built once per sdist and compiler in the same way.

A fake `cmake` on PATH records its calls and writes the files a real build would (no compiles).
"""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path

import pytest

from rifebuild.core.errors import NativeError
from rifebuild.native import build as nb
from rifebuild.native import rife_ncnn_vulkan as client

FAKE_CMAKE = r'''#!{python}
import json, os, pathlib, sys, time
args = sys.argv[1:]
log = pathlib.Path(os.environ["FAKE_CMAKE_LOG"])
start = time.time()
if args[0] == "-S":
    src, build, rest = pathlib.Path(args[1]), pathlib.Path(args[3]), args[4:]
    build.mkdir(parents=True, exist_ok=True)
    (build / "CMakeCache.txt").write_text(json.dumps({{"src": str(src), "args": rest}}))
elif args[0] == "--build":
    build = pathlib.Path(args[1])
    cache = json.loads((build / "CMakeCache.txt").read_text())
    time.sleep(float(os.environ.get("FAKE_CMAKE_SLEEP", "0")))
    name = "rife-bench" if (pathlib.Path(cache["src"]) / "rife_bench.cpp").exists() else "libncnn.a"
    name = args[args.index("--target") + 1] if "--target" in args else name
    (build / name).write_text("built from " + cache["src"])
elif args[0] == "--install":
    build = pathlib.Path(args[1])
    cache = json.loads((build / "CMakeCache.txt").read_text())
    prefix = next(a.split("=", 1)[1] for a in cache["args"] if a.startswith("-DCMAKE_INSTALL_PREFIX="))
    (pathlib.Path(prefix) / "lib/cmake/ncnn").mkdir(parents=True, exist_ok=True)
    (pathlib.Path(prefix) / "lib/libncnn.a").write_text((build / "libncnn.a").read_text())
with open(log, "a") as f:
    f.write(json.dumps({{"args": args, "start": start, "end": time.time()}}) + "\n")
'''


@pytest.fixture()
def cmake(tmp_path, monkeypatch):
    """The fake cmake first on PATH; returns a function listing its recorded calls."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    exe = bin_dir / "cmake"
    exe.write_text(FAKE_CMAKE.format(python=sys.executable))
    exe.chmod(0o755)
    calls = tmp_path / "cmake-calls.jsonl"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_CMAKE_LOG", str(calls))

    def recorded() -> list[dict]:
        return [json.loads(line) for line in calls.read_text().splitlines()] if calls.exists() else []

    return recorded


def _ncnn_source(root):
    (root / "src").mkdir(parents=True)
    (root / "CMakeLists.txt").write_text("project(ncnn)\n")
    (root / "src/CMakeLists.txt").write_text("ncnn_add_layer(Input)\nncnn_add_layer(Convolution)\n")
    return root


def _clone(root, monkeypatch):
    """A working directory's native/ folder (what NATIVE_SRC points at in that clone)."""
    root.mkdir(parents=True)
    (root / "rife_bench.cpp").write_text("int main() {}\n")
    monkeypatch.setattr(nb, "NATIVE_SRC", root)
    return root


def _build(ncnn_root, out, build_dir, **kw):
    return nb.build_target("host", ncnn_root, "1.0.20990101", out, build_dir, jobs=1, isa="avx2", **kw)


def test_tree_key_depends_on_source_and_args(tmp_path):
    a, b = tmp_path / "clone-a/native", tmp_path / "clone-b/native"
    assert nb.tree_key(a, ["-DX=1"]) == nb.tree_key(a, ["-DX=1"])
    assert len({nb.tree_key(a, ["-DX=1"]), nb.tree_key(b, ["-DX=1"]), nb.tree_key(a, ["-DX=2"])}) == 3


def test_two_clones_sharing_a_build_dir_keep_their_own_trees(cmake, tmp_path, monkeypatch):
    shared = tmp_path / "shared-build"
    ncnn_a, ncnn_b = _ncnn_source(tmp_path / "a/src-ncnn"), _ncnn_source(tmp_path / "b/src-ncnn")
    _clone(tmp_path / "clone-a/native", monkeypatch)
    _build(ncnn_a, tmp_path / "out-a/rife-bench", shared)
    _clone(tmp_path / "clone-b/native", monkeypatch)
    _build(ncnn_b, tmp_path / "out-b/rife-bench", shared)

    host = shared / "host"
    ncnn_trees = sorted(host.glob("ncnn-*"))
    bench_trees = sorted(host.glob("rife-bench-*"))
    assert len(ncnn_trees) == 2 and len(bench_trees) == 2  # keyed: neither build replaced the other's tree
    assert {(t / "build/libncnn.a").read_text() for t in ncnn_trees} == {f"built from {ncnn_a}", f"built from {ncnn_b}"}
    assert (tmp_path / "out-a/rife-bench").read_text() == f"built from {tmp_path / 'clone-a/native'}"
    assert (tmp_path / "out-b/rife-bench").read_text() == f"built from {tmp_path / 'clone-b/native'}"

    # clone a again: its trees are still configured, so cmake only builds (no -S/-B re-configure)
    monkeypatch.setattr(nb, "NATIVE_SRC", tmp_path / "clone-a/native")
    before = len(cmake())
    _build(ncnn_a, tmp_path / "out-a/rife-bench", shared)
    again = [c["args"][0] for c in cmake()[before:]]
    assert again == ["--build", "--install", "--build"]


def test_configure_never_deletes_a_tree_of_another_source(cmake, tmp_path):
    build = tmp_path / "tree/build"
    with open(tmp_path / "log", "w") as log:
        nb.configure(tmp_path / "src-a", build, ["-DX=1"], log)
        (build / "object.o").write_text("precious")
        with pytest.raises(NativeError, match=r"was configured from .*src-a, not .*src-b; it belongs to another"):
            nb.configure(tmp_path / "src-b", build, ["-DX=1"], log)
    assert (build / "object.o").read_text() == "precious"


def test_file_lock_serialises_threads(tmp_path):
    lock = tmp_path / "tree" / nb.LOCK
    events = []

    def hold(name, pause):
        with nb.file_lock(lock):
            events.append((name, "in", time.monotonic()))
            time.sleep(pause)
            events.append((name, "out", time.monotonic()))

    first = threading.Thread(target=hold, args=("first", 0.3))
    first.start()
    time.sleep(0.05)
    second = threading.Thread(target=hold, args=("second", 0))
    second.start()
    first.join()
    second.join()
    assert [e[:2] for e in events] == [("first", "in"), ("first", "out"), ("second", "in"), ("second", "out")]


def test_file_lock_serialises_processes(tmp_path):
    import subprocess

    lock = tmp_path / nb.LOCK
    code = ("import sys, time; from rifebuild.native.build import file_lock\n"
            "with file_lock(sys.argv[1]):\n    print('in', flush=True); time.sleep(0.5)\n")
    holder = subprocess.Popen([sys.executable, "-c", code, str(lock)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "in"
    t0 = time.monotonic()
    log = tmp_path / "build.log"
    with open(log, "w") as f, nb.file_lock(lock, log=f):
        waited = time.monotonic() - t0
    holder.wait(timeout=10)
    assert waited > 0.2
    assert f"# waiting for {lock}: another process holds it" in log.read_text()


def test_concurrent_builds_of_one_tree_take_turns(cmake, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_CMAKE_SLEEP", "0.3")
    ncnn = _ncnn_source(tmp_path / "src-ncnn")
    _clone(tmp_path / "clone/native", monkeypatch)
    errors = []

    def build(i):
        try:
            _build(ncnn, tmp_path / f"out-{i}/rife-bench", tmp_path / "shared", log_path=tmp_path / f"{i}.log")
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=build, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    calls = cmake()
    assert sum(c["args"][0] == "-S" for c in calls) == 2  # one ncnn + one rife-bench configure in all
    ncnn_builds = sorted((c["start"], c["end"]) for c in calls if c["args"][0] == "--build"
                         and "/ncnn-" in c["args"][1])
    assert len(ncnn_builds) == 2 and ncnn_builds[0][1] <= ncnn_builds[1][0]  # never at the same time
    assert all((tmp_path / f"out-{i}/rife-bench").is_file() for i in range(2))


def test_clones_share_the_linux_arm64_libncnn_tree(tmp_path, monkeypatch):
    """The cross toolchain file lives in each clone's native/cmake/: its path must not key the libncnn tree
    (failed before: every clone sharing native.build_dir recompiled libncnn for linux-arm64)."""
    from rifebuild.native import targets

    ncnn = _ncnn_source(tmp_path / "src-ncnn")
    trees = []
    for clone in ("clone-a", "clone-b"):
        native = tmp_path / clone / "native"
        (native / "cmake").mkdir(parents=True)
        (native / "cmake/aarch64-linux-gnu.toolchain.cmake").write_text("set(CMAKE_SYSTEM_NAME Linux)\n")
        monkeypatch.setattr(targets, "NATIVE_SRC", native)
        monkeypatch.setattr(nb, "NATIVE_SRC", native)
        tree, args = nb.ncnn_tree(targets.target_spec("linux-arm64"), ncnn, "1.0.20990101", tmp_path / "shared")
        toolchain = next(a.split("=", 1)[1] for a in args if a.startswith("-DCMAKE_TOOLCHAIN_FILE="))
        assert tmp_path / "shared" in Path(toolchain).parents
        assert Path(toolchain).read_text() == "set(CMAKE_SYSTEM_NAME Linux)\n"
        trees.append(tree)
    assert trees[0] == trees[1]
    # a changed toolchain is another tree
    (tmp_path / "clone-b/native/cmake/aarch64-linux-gnu.toolchain.cmake").write_text("set(X 1)\n")
    assert nb.ncnn_tree(targets.target_spec("linux-arm64"), ncnn, "1.0.20990101", tmp_path / "shared")[0] != trees[0]


def _fake_compiler(folder: Path, version: str, probe_status: int = 0) -> Path:
    """A C++ compiler stand-in: `--version` prints `version`; the Vulkan header probe (-E) exits `probe_status`."""
    folder.mkdir(parents=True, exist_ok=True)
    exe = folder / "fake-c++"
    exe.write_text(f'#!/bin/sh\ncase "$1" in --version) echo "{version}";; -E) exit {probe_status};; esac\n')
    exe.chmod(0o755)
    return exe


def _client_unpack(build_dir: Path) -> Path:
    """What client_source leaves in the build dir: the sdist unpacked, marked complete with its sha256."""
    unpack = build_dir / f"src-{client.SDIST_SHA256[:12]}"
    (unpack / client.CLIENT_SRC).mkdir(parents=True)
    (unpack / client.CLIENT_SRC / "main.cpp").write_text("int main() {}\n")
    (unpack / ".complete").write_text(f"{client.SDIST_SHA256}  sdist.tar.gz\n")
    return unpack


def test_client_is_built_once_per_sdist_and_compiler(cmake, tmp_path, monkeypatch):
    build_dir = tmp_path / "build"
    _client_unpack(build_dir)
    monkeypatch.setenv("CXX", str(_fake_compiler(tmp_path / "gcc12", "g++ 12.2.0")))
    binary = client.build_client(build_dir, jobs=1)
    assert binary.parent.parent == (build_dir / "host").resolve() and binary.read_text().startswith("built from")
    builds = [c["args"] for c in cmake() if c["args"][0] == "--build"]
    assert builds == [["--build", str(binary.parent / "build"), "--target", "rife-ncnn-vulkan", "-j", "1"]]
    assert client.build_client(build_dir, jobs=1) == binary and len(cmake()) == 2  # cached: cmake not run again
    monkeypatch.setenv("CXX", str(_fake_compiler(tmp_path / "gcc13", "g++ 13.1.0")))
    other = client.build_client(build_dir, jobs=1)
    assert other != binary and other.is_file() and len(cmake()) == 4  # another compiler: its own tree


def test_client_build_names_missing_vulkan_headers(cmake, tmp_path, monkeypatch):
    _client_unpack(tmp_path / "build")
    monkeypatch.setenv("CXX", str(_fake_compiler(tmp_path / "cc", "g++ 12.2.0", probe_status=1)))
    assert client.missing_prerequisites() == ["the Vulkan headers (Debian: libvulkan-dev)"]
    with pytest.raises(NativeError, match=r"^rife-ncnn-vulkan cannot be built here: the Vulkan headers \(Debian: "
                                          r"libvulkan-dev\) missing \(make setup-dev\)$"):
        client.build_client(tmp_path / "build")
    assert cmake() == []
