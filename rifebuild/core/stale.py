"""Remove temp files that a killed process left behind.

atomic_path() writes `.<name>.<random>.tmp` beside an output and renames it when the step succeeds; a
SIGKILL/SIGTERM between the two leaves the temp file. remove_stale_temps() deletes such files (and
`*.part` files) that are older than this process, so a workflow can sweep its own output folders at
start-up without touching the temp files of steps it is about to run.
"""
from __future__ import annotations

import fnmatch
import os
import time
from collections.abc import Iterable
from pathlib import Path

PATTERNS = (".*.tmp", "*.part")
SLACK_S = 2.0  # seconds before the process start: a clock read at a one-second resolution never deletes too much
_IMPORTED_AT = time.time()


def process_start_time(pid: int | str = "self") -> float:
    """When process `pid` (this one by default) started, as a time.time() value, to within a second."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, counted after "pid (comm)"
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return _IMPORTED_AT  # no /proc: when this module was first imported (not later than needed)


def remove_stale_temps(folders: Iterable[Path | str] | Path | str, before: float | None = None) -> list[Path]:
    """Delete files named `.*.tmp` or `*.part` under `folders` (recursively, not following symlinked
    folders) last modified before `before` (default: this process's start, less SLACK_S seconds).

    Missing folders are skipped and files that vanish or cannot be removed meanwhile are left alone.
    Returns the removed paths.
    """
    if isinstance(folders, (str, Path)):
        folders = [folders]
    cutoff = (process_start_time() - SLACK_S) if before is None else before
    removed: list[Path] = []
    for folder in folders:
        for dirpath, _dirnames, filenames in os.walk(folder):
            for name in filenames:
                if not any(fnmatch.fnmatchcase(name, pattern) for pattern in PATTERNS):
                    continue
                path = Path(dirpath) / name
                try:
                    if path.lstat().st_mtime >= cutoff:
                        continue
                    path.unlink()
                except OSError:
                    continue
                removed.append(path)
    return removed
