"""Our IFNet against an independent reference: vs-rife's own IFNet code of every version (tests/oracle.py).

Every gate downstream compares an artifact with our PyTorch IFNet; if that IFNet differed from the
upstream code in one detail, every gate would pass and every artifact of that version would be wrong
with the official weights. So: per version, the synthetic checkpoint holds exactly the keys and shapes
vs-rife's IFNet expects (an official checkpoint vs-rife loads loads here strictly), and both nets give
the same frame on the same weights and inputs at two sizes, ensemble on and off where the version has it.

Fast tier: the key layouts of all 36 versions (meta device, no compute) and the outputs of three
architectures (the oldest shape-changing features: PixelShuffle heads and mask accumulation in 4.6,
the lite encoder in 4.17-lite, five blocks and block features in 4.25). Slow tier (`-m slow`): the
outputs of all 36 versions, each through its own vs-rife file (aliases share our architecture, not
vs-rife's file).
"""
import dataclasses

import oracle
import pytest
import torch

from rifebuild.checkpoint import load as checkpoint
from rifebuild.evaluate.reference import fixed_inputs
from rifebuild.model import spec
from rifebuild.model.ifnet import IFNet
from rifebuild.report.family import check_sizes, max_abs_error

TOLERANCE = 1e-5  # max |ours - vs-rife| on a frame in [0, 1]: the same float32 ops in the same order
EXPORT_TOLERANCE = 1e-4  # max |ncnn fp32 - PyTorch|: other kernels, other summation order (measured ~3e-6)
FAST = ("rife-v4.6", "rife-v4.17-lite", "rife-v4.25")
VERSIONS = list(spec.VERSIONS)


def _tiers():
    for name in VERSIONS:
        marks = () if name in FAST else (pytest.mark.slow,)
        yield pytest.param(name, id=name, marks=marks)


@pytest.mark.parametrize("name", VERSIONS)
def test_synthetic_checkpoint_has_the_keys_and_shapes_vs_rife_expects(name):
    version = spec.get(name)
    state = checkpoint.inference_state(checkpoint.synthetic_state_dict(0, name))
    ours = {k: tuple(v.shape) for k, v in state.items()}
    assert ours == oracle.expected_layout(version)
    assert checkpoint.layout(version.arch) == ours  # our IFNet's own module tree is the same layout


def test_vs_rife_pads_each_version_to_our_padding_multiple():
    """vs-rife's modulo per version (64 for 4.25/4.26, 128 for 4.25-lite, else 32) equals the spec's."""
    pads = {name: spec.get(name).arch.padding for name in VERSIONS}
    assert {n for n, p in pads.items() if p == 64} == {"rife-v4.25", "rife-v4.25-heavy", "rife-v4.26",
                                                        "rife-v4.26-heavy"}
    assert [n for n, p in pads.items() if p == 128] == ["rife-v4.25-lite"]


def _frame_pair(h: int, w: int, t: float):
    inputs = fixed_inputs(h, w, seed=2, timestep=t)
    return tuple(torch.from_numpy(inputs[k])[None] for k in ("in0", "in1", "in2"))


def max_difference(name: str, ensemble: bool, net_factory=IFNet) -> float:
    """Worst |ours - vs-rife| over the version's two check sizes, same synthetic weights and inputs."""
    version = spec.get(name)
    state = checkpoint.synthetic_state_dict(0, name)
    ours = net_factory(version.arch, ensemble=ensemble)
    ours.load_state_dict(checkpoint.inference_state(state), strict=True)
    ours.eval()
    theirs = oracle.load(version, state, ensemble)
    worst = 0.0
    for (h, w), t in zip(check_sizes(version.arch.padding), (0.5, 0.3)):
        img0, img1, timestep = _frame_pair(h, w, t)
        with torch.inference_mode():
            a = ours(img0, img1, timestep)
        b = oracle.run(theirs, img0, img1, timestep)
        assert a.shape == b.shape == img0.shape and torch.isfinite(a).all()
        worst = max(worst, (a - b).abs().max().item())
    return worst


@pytest.mark.parametrize("name", list(_tiers()))
def test_our_ifnet_gives_vs_rifes_frame(name):
    version = spec.get(name)
    modes = (False, True) if version.arch.ensemble else (False,)
    for ensemble in modes:
        diff = max_difference(name, ensemble)
        assert diff <= TOLERANCE, f"{name} ensemble={ensemble}: max |ours - vs-rife| = {diff}"


def test_versions_without_ensemble_refuse_it_in_both():
    version = spec.get("rife-v4.22")
    with pytest.raises(ValueError):
        IFNet(version.arch, ensemble=True)
    with pytest.raises(ValueError):
        oracle.ifnet_class(version)(1.0, True)


class _FramesSwappedAfterBlock0(IFNet):
    """Our IFNet with one detail changed: later blocks see the warped frames concatenated in the other order."""

    def _step(self, block, first, frames, *rest):
        return super()._step(block, first, frames if first else frames[::-1], *rest)


def _coarsest_scale_halved(arch, ensemble=False):
    """Our IFNet with one detail changed: block0 runs at half its scale."""
    return IFNet(dataclasses.replace(arch, scales=(arch.scales[0] // 2, *arch.scales[1:])), ensemble=ensemble)


@pytest.mark.parametrize("mutant", [_FramesSwappedAfterBlock0, _coarsest_scale_halved], ids=["concat-order", "scale"])
def test_the_oracle_catches_one_changed_detail(mutant):
    """The check above has teeth: one concat order or one scale changed in our IFNet fails it by far."""
    assert max_difference("rife-v4.6", False, mutant) > 1000 * TOLERANCE


def test_an_ensemble_export_gives_vs_rifes_ensemble_frame(tmp_path, converted):
    """The ensemble variant's drop-in model (pnnx, the rife.Warp rewrite, as the workflow builds
    rife-v4.6-ensemble/) run by ncnn equals vs-rife's ensemble forward on the same weights, at both check
    sizes: the export, not only our IFNet, is checked against the independent reference."""
    converted = converted("rife-v4.6-ensemble")
    assert converted.net.ensemble and sum(layer.type == "rife.Warp" for layer in converted.model.layers) == 8
    theirs = oracle.load(converted.version, checkpoint.synthetic_state_dict(0, "rife-v4.6"), ensemble=True)
    for i, (h, w) in enumerate(check_sizes(converted.version.arch.padding)):
        # our ncnn model against our PyTorch ensemble, then our PyTorch ensemble against vs-rife's
        assert max_abs_error(converted.model, converted.net, h, w, tmp_path / f"ncnn{i}") <= EXPORT_TOLERANCE
        inputs = fixed_inputs(h, w, seed=1, timestep=0.3)  # max_abs_error's inputs
        img0, img1, timestep = (torch.from_numpy(inputs[k])[None] for k in ("in0", "in1", "in2"))
        with torch.inference_mode():
            ours = converted.net(img0, img1, timestep)
        assert (ours - oracle.run(theirs, img0, img1, timestep)).abs().max().item() <= TOLERANCE
