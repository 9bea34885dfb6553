"""The benchmark stage: the matrix and what cannot run, turns and statistics, real worker processes,
FLOPs and peak, the phone path through a stand-in adb running the real arm64 binary under qemu,
deterministic figures, the tables, and the rule holding every core after every artifact."""
from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, bench_record

from rifebuild.bench import adb, matrix, plots, runner, tables
from rifebuild.bench.flops import gflop_per_s, model_flops
from rifebuild.bench.peak import peak_gflops
from rifebuild.core.errors import BenchError

STANDIN = REPO / "tests" / "standin"


def roles_for(tmp_path: Path, stock=("64x96",), mnn=("fp32", "int8")) -> dict[str, Path]:
    """Files standing for every role the matrix looks at."""
    names = {"checkpoint": "flownet.pkl", "onnx.model": "flownet.onnx", "native-host.binary": "rife-bench",
             **{f"ncnn-{p}.model": f"ncnn-{p}/flownet.bin" for p in ("fp32", "fp16", "int8")},
             **{f"ncnn-stock-{r}.model": f"stock-{r}/flownet.bin" for r in stock},
             **{f"mnn-{v}.model": f"flownet-{v}.mnn" for v in mnn}}
    roles = {}
    for role, name in names.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x")
        roles[role] = path
    return roles


# --- matrix ---------------------------------------------------------------------------------------

def test_threads_all_is_the_jobs_cores_capped_by_the_cpus():
    assert matrix.resolve_threads(["1", "all"], job_threads=2, cpus=16) == [1, 2]
    assert matrix.resolve_threads(["1", "all"], job_threads=8, cpus=4) == [1, 4]
    assert matrix.resolve_threads(["all", "1"], job_threads=1, cpus=4) == [1]  # deduplicated
    assert matrix.resolve_threads(["6"], job_threads=2, cpus=8) == [2]  # the rule's threads: is honoured
    with pytest.raises(BenchError, match="bench.threads"):
        matrix.resolve_threads(["many"], 2, 2)


def test_plan_states_what_cannot_run_and_why(tmp_path):
    roles = roles_for(tmp_path)
    variants = [v.key for v in matrix.VARIANTS]
    cells, not_run = matrix.plan(roles, [(64, 96), (96, 128)], [1, 2], variants, warmup=1, model="rife-v4.17")
    assert [(c.size, c.threads) for c in cells] == [("64x96", 1), ("64x96", 2), ("96x128", 1), ("96x128", 2)]
    small = [r.key for r in cells[0].runs]
    assert small == ["pytorch", "onnxruntime", "ncnn-python", "rife-bench-fp32", "rife-bench-fp16",
                     "rife-bench-int8", "mnn-fp32", "mnn-int8", "sgemm"]
    assert "ncnn-python" not in [r.key for r in cells[2].runs]  # no stock model at 96x128
    reasons = {(n["variant"], n["size"]): n["reason"] for n in not_run}
    gpu = {(f"rife-bench-vulkan-{p}", s) for p in ("fp32", "fp16", "int8") for s in ("64x96", "96x128")}
    assert set(reasons) == {("ncnn-python", "96x128"), ("mnn-fp16", "64x96"), ("mnn-fp16", "96x128"),
                            ("mnn-wq8", "64x96"), ("mnn-wq8", "96x128")} | gpu
    assert reasons[("rife-bench-vulkan-fp16", "64x96")].startswith("no Vulkan device timed")
    assert "fixed to one resolution (built for 64x96)" in reasons[("ncnn-python", "96x128")]
    assert "stock_resolutions" in reasons[("ncnn-python", "96x128")]
    rb = next(r for r in cells[1].runs if r.key == "rife-bench-int8").argv
    assert rb[:2] == [str(roles["native-host.binary"]), "serve"]
    assert rb[rb.index("--threads") + 1] == "2" and rb[rb.index("--precision") + 1] == "int8"
    assert rb[rb.index("--model") + 1] == str(roles["ncnn-int8.model"].parent)
    torch_argv = cells[1].runs[0].argv
    assert torch_argv[torch_argv.index("--threads") + 1] == "2" and "--runtime=torch" in torch_argv
    assert "--model=rife-v4.17" in torch_argv  # the checkpoint's version, never an implicit default


def test_gpu_variants_run_per_device_and_mode_in_the_first_thread_count(tmp_path):
    roles = roles_for(tmp_path)
    variants = ["rife-bench-fp32", "rife-bench-vulkan-fp16", "rife-bench-vulkan-int8"]
    gpu = matrix.Gpu(devices=(0, 1), jobs=2, clips=tmp_path / "clips", frames=4)
    cells, not_run = matrix.plan(roles, [(64, 96)], [2, 1], variants, 1, model="rife-v4.6", gpu=gpu)
    assert [r["reason"] for r in not_run] == ["not built (no host-vulkan rife-bench or no model in this configuration)"] * 2
    roles[matrix.VULKAN_BINARY] = roles["native-host.binary"].with_name("rife-bench-vulkan")
    cells, not_run = matrix.plan(roles, [(64, 96)], [2, 1], variants, 1, model="rife-v4.6", gpu=gpu)
    assert not not_run and [c.threads for c in cells] == [2, 1]
    assert [r.key for r in cells[1].runs] == ["rife-bench-fp32", "sgemm"]  # the GPU rows run once per size
    gpu_runs = [r for r in cells[0].runs if r.gpu is not None]
    assert [(r.of, r.gpu, r.mode) for r in gpu_runs] == [(f"rife-bench-vulkan-{p}", d, m) for p in ("fp16", "int8")
                                                          for d in (0, 1) for m in matrix.MODES]
    one, clip = gpu_runs[2], gpu_runs[3]  # fp16 on device 1
    assert one.argv[0] == str(roles[matrix.VULKAN_BINARY]) and one.argv[one.argv.index("--gpu") + 1] == "1"
    assert one.argv[one.argv.index("--model") + 1] == str(roles["ncnn-fp16.model"].parent) and "--in-dir" not in one.argv
    assert clip.argv[clip.argv.index("--in-dir") + 1] == str(tmp_path / "clips" / "64x96")
    assert clip.argv[clip.argv.index("--jobs") + 1] == "2" and clip.argv[clip.argv.index("--precision") + 1] == "fp16"
    assert len({r.key for r in gpu_runs}) == len(gpu_runs)


def test_bench_devices_auto_only_where_host_vulkan_is_built(monkeypatch):
    from rifebuild.native import vulkan

    monkeypatch.setattr(vulkan, "count_devices", lambda: 2)
    assert vulkan.bench_devices("auto", True) == [0, 1]
    assert vulkan.bench_devices("auto", False) == []  # never a half-hour libncnn build for the benchmark alone
    assert vulkan.bench_devices([1], False) == [1] and vulkan.bench_devices([], True) == []


def test_plan_needs_the_baseline(tmp_path):
    with pytest.raises(BenchError, match="must include rife-bench-fp32"):
        matrix.plan(roles_for(tmp_path), [(64, 96)], [1], ["pytorch"], 1, model="rife-v4.6")
    roles = roles_for(tmp_path)
    del roles["native-host.binary"]
    with pytest.raises(BenchError, match="native.targets must include host"):
        matrix.plan(roles, [(64, 96)], [1], ["rife-bench-fp32"], 1, model="rife-v4.6")


# --- turns and statistics -------------------------------------------------------------------------

class FakeWorker:
    def __init__(self, run, label, calls, ms):
        self.key, self.label, self.info, self.calls, self.ms = run.key, label, {"ready": True}, calls, ms

    def run(self):
        self.calls.append(self.key)
        return {"ms": self.ms[self.key], "cpu_ms": self.ms[self.key]}

    def close(self):
        return 1024

    def kill(self):
        self.calls.append(f"kill {self.key}")


def test_variants_take_turns_with_a_rotating_start():
    calls: list[str] = []
    ms = {"a": 10.0, "b": 20.0, "c": 30.0}
    cell = matrix.Cell(64, 96, 1, [matrix.Run(k, []) for k in ms])
    timed = runner.time_cell(cell, 3, {}, gap_s=0, start=lambda run, label: FakeWorker(run, label, calls, ms),
                             log=lambda *_: None)
    assert calls == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert timed["b"]["latency_ms"] == [20.0] * 3 and timed["b"]["peak_rss_kb"] == 1024


def test_a_failing_worker_stops_every_other_one():
    calls: list[str] = []

    def start(run, label):
        if run.key == "b":
            raise BenchError("b would not load")
        return FakeWorker(run, label, calls, {"a": 1.0})

    cell = matrix.Cell(64, 96, 1, [matrix.Run("a", []), matrix.Run("b", [])])
    with pytest.raises(BenchError, match="would not load"):
        runner.time_cell(cell, 2, {}, gap_s=0, start=start, log=lambda *_: None)
    assert calls == ["kill a"]


def test_summary_median_p90_min_and_no_nan():
    s = runner.summary([5.0, 1.0, 3.0, 2.0, 4.0])
    assert s == {"median_ms": 3.0, "p90_ms": 4.6, "min_ms": 1.0, "n": 5}
    for bad in ([], [1.0, math.nan], [1.0, math.inf], [0.0]):
        with pytest.raises(BenchError, match="not all finite positive"):
            runner.summary(bad)


# --- real workers ---------------------------------------------------------------------------------

def test_sgemm_worker_speaks_the_protocol():
    worker = runner.Worker(matrix.Run("sgemm", matrix.python_worker("sgemm", "-", 128, 128, 1, 1)), "sgemm")
    assert worker.info["ready"] and worker.info["threads"] == 1
    samples = [worker.run() for _ in range(3)]
    assert all(s["ms"] > 0 and s["cpu_ms"] >= 0 for s in samples)
    assert worker.close() > 10_000  # kB: a Python process with numpy loaded
    assert peak_gflops([s["ms"] for s in samples], 128) > 0


def test_torch_and_ncnn_workers_time_the_real_models(synthetic_ckpt, pnnx_model):
    for run in (matrix.python_worker("torch", synthetic_ckpt, 64, 96, 1, 1, model="rife-v4.6"),
                matrix.python_worker("ncnn", pnnx_model[0].parent, 64, 96, 1, 0)):
        worker = runner.Worker(matrix.Run("x", run), "x")
        assert worker.run()["ms"] > 0
        assert worker.close() > 0


def test_worker_failure_is_one_sentence(tmp_path):
    with pytest.raises(BenchError, match=r"mnn-fp32 stopped \(exit status \d+\):.*MNN model not found"):
        runner.Worker(matrix.Run("m", matrix.python_worker("mnn", tmp_path / "none.mnn", 64, 96, 1, 0)), "mnn-fp32")
    with pytest.raises(BenchError, match="cannot start rife-bench fp32"):
        runner.Worker(matrix.Run("r", [str(tmp_path / "rife-bench"), "serve"]), "rife-bench fp32")


def test_rife_bench_serve(binaries, blend_model):
    from rifebuild.native.run import serve_args

    argv = [str(binaries["host"]), *map(str, serve_args(blend_model, 96, 64, 1, 1, "fp32"))]
    worker = runner.Worker(matrix.Run("rife-bench-fp32", argv), "rife-bench fp32")
    assert worker.info["target"] == "host" and (worker.info["width"], worker.info["height"]) == (96, 64)
    assert worker.run()["ms"] > 0 and worker.run()["ms"] > 0
    assert worker.close() > 0
    proc = subprocess.run(argv, input="jump\n", capture_output=True, text=True)
    assert proc.returncode == 2 and "reads 'run' or 'quit'" in proc.stderr


def test_rife_bench_serve_interpolates_the_clip_per_run(binaries, blend_model, tmp_path):
    """serve --in-dir: each `run` interpolates the whole clip (pairs over --jobs workers, frames written) and
    answers ms per interpolated frame: the GPU rows' throughput, here on the CPU build."""
    from rifebuild.bench.suite import write_clips
    from rifebuild.native.run import serve_args

    write_clips(tmp_path, [(64, 96)], 4)
    argv = [str(binaries["host"]), *map(str, serve_args(blend_model, 96, 64, 1, 0, "fp32")),
            "--in-dir", str(tmp_path / "64x96"), "--out-dir", str(tmp_path / "out"), "--jobs", "2"]
    worker = runner.Worker(matrix.Run("clip", argv), "clip")
    assert (worker.info["mode"], worker.info["pairs"], worker.info["jobs"]) == ("interpolate", 3, 2)
    assert not worker.info["software"] and worker.run()["ms"] > 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i:08d}.ppm" for i in range(7)]
    assert worker.close() > 0


def test_gpu_rows_take_their_turns_on_lavapipe(binaries, gpu_binary, blend_model, tmp_path):
    """The host-vulkan rife-bench on this machine's Vulkan device (lavapipe here and in CI) in the same
    rounds as the CPU baseline: one frame and a clip's throughput per precision, marked software."""
    from rifebuild.bench.suite import run_host

    roles = {"native-host.binary": binaries["host"], matrix.VULKAN_BINARY: gpu_binary,
             **{f"ncnn-{p}.model": blend_model / "flownet.bin" for p in ("fp32", "fp16")}}
    record = run_host(roles, [(64, 96)], [1], ["rife-bench-fp32", "rife-bench-vulkan-fp32", "rife-bench-vulkan-fp16"],
                      warmup=1, rounds=2, job_threads=1, cores=1, model="rife-v4.6", gpus=[0], gpu_frames=3, gpu_jobs=2,
                      log=lambda *_: None)
    gpu = [r for r in record["results"] if "gpu" in r]
    assert [(r["variant"], r["mode"]) for r in gpu] == [(f"rife-bench-vulkan-{p}", m) for p in ("fp32", "fp16")
                                                         for m in matrix.MODES]
    for row in gpu:
        assert row["n"] == 2 and row["median_ms"] > 0 and row["fraction_of_peak"] is None and row["gpu"] == 0
        assert row["software"] and "llvmpipe" in row["device"] and "(software: CPU cores, no GPU figure)" in row["label"]
    assert gpu[1]["pairs"] == 2 and gpu[1]["jobs"] == 2 and gpu[1]["label"].endswith("interpolate, 2 jobs")
    assert record["gpu"] == {"devices": [0], "jobs": 2, "frames": 3}
    text = "\n".join(tables.markdown(record, {"device": None, "note": adb.NO_DEVICE, "results": []}, {}))
    assert "is a software Vulkan device** (it computes on this machine's CPU cores)" in text
    assert "ms per interpolated frame of a 3-frame synthetic clip" in text
    row = next(line for line in tables.latency_tsv(record).splitlines() if "fp16 on Vulkan device 0" in line)
    assert row.endswith(f"\t{tables.DASH}")  # no % of the CPU's peak
    plots.latency_figure(record, tmp_path / "latency.png")  # a bar per device and mode
    assert (tmp_path / "latency.png").stat().st_size > 0


# --- FLOPs and peak -------------------------------------------------------------------------------

def test_flops_match_torchs_counter_for_rife_v46():
    assert round(model_flops("rife-v4.6", 256, 448) / 1e9, 1) == 9.6
    assert round(model_flops("rife-v4.6", 736, 1280) / 1e9, 1) == 79.0
    assert model_flops("rife-v4.6", 64, 96) == pytest.approx(model_flops("rife-v4.6", 256, 448) * (64 * 96) / (256 * 448), rel=0.02)


def test_flops_are_the_benchmarked_versions():
    """Every model's GFLOP/s used to be computed from v4.6's count (model_flops built the default IFNet)."""
    assert model_flops("rife-v4.25-heavy", 256, 448) > 1.5 * model_flops("rife-v4.6", 256, 448)


def test_torch_worker_needs_the_version(synthetic_ckpt):
    with pytest.raises(BenchError, match="pass --model"):
        runner.Worker(matrix.Run("t", matrix.python_worker("torch", synthetic_ckpt, 64, 96, 1, 0)), "pytorch")


def test_gflops_and_peak():
    assert gflop_per_s(79_000_000_000, 500.0) == 158.0
    assert peak_gflops([100.0, 50.0, 80.0], 1000) == 40.0  # the best turn: 2e9 flops in 50 ms
    with pytest.raises(BenchError, match="not finite"):
        gflop_per_s(10, math.nan)


# --- phone ----------------------------------------------------------------------------------------

def test_no_device_configured(monkeypatch):
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    assert adb.device_serial("") is None
    record = adb.bench_phone(None, None, None, {}, [(64, 96)], [1], 1, 1, 1)
    assert record["results"] == [] and record["note"].startswith("no device configured")
    monkeypatch.setenv("ANDROID_SERIAL", "R5CT1234")
    assert adb.device_serial("") == "R5CT1234" and adb.device_serial("emulator-5554") == "emulator-5554"


def test_device_configured_without_adb(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(BenchError, match="`adb` is not on PATH"):
        adb.bench_phone("R5CT1234", tmp_path / "rife-bench", "linux-arm64", {}, [(64, 96)], [1], 1, 1, 1)


def test_phone_through_the_standin_adb_runs_the_arm64_binary(binaries, blend_model, monkeypatch, tmp_path):
    """The whole phone path: push, run (the real linux-arm64 rife-bench under qemu), pull, pool."""
    if shutil.which("qemu-aarch64-static") is None:
        pytest.fail("qemu-aarch64-static is missing: run scripts/setup.sh (installs qemu-user-static).")
    monkeypatch.setenv("PATH", f"{STANDIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_ROOT", str(tmp_path / "device"))
    models = {p: blend_model for p in adb.PRECISIONS}
    record = adb.bench_phone("emulator-5554", binaries["linux-arm64"], "linux-arm64", models, [(64, 96)], [1, 2],
                             warmup=0, loops=2, rounds=2, log=lambda *_: None)
    assert record["device"] == {"serial": "emulator-5554", "model": "qemu stand-in", "abi": "arm64-v8a"}
    rows = {(r["precision"], r["threads"]): r for r in record["results"]}
    assert set(rows) == {(p, t) for p in adb.PRECISIONS for t in (1, 2)}
    assert all(r["n"] == 4 and r["target"] == "linux-arm64" and r["median_ms"] > 0 for r in rows.values())
    assert rows[("fp32", 1)]["ratio_vs_fp32"] == 1.0 and rows[("int8", 2)]["ratio_vs_fp32"] > 0
    shell = (tmp_path / "adb-shell.log").read_text()
    assert "/data/local/tmp/rife-build/rife-bench bench --model /data/local/tmp/rife-build/int8" in shell
    assert not (tmp_path / "device" / "data" / "local" / "tmp" / "rife-build").exists()  # cleaned up


def test_phone_vulkan_build_times_the_gpu_too(gpu_binary, blend_model, monkeypatch, tmp_path):
    """An android-arm64-vulkan phone binary: CPU turns, then one frame and a clip on Vulkan device 0, per
    precision. The stand-in adb runs the host-vulkan binary here (not an arm64 one: no NDK builds one on
    this machine), on lavapipe, so the commands, the clip push and the pooling are the real ones."""
    monkeypatch.setenv("PATH", f"{STANDIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_ROOT", str(tmp_path / "device"))
    models = {p: blend_model for p in ("fp32", "fp16")}
    record = adb.bench_phone("emulator-5554", gpu_binary, "android-arm64-vulkan", models, [(64, 96)], [1],
                             warmup=0, loops=1, rounds=2, log=lambda *_: None, gpu_frames=3, gpu_jobs=2)
    rows = {(r["precision"], r["on"], r["mode"]): r for r in record["results"]}
    assert set(rows) == {(p, on, m) for p in models for on, m in (("cpu", "single"), ("gpu0", "single"),
                                                                 ("gpu0", "interpolate"))}
    assert record["gpu"] == {"device": 0, "frames": 3, "jobs": 2}
    assert all(r["n"] == 2 and r["median_ms"] > 0 for r in rows.values())
    assert rows[("fp16", "gpu0", "interpolate")]["software"] and not rows[("fp16", "cpu", "single")]["software"]
    assert rows[("fp32", "gpu0", "interpolate")]["ratio_vs_fp32"] == 1.0  # against fp32 of the same device and mode
    shell = (tmp_path / "adb-shell.log").read_text()
    assert "rife-bench bench --model /data/local/tmp/rife-build/fp16" in shell and "--gpu 0" in shell
    assert "interpolate --model /data/local/tmp/rife-build/fp32 --in-dir /data/local/tmp/rife-build/clips/64x96" in shell
    cells = tables.phone_cells(record)
    assert any(c[1] == "llvmpipe (software)" and c[2] == "interpolate (ms/frame)" for c in cells)
    assert [c[1:3] for c in cells if c[0] == "fp32"][0] == ["cpu", "one frame"]
    assert "On its GPU (Vulkan device 0) too" in "\n".join(tables.markdown(bench_record(), record, {}))


def test_a_failing_device_command_is_one_sentence(binaries, blend_model, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", f"{STANDIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_ADB_ROOT", str(tmp_path / "device"))
    monkeypatch.setenv("FAKE_ADB_QEMU", "false")  # the "device" cannot run the program
    with pytest.raises(BenchError, match=r"on device emulator-5554, `/data/local/tmp/rife-build/rife-bench bench.*"
                                         r"failed \(exit status 1\)"):
        adb.bench_phone("emulator-5554", binaries["linux-arm64"], "linux-arm64", {"fp32": blend_model}, [(64, 96)],
                        [1], 0, 1, 1, log=lambda *_: None)


# --- figures and tables ---------------------------------------------------------------------------

def test_pareto_front():
    points = [(100, 30.0, "a"), (80, 29.0, "b"), (120, 31.0, "c"), (90, 28.0, "d"), (80, 28.5, "e")]
    assert [p[2] for p in plots.pareto_front(points)] == ["b", "a", "c"]


def test_figures_are_byte_identical_for_the_same_record(tmp_path):
    first = {}
    for draw in (plots.latency_figure, plots.quality_figure, plots.size_figure):
        for run in ("a", "b"):
            draw(bench_record(), tmp_path / f"{run}.png")
        a, b = (tmp_path / "a.png").read_bytes(), (tmp_path / "b.png").read_bytes()
        assert a == b and a[:8] == b"\x89PNG\r\n\x1a\n" and b"Software" not in a, draw.__name__
        first[draw.__name__] = a
    plots.latency_figure(bench_record(scale=2.0), tmp_path / "other.png")
    assert (tmp_path / "other.png").read_bytes() != first["latency_figure"]  # the numbers are drawn


def test_markdown_section(tmp_path):
    phone = {"device": None, "note": adb.NO_DEVICE, "results": []}
    text = "\n".join(tables.markdown(bench_record(), phone, {"latency": "bench/latency.png"}))
    assert "![latency per variant and thread count](bench/latency.png)" in text
    assert "| 736x1280 | 1 | rife-bench int8 (ncnn, rife.Warp) | 880.0 | 968.0 | 836.0 | 5 | 300 | 1.222 | 50.0 | 25.0 |" in text
    assert "79.0 GFLOP at 736x1280, 9.6 GFLOP at 256x448" in text and "190.0 GFLOP/s with 2 threads" in text
    assert "rife-bench int8 vs fp32, same rounds: 1.222x at 1 thread (736x1280)" in text
    assert "- MNN int8 (offline quantizer) at 256x448: not built in this configuration." in text
    assert "no other job of the run was working" in text and "no device configured" in text
    warned = "\n".join(tables.markdown(bench_record(all_cores_held=False), phone, {}))
    assert "WARNING: the job held 1 of 2 cores" in warned
    assert tables.latency_tsv(bench_record()).splitlines()[0].split("\t")[:4] == ["size", "threads", "variant", "median ms"]
    assert tables.phone_tsv(phone).splitlines() == ["phone", adb.NO_DEVICE]


def test_plots_action_writes_every_output(tmp_path):
    (tmp_path / "bench.json").write_text(json.dumps(bench_record()))
    (tmp_path / "phone.json").write_text(json.dumps({"device": None, "note": adb.NO_DEVICE, "results": []}))
    outs = {flag: tmp_path / name for flag, name in (("--latency-png", "l.png"), ("--quality-png", "q.png"),
                                                     ("--size-png", "s.png"), ("--latency-tsv", "l.tsv"),
                                                     ("--phone-tsv", "p.tsv"))}
    proc = subprocess.run([sys.executable, "-m", "rifebuild", "bench", "plots", f"--bench={tmp_path / 'bench.json'}",
                           f"--phone={tmp_path / 'phone.json'}", *[f"{k}={v}" for k, v in outs.items()]],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    assert all(p.stat().st_size > 0 for p in outs.values())


# --- the rule -------------------------------------------------------------------------------------

def snakemake(workdir: Path, *args: str) -> str:
    """The real workflow without running anything (dry-run / DAG) in an empty working directory."""
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--forceall", "-s", str(REPO / "Snakefile"),
                           "-d", str(workdir), *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def test_bench_holds_every_core_of_the_run(tmp_path):
    for cores in ("3", "7"):
        text = snakemake(tmp_path, "-n", "--cores", cores, "results/bench/rife-v4.6/bench.json")
        block = text[text.index("rule bench_run:"):]
        block = block[:block.index("\n\n")]
        assert f"threads: {cores}" in block


def test_bench_of_a_model_waits_for_that_model_only(tmp_path):
    """A model's benchmark needs every artifact and record of its own model (and the native builds),
    none of another model's: adding a model re-runs no job of the others (threads: all cores is what
    keeps the timed window alone; tests/test_e2e.py checks the window)."""
    text = snakemake(tmp_path, "-n", "--cores", "2", "results/bench/rife-v4.6/bench.json",
                     "--config", "models=[rife-v4.6, rife-v4.25]", "native={targets: [host, linux-arm64]}")
    planned = re.findall(r"^(?:local)?rule (\w+):", text, flags=re.M)
    assert {"native_build", "verify_int8", "verify_mnn", "native_cross_check", "verify_onnx"} <= set(planned)
    assert planned.count("bench_run") == 1 and "report" not in planned
    jobs = text[text.index("rule "):]  # the planned jobs, after the header that echoes the config
    assert "rife-v4.6" in jobs and "rife-v4.25" not in jobs


def test_a_wrong_adb_serial_fails_before_the_timing_rounds(tmp_path):
    """(failed before: the host's timing rounds ran first, then `adb get-state` failed)"""
    binary = tmp_path / "rife-bench"
    binary.write_bytes(b"\x7fELF")
    env = {**os.environ, "PATH": f"{STANDIN}{os.pathsep}{os.environ['PATH']}", "FAKE_ADB_ROOT": str(tmp_path / "dev")}
    proc = subprocess.run([sys.executable, "-m", "rifebuild", "bench", "run", f"--input=native-linux-arm64.binary={binary}",
                           "--model=rife-v4.6", "--sizes", "64x96", "--variants", "rife-bench-fp32", "--cores=1", "--adb-serial=R5CT-typo",
                           f"--out={tmp_path / 'bench.json'}", f"--phone-out={tmp_path / 'phone.json'}"],
                          capture_output=True, text=True, env=env)
    assert proc.returncode == 2 and proc.stdout == ""  # nothing timed
    assert proc.stderr.strip() == ("rifebuild bench run: error: bench.adb_serial (or ANDROID_SERIAL) names device "
                                   "'R5CT-typo', which adb cannot reach (device 'R5CT-typo' not found); check `adb "
                                   "devices` or fix the serial")
    assert not (tmp_path / "bench.json").exists()
