import http.server
import socket
import threading
from pathlib import Path

import pytest
import torch

from rifebuild.checkpoint import load as weights
from rifebuild.checkpoint.load import CheckpointError, DownloadError

BODY = b"rife-weights-" * 5000


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server API)
        if self.path == "/good.pkl":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY)
        elif self.path == "/truncated.pkl":
            self.send_response(200)
            self.send_header("Content-Length", str(len(BODY)))
            self.end_headers()
            self.wfile.write(BODY[: len(BODY) // 3])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def _fetch(url, dest, **kw):
    return weights.download(url, dest, timeout=5, retries=2, backoff=0, progress=False, **kw)


def test_download_good_file_with_pin(server, tmp_path):
    import hashlib

    dest = tmp_path / "w.pkl"
    _fetch(f"{server}/good.pkl", dest, sha256=hashlib.sha256(BODY).hexdigest())
    assert dest.read_bytes() == BODY
    assert [p.name for p in tmp_path.iterdir()] == ["w.pkl"]


def test_download_wrong_sha_leaves_nothing(server, tmp_path):
    with pytest.raises(CheckpointError, match="sha256"):
        _fetch(f"{server}/good.pkl", tmp_path / "w.pkl", sha256="0" * 64)
    assert list(tmp_path.iterdir()) == []


def test_download_404(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404.*synthetic"):
        _fetch(f"{server}/missing.pkl", tmp_path / "w.pkl")
    assert list(tmp_path.iterdir()) == []


def test_download_connection_refused(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    with pytest.raises(DownloadError, match="refused.*local path"):
        _fetch(f"http://127.0.0.1:{port}/w.pkl", tmp_path / "w.pkl")
    assert list(tmp_path.iterdir()) == []


def test_download_truncated_body(server, tmp_path):
    with pytest.raises(DownloadError):
        _fetch(f"{server}/truncated.pkl", tmp_path / "w.pkl")
    assert list(tmp_path.iterdir()) == []


def test_load_with_and_without_prefix(tmp_path):
    sd = weights.synthetic_state_dict(1)
    weights.save_state_dict(sd, tmp_path / "a.pkl")
    weights.save_state_dict({k[len("module."):]: v for k, v in sd.items()}, tmp_path / "b.pkl")
    a, b = weights.load_ifnet(tmp_path / "a.pkl"), weights.load_ifnet(tmp_path / "b.pkl")
    assert torch.equal(a.block0.conv0[0][0].weight, b.block0.conv0[0][0].weight)


def test_other_architecture_lists_keys(tmp_path):
    sd = weights.synthetic_state_dict(1)
    del sd["module.block3.lastconv.0.bias"]
    sd["module.block4.conv.weight"] = torch.zeros(1)
    weights.save_state_dict(sd, tmp_path / "x.pkl")
    with pytest.raises(CheckpointError, match=r"1 missing keys \[block3.lastconv.0.bias\].*1 unexpected keys \[block4"):
        weights.load_ifnet(tmp_path / "x.pkl")


def test_wrong_shapes(tmp_path):
    sd = weights.synthetic_state_dict(1)
    sd["module.block0.conv0.0.0.weight"] = torch.zeros(32, 7, 3, 3)
    weights.save_state_dict(sd, tmp_path / "x.pkl")
    with pytest.raises(CheckpointError, match="shape mismatch"):
        weights.load_ifnet(tmp_path / "x.pkl")


def test_truncated_file(tmp_path):
    weights.save_state_dict(weights.synthetic_state_dict(1), tmp_path / "full.pkl")
    data = (tmp_path / "full.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        weights.load_ifnet(tmp_path / "cut.pkl")


def test_not_a_pickle(tmp_path):
    (tmp_path / "x.pkl").write_text("<html>not found</html>")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
        weights.load_ifnet(tmp_path / "x.pkl")


def test_pickle_that_would_run_code_is_refused(tmp_path):
    import pickle

    class Evil:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"a": Evil()}))
    with pytest.raises(CheckpointError):
        weights.load_ifnet(tmp_path / "evil.pkl")
    assert not (tmp_path / "pwned").exists()


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        weights.load_ifnet(tmp_path / "nope.pkl")
