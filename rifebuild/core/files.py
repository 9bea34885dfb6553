"""Atomic file outputs (a failed step must leave nothing that looks done), file hashes, safe tar unpacking and
the flock shared by processes that build or read one folder."""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import tempfile
from pathlib import Path

from rifebuild.core.errors import OutputError


@contextlib.contextmanager
def atomic_path(path: Path | str):
    """Yield a temp path beside `path`; rename it onto `path` only if the block succeeds.

    The temp name carries this process's id and start time (core.stale.owner_tag): a start-up sweep of
    another run removes it only once this process is gone."""
    from rifebuild.core.stale import owner_tag

    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.{owner_tag()}.", suffix=".tmp", dir=path.parent)
    except PermissionError:
        folder = next(p for p in path.parents if p.is_dir() or p == p.parent)  # the one it could not write into
        raise OutputError(f"cannot write {path}: the folder {folder} is not writable by this user; fix its "
                          "permissions or run from a working directory you own") from None
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())
    try:
        yield Path(tmp)
        try:
            os.replace(tmp, path)
        except FileNotFoundError:
            raise OutputError(f"cannot write {path}: its temp file {tmp} was removed by another process while "
                              "this step ran; run again") from None
        except PermissionError:
            raise OutputError(f"cannot write {path}: the folder {path.parent} is not writable by this user; fix "
                              "its permissions") from None
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_json(path: Path | str, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def sha256_of(path: Path | str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def extract_tar(tar, dest: Path | str) -> None:
    """Unpack an open tarfile.TarFile into `dest`, refusing members that would land outside it.

    Python 3.11.4+ does this with `filter="data"`; Debian 12's 3.11.2 has no filters, so there every
    member is checked here first (no absolute paths, no `..`, no device files, links only inside `dest`)."""
    import tarfile

    if hasattr(tarfile, "data_filter"):
        tar.extractall(dest, filter="data")
        return
    root = os.path.realpath(dest)

    def inside(path: str) -> bool:
        return os.path.commonpath([root, os.path.realpath(os.path.join(root, path))]) == root

    for member in tar.getmembers():
        target = os.path.join(os.path.dirname(member.name), member.linkname) if member.issym() else member.linkname
        if (os.path.isabs(member.name) or not inside(member.name) or member.isdev()
                or ((member.issym() or member.islnk()) and (os.path.isabs(member.linkname) or not inside(target)))):
            raise tarfile.TarError(f"member {member.name!r} would be written outside {dest}")
    tar.extractall(dest)


@contextlib.contextmanager
def file_lock(path: Path, shared: bool = False, log=None):
    """flock `path` (created if missing, never deleted) for the block; waits, noting it in `log`, while
    another process (or thread) holds it. The note names the lock file only: its holder may be a build of
    the tree or a reader of the unpacked source."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    with open(path, "a") as handle:
        try:
            fcntl.flock(handle, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            if log is not None:
                log.write(f"# waiting for {path}: another process holds it\n")
                log.flush()
            fcntl.flock(handle, mode)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
