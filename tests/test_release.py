"""Release bundle: deterministic tarballs, MANIFEST.json from the records, SHA256SUMS, notes, and
`rifebuild release verify` naming every missing, extra and changed file of a tampered copy."""
from __future__ import annotations

import copy
import gzip
import io
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from rifebuild.cli import main
from rifebuild.core.config import validate
from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import extract_tar
from rifebuild.release import manifest as manifests
from rifebuild.release import provenance, reproducible, sums, tarball
from rifebuild.release.build import build_bundle
from rifebuild.release.verify import verify
from rifebuild.report import run

EPOCH = 1_700_000_000


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_AUTHOR_DATE": "@1600000000 +0000",
           "GIT_COMMITTER_DATE": "@1600000000 +0000"}
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True,
                          env=env).stdout


@pytest.fixture
def repo(tmp_path) -> Path:
    """A git checkout with one commit made at 1600000000."""
    path = tmp_path / "repo"
    path.mkdir()
    _git(path, "init", "-q")
    (path / "README").write_text("x\n")
    _git(path, "add", "README")
    _git(path, "commit", "-q", "-m", "one")
    return path


# --- tarball ------------------------------------------------------------------------------------------


def test_tarball_is_byte_identical_whatever_the_files_metadata(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for folder, mode, mtime in ((a, 0o600, 1_000), (b, 0o664, 2_000_000_000)):
        (folder / "m").mkdir(parents=True)
        (folder / "m" / "model.bin").write_bytes(b"\x00weights" * 100)
        (folder / "tool").write_bytes(b"#!/bin/sh\n")
        (folder / "m" / "model.bin").chmod(mode)
        (folder / "tool").chmod(mode | 0o100)
        for p in (folder / "m" / "model.bin", folder / "tool"):
            os.utime(p, (mtime, mtime))
    # members given in different orders, sources with different modes and mtimes
    tarball.write(tmp_path / "a.tar.gz", {"x/tool": a / "tool", "x/m/model.bin": a / "m" / "model.bin"}, EPOCH)
    tarball.write(tmp_path / "b.tar.gz", {"x/m/model.bin": b / "m" / "model.bin", "x/tool": b / "tool"}, EPOCH)
    data = (tmp_path / "a.tar.gz").read_bytes()
    assert data == (tmp_path / "b.tar.gz").read_bytes()
    assert data[:4] == b"\x1f\x8b\x08\x00"  # gzip, deflate, no FNAME/FEXTRA/FCOMMENT flags
    assert data[4:8] == b"\x00\x00\x00\x00"  # no timestamp in the gzip header
    with tarfile.open(tmp_path / "a.tar.gz") as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["x", "x/m", "x/m/model.bin", "x/tool"]
    assert {(m.uid, m.gid, m.uname, m.gname, m.mtime) for m in members} == {(0, 0, "", "", EPOCH)}
    assert [oct(m.mode) for m in members] == ["0o755", "0o755", "0o644", "0o755"]
    assert tarball.digests(tmp_path / "a.tar.gz")["x/tool"]["size"] == len(b"#!/bin/sh\n")


def test_tarball_mtime_changes_the_bytes(tmp_path):
    tarball.write(tmp_path / "a.tar.gz", {"f": b"data"}, EPOCH)
    tarball.write(tmp_path / "b.tar.gz", {"f": b"data"}, EPOCH + 1)
    assert (tmp_path / "a.tar.gz").read_bytes() != (tmp_path / "b.tar.gz").read_bytes()


def test_tarball_refuses_paths_that_escape(tmp_path):
    with pytest.raises(ReleaseError, match="relative"):
        tarball.write(tmp_path / "a.tar.gz", {"../evil": b"x"}, EPOCH)
    assert not (tmp_path / "a.tar.gz").exists()


def test_unreadable_tarball_is_one_sentence(tmp_path):
    (tmp_path / "bad.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(ReleaseError, match="bad.tar.gz: not a readable .tar.gz"):
        tarball.digests(tmp_path / "bad.tar.gz")


# --- provenance -----------------------------------------------------------------------------------------


def test_source_date_epoch_order(repo, tmp_path):
    assert provenance.source_date_epoch(repo, {"SOURCE_DATE_EPOCH": "123"}) == 123
    assert provenance.source_date_epoch(repo, {}) == 1600000000  # HEAD's commit time
    plain = tmp_path / "not-git"
    plain.mkdir()
    assert provenance.source_date_epoch(plain, {}) == 0
    with pytest.raises(ReleaseError, match="SOURCE_DATE_EPOCH='yesterday'"):
        provenance.source_date_epoch(repo, {"SOURCE_DATE_EPOCH": "yesterday"})


def test_git_state(repo, tmp_path):
    head = _git(repo, "rev-parse", "HEAD").strip()
    assert provenance.git_state(repo) == {"commit": head, "dirty": False}
    (repo / "README").write_text("changed\n")
    assert provenance.git_state(repo) == {"commit": head, "dirty": True}
    _git(repo, "checkout", "-q", "README")
    (repo / "new.py").write_text("")
    assert provenance.git_state(repo)["dirty"] is True
    plain = tmp_path / "not-git"
    plain.mkdir()
    assert provenance.git_state(plain) == {"commit": None, "dirty": None}


# --- a small but complete set of workflow outputs ---------------------------------------------------


def _record(tmp_path: Path, name: str, versions: dict) -> str:
    path = tmp_path / "records" / f"{name}.verify.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"tool_versions": versions}))
    return str(path)


def _row(key: str, name: str, passed: bool = True, **extra) -> dict:
    return {"key": key, "artifact": name, "runtime": "ncnn", "precision": "fp32", "passed": passed, "bytes": 1000,
            "size_vs_ncnn_fp32": 1.0, "vs_pytorch": {"64x96": {"psnr_db": 80.5, "max_abs_err": 2e-5}},
            "vs_fp32_ncnn": {}, "vs_ground_truth": {"64x96": {"psnr_db": 30.25, "ssim": 0.9}}, **extra}


def fake_report(tmp_path: Path, models=("rife-v4.6",)) -> dict:
    """report.json of a run (rifebuild.report.run): the Models rows and each model's page."""
    pages = {m: fake_page(tmp_path, m) for m in models}
    return {"models": list(models), "summary": [run.summary_row(p) for p in pages.values()], "per_model": pages}


def fake_page(tmp_path: Path, model: str = "rife-v4.6") -> dict:
    return {
        "model_name": model, "checkpoint_sha256": "c" * 64, "tool_versions": {"ncnn": "1.0"},
        "checkpoint": {"model": model, "kind": "synthetic", "seed": 0, "file": "flownet.pkl", "sha256": "c" * 64},
        "artifacts": [_row("ncnn-fp32", "ncnn fp32 (rife.Warp)"),
                      _row("ncnn-int8", "ncnn int8 (rife.Warp)", vs_fp32_ncnn={"64x96": {"psnr_db": 41.0, "ssim": 0.99}})],
        "benchmark": {"record": {"results": [{"variant": "rife-bench-fp32", "median_ms": 3.2, "size": "64x96",
                                              "threads": 2}]},
                      "phone": {"results": [], "note": "no device configured"},
                      "figures": {"latency": "bench/latency.png"}},
        "native_checks": [{"target": "linux-arm64", "check": "vs host binary", "precision": "fp32", "size": "64x96",
                           "max_abs_err": 0.0, "psnr_db": 100.0, "passed": True}],
        "int8": {"int8_layers": 39, "float_layers": ["conv1"], "requantize_fused": 3, "bin_size_ratio": 0.3,
                 "method": "kl", "calibration_frames": 2, "calibration_resolution": "64x96",
                 "calibration_seconds": 12.7},
        "records": {"ncnn-fp32.verify": _record(tmp_path, "fp32", {"ncnn": "1.0", "torch": "2.0"}),
                    "ncnn-int8.verify": _record(tmp_path, "int8", {"ncnn": "1.0", "numpy": "2.4"}),
                    "bench": str(tmp_path / "bench.json"), "bench.latency-figure": str(tmp_path / "latency.png")},
    }


@pytest.fixture
def outputs(tmp_path, repo):
    """Workflow-like outputs: model files, a native binary, report.json, a validated config."""
    out = tmp_path / "work"
    files = {"rife-v4.6-ncnn": {}, "native": {}}
    for folder in ("rife-v4.6", "rife-v4.6-int8"):
        for ext in ("param", "bin"):
            path = out / "ncnn" / folder / f"flownet.{ext}"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(f"{folder} {ext}".encode() * 50)
            files["rife-v4.6-ncnn"][f"{folder}/flownet.{ext}"] = path
    binary = out / "native" / "host" / "rife-bench"
    binary.parent.mkdir(parents=True)
    binary.write_bytes(b"\x7fELF binary")
    binary.chmod(0o755)
    files["native"]["host/rife-bench"] = binary
    report = out / "report.json"
    report.write_text(json.dumps(fake_report(tmp_path)))
    dynamic = out / "flownet-dynamic.check.json"  # a bundled artifact's record the report has no row for
    dynamic.write_text(json.dumps({
        "artifact": str(binary), "runtime": "onnxruntime", "precision": "fp32", "passed": True, "ground_truth": [],
        "tool_versions": {"onnxruntime": "1.3"},
        "checks": [{"against": "pytorch", "resolution": [64, 96], "psnr_db": 100.0, "max_abs_err": 7e-7,
                    "ssim": 1.0}]}))
    return {"files": files, "report": report, "repo": repo, "config": validate({"weights": "synthetic"}),
            "records": {"rife-v4.6": {"onnx-dynamic": dynamic}}}


def make_bundle(outputs: dict, folder: Path, more_kinds: tuple[str, ...] = (), **environ) -> dict:
    """The bundle of `outputs` in `folder`: rife-v4.6's ncnn tarball, native, report, and a `<kind>.tar.gz` per
    kind of `more_kinds` (another model's ncnn files)."""
    tarballs = {"rife-v4.6-ncnn": folder / "rife-v4.6-ncnn.tar.gz", "native": folder / "rife-build-native.tar.gz",
                "report": folder / "rife-build-report.tar.gz", **{k: folder / f"{k}.tar.gz" for k in more_kinds}}
    old = os.environ.get("SOURCE_DATE_EPOCH")
    os.environ.pop("SOURCE_DATE_EPOCH", None)
    os.environ.update(environ)
    try:
        return build_bundle(outputs.get("models", ["rife-v4.6"]), outputs["files"], tarballs, outputs["report"], outputs["config"],
                            outputs["repo"], folder / "MANIFEST.json", folder / "SHA256SUMS",
                            folder / "RELEASE_NOTES.md", outputs["records"])
    finally:
        os.environ.pop("SOURCE_DATE_EPOCH", None)
        if old is not None:
            os.environ["SOURCE_DATE_EPOCH"] = old


@pytest.fixture
def bundle(outputs, tmp_path) -> Path:
    folder = tmp_path / "release"
    make_bundle(outputs, folder)
    return folder


# --- manifest --------------------------------------------------------------------------------------


def test_manifest_holds_files_provenance_and_verdicts(bundle, outputs):
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert manifest["git"] == {"commit": _git(outputs["repo"], "rev-parse", "HEAD").strip(), "dirty": False}
    assert manifest["source_date_epoch"] == 1600000000
    assert [m["model"] for m in manifest["models"]] == ["rife-v4.6"]
    model = manifest["models"][0]
    assert model["checkpoint"] == {"model": "rife-v4.6", "kind": "synthetic", "seed": 0, "file": "flownet.pkl",
                                   "sha256": "c" * 64}  # the checkpoint job's record
    assert manifest["config"] == outputs["config"]
    assert manifest["config_sha256"] == manifests.config_sha256(outputs["config"])
    assert manifest["tool_versions"] == {"ncnn": "1.0", "numpy": "2.4", "onnxruntime": "1.3", "torch": "2.0"}
    assert [a["key"] for a in model["artifacts"]] == ["ncnn-fp32", "ncnn-int8", "onnx-dynamic"]
    dynamic = model["artifacts"][2]
    assert dynamic["name"] == "ONNX any size (dynamic H/W)" and dynamic["runtime"] == "onnxruntime"
    assert dynamic["vs_pytorch"] == {"64x96": {"psnr_db": 100.0, "max_abs_err": 7e-7, "ssim": 1.0}}
    assert dynamic["record"] == str(outputs["records"]["rife-v4.6"]["onnx-dynamic"]) and dynamic["bytes"] == 11
    int8 = next(a for a in model["artifacts"] if a["key"] == "ncnn-int8")
    assert int8["verified"] is True and int8["vs_fp32_ncnn"] == {"64x96": {"psnr_db": 41.0, "ssim": 0.99}}
    assert int8["vs_pytorch"]["64x96"] == {"psnr_db": 80.5, "max_abs_err": 2e-5}
    assert int8["record"].endswith("int8.verify.json")
    ncnn = manifest["tarballs"]["rife-v4.6-ncnn.tar.gz"]
    assert ncnn["kind"] == "ncnn" and ncnn["model"] == "rife-v4.6"
    assert manifest["tarballs"]["rife-build-native.tar.gz"]["model"] is None
    binary = outputs["files"]["rife-v4.6-ncnn"]["rife-v4.6/flownet.bin"]
    entry = next(f for f in ncnn["files"] if f["path"] == "rife-v4.6/flownet.bin")
    assert entry == {"path": "rife-v4.6/flownet.bin", "size": binary.stat().st_size,
                     "sha256": tarball.digests(bundle / "rife-v4.6-ncnn.tar.gz")["rife-v4.6/flownet.bin"]["sha256"]}
    report_files = [f["path"] for f in manifest["tarballs"]["rife-build-report.tar.gz"]["files"]]
    assert report_files == ["report.json", "report.md"]
    assert manifest["not_included"] == reproducible.EXCLUDED
    # every tarball carries the same manifest
    for name in manifest["tarballs"]:
        assert tarball.read_member(bundle / name, "MANIFEST.json") == (bundle / "MANIFEST.json").read_bytes()


def test_config_hash_ignores_key_order():
    config = validate({"weights": "synthetic"})
    reordered = dict(reversed(list(config.items())))
    assert manifests.config_sha256(reordered) == manifests.config_sha256(config)
    changed = copy.deepcopy(config)
    changed["threads"] += 1
    assert manifests.config_sha256(changed) != manifests.config_sha256(config)


def test_intended_checkpoint_names_where_the_weights_come_from():
    from rifebuild.checkpoint.record import intended

    config = validate({"weights": "official", "weights_sha256": "a" * 64})
    url = "https://github.com/HolyWu/vs-rife/releases/download/model/flownet_v4.13.lite.pkl"
    assert intended(config, "rife-v4.13-lite") == {"kind": "official", "url": url, "sha256_pin": "a" * 64,
                                                   "pin": "a" * 64}
    unpinned = validate({"weights": "official"})  # pins.yaml has no sha256 for it yet
    assert intended(unpinned, "rife-v4.13-lite") == {"kind": "official", "url": url, "sha256_pin": None,
                                                     "pin": "unpinned"}
    mirror = {**config, "weights_url": "https://mirror.example/f.pkl"}
    assert intended(mirror, "rife-v4.6")["url"] == "https://mirror.example/f.pkl"
    assert intended({**config, "weights": "/data/flownet.pkl"}, "rife-v4.6") == {"kind": "local",
                                                                                  "path": "/data/flownet.pkl"}


def test_manifest_and_notes_take_the_pin_status_from_the_checkpoint_record():
    """The pin status is the record's (what the checkpoint job checked the download against), never the config's."""
    from rifebuild.checkpoint.record import official
    from rifebuild.release.notes import _origin

    url = "https://example.org/flownet_v4.6.pkl"
    entry = {"model": "rife-v4.6", "artifacts": [], "checkpoint": {**official(url, None), "sha256": "b" * 64}}
    manifest = {"schema_version": manifests.SCHEMA_VERSION, "models": [entry],
                "tarballs": {"rife-v4.6-ncnn.tar.gz": {"kind": "ncnn", "files": []}},
                "sbom": manifests.file_entry("rife-build.cdx.json", b"{}"), "build_machines": [provenance.build_machine()]}
    manifests.check(manifest, "MANIFEST.json")
    assert "unpinned: trusted on first use" in _origin(entry["checkpoint"])
    entry["checkpoint"].update(official(url, "a" * 64))
    manifests.check(manifest, "MANIFEST.json")
    assert "unpinned" not in _origin(entry["checkpoint"])
    for bad in ({"pin": "pinned"}, {"pin": None}):
        with pytest.raises(ReleaseError, match=r"MANIFEST.json: not a rife-build MANIFEST.json .* at models/0/checkpoint"):
            manifests.check({**manifest, "models": [{**entry, "checkpoint": {**entry["checkpoint"], **bad}}]},
                            "MANIFEST.json")
    del entry["checkpoint"]["pin"]
    with pytest.raises(ReleaseError, match="'pin' is a required property"):
        manifests.check(manifest, "MANIFEST.json")


@pytest.mark.parametrize("change, key", [({"weights": "/some/nonexistent.pkl"}, "`weights`"),
                                         ({"synthetic_seed": 5}, "`synthetic_seed`")])
def test_release_takes_the_checkpoint_from_its_record_never_from_the_config(outputs, tmp_path, change, key):
    """Issue 19 item 1: the artifacts were built from synthetic weights (seed 0; the checkpoint's record),
    the config now names other weights: the release must not say they came from those."""
    outputs["config"] = {**outputs["config"], **change}
    with pytest.raises(ReleaseError, match=rf"built from synthetic weights \(seed 0\), but {key} now asks for"):
        make_bundle(outputs, tmp_path / "release")
    assert not (tmp_path / "release" / "MANIFEST.json").exists()


def test_a_failed_artifact_stops_the_release(outputs, tmp_path):
    report = json.loads(outputs["report"].read_text())
    report["per_model"]["rife-v4.6"]["artifacts"][1]["passed"] = False
    outputs["report"].write_text(json.dumps(report))
    with pytest.raises(ReleaseError, match=r"int8\.verify\.json: the artifact 'ncnn int8 \(rife.Warp\)' failed"):
        make_bundle(outputs, tmp_path / "release")
    assert not (tmp_path / "release" / "SHA256SUMS").exists()


def test_a_failed_extra_record_stops_the_release(outputs, tmp_path):
    path = outputs["records"]["rife-v4.6"]["onnx-dynamic"]
    record = json.loads(path.read_text())
    record["passed"] = False
    path.write_text(json.dumps(record))
    with pytest.raises(ReleaseError, match=r"check.json: the artifact 'ONNX any size \(dynamic H/W\)' failed"):
        make_bundle(outputs, tmp_path / "release")


def test_a_missing_input_is_named(outputs, tmp_path):
    outputs["files"]["native"]["host/rife-bench"].unlink()
    with pytest.raises(ReleaseError, match=r"rife-bench: missing, so the native tarball cannot be built"):
        make_bundle(outputs, tmp_path / "release")


def test_bundled_report_leaves_out_the_timings(bundle):
    data = tarball.read_member(bundle / "rife-build-report.tar.gz", "report.json")
    whole = json.loads(data)
    assert whole["summary"][0]["latency"] is None and whole["summary"][0]["verified"] is True
    report = whole["per_model"]["rife-v4.6"]
    assert report["benchmark"] is None and "calibration_seconds" not in report["int8"]
    assert not [r for r in report["records"] if r.startswith("bench")] and "ncnn-fp32.verify" in report["records"]
    markdown = tarball.read_member(bundle / "rife-build-report.tar.gz", "report.md").decode()
    assert markdown.startswith("# rife-build report") and "## rife-v4.6" in markdown
    assert "ncnn int8 (rife.Warp)" in markdown
    assert "latency.png" not in markdown and "12 s" not in markdown and "Calibration: kl on 2 triplets" in markdown


def test_release_notes_describe_every_tarball_and_artifact(bundle):
    notes = (bundle / "RELEASE_NOTES.md").read_text()
    for name in ("rife-v4.6-ncnn.tar.gz", "rife-build-native.tar.gz", "rife-build-report.tar.gz"):
        assert notes.count(f"`{name}`") == 2  # in the file table and in "How to use"
    size = (bundle / "rife-v4.6-ncnn.tar.gz").stat().st_size
    assert f"{size / 1e6:.2f} MB" in notes
    assert "| ncnn int8 (rife.Warp) | 0.00 MB | 64x96: 80.5 | 64x96: 2.0e-05 | 64x96: 30.25 | 64x96: 41.0 | yes |" in notes
    assert "synthetic weights (seed 0)" in notes and "rifebuild release verify" in notes
    assert "wall-clock timings" in notes


# --- SHA256SUMS --------------------------------------------------------------------------------------


def test_sha256sums_is_what_sha256sum_checks(bundle):
    listed = sums.parse(bundle / "SHA256SUMS")
    assert sorted(listed) == sorted(p.name for p in bundle.iterdir() if p.name != "SHA256SUMS")
    if shutil.which("sha256sum"):
        proc = subprocess.run(["sha256sum", "--check", "--strict", "SHA256SUMS"], cwd=bundle, capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr


def test_same_inputs_give_byte_identical_bundles(outputs, tmp_path):
    first, second = tmp_path / "one", tmp_path / "two"
    make_bundle(outputs, first)
    for path in [p for files in outputs["files"].values() for p in files.values()]:
        os.utime(path, (5, 5))  # sources touched: nothing in the bundle may depend on it
    make_bundle(outputs, second)
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir()) and len(names) == 7
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_source_date_epoch_is_the_tarballs_mtime(outputs, tmp_path):
    make_bundle(outputs, tmp_path / "release", SOURCE_DATE_EPOCH="42")
    with tarfile.open(tmp_path / "release" / "rife-v4.6-ncnn.tar.gz") as tar:
        assert {m.mtime for m in tar.getmembers()} == {42}
    assert json.loads((tmp_path / "release" / "MANIFEST.json").read_text())["source_date_epoch"] == 42


# --- release verify ------------------------------------------------------------------------------------


def rewrite(path: Path, edit) -> None:
    """Repack a tarball the way any tool would, after `edit(dict name -> bytes)`."""
    with tarfile.open(path) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}
    edit(files)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path.write_bytes(gzip.compress(buffer.getvalue()))


def test_verify_accepts_the_bundle_and_each_tarball(bundle, capsys):
    ok, problems = verify(bundle)
    assert problems == []
    assert ok == ["ok: rife-build-native.tar.gz (1 files)", "ok: rife-build-report.tar.gz (2 files)",
                  "ok: rife-v4.6-ncnn.tar.gz (4 files)", "ok: MANIFEST.json", "ok: RELEASE_NOTES.md",
                  "ok: rife-build.cdx.json"]
    assert verify(bundle / "rife-v4.6-ncnn.tar.gz") == (["ok: rife-v4.6-ncnn.tar.gz (4 files)"], [])
    assert main(["release", "verify", str(bundle)]) == 0
    assert "matches its MANIFEST.json" in capsys.readouterr().out


def test_verify_names_every_missing_extra_and_changed_file(bundle, tmp_path, capsys):
    copy_ = tmp_path / "download"
    shutil.copytree(bundle, copy_)

    def tamper(files):
        del files["rife-v4.6/flownet.param"]  # missing
        files["rife-v4.6/evil.so"] = b"x"  # extra
        files["rife-v4.6-int8/flownet.bin"] = files["rife-v4.6-int8/flownet.bin"][:-1] + b"?"  # changed, same size

    rewrite(copy_ / "rife-v4.6-ncnn.tar.gz", tamper)
    (copy_ / "rife-build-native.tar.gz").unlink()
    (copy_ / "notes.txt").write_text("?")
    with open(copy_ / "RELEASE_NOTES.md", "a") as f:
        f.write("edited\n")
    ok, problems = verify(copy_)
    assert ok == ["ok: rife-build-report.tar.gz (2 files)", "ok: MANIFEST.json", "ok: rife-build.cdx.json"]
    assert problems[:4] == [
        "missing: rife-build-native.tar.gz",
        "missing: rife-v4.6-ncnn.tar.gz: rife-v4.6/flownet.param",
        "extra: rife-v4.6-ncnn.tar.gz: rife-v4.6/evil.so",
        problems[3]]
    assert problems[3].startswith("changed: rife-v4.6-ncnn.tar.gz: rife-v4.6-int8/flownet.bin (sha256 ")
    assert problems[4:] == ["changed: RELEASE_NOTES.md (sha256 differs from SHA256SUMS)",
                            "changed: rife-v4.6-ncnn.tar.gz (sha256 differs from SHA256SUMS)",
                            "extra: notes.txt"]
    # the one tarball alone, and through the command line (one sentence, exit status 2)
    _, alone = verify(copy_ / "rife-v4.6-ncnn.tar.gz")
    assert alone == problems[1:4]
    assert main(["release", "verify", str(copy_ / "rife-v4.6-ncnn.tar.gz")]) == 2
    captured = capsys.readouterr()
    assert "missing: rife-v4.6-ncnn.tar.gz: rife-v4.6/flownet.param" in captured.out
    assert captured.err.startswith("rifebuild release verify: error: ")
    assert "1 missing, 1 extra, 1 changed (listed above)" in captured.err and captured.err.count("\n") == 1


def test_verify_accepts_a_repack_with_dot_slash_names(bundle, tmp_path):
    """`tar -czf x.tar.gz -C dir .` names members ./path: same files, so only SHA256SUMS differs."""
    copy_ = tmp_path / "download"
    shutil.copytree(bundle, copy_)
    unpacked = tmp_path / "unpacked"
    with tarfile.open(copy_ / "rife-v4.6-ncnn.tar.gz") as tar:
        extract_tar(tar, unpacked)
    with tarfile.open(copy_ / "rife-v4.6-ncnn.tar.gz", "w:gz") as tar:
        tar.add(unpacked, arcname=".")
    assert verify(copy_ / "rife-v4.6-ncnn.tar.gz") == (["ok: rife-v4.6-ncnn.tar.gz (4 files)"], [])
    assert verify(copy_)[1] == ["changed: rife-v4.6-ncnn.tar.gz (sha256 differs from SHA256SUMS)"]


def test_verify_catches_an_edited_manifest(bundle, tmp_path):
    copy_ = tmp_path / "download"
    shutil.copytree(bundle, copy_)
    manifest = json.loads((copy_ / "MANIFEST.json").read_text())
    entry = manifest["tarballs"]["rife-v4.6-ncnn.tar.gz"]["files"][0]
    entry["sha256"] = "0" * 64  # someone "fixes" the manifest to match a swapped file
    (copy_ / "MANIFEST.json").write_bytes(manifests.dumps(manifest))
    _, problems = verify(copy_)
    assert any(p.startswith(f"changed: rife-v4.6-ncnn.tar.gz: {entry['path']} (sha256 ") for p in problems)
    for name in ("rife-build-native", "rife-v4.6-ncnn", "rife-build-report"):  # each copy disagrees now
        assert f"changed: {name}.tar.gz: MANIFEST.json (differs from the bundle's MANIFEST.json)" in problems
    assert "changed: MANIFEST.json (sha256 differs from SHA256SUMS)" in problems


def test_verify_errors_are_one_sentence(tmp_path, bundle):
    with pytest.raises(ReleaseError, match="has no MANIFEST.json"):
        verify(tmp_path)
    with pytest.raises(ReleaseError, match="no such file or folder"):
        verify(tmp_path / "nope.tar.gz")
    renamed = tmp_path / "models.tar.gz"
    shutil.copy(bundle / "rife-v4.6-ncnn.tar.gz", renamed)
    with pytest.raises(ReleaseError, match="lists no tarball of that name"):
        verify(renamed)
    (tmp_path / "SHA256SUMS").write_text("garbage\n")
    with pytest.raises(ReleaseError, match=r"SHA256SUMS:1: not a `sha256sum` line"):
        sums.parse(tmp_path / "SHA256SUMS")


def add_lite_model(outputs: dict, tmp_path: Path) -> dict:
    """`outputs` with a second version's ncnn files (rife-v4.17-lite)."""
    lite = tmp_path / "work" / "ncnn" / "rife-v4.17-lite"
    lite.mkdir(parents=True)
    (lite / "flownet.param").write_text("lite param")
    (lite / "flownet.bin").write_bytes(b"lite bin" * 10)
    outputs["files"]["rife-v4.17-lite-ncnn"] = {"rife-v4.17-lite/flownet.param": lite / "flownet.param",
                                                "rife-v4.17-lite/flownet.bin": lite / "flownet.bin"}
    return outputs


def test_two_models_in_one_bundle(outputs, tmp_path):
    """Per model an ncnn tarball (and its checkpoint, verdicts, notes section); one native, one report."""
    add_lite_model(outputs, tmp_path)
    outputs["report"].write_text(json.dumps(fake_report(tmp_path, ("rife-v4.6", "rife-v4.17-lite"))))
    outputs["models"] = ["rife-v4.6", "rife-v4.17-lite"]
    folder = tmp_path / "release"
    manifest = make_bundle(outputs, folder, more_kinds=("rife-v4.17-lite-ncnn",))
    assert [m["model"] for m in manifest["models"]] == ["rife-v4.6", "rife-v4.17-lite"]
    assert {n: (t["kind"], t["model"]) for n, t in manifest["tarballs"].items()} == {
        "rife-v4.6-ncnn.tar.gz": ("ncnn", "rife-v4.6"), "rife-v4.17-lite-ncnn.tar.gz": ("ncnn", "rife-v4.17-lite"),
        "rife-build-native.tar.gz": ("native", None), "rife-build-report.tar.gz": ("report", None)}
    assert [a["key"] for a in manifest["models"][1]["artifacts"]] == ["ncnn-fp32", "ncnn-int8"]  # no extra record
    notes = (folder / "RELEASE_NOTES.md").read_text()
    assert notes.startswith("# rife-v4.6, rife-v4.17-lite release bundle") and "## rife-v4.17-lite" in notes
    assert "`rife-v4.17-lite/` is the fp32" in notes
    ok, problems = verify(folder)
    assert problems == [] and len(ok) == 7
    rewrite(folder / "rife-v4.17-lite-ncnn.tar.gz", lambda files: files.update({"rife-v4.17-lite/x": b"?"}))
    assert "extra: rife-v4.17-lite-ncnn.tar.gz: rife-v4.17-lite/x" in verify(folder)[1]


def test_an_ensemble_variant_is_a_model_of_the_bundle_marked_as_such(outputs, tmp_path):
    """rife-v4.6-ensemble beside rife-v4.6: its own tarball (not read as rife-v4.6's), a manifest entry naming
    the version it is the ensemble of (whose checkpoint record it carries), a notes section saying so."""
    ens = tmp_path / "work" / "ncnn" / "rife-v4.6-ensemble"
    ens.mkdir(parents=True)
    (ens / "flownet.param").write_text("ensemble param")
    (ens / "flownet.bin").write_bytes(b"ensemble bin" * 10)
    outputs["files"]["rife-v4.6-ensemble-ncnn"] = {f"rife-v4.6-ensemble/flownet.{e}": ens / f"flownet.{e}"
                                                   for e in ("param", "bin")}
    report = fake_report(tmp_path, ("rife-v4.6", "rife-v4.6-ensemble"))
    report["per_model"]["rife-v4.6-ensemble"]["checkpoint"]["model"] = "rife-v4.6"  # the version's record
    outputs["report"].write_text(json.dumps(report))
    outputs["models"] = ["rife-v4.6", "rife-v4.6-ensemble"]
    folder = tmp_path / "release"
    manifest = make_bundle(outputs, folder, more_kinds=("rife-v4.6-ensemble-ncnn",))
    entries = {m["model"]: m for m in manifest["models"]}
    assert entries["rife-v4.6-ensemble"]["ensemble_of"] == "rife-v4.6" and "ensemble_of" not in entries["rife-v4.6"]
    assert manifest["tarballs"]["rife-v4.6-ensemble-ncnn.tar.gz"]["model"] == "rife-v4.6-ensemble"
    notes = (folder / "RELEASE_NOTES.md").read_text()
    section = notes.split("## rife-v4.6-ensemble\n", 1)[1]
    assert section.lstrip().startswith("The ensemble variant of rife-v4.6: the same checkpoint")
    assert "`rife-v4.6-ensemble/` is the fp32" in notes
    ok, problems = verify(folder)
    assert problems == [] and len(ok) == 7


def test_a_tarball_kind_of_no_built_model_is_refused(outputs, tmp_path):
    outputs["files"]["rife-v4.25-onnx"] = {}
    with pytest.raises(ReleaseError, match=r"--tarball rife-v4.25-onnx: not one of MODEL-\{ncnn,mnn,onnx\}"):
        manifests.build(["rife-v4.6"], outputs["files"], {k: f"{k}.tar.gz" for k in outputs["files"]},
                        fake_report(tmp_path), outputs["config"], {"commit": None, "dirty": None}, 0)


# --- release verify on hostile bundles (issue 19 items 5-8) ------------------------------------------


def _cli_error(capsys, path: Path) -> str:
    """`release verify PATH` fails with exit status 2 and one sentence (no traceback); that sentence."""
    assert main(["release", "verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("rifebuild release verify: error: ") and err.count("\n") == 1, err
    return err


def _edit_manifest(manifest: dict, edit: str) -> bytes:
    entry = manifest["tarballs"]["rife-v4.6-ncnn.tar.gz"]
    if edit == "tarballs []":
        manifest["tarballs"] = []
    elif edit == "tarballs 'x'":
        manifest["tarballs"] = "x"
    elif edit == "entry without files":
        del entry["files"]
    elif edit == "files null":
        entry["files"] = None
    elif edit == "file without path":
        del entry["files"][0]["path"]
    elif edit == "size a string":
        entry["files"][0]["size"] = "12"
    elif edit == "tarball name with a folder":
        manifest["tarballs"]["../../etc/passwd"] = manifest["tarballs"].pop("rife-v4.6-ncnn.tar.gz")
    elif edit == "200k nested [":
        return b"[" * 200_000 + b"]" * 200_000
    elif edit == "5000-digit integer":
        return manifests.dumps(manifest).replace(b'"schema_version": %d' % manifests.SCHEMA_VERSION, b'"schema_version": ' + b"9" * 5000)
    return manifests.dumps(manifest)


MALFORMED = ["tarballs []", "tarballs 'x'", "entry without files", "files null", "file without path", "size a string",
             "tarball name with a folder", "200k nested [", "5000-digit integer"]


@pytest.mark.parametrize("edit", MALFORMED)
def test_verify_answers_a_malformed_manifest_in_one_sentence(bundle, tmp_path, capsys, edit):
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    data = _edit_manifest(manifest, edit)
    (bundle / "MANIFEST.json").write_bytes(data)
    assert "MANIFEST.json" in _cli_error(capsys, bundle)
    # the same manifest inside a tarball given alone
    rewrite(bundle / "rife-v4.6-ncnn.tar.gz", lambda files: files.update({"MANIFEST.json": data}))
    assert "MANIFEST.json" in _cli_error(capsys, bundle / "rife-v4.6-ncnn.tar.gz")


@pytest.mark.parametrize("data", [b"\xff\xfe" + "0  x\n".encode("utf-16-le"), b"\x80\n", "caf\xe9\n",
                                  ("0" * 64 + "  caf\xe9\n").encode("latin-1"), b"\xc3\x28  x\n", b"\xed\xa0\x80\n",
                                  b"\x00" * 10, ("a" * 64 + "  ../MANIFEST.json\n").encode()])
def test_verify_answers_a_bad_sha256sums_in_one_sentence(bundle, capsys, data):
    (bundle / "SHA256SUMS").write_bytes(data if isinstance(data, bytes) else data.encode())
    assert "SHA256SUMS" in _cli_error(capsys, bundle)


def _add_members(path: Path, members: list[tuple[str, bytes | None, int]], first: bool = False) -> None:
    """Repack `path` with extra raw members (name, data or None for a folder, mode), before or after the rest."""
    with tarfile.open(path) as tar:
        kept = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    added = []
    for name, data, mode in members:
        info = tarfile.TarInfo(name)
        info.mode = mode
        if data is None:
            info.type = tarfile.DIRTYPE
        else:
            info.size = len(data)
        added.append((info, data))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in (added + kept if first else kept + added):
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    path.write_bytes(gzip.compress(buffer.getvalue(), compresslevel=1))


def test_verify_lists_every_folder_member_and_refuses_unsafe_ones(bundle, capsys):
    """Issue 19 item 7: folder members were skipped, so these passed as "matches its MANIFEST.json"."""
    path = bundle / "rife-v4.6-ncnn.tar.gz"
    _add_members(path, [("../../../../tmp/X/", None, 0o755), ("/tmp/Y/", None, 0o755), ("odd/", None, 0o7777),
                        ("rife-v4.6/sneaky", b"#!/bin/sh\n", 0o4755), ("junk/", None, 0o755)])
    _, problems = verify(path)
    name = path.name
    assert problems == [f"unsafe: {name}: ../../../../tmp/X/ (a path outside the folder it is extracted to)",
                        f"unsafe: {name}: /tmp/Y/ (a path outside the folder it is extracted to)",
                        f"unsafe: {name}: odd/ (mode 7777: set-id, sticky or writable by others)",
                        f"unsafe: {name}: rife-v4.6/sneaky (mode 4755: set-id, sticky or writable by others)",
                        f"extra: {name}: junk/"]
    assert "4 unsafe" in _cli_error(capsys, path)


def test_verify_refuses_duplicate_members(bundle, capsys):
    """Issue 19 item 8: an earlier second report.md passed ("last one wins" when extracted)."""
    path = bundle / "rife-build-report.tar.gz"
    _add_members(path, [("report.md", b"# all artifacts verified\n", 0o644)], first=True)
    _, problems = verify(path)
    assert problems == [f"duplicate: {path.name}: report.md (2 members of that name; extracting keeps the last)"]
    assert "1 duplicate" in _cli_error(capsys, path)


def test_verify_streams_members_and_reads_none_beyond_its_declared_size(bundle):
    """Issue 19 item 6: members were read whole into memory (a 3 GiB zero member took 3.2 GB RSS). A member
    larger than the manifest says is changed without reading it; others are hashed in chunks."""
    import tracemalloc

    big = 64 << 20  # 64 MiB of zeros in place of a small file: ~64 kB compressed
    path = bundle / "rife-v4.6-ncnn.tar.gz"
    with tarfile.open(path) as tar:
        kept = [(m, tar.extractfile(m).read() if m.isfile() else None) for m in tar.getmembers()]
    with gzip.open(path, "wb", compresslevel=1) as gz, tarfile.open(fileobj=gz, mode="w") as tar:
        for info, data in kept:
            if info.name == "rife-v4.6/flownet.bin":
                info.size = big
                tar.addfile(info, io.BytesIO(bytes(big)))
            else:
                tar.addfile(info, io.BytesIO(data) if data is not None else None)
    tracemalloc.start()
    try:
        _, problems = verify(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert problems == [f"changed: {path.name}: rife-v4.6/flownet.bin ({big} bytes; manifest 650 bytes)"]
    assert peak < 8 << 20, f"{peak / 2**20:.0f} MiB allocated while verifying"


# --- the build machine (issue 21 item 5) -------------------------------------------------------------


def test_build_machine_names_the_cpu_and_its_simd_extensions(tmp_path, bundle):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nmodel name\t: Intel(R) Xeon(R)  Platinum 8370C\n"
                   "flags\t\t: fpu sse sse2 avx f16c fma avx2 avx512f avx512bw\n")
    assert provenance.build_machine(x86, "x86_64") == {
        "arch": "x86_64", "cpu": "Intel(R) Xeon(R) Platinum 8370C", "isa": ["avx512f", "avx512bw", "avx2", "fma",
                                                                            "f16c", "avx", "sse2"]}
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimdhp asimddp\nCPU part\t: 0xd0c\n")
    assert provenance.build_machine(arm, "aarch64") == {"arch": "aarch64", "cpu": None,
                                                        "isa": ["asimd", "asimdhp", "asimddp"]}
    assert provenance.build_machine(tmp_path / "none", "riscv64") == {"arch": "riscv64", "cpu": None, "isa": []}
    manifest = json.loads((bundle / "MANIFEST.json").read_text())
    assert manifest["build_machines"] == [provenance.build_machine()]
    assert f"on {provenance.build_machine()['cpu']} (" in (bundle / "RELEASE_NOTES.md").read_text()
