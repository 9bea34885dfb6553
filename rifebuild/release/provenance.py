"""Where a bundle came from: the project's git commit (and whether the tree was dirty) and the one
timestamp the tarballs carry.

The timestamp is SOURCE_DATE_EPOCH when set (the reproducible-builds convention), else the commit
time of HEAD, else 0: never the clock, so two builds of one commit give the same bytes.
"""
from __future__ import annotations

import os
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
