"""The RIFE v4 family as data: one architecture spec per published version, and its names.

Every v4 version is the same coarse-to-fine IFNet (IFBlocks at decreasing scales, each refining flow
and fusion mask from warped frames) with different knobs, so one implementation (rifebuild.model.ifnet)
takes an ArchSpec instead of a fork per version. The facts below were read from the public descriptions
of each version (Practical-RIFE's IFNet_HDv3 as packaged per version by vs-rife, the model folders of
rife-ncnn-vulkan); versions whose modules, shapes and forward pass are equal share one spec object, so
their checkpoints are interchangeable and the strict key check names all of them.

Derived, not stored: every block's input planes (frames, timestep, mask, flow, encoder features, block
features) and the padding multiple (4 x the coarsest scale: the coarsest block downsamples by its scale
and then by 4 in conv0, so H and W must divide by both).
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from rifebuild.core.errors import ConfigError


@dataclass(frozen=True)
class HeadSpec:
    """The feature encoder run on each frame (4.7+), its output warped beside the frames.

    convs=1: conv(3->hidden, stride 2) then deconv(hidden->out, x2), no activation (4.7-4.9);
    convs=3: three convs with LeakyReLU(0.2) between, then the deconv (4.10+). `named` picks the key
    layout: cnn0..cnn3 (a `Head` module, 4.13+) or nn.Sequential indices 0, 2, 4, 6 (4.7-4.12-lite).
    """

    hidden: int
    out: int
    convs: int = 3
    named: bool = True


@dataclass(frozen=True)
class ArchSpec:
    """What varies between RIFE v4 versions (a block i runs at scales[i] with widths[i] channels).

    act: conv0's activation, "leaky" (LeakyReLU 0.2) or "prelu" (4.0/4.1, per-channel slopes).
    resconv: convblock of ResConv (conv*beta + x, LeakyReLU; 4.5+) or of plain conv+activation (<=4.4).
    resconv_groups: grouped ResConv convolutions (2 in 4.14-lite).
    convblock_skip: feat = convblock(feat) + feat (4.0/4.1).
    shuffle: lastconv is ConvTranspose2d(c, 4*out_planes) + PixelShuffle(2) (4.5+); else ConvTranspose2d(c, 5)
        at half resolution, upsampled by 2*scale (<=4.4).
    out_planes: lastconv channels after the shuffle: flow 4 + mask 1 (+1 unused in 4.6-4.20, +8 block features).
    block_feat: channels of lastconv's output that feed the next block's input (8 in 4.21+).
    mask_accumulate: mask += block's mask (<=4.6); else each block's mask replaces it (4.7+).
    ensemble: the version supports ensemble (block run on the swapped pair too, averaged); 4.21+ do not.
    rescale_retry: the original retries with doubled scales when block1's flow exceeds 32 px (4.0/4.1);
        data-dependent control flow, which no static graph holds, so the exported form never retries.
    """

    widths: tuple[int, ...]
    scales: tuple[int, ...]
    head: HeadSpec | None = None
    act: str = "leaky"
    resconv: bool = True
    resconv_groups: int = 1
    convblock_skip: bool = False
    shuffle: bool = True
    out_planes: int = 6
    block_feat: int = 0
    mask_accumulate: bool = False
    ensemble: bool = True
    rescale_retry: bool = False

    @property
    def feature_channels(self) -> int:
        return self.head.out if self.head else 0

    @property
    def in_planes(self) -> tuple[int, ...]:
        """Input channels per block: block0 sees both frames, their features and the timestep (7 + 2f);
        later blocks also the mask and the flow (12 + 2f) and the previous block's features."""
        f = 2 * self.feature_channels
        return (7 + f,) + (12 + f + self.block_feat,) * (len(self.widths) - 1)

    @property
    def padding(self) -> int:
        return 4 * max(self.scales)


ENSEMBLE_SUFFIX = "-ensemble"
NO_ENSEMBLE = "has no ensemble mode (only the versions up to 4.20 and 4.24 have one)"  # tests check the claim


@dataclass(frozen=True)
class Version:
    """One published version: its number and architecture (its official checkpoint: rifebuild.model.pins).

    ensemble=True is the version's ensemble variant, a model of its own (`rife-v4.6-ensemble`): the same
    checkpoint run in ensemble mode (every block also on the swapped pair, averaged), exported as its own
    graph and drop-in folders. The variant's name keeps the version's name as a prefix, because clients
    infer v4 mode and padding from the folder name (VapourSynth-RIFE-ncnn-Vulkan looks for `rife-v4.25`).
    """

    number: str  # "4.6", "4.13-lite", "4.26-heavy"
    arch: ArchSpec
    ensemble: bool = False

    @property
    def base(self) -> str:
        """The version's own name, whose checkpoint this model loads: rife-v4 (4.0), rife-v4.7, rife-v4.13-lite."""
        return "rife-v4" if self.number == "4.0" else f"rife-v{self.number}"

    @property
    def name(self) -> str:
        """The model id and its folder name: rife-ncnn-vulkan's (rife-v4.13-lite) + `-ensemble` for the variant."""
        return self.base + (ENSEMBLE_SUFFIX if self.ensemble else "")


SCALES4 = (8, 4, 2, 1)
SCALES5 = (16, 8, 4, 2, 1)
W4 = (192, 128, 96, 64)
LITE = (128, 96, 64, 48)

V4_0 = ArchSpec(W4, SCALES4, act="prelu", resconv=False, convblock_skip=True, shuffle=False, out_planes=5,
                mask_accumulate=True, rescale_retry=True)
V4_2 = ArchSpec(W4, SCALES4, resconv=False, shuffle=False, out_planes=5, mask_accumulate=True)
V4_5 = ArchSpec(W4, SCALES4, out_planes=5, mask_accumulate=True)
V4_6 = ArchSpec(W4, SCALES4, mask_accumulate=True)
V4_7 = ArchSpec(W4, SCALES4, head=HeadSpec(16, 4, convs=1, named=False))
V4_10 = ArchSpec(W4, SCALES4, head=HeadSpec(32, 8, named=False))
V4_12_LITE = ArchSpec(LITE, SCALES4, head=HeadSpec(32, 4, named=False))
V4_13 = ArchSpec(W4, SCALES4, head=HeadSpec(32, 8))
V4_14_LITE = ArchSpec(W4, SCALES4, head=HeadSpec(32, 8), resconv_groups=2)
V4_15_LITE = ArchSpec(LITE, SCALES4, head=HeadSpec(16, 4))
V4_20 = ArchSpec((384, 192, 96, 48), SCALES4, head=HeadSpec(32, 8))
V4_21 = ArchSpec((256, 192, 96, 48), SCALES4, head=HeadSpec(32, 8), out_planes=13, block_feat=8, ensemble=False)
V4_22_LITE = ArchSpec((192, 128, 64, 32), SCALES4, head=HeadSpec(16, 4), out_planes=13, block_feat=8,
                      ensemble=False)
V4_25 = ArchSpec((192, 128, 96, 64, 32), SCALES5, head=HeadSpec(16, 4), out_planes=13, block_feat=8,
                 ensemble=False)
V4_25_LITE = ArchSpec((192, 128, 96, 64, 24), (32, 16, 8, 4, 1), head=HeadSpec(16, 4), out_planes=13,
                      block_feat=8, ensemble=False)
V4_25_HEAVY = ArchSpec((384, 256, 192, 128, 64), SCALES5, head=HeadSpec(16, 4), out_planes=13, block_feat=8,
                       ensemble=False)
V4_26_HEAVY = ArchSpec((192, 128, 96, 64, 32), SCALES5, head=HeadSpec(16, 16), out_planes=13, block_feat=8,
                       ensemble=False)

_TABLE = (
    ("4.0", V4_0), ("4.1", V4_0), ("4.2", V4_2), ("4.3", V4_2), ("4.4", V4_2), ("4.5", V4_5), ("4.6", V4_6),
    ("4.7", V4_7), ("4.8", V4_7), ("4.9", V4_7), ("4.10", V4_10), ("4.11", V4_10), ("4.12", V4_10),
    ("4.12-lite", V4_12_LITE), ("4.13", V4_13), ("4.13-lite", V4_12_LITE), ("4.14", V4_13),
    ("4.14-lite", V4_14_LITE), ("4.15", V4_13), ("4.15-lite", V4_15_LITE), ("4.16-lite", V4_15_LITE),
    ("4.17", V4_13), ("4.17-lite", V4_15_LITE), ("4.18", V4_13), ("4.19", V4_13), ("4.20", V4_20),
    ("4.21", V4_21), ("4.22", V4_21), ("4.22-lite", V4_22_LITE), ("4.23", V4_21), ("4.24", V4_13),
    ("4.25", V4_25), ("4.25-lite", V4_25_LITE), ("4.25-heavy", V4_25_HEAVY), ("4.26", V4_25),
    ("4.26-heavy", V4_26_HEAVY),
)
VERSIONS: dict[str, Version] = {v.name: v for v in (Version(n, a) for n, a in _TABLE)}


def model_dir_name(version: str) -> str:
    """Any spelling of a version (4.13-lite, 4.13.lite, v4.13_lite, rife-v4.13-lite, 4.0, rife-v4.0) ->
    the folder name rife-ncnn-vulkan uses for it (rife-v4.13-lite, rife-v4)."""
    return get(version).name


def get(version: str) -> Version:
    """The Version for a name or number, `-ensemble` appended for the ensemble variant (the one place a
    model id becomes a version and a mode); an unknown one, or the ensemble of a version without an
    ensemble mode, is a ConfigError naming the `model` key."""
    text = version.strip().lower().replace("_", "-")
    if text.endswith(ENSEMBLE_SUFFIX):
        base = get(text.removesuffix(ENSEMBLE_SUFFIX))
        if not base.arch.ensemble:
            raise ConfigError(f"`model: {version}`: {base.name} {NO_ENSEMBLE}; use {base.name}")
        return dataclasses.replace(base, ensemble=True)
    text = text.removeprefix("rife-").removeprefix("v")
    number, _, variant = text.partition("-")
    if number.count(".") == 2:  # vs-rife's 4.13.lite spelling
        number, variant = number.rsplit(".", 1)[0], number.rsplit(".", 1)[1]
    if number == "4":
        number = "4.0"
    name = Version(f"{number}-{variant}" if variant else number, V4_6).name
    if name not in VERSIONS:
        raise ConfigError(f"`model: {version}` is not a known RIFE v4 version; use one of "
                          f"{', '.join(VERSIONS)}")
    return VERSIONS[name]


def model_ids(models: list[str], modes: list[bool]) -> tuple[list[str], list[str]]:
    """The models a run builds: each version of `models` in each ensemble mode of `modes` (config key
    `ensemble`), version by version, and the versions left without their ensemble variant because they have
    no ensemble mode. A version that would be built in no mode at all (`ensemble: [true]`, no ensemble
    mode) is a ConfigError: the user asked for that version, and the run would silently not build it."""
    ids, skipped = [], []
    for name in models:
        version = get(name)
        if True in modes and not version.arch.ensemble:
            if False not in modes:
                raise ConfigError(f"ensemble: [true] builds only ensemble variants, but {version.name} {NO_ENSEMBLE}; "
                                  f"use `ensemble: [false, true]` or remove {version.name} from `models`")
            skipped.append(version.name)
        ids += [dataclasses.replace(version, ensemble=mode).name for mode in modes
                if not mode or version.arch.ensemble]
    return list(dict.fromkeys(ids)), skipped


def all_model_ids() -> list[str]:
    """Every model id there is: each version, and each ensemble variant (the workflow's {model} wildcard)."""
    return [*VERSIONS, *(name + ENSEMBLE_SUFFIX for name, v in VERSIONS.items() if v.arch.ensemble)]


def same_architecture(version: Version) -> list[str]:
    """Names of every version that shares `version`'s architecture (its checkpoints load into it)."""
    return [v.name for v in VERSIONS.values() if v.arch == version.arch]


def round_up(height: int, width: int, pad: int) -> tuple[int, int]:
    """height x width padded (up) to multiples of `pad`, the way a client pads frames for the model."""
    return math.ceil(height / pad) * pad, math.ceil(width / pad) * pad


def check_size(arch: ArchSpec, height: int, width: int) -> None:
    """H and W must be multiples of the version's padding multiple (callers pad the frames)."""
    pad = arch.padding
    if height % pad or width % pad:
        raise ConfigError(f"{height}x{width} is not a multiple of {pad}, which this RIFE version needs (its "
                          "coarsest block sees 1/{} of the frame); use {}x{}".format(pad, *round_up(height, width, pad)))


def fit(name: str, height: int, width: int) -> tuple[int, int]:
    """A configured size rounded up to the version's padding multiple: the workflow builds, verifies and
    times every version at the sizes the user asked for, padded the way a client pads frames for it."""
    return round_up(height, width, get(name).arch.padding)
