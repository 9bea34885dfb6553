"""Fetch, sha256-verify and cache the ncnn source distribution that matches the pinned wheel (and the
other sdist we build from source, nihui's client: rifebuild.native.rife_ncnn_vulkan; a Pin names each one's keys).

pip refuses to download this sdist (its setup.py stamps today's date as the version), so we read
the project's page on the package index pip is configured with and download the file ourselves
(rifebuild.core.download: retries, one deadline, atomic, sha256-pinned). No registry host is
written here: the index URL comes from pip's own configuration.
"""
from __future__ import annotations

import contextlib
import html.parser
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from rifebuild.core.download import download, fetch_bytes
from rifebuild.core.errors import DownloadError, SourceError
from rifebuild.core.files import extract_tar, file_lock, sha256_of
from rifebuild.native.targets import REPO

JSON_ACCEPT = "application/vnd.pypi.simple.v1+json"


@dataclass(frozen=True)
class Pin:
    """An sdist on pip's index and the keys that pin it: errors name these, so a user knows what to fix."""

    project: str
    version_key: str
    sha256_key: str
    url_key: str | None = None  # a key that may point at a copy of the archive instead

    def or_url(self, filename: str = "") -> str:
        """The advice to use a copy instead, where a key allows one (else nothing)."""
        if not self.url_key:
            return ""
        return f", or set {self.url_key} to a copy of {filename}" if filename else f" or {self.url_key}"


NCNN = Pin("ncnn", "native.ncnn_version", "native.ncnn_sha256", "native.ncnn_url")
PAGE_DEADLINE = 120.0  # seconds for one index page, retries included
ARCHIVE_DEADLINE = 600.0  # seconds for the source archive, retries included


def pip_index_url() -> str:
    """The index URL pip would use: PIP_INDEX_URL, then pip config, then pip's built-in default."""
    env = os.environ.get("PIP_INDEX_URL", "").strip()
    if env:
        return env.split()[0]
    try:
        out = subprocess.run(
            [sys.executable, "-m", "pip", "config", "get", "global.index-url"],
            check=False, capture_output=True, text=True, timeout=60,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().split()[0]
    except (OSError, subprocess.TimeoutExpired):
        pass
    from pip._internal.models.index import PyPI

    return PyPI.simple_url


class _Links(html.parser.HTMLParser):
    """Collects <a href> targets and texts from a PEP 503 simple page."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []
        self._href: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href = dict(attrs).get("href")

    def handle_data(self, data):
        if self._href is not None:
            self.links.append((data.strip(), self._href))
            self._href = None


def find_file_url(index_url: str, project: str, filename: str, pin: Pin = NCNN) -> str:
    """URL of `filename` on the index's simple page of `project` (PEP 691 JSON or PEP 503 HTML)."""
    page = urllib.parse.urljoin(index_url.rstrip("/") + "/", project + "/")
    try:
        body, ctype = fetch_bytes(page, headers={"Accept": f"{JSON_ACCEPT}, text/html;q=0.1"},
                                  deadline=PAGE_DEADLINE,
                                  advice="check the network and pip's index URL (PIP_INDEX_URL or pip config "
                                         f"global.index-url){pin.or_url(filename)}")
    except DownloadError as exc:
        raise SourceError(str(exc)) from None
    if "json" in ctype:
        try:
            links = [(f["filename"], f["url"]) for f in json.loads(body)["files"]]
        except (ValueError, KeyError, TypeError):
            raise SourceError(f"{page}: not a PEP 691 project page (its JSON lacks files[].filename/url); "
                              f"check pip's index URL (PIP_INDEX_URL){pin.or_url(filename)}") from None
    else:
        parser = _Links()
        parser.feed(body.decode("utf-8", "replace"))
        links = parser.links
    for name, href in links:
        if name == filename:
            return urllib.parse.urljoin(page, href).split("#")[0]
    raise SourceError(f"{filename} is not listed on the package index page {page}; check {pin.version_key}.")


def fetch(url: str, dest: Path, sha256: str, pin: Pin = NCNN) -> Path:
    """Download `url` to `dest` atomically unless a copy with the right sha256 is already there."""
    dest = Path(dest)
    if dest.exists() and sha256_of(dest) == sha256:
        return dest
    try:
        return download(url, dest, sha256=sha256, deadline=ARCHIVE_DEADLINE, pin_name=pin.sha256_key,
                        advice=f"check the network{pin.or_url()}, or download {dest.name} elsewhere and "
                               f"place it at {dest}")
    except DownloadError as exc:
        raise SourceError(str(exc)) from None


def archive_name(version: str, url: str | None = None, project: str = "ncnn") -> str:
    """The archive's file name in the download cache: the URL's, else the sdist's."""
    return Path(urllib.parse.urlparse(url).path).name if url else f"{project}-{version}.tar.gz"


def fetch_sdist(version: str, sha256: str, dest_dir: Path, url: str | None = None,
                index_url: str | None = None, pin: Pin = NCNN) -> Path:
    """The source archive of `pin.project` in `dest_dir`: from `url` if given, else the sdist on pip's index."""
    name = archive_name(version, url, pin.project)
    dest = Path(dest_dir) / name
    if dest.exists() and sha256_of(dest) == sha256:
        return dest
    if not url:
        url = find_file_url(index_url or pip_index_url(), pin.project, name, pin)
    return fetch(url, dest, sha256, pin)


def lock_path(dest: Path) -> Path:
    """The lock file beside an unpacked source: builds hold it shared while they read the tree, an unpack
    holds it exclusively (so it never replaces a tree that a build is reading)."""
    return Path(dest).with_name(f".{Path(dest).name}.lock")


def unpack(archive: Path, dest: Path) -> Path:
    """Unpack the archive into `dest` once (unpack_once) and return the folder holding ncnn's CMakeLists.txt."""
    return source_root(unpack_once(archive, dest))


def unpack_once(archive: Path, dest: Path) -> Path:
    """Unpack the archive into `dest` once; returns `dest`.

    `dest` may be shared by several working directories (native.build_dir). A complete unpack is never
    touched again; a missing or incomplete one is unpacked into a private folder beside it and renamed
    into place, under the exclusive lock, so a second unpack waits and then finds it complete.
    """
    dest = Path(dest)
    if unpacked_sha256(dest) is None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with file_lock(lock_path(dest)):
            if unpacked_sha256(dest) is None:
                _unpack_locked(Path(archive), dest)
    return dest


@contextlib.contextmanager
def source_in_use(root: Path, log=None):
    """Hold the unpack that `root` (a source root) lies in, shared, while the block reads it: an unpack waits
    for the block before it replaces anything there. A source tree of the user's own (no unpack) needs none."""
    root = Path(root)
    dest = next((p for p in (root, root.parent) if (p / ".complete").exists()), None)
    if dest is None:
        yield root
        return
    with file_lock(lock_path(dest), shared=True, log=log):
        yield root


def _unpack_locked(archive: Path, dest: Path) -> None:
    """Unpack beside `dest`, then rename into place. Holding the exclusive lock, nobody reads `dest` (it is
    incomplete: a killed unpack's leftover) or the `.part` folders of earlier, killed unpacks."""
    import zipfile

    for leftover in dest.parent.glob(f".{dest.name}.*.part"):
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
    try:
        if str(archive).endswith(".zip"):
            with zipfile.ZipFile(archive) as z:
                z.extractall(tmp)
        else:
            with tarfile.open(archive) as t:
                extract_tar(t, tmp)
        (tmp / ".complete").write_text(f"{sha256_of(archive)}  {archive.name}\n")
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise SourceError(f"{archive}: cannot be unpacked into {dest} ({reason}); free disk space, or delete the "
                          "archive so that it is downloaded again") from None
    if dest.exists():  # incomplete (no build reads it: see source_in_use): moved aside first, then removed
        stale = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent))
        os.replace(dest, stale / "old")
        shutil.rmtree(stale, ignore_errors=True)
    os.replace(tmp, dest)


def unpacked_sha256(dest: Path) -> str | None:
    """sha256 of the archive a complete unpack in `dest` came from (None: not unpacked)."""
    try:
        return (Path(dest) / ".complete").read_text().split()[0]
    except (OSError, IndexError):
        return None


def source_root(dest: Path) -> Path:
    """The folder holding ncnn's CMakeLists.txt and src/ inside an unpacked archive."""
    dest = Path(dest)
    roots = sorted(p.parent for p in dest.glob("*/CMakeLists.txt") if (p.parent / "src").is_dir())
    roots += [dest] if (dest / "CMakeLists.txt").exists() and (dest / "src").is_dir() else []
    if not roots:
        raise SourceError(f"{dest} holds no ncnn source tree (CMakeLists.txt + src/); check native.ncnn_url.")
    return roots[0]


def ncnn_source_root(cfg: dict, resources: Path = REPO / "resources", dest: Path | None = None) -> Path:
    """Fetch (or reuse) the pinned ncnn source archive and unpack it into `dest`; returns its root.

    `dest` defaults to <build_dir>/src-<sha256 prefix>: beside the CMake build folders, so a build
    folder shared by several working directories always sees the same source path.
    """
    dest = dest or Path(cfg.get("build_dir", REPO / "build/native")) / f"src-{cfg['ncnn_sha256'][:12]}"
    if unpacked_sha256(dest) == cfg["ncnn_sha256"]:
        return source_root(dest)  # already unpacked: no download cache needed
    archive = fetch_sdist(cfg["ncnn_version"], cfg["ncnn_sha256"], Path(resources) / "ncnn", url=cfg.get("ncnn_url"))
    return unpack(archive, dest)
