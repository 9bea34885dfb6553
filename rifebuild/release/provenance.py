"""Where a bundle came from: the project's git commit (and whether the tree was dirty), the one
timestamp the tarballs carry, and the CPU that built it.

The timestamp is SOURCE_DATE_EPOCH when set (the reproducible-builds convention), else the commit
time of HEAD, else 0: never the clock, so two builds of one commit give the same bytes.
"""
from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

from rifebuild.core.errors import ReleaseError

# The checkout whose code runs (jobs import this checkout's rifebuild): its commit is the project's.
CHECKOUT = Path(__file__).resolve().parents[2]


def _git(repo: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=60,
                              check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_state(repo: Path | str) -> dict:
    """{"commit": sha or None, "dirty": bool or None}; None where `repo` is no git checkout (a source
    archive) or git is missing. Untracked files count as dirty: they could be code the build ran."""
    commit = _git(Path(repo), "rev-parse", "--verify", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    status = _git(Path(repo), "status", "--porcelain", "--untracked-files=normal")
    return {"commit": commit.strip(), "dirty": None if status is None else bool(status.strip())}


def source_date_epoch(repo: Path | str, environ: dict | None = None) -> int:
    environ = os.environ if environ is None else environ
    value = environ.get("SOURCE_DATE_EPOCH", "").strip()
    if value:
        if not value.isdigit():
            raise ReleaseError(f"SOURCE_DATE_EPOCH={value!r} is not a whole number of seconds; unset it or set "
                               "it to e.g. the commit time (git log -1 --format=%ct)")
        return int(value)
    commit_time = _git(Path(repo), "log", "-1", "--format=%ct")
    return int(commit_time.strip()) if commit_time and commit_time.strip().isdigit() else 0


# The instruction-set extensions that choose ncnn's and torch's SIMD code paths (x86: /proc/cpuinfo `flags`;
# arm64: `Features`), the ones a build machine's record names.
ISA_FLAGS = {"x86_64": ("avx512f", "avx512bw", "avx512_vnni", "avx2", "fma", "f16c", "avx", "sse4_2", "sse2"),
             "aarch64": ("asimd", "asimdhp", "asimddp", "i8mm", "bf16", "sve", "sve2")}


def build_machine(cpuinfo: Path | str = "/proc/cpuinfo", arch: str | None = None) -> dict:
    """{"arch", "cpu" (model name, None where the kernel names none), "isa" (the ISA_FLAGS it has)}: what
    SIMD paths the build ran, so that a bundle's numbers can be traced to a CPU (issue 21 item 5)."""
    arch = arch or platform.machine()
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        text = ""
    model = re.search(r"^(?:model name|Model|Hardware)\s*:\s*(.+)$", text, flags=re.M)
    flags = re.search(r"^(?:flags|Features)\s*:(.*)$", text, flags=re.M)
    have = set(flags.group(1).split()) if flags else set()
    return {"arch": arch, "cpu": " ".join(model.group(1).split()) if model else None,
            "isa": [f for f in ISA_FLAGS.get(arch, ()) if f in have]}
