"""`release merge`: bundles built for disjoint model sets merge into the bytes of one bundle of all of them
(the workflow-level proof is in test_e2e.py::test_merged_parts_equal_one_run_of_both_models)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from test_release import add_lite_model, fake_report, outputs, repo, rewrite  # noqa: F401  (fixtures)

from rifebuild.cli import main
from rifebuild.core.config import validate
from rifebuild.core.errors import ReleaseError
from rifebuild.release import provenance, tarball
from rifebuild.release.build import build_bundle
from rifebuild.release.merge import merge
from rifebuild.release.verify import verify
from rifebuild.report import run

MODELS = ("rife-v4.6", "rife-v4.17-lite")


@pytest.fixture
def two_models(outputs, tmp_path):  # noqa: F811
    """`outputs` with a second model's ncnn files and verification record."""
    add_lite_model(outputs, tmp_path)
    outputs["records"]["rife-v4.17-lite"] = dict(outputs["records"]["rife-v4.6"])
    return outputs


def build_for(work: dict, tmp_path: Path, folder: Path, models, **config) -> Path:
    """The bundle one run of `models` builds (what `rule release` passes for them)."""
    report = folder.parent / f"{folder.name}.report.json"
    report.parent.mkdir(parents=True, exist_ok=True)
    whole = fake_report(tmp_path, tuple(models))
    for page in whole["per_model"].values():  # sizes in the records' order (by area), not as JSON sorts them
        for row in page["artifacts"]:
            row["vs_pytorch"] = {res: {"psnr_db": 80.5, "max_abs_err": 2e-5} for res in ("64x128", "128x128")}
    report.write_text(json.dumps(run.assemble(whole["per_model"])))  # the summary rows from the pages
    tarballs = {**{f"{m}-ncnn": folder / f"{m}-ncnn.tar.gz" for m in models},
                "native": folder / "rife-build-native.tar.gz", "report": folder / "rife-build-report.tar.gz"}
    files = {kind: work["files"][kind] for kind in tarballs if kind != "report"}
    old = os.environ.pop("SOURCE_DATE_EPOCH", None)
    try:
        build_bundle(list(models), files, tarballs, report,
                     validate({"weights": "synthetic", "models": list(models), **config}), work["repo"],
                     folder / "MANIFEST.json", folder / "SHA256SUMS", folder / "RELEASE_NOTES.md",
                     {m: work["records"][m] for m in models})
    finally:
        if old is not None:
            os.environ["SOURCE_DATE_EPOCH"] = old
    return folder


def test_merged_parts_are_byte_identical_to_one_bundle_of_both(two_models, tmp_path):
    one = build_for(two_models, tmp_path, tmp_path / "one", MODELS)
    parts = [build_for(two_models, tmp_path, tmp_path / m, [m]) for m in MODELS]
    merged = tmp_path / "merged"
    assert main(["release", "merge", *map(str, parts), "--out", str(merged)]) == 0
    names = sorted(p.name for p in one.iterdir())
    assert sorted(p.name for p in merged.iterdir()) == names
    assert [n for n in names if (one / n).read_bytes() != (merged / n).read_bytes()] == []
    assert verify(merged)[1] == []
    report = json.loads(tarball.read_member(merged / "rife-build-report.tar.gz", "report.json"))
    assert report["models"] == list(MODELS) and set(report["per_model"]) == set(MODELS)
    modes = {m.name: m.mode for m in tarball.scan(merged / "rife-build-native.tar.gz")}
    assert modes["host/rife-bench"] == 0o755  # the binary stays executable through the merge


def test_parts_with_different_native_binaries_are_refused_naming_the_file(two_models, tmp_path):
    first = build_for(two_models, tmp_path, tmp_path / "a", MODELS[:1])
    two_models["files"]["native"]["host/rife-bench"].write_bytes(b"\x7fELF another toolchain")
    second = build_for(two_models, tmp_path, tmp_path / "b", MODELS[1:])
    with pytest.raises(ReleaseError, match=r"rife-build-native.tar.gz: host/rife-bench differ\(s\) between .*/a and "
                                           r".*/b; the parts must share one native build"):
        merge([first, second], tmp_path / "merged")
    assert not (tmp_path / "merged").exists()


def test_overlapping_or_differently_configured_parts_are_refused(two_models, tmp_path):
    first = build_for(two_models, tmp_path, tmp_path / "a", MODELS[:1])
    again = build_for(two_models, tmp_path, tmp_path / "again", MODELS[:1])
    with pytest.raises(ReleaseError, match=r"rife-v4.6 is in both .*/a and .*/again; merge parts built for disjoint"):
        merge([first, again], tmp_path / "merged")
    other = build_for(two_models, tmp_path, tmp_path / "b", MODELS[1:], threads=3)
    with pytest.raises(ReleaseError, match=r"/b: its config differs from .*/a's in threads; merge parts"):
        merge([first, other], tmp_path / "merged")


def test_merge_refuses_a_damaged_part_and_a_used_out_folder(two_models, tmp_path, capsys):
    first = build_for(two_models, tmp_path, tmp_path / "a", MODELS[:1])
    second = build_for(two_models, tmp_path, tmp_path / "b", MODELS[1:])
    rewrite(second / "rife-v4.17-lite-ncnn.tar.gz", lambda files: files.update({"rife-v4.17-lite/x": b"?"}))
    assert main(["release", "merge", str(first), str(second), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "/b: does not match its MANIFEST.json (extra: rife-v4.17-lite-ncnn.tar.gz: " \
        "rife-v4.17-lite/x;" in err, err
    (second / "rife-v4.17-lite-ncnn.tar.gz").write_bytes(b"not a tarball")
    assert main(["release", "merge", str(first), str(second), "--out", str(tmp_path / "m")]) == 2
    assert "/b/rife-v4.17-lite-ncnn.tar.gz: not a readable .tar.gz" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
    assert main(["release", "merge", str(first), "--out", str(first)]) == 2
    assert "exists and is not an empty folder" in capsys.readouterr().err


def test_parts_built_with_another_toolchain_are_refused_naming_the_sbom(two_models, tmp_path):
    first = build_for(two_models, tmp_path, tmp_path / "a", MODELS[:1])
    second = build_for(two_models, tmp_path, tmp_path / "b", MODELS[1:], native={"ncnn_version": "1.0.20250101"})
    with pytest.raises(ReleaseError, match=r"rife-build.cdx.json: differs between .*/a and .*/b \(another Python"):
        merge([first, second], tmp_path / "merged")


def test_parts_built_on_other_cpus_list_every_machine(two_models, tmp_path, monkeypatch):
    first = build_for(two_models, tmp_path, tmp_path / "a", MODELS[:1])
    other = {"arch": "x86_64", "cpu": "Another CPU", "isa": ["avx2"]}
    monkeypatch.setattr(provenance, "build_machine", lambda: other)
    second = build_for(two_models, tmp_path, tmp_path / "b", MODELS[1:])
    manifest = merge([first, second], tmp_path / "merged")
    mine = json.loads((first / "MANIFEST.json").read_text())["build_machines"][0]
    assert manifest["build_machines"] == sorted([mine, other], key=lambda m: json.dumps(m, sort_keys=True))
