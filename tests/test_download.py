"""rifebuild.core.download: retries, one deadline, sha256 pin, validate, atomic output, progress.

Everything runs against servers on 127.0.0.1 (no network).
"""
from __future__ import annotations

import hashlib
import socket
import time
from pathlib import Path
from typing import ClassVar

import pytest
from localhttp import QuietHandler, serving

from rifebuild.core import download as dl
from rifebuild.core.errors import CheckpointError, DownloadError

BODY = b"rife-weights-" * 5000


class Handler(QuietHandler):
    hits: ClassVar[dict[str, int]] = {}

    def do_GET(self):
        hits = type(self).hits
        hits[self.path] = hits.get(self.path, 0) + 1
        if self.path == "/good.bin":
            self.send_body(BODY)
        elif self.path == "/flaky.bin":  # 503 twice, then the file
            if hits[self.path] <= 2:
                self.send_error(503)
            else:
                self.send_body(BODY)
        elif self.path == "/truncated.bin":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[: len(BODY) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        elif self.path == "/trickle.bin":  # one byte every 50 ms: never done within a short deadline
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(400):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.05)
            except OSError:
                pass
        elif self.path == "/page.html":
            self.send_body(b"<!DOCTYPE html><html><body>Sign in</body></html>", "text/html")
        elif self.path == "/accept":
            self.send_body(self.headers.get("Accept", "").encode(), "text/plain")
        else:
            self.send_error(404)


@pytest.fixture(scope="module")
def _httpd():
    with serving(Handler) as url:
        yield url


@pytest.fixture()
def server(_httpd):
    Handler.hits = {}
    return _httpd


@pytest.fixture()
def silent_server():
    """Accepts connections (the kernel's backlog) but never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def _get(url, dest, **kw):
    kw = {"deadline": 10, "retries": 2, "backoff": 0, "progress": False, **kw}
    return dl.download(url, dest, **kw)


def test_good_file_with_pin(server, tmp_path):
    dest = tmp_path / "w.pkl"
    assert _get(f"{server}/good.bin", dest, sha256=hashlib.sha256(BODY).hexdigest()) == dest
    assert dest.read_bytes() == BODY
    assert [p.name for p in tmp_path.iterdir()] == ["w.pkl"]


def test_wrong_sha_leaves_nothing_and_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match=r"sha256 .* but `weights_sha256` pins 0{64}.*fix `weights_sha256`"):
        _get(f"{server}/good.bin", tmp_path / "w.pkl", sha256="0" * 64, pin_name="`weights_sha256`")
    assert list(tmp_path.iterdir()) == []
    assert Handler.hits["/good.bin"] == 1


def test_404_is_not_retried(server, tmp_path):
    with pytest.raises(DownloadError, match=r"could not download .*/missing.bin \(HTTP 404 Not Found\); use X$"):
        _get(f"{server}/missing.bin", tmp_path / "w.pkl", retries=3, advice="use X")
    assert Handler.hits["/missing.bin"] == 1
    assert list(tmp_path.iterdir()) == []


def test_5xx_is_retried(server, tmp_path):
    _get(f"{server}/flaky.bin", tmp_path / "w.pkl", retries=3)
    assert Handler.hits["/flaky.bin"] == 3 and (tmp_path / "w.pkl").read_bytes() == BODY


def test_5xx_until_retries_run_out(server, tmp_path):
    with pytest.raises(DownloadError, match=r"HTTP 503 .*; 2 attempts\)"):
        _get(f"{server}/flaky.bin", tmp_path / "w.pkl", retries=2)
    assert Handler.hits["/flaky.bin"] == 2 and list(tmp_path.iterdir()) == []


def test_truncated_body_is_retried_and_leaves_nothing(server, tmp_path):
    with pytest.raises(DownloadError, match=r"the connection closed after 21.2 KiB of 63.5 KiB; 2 attempts"):
        _get(f"{server}/truncated.bin", tmp_path / "w.pkl")
    assert Handler.hits["/truncated.bin"] == 2 and list(tmp_path.iterdir()) == []


def test_connection_refused(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(DownloadError, match=r"\(Connection refused; 2 attempts\); do Y$"):
        _get(f"http://127.0.0.1:{port}/w.pkl", tmp_path / "w.pkl", advice="do Y")
    assert list(tmp_path.iterdir()) == []


def test_server_that_never_answers_fails_within_the_deadline(silent_server, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=r"within the 1 s deadline \(no data arrived\)"):
        _get(f"{silent_server}/w.pkl", tmp_path / "w.pkl", deadline=1.0, retries=5)
    assert time.monotonic() - t0 < 3.0
    assert list(tmp_path.iterdir()) == []


def test_trickling_server_fails_within_the_deadline(server, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=r"within the 1 s deadline \(\d+ bytes of 97.7 KiB arrived\)"):
        _get(f"{server}/trickle.bin", tmp_path / "w.pkl", deadline=1.0, retries=5)
    assert time.monotonic() - t0 < 3.0
    assert list(tmp_path.iterdir()) == []


def test_backoff_pause_is_bounded_by_the_deadline(server, tmp_path):
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=r"within the 1 s deadline \(HTTP 503 .*no time was left"):
        _get(f"{server}/flaky.bin", tmp_path / "w.pkl", deadline=1.0, retries=3, backoff=30)
    assert time.monotonic() - t0 < 3.0 and Handler.hits["/flaky.bin"] == 1


def test_validate_rejects_the_temp_file_before_the_rename(server, tmp_path):
    seen = []

    def validate(path):
        seen.append((path.name, path.read_bytes()[:15]))
        raise CheckpointError("not a checkpoint")

    with pytest.raises(CheckpointError, match="not a checkpoint"):
        _get(f"{server}/page.html", tmp_path / "w.pkl", validate=validate)
    assert seen[0][0].startswith(".w.pkl.") and seen[0][0].endswith(".tmp")
    assert seen[0][1] == b"<!DOCTYPE html>"
    assert list(tmp_path.iterdir()) == [] and Handler.hits["/page.html"] == 1


def test_validate_passes(server, tmp_path):
    _get(f"{server}/good.bin", tmp_path / "w.pkl", validate=lambda p: None)
    assert (tmp_path / "w.pkl").read_bytes() == BODY


def test_replaces_an_old_file_only_when_done(server, tmp_path):
    dest = tmp_path / "w.pkl"
    dest.write_bytes(b"old")
    with pytest.raises(DownloadError):
        _get(f"{server}/truncated.bin", dest)
    assert dest.read_bytes() == b"old"
    _get(f"{server}/good.bin", dest)
    assert dest.read_bytes() == BODY


def test_progress_goes_to_stderr(server, tmp_path, capsys):
    _get(f"{server}/good.bin", tmp_path / "w.pkl", progress=True)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "w.pkl" in captured.err and "100%" in captured.err


def test_file_url_and_missing_file_url(tmp_path):
    (tmp_path / "src.bin").write_bytes(BODY)
    _get((tmp_path / "src.bin").as_uri(), tmp_path / "out" / "w.pkl")
    assert (tmp_path / "out" / "w.pkl").read_bytes() == BODY
    t0 = time.monotonic()
    with pytest.raises(DownloadError, match=r"\(No such file or directory\)"):
        _get((tmp_path / "nope.bin").as_uri(), tmp_path / "out" / "x.pkl", retries=3, backoff=5)
    assert time.monotonic() - t0 < 2.0  # not retried


def test_fetch_bytes_sends_headers(server):
    body, ctype = dl.fetch_bytes(f"{server}/accept", headers={"Accept": "application/json"}, backoff=0)
    assert body == b"application/json" and ctype == "text/plain"


def test_fetch_bytes_errors_are_download_errors(server):
    with pytest.raises(DownloadError, match="HTTP 404"):
        dl.fetch_bytes(f"{server}/missing", backoff=0)


# ---------------------------------------------------------------------------------------------
# rifebuild.core.stale: temp files a killed download (or any atomic_path step) leaves behind


def test_remove_stale_temps_deletes_only_old_temp_files(tmp_path):
    import os

    from rifebuild.core.stale import process_start_time, remove_stale_temps

    old = process_start_time() - 3600
    files = {name: tmp_path / name for name in (
        ".w.pkl.k2j3h4.tmp", "sub/deeper/.flownet.param.x1.tmp", "ncnn.tar.gz.part",  # stale temps
        ".fresh.pkl.a1.tmp",  # made after this process started: a step of this run may own it
        "w.pkl", "notes.tmp", ".hidden",  # not temp files
    )}
    for name, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(name)
        if name != ".fresh.pkl.a1.tmp":
            os.utime(path, (old, old))
    (tmp_path / "src.part").mkdir()  # folders are left alone
    os.utime(tmp_path / "src.part", (old, old))
    removed = remove_stale_temps([tmp_path, tmp_path / "missing-folder"])
    assert sorted(p.relative_to(tmp_path).as_posix() for p in removed) == [
        ".w.pkl.k2j3h4.tmp", "ncnn.tar.gz.part", "sub/deeper/.flownet.param.x1.tmp"]
    left = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file())
    assert left == [".fresh.pkl.a1.tmp", ".hidden", "notes.tmp", "w.pkl"]
    assert (tmp_path / "src.part").is_dir()


def test_temp_file_of_a_killed_download_is_swept(server, tmp_path):
    import signal
    import subprocess
    import sys

    from rifebuild.core.stale import remove_stale_temps

    code = ("import os, signal, sys\nfrom rifebuild.core import download as dl\n"
            "def validate(path):\n    os.kill(os.getpid(), signal.SIGTERM)\n"
            "dl.download(sys.argv[1], sys.argv[2], progress=False, validate=validate)\n")
    proc = subprocess.run([sys.executable, "-c", code, f"{server}/good.bin", str(tmp_path / "w.pkl")], check=False)
    assert proc.returncode == -signal.SIGTERM
    leftovers = list(tmp_path.iterdir())
    assert len(leftovers) == 1 and leftovers[0].name.startswith(".w.pkl.") and leftovers[0].name.endswith(".tmp")
    assert remove_stale_temps(tmp_path, before=time.time() + 1) == leftovers
    assert list(tmp_path.iterdir()) == []


def test_sweep_keeps_the_temp_files_of_a_live_run(tmp_path):
    """Run B's start-up sweep while run A (started earlier) is writing: A's temp stays until A is gone
    (failed before: B deleted A's in-flight `.rife-v4.6.pkl.*.tmp` and A died with a traceback)."""
    import os
    import subprocess
    import sys

    from rifebuild.core.stale import remove_stale_temps

    code = ("import sys, time\nfrom rifebuild.core.files import atomic_path\n"
            "with atomic_path(sys.argv[1]) as tmp:\n    tmp.write_text('half')\n    print(tmp, flush=True)\n"
            "    time.sleep(60)\n")
    writer = subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "rife-v4.6.pkl")], stdout=subprocess.PIPE,
                              text=True)
    try:
        temp = Path(writer.stdout.readline().strip())
        os.utime(temp, (time.time() - 3600, time.time() - 3600))  # older than this process: no mtime rule saves it
        legacy = tmp_path / ".old.pkl.k2j3.tmp"  # no owner in its name, but open in a live process
        legacy.write_text("half")
        os.utime(legacy, (time.time() - 3600, time.time() - 3600))
        with open(legacy):
            assert remove_stale_temps(tmp_path, before=time.time() + 1) == []
        assert temp.exists() and legacy.exists()
    finally:
        writer.kill()
        writer.wait()
    assert sorted(remove_stale_temps(tmp_path, before=time.time() + 1)) == sorted([temp, legacy])  # writer gone
