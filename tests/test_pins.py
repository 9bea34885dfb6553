"""Per-version pins (rifebuild/model/pins.yaml), `models: all`, and `weights: official` for several models
against a local HTTP server on 127.0.0.1 that serves synthetic checkpoints under each version's asset name."""
from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path

import pytest
import torch
import yaml
from localhttp import QuietHandler, serving

from rifebuild.checkpoint import load as weights
from rifebuild.core.config import validate
from rifebuild.core.errors import ConfigError
from rifebuild.model import pins, spec

VS_RIFE = "https://github.com/HolyWu/vs-rife/releases/download/model/"
TWO = ["rife-v4.6", "rife-v4.15-lite"]  # two architectures (the lite one: narrower blocks, a Head)


def checked(config: dict) -> dict:
    """The config as the Snakefile takes it: validated, then its pins checked."""
    config = validate(config)
    pins.check(config)
    return config


def test_the_pins_file_lists_every_version_once_with_its_vs_rife_asset():
    text = pins.PINS_PATH.read_text()
    assert re.findall(r"^(rife-v[^:]+):$", text, re.M) == list(spec.VERSIONS)  # same order, no duplicates
    loaded = pins.load()
    assert list(loaded) == list(spec.VERSIONS)
    for name, pin in loaded.items():
        number = spec.get(name).number.replace("-", ".")
        assert pin.url == f"{VS_RIFE}flownet_v{number}.pkl"
        assert pin.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", pin.sha256)


@pytest.mark.parametrize("text, message", [
    ("rife-v4.6: [1, 2", r"not valid YAML"),
    ("- rife-v4.6", r"not a pins file"),
    ("rife-v4.99: {url: 'https://x/f.pkl', sha256: null}", r"'rife-v4.99' is not a RIFE v4 version name"),
    ("rife-v4.6: {url: 'https://x/f.pkl'}", r"rife-v4.6 must have exactly `url` and `sha256`"),
    ("rife-v4.6: {url: 'x/f.pkl', sha256: null}", r"rife-v4.6.url 'x/f.pkl' is not an http\(s\) or file URL"),
    ("rife-v4.6: {url: 'https://x/f.pkl', sha256: abc}", r"rife-v4.6.sha256 'abc' is not 64 hex digits"),
])
def test_a_bad_pins_file_is_one_sentence_naming_file_and_key(tmp_path, text, message):
    path = tmp_path / "pins.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=re.escape(str(path)) + ".*" + message):
        checked({"weights": "official", "weights_pins": str(path)})  # before any job runs


def test_a_model_missing_from_the_pins_file_is_named(tmp_path):
    path = tmp_path / "pins.yaml"
    path.write_text("rife-v4.6: {url: 'https://x/f.pkl', sha256: null}\n")
    with pytest.raises(ConfigError, match=r"pins.yaml: no entry for rife-v4.7; add its `url` and `sha256`"):
        checked({"weights": "official", "weights_pins": str(path), "models": ["rife-v4.6", "rife-v4.7"]})
    checked({"weights": "synthetic", "weights_pins": str(path), "models": ["rife-v4.7"]})  # not downloaded


def test_single_model_overrides_keep_working():
    config = validate({"weights": "official", "weights_url": "https://mirror.example/f.pkl",
                       "weights_sha256": "A" * 64})
    pin = pins.official(config, "rife-v4.6")
    assert (pin.url, pin.sha256) == ("https://mirror.example/f.pkl", "a" * 64)
    plain = pins.official(validate({"weights": "official"}), "rife-v4.7")
    assert (plain.url, plain.sha256) == (f"{VS_RIFE}flownet_v4.7.pkl", pins.load()["rife-v4.7"].sha256)


def test_models_all_and_all_lite():
    assert validate({"models": "all"})["models"] == list(spec.VERSIONS)
    lite = validate({"models": "all-lite"})["models"]
    assert lite == [n for n in spec.VERSIONS if n.endswith("-lite")] and len(lite) == 8
    assert validate({"models": []})["models"] == ["rife-v4.6"]
    assert validate({"models": "[rife-v4.6, rife-v4.7]"})["models"] == ["rife-v4.6", "rife-v4.7"]  # --config
    with pytest.raises(ConfigError, match=r"^models: 'everything' does not match"):
        validate({"models": "everything"})


def test_a_tagged_release_refuses_an_unpinned_version_naming_it(tmp_path):
    path = _pins_file(tmp_path, "http://127.0.0.1:9", {"rife-v4.6": "b" * 64, "rife-v4.15-lite": None})
    config = {"weights": "official", "weights_pins": str(path), "models": TWO}
    assert checked(config)["models"] == TWO  # a nightly goes on unpinned
    with pytest.raises(ConfigError) as info:
        checked({**config, "require_pins": True})
    assert str(info.value) == (
        f"rife-v4.15-lite has no sha256 pin in {path}, and a tagged release (require_pins) refuses unpinned "
        "versions; pin it with the sha256 a nightly run printed for it, or leave rife-v4.15-lite out of `models`")
    checked({**config, "require_pins": True, "models": ["rife-v4.6"]})  # pinned: fine
    checked({**config, "require_pins": True, "weights": "synthetic"})  # nothing downloaded: fine


def checkpoint_bytes(model: str) -> bytes:
    buf = io.BytesIO()
    torch.save(weights.synthetic_state_dict(3, model), buf)
    return buf.getvalue()


def asset(model: str) -> str:
    return pins.load()[model].url.rsplit("/", 1)[1]


def _pins_file(tmp_path: Path, server: str, shas: dict[str, str | None]) -> Path:
    path = tmp_path / "pins.yaml"
    path.write_text(yaml.safe_dump({m: {"url": f"{server}/model/{asset(m)}", "sha256": sha} for m, sha in shas.items()}))
    return path


@pytest.fixture(scope="module")
def served():
    """A local release server: each version's synthetic checkpoint under its vs-rife asset name."""
    files = {f"/model/{asset(m)}": checkpoint_bytes(m) for m in TWO}

    class Handler(QuietHandler):
        def do_GET(self):
            if self.path not in files:
                self.send_error(404)
                return
            self.send_body(files[self.path])

    with serving(Handler) as url:
        yield url, {m: files[f"/model/{asset(m)}"] for m in TWO}


@pytest.mark.e2e
def test_official_weights_for_two_models_each_checked_against_its_own_pin(served, tmp_path, monkeypatch):
    from test_e2e import make_workdir, snakemake

    server, bodies = served
    sha = {m: hashlib.sha256(b).hexdigest() for m, b in bodies.items()}
    pins_file = _pins_file(tmp_path, server, sha)
    (tmp_path / "work").mkdir()
    workdir = make_workdir(tmp_path / "work", models=TWO, weights="official", weights_pins=str(pins_file))
    targets = [f"results/checkpoint/{m}/flownet.pkl" for m in TWO]

    proc = snakemake(workdir, *targets)  # both pinned: both kept, nothing announced
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    for m in TWO:
        assert (workdir / targets[TWO.index(m)]).read_bytes() == bodies[m]
    assert "unpinned" not in proc.stdout + proc.stderr
    for m in TWO:  # the checkpoint record (the only provenance MANIFEST/notes read) names each model's pin
        assert json.loads((workdir / f"results/checkpoint/{m}/flownet.json").read_text())["pin"] == sha[m]

    # rife-v4.15-lite unpinned (trust on first use): kept, its sha256 printed as a GitHub Actions notice
    _pins_file(tmp_path, server, {**sha, "rife-v4.15-lite": None})
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    proc = snakemake(workdir, *targets)
    monkeypatch.delenv("GITHUB_ACTIONS")
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    notice = f"::notice title=unpinned rife-v4.15-lite::{server}/model/flownet_v4.15.lite.pkl has no sha256 pin"
    assert notice in proc.stdout and f"its sha256 is {sha['rife-v4.15-lite']}" in proc.stdout
    assert "title=unpinned rife-v4.6" not in proc.stdout
    lite = json.loads((workdir / "results/checkpoint/rife-v4.15-lite/flownet.json").read_text())
    assert (lite["pin"], lite["sha256_pin"], lite["sha256"]) == ("unpinned", None, sha["rife-v4.15-lite"])

    # ... which a tagged release refuses before any job runs, in one sentence naming the version
    proc = snakemake(workdir, "-n", *targets, "--config", "require_pins=true")
    assert proc.returncode != 0
    assert f"rife-v4.15-lite has no sha256 pin in {pins_file}" in proc.stdout + proc.stderr

    # a wrong pin for one model fails that model's download, named by its own pin; nothing is kept
    _pins_file(tmp_path, server, {**sha, "rife-v4.6": sha["rife-v4.15-lite"]})
    proc = snakemake(workdir, targets[0])
    assert proc.returncode != 0
    assert f"but rife-v4.6's pin (pins.yaml or `weights_sha256`) pins {sha['rife-v4.15-lite']}" in proc.stdout
    assert not (workdir / "resources/weights/rife-v4.6.pkl").exists()

