"""Getting and loading the IFNet v4.6 checkpoint: official download, local file, or synthetic."""
from __future__ import annotations

import hashlib
import io
import pickle
import time
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import torch

from rifebuild.core.files import atomic_path
from rifebuild.model.ifnet import IFNet
from rifebuild.core.errors import CheckpointError, DownloadError

PREFIX = "module."
CHUNK = 1 << 16




def download(url: str, dest: Path | str, sha256: str | None = None, timeout: float = 30.0,
             retries: int = 3, backoff: float = 1.0, progress: bool = True) -> Path:
    """Fetch `url` into `dest` atomically, with retries and an optional sha256 pin.

    Nothing is left at `dest` unless the whole body arrived and (if pinned) matched.
    """
    from tqdm import tqdm

    dest = Path(dest)
    last_error: Exception | None = None
    for attempt in range(1, retries + 1):
        try:
            with atomic_path(dest) as tmp:
                digest = hashlib.sha256()
                with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    received = 0
                    with tqdm(total=total, unit="B", unit_scale=True, desc=dest.name,
                              disable=not progress) as bar:
                        for chunk in iter(lambda: response.read(CHUNK), b""):
                            out.write(chunk)
                            digest.update(chunk)
                            received += len(chunk)
                            bar.update(len(chunk))
                    if total is not None and received != total:
                        raise DownloadError(f"{url}: connection closed after {received} of {total} bytes")
                if sha256 and digest.hexdigest() != sha256.lower():
                    raise CheckpointError(
                        f"{url}: sha256 is {digest.hexdigest()}, config pins {sha256}; the file changed "
                        "upstream or the pin is wrong: check the source, then fix weights_sha256")
            return dest
        except CheckpointError:
            raise
        except urllib.error.HTTPError as exc:
            last_error = exc
            if 400 <= exc.code < 500:
                break  # a 404 will not heal by retrying
        except (urllib.error.URLError, OSError, DownloadError) as exc:
            last_error = exc
        if attempt < retries:
            time.sleep(backoff * attempt)
    raise DownloadError(
        f"could not download {url} ({_reason(last_error)}); if this machine is offline, download the "
        "file elsewhere and set `weights:` to its local path, or use `weights: synthetic`")


def _reason(exc: Exception | None) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, urllib.error.URLError):
        return str(exc.reason)
    return str(exc)


def synthetic_state_dict(seed: int) -> dict[str, torch.Tensor]:
    """Deterministic random init of IFNet v4.6, keys in the official layout (`module.` prefix)."""
    generator = torch.Generator().manual_seed(seed)
    net = IFNet()
    state = {}
    for key, value in net.state_dict().items():
        if key.endswith(".beta"):
            tensor = 1.0 + 0.1 * torch.randn(value.shape, generator=generator)
        elif key.endswith(".bias"):
            tensor = 0.01 * torch.randn(value.shape, generator=generator)
        else:
            fan_in = value.shape[1] * value[0, 0].numel()
            if "lastconv" in key:  # ConvTranspose2d weights are [in, out, k, k]
                fan_in = value.shape[0] * value[0, 0].numel() / 4
            tensor = torch.randn(value.shape, generator=generator) * (0.5 / fan_in) ** 0.5
        state[PREFIX + key] = tensor.to(torch.float32).contiguous()
    return state


def save_state_dict(state: dict[str, torch.Tensor], dest: Path | str) -> None:
    with atomic_path(dest) as tmp:
        torch.save(state, tmp)


def load_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """torch.load with weights_only=True (a pickle from the internet must never run code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; set `weights:` to an existing file, "
                              "`official` or `synthetic`")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, io.UnsupportedOperation) as exc:
        raise CheckpointError(
            f"{path}: not a readable PyTorch checkpoint ({type(exc).__name__}: {_first_line(exc)}); "
            "the file is truncated, corrupt or not a torch.save/pickle file: download it again") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: holds a {type(obj).__name__}, not a state dict of tensors")
    return obj


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:200] if text else ""


def load_ifnet(path: Path | str) -> IFNet:
    """Load a v4.6 checkpoint into IFNet strictly; other architectures fail with the key diff."""
    state = load_state_dict(path)
    state = {k[len(PREFIX):] if k.startswith(PREFIX) else k: v for k, v in state.items()}
    net = IFNet()
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise CheckpointError(
            f"{path}: not an IFNet v4.6 checkpoint: {len(missing)} missing keys {_few(missing)}, "
            f"{len(unexpected)} unexpected keys {_few(unexpected)}; use the v4.6 flownet.pkl")
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if state[k].shape != v.shape]
    if wrong:
        raise CheckpointError(f"{path}: not an IFNet v4.6 checkpoint: shape mismatch {_few(wrong)}")
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return net.eval()


def _few(items: list[str], n: int = 5) -> str:
    return "[" + ", ".join(items[:n]) + (", ..." if len(items) > n else "") + "]"
