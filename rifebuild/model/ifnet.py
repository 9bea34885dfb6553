"""IFNet v4.6, written from the description in DESIGN.md, plus the export wrapper.

The module tree mirrors the official checkpoint so its keys load with strict=True.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

SCALES = (8, 4, 2, 1)
BLOCK_SPECS = ((7, 192), (12, 128), (12, 96), (12, 64))  # (input channels, width) per block


def conv_lrelu(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1), nn.LeakyReLU(0.2))


class ResConv(nn.Module):
    """conv(x) * beta + x, then LeakyReLU(0.2)."""

    def __init__(self, c: int):
        super().__init__()
        self.conv = nn.Conv2d(c, c, 3, 1, 1)
        self.beta = nn.Parameter(torch.ones(1, c, 1, 1))
        self.relu = nn.LeakyReLU(0.2)

    def forward(self, x):
        return self.relu(self.conv(x) * self.beta + x)


class IFBlock(nn.Module):
    def __init__(self, in_planes: int, c: int):
        super().__init__()
        self.conv0 = nn.Sequential(conv_lrelu(in_planes, c // 2), conv_lrelu(c // 2, c))
        self.convblock = nn.Sequential(*[ResConv(c) for _ in range(8)])
        self.lastconv = nn.Sequential(nn.ConvTranspose2d(c, 24, 4, 2, 1), nn.PixelShuffle(2))

    def forward(self, x, flow, scale: int):
        if scale != 1:
            x = F.interpolate(x, scale_factor=1.0 / scale, mode="bilinear", align_corners=False)
        if flow is not None:
            if scale != 1:
                flow = F.interpolate(flow, scale_factor=1.0 / scale, mode="bilinear",
                                     align_corners=False) * (1.0 / scale)
            x = torch.cat((x, flow), 1)
        feat = self.convblock(self.conv0(x))
        tmp = self.lastconv(feat)
        if scale != 1:
            tmp = F.interpolate(tmp, scale_factor=float(scale), mode="bilinear", align_corners=False)
        return tmp[:, :4] * scale, tmp[:, 4:5]


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


class IFNet(nn.Module):
    def __init__(self):
        super().__init__()
        for i, (cin, c) in enumerate(BLOCK_SPECS):
            setattr(self, f"block{i}", IFBlock(cin, c))

    def forward(self, img0, img1, timestep, warp_fn=warp):
        """img0/img1: [N,3,H,W] in [0,1]; timestep: [N,1,H,W]. Returns the middle frame [N,3,H,W]."""
        blocks = (self.block0, self.block1, self.block2, self.block3)
        flow = mask = None
        warped0, warped1 = img0, img1
        for block, scale in zip(blocks, SCALES):
            if flow is None:
                flow, mask = block(torch.cat((img0, img1, timestep), 1), None, scale)
            else:
                df, dm = block(torch.cat((warped0, warped1, timestep, mask), 1), flow, scale)
                flow = flow + df
                mask = mask + dm
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
