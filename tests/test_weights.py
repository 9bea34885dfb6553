"""Checkpoint fetch (validated download), strict loading and every way a checkpoint file can be wrong."""
import hashlib
import io
import pickle
import socket
from pathlib import Path

import pytest
import torch
from localhttp import QuietHandler, serving

from rifebuild.checkpoint import load as weights
from rifebuild.checkpoint.load import CheckpointError, DownloadError


def _checkpoint_bytes() -> bytes:
    buf = io.BytesIO()
    torch.save(weights.synthetic_state_dict(1, "rife-v4.6"), buf)
    return buf.getvalue()


CKPT = _checkpoint_bytes()
HTML = b"<!DOCTYPE html><html><body>Rate limit exceeded</body></html>"


class Handler(QuietHandler):
    def do_GET(self):
        body = {"/flownet.pkl": CKPT, "/error-page.pkl": HTML}.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_body(body)


@pytest.fixture(scope="module")
def server():
    with serving(Handler) as url:
        yield url


def test_fetch_checkpoint_with_pin(server, tmp_path):
    dest = tmp_path / "flownet_v4.6.pkl"
    weights.fetch_checkpoint(f"{server}/flownet.pkl", dest, model="rife-v4.6", sha256=hashlib.sha256(CKPT).hexdigest(), deadline=10)
    assert dest.read_bytes() == CKPT and [p.name for p in tmp_path.iterdir()] == [dest.name]
    weights.load_ifnet(dest, "rife-v4.6")


def test_fetch_checkpoint_refuses_a_wrong_file_without_a_pin(server, tmp_path):
    url = f"{server}/error-page.pkl"
    with pytest.raises(DownloadError) as info:
        weights.fetch_checkpoint(url, tmp_path / "w.pkl", model="rife-v4.6", deadline=10)
    assert str(info.value) == (
        f"{url} did not serve a usable IFNet v4.6 checkpoint (not a readable PyTorch checkpoint: it is an HTML "
        "page starting with '<!DOCTYPE html><html><body>Rate limit ex'), so it was not kept; check the URL (the pins "
        "file or `weights_url`) and the network, or download the file elsewhere and set `weights:` to its path, or use `weights: synthetic`")
    assert list(tmp_path.iterdir()) == []  # nothing cached: the next run downloads again


def test_fetch_checkpoint_wrong_pin(server, tmp_path):
    with pytest.raises(DownloadError, match=r"but rife-v4.6's pin \(pins.yaml or `weights_sha256`\) pins 0{64}, so it was not kept"):
        weights.fetch_checkpoint(f"{server}/flownet.pkl", tmp_path / "w.pkl", model="rife-v4.6", sha256="0" * 64, deadline=10)
    assert list(tmp_path.iterdir()) == []


def test_fetch_checkpoint_404(server, tmp_path):
    with pytest.raises(DownloadError, match=r"\(HTTP 404 Not Found\); .*set `weights:` to its path, or use "
                                            r"`weights: synthetic`$"):
        weights.fetch_checkpoint(f"{server}/missing.pkl", tmp_path / "w.pkl", model="rife-v4.6", deadline=10)
    assert list(tmp_path.iterdir()) == []


def test_fetch_checkpoint_deadline(tmp_path):
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(4)  # accepts, never answers
    try:
        with pytest.raises(DownloadError, match=r"within the 0.5 s deadline \(no data arrived\); raise "
                                                r"`download_deadline` if the network is just slow, or check "
                                                r"the URL \(the pins file or `weights_url`\) .*`weights: synthetic`$"):
            weights.fetch_checkpoint(f"http://127.0.0.1:{sock.getsockname()[1]}/w.pkl", tmp_path / "w.pkl",
                                     model="rife-v4.6", deadline=0.5)
    finally:
        sock.close()
    assert list(tmp_path.iterdir()) == []


def test_load_with_and_without_prefix(tmp_path):
    sd = weights.synthetic_state_dict(1, "rife-v4.6")
    weights.save_state_dict(sd, tmp_path / "a.pkl")
    weights.save_state_dict({k[len("module."):]: v for k, v in sd.items()}, tmp_path / "b.pkl")
    a, b = weights.load_ifnet(tmp_path / "a.pkl", "rife-v4.6"), weights.load_ifnet(tmp_path / "b.pkl", "rife-v4.6")
    assert torch.equal(a.block0.conv0[0][0].weight, b.block0.conv0[0][0].weight)


def test_other_architecture_lists_keys(tmp_path):
    sd = weights.synthetic_state_dict(1, "rife-v4.6")
    del sd["module.block3.lastconv.0.bias"]
    sd["module.block4.conv.weight"] = torch.zeros(1)
    weights.save_state_dict(sd, tmp_path / "x.pkl")
    with pytest.raises(CheckpointError, match=r"1 missing keys \[block3.lastconv.0.bias\].*1 unexpected keys \[block4"):
        weights.load_ifnet(tmp_path / "x.pkl", "rife-v4.6")


def test_wrong_shapes(tmp_path):
    sd = weights.synthetic_state_dict(1, "rife-v4.6")
    sd["module.block0.conv0.0.0.weight"] = torch.zeros(32, 7, 3, 3)
    weights.save_state_dict(sd, tmp_path / "x.pkl")
    with pytest.raises(CheckpointError, match="shape mismatch"):
        weights.load_ifnet(tmp_path / "x.pkl", "rife-v4.6")


def test_truncated_file(tmp_path):
    weights.save_state_dict(weights.synthetic_state_dict(1, "rife-v4.6"), tmp_path / "full.pkl")
    data = (tmp_path / "full.pkl").read_bytes()
    (tmp_path / "cut.pkl").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError) as info:
        weights.load_ifnet(tmp_path / "cut.pkl", "rife-v4.6")
    assert str(info.value) == (
        f"{tmp_path / 'cut.pkl'}: not a readable PyTorch checkpoint (RuntimeError: PytorchStreamReader failed "
        "reading zip archive: failed finding central directory); the file is truncated, corrupt or not a "
        "torch.save file: download it again or set `weights:` to the v4.6 flownet.pkl")


def test_not_a_pickle(tmp_path):
    (tmp_path / "x.pkl").write_text("<html>not found</html>")
    with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint: it is an HTML page"):
        weights.load_ifnet(tmp_path / "x.pkl", "rife-v4.6")


def test_text_file_is_one_sentence(tmp_path):
    path = tmp_path / "x.pkl"
    path.write_text("hello world\n")
    with pytest.raises(CheckpointError) as info:
        weights.load_ifnet(path, "rife-v4.6")
    assert str(info.value) == (f"{path}: not a readable PyTorch checkpoint: it is a text file starting with "
                               "'hello world'; download it again or set `weights:` to the v4.6 flownet.pkl")


@pytest.mark.parametrize("data", [b"\x93\x17\xfe\x00garbage", b"\x80\x02garbage", b"PK\x03\x04\x00\x01"],
                         ids=["random", "pickle-header", "zip-header"])
def test_short_binary_garbage(tmp_path, data):
    path = tmp_path / "x.pkl"
    path.write_bytes(data)
    with pytest.raises(CheckpointError) as info:
        weights.load_ifnet(path, "rife-v4.6")
    message = str(info.value)
    assert message.startswith(f"{path}: not a readable PyTorch checkpoint (")
    assert message.endswith("the file is truncated, corrupt or not a torch.save file: download it again or set "
                            "`weights:` to the v4.6 flownet.pkl")
    assert "weights_only" not in message and "\n" not in message


class Evil:
    def __reduce__(self):
        return (Path.touch, (Path("/nonexistent-dir/pwned"),))


@pytest.mark.parametrize("save", ["pickle", "torch.save"])
def test_pickle_that_would_run_code_is_refused(tmp_path, save):
    path = tmp_path / "evil.pkl"
    if save == "pickle":
        path.write_bytes(pickle.dumps({"a": Evil()}))
    else:
        torch.save({"a": Evil()}, path)
    with pytest.raises(CheckpointError) as info:
        weights.load_ifnet(path, "rife-v4.6")
    message = str(info.value)
    assert message.startswith(f"{path}: it holds code or objects other than tensors (")
    assert message.endswith(") and was refused for safety; use the official v4.6 flownet.pkl or another state "
                            "dict of tensors saved with torch.save")
    assert "weights_only" not in message and "trust" not in message


def test_pickle_that_would_run_code_runs_nothing(tmp_path):
    class Toucher:
        def __reduce__(self):
            return (Path.touch, (tmp_path / "pwned",))

    (tmp_path / "evil.pkl").write_bytes(pickle.dumps({"a": Toucher()}))
    with pytest.raises(CheckpointError, match="pathlib.Path.touch"):
        weights.load_ifnet(tmp_path / "evil.pkl", "rife-v4.6")
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_weights(tmp_path, bad):
    sd = weights.synthetic_state_dict(1, "rife-v4.6")
    sd["module.block0.conv0.0.0.weight"][0, 0, 0, 0] = bad
    weights.save_state_dict(sd, tmp_path / "x.pkl")
    with pytest.raises(CheckpointError) as info:
        weights.load_ifnet(tmp_path / "x.pkl", "rife-v4.6")
    assert str(info.value) == (f"{tmp_path / 'x.pkl'}: tensor block0.conv0.0.0.weight holds NaN/inf values; "
                               "the checkpoint is corrupt: download it again")


def test_not_a_state_dict(tmp_path):
    torch.save([torch.zeros(1)], tmp_path / "x.pkl")
    with pytest.raises(CheckpointError, match="it holds a list, not a state dict of tensors; use the v4.6"):
        weights.load_ifnet(tmp_path / "x.pkl", "rife-v4.6")
    torch.save({"w": torch.zeros(1), "epoch": 3}, tmp_path / "y.pkl")
    with pytest.raises(CheckpointError, match="its entry 'epoch' holds an int, so it is not a state dict"):
        weights.load_ifnet(tmp_path / "y.pkl", "rife-v4.6")


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="not found"):
        weights.load_ifnet(tmp_path / "nope.pkl", "rife-v4.6")


def test_saved_checkpoint_bytes_do_not_depend_on_the_temp_file_name(tmp_path):
    """The release manifest pins the checkpoint's sha256: the same synthetic weights must give the same file."""
    for name in ("a", "b"):
        weights.save_state_dict(weights.synthetic_state_dict(0, "rife-v4.6"), tmp_path / name / "flownet.pkl")
    assert (tmp_path / "a" / "flownet.pkl").read_bytes() == (tmp_path / "b" / "flownet.pkl").read_bytes()


# --- the checkpoint's provenance record (issue 19 item 1) ------------------------------------------


def test_prepare_records_what_the_checkpoint_was_built_from(tmp_path):
    import json

    from rifebuild.checkpoint import record
    from rifebuild.cli import main
    from rifebuild.core.config import validate

    source = tmp_path / "mine.pkl"
    source.write_bytes(CKPT)
    out = tmp_path / "results" / "flownet.pkl"
    sha = hashlib.sha256(CKPT).hexdigest()
    assert main(["checkpoint", "prepare", f"--out={out}", "--model=rife-v4.6", "--", str(source)]) == 0
    assert json.loads(out.with_suffix(".json").read_text()) == {
        "model": "rife-v4.6", "kind": "local", "path": str(source), "file": "flownet.pkl", "sha256": sha}
    url = "https://example.org/flownet_v4.6.pkl"
    assert main(["checkpoint", "prepare", f"--out={out}", "--model=rife-v4.6", f"--url={url}",
                 f"--sha256-pin={sha}", "--", str(source)]) == 0
    written = record.read(out.with_suffix(".json"), out)
    assert written == {"model": "rife-v4.6", "kind": "official", "url": url, "sha256_pin": sha, "pin": sha,
                       "file": "flownet.pkl", "sha256": sha}
    config = validate({"weights": "official", "weights_url": url, "weights_sha256": sha})
    assert record.mismatch(written, config) is None
    assert "`weights_url` / `weights_sha256` now asks for the official download https://x.org/f.pkl" in \
        record.mismatch(written, {**config, "weights_url": "https://x.org/f.pkl"})
    assert record.mismatch(written, {**config, "weights": "synthetic"}).startswith(
        f"the rife-v4.6 checkpoint was built from the official download {url}, but `weights` now asks for "
        "synthetic weights (seed 0)")
    out.with_suffix(".json").write_text("{}")
    with pytest.raises(CheckpointError, match=r"flownet.json: not a checkpoint record \(needs model, kind, sha256"):
        record.read(out.with_suffix(".json"))


def test_absurdly_large_checkpoint_is_refused_before_reading(tmp_path):
    """A 10 GB file (sparse here: no disk used) is refused from its size alone (failed before: the whole
    file was read, 56 s and 10.7 GB RSS, to look at its first 1 KB)."""
    import time

    path = tmp_path / "huge.pkl"
    with open(path, "wb") as f:
        f.truncate(10 * 10**9)
    t0 = time.monotonic()
    with pytest.raises(CheckpointError) as info:
        weights.load_ifnet(path, "rife-v4.6")
    assert time.monotonic() - t0 < 1.0
    assert str(info.value) == (f"{path}: it is 9.3 GiB, far more than any RIFE checkpoint (at most 1 GiB is read); "
                               "use the v4.6 flownet.pkl (a dict of tensor names to tensors)")


def test_refused_checkpoint_is_inspected_without_reading_it_whole(tmp_path):
    """Under the size limit, the error still reads only the bytes it inspects (failed before: the file was
    read whole, twice)."""
    import tracemalloc

    path = tmp_path / "garbage.pkl"
    with open(path, "wb") as f:
        f.write(b"\x80\x02garbage")  # a pickle protocol header, then no valid opcodes
        f.truncate(64 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(CheckpointError, match="not a readable PyTorch checkpoint"):
            weights.load_state_dict(path, "rife-v4.6")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 8 << 20
