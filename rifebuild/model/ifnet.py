"""IFNet for every RIFE v4 version, driven by an ArchSpec (rifebuild.model.spec), plus the export wrapper.

Written from the description in DESIGN.md and the per-version facts in spec.py. The module tree mirrors
each version's official checkpoint so its keys load with strict=True. The v4.6 spec traces to exactly the
graph the v4.6-only implementation traced (same modules, same ops in the same order), so its ncnn and
ONNX files stay byte-identical. Inputs are taken as given (the interface says [0,1]): the originals'
input clamps are left out, as before.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from rifebuild.model.spec import ArchSpec, HeadSpec


def activation(kind: str, channels: int) -> nn.Module:
    return nn.PReLU(channels) if kind == "prelu" else nn.LeakyReLU(0.2)


def conv_act(cin: int, cout: int, stride: int, kind: str = "leaky") -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), activation(kind, cout))


class ResConv(nn.Module):
    """conv(x) * beta + x, then LeakyReLU(0.2)."""

    def __init__(self, c: int, groups: int = 1):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1, groups=groups)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))
        self.relu = nn.LeakyReLU(0.2)

    def forward(self, x):
        return self.relu(self.conv(x) * self.beta + x)


class IFBlock(nn.Module):
    """One coarse-to-fine step: features of the (downscaled) inputs -> flow delta, mask, block features."""

    def __init__(self, in_planes: int, c: int, spec: ArchSpec):
        super().__init__()
        self.shuffle = spec.shuffle
        self.skip = spec.convblock_skip
        self.block_feat = spec.block_feat
        self.conv0 = nn.Sequential(conv_act(in_planes, c // 2, 2, spec.act), conv_act(c // 2, c, 2, spec.act))
        if spec.resconv:
            self.convblock = nn.Sequential(*[ResConv(c, spec.resconv_groups) for _ in range(8)])
        else:
            self.convblock = nn.Sequential(*[conv_act(c, c, 1, spec.act) for _ in range(8)])
        if spec.shuffle:
            self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 4 * spec.out_planes, 4, 2, 1), nn.PixelShuffle(2))
        else:  # half resolution out, upsampled with the rest below
            self.lastconv = nn.ConvTranspose2d(c, spec.out_planes, 4, 2, 1)

    def forward(self, x, flow, scale: int):
        if scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            if scale != 1:
                flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear",
                                     align_corners=False) * (1.0 / scale)
            x = torch.cat((x, flow), 1)
        feat = self.conv0(x)
        feat = self.convblock(feat) + feat if self.skip else self.convblock(feat)
        tmp = self.lastconv(feat)
        up = scale if self.shuffle else 2 * scale
        if up != 1:
            tmp = F.interpolate(tmp, scale_factor=float(up), mode="bilinear", align_corners=False)
        block_feat = tmp[:, 5:5 + self.block_feat] if self.block_feat else None
        return tmp[:, :4] * up, tmp[:, 4:5], block_feat


class Head(nn.Module):
    """Per-frame feature encoder (4.7+); child names follow the version's checkpoint keys."""

    def __init__(self, spec: HeadSpec):
        super().__init__()
        chain = [nn.Conv2d(3, spec.hidden, 3, 2, 1)]
        chain += [nn.Conv2d(spec.hidden, spec.hidden, 3, 1, 1) for _ in range(spec.convs - 1)]
        chain.append(nn.ConvTranspose2d(spec.hidden, spec.out, 4, 2, 1))
        self.act = spec.convs > 1  # the one-conv encoder (4.7-4.9) has no activation
        for i, module in enumerate(chain):
            self.add_module(f"cnn{i}" if spec.named else str(2 * i if self.act else i), module)
        self.chain = chain  # plain list: registered above under the checkpoint's names

    def forward(self, x):
        for i, module in enumerate(self.chain):
            x = module(x)
            if self.act and i < len(self.chain) - 1:
                x = F.leaky_relu(x, 0.2)
        return x


def _axis(n: int, like: torch.Tensor) -> torch.Tensor:
    """-1..1 in n steps, in the flow's dtype (linspace would export as a float64 grid)."""
    return torch.arange(n, dtype=like.dtype, device=like.device) * (2.0 / (n - 1)) - 1.0


def warp(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Bilinear sample of `image` at (x + fx, y + fy) in pixels, clamped to the border.

    Expressed with grid_sample (align_corners=True, so pixel p maps to -1 + 2p/(size-1)) so that
    the ONNX graph is standard; ncnn's graph pass later folds this whole subgraph into rife.Warp.
    """
    _, _, h, w = flow.shape
    xs = _axis(w, flow).view(1, 1, 1, w).expand(1, 1, h, w)
    ys = _axis(h, flow).view(1, 1, h, 1).expand(1, 1, h, w)
    base = torch.cat((xs, ys), 1)
    norm = torch.cat((flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)), 1)
    grid = (base + norm).permute(0, 2, 3, 1)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def warp_any_size(image: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """The same sampling as `warp`, with the grid built from the flow's runtime shape.

    Traced, H and W become Shape ops instead of constants, so an ONNX export with dynamic axes works
    at every size (the MNN branch needs that; ncnn gets resolution independence from rife.Warp).
    """
    h, w = flow.shape[2], flow.shape[3]
    xs = torch.arange(w, dtype=flow.dtype, device=flow.device).view(1, 1, -1)
    ys = torch.arange(h, dtype=flow.dtype, device=flow.device).view(1, -1, 1)
    gx = (xs + flow[:, 0]) * (2.0 / (torch.as_tensor(w, dtype=flow.dtype) - 1.0)) - 1.0
    gy = (ys + flow[:, 1]) * (2.0 / (torch.as_tensor(h, dtype=flow.dtype) - 1.0)) - 1.0
    grid = torch.stack((gx, gy), 3)
    return F.grid_sample(image, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _swap(flow: torch.Tensor) -> torch.Tensor:
    """The flow pair seen from the other frame: (f1, f0)."""
    return torch.cat((flow[:, 2:4], flow[:, :2]), 1)


class IFNet(nn.Module):
    """block0..blockN (+ `encode`, the Head, when the version has one), as in the official checkpoints.

    ensemble=True also runs every block on the swapped pair (1 - t) and averages (versions that support it).
    """

    def __init__(self, spec: ArchSpec, ensemble: bool = False):
        super().__init__()
        if ensemble and not spec.ensemble:
            raise ValueError("this RIFE version has no ensemble mode")
        self.spec = spec
        self.ensemble = ensemble
        for i, (cin, c) in enumerate(zip(spec.in_planes, spec.widths)):
            setattr(self, f"block{i}", IFBlock(cin, c, spec))
        self.encode = Head(spec.head) if spec.head else None

    def blocks(self) -> list[IFBlock]:
        return [getattr(self, f"block{i}") for i in range(len(self.spec.widths))]

    def _step(self, block, first: bool, frames, feats, timestep, flow, mask, feat, scale, warp_fn):
        """One block: (flow, mask, block features) of frame pair `frames` with their warped encoder features."""
        if first:
            x = torch.cat((*frames, *feats, timestep), 1)
            return block(x, None, scale)
        if feats:
            feats = (warp_fn(feats[0], flow[:, 0:2]), warp_fn(feats[1], flow[:, 2:4]))
        extra = (feat,) if feat is not None else ()
        return block(torch.cat((*frames, *feats, timestep, mask, *extra), 1), flow, scale)

    def forward(self, img0, img1, timestep, warp_fn=warp):
        """img0/img1: [N,3,H,W] in [0,1]; timestep: [N,1,H,W]. Returns the middle frame [N,3,H,W]."""
        spec = self.spec
        f0 = f1 = None
        if self.encode is not None:
            f0, f1 = self.encode(img0), self.encode(img1)
        flow = mask = feat = None
        warped0, warped1 = img0, img1
        for block, scale in zip(self.blocks(), spec.scales):
            first = flow is None
            feats = (f0, f1) if f0 is not None else ()
            df, dm, feat = self._step(block, first, (warped0, warped1) if not first else (img0, img1), feats,
                                      timestep, flow, mask, feat, scale, warp_fn)
            if self.ensemble:
                rf, rm, _ = self._step(block, first, (warped1, warped0) if not first else (img1, img0), feats[::-1],
                                       1 - timestep, None if first else _swap(flow), None if first else -mask,
                                       None, scale, warp_fn)
                df, dm = (df + _swap(rf)) / 2, (dm + (-rm)) / 2
            if first:
                flow, mask = df, dm
            else:
                flow = flow + df
                mask = mask + dm if spec.mask_accumulate else dm
            warped0 = warp_fn(img0, flow[:, 0:2])
            warped1 = warp_fn(img1, flow[:, 2:4])
        m = torch.sigmoid(mask)
        return warped0 * m + warped1 * (1 - m)


class ExportModel(nn.Module):
    """rife-ncnn-vulkan v4 interface: in0, in1 [1,3,H,W] RGB in [0,1]; in2 [1,1,H,W] timestep; out0.

    any_size=True traces warp with a runtime-shape grid (for dynamic-axes ONNX).
    """

    def __init__(self, net: IFNet, any_size: bool = False):
        super().__init__()
        self.net = net
        self.warp_fn = warp_any_size if any_size else warp

    def forward(self, in0, in1, in2):
        return self.net(in0, in1, in2, self.warp_fn)
