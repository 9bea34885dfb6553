"""End-to-end: the real snakemake workflow on a tiny config, in a temp working directory."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO

from rifebuild.evaluate.record import validate
from rifebuild.release import tarball
from rifebuild.release.verify import verify as verify_bundle

pytestmark = pytest.mark.e2e

TINY_CONFIG = {
    "weights": "synthetic",
    "export": {"height": 64, "width": 96},
    "threads": 1,
    "verify": {"resolutions": [[96, 128]]},
    "stock_resolutions": [[96, 128]],
    "calibration": {"resolution": [64, 96], "calibration_size": 2, "evaluation_size": 1, "max_motion": 3},
    "int8": {"sensitivity_frames": 1, "sensitivity_keep_float": 1},
    # The native build is shared with tests/test_native.py (absolute build_dir): cold once per machine.
    "native": {"targets": ["host", "linux-arm64"], "build_dir": str(REPO / "build" / "native"),
               "bench": {"size": [64, 96], "threads": [1], "warmup": 0, "loops": 1}},
    "mnn": {"bench": {"size": [64, 96], "runs": 2}},
}


def snakemake(workdir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    # cwd=REPO: like a user in the checkout, so the workflow profile (profiles/default) applies.
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=REPO, **kwargs)


def make_workdir(tmp_path: Path, **overrides) -> Path:
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**TINY_CONFIG, **overrides}))
    return tmp_path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    workdir = make_workdir(tmp_path_factory.mktemp("e2e"))
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


def test_outputs_and_verification_thresholds(finished_run):
    results = finished_run / "results"
    model = results / "ncnn" / "rife-v4.6"
    param = (model / "flownet.param").read_text()
    assert "rife.Warp" in param and "GridSample" not in param and "MemoryData" not in param  # beta folded
    for variant, bound in (("rife-v4.6", 1e-3), ("rife-v4.6-fp16", 5e-3)):
        record = json.loads((results / "ncnn" / variant / "verify.json").read_text())
        assert [c["resolution"] for c in record["checks"]] == [[64, 96], [96, 128]]
        assert all(c["passed"] and c["max_abs_err"] <= bound for c in record["checks"])
    onnx_record = json.loads((results / "export" / "flownet.onnx.verify.json").read_text())
    assert onnx_record["checks"][0]["max_abs_err"] <= 1e-4
    for res in ("64x96", "96x128"):
        stock = (results / "ncnn" / f"rife-v4.6-stock-{res}" / "flownet.param").read_text()
        assert "GridSample" in stock and "rife.Warp" not in stock
        record = json.loads((results / "ncnn" / f"rife-v4.6-stock-{res}" / "verify.json").read_text())
        assert record["checks"][0]["passed"] and record["checks"][0]["max_abs_err"] <= 1e-3
    assert (results / "benchmarks" / "ncnn" / "pnnx.tsv").exists()
    assert (finished_run / "logs" / "ncnn" / "warp_rewrite.log").read_text().startswith("rewrote 8 warps")
    assert (finished_run / "logs" / "ncnn" / "pnnx.tool.log").exists()  # pnnx's own log is declared too


def test_native_outputs(finished_run):
    native = finished_run / "results" / "native"
    verify = json.loads((native / "host" / "verify.json").read_text())
    assert verify["checks"] and all(c["max_abs_err"] <= 1e-3 for c in verify["checks"])
    assert json.loads((native / "linux-arm64" / "cross_check.json").read_text())["checks"][0]["max_abs_err"] <= 1e-3
    bench = json.loads((native / "host" / "bench.json").read_text())
    assert bench["rife_bench"][0]["median_ms"] > 0 and bench["ncnn_python"][0]["median_ms"] > 0


def test_native_runs_the_int8_model(finished_run):
    """rife-bench with int8 inference on the int8 rife.Warp model: host vs PyTorch, arm64 (qemu) vs host."""
    native = finished_run / "results" / "native"
    verify = json.loads((native / "host" / "verify-int8.json").read_text())
    assert verify["precision"] == "int8" and len(verify["checks"]) == 2
    assert all(c["psnr_db"] >= 30 for c in verify["checks"])
    cross = json.loads((native / "linux-arm64" / "cross_check-int8.json").read_text())
    assert cross["passed"] and cross["checks"][0]["psnr_db"] >= 30
    bench = json.loads((native / "host" / "bench-int8.json").read_text())
    assert bench["rife_bench"][0]["median_ms"] > 0 and bench["ratio_vs_fp32"][0] > 0
    assert bench["rife_bench"][0]["rounds"] == 3  # int8 and fp32 took turns (native.bench.rounds)


def test_report_covers_every_artifact(finished_run):
    results = finished_run / "results"
    report = json.loads((results / "report.json").read_text())
    keys = [a["key"] for a in report["artifacts"]]
    assert keys == ["pytorch", "onnx", "ncnn-fp32", "ncnn-fp16", "ncnn-stock-64x96", "ncnn-stock-96x128",
                    "ncnn-int8", "mnn-fp32", "mnn-fp16", "mnn-wq8", "mnn-int8"]
    assert all(a["passed"] for a in report["artifacts"])
    int8 = report["artifacts"][keys.index("ncnn-int8")]
    assert 0 < int8["size_vs_ncnn_fp32"] < 0.35 and set(int8["vs_pytorch"]) == {"64x96", "96x128"}
    assert int8["vs_ground_truth"]["64x96"]["psnr_db"] > 0
    models = [row["model"] for row in report["latency"]]
    assert "ncnn int8 (rife-bench, rife.Warp)" in models and sum(m.startswith("MNN") for m in models) == 4
    assert next(r for r in report["latency"] if r["model"].startswith("ncnn int8"))["ratio_vs_fp32"] > 0
    assert {(c["target"], c["precision"]) for c in report["native_checks"] if c["check"] == "vs host binary"} == {
        ("linux-arm64", "fp32"), ("linux-arm64", "int8")}
    text = (results / "report.md").read_text()
    assert text.startswith("# rife-v4.6 build report") and "| ncnn int8 (rife.Warp) ¹ |" in text and "## int8" in text


def test_mnn_outputs(finished_run):
    mnn = finished_run / "results" / "mnn" / "rife-v4.6"
    for name in ("flownet", "flownet-fp16", "flownet-wq8", "flownet-int8"):
        record = json.loads((mnn / f"{name}.verify.json").read_text())
        assert [c["resolution"] for c in record["checks"]] == [[64, 96], [96, 128]]
        assert record["ground_truth"][0]["frames"] == 1  # the shared evaluation split
    assert (mnn / "flownet-int8.quant.json").exists()


def test_second_run_does_nothing(finished_run):
    before = {p: p.stat().st_mtime_ns for p in (finished_run / "results").rglob("*") if p.is_file()}
    proc = snakemake(finished_run)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr
    after = {p: p.stat().st_mtime_ns for p in (finished_run / "results").rglob("*") if p.is_file()}
    assert before == after


def test_release_bundle(finished_run):
    release = finished_run / "results" / "release"
    tarballs = [f"rife-v4.6-{kind}.tar.gz" for kind in ("mnn", "native", "ncnn", "onnx", "report")]
    assert sorted(p.name for p in release.iterdir()) == ["MANIFEST.json", "RELEASE_NOTES.md", "SHA256SUMS",
                                                         *tarballs]
    ok, problems = verify_bundle(release)
    assert problems == [] and len(ok) == 7
    ncnn = set(tarball.digests(release / "rife-v4.6-ncnn.tar.gz"))
    assert ncnn == {"MANIFEST.json", *(f"rife-v4.6{v}/flownet.{e}" for v in ("", "-fp16", "-int8", "-stock-64x96",
                                                                              "-stock-96x128") for e in ("param", "bin"))}
    assert set(tarball.digests(release / "rife-v4.6-native.tar.gz")) == {
        "MANIFEST.json", "host/rife-bench", "linux-arm64/rife-bench"}
    manifest = json.loads((release / "MANIFEST.json").read_text())
    report = json.loads((finished_run / "results" / "report.json").read_text())
    assert [a["key"] for a in manifest["artifacts"]] == [a["key"] for a in report["artifacts"]] + ["onnx-dynamic"]
    assert all(a["verified"] for a in manifest["artifacts"]) and manifest["git"]["commit"]
    assert manifest["checkpoint"]["sha256"] == report["checkpoint_sha256"]
    assert {"torch", "ncnn", "mnn", "onnxruntime"} <= set(manifest["tool_versions"])
    assert (finished_run / "results" / "benchmarks" / "release" / "build.tsv").exists()


def test_two_clean_runs_give_byte_identical_bundles(finished_run, tmp_path):
    """The whole workflow again from scratch in another folder: every byte of results/release/ agrees
    (tarballs, MANIFEST.json, SHA256SUMS, notes; the models inside them too)."""
    again = make_workdir(tmp_path)
    proc = snakemake(again)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first, second = finished_run / "results" / "release", again / "results" / "release"
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    different = [n for n in names if (first / n).read_bytes() != (second / n).read_bytes()]
    assert different == [], f"not byte-identical across two clean runs: {different}; {manifest_diff(first, second)}"


def manifest_diff(first: Path, second: Path) -> str:
    """Which bundled files and which other manifest entries differ: what made the bundles differ."""
    a, b = (json.loads((folder / "MANIFEST.json").read_text()) for folder in (first, second))
    files = [f"{name}:{x['path']}" for name in a["tarballs"] for x, y in
             zip(a["tarballs"][name]["files"], b["tarballs"].get(name, {}).get("files", [])) if x != y]
    keys = [key for key in sorted(set(a) | set(b)) if key != "tarballs" and a.get(key) != b.get(key)]
    return f"files that differ: {files}; other manifest entries that differ: {keys}"


def test_interrupted_run_is_recovered_by_rerunning(tmp_path):
    workdir = make_workdir(tmp_path)
    cmd_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2"]
    # SIGINT back to its default in the child: a test run started in the background (`cmd &` in a
    # script) inherits SIGINT as ignored, and then neither Python nor Snakemake ever sees the Ctrl-C.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cmd_env,
                            cwd=REPO, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (workdir / "results/export/flownet.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the middle of the conversion
    proc.wait(timeout=60)
    # The report needs every other output, so it cannot exist yet (jobs running at the interrupt may
    # still finish: how far the run got depends on the machine's load).
    assert not (workdir / "results/report.md").exists()
    leftovers = [p for p in (workdir / "results").rglob("*.tmp")]
    assert leftovers == []
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (workdir / "results/ncnn/rife-v4.6/verify.json").exists() and (workdir / "results/report.md").exists()


def test_bad_config_fails_with_one_sentence(tmp_path):
    workdir = make_workdir(tmp_path, export={"height": 100, "width": 96})
    proc = snakemake(workdir, "-n")
    assert proc.returncode != 0
    assert "export.height = 100: must be a multiple of 32" in proc.stdout + proc.stderr


def test_missing_local_weights_file(tmp_path):
    workdir = make_workdir(tmp_path, weights=str(tmp_path / "nope.pkl"))
    proc = snakemake(workdir, "-n")
    assert proc.returncode != 0
    assert "is not an existing file" in proc.stdout + proc.stderr


def test_int8_outputs(finished_run):
    from rifebuild.int8 import quant
    from rifebuild.int8 import quantize as int8

    model = finished_run / "results" / "ncnn" / "rife-v4.6-int8"
    weights, inputs = quant.read_table(model / "flownet.table")
    assert len(weights) == len(inputs) == 40
    rows = int8.parse_sensitivity((model / "sensitivity.tsv").read_text())
    for path in (finished_run / "results").rglob("*verify*.json"):  # every record: one schema
        validate(json.loads(path.read_text()))
    summary = json.loads((model / "quantize.json").read_text())
    assert summary["float"] == [rows[0]["layer"]] and len(summary["int8"]) == 39
    assert summary["bin_size_ratio"] <= 0.35  # one layer kept float; all-int8 is <= 0.3 (test_int8)
    param = (model / "flownet.param").read_text()
    assert "rife.Warp" in param and "GridSample" not in param
    record = json.loads((model / "verify.json").read_text())
    gate = [c for c in record["checks"] if c["against"] == "ncnn-fp32"]
    assert [c["resolution"] for c in gate] == [[64, 96], [96, 128]]
    assert all(c["passed"] and c["psnr_db"] >= 30 for c in gate)
    assert set(record["artifact_sha256"]) == {"flownet.param", "flownet.bin", "flownet.table"}


def test_bad_calibration_data_fails_with_one_sentence(tmp_path):
    workdir = make_workdir(tmp_path, calibration={"data": str(tmp_path / "missing")})
    proc = snakemake(workdir, "results/calibration/data")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "calibration.data" in out and "is not an existing directory" in out and "Traceback" not in out
