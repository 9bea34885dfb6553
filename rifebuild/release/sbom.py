"""rife-build.cdx.json: a CycloneDX (1.6) bill of materials of what built the bundle -- the Python
environment as requirements.lock pins it, the ncnn source archive the native binaries are compiled from
(with its sha256), and the compilers and cmake that compiled them, with the versions they report.

Deterministic like the rest of the bundle: no timestamp, components in a fixed order, and the serial
number derived from the content (two builds in one environment give the same bytes, and `release merge`
can require the parts' SBOMs to be equal).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from rifebuild.core.errors import ReleaseError

NAME = "rife-build.cdx.json"
SPEC_VERSION = "1.6"
# The tools each native target's build ran (cmake drives them; the linux-arm64 toolchain file names the
# cross compilers). android-arm64's NDK clang is not listed yet.
TARGET_TOOLS = {"host": ("gcc", "g++"), "linux-arm64": ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++")}
BUILD_TOOLS = ("cmake",)
# The environment the bundle's code ran in, as pinned (the checkout's lock, not the working folder's).
LOCK = Path(__file__).resolve().parents[2] / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def python_components(lock: Path) -> list[dict]:
    """Every `name==version` pin of the lock, as a pypi package (purl: name lower-cased, '_' -> '-')."""
    try:
        lines = Path(lock).read_text().splitlines()
    except OSError as exc:
        raise ReleaseError(f"{lock}: cannot be read ({exc.strerror}); the SBOM lists the Python environment it "
                           "pins") from None
    out = []
    for line in lines:
        match = PIN.match(line.strip())
        if match:
            name, version = match.groups()
            purl = f"pkg:pypi/{name.lower().replace('_', '-')}@{version}"
            out.append({"type": "library", "bom-ref": purl, "name": name, "version": version, "purl": purl})
    if not out:
        raise ReleaseError(f"{lock}: holds no name==version pins; the SBOM lists the Python environment it pins")
    return sorted(out, key=lambda c: c["name"].lower())


def ncnn_component(native: dict) -> dict:
    """The ncnn source distribution, pinned by native.ncnn_sha256 (rifebuild.native.source checks it)."""
    component = {"type": "library", "bom-ref": "ncnn-source", "name": "ncnn", "version": native["ncnn_version"],
                 "description": "ncnn source distribution the native binaries are compiled from",
                 "hashes": [{"alg": "SHA-256", "content": native["ncnn_sha256"].lower()}]}
    if native.get("ncnn_url"):
        component["externalReferences"] = [{"type": "distribution", "url": native["ncnn_url"]}]
    return component


def tool_component(tool: str) -> dict:
    """`tool --version`'s first line (C locale) and the version number in it."""
    path = shutil.which(tool)
    if path is None:
        raise ReleaseError(f"{tool}: not found on PATH, but the native build needs it; install it (see the README's "
                           "native section) to build the bundle")
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=60, check=False,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise ReleaseError(f"{tool} --version failed ({exc}); the SBOM records every compiler's version") from None
    first = (proc.stdout.strip().splitlines() or [""])[0].strip()
    numbers = re.findall(r"\d+(?:\.\d+)+", first)
    if proc.returncode != 0 or not numbers:
        raise ReleaseError(f"{tool} --version printed no version ({first[:80]!r}); the SBOM records every "
                           "compiler's version")
    return {"type": "application", "bom-ref": f"tool:{tool}", "name": tool, "version": numbers[-1],
            "description": first}


def render(lock: Path, native: dict, targets: list[str], git: dict) -> bytes:
    """The SBOM's bytes for a bundle whose native tarball holds `targets`."""
    tools = [t for target in sorted(targets) for t in TARGET_TOOLS.get(target, ())] + list(BUILD_TOOLS)
    bom = {
        "bomFormat": "CycloneDX", "specVersion": SPEC_VERSION, "version": 1,
        "metadata": {"component": {"type": "application", "bom-ref": "rife-build", "name": "rife-build",
                                   "version": git.get("commit") or "unknown",
                                   "description": "the release bundle's models and native binaries"}},
        "components": [*python_components(lock), ncnn_component(native),
                       *(tool_component(t) for t in dict.fromkeys(tools))],
    }
    content = json.dumps(bom, sort_keys=True, separators=(",", ":")).encode()
    serial = uuid.UUID(bytes=hashlib.sha256(content).digest()[:16], version=5)
    return (json.dumps({**bom, "serialNumber": f"urn:uuid:{serial}"}, indent=2, sort_keys=True) + "\n").encode()
