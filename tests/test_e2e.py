"""End-to-end: the real snakemake workflow on .test/config.yaml, in a temp working directory (the e2e
tier); the two-model run and the byte-identity of two clean runs are the slow tier (make test-all)."""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import PROXY, REPO, skip_unless_ci

from rifebuild.core.files import sha256_of
from rifebuild.evaluate.record import validate
from rifebuild.native.vulkan import count_devices
from rifebuild.release import tarball
from rifebuild.release.verify import verify as verify_bundle

pytestmark = pytest.mark.e2e

TEST_CONFIGS = REPO / ".test"
# .test/config.yaml (a user can run it: snakemake -c2 --configfile .test/config.yaml), with the native
# build shared with the other runs of this machine (absolute build_dir: cold once per machine).
TINY_CONFIG = {**yaml.safe_load((TEST_CONFIGS / "config.yaml").read_text())}
TINY_CONFIG["native"] = {**TINY_CONFIG["native"], "build_dir": str(REPO / "build" / "native")}
# The slow tier's run builds two versions in one DAG (.test/two-models.yaml): v4.6 and v4.25 (encoder
# Head, 5 IFBlocks, block features, padding multiple 64: its sizes become 64x128 and 128x128).
MODELS = yaml.safe_load((TEST_CONFIGS / "two-models.yaml").read_text())["models"]
SIZES = {"rife-v4.6": ["64x96", "96x128"], "rife-v4.25": ["64x128", "128x128"]}
STANDIN = REPO / "tests" / "standin"
# A test parametrized by model runs on the e2e tier's one-model run for v4.6, on the slow tier's
# two-model run for v4.25.
BY_MODEL = [pytest.param("rife-v4.6"), pytest.param("rife-v4.25", marks=pytest.mark.slow)]


def workflow_env(workdir: Path) -> dict:
    """This Python's venv first (the `rifebuild` command), then the stand-in adb, whose "device" is a
    folder in the working directory."""
    path = os.pathsep.join([str(Path(sys.executable).parent), str(STANDIN), os.environ["PATH"]])
    return {**os.environ, "PATH": path, "FAKE_ADB_ROOT": str(workdir / "device")}


def snakemake(workdir: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2", *args]
    # cwd=REPO: like a user in the checkout, so the workflow profile (profiles/default) applies.
    return subprocess.run(cmd, capture_output=True, text=True, env=workflow_env(workdir), cwd=REPO, **kwargs)


def make_workdir(tmp_path: Path, **overrides) -> Path:
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump({**TINY_CONFIG, **overrides}))
    return tmp_path


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """The default target on .test/config.yaml (one model, every stage): the e2e tier."""
    workdir = make_workdir(tmp_path_factory.mktemp("e2e"))
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


@pytest.fixture(scope="module")
def two_model_run(tmp_path_factory):
    """Two versions in one DAG (.test/two-models.yaml): the slow tier."""
    workdir = make_workdir(tmp_path_factory.mktemp("e2e-two"), models=MODELS)
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return workdir


def run_with(request, name: str) -> Path:
    """The finished run that built `name`."""
    return request.getfixturevalue("finished_run" if name == "rife-v4.6" else "two_model_run")


def models_of(workdir: Path) -> list[str]:
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    return config.get("models") or [config.get("model", "rife-v4.6")]


def test_default_workflow_with_trained_weights(tmp_path):
    """The default DAG (tiny sizes; host + linux-arm64 under qemu, int8, MNN, benchmark, report, release)
    with a trained v4.6 checkpoint. Random weights hid what this exposed: on seeded noise a trained
    network's flow turned float rounding between two correct builds into 6.6e-3 (the cross-check's 1e-3
    bound failed), and fp16 reached 7.5e-3 on a real photo. Every gate must hold for trained weights."""
    if not PROXY.is_file():
        skip_unless_ci(f"the trained stand-in checkpoint {PROXY} is not here (it lives in ../shared, never in the repo)")
    workdir = make_workdir(tmp_path, model="rife-v4.6", weights=str(PROXY))
    proc = snakemake(workdir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = workdir / "results"

    def checks(path: str) -> list[dict]:
        record = json.loads((results / path).read_text())
        assert record["passed"]
        return record["checks"]

    assert all(c["bound"] == {"min_psnr_db": 60.0} and c["psnr_db"] >= 60 for c in checks("ncnn/rife-v4.6-fp16/verify.json"))
    assert all(c["max_abs_err"] <= 1e-3 for c in checks("ncnn/rife-v4.6/verify.json"))
    assert all(c["max_abs_err"] <= 1e-3 for c in checks("native/host/rife-v4.6/verify.json"))
    cross = checks("native/linux-arm64/rife-v4.6/cross_check.json")[0]
    assert cross["max_abs_err"] <= 1e-3 and cross["inputs"].startswith("fixed scene")
    # The trained weights were used: PyTorch beats frame averaging (~21-24 dB) on the held-out split.
    int8 = json.loads((results / "ncnn" / "rife-v4.6-int8" / "verify.json").read_text())
    assert all(g["psnr_db"] >= 27 for g in int8["ground_truth"] if g["subject"] == "pytorch")
    ok, problems = verify_bundle(results / "release")
    assert problems == [] and ok
    manifest = json.loads((results / "release" / "MANIFEST.json").read_text())
    assert [m["checkpoint"]["sha256"] for m in manifest["models"]] == [sha256_of(PROXY)]


def _dims(res: str) -> list[int]:
    return [int(v) for v in res.split("x")]


@pytest.mark.parametrize("name", BY_MODEL)
def test_outputs_and_verification_thresholds(request, name):
    finished_run = run_with(request, name)
    results, sizes = finished_run / "results", SIZES[name]
    param = (results / "ncnn" / name / "flownet.param").read_text()
    assert "rife.Warp" in param and "GridSample" not in param and "MemoryData" not in param  # beta folded
    blocks = 5 if name == "rife-v4.25" else 4
    assert sorted(set(re.findall(r"\bflow\d+\b", param))) == [f"flow{i}" for i in range(blocks)]  # TTA blobs
    for variant, bound in ((name, 1e-3), (f"{name}-fp16", 5e-3)):
        record = json.loads((results / "ncnn" / variant / "verify.json").read_text())
        assert [c["resolution"] for c in record["checks"]] == [_dims(r) for r in sizes]
        assert all(c["passed"] and c["max_abs_err"] <= bound for c in record["checks"])
    onnx_record = json.loads((results / "export" / name / "flownet.onnx.verify.json").read_text())
    assert onnx_record["checks"][0]["max_abs_err"] <= 1e-4
    for res in sizes:
        stock = (results / "ncnn" / f"{name}-stock-{res}" / "flownet.param").read_text()
        assert "GridSample" in stock and "rife.Warp" not in stock
        record = json.loads((results / "ncnn" / f"{name}-stock-{res}" / "verify.json").read_text())
        assert record["checks"][0]["passed"] and record["checks"][0]["max_abs_err"] <= 1e-3
    assert (results / "benchmarks" / "ncnn" / name / "pnnx.tsv").exists()
    warps = 8 if name == "rife-v4.6" else 18  # v4.25: frames + encoder features before blocks 2-5, final pair
    assert (finished_run / "logs" / "ncnn" / name / "warp_rewrite.log").read_text().startswith(f"rewrote {warps} warps")
    assert (finished_run / "logs" / "ncnn" / name / "pnnx.tool.log").exists()  # pnnx's own log is declared too


@pytest.mark.slow
def test_models_share_what_depends_on_the_padding_multiple_only(two_model_run):
    finished_run = two_model_run
    results = finished_run / "results"
    assert sorted(p.name for p in (results / "calibration").iterdir()) == ["pad32", "pad64"]
    assert sorted(p.name for p in (results / "calibration" / "pad64" / "evaluation").iterdir()) == sorted(SIZES["rife-v4.25"])
    assert sorted(p.name for p in (results / "native" / "host").iterdir()) == ["rife-bench", *sorted(MODELS)]
    checkpoints = {m: (results / "checkpoint" / m / "flownet.pkl").read_bytes() for m in MODELS}
    assert checkpoints["rife-v4.6"] != checkpoints["rife-v4.25"]


@pytest.mark.parametrize("name", BY_MODEL)
def test_native_outputs(request, name):
    finished_run = run_with(request, name)
    native = finished_run / "results" / "native"
    verify = json.loads((native / "host" / name / "verify.json").read_text())
    assert verify["checks"] and all(c["max_abs_err"] <= 1e-3 for c in verify["checks"])
    cross = json.loads((native / "linux-arm64" / name / "cross_check.json").read_text())
    assert cross["checks"][0]["max_abs_err"] <= 1e-3


def test_native_runs_the_int8_model(finished_run):
    """rife-bench with int8 inference on the int8 rife.Warp model: host vs PyTorch, arm64 (qemu) vs host."""
    native = finished_run / "results" / "native"
    for name in models_of(finished_run):
        verify = json.loads((native / "host" / name / "verify-int8.json").read_text())
        assert verify["precision"] == "int8" and len(verify["checks"]) == 2
        assert all(c["psnr_db"] >= 30 for c in verify["checks"])
        cross = json.loads((native / "linux-arm64" / name / "cross_check-int8.json").read_text())
        assert cross["passed"] and cross["checks"][0]["psnr_db"] >= 30


@pytest.mark.parametrize("name", BY_MODEL)
def test_vulkan_verifies_every_precision_on_the_gpu(request, name):
    """A machine with a Vulkan device (lavapipe in CI; CI=true without one fails) verifies fp32, fp16 and
    int8 with every layer on the GPU, at both verify sizes, and the report lists them."""
    if count_devices() == 0:
        skip_unless_ci("no Vulkan device here (Debian: apt-get install mesa-vulkan-drivers libvulkan1)")
    finished_run = run_with(request, name)
    native = finished_run / "results" / "native" / "host-vulkan"
    for suffix, precision in (("", "fp32"), ("-fp16", "fp16"), ("-int8", "int8")):
        record = json.loads((native / name / f"verify-vulkan{suffix}.json").read_text())
        assert record["passed"] and record["precision"] == precision
        assert {f"{c['resolution'][0]}x{c['resolution'][1]}" for c in record["checks"]} == set(SIZES[name])
    report = json.loads((finished_run / "results" / "report.json").read_text())["per_model"][name]
    assert {c["precision"] for c in report["native_checks"] if c["target"] == "host-vulkan"} == {"fp32", "fp16", "int8"}


@pytest.mark.parametrize("name", BY_MODEL)
def test_report_covers_every_artifact(request, name):
    finished_run = run_with(request, name)
    results, (small, large) = finished_run / "results", SIZES[name]
    whole = json.loads((results / "report.json").read_text())
    models = models_of(finished_run)
    assert whole["models"] == models and [row["model"] for row in whole["summary"]] == models
    report = whole["per_model"][name]
    keys = [a["key"] for a in report["artifacts"]]
    assert keys == ["pytorch", "onnx", "ncnn-fp32", "ncnn-fp16", f"ncnn-stock-{small}", f"ncnn-stock-{large}",
                    "ncnn-int8", "mnn-fp32", "mnn-fp16", "mnn-wq8", "mnn-int8"]
    assert all(a["passed"] for a in report["artifacts"])
    int8 = report["artifacts"][keys.index("ncnn-int8")]
    assert 0 < int8["size_vs_ncnn_fp32"] < 0.35 and set(int8["vs_pytorch"]) == {small, large}
    assert int8["vs_ground_truth"][small]["psnr_db"] > 0
    timed = {r["variant"] for r in report["benchmark"]["record"]["results"]}
    assert "rife-bench-int8" in timed and sum(v.startswith("mnn-") for v in timed) == 4
    assert {(c["target"], c["precision"]) for c in report["native_checks"] if c["check"] == "vs host binary"} == {
        ("linux-arm64", "fp32"), ("linux-arm64", "int8")}
    text = (results / "report.md").read_text()
    assert "## Models" in text and f"## {name}" in text and "| ncnn int8 (rife.Warp) ¹ |" in text
    assert sum(line.startswith(f"| {name} ") for line in text.splitlines()) == 1  # its row of the Models table
    for figure in ("latency", "size"):
        assert f"(bench/{name}/{figure}.png)" in text and (results / "bench" / name / f"{figure}.png").exists()
    # synthetic weights: the report says so first, and leaves the ground-truth plot out (issue 20 item 3)
    assert "quality vs ground truth is meaningless with random weights" in text.split("## Models")[0]
    assert f"(bench/{name}/quality.png)" not in text and (results / "bench" / name / "quality.png").exists()
    assert report["checkpoint"] == json.loads((results / "checkpoint" / name / "flownet.json").read_text())


def test_second_run_does_nothing(finished_run):
    before = {p: p.stat().st_mtime_ns for p in (finished_run / "results").rglob("*") if p.is_file()}
    proc = snakemake(finished_run)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr
    after = {p: p.stat().st_mtime_ns for p in (finished_run / "results").rglob("*") if p.is_file()}
    assert before == after


def test_release_bundle(finished_run):
    release, models = finished_run / "results" / "release", models_of(finished_run)
    tarballs = [f"{m}-{kind}.tar.gz" for m in models for kind in ("mnn", "ncnn", "onnx")]
    assert sorted(p.name for p in release.iterdir()) == sorted(["MANIFEST.json", "RELEASE_NOTES.md", "SHA256SUMS",
                                                                "rife-build-native.tar.gz", "rife-build-report.tar.gz",
                                                                "rife-build.cdx.json", *tarballs])
    ok, problems = verify_bundle(release)
    assert problems == [] and len(ok) == len(tarballs) + 5  # + native, report, MANIFEST.json, RELEASE_NOTES.md, SBOM
    for name in models:
        ncnn = set(tarball.digests(release / f"{name}-ncnn.tar.gz"))
        variants = ("", "-fp16", "-int8", *(f"-stock-{r}" for r in SIZES[name]))
        assert ncnn == {"MANIFEST.json", *(f"{name}{v}/flownet.{e}" for v in variants for e in ("param", "bin"))}
    assert set(tarball.digests(release / "rife-build-native.tar.gz")) == {
        "MANIFEST.json", "host/rife-bench", "linux-arm64/rife-bench"}
    manifest = json.loads((release / "MANIFEST.json").read_text())
    report = json.loads((finished_run / "results" / "report.json").read_text())
    assert [m["model"] for m in manifest["models"]] == models and manifest["git"]["commit"]
    for entry in manifest["models"]:
        per_model = report["per_model"][entry["model"]]
        assert entry["checkpoint"]["sha256"] == per_model["checkpoint_sha256"]
        assert entry["checkpoint"] == {"model": entry["model"], "kind": "synthetic", "seed": 0, "file": "flownet.pkl",
                                       "sha256": per_model["checkpoint_sha256"]}  # the checkpoint job's record
    assert {"torch", "ncnn", "mnn", "onnxruntime"} <= set(manifest["tool_versions"])
    assert (finished_run / "results" / "benchmarks" / "release" / "build.tsv").exists()


@pytest.mark.slow
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


@pytest.mark.slow
def test_merged_parts_equal_one_run_of_both_models(finished_run, two_model_run, tmp_path):
    """Issue 21: the bundles of rife-v4.6 and of rife-v4.25 built by separate runs (a matrix nightly's jobs),
    merged by `release merge`, give every byte of the bundle of the run that builds both (two_model_run).
    rife-v4.6's part is the e2e tier's own run (finished_run); rife-v4.25's reuses two_model_run's outputs
    (a copy of its folder with `models: [rife-v4.25]`: snakemake re-runs the report and the release only),
    so the test costs no extra workflow run beyond the slow tier's."""
    second = tmp_path / "rife-v4.25"
    shutil.copytree(two_model_run, second, symlinks=True)
    shutil.rmtree(second / "results" / "release")  # the two-model bundle's files are no output of this run
    make_workdir(second, models=MODELS[1:])
    proc = snakemake(second, "results/release/MANIFEST.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    parts = [str(w / "results" / "release") for w in (finished_run, second)]
    merged = tmp_path / "merged"
    proc = subprocess.run([sys.executable, "-m", "rifebuild", "release", "merge", *parts, "--out", str(merged)],
                          capture_output=True, text=True, cwd=REPO, env=workflow_env(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    one = two_model_run / "results" / "release"
    names = sorted(p.name for p in one.iterdir())
    assert sorted(p.name for p in merged.iterdir()) == names
    different = [n for n in names if (one / n).read_bytes() != (merged / n).read_bytes()]
    assert different == [], f"merged parts differ from one run: {different}; {manifest_diff(one, merged)}"
    assert verify_bundle(merged)[1] == []


def manifest_diff(first: Path, second: Path) -> str:
    """Which bundled files and which other manifest entries differ: what made the bundles differ."""
    a, b = (json.loads((folder / "MANIFEST.json").read_text()) for folder in (first, second))
    files = [f"{name}:{x['path']}" for name in a["tarballs"] for x, y in
             zip(a["tarballs"][name]["files"], b["tarballs"].get(name, {}).get("files", [])) if x != y]
    keys = [key for key in sorted(set(a) | set(b)) if key != "tarballs" and a.get(key) != b.get(key)]
    return f"files that differ: {files}; other manifest entries that differ: {keys}"


def test_interrupted_run_is_recovered_by_rerunning(tmp_path):
    workdir = make_workdir(tmp_path)
    cmd_env = workflow_env(workdir)
    cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "2"]
    # SIGINT back to its default in the child: a test run started in the background (`cmd &` in a
    # script) inherits SIGINT as ignored, and then neither Python nor Snakemake ever sees the Ctrl-C.
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=cmd_env,
                            cwd=REPO, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (workdir / "results/export/rife-v4.6/flownet.pt").exists() and time.time() < deadline:
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in the middle of the conversion
    proc.wait(timeout=60)
    # The report needs every other output, so it cannot exist yet (jobs running at the interrupt may
    # still finish: how far the run got depends on the machine's load).
    assert not (workdir / "results/report.md").exists()
    leftovers = [p for p in (workdir / "results").rglob("*.tmp")]
    assert leftovers == []
    # the rerun finishes what the interrupt cut (up to the verified ncnn model; the rest of the DAG is
    # the first run's business: a whole second run here doubled the e2e tier's time)
    proc = snakemake(workdir, "results/ncnn/rife-v4.6/verify.json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (workdir / "results/ncnn/rife-v4.6/verify.json").exists()
    assert "Nothing to be done" in (proc := snakemake(workdir, "-n", "results/ncnn/rife-v4.6/verify.json")).stdout + proc.stderr


def test_temp_files_of_killed_jobs_are_swept_on_the_next_run(tmp_path):
    """A job killed by SIGTERM between writing `.x.<random>.tmp` and renaming it leaves the temp file;
    the next run removes it before its own jobs start (and leaves other files alone)."""
    workdir = make_workdir(tmp_path)
    stale = [workdir / "results/ncnn/rife-v4.6/.flownet.bin.k2j3.tmp", workdir / "logs/export/.x.log.a1.tmp",
             workdir / "resources/weights/rife-v4.6.pkl.part"]
    kept = workdir / "results/notes.tmp"
    for path in [*stale, kept]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("half-written")
        os.utime(path, (time.time() - 60, time.time() - 60))
    proc = snakemake(workdir, "results/checkpoint/rife-v4.6/flownet.pkl")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert [p for p in stale if p.exists()] == []
    assert kept.exists()


def test_bad_config_fails_with_one_sentence(tmp_path):
    workdir = make_workdir(tmp_path, export={"height": 100, "width": 96})
    proc = snakemake(workdir, "-n")
    assert proc.returncode != 0
    assert "export.height = 100: must be a multiple of 32" in proc.stdout + proc.stderr


def test_unwritable_results_folder_fails_with_one_sentence(tmp_path):
    """Named at start-up, before any job (failed before: a job's PermissionError traceback)."""
    from conftest import as_plain_user

    workdir = make_workdir(tmp_path)
    (workdir / "results/checkpoint").mkdir(parents=True)
    (workdir / "results/checkpoint").chmod(0o555)
    cmd = [*as_plain_user(), sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "1", "results/checkpoint/rife-v4.6/flownet.pkl"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=workflow_env(workdir), cwd=REPO)
    (workdir / "results/checkpoint").chmod(0o755)
    assert proc.returncode != 0
    assert "results/checkpoint is not writable by this user: fix its permissions" in proc.stdout + proc.stderr
    assert "PermissionError" not in proc.stdout + proc.stderr


def test_missing_local_weights_file(tmp_path):
    workdir = make_workdir(tmp_path, weights=str(tmp_path / "nope.pkl"))
    proc = snakemake(workdir, "-n")
    assert proc.returncode != 0
    assert "is not an existing file" in proc.stdout + proc.stderr


def test_changed_weights_rebuild_or_refuse_the_checkpoint(tmp_path):
    """The checkpoint job writes its record (what built it); a changed `weights` or `synthetic_seed` must
    rebuild it or fail, also where the checkpoint is only an input of the target (issue 19 item 1: a
    missing weights file there was skipped, exit 0, and the release then named that file)."""
    workdir = make_workdir(tmp_path)
    target = "results/export/rife-v4.6/flownet.pt"  # needs the checkpoint, which is not named itself
    proc = snakemake(workdir, target)
    assert proc.returncode == 0, proc.stderr[-3000:]
    checkpoint = workdir / "results/checkpoint/rife-v4.6/flownet.pkl"
    record = json.loads((workdir / "results/checkpoint/rife-v4.6/flownet.json").read_text())
    assert record == {"model": "rife-v4.6", "kind": "synthetic", "seed": 0, "file": "flownet.pkl",
                      "sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest()}
    proc = snakemake(workdir, target, "-n", "--config", "weights=/some/nonexistent.pkl")
    assert proc.returncode != 0
    assert "weights: '/some/nonexistent.pkl' is not an existing file" in proc.stdout + proc.stderr
    before = checkpoint.read_bytes()
    proc = snakemake(workdir, target, "--config", "synthetic_seed=5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads((workdir / "results/checkpoint/rife-v4.6/flownet.json").read_text())
    assert record["seed"] == 5 and checkpoint.read_bytes() != before
    assert record["sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()


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
    # the workflow calibrates on the reference build: the same table on any x86-64 runner (test_isa)
    assert json.loads((model / "calibration.json").read_text())["activations"] == "reference build"


def test_changed_calibration_frames_rerun_what_depends_on_them(tmp_path):
    """The frames folder's files are inputs: changing or adding a frame re-runs calibration_data."""
    import numpy as np
    from PIL import Image

    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(12):
        Image.fromarray(np.full((64, 96, 3), 20 * i, np.uint8)).save(frames / f"frame{i + 1}.png")
    (tmp_path / "work").mkdir()
    workdir = make_workdir(tmp_path / "work", calibration={**TINY_CONFIG["calibration"], "data": str(frames)})
    assert snakemake(workdir, "results/calibration/pad32").returncode == 0
    assert "Nothing to be done" in (proc := snakemake(workdir, "-n", "results/calibration/pad32")).stdout + proc.stderr
    Image.fromarray(np.full((64, 96, 3), 7, np.uint8)).save(frames / "frame13.png")
    proc = snakemake(workdir, "-n", "results/calibration/pad32")
    assert "calibration_data" in proc.stdout and "Nothing to be done" not in proc.stdout + proc.stderr
    assert snakemake(workdir, "results/calibration/pad32").returncode == 0
    Image.fromarray(np.full((64, 96, 3), 99, np.uint8)).save(frames / "frame2.png")  # an edited frame
    proc = snakemake(workdir, "-n", "results/calibration/pad32")
    assert "calibration_data" in proc.stdout and "frame2.png" in proc.stdout


def test_bad_calibration_data_fails_with_one_sentence(tmp_path):
    workdir = make_workdir(tmp_path, calibration={"data": str(tmp_path / "missing")})
    proc = snakemake(workdir, "results/calibration/pad32")
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert "calibration.data" in out and "is not an existing directory" in out and "Traceback" not in out


@pytest.mark.parametrize("name", BY_MODEL)
def test_benchmark_times_every_variant_in_turns(request, name):
    finished_run = run_with(request, name)
    small = SIZES[name][0]
    bench = json.loads((finished_run / "results" / "bench" / name / "bench.json").read_text())
    rows = {(r["variant"], r["threads"]): r for r in bench["results"]}
    variants = ["pytorch", "onnxruntime", "ncnn-python", "rife-bench-fp32", "rife-bench-fp16", "rife-bench-int8",
                "mnn-fp32", "mnn-fp16", "mnn-wq8", "mnn-int8"]
    assert set(rows) == {(v, t) for v in variants for t in (1, 2)} and bench["not_run"] == []
    for row in rows.values():
        assert row["size"] == small and row["n"] == 2 and 0 < row["min_ms"] <= row["median_ms"] <= row["p90_ms"]
        assert row["peak_rss_mb"] > 0 and row["gflop_per_s"] > 0 and 0 < row["fraction_of_peak"]
    assert rows[("rife-bench-fp32", 1)]["ratio_vs_baseline"] == 1.0 and rows[("rife-bench-int8", 2)]["ratio_vs_baseline"] > 0
    if name == "rife-v4.6":
        assert bench["flops"][small] == pytest.approx(9.6213e9 * (64 * 96) / (256 * 448), rel=0.02)
    assert bench["flops"][small] > 0
    assert set(bench["sgemm"]["peak_gflop_per_s"]) == {"1", "2"}
    assert {"pytorch", "rife-bench-fp32", "rife-bench-int8", "mnn-int8"} <= set(bench["quality"])
    assert bench["exclusive"] == {"job_threads": 2, "cores": 2, "all_cores_held": True}
    phone = json.loads((finished_run / "results" / "bench" / name / "phone.json").read_text())
    assert phone["device"]["model"] == "qemu stand-in" and phone["binary"] == "linux-arm64"
    assert sorted(r["precision"] for r in phone["results"]) == ["fp16", "fp32", "int8"]
    assert all(r["target"] == "linux-arm64" and r["median_ms"] > 0 for r in phone["results"])
    assert "### Phone (adb)" in (finished_run / "results" / "report.md").read_text()


def test_benchmark_window_overlaps_no_other_job(finished_run):
    """Snakemake's own start/end times of every job of the run (.snakemake/metadata) against the bench
    job's and the timed window the stage recorded: nothing else was working meanwhile."""
    jobs = []
    for path in (finished_run / ".snakemake" / "metadata").iterdir():
        record = json.loads(path.read_text())
        jobs.append((record["rule"], record["starttime"], record["endtime"]))
    ends: dict[float, float] = {}  # a job has one metadata record per output file: the same end time
    for rule, start, end in jobs:
        if rule == "bench_run":
            ends[end] = min(start, ends.get(end, start))
    bench_jobs = sorted((start, end) for end, start in ends.items())
    assert len(bench_jobs) == len(models_of(finished_run))
    windows = [json.loads((finished_run / "results" / "bench" / m / "bench.json").read_text())["window"]
               for m in models_of(finished_run)]
    for window in windows:
        assert any(s <= window["start"] < window["end"] <= e for s, e in bench_jobs)
    others = {(rule, s, e) for rule, s, e in jobs if rule != "bench_run"}
    assert len({rule for rule, _, _ in others}) > 20
    for start, end in bench_jobs:
        overlapping = [(rule, s, e) for rule, s, e in others if s < end and e > start]
        assert overlapping == [], f"jobs working during the benchmark {(start, end)}: {overlapping}"
        assert all(other_end <= start or other_start >= end for other_start, other_end in bench_jobs
                   if (other_start, other_end) != (start, end))  # the benchmarks one after another
    last = bench_jobs[-1][1]
    assert all(s >= last for rule, s, _ in others if rule in ("report", "release"))


def test_snakemake_html_report_has_the_figures_and_tables(finished_run):
    proc = snakemake(finished_run, "--report", str(finished_run / "report.html"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    html = (finished_run / "report.html").read_text()
    import base64

    for model in models_of(finished_run):
        for name in ("latency.png", "quality.png", "size.png"):
            data = base64.b64encode((finished_run / "results" / "bench" / model / name).read_bytes()).decode()
            assert data in html, (model, name)
    assert "latency.tsv" in html and "phone.tsv" in html and "Pareto front" in html


def test_figures_are_redrawn_byte_identical(finished_run):
    bench = finished_run / "results" / "bench" / "rife-v4.6"
    before = {p.name: p.read_bytes() for p in bench.glob("*.png")}
    proc = snakemake(finished_run, "--forcerun", "bench_plots", "--", "results/bench/rife-v4.6/latency.png")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {p.name: p.read_bytes() for p in bench.glob("*.png")} == before and len(before) == 3


# ---------------------------------------------------------------------------------------------
# Concurrent runs: of one checkout with disjoint targets, and of two clones sharing native.build_dir


def start_snakemake(workdir: Path, *args: str, snakefile: Path = REPO / "Snakefile") -> subprocess.Popen:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(snakefile), "-d", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", "1", *args]
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=workflow_env(workdir), cwd=snakefile.parent)


def finish(proc: subprocess.Popen, timeout: float = 600) -> str:
    out, _ = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, out[-3000:]
    return out


def test_two_runs_of_one_checkout_with_disjoint_targets(tmp_path):
    """Run B starts (and sweeps stale temps) while run A's checkpoint download is in flight: A's temp file
    survives and both runs succeed (failed before: B deleted A's `.rife-v4.6.pkl.*.tmp`, A died with a
    traceback)."""
    import threading

    from localhttp import QuietHandler, serving

    from rifebuild.checkpoint.load import save_state_dict, synthetic_state_dict

    save_state_dict(synthetic_state_dict(0, "rife-v4.6"), tmp_path / "flownet.pkl")
    body, release = (tmp_path / "flownet.pkl").read_bytes(), threading.Event()

    class Slow(QuietHandler):
        def do_GET(self):  # half the checkpoint, then the rest once run B is done
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[:len(body) // 2])
            self.wfile.flush()
            release.wait(300)
            self.wfile.write(body[len(body) // 2:])

    with serving(Slow) as base:
        workdir = make_workdir(tmp_path / "work", weights="official", weights_url=f"{base}/flownet.pkl")
        run_a = start_snakemake(workdir, "resources/weights/rife-v4.6.pkl")
        try:
            deadline = time.time() + 120
            while not list((workdir / "resources/weights").glob(".rife-v4.6.pkl.*.tmp")) and time.time() < deadline:
                time.sleep(0.2)
            in_flight = list((workdir / "resources/weights").glob(".rife-v4.6.pkl.*.tmp"))
            assert in_flight, "run A never started its download"
            time.sleep(3)  # older than run B's start (less the sweep's slack)
            finish(start_snakemake(workdir, "results/calibration/pad32"))
            assert in_flight[0].exists()
        finally:
            release.set()
        out = finish(run_a)
    assert "Traceback" not in out
    assert (workdir / "resources/weights/rife-v4.6.pkl").read_bytes() == body
    assert (workdir / "results/calibration/pad32/manifest.json").exists()


def copy_checkout(dest: Path) -> Path:
    """A second clone of this checkout (its files as they are now, uncommitted changes included)."""
    import shutil

    names = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    return dest


def test_two_clones_sharing_native_build_dir_one_cold(tmp_path, ncnn_root):
    """This checkout (its trees warm in the shared native.build_dir) and a fresh clone (cold: its rife-bench
    tree is its own, its code files newer, so its native_source job runs) build the host rife-bench at the
    same time. Both succeed and the shared ncnn source tree is never replaced under the other's build
    (failed before: the clone's native_source deleted and re-unpacked it: `fatal error: modelbin.h`)."""
    from conftest import BUILD_DIR

    native = {"targets": ["host"], "build_dir": str(BUILD_DIR)}
    warm = make_workdir(tmp_path / "warm", native=native)
    clone = copy_checkout(tmp_path / "clone")
    cold = make_workdir(tmp_path / "cold", native=native)
    header = ncnn_root / "src/modelbin.h"  # the shared source, unpacked once (conftest)
    inode = header.stat().st_ino
    target = "results/native/host/rife-bench"
    runs = [start_snakemake(warm, target), start_snakemake(cold, target, snakefile=clone / "Snakefile")]
    for run in runs:
        finish(run)
    assert header.stat().st_ino == inode  # the same files, never deleted and unpacked again
    for workdir in (warm, cold):
        version = subprocess.run([str(workdir / target), "version"], capture_output=True, text=True)
        assert version.returncode == 0 and version.stdout.startswith("rife-bench host ncnn ")
