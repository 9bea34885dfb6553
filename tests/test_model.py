import torch

from rifebuild.checkpoint.load import synthetic_state_dict
from rifebuild.model import spec
from rifebuild.model.ifnet import IFNet, warp


def test_key_layout_matches_official_release():
    keys = list(synthetic_state_dict(0, "rife-v4.6"))
    assert len(keys) == 120  # 4 blocks x (2 conv0 x2 + 8 ResConv x3 + lastconv x2)
    assert all(k.startswith("module.block") for k in keys)
    assert "module.block0.conv0.0.0.weight" in keys
    assert "module.block3.convblock.7.beta" in keys
    assert "module.block2.lastconv.0.bias" in keys


def test_block_shapes():
    sd = synthetic_state_dict(0, "rife-v4.6")
    assert sd["module.block0.conv0.0.0.weight"].shape == (96, 7, 3, 3)
    assert sd["module.block1.conv0.0.0.weight"].shape == (64, 12, 3, 3)
    assert sd["module.block0.lastconv.0.weight"].shape == (192, 24, 4, 4)
    assert sd["module.block3.convblock.0.beta"].shape == (1, 64, 1, 1)
    assert sum(v.numel() for v in sd.values()) == 5_306_256  # as the proxy README states


def test_synthetic_is_deterministic():
    a, b = synthetic_state_dict(3, "rife-v4.6"), synthetic_state_dict(3, "rife-v4.6")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["module.block0.conv0.0.0.weight"], synthetic_state_dict(4, "rife-v4.6")["module.block0.conv0.0.0.weight"])


def test_output_shape_and_range():
    net = IFNet(spec.get("rife-v4.6").arch).eval()
    net.load_state_dict({k[7:]: v for k, v in synthetic_state_dict(0, "rife-v4.6").items()})
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        out = net(x, x, torch.full((1, 1, 64, 96), 0.5))
    assert out.shape == (1, 3, 64, 96)
    assert torch.isfinite(out).all()


def test_warp_is_pixel_shift_with_border_clamp():
    image = torch.arange(4 * 6, dtype=torch.float32).view(1, 1, 4, 6)
    flow = torch.zeros(1, 2, 4, 6)
    flow[:, 0] = 1.0  # sample one pixel to the right
    out = warp(image, flow)
    assert torch.allclose(out[0, 0, :, :5], image[0, 0, :, 1:], atol=1e-5)
    assert torch.allclose(out[0, 0, :, 5], image[0, 0, :, 5], atol=1e-5)  # clamped at the border
    half = torch.zeros(1, 2, 4, 6)
    half[:, 1] = 0.5
    assert torch.allclose(warp(image, half)[0, 0, 0, 0], torch.tensor(3.0), atol=1e-5)
