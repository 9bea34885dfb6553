"""The same bytes on any x86-64 runner: the calibration frames and the int8 stage (calibrate,
sensitivity, quantize) give identical files under AVX-512, AVX2 and SSE2 code paths.

Nightly matrix jobs land on AMD or Intel runners with or without AVX-512. What could move with the CPU:
- torch and numpy (the rendered calibration frames, the KL search): switched here by their own ISA
  controls (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA, NPY_DISABLE_CPU_FEATURES);
- ncnn (every activation the table is computed from): the int8 stage takes them from rife-bench's
  reference build, run here under `qemu-x86_64-static -cpu Haswell-v4` (AVX2, no AVX-512) and `-cpu
  Nehalem` (no AVX), so glibc's CPU-selected routines and any stray AVX instruction are exercised too.
(Python itself is not run under qemu: qemu 7.2's AVX2 emulation returns wrong results for torch's
vectorized float32 grid_sample, and TCG makes the KL search minutes long.)
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, _build_native, skip_unless_ci

from rifebuild.ncnn import graph

pytestmark = pytest.mark.e2e

# name: (qemu CPU model for rife-bench or None = this machine, torch capability, oneDNN ISA cap, the
# highest numpy dispatch level kept)
ISAS = {
    "native": (None, None, None, None),
    "avx2": ("Haswell-v4", "avx2", "AVX2", "X86_V3"),
    "sse2": ("Nehalem", "default", "SSE41", "X86_V2"),
}
NUMPY_LEVELS = ("X86_V2", "X86_V3", "X86_V4", "AVX512_ICL", "AVX512_SPR")
QEMU = "qemu-x86_64-static"
SIZE = "32x64"  # calibration frames: small, since rife-bench runs ~45 times per ISA under TCG


def isa_env(name: str) -> dict:
    _, aten, onednn, numpy_level = ISAS[name]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if aten:
        import numpy._core._multiarray_umath as umath

        keep = NUMPY_LEVELS[: NUMPY_LEVELS.index(numpy_level) + 1]
        env.update(ATEN_CPU_CAPABILITY=aten, ONEDNN_MAX_CPU_ISA=onednn,
                   NPY_DISABLE_CPU_FEATURES=" ".join(f for f in umath.__cpu_dispatch__ if f not in keep))
    return env


def rifebuild(*args) -> list[str]:
    return [sys.executable, "-m", "rifebuild", "--threads=1", *map(str, args)]


def digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_all(commands: dict[str, list[list[str]]], log: Path) -> None:
    """Each ISA's command list in its own process chain, the ISAs in parallel (2 cores here)."""
    procs = {}
    for name, steps in commands.items():
        script = " && ".join(subprocess.list2cmdline(s) for s in steps)
        procs[name] = subprocess.Popen(["bash", "-c", script], env=isa_env(name), stdout=open(log / f"{name}.log", "w"),
                                       stderr=subprocess.STDOUT)
    for name, proc in procs.items():
        assert proc.wait() == 0, (log / f"{name}.log").read_text()[-3000:]


@pytest.fixture(scope="module")
def reference_bench(ncnn_root, tmp_path_factory) -> Path:
    if shutil.which(QEMU) is None:
        skip_unless_ci(f"{QEMU} is not installed (make setup-dev): the AVX2/SSE2 paths cannot be run")
    binary = _build_native("reference", ncnn_root, tmp_path_factory.mktemp("reference") / "rife-bench")
    for name, (cpu, *_) in ISAS.items():
        if cpu:  # rife-bench under this CPU model: a wrapper, since calibrate runs it as one command
            wrapper = binary.parent / f"rife-bench-{name}"
            wrapper.write_text(f'#!/bin/sh\nexec {QEMU} -cpu {cpu} {binary} "$@"\n')
            wrapper.chmod(0o755)
    return binary


@pytest.fixture(scope="module")
def calibration_frames(tmp_path_factory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("frames")
    args = ["calibration", "data", "--source=builtin", f"--resolution={SIZE}", "--calibration-size=2",
            "--evaluation-size=1", "--seed=0", "--max-motion=3", "--eval-resolution", SIZE, "64x96"]
    run_all({name: [rifebuild(*args, f"--out={work / name}")] for name in ISAS}, work)
    return {name: work / name for name in ISAS}


def test_calibration_frames_are_the_same_bytes_on_every_isa(calibration_frames):
    native = digests(calibration_frames["native"])
    assert len(native) >= 12  # 4 triplets x 3 PNG frames, plus the manifest
    for name in ("avx2", "sse2"):
        assert digests(calibration_frames[name]) == native, f"{name} rendered other calibration frames"


def test_int8_stage_is_the_same_bytes_on_every_isa(reference_bench, calibration_frames, converted, tmp_path):
    model = tmp_path / "fp32"
    model.mkdir()
    graph.write(converted("rife-v4.6").model, model / "flownet.param", model / "flownet.bin")
    data = calibration_frames["native"]
    commands = {}
    for name, (cpu, *_) in ISAS.items():
        bench = reference_bench if cpu is None else reference_bench.parent / f"rife-bench-{name}"
        out = tmp_path / name
        out.mkdir()
        m = ["--param", model / "flownet.param", "--bin", model / "flownet.bin"]
        commands[name] = [
            rifebuild("int8", "calibrate", *m, "--data", data, "--method", "kl", "--reference-bench", bench,
                      "--out-table", out / "flownet.table", "--out-json", out / "calibration.json"),
            rifebuild("int8", "sensitivity", *m, "--table", out / "flownet.table", "--data", data, "--frames", 1,
                      "--keep-float", 1, "--reference-bench", bench, "--out", out / "sensitivity.tsv"),
            rifebuild("int8", "quantize", *m, "--table", out / "flownet.table", "--sensitivity",
                      out / "sensitivity.tsv", "--keep-float", 1, "--out-param", out / "flownet.param",
                      "--out-bin", out / "flownet.bin", "--out-json", out / "quantize.json"),
        ]
    run_all(commands, tmp_path)
    files = ("flownet.table", "sensitivity.tsv", "flownet.param", "flownet.bin", "quantize.json")
    native = {f: hashlib.sha256((tmp_path / "native" / f).read_bytes()).hexdigest() for f in files}
    print("int8 stage sha256:", native)
    for name in ("avx2", "sse2"):
        other = {f: hashlib.sha256((tmp_path / name / f).read_bytes()).hexdigest() for f in files}
        assert other == native, f"the int8 stage under {name} wrote other files"
    assert (tmp_path / "native" / "sensitivity.tsv").read_text().count("\n") > 10  # it really ranked layers
    record = json.loads((tmp_path / "native" / "calibration.json").read_text())
    assert record["activations"] == "reference build"  # not the ncnn Python package on this CPU
