"""ncnn source download: index discovery, PEP 691 JSON / PEP 503 HTML pages, sha256 pinning, cache.

Everything runs against a local HTTP server on 127.0.0.1.
"""
from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import tarfile
import threading
import time
from typing import ClassVar

import pytest
from localhttp import QuietHandler, serving

from rifebuild.native import rife_ncnn_vulkan
from rifebuild.native import source as src

VERSION = "1.0.20990101"
NAME = f"ncnn-{VERSION}.tar.gz"


def _sdist() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for path, text in ((f"ncnn-{VERSION}/CMakeLists.txt", b"project(ncnn)\n"),
                           (f"ncnn-{VERSION}/src/CMakeLists.txt", b"ncnn_add_layer(Input)\n")):
            info = tarfile.TarInfo(path)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    return buf.getvalue()


SDIST = _sdist()
SHA = hashlib.sha256(SDIST).hexdigest()


class _Index(QuietHandler):
    requests: ClassVar[list[str]] = []
    json_pages = True
    page_failures = 0  # answer the project page with 503 this many times first

    def do_GET(self):
        type(self).requests.append(self.path)
        if self.path == "/simple/ncnn/" and self.requests.count(self.path) <= self.page_failures:
            self.send_error(503)
            return
        if self.path == "/files/trickle.tar.gz":
            self.send_response(200)
            self.send_header("Content-Length", str(len(SDIST)))
            self.end_headers()
            try:
                for byte in SDIST[:200]:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
            return
        if self.path == "/simple/ncnn/":
            if self.json_pages and "application/vnd.pypi.simple.v1+json" in self.headers.get("Accept", ""):
                body = json.dumps({"files": [{"filename": NAME, "url": f"../../files/{NAME}",
                                              "hashes": {"sha256": SHA}}]}).encode()
                ctype = "application/vnd.pypi.simple.v1+json"
            else:
                body = f'<html><body><a href="/files/{NAME}#sha256={SHA}">{NAME}</a></body></html>'.encode()
                ctype = "text/html"
        elif self.path == f"/files/{NAME}":
            body, ctype = SDIST, "application/octet-stream"
        else:
            self.send_error(404)
            return
        self.send_body(body, ctype)


@pytest.fixture()
def index():
    _Index.requests = []
    _Index.json_pages = True
    _Index.page_failures = 0
    with serving(_Index) as url:
        yield f"{url}/simple/"


def test_index_url_from_env(monkeypatch):
    monkeypatch.setenv("PIP_INDEX_URL", "http://127.0.0.1:1/simple/ http://other/")
    assert src.pip_index_url() == "http://127.0.0.1:1/simple/"


def test_index_url_default_is_pips(monkeypatch):
    from pip._internal.models.index import PyPI

    monkeypatch.delenv("PIP_INDEX_URL", raising=False)
    monkeypatch.setenv("PIP_CONFIG_FILE", "/dev/null")
    assert src.pip_index_url() == PyPI.simple_url


@pytest.mark.parametrize("json_pages", [True, False])
def test_fetch_from_json_and_html_pages(index, tmp_path, json_pages):
    _Index.json_pages = json_pages
    path = src.fetch_sdist(VERSION, SHA, tmp_path, index_url=index)
    assert path.read_bytes() == SDIST
    root = src.unpack(path, tmp_path / "src")
    assert (root / "src/CMakeLists.txt").is_file()


def test_cached_copy_needs_no_network(index, tmp_path):
    src.fetch_sdist(VERSION, SHA, tmp_path, index_url=index)
    _Index.requests = []
    src.fetch_sdist(VERSION, SHA, tmp_path, index_url="http://127.0.0.1:1/unreachable/")
    assert _Index.requests == []


def test_wrong_sha_leaves_nothing(index, tmp_path):
    with pytest.raises(src.SourceError, match=r"sha256 [0-9a-f]{64}, but native.ncnn_sha256 pins 0{64}, so it was not "
                                              r"kept; .* fix native.ncnn_sha256$"):
        src.fetch_sdist(VERSION, "0" * 64, tmp_path, index_url=index)
    assert list(tmp_path.iterdir()) == []


def test_index_page_5xx_is_retried(index, tmp_path, monkeypatch):
    _Index.page_failures = 1
    sleeps = []
    monkeypatch.setattr(time, "sleep", sleeps.append)  # the downloader's back-off pause
    assert src.fetch_sdist(VERSION, SHA, tmp_path, index_url=index).read_bytes() == SDIST
    assert _Index.requests.count("/simple/ncnn/") == 2 and sleeps == [1.0]


def test_archive_download_has_a_deadline(index, tmp_path, monkeypatch):
    monkeypatch.setattr(src, "ARCHIVE_DEADLINE", 1.0)
    url = index.replace("/simple/", "/files/trickle.tar.gz")
    t0 = time.monotonic()
    with pytest.raises(src.SourceError, match=r"within the 1 s deadline .* place it at .*trickle.tar.gz$"):
        src.fetch_sdist(VERSION, SHA, tmp_path, url=url)
    assert time.monotonic() - t0 < 3.0
    assert list(tmp_path.iterdir()) == []


def test_concurrent_unpacks_of_one_folder_wait_for_each_other(index, tmp_path):
    archive = src.fetch_sdist(VERSION, SHA, tmp_path / "res", index_url=index)
    results, errors = [], []

    def unpack():
        try:
            results.append(src.unpack(archive, tmp_path / "build" / "src"))
        except Exception as exc:  # noqa: BLE001 (reported by the assertion below)
            errors.append(exc)

    threads = [threading.Thread(target=unpack) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(set(results)) == 1
    assert (results[0] / "src/CMakeLists.txt").is_file()
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == [".src.lock", "src"]


def test_unpack_never_replaces_a_tree_that_a_build_reads(index, tmp_path):
    """A build holds the unpack (shared) while it compiles; an unpack that finds the tree incomplete (an
    older workflow deleted its .complete before re-running) waits for it instead of deleting the files
    under the compiler (failed before: `fatal error: modelbin.h: No such file or directory`)."""
    archive = src.fetch_sdist(VERSION, SHA, tmp_path / "res", index_url=index)
    dest = tmp_path / "build" / "src"
    root = src.unpack(archive, dest)
    header = root / "src/CMakeLists.txt"
    with src.source_in_use(root):
        (dest / ".complete").unlink()
        second = threading.Thread(target=src.unpack, args=(archive, dest))
        second.start()
        second.join(0.5)
        assert second.is_alive() and header.is_file()  # still waiting; the reader's files are all there
    second.join(10)
    assert not second.is_alive() and src.unpacked_sha256(dest) == SHA and header.is_file()
    assert sorted(p.name for p in (tmp_path / "build").iterdir()) == [".src.lock", "src"]  # no .part left


def test_a_complete_unpack_is_never_touched_again(index, tmp_path):
    archive = src.fetch_sdist(VERSION, SHA, tmp_path / "res", index_url=index)
    root = src.unpack(archive, tmp_path / "build" / "src")
    inode = (root / "CMakeLists.txt").stat().st_ino
    with src.source_in_use(root):  # a reader does not block a second unpack of a complete tree
        assert src.unpack(archive, tmp_path / "build" / "src") == root
    assert (root / "CMakeLists.txt").stat().st_ino == inode


def test_corrupt_archive_is_one_sentence(tmp_path):
    archive = tmp_path / NAME
    archive.write_bytes(SDIST[:100])
    with pytest.raises(src.SourceError, match=rf"{NAME}: cannot be unpacked into .*; free disk space, or delete"):
        src.unpack(archive, tmp_path / "src")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".src.lock", NAME]  # no half-unpacked folder


def test_missing_version_is_named(index, tmp_path):
    with pytest.raises(src.SourceError, match="ncnn-1.0.19990101.tar.gz is not listed"):
        src.fetch_sdist("1.0.19990101", SHA, tmp_path, index_url=index)


def test_offline_is_one_sentence(tmp_path, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda s: None)  # the downloader's back-off pauses
    with pytest.raises(src.SourceError) as info:
        src.fetch_sdist(VERSION, SHA, tmp_path, index_url="http://127.0.0.1:1/simple/")
    assert str(info.value) == (
        "could not download http://127.0.0.1:1/simple/ncnn/ (Connection refused; 3 attempts); check the network and "
        "pip's index URL (PIP_INDEX_URL or pip config global.index-url), or set native.ncnn_url to a copy of "
        f"{NAME}")


def test_explicit_url(index, tmp_path):
    url = index.replace("/simple/", f"/files/{NAME}")
    assert src.fetch_sdist(VERSION, SHA, tmp_path, url=url).read_bytes() == SDIST


def test_unpack_zip_without_top_folder(tmp_path):
    import zipfile

    archive = tmp_path / "ncnn-full-source.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("CMakeLists.txt", "project(ncnn)\n")
        z.writestr("src/CMakeLists.txt", "ncnn_add_layer(Input)\n")
    root = src.unpack(archive, tmp_path / "src")
    assert root == tmp_path / "src" and (root / "src/CMakeLists.txt").is_file()


def test_unpacked_source_needs_no_archive(index, tmp_path):
    from rifebuild.native import source as native_source

    cfg = {"ncnn_version": VERSION, "ncnn_sha256": SHA, "ncnn_url": None, "build_dir": tmp_path / "build"}
    src.fetch_sdist(VERSION, SHA, tmp_path / "res/ncnn", index_url=index)
    root = native_source.ncnn_source_root(cfg, resources=tmp_path / "res")
    (tmp_path / "res/ncnn" / NAME).unlink()  # a working dir without the download cache
    assert native_source.ncnn_source_root(cfg, resources=tmp_path / "res") == root
    assert src.unpacked_sha256(tmp_path / "build" / f"src-{SHA[:12]}") == SHA


@pytest.mark.parametrize("filters", [True, False], ids=["python-filter", "own-check"])
@pytest.mark.parametrize("name, link", [("../escape.txt", None), ("/abs.txt", None), ("ok/link", "../../outside"),
                                        ("ok/abs-link", "/etc/passwd")])
def test_extract_refuses_members_outside_the_folder(tmp_path, monkeypatch, filters, name, link):
    """With Python's tar filters (3.11.4+) or without them (Debian 12's 3.11.2): nothing lands outside."""
    import io
    import tarfile

    from rifebuild.core.files import extract_tar

    if not filters:
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    archive = tmp_path / "a.tar"
    with tarfile.open(archive, "w") as tar:
        good = tarfile.TarInfo("ok/file.txt")
        good.size = 2
        tar.addfile(good, io.BytesIO(b"ok"))
        bad = tarfile.TarInfo(name)
        if link:
            bad.type, bad.linkname = tarfile.SYMTYPE, link
        else:
            bad.size = 3
        tar.addfile(bad, None if link else io.BytesIO(b"bad"))
    dest = tmp_path / "dest"
    with tarfile.open(archive) as tar:
        try:
            extract_tar(tar, dest)
        except tarfile.TarError:
            pass
        else:  # Python's filter may instead strip a leading / and write the member inside dest
            assert filters and name.startswith("/") and (dest / name.lstrip("/")).is_file()
    assert not (tmp_path / "escape.txt").exists() and not (tmp_path / "outside").exists()
    with tarfile.open(archive, "w") as tar:
        tar.addfile(good, io.BytesIO(b"ok"))
    with tarfile.open(archive) as tar:
        extract_tar(tar, dest)
    assert (dest / "ok/file.txt").read_bytes() == b"ok"


def test_another_sdists_pin_names_its_own_keys(index, tmp_path):
    """nihui's client comes through the same fetcher: its errors name its own pins, never native.ncnn_*."""
    pin = dataclasses.replace(rife_ncnn_vulkan.PIN, project="ncnn")  # the project the local index serves
    with pytest.raises(src.SourceError, match=r"but rifebuild\.native\.rife_ncnn_vulkan\.SDIST_SHA256 pins 0{64}") as exc:
        src.fetch_sdist(VERSION, "0" * 64, tmp_path, index_url=index, pin=pin)
    assert "native.ncnn" not in str(exc.value)
    with pytest.raises(src.SourceError, match=r"check rifebuild\.native\.rife_ncnn_vulkan\.VERSION\.$"):
        src.fetch_sdist("1.0.19990101", SHA, tmp_path, index_url=index, pin=pin)
