"""Remove temp files that a killed process left behind, and only those.

atomic_path() writes `.<name>.<pid>-<start>.<random>.tmp` beside an output (the writer's process id and
start time, in clock ticks since boot) and renames it when the step succeeds; a SIGKILL/SIGTERM between
the two leaves the temp file. remove_stale_temps() deletes such a file only when its writer is gone (no
process with that id, or one started at another time: the id was reused), so a workflow can sweep its
output folders at start-up while another run of the same checkout is writing there. Temp files without
an owner (`*.part`, or written by an older version) go only when older than this process and open in no
process.
"""
from __future__ import annotations

import fnmatch
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

PATTERNS = (".*.tmp", "*.part")
SLACK_S = 2.0  # seconds before the process start: a clock read at a one-second resolution never deletes too much
_IMPORTED_AT = time.time()
OWNER = re.compile(r"\.(\d+)-(\d+)\.[^.]*\.tmp$")  # .<name>.<pid>-<start ticks>.<random>.tmp


def start_ticks(pid: int | str = "self") -> int | None:
    """Process `pid`'s start time in clock ticks after boot (/proc/<pid>/stat field 22); None: no such
    process (or no /proc)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None


_OWNER_TAGS: dict[int, str] = {}


def owner_tag() -> str:
    """`<pid>-<start ticks>` of this process, for the names of the temp files it writes."""
    pid = os.getpid()
    if pid not in _OWNER_TAGS:  # per pid: a forked child tags its own files
        _OWNER_TAGS[pid] = f"{pid}-{start_ticks(pid) or 0}"
    return _OWNER_TAGS[pid]


def _owner_alive(name: str) -> bool | None:
    """Whether the process that wrote temp file `name` still runs; None: the name carries no owner."""
    match = OWNER.search(name)
    if match is None:
        return None
    pid, ticks = int(match.group(1)), int(match.group(2))
    return pid == os.getpid() or start_ticks(pid) == ticks


def _open_files() -> set[tuple[int, int]]:
    """(device, inode) of every file some process (that this user may inspect) has open."""
    found = set()
    for fd_dir in Path("/proc").glob("[0-9]*/fd"):
        try:
            fds = list(fd_dir.iterdir())
        except OSError:
            continue
        for fd in fds:
            try:
                st = fd.stat()
            except OSError:
                continue
            found.add((st.st_dev, st.st_ino))
    return found


def process_start_time(pid: int | str = "self") -> float:
    """When process `pid` (this one by default) started, as a time.time() value, to within a second."""
    ticks = start_ticks(pid)
    try:
        boot = next(int(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                    if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        ticks = None
    if ticks is None:
        return _IMPORTED_AT  # no /proc: when this module was first imported (not later than needed)
    return boot + ticks / os.sysconf("SC_CLK_TCK")


def remove_stale_temps(folders: Iterable[Path | str] | Path | str, before: float | None = None) -> list[Path]:
    """Delete the temp files under `folders` (recursively, not following symlinked folders) that no live
    process owns: a `.<name>.<pid>-<start>.<random>.tmp` whose writer is gone; a temp file without an
    owner in its name (`.*.tmp`, `*.part`) last modified before `before` (default: this process's start,
    less SLACK_S seconds) and open in no process.

    Missing folders are skipped and files that vanish or cannot be removed meanwhile are left alone.
    Returns the removed paths.
    """
    if isinstance(folders, (str, Path)):
        folders = [folders]
    cutoff = (process_start_time() - SLACK_S) if before is None else before
    candidates: list[tuple[Path, os.stat_result]] = []
    for folder in folders:
        for dirpath, _dirnames, filenames in os.walk(folder):
            for name in filenames:
                if not any(fnmatch.fnmatchcase(name, pattern) for pattern in PATTERNS):
                    continue
                alive = _owner_alive(name)
                path = Path(dirpath) / name
                try:
                    st = path.lstat()
                except OSError:
                    continue
                if alive or (alive is None and st.st_mtime >= cutoff):
                    continue
                candidates.append((path, st))
    in_use = _open_files() if any(_owner_alive(p.name) is None for p, _ in candidates) else set()
    removed: list[Path] = []
    for path, st in candidates:
        if (st.st_dev, st.st_ino) in in_use:
            continue
        try:
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed
