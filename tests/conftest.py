"""Shared fixtures: a synthetic checkpoint and its real pnnx conversion at a tiny size."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from rifebuild.checkpoint import load as weights
from rifebuild.export import trace as export
from rifebuild.ncnn import pnnx

REPO = Path(__file__).resolve().parent.parent
PROXY = REPO.parent / "shared" / "fixtures" / "rife-v4.6-proxy" / "flownet.pkl"
TINY_H, TINY_W = 64, 96


def skip_unless_ci(reason: str) -> None:
    """Skip a test whose tool or download is missing here, but fail it in CI (CI=true): a CI run that
    skipped the native build would report green without having built anything."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a missing prerequisite fails instead of skipping)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def synthetic_ckpt(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "flownet.pkl"
    weights.save_state_dict(weights.synthetic_state_dict(0), path)
    return path


@pytest.fixture(scope="session")
def net(synthetic_ckpt):
    return weights.load_ifnet(synthetic_ckpt)


@pytest.fixture(scope="session")
def pnnx_model(tmp_path_factory, net) -> tuple[Path, Path]:
    """pnnx's own ncnn output (GridSample warps at TINY_H x TINY_W)."""
    work = tmp_path_factory.mktemp("pnnx")
    export.export_torchscript(net, TINY_H, TINY_W, work / "flownet.pt")
    pnnx.convert_with_pnnx(work / "flownet.pt", TINY_H, TINY_W, work / "flownet.param", work / "flownet.bin")
    return work / "flownet.param", work / "flownet.bin"
