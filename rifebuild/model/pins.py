"""Each RIFE v4 version's official checkpoint: its download URL and sha256 pin, read from pins.yaml.

pins.yaml (beside this module) is the one place the URLs and pins live; `weights: official` checks every
model against its own entry. A null sha256 is an explicit "not pinned yet": the download is trusted on
first use, its sha256 printed for pinning, and its records say `unpinned`; `require_pins` (a tagged
release) refuses such a version before anything runs. `weights_pins` names another file of the same
form (a mirror, or a test's local server). The one-version keys `weights_url` / `weights_sha256` stay as
overrides of a single model's entry (several models refuse them: rifebuild.core.config).
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from rifebuild.core.errors import ConfigError
from rifebuild.model import spec

PINS_PATH = Path(__file__).resolve().with_name("pins.yaml")
SHA256 = re.compile(r"^[0-9a-f]{64}$")
URL = re.compile(r"^(https?|file)://\S+$")


@dataclass(frozen=True)
class Pin:
    """Where `model`'s official checkpoint is downloaded from and the sha256 it must have (None: unpinned)."""

    model: str
    url: str
    sha256: str | None


def pins_path(config: dict | None = None) -> Path:
    """The pins file the config names (`weights_pins`), else the packaged pins.yaml."""
    named = (config or {}).get("weights_pins") or ""
    return Path(named) if named else PINS_PATH


@functools.cache
def _load(path: Path, mtime_ns: int) -> dict[str, Pin]:
    try:
        data = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"weights_pins: cannot read {path} ({exc.strerror or exc}); point it to a pins file "
                          "like rifebuild/model/pins.yaml") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({' '.join(str(exc).split())[:160]}); fix the pins file") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a pins file (a mapping of version name to url and sha256); fix it")
    pins = {}
    for name, entry in data.items():
        if str(name) not in spec.VERSIONS:
            raise ConfigError(f"{path}: {name!r} is not a RIFE v4 version name (rifebuild.model.spec); fix the "
                              "pins file")
        if not isinstance(entry, dict) or set(entry) != {"url", "sha256"}:
            raise ConfigError(f"{path}: {name} must have exactly `url` and `sha256` (null when not pinned yet)")
        url, sha = entry["url"], entry["sha256"]
        if not isinstance(url, str) or not URL.match(url):
            raise ConfigError(f"{path}: {name}.url {url!r} is not an http(s) or file URL; fix the pins file")
        if sha is not None and (not isinstance(sha, str) or not SHA256.match(sha.lower())):
            raise ConfigError(f"{path}: {name}.sha256 {sha!r} is not 64 hex digits (or null: not pinned yet); "
                              "fix the pins file")
        pins[str(name)] = Pin(str(name), url, sha.lower() if sha else None)
    return pins


def load(path: Path | str = PINS_PATH) -> dict[str, Pin]:
    """Every entry of a pins file, checked (known version names, a URL, 64 hex digits or null)."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        mtime = 0  # _load names the unreadable file
    return _load(path, mtime)


def official(config: dict, model: str) -> Pin:
    """The download of `model` for `weights: official`: its pins-file entry, with the single-model
    overrides `weights_url` (another URL of the same file: the pin still applies) and `weights_sha256`."""
    path = pins_path(config)
    pins = load(path)
    if model not in pins:
        raise ConfigError(f"{path}: no entry for {model}; add its `url` and `sha256` (null when not pinned yet)")
    pin = pins[model]
    override = (config.get("weights_sha256") or "").strip().lower()
    return Pin(model, config.get("weights_url") or pin.url, override or pin.sha256)


def check(config: dict) -> None:
    """Before any job runs: every model `weights: official` downloads has an entry in the pins file, and
    with `require_pins` (a tagged release) a sha256 pin too."""
    if config["weights"] != "official":
        return
    for model in config["models"]:
        if official(config, model).sha256 is None and config.get("require_pins"):
            raise ConfigError(f"{model} has no sha256 pin in {pins_path(config)}, and a tagged release "
                              "(require_pins) refuses unpinned versions; pin it with the sha256 a nightly run "
                              f"printed for it, or leave {model} out of `models`")
