"""Getting and loading a RIFE v4 checkpoint (any version in rifebuild.model.spec): official download,
local file, or synthetic weights in that version's key layout.

Loading never runs code from the file: torch.load(weights_only=True) refuses anything but tensors and
plain containers. When it refuses, the file's pickle opcodes are read (pickletools, nothing executed)
only to say why in the error: a text/HTML file, code or foreign objects, or a damaged file. A checkpoint
of another version fails the strict key check with the versions whose key layout it does match.
"""
from __future__ import annotations

import contextlib
import functools
import io
import pickletools
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from rifebuild.core.download import download
from rifebuild.core.errors import CheckpointError, DownloadError
from rifebuild.core.files import atomic_write_bytes
from rifebuild.model import spec
from rifebuild.model.ifnet import IFNet

PREFIX = "module."
# Training-only parts some Practical-RIFE releases ship beside the IFNet (a distillation teacher block and
# a timestep regressor): never part of inference, so they are dropped before the strict check.
TRAINING_ONLY = ("teacher.", "caltime.")
# The largest RIFE v4 flownet.pkl is tens of MB: a file over this is refused before anything reads it.
MAX_CHECKPOINT_BYTES = 1 << 30
HEAD_BYTES = 1024  # what the error message inspects of a file torch refused
FETCH_ADVICE = ("check the URL (the pins file or `weights_url`) and the network, or download the file elsewhere and set `weights:` to its "
                "path, or use `weights: synthetic`")


def _redownload(version: spec.Version) -> str:
    return f"download it again or set `weights:` to the v{version.number} flownet.pkl"


def _use(version: spec.Version) -> str:
    return f"use the v{version.number} flownet.pkl (a dict of tensor names to tensors)"


def fetch_checkpoint(url: str, dest: Path | str, *, model: str, sha256: str | None = None,
                     deadline: float = 600) -> Path:
    """Download the official checkpoint to `dest`; it is kept only if it matches the pin (when given)
    and loads as a checkpoint of `model`, so a wrong file served at the URL is never cached."""
    version = spec.get(model)

    def validate(tmp: Path) -> None:
        try:
            load_ifnet(tmp, model)
        except CheckpointError as exc:
            raise DownloadError(f"{url} did not serve a usable IFNet v{version.number} checkpoint ({exc.reason}), "
                                f"so it was not kept; {FETCH_ADVICE}") from None

    return download(url, dest, sha256=sha256 or None, deadline=deadline, validate=validate,
                    advice=FETCH_ADVICE, pin_name=f"{version.name}'s pin (pins.yaml or `weights_sha256`)", deadline_name="`download_deadline`")


def _fail(path: Path | str, reason: str, fix: str) -> CheckpointError:
    """The one-sentence error `<path>: <reason>; <fix>`; `.reason` alone serves the download's message."""
    exc = CheckpointError(f"{path}: {reason}; {fix}")
    exc.reason = reason
    return exc


def synthetic_state_dict(seed: int, model: str) -> dict[str, torch.Tensor]:
    """Deterministic random init of `model`'s IFNet, keys in its official layout (`module.` prefix).

    Scaled so activations neither vanish nor explode through the blocks (the checks need finite,
    non-trivial flows); the same seed gives every version of one architecture the same weights.
    """
    generator = torch.Generator().manual_seed(seed)
    with torch.device("meta"):  # shapes and module types only: no init of weights that are replaced anyway
        net = IFNet(spec.get(model).arch)
    transposed = {f"{name}.weight" for name, m in net.named_modules() if isinstance(m, nn.ConvTranspose2d)}
    state = {}
    for key, value in net.state_dict().items():
        if key.endswith(".beta"):
            tensor = 1.0 + 0.1 * torch.randn(value.shape, generator=generator)
        elif key.endswith(".bias"):
            tensor = 0.01 * torch.randn(value.shape, generator=generator)
        elif value.dim() == 1:  # PReLU slopes (4.0/4.1): around PyTorch's default 0.25
            tensor = 0.25 + 0.02 * torch.randn(value.shape, generator=generator)
        else:
            fan_in = value.shape[1] * value[0, 0].numel()
            if key in transposed:  # ConvTranspose2d weights are [in, out, k, k]; stride 2 sees a quarter
                fan_in = value.shape[0] * value[0, 0].numel() / 4
            tensor = torch.randn(value.shape, generator=generator) * (0.5 / fan_in) ** 0.5
        state[PREFIX + key] = tensor.to(torch.float32).contiguous()
    return state


def save_state_dict(state: dict[str, torch.Tensor], dest: Path | str) -> None:
    """torch.save through memory: saved to a path, the archive would be named after the random temp
    file, so the same weights would give different bytes."""
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(dest, buf.getvalue())


def load_state_dict(path: Path | str, model: str) -> dict[str, torch.Tensor]:
    """torch.load with weights_only=True (a pickle from the internet must never run code)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found; set `weights:` to an existing file, "
                              "`official` or `synthetic`")
    size = path.stat().st_size
    if size > MAX_CHECKPOINT_BYTES:
        raise _fail(path, f"it is {size / 2**30:.1f} GiB, far more than any RIFE checkpoint (at most "
                    f"{MAX_CHECKPOINT_BYTES / 2**30:.0f} GiB is read)", _use(spec.get(model)))
    try:
        with warnings.catch_warnings():  # torch's "please file an issue" note on plain pickles: not the user's to act on
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except MemoryError:
        raise
    except Exception as exc:  # noqa: BLE001 (any failure to unpickle a user's file is about that file)
        raise _unreadable(path, exc, spec.get(model)) from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise _fail(path, f"it holds {_a(type(obj).__name__)}, not a state dict of tensors", _use(spec.get(model)))
    odd = [k for k, v in obj.items() if not isinstance(v, torch.Tensor)]
    if odd:
        raise _fail(path, f"its entry {str(odd[0])[:80]!r} holds {_a(type(obj[odd[0]]).__name__)}, so it is not a "
                    "state dict of tensors", _use(spec.get(model)))
    return obj


def _a(noun: str) -> str:
    return ("an " if noun[:1].lower() in "aeiou" else "a ") + noun


def _unreadable(path: Path, exc: Exception, version: spec.Version) -> CheckpointError:
    """Why torch refused `path`, in our words (torch's own message suggests weights_only=False: never that)."""
    try:
        with open(path, "rb") as f:
            head = f.read(HEAD_BYTES) if not zipfile.is_zipfile(path) else b""
        foreign = _foreign_globals(path)
    except OSError as err:
        return _fail(path, f"the file cannot be read ({err.strerror or err})", "fix its permissions or path")
    if foreign is not None:
        named = f" ({foreign[0]})" if foreign else ""
        return _fail(path, f"it holds code or objects other than tensors{named} and was refused for safety",
                     f"use the official v{version.number} flownet.pkl or another state dict of tensors saved with "
                     "torch.save")
    text = _text_start(head)
    if text is not None:
        kind = "an HTML page" if text.lower().startswith(("<!doctype html", "<html")) else "a text file"
        return _fail(path, f"not a readable PyTorch checkpoint: it is {kind} starting with {text!r}", _redownload(version))
    detail = str(exc).strip().splitlines()[0].split(". ")[0][:160] if str(exc).strip() else ""  # first sentence
    if "weights_only" in str(exc) or not detail:  # torch's advice to drop weights_only: never repeat it
        detail = "neither a torch.save zip archive nor a pickle of tensors"
    else:
        detail = f"{type(exc).__name__}: {detail}"
    return _fail(path, f"not a readable PyTorch checkpoint ({detail})",
                 "the file is truncated, corrupt or not a torch.save file: " + _redownload(version))


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
    found: list[str] | None = None
    with contextlib.ExitStack() as stack:
        if zipfile.is_zipfile(path):
            z = stack.enter_context(zipfile.ZipFile(path))
            streams = [(stack.enter_context(z.open(i)), i.file_size) for i in z.infolist() if i.filename.endswith(".pkl")]
        else:
            streams = [(stack.enter_context(open(path, "rb")), path.stat().st_size)]
        for raw, size in streams:  # read as opcodes go: never the whole file at once
            stream = _OpcodeReader(raw)
            while stream.tell() < size:  # a legacy torch.save file is several pickles, then raw storage bytes
                names = _pickle_globals(stream)
                if names is None:
                    break
                foreign = [n for n in names if not _safe_global(n)]  # "": a global not resolved from the opcodes
                if foreign:
                    found = (found or []) + [n for n in foreign if n]
    return found


class _OpcodeReader:
    """A file as pickletools.genops reads it, each read bounded: a garbage file's "argument" (a line with
    no newline, a length field of gigabytes) ends the scan instead of being read into memory."""

    MAX_ARG = 1 << 20

    def __init__(self, raw):
        self.raw = raw

    def read(self, n: int = -1) -> bytes:
        if n < 0 or n > self.MAX_ARG:
            raise ValueError(f"an opcode argument of {n} bytes")
        return self.raw.read(n)

    def readline(self) -> bytes:
        return self.raw.readline(self.MAX_ARG)  # no newline within it: genops raises ValueError

    def tell(self) -> int:
        return self.raw.tell()


def _pickle_globals(stream) -> list[str] | None:
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


@functools.cache
def layout(arch: spec.ArchSpec) -> dict[str, tuple[int, ...]]:
    """Key -> shape of an architecture's state dict (no prefix): what a checkpoint of it must hold.
    Built on the meta device: shapes only, no memory or init time for the 20M-parameter heavy versions."""
    with torch.device("meta"):
        net = IFNet(arch)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def matching_versions(state: dict[str, torch.Tensor]) -> list[str]:
    """Every known version whose key layout and shapes the (prefix-stripped) state dict has exactly."""
    found = {k: tuple(v.shape) for k, v in state.items()}
    archs = {v.arch for v in spec.VERSIONS.values()}
    return [v.name for v in spec.VERSIONS.values() if v.arch in {a for a in archs if layout(a) == found}]


def inference_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Strip the `module.` prefix and drop the training-only parts (TRAINING_ONLY)."""
    state = {k.removeprefix(PREFIX): v for k, v in state.items()}
    return {k: v for k, v in state.items() if not k.startswith(TRAINING_ONLY)}


def load_ifnet(path: Path | str, model: str, ensemble: bool = False) -> IFNet:
    """Load a checkpoint of `model` into its IFNet strictly, in ensemble mode for an ensemble id
    (rife-v4.6-ensemble, which loads rife-v4.6's checkpoint) or when `ensemble` is set. A checkpoint of another
    version fails naming the version(s) whose layout it matches; an unknown layout fails with the key diff."""
    version = spec.get(model)
    state = inference_state(load_state_dict(path, model))
    with torch.device("meta"):  # every parameter comes from the checkpoint (strict): nothing to initialise
        net = IFNet(version.arch, ensemble=ensemble or version.ensemble)
    expected = net.state_dict()
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in expected.items()
             if k in state and state[k].shape != v.shape]
    if missing or unexpected or wrong:
        others = matching_versions(state)
        if others:
            raise _fail(path, f"not an IFNet v{version.number} checkpoint: its keys and shapes are those of "
                        f"{', '.join(others)}", (f"set `model: {others[0]}`" if len(others) == 1 else
                                                          "set `model:` to whichever of those it is")
                        + f" or use the v{version.number} flownet.pkl")
        detail = (f"{len(missing)} missing keys {_few(missing)}, {len(unexpected)} unexpected keys {_few(unexpected)}"
                  if missing or unexpected else f"shape mismatch {_few(wrong)}")
        raise _fail(path, f"not an IFNet v{version.number} checkpoint: {detail}",
                    f"use the v{version.number} flownet.pkl")
    for key, value in state.items():
        if value.is_floating_point() and not _finite(value):
            raise _fail(path, f"tensor {key} holds NaN/inf values", "the checkpoint is corrupt: download it again")
    net.load_state_dict({k: v.float().contiguous() for k, v in state.items()}, strict=True, assign=True)
    return net.eval()


def _finite(value: torch.Tensor) -> bool:
    """All values finite; through numpy where it can (one thread: torch's pool of small ops crawls on a
    loaded machine), torch for bfloat16."""
    if value.dtype in (torch.float16, torch.float32, torch.float64):
        return bool(np.isfinite(value.detach().numpy()).all())
    return bool(torch.isfinite(value).all())


def _few(items: list[str], n: int = 5) -> str:
    return "[" + ", ".join(items[:n]) + (", ..." if len(items) > n else "") + "]"
