"""ncnn source download: index discovery, PEP 691 JSON / PEP 503 HTML pages, sha256 pinning, cache.

Everything runs against a local HTTP server on 127.0.0.1.
"""
from __future__ import annotations

import hashlib
import http.server
import io
import json
import tarfile
import threading

import pytest

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


class _Index(http.server.BaseHTTPRequestHandler):
    requests: list[str] = []
    json_pages = True

    def do_GET(self):
        type(self).requests.append(self.path)
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
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture()
def index():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Index)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Index.requests = []
    _Index.json_pages = True
    yield f"http://127.0.0.1:{server.server_port}/simple/"
    server.shutdown()


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
    with pytest.raises(src.SourceError, match="sha256"):
        src.fetch_sdist(VERSION, "0" * 64, tmp_path, index_url=index)
    assert list(tmp_path.iterdir()) == []


def test_missing_version_is_named(index, tmp_path):
    with pytest.raises(src.SourceError, match="ncnn-1.0.19990101.tar.gz is not listed"):
        src.fetch_sdist("1.0.19990101", SHA, tmp_path, index_url=index)


def test_offline_is_one_sentence(tmp_path):
    with pytest.raises(src.SourceError, match="Cannot download"):
        src.fetch_sdist(VERSION, SHA, tmp_path, index_url="http://127.0.0.1:1/simple/")


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
