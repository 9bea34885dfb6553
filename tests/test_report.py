"""The report: ROLE=PATH inputs, rows from records in the stages' schemas, partial inputs, markdown."""
import json

import pytest
from conftest import bench_record

from rifebuild.bench.adb import NO_DEVICE
from rifebuild.cli import main
from rifebuild.evaluate.record import validate
from rifebuild.report import page as report
from rifebuild.report.wording import INT8_CLIENT_NOTE, INT8_CLIENT_SHORT


def _check(res, err, psnr, against="pytorch", bound="default"):
    return {"against": against, "resolution": res, "inputs": f"results/reference/{res[0]}x{res[1]}.npz",
            "inputs_sha256": "0" * 64, "frames": 1, "max_abs_err": err, "mean_abs_err": err / 10, "psnr_db": psnr,
            "ssim": 0.999, "bound": {"max_abs_err": 1e-3} if bound == "default" else bound, "passed": True}


def _record(precision, checks, ground_truth=(), runtime="ncnn (Python package)"):
    record = {"schema_version": 1, "artifact": "x", "runtime": runtime, "precision": precision,
              "artifact_sha256": {}, "tool_versions": {"ncnn": "1.0"}, "checks": list(checks),
              "ground_truth": list(ground_truth), "details": {}, "passed": True}
    validate(record)  # the fixtures are real records: they pass the one schema
    return record


def _write(tmp_path, name, obj=None, size=None):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if size is not None:
        path.write_bytes(b"\0" * size)
    else:
        path.write_text(json.dumps(obj) if not isinstance(obj, str) else obj)
    return f"{path}"


def _gt(subject, psnr):
    return {"subject": subject, "split": "evaluation/64x96", "resolution": [64, 96], "frames": 1, "psnr_db": psnr,
            "worst_psnr_db": psnr - 1, "ssim": 0.96}


def _checkpoint_record(tmp_path, checkpoint, kind):
    """The record the checkpoint job writes (rifebuild.checkpoint.record), for trained or synthetic weights."""
    from rifebuild.checkpoint import record

    source = {"official": record.official("https://example.org/flownet_v4.6.pkl", None),
              "synthetic": {"kind": "synthetic", "seed": 7}}[kind]
    out = tmp_path / f"checkpoint-{kind}.json"
    record.write(out, checkpoint, "rife-v4.6", source)
    return str(out)


@pytest.fixture()
def roles(tmp_path):
    fp32 = _record("fp32", [_check([64, 96], 3e-6, 128.0), _check([96, 128], 1e-5, 120.0)])
    int8 = _record("int8", [_check([64, 96], 2e-2, 50.1, "ncnn-fp32", {"min_psnr_db": 30.0}),
                            _check([64, 96], 2e-2, 50.0, "pytorch", None)],
                   [_gt("artifact", 33.6), _gt("ncnn-fp32", 33.7), _gt("pytorch", 33.71)])
    native8 = _record("int8", [_check([64, 96], 8e-3, 66.0, bound={"min_psnr_db": 30.0})],
                      runtime="rife-bench (host, C++ rife.Warp)")
    cross = _record("fp32", [_check([64, 64], 1.7e-4, 92.8, "host")], runtime="rife-bench (linux-arm64)")
    checkpoint = _write(tmp_path, "flownet.pkl", size=1000)
    return {
        "checkpoint": checkpoint,
        "checkpoint.record": _checkpoint_record(tmp_path, checkpoint, kind="official"),
        "ncnn-fp32.verify": _write(tmp_path, "fp32.json", fp32),
        "ncnn-fp32.model": _write(tmp_path, "fp32.bin", size=400),
        "ncnn-int8.verify": _write(tmp_path, "int8.json", int8),
        "ncnn-int8.model": _write(tmp_path, "int8.bin", size=111),
        "ncnn-int8.quantize": _write(tmp_path, "quantize.json", {"int8": ["a", "b"], "float": ["c"],
                                                                  "requantize_fused": ["a"], "bin_size_ratio": 0.2775}),
        "ncnn-int8.sensitivity": _write(tmp_path, "sens.tsv", "rank\tlayer\tpsnr_db_vs_fp32\tkept_float\n"
                                        "1\tc\t52.9\t1\n2\ta\t60.0\t0\n"),
        "native-host.verify-int8": _write(tmp_path, "native8.json", native8),
        "bench": _write(tmp_path, "bench.json", bench_record()),
        "bench.phone": _write(tmp_path, "phone.json", {"device": None, "note": NO_DEVICE, "results": []}),
        "bench.latency-figure": _write(tmp_path, "figs/latency.png", size=10),
        "native-linux-arm64.cross_check": _write(tmp_path, "cross.json", cross),
    }


def test_roles_must_exist_and_be_role_path_pairs(tmp_path):
    with pytest.raises(report.ReportError, match="ROLE=PATH"):
        report.parse_roles(["no-equals-sign"])
    with pytest.raises(report.ReportError, match="ncnn-fp32.verify"):
        report.parse_roles([f"ncnn-fp32.verify={tmp_path / 'missing.json'}"])


def test_rows_from_records(roles):
    rep = report.build_report(report.parse_roles([f"{k}={v}" for k, v in roles.items()]), "rife-v4.6")
    arts = {a["key"]: a for a in rep["artifacts"]}
    assert list(arts) == ["pytorch", "ncnn-fp32", "ncnn-int8"]
    assert arts["pytorch"]["bytes"] == 1000 and arts["pytorch"]["vs_ground_truth"]["64x96"]["psnr_db"] == 33.71
    assert arts["ncnn-fp32"]["vs_pytorch"]["96x128"] == {"psnr_db": 120.0, "max_abs_err": 1e-5, "ssim": 0.999}
    assert arts["ncnn-fp32"]["vs_ground_truth"]["64x96"]["psnr_db"] == 33.7  # from the int8 verification
    assert arts["ncnn-int8"]["size_vs_ncnn_fp32"] == round(111 / 400, 4)
    assert arts["ncnn-int8"]["vs_pytorch"] == {"64x96": {"psnr_db": 66.0, "max_abs_err": 8e-3, "ssim": 0.999}}  # rife-bench
    assert arts["ncnn-int8"]["vs_fp32_ncnn"]["64x96"]["psnr_db"] == 50.1
    assert rep["benchmark"]["record"]["results"][0]["variant"] == "pytorch"
    assert rep["native_checks"][0]["check"] == "vs PyTorch" and rep["native_checks"][1]["target"] == "linux-arm64"
    assert rep["int8"]["most_sensitive"][0] == {"layer": "c", "psnr_db_vs_fp32": 52.9}
    assert arts["ncnn-fp32"]["rife_ncnn_vulkan"].startswith("drop-in")
    assert arts["ncnn-int8"]["rife_ncnn_vulkan"] == INT8_CLIENT_SHORT and arts["pytorch"]["rife_ncnn_vulkan"] is None
    text = report.render_markdown(rep)
    assert ("| ncnn int8 (rife.Warp) ¹ | 0.00 | 27.8% | 66.0 dB (8.0e-03) | – | 33.60 dB (32.60) / 0.9600 | "
            f"{INT8_CLIENT_SHORT} | yes |") in text
    assert "| ncnn fp32 (rife.Warp) | 0.00 | 100.0% | 128.0 dB (3.0e-06) | 120.0 dB (1.0e-05) | 33.70 dB (32.70)" in text
    assert "2 Convolutions int8, float: c; 1 requantize fusions; weights 27.8% of fp32." in text
    assert "## Benchmark (this machine)" in text and "rife-bench int8 vs fp32, same rounds: 1.222x" in text
    assert "### Phone (adb)" in text and "no device configured" in text
    from rifebuild.report import clients

    assert "## Clients" in text and "\n".join(clients.table()) in text  # the per-client table (issue 22)


def test_figures_are_linked_relative_to_the_markdown(roles, tmp_path):
    parsed = report.parse_roles([f"{k}={v}" for k, v in roles.items()])
    rep = report.build_report(parsed, "m", md_dir=tmp_path)
    assert rep["benchmark"]["figures"] == {"latency": "figs/latency.png"}
    assert "![latency per variant and thread count](figs/latency.png)" in report.render_markdown(rep)


def test_int8_section_says_what_the_client_needs_and_shows_the_worst_frame(roles):
    rep = report.build_report(report.parse_roles([f"{k}={v}" for k, v in roles.items()]), "rife-v4.6")
    rows = {(e["comparison"], e["size"]): e for e in rep["int8"]["evaluation"]}
    assert rows[("int8 vs PyTorch", "64x96")]["psnr_db"] == 50.0
    assert rows[("int8 vs ground truth", "64x96")]["worst_psnr_db"] == 32.6
    assert rows[("PyTorch vs ground truth", "64x96")]["psnr_db"] == 33.71
    text = report.render_markdown(rep)
    section = text[text.index("## int8"):]
    assert INT8_CLIENT_NOTE in section and "NCNN_INT8=ON" in INT8_CLIENT_NOTE and "CPU only" in INT8_CLIENT_NOTE
    assert "| int8 vs ground truth | 64x96 | 1 | 33.60 | 32.60 | – | – |" in section
    assert "| int8 vs fp32 ncnn | 64x96 | 1 | 50.10 | – | 0.020 | mean >= 30 dB |" in section
    int8_row = next(line for line in text.splitlines() if line.startswith("| ncnn int8"))
    assert int8_row.count("drop-in") == int8_row.count("not a drop-in") == 1


def test_partial_inputs_give_partial_report(roles):
    rep = report.build_report(report.parse_roles([f"ncnn-fp32.verify={roles['ncnn-fp32.verify']}"]), "m")
    assert [a["key"] for a in rep["artifacts"]] == ["ncnn-fp32"] and rep["artifacts"][0]["bytes"] is None
    text = report.render_markdown(rep)
    assert "## Benchmark" not in text and "## int8" not in text and "| ncnn fp32 (rife.Warp) | – | – |" in text


def test_cli_writes_both_files(roles, tmp_path):
    md, js = tmp_path / "out" / "report.md", tmp_path / "out" / "report.json"
    args = [f"--input=rife-v4.6/{k}={v}" for k, v in roles.items()]
    assert main(["report", "build", *args, "--out-md", str(md), "--out-json", str(js)]) == 0
    assert md.read_text().startswith("# rife-build report")
    assert json.loads(js.read_text())["per_model"]["rife-v4.6"]["records"]["checkpoint"].endswith("flownet.pkl")
    assert main(["report", "build", "--input", "bad", "--out-md", str(md), "--out-json", str(js)]) == 2


def test_docs_state_int8_in_the_words_of_the_report():
    """One wording (rifebuild/report/wording.py) for the report, the int8 page and release notes."""
    from conftest import REPO

    page = (REPO / "docs" / "int8.md").read_text()
    assert INT8_CLIENT_NOTE in page
    assert "the int8 folder\n  does not load there" in (REPO / "README.md").read_text()


# ---------------------------------------------------------------------------------------------
# The run's report: several models, MODEL/ROLE=PATH


def _two_models(roles, tmp_path):
    """The same records for rife-v4.6, and a slower (scale 2) benchmark for rife-v4.17-lite."""
    other = {**roles, "bench": _write(tmp_path, "lite/bench.json", bench_record(scale=2.0))}
    return [f"rife-v4.6/{r}={p}" for r, p in roles.items()] + [f"rife-v4.17-lite/{r}={p}" for r, p in other.items()]


def test_run_report_has_a_models_row_per_version_from_its_records(roles, tmp_path):
    from rifebuild.report import run

    rep = run.build(_two_models(roles, tmp_path), md_dir=tmp_path)
    assert rep["models"] == ["rife-v4.6", "rife-v4.17-lite"]
    first, lite = rep["summary"]
    assert first["model"] == "rife-v4.6" and first["checkpoint_sha256"] == rep["per_model"]["rife-v4.6"]["checkpoint_sha256"]
    assert first["vs_pytorch"]["fp32"]["96x128"] == {"max_abs_err": 1e-5, "psnr_db": 120.0}
    assert first["vs_pytorch"]["int8"]["64x96"]["psnr_db"] == 66.0  # int8 inference in rife-bench (native record)
    assert first["int8_size_vs_fp32"] == pytest.approx(111 / 400)
    # the largest size, the most threads; the lite model's benchmark is twice as slow
    assert first["latency"]["size"] == "736x1280" and first["latency"]["threads"] == 2
    fp32_ms = first["latency"]["median_ms"]["rife-bench-fp32"]
    assert fp32_ms > 0 and lite["latency"]["median_ms"]["rife-bench-fp32"] == pytest.approx(2 * fp32_ms)
    text = run.render_markdown(rep)
    lines = text.splitlines()
    assert text.startswith("# rife-build report\n") and "## Models" in lines
    rows = [line for line in lines if line.startswith(("| rife-v4.6 |", "| rife-v4.17-lite |"))]
    assert len(rows) == 2 and "27.8%" in rows[0] and f"{fp32_ms:.1f}" in rows[0] and f"{2 * fp32_ms:.1f}" in rows[1]
    assert lines.index("## rife-v4.6") < lines.index("## rife-v4.17-lite")
    assert "### Artifacts: size and quality" in lines and "## Artifacts: size and quality" not in lines


def test_run_report_names_a_role_without_its_model(roles, tmp_path):
    from rifebuild.core.errors import ReportError
    from rifebuild.report import run

    with pytest.raises(ReportError, match=r"^--input=bench=.*: name the model first, as MODEL/ROLE=PATH"):
        run.build([f"bench={roles['bench']}"])
    with pytest.raises(ReportError, match=r"'rife-v9' is not a RIFE version name"):
        run.build([f"rife-v9/bench={roles['bench']}"])
    with pytest.raises(ReportError, match=r"'rife-v4.22-ensemble' is not a RIFE version name"):  # no ensemble mode
        run.build([f"rife-v4.22-ensemble/bench={roles['bench']}"])
    # an ensemble variant is a model of the report (failed before: the check knew versions only)
    assert list(run.split_roles([f"rife-v4.6-ensemble/bench={roles['bench']}"])) == ["rife-v4.6-ensemble"]


def test_run_report_command(roles, tmp_path):
    out = tmp_path / "out"
    assert main(["report", "build", f"--out-md={out / 'report.md'}", f"--out-json={out / 'report.json'}",
                 *[f"--input={pair}" for pair in _two_models(roles, tmp_path)]]) == 0
    assert json.loads((out / "report.json").read_text())["models"] == ["rife-v4.6", "rife-v4.17-lite"]
    assert main(["report", "build", f"--out-md={out / 'x.md'}", f"--out-json={out / 'x.json'}",
                 f"--input=checkpoint={roles['checkpoint']}"]) == 2


def test_models_table_says_what_the_checkpoint_is(roles, tmp_path):
    """Issue 20 item 3: official version, sha256 and URL, read from the checkpoint's record."""
    from rifebuild.report import run

    rep = run.build([f"rife-v4.6/{r}={p}" for r, p in roles.items()], md_dir=tmp_path)
    text = run.render_markdown(rep)
    row = next(line for line in text.splitlines() if line.startswith("| rife-v4.6 |"))
    sha = rep["per_model"]["rife-v4.6"]["checkpoint_sha256"]
    assert f"official v4.6, sha256 `{sha[:12]}`, https://example.org/flownet_v4.6.pkl" in row
    assert "meaningless" not in text and "vs ground truth 64x96" in text


def test_synthetic_weights_get_a_banner_and_no_ground_truth_scores(roles, tmp_path):
    from rifebuild.report import run

    roles = {**roles, "bench.quality-figure": _write(tmp_path, "figs/quality.png", size=10),
             "checkpoint.record": _checkpoint_record(tmp_path, roles["checkpoint"], kind="synthetic")}
    rep = run.build([f"rife-v4.6/{r}={p}" for r, p in roles.items()], md_dir=tmp_path)
    text = run.render_markdown(rep)
    lines = text.splitlines()
    banner = next(i for i, line in enumerate(lines) if "quality vs ground truth is meaningless with random weights"
                  in line)
    assert banner < lines.index("## Models") and "seed 7" in lines[banner]
    row = next(line for line in lines if line.startswith("| rife-v4.6 |"))
    assert "synthetic (seed 7)" in row
    assert "vs ground truth 64x96" not in text and "33.60 dB" not in text and "33.71" not in text
    assert "quality.png" not in text and "ground-truth scores left out" in text
    assert "| int8 vs fp32 ncnn | 64x96 |" in text  # comparisons between models stay


def test_a_checkpoint_changed_after_its_record_is_refused(roles, tmp_path):
    from rifebuild.core.errors import CheckpointError

    with open(roles["checkpoint"], "ab") as f:
        f.write(b"other weights")
    with pytest.raises(CheckpointError, match=r"flownet.pkl: its sha256 is not the one its record .* names"):
        report.build_report(report.parse_roles([f"{k}={v}" for k, v in roles.items()]), "rife-v4.6")
