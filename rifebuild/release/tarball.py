"""Deterministic .tar.gz: the same files give the same bytes on any machine, at any time, as any user.

Everything a tar or gzip header would take from the build machine is fixed: entries sorted, one
mtime for all (the release's SOURCE_DATE_EPOCH), uid/gid 0 without names, modes reduced to 0644 /
0755 (executable or not), no pax/GNU extras, and a gzip header without a file name or timestamp.
Only the stdlib, so reading a bundle needs nothing from the project's venv.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import stat
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import atomic_path

FILE_MODE, EXEC_MODE, DIR_MODE = 0o644, 0o755, 0o755


def _info(name: str, mtime: int, mode: int, kind: bytes = tarfile.REGTYPE, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.size, info.mtime, info.mode = kind, size, mtime, mode
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def _parents(names: list[str]) -> list[str]:
    """Every folder the members live in, so an extracted tree gets normalised folder modes too."""
    return sorted({"/".join(n.split("/")[:i]) for n in names for i in range(1, n.count("/") + 1)})


def write(out: Path | str, members: dict[str, Path | bytes], mtime: int) -> None:
    """Write `members` (path inside the tarball -> source file or bytes) to `out`, atomically."""
    for name in members:
        if name.startswith("/") or ".." in name.split("/") or not name:
            raise ReleaseError(f"tarball member {name!r} of {out}: paths inside a bundle must be relative, "
                               "without '..'")
    entries = [(d + "/", None) for d in _parents(list(members))] + sorted(members.items())
    entries.sort(key=lambda e: e[0].rstrip("/"))
    with atomic_path(out) as tmp, open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9) as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for name, source in entries:
                    if source is None:
                        tar.addfile(_info(name.rstrip("/"), mtime, DIR_MODE, tarfile.DIRTYPE))
                        continue
                    if isinstance(source, bytes):
                        data, mode = source, FILE_MODE
                    else:
                        data = Path(source).read_bytes()
                        mode = EXEC_MODE if Path(source).stat().st_mode & stat.S_IXUSR else FILE_MODE
                    tar.addfile(_info(name, mtime, mode, size=len(data)), io.BytesIO(data))


def _name(member: tarfile.TarInfo) -> str:
    """The member's path as the manifest writes it: `tar -C dir .` repacks add a leading './'."""
    name = member.name
    while name.startswith("./"):
        name = name[2:]
    return name


CHUNK = 1 << 20  # members are hashed a chunk at a time: a 3 GiB member needs no 3 GiB of memory
KEEP_LIMIT = 16 << 20  # the most `scan` returns whole (a MANIFEST.json is tens of kB)


@dataclass(frozen=True)
class Member:
    name: str  # as the manifest writes it (no leading ./; a folder without its trailing /)
    folder: bool
    mode: int
    size: int  # as the member's header says
    sha256: str | None = None  # None: not read (not declared, or larger than declared)
    data: bytes | None = None  # the content of the member `scan` was asked to keep


def scan(path: Path | str, declared: dict[str, int] | None = None, keep: str | None = None) -> Iterator[Member]:
    """Every member of a tarball in order, streamed. A file is hashed in chunks when `declared` is None or
    its header size is at most `declared[name]` (a name not there is not read at all); the member named
    `keep` is also returned whole, if at most KEEP_LIMIT. Anything but files and folders is an error."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            for member in tar:
                name = _name(member)
                if member.isdir():
                    yield Member(name, True, member.mode, 0)
                    continue
                if not member.isfile():
                    raise ReleaseError(f"{path}: member {member.name!r} is not a regular file; a bundle holds "
                                       "only files and folders (download it again)")
                limit = member.size if declared is None else declared.get(name, -1)
                read = member.size <= limit
                kept = name == keep and member.size <= KEEP_LIMIT
                if not (read or kept):
                    yield Member(name, False, member.mode, member.size)
                    continue
                digest, content = hashlib.sha256(), [] if kept else None
                source = tar.extractfile(member)
                for chunk in iter(lambda: source.read(CHUNK), b""):
                    digest.update(chunk)
                    if content is not None:
                        content.append(chunk)
                yield Member(name, False, member.mode, member.size, digest.hexdigest() if read else None,
                             b"".join(content) if content is not None else None)
    except (tarfile.TarError, OSError, EOFError, zlib.error) as exc:
        raise ReleaseError(f"{path}: not a readable .tar.gz ({exc}); download it again") from None


def digests(path: Path | str) -> dict[str, dict]:
    """Every regular file in a tarball: path -> {size, sha256}."""
    return {m.name: {"size": m.size, "sha256": m.sha256} for m in scan(path) if not m.folder}


def read_member(path: Path | str, name: str) -> bytes | None:
    """One (small) file of a tarball, the first of that name (verify names duplicates), or None when it has
    no such member; a member over KEEP_LIMIT is an error. Stops reading there."""
    for member in scan(path, declared={}, keep=name):
        if member.name == name and not member.folder:
            if member.data is None:
                raise ReleaseError(f"{path}: its {name} is {member.size} bytes, more than such a file can be "
                                   f"(at most {KEEP_LIMIT}); download it again")
            return member.data
    return None
