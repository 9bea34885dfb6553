"""Getting and loading the IFNet v4.6 checkpoint: official download, local file, or synthetic.

Loading never runs code from the file: torch.load(weights_only=True) refuses anything but tensors and
plain containers. When it refuses, the file's pickle opcodes are read (pickletools, nothing executed)
only to say why in the error: a text/HTML file, code or foreign objects, or a damaged file.
"""
from __future__ import annotations

import io
import pickletools
import warnings
import zipfile
from pathlib import Path

import torch

from rifebuild.core.download import download
from rifebuild.core.errors import CheckpointError, DownloadError
from rifebuild.core.files import atomic_path
from rifebuild.model.ifnet import IFNet

PREFIX = "module."
FETCH_ADVICE = ("check `weights_url` and the network, or download the file elsewhere and set `weights:` to its "
                "path, or use `weights: synthetic`")
REDOWNLOAD = "download it again or set `weights:` to the v4.6 flownet.pkl"


def fetch_checkpoint(url: str, dest: Path | str, sha256: str | None = None, deadline: float = 600) -> Path:
    """Download the official checkpoint to `dest`; it is kept only if it matches the pin (when given)
    and loads as an IFNet v4.6 checkpoint, so a wrong file served at the URL is never cached."""

    def validate(tmp: Path) -> None:
        try:
            load_ifnet(tmp)
        except CheckpointError as exc:
            raise DownloadError(f"{url} did not serve a usable IFNet v4.6 checkpoint ({exc.reason}), so it was not "
                                f"kept; {FETCH_ADVICE}") from None

    return download(url, dest, sha256=sha256 or None, deadline=deadline, validate=validate,
                    advice=FETCH_ADVICE, pin_name="`weights_sha256`", deadline_name="`download_deadline`")


def _fail(path: Path | str, reason: str, fix: str) -> CheckpointError:
    """The one-sentence error `<path>: <reason>; <fix>`; `.reason` alone serves the download's message."""
    exc = CheckpointError(f"{path}: {reason}; {fix}")
    exc.reason = reason
    return exc


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
    """Same weights, same bytes: given a path, torch.save names the zip's inner folder after the file,
    here a random temp name; given an open file it always writes the folder `archive`."""
    with atomic_path(dest) as tmp, open(tmp, "wb") as f:
        torch.save(state, f)


def load_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """torch.load with weights_only=True (a pickle from the internet must never run code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; set `weights:` to an existing file, "
                              "`official` or `synthetic`")
    try:
        with warnings.catch_warnings():  # torch's "please file an issue" note on plain pickles: not the user's to act on
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure to unpickle a user's file is about that file)
        raise _unreadable(path, exc) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise _fail(path, f"it holds {_a(type(obj).__name__)}, not a state dict of tensors",
                    "use the v4.6 flownet.pkl (a dict of tensor names to tensors)")
    odd = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if odd:
        raise _fail(path, f"its entry {str(odd[0])[:80]!r} holds {_a(type(obj[odd[0]]).__name__)}, so it is not a "
                    "state dict of tensors", "use the v4.6 flownet.pkl (a dict of tensor names to tensors)")
    return obj


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _unreadable(path: Path, exc: Exception) -> CheckpointError:
    """Why torch refused `path`, in our words (torch's own message suggests weights_only=False: never that)."""
    try:
        head = path.read_bytes()[:1024] if not zipfile.is_zipfile(path) else b""
        foreign = _foreign_globals(path)
    except OSError as err:
        return _fail(path, f"the file cannot be read ({err.strerror or err})", "fix its permissions or path")
    if foreign is not None:
        named = f" ({foreign[0]})" if foreign else ""
        return _fail(path, f"it holds code or objects other than tensors{named} and was refused for safety",
                     "use the official v4.6 flownet.pkl or another state dict of tensors saved with torch.save")
    text = _text_start(head)
    if text is not None:
        kind = "an HTML page" if text.lower().startswith(("<!doctype html", "<html")) else "a text file"
        return _fail(path, f"not a readable PyTorch checkpoint: it is {kind} starting with {text!r}", REDOWNLOAD)
    detail = str(exc).strip().splitlines()[0].split(". ")[0][:160] if str(exc).strip() else ""  # first sentence
    if "weights_only" in str(exc) or not detail:  # torch's advice to drop weights_only: never repeat it
        detail = "neither a torch.save zip archive nor a pickle of tensors"
    else:
        detail = f"{type(exc).__name__}: {detail}"
    return _fail(path, f"not a readable PyTorch checkpoint ({detail})",
                 "the file is truncated, corrupt or not a torch.save file: " + REDOWNLOAD)


def _text_start(head: bytes) -> str | None:
    """The first line of `head` if it is text (UTF-8 without control characters), else None."""
    if not head or b"\0" in head:
        return None
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if exc.start < len(head) - 3:  # not just a character cut at the 1024-byte boundary
            return None
        text = head[:exc.start].decode("utf-8")
    if any(not (c.isprintable() or c in "\t\n\r\f\v") for c in text):
        return None
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first[:40] if first else None


SAFE_GLOBAL_MODULES = ("torch", "torch._utils", "torch._tensor")  # storages, dtypes, tensor rebuilders


def _safe_global(name: str) -> bool:
    return name.rpartition(".")[0] in SAFE_GLOBAL_MODULES or name == "collections.OrderedDict"


def _foreign_globals(path: Path) -> list[str] | None:
    """Globals other than torch's tensor rebuilders in the file's complete pickles ([] if only an
    object-building opcode gave it away); None if no complete pickle uses any. Reads opcodes only."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            streams = [z.read(n) for n in z.namelist() if n.endswith(".pkl")]
    else:
        streams = [path.read_bytes()]
    found: list[str] | None = None
    for data in streams:
        stream = io.BytesIO(data)
        while stream.tell() < len(data):  # a legacy torch.save file is several pickles, then raw storage bytes
            names = _pickle_globals(stream)
            if names is None:
                break
            foreign = [n for n in names if not _safe_global(n)]  # "": a global not resolved from the opcodes
            if foreign:
                found = (found or []) + [n for n in foreign if n]
    return found


def _pickle_globals(stream: io.BytesIO) -> list[str] | None:
    """Dotted names of the globals one complete pickle imports; None if it is not a complete pickle."""
    names: list[str] = []
    pushed: list[object] = []
    memo: dict[int, object] = {}
    try:
        for op, arg, _ in pickletools.genops(stream):
            name = op.name
            if name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                memo[len(memo) if name == "MEMOIZE" else int(arg)] = pushed[-1] if pushed else None
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                pushed.append(memo.get(int(arg)))
            elif name in ("GLOBAL", "INST"):
                names.append(".".join(str(arg).split(" ", 1)))
                pushed.append(None)
            elif name == "STACK_GLOBAL":
                module, attr = (pushed[-2:] if len(pushed) >= 2 else [None, None])
                names.append(f"{module}.{attr}" if isinstance(module, str) and isinstance(attr, str) else "")
                pushed.append(None)
            elif name in ("PROTO", "FRAME"):
                pass
            else:
                pushed.append(arg if isinstance(arg, str) else None)
    except ValueError:  # not pickle opcodes, or the data ends before STOP
        return None
    return names


def load_ifnet(path: Path | str) -> IFNet:
    """Load a v4.6 checkpoint into IFNet strictly; other architectures fail with the key diff."""
    state = load_state_dict(path)
    state = {k.removeprefix(PREFIX): v for k, v in state.items()}
    net = IFNet()
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing or unexpected:
        raise _fail(path, f"not an IFNet v4.6 checkpoint: {len(missing)} missing keys {_few(missing)}, "
                    f"{len(unexpected)} unexpected keys {_few(unexpected)}", "use the v4.6 flownet.pkl")
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if state[k].shape != v.shape]
    if wrong:
        raise _fail(path, f"not an IFNet v4.6 checkpoint: shape mismatch {_few(wrong)}", "use the v4.6 flownet.pkl")
    for key, value in state.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise _fail(path, f"tensor {key} holds NaN/inf values", "the checkpoint is corrupt: download it again")
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return net.eval()


def _few(items: list[str], n: int = 5) -> str:
    return "[" + ", ".join(items[:n]) + (", ..." if len(items) > n else "") + "]"
