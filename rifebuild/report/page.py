"""The build report: how big, how close to PyTorch (and to ground truth), how fast -- per artifact.

It only reads the records the other stages wrote; the rule passes them as ROLE=PATH pairs (roles
below), built from the same path variables the rules use, so a branch that is switched off simply
has no row. Nothing is measured here: the numbers are the verified ones, with their provenance
next to them in the records.

Roles: `checkpoint`; `<artifact>.verify` and `<artifact>.model` (size) for onnx, ncnn-fp32,
ncnn-fp16, ncnn-stock-<H>x<W>, ncnn-int8, mnn-<variant>; `ncnn-int8.quantize|calibration|sensitivity`;
`native-host.verify`, `native-host.verify-int8`, `native-<target>.cross_check`,
`native-<target>.cross_check-int8`; `bench` and `bench.phone` (rifebuild.bench's records) and
`bench.<latency|quality|size>-figure` (PNG, linked from the Markdown).
"""
from __future__ import annotations

import json
from pathlib import Path

from rifebuild.bench import tables as bench_tables
from rifebuild.checkpoint import record
from rifebuild.core import args
from rifebuild.core.errors import ReportError
from rifebuild.core.files import sha256_of
from rifebuild.report import clients
from rifebuild.report.wording import INT8_CLIENT_NOTE, INT8_CLIENT_SHORT


def read_tsv(path: Path) -> list[dict]:
    """A table the stages write as TSV (header row first), values as floats where they parse."""
    import csv

    with open(path, newline="") as f:
        return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(f, delimiter="\t")]


def _number(text: str):
    try:
        return float(text)
    except ValueError:
        return text


DASH = "–"
RANDOM_WEIGHTS = "Synthetic weights: quality vs ground truth is meaningless with random weights"



def parse_roles(pairs: list[str]) -> dict[str, Path]:
    return args.parse_roles(pairs, ReportError, "report inputs")


def _json(roles: dict[str, Path], role: str) -> dict | None:
    return json.loads(roles[role].read_text()) if role in roles else None


def _size(roles: dict[str, Path], artifact: str) -> int | None:
    path = roles.get("checkpoint" if artifact == "pytorch" else f"{artifact}.model")
    return path.stat().st_size if path else None


def _res(pair) -> str:
    return f"{pair[0]}x{pair[1]}"


# ---------------------------------------------------------------------------------------------
# Rows: one per artifact, read from its verification record (one schema, rifebuild.evaluate.record)


def _scores(checks_or_scores: list[dict], keep=lambda item: True) -> dict:
    return {_res(c["resolution"]): {k: c[k] for k in ("psnr_db", "max_abs_err", "ssim", "worst_psnr_db") if k in c}
            for c in checks_or_scores if keep(c)}


def record_row(name: str, record: dict) -> dict:
    """vs PyTorch per resolution, vs fp32 ncnn (int8), vs ground truth: the same for every producer."""
    return {"artifact": name, "runtime": record["runtime"], "precision": record["precision"],
            "passed": record["passed"],
            "vs_pytorch": _scores(record["checks"], lambda c: c["against"] == "pytorch"),
            "vs_fp32_ncnn": _scores(record["checks"], lambda c: c["against"] == "ncnn-fp32"),
            "vs_ground_truth": _scores(record["ground_truth"], lambda g: g["subject"] == "artifact")}


ROW_NAMES = {"onnx": "ONNX any size (onnxsim)", "ncnn-fp32": "ncnn fp32 (rife.Warp)", "ncnn-fp16": "ncnn fp16 storage (rife.Warp)",
             "ncnn-int8": "ncnn int8 (rife.Warp)", "mnn-fp32": "MNN fp32", "mnn-fp16": "MNN fp16",
             "mnn-wq8": "MNN wq8", "mnn-int8": "MNN int8"}


def client_use(key: str) -> str | None:
    """How the stock rife-ncnn-vulkan release takes the artifact (None: not an ncnn model folder)."""
    if key in ("ncnn-fp32", "ncnn-fp16"):
        return "drop-in (CPU and Vulkan)"
    if key == "ncnn-int8":
        return INT8_CLIENT_SHORT
    if key.startswith("ncnn-stock-"):
        return "no: GridSample, for stock ncnn at this size only"
    return None


def pixels(size: str) -> int:
    """'736x1280' -> its pixel count: sizes sort by area, not as text (64x128 before 128x128)."""
    height, width = (int(v) for v in size.split("x"))
    return height * width


def _order(key: str) -> tuple:
    """The fixed rows in their order; the stock models after fp16, smallest size first (64x128 before 128x128)."""
    fixed = list(ROW_NAMES)
    if key.startswith("ncnn-stock-"):
        return 2.5, pixels(key[len("ncnn-stock-"):]), key
    return (fixed.index(key) if key in fixed else len(fixed)), 0, key


def artifact_rows(roles: dict[str, Path]) -> list[dict]:
    keys = sorted({r.split(".")[0] for r in roles if r.endswith(".verify") and not r.startswith("native-")}, key=_order)
    rows = []
    for key in keys:
        name = ROW_NAMES.get(key) or f"ncnn stock GridSample {key[len('ncnn-stock-'):]}"
        rows.append({**record_row(name, _json(roles, f"{key}.verify")), "key": key})
    int8 = _json(roles, "ncnn-int8.verify")
    if int8:
        # the int8 evaluation also scored PyTorch and fp32 ncnn on the evaluation split
        truth = {s: _scores(int8["ground_truth"], lambda g, s=s: g["subject"] == s) for s in ("pytorch", "ncnn-fp32")}
        rows.insert(0, {"artifact": "PyTorch checkpoint", "key": "pytorch", "runtime": "torch", "precision": "fp32",
                        "passed": True, "vs_pytorch": {}, "vs_fp32_ncnn": {}, "vs_ground_truth": truth["pytorch"]})
        for row in rows:
            if row["key"] == "ncnn-fp32":
                row["vs_ground_truth"] = truth["ncnn-fp32"]
        native = _json(roles, "native-host.verify-int8")
        row = next(r for r in rows if r["key"] == "ncnn-int8")
        if native:  # int8 inference vs PyTorch on the fixed references runs in rife-bench (C++ rife.Warp)
            row["vs_pytorch"] = _scores(native["checks"], lambda c: c["against"] == "pytorch")
            row["vs_pytorch_runtime"] = native["runtime"]
    for row in rows:
        row["bytes"] = _size(roles, row["key"])
        row["rife_ncnn_vulkan"] = client_use(row["key"])
    fp32 = next((r["bytes"] for r in rows if r["key"] == "ncnn-fp32"), None)
    for row in rows:
        row["size_vs_ncnn_fp32"] = round(row["bytes"] / fp32, 4) if row["bytes"] and fp32 else None
    return rows


# ---------------------------------------------------------------------------------------------
# Benchmark: one record from the bench stage (every runtime timed in turns, alone) and its figures

FIGURES = ("latency", "quality", "size")


def benchmark(roles: dict[str, Path], md_dir: Path | None) -> dict | None:
    """The bench record, the phone record, and the figures as paths relative to the Markdown file."""
    bench = _json(roles, "bench")
    if not bench:
        return None
    import os

    figures = {name: os.path.relpath(roles[f"bench.{name}-figure"], md_dir) if md_dir else str(roles[f"bench.{name}-figure"])
               for name in FIGURES if f"bench.{name}-figure" in roles}
    phone = _json(roles, "bench.phone") or {"results": [], "note": "no phone record"}
    return {"record": bench, "phone": phone, "figures": figures}


def native_checks(roles: dict[str, Path]) -> list[dict]:
    rows = []
    for role in sorted(r for r in roles if r.startswith("native-") and (".verify" in r or ".cross_check" in r)):
        record = _json(roles, role)
        target = role.split(".")[0][len("native-"):]
        for c in record["checks"]:
            rows.append({"target": target, "check": "vs host binary" if c["against"] == "host" else "vs PyTorch",
                         "precision": record["precision"], "size": _res(c["resolution"]),
                         "max_abs_err": c["max_abs_err"], "psnr_db": c["psnr_db"], "passed": c["passed"]})
    return rows


def int8_summary(roles: dict[str, Path], top: int = 5) -> dict | None:
    quant, calib = _json(roles, "ncnn-int8.quantize"), _json(roles, "ncnn-int8.calibration")
    if not quant:
        return None
    summary = {"int8_layers": len(quant["int8"]), "float_layers": quant["float"],
               "requantize_fused": len(quant["requantize_fused"]), "bin_size_ratio": quant["bin_size_ratio"]}
    if calib:
        summary.update({"method": calib["method"], "calibration_frames": calib["frames"],
                        "calibration_resolution": _res(calib["resolution"]),
                        "calibration_seconds": calib["calibration_seconds"]})
    if "ncnn-int8.sensitivity" in roles:
        rows = read_tsv(roles["ncnn-int8.sensitivity"])
        summary["most_sensitive"] = [{"layer": r["layer"], "psnr_db_vs_fp32": r["psnr_db_vs_fp32"]} for r in rows[:top]]
    verify = _json(roles, "ncnn-int8.verify")
    if verify:
        summary["evaluation"] = int8_evaluation(verify)
    return summary


EVALUATION_ROWS = (("int8 vs PyTorch", "check", "pytorch"), ("int8 vs fp32 ncnn", "check", "ncnn-fp32"),
                   ("int8 vs ground truth", "truth", "artifact"), ("fp32 ncnn vs ground truth", "truth", "ncnn-fp32"),
                   ("PyTorch vs ground truth", "truth", "pytorch"))


def int8_evaluation(record: dict) -> list[dict]:
    """The int8 verification on the evaluation split, per resolution: mean and worst-frame PSNR."""
    rows = []
    for label, kind, who in EVALUATION_ROWS:
        items = [c for c in record["checks"] if c["against"] == who] if kind == "check" else \
            [g for g in record["ground_truth"] if g["subject"] == who]
        for item in items:
            rows.append({"comparison": label, "size": _res(item["resolution"]), "frames": item["frames"],
                         "psnr_db": item["psnr_db"], "worst_psnr_db": item.get("worst_psnr_db"),
                         "max_abs_err": item.get("max_abs_err"), "bound": item.get("bound")})
    return rows


def checkpoint(roles: dict[str, Path]) -> dict | None:
    """The checkpoint's provenance record, checked to describe the checkpoint file (its sha256)."""
    if "checkpoint.record" not in roles:
        return None
    return record.read(roles["checkpoint.record"], roles.get("checkpoint"))


def synthetic(report: dict) -> bool:
    """Random weights: scores against ground truth say nothing about the model (only vs PyTorch does)."""
    return (report.get("checkpoint") or {}).get("kind") == "synthetic"


def build_report(roles: dict[str, Path], model_name: str, md_dir: Path | None = None) -> dict:
    tools = next((_json(roles, r)["tool_versions"] for r in ("ncnn-fp32.verify", "onnx.verify") if r in roles), {})
    ckpt = checkpoint(roles)
    return {"model_name": model_name, "checkpoint": ckpt,
            "checkpoint_sha256": ckpt["sha256"] if ckpt else sha256_of(roles["checkpoint"]) if "checkpoint" in roles
            else None,
            "tool_versions": tools, "artifacts": artifact_rows(roles), "benchmark": benchmark(roles, md_dir),
            "native_checks": native_checks(roles), "int8": int8_summary(roles),
            "records": {role: str(path) for role, path in sorted(roles.items())}}


# ---------------------------------------------------------------------------------------------
# Markdown


def _f(value, fmt: str) -> str:
    return DASH if value is None else format(value, fmt)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *["| " + " | ".join(r) + " |" for r in rows], ""]


def _bound(bound: dict | None) -> str:
    if not bound:
        return DASH
    names = {"min_psnr_db": "mean >= {:g} dB", "min_worst_psnr_db": "worst >= {:g} dB", "max_abs_err": "<= {:g}"}
    return ", ".join(names[k].format(v) for k, v in bound.items())


def render_markdown(report: dict) -> str:
    out = [f"# {report['model_name']} build report", ""]
    random = synthetic(report)
    if report["checkpoint_sha256"]:
        origin = f"from {record.describe(report['checkpoint'])}, " if report.get("checkpoint") else ""
        out += [f"Checkpoint {origin}sha256 `{report['checkpoint_sha256']}`. Tools: "
                + ", ".join(f"{k} {v}" for k, v in report["tool_versions"].items()) + ".", ""]
    if random:
        out += [f"{RANDOM_WEIGHTS}: ground-truth scores left out (the comparisons with PyTorch and between "
                "the models hold).", ""]
    arts = report["artifacts"]
    resolutions = list(dict.fromkeys(r for a in arts for r in a["vs_pytorch"]))
    gt_res = [] if random else list(dict.fromkeys(r for a in arts for r in a.get("vs_ground_truth", {})))
    if arts:
        out += ["## Artifacts: size and quality", "",
                "PSNR against the PyTorch model on the fixed reference inputs (max abs error where the "
                "artifact is checked against a bound); against ground truth on the evaluation split "
                "(mean PSNR / SSIM over its triplets).", ""]
        head = ["artifact", "size (MB)", "vs ncnn fp32", *[f"vs PyTorch {r}" for r in resolutions],
                *[f"vs ground truth {r} (worst frame)" for r in gt_res], "rife-ncnn-vulkan", "verified"]
        rows = []
        for a in arts:
            name = a["artifact"] + (" ¹" if a.get("vs_pytorch_runtime") else "")
            cells = [name, _f(a["bytes"] and a["bytes"] / 1e6, ".2f"),
                     _f(a["size_vs_ncnn_fp32"] and 100 * a["size_vs_ncnn_fp32"], ".1f") + ("%" if a["size_vs_ncnn_fp32"] else "")]
            for r in resolutions:
                c = a["vs_pytorch"].get(r)
                cells.append(DASH if c is None else f"{_f(c['psnr_db'], '.1f')} dB"
                             + (f" ({c['max_abs_err']:.1e})" if c["max_abs_err"] is not None else ""))
            for r in gt_res:
                c = a.get("vs_ground_truth", {}).get(r)
                cells.append(DASH if c is None else f"{c['psnr_db']:.2f} dB ({_f(c.get('worst_psnr_db'), '.2f')}) / "
                             f"{c['ssim']:.4f}")
            cells.append(a.get("rife_ncnn_vulkan") or DASH)
            cells.append("yes" if a["passed"] else "NO")
            rows.append(cells)
        out += _table(head, rows)
        int8 = next((a for a in arts if a["key"] == "ncnn-int8"), None)
        if int8:
            if int8.get("vs_pytorch_runtime"):
                out += [f"¹ vs PyTorch through {int8['vs_pytorch_runtime']}, int8 inference; the other rows "
                        "through their Python runtime.", ""]
            out += ["On the evaluation split, int8 vs fp32 ncnn (mean, worst frame): "
                    + ", ".join(f"{r}: {v['psnr_db']:.2f} dB, {_f(v.get('worst_psnr_db'), '.2f')} dB"
                                for r, v in int8["vs_fp32_ncnn"].items()) + ".", ""]
    if arts:
        out += ["## Clients", "", "What the clients people run do with these folders, measured by the test suite "
                "through each client's own code (quality per version: docs/clients.md in rife-build):", "",
                *clients.table(), ""]
    if report["benchmark"]:
        b = report["benchmark"]
        figures = {k: v for k, v in b["figures"].items() if not (random and k == "quality")}  # PSNR vs ground truth
        out += bench_tables.markdown(b["record"], b["phone"], figures)
    if report["native_checks"]:
        out += ["## Native rife-bench checks", ""]
        rows = [[c["target"], c["check"], c["precision"], c["size"], f"{c['max_abs_err']:.2e}",
                 _f(c["psnr_db"], ".1f"), "yes" if c["passed"] else "NO"] for c in report["native_checks"]]
        out += _table(["target", "check", "precision", "size", "max abs err", "PSNR dB", "passed"], rows)
    q = report["int8"]
    if q:
        out += ["## int8", "", INT8_CLIENT_NOTE, ""]
        if q.get("evaluation"):
            out += ["On the evaluation split (builtin triplets move as far as the same scene upscaled to each "
                    "size), mean PSNR over its frames and the worst frame's:", ""]
            rows = [[e["comparison"], e["size"], str(e["frames"]), f"{e['psnr_db']:.2f}",
                     _f(e["worst_psnr_db"], ".2f"), _f(e["max_abs_err"], ".3f"),
                     _bound(e["bound"])] for e in q["evaluation"] if not (random and "ground truth" in e["comparison"])]
            out += _table(["comparison", "size", "frames", "mean dB", "worst frame dB", "max abs err", "bound"], rows)
        out += [f"{q['int8_layers']} Convolutions int8, float: {', '.join(q['float_layers']) or 'none'}; "
                f"{q['requantize_fused']} requantize fusions; weights {100 * q['bin_size_ratio']:.1f}% of fp32."]
        if "method" in q:
            out += [f"Calibration: {q['method']} on {q['calibration_frames']} triplets at "
                    f"{q['calibration_resolution']}"
                    # a bundled copy leaves the wall time out (rifebuild.release.reproducible)
                    + (f" in {q['calibration_seconds']:.0f} s." if "calibration_seconds" in q else ".")]
        if q.get("most_sensitive"):
            out += ["Most sensitive layers (output PSNR vs fp32 with only that layer int8): "
                    + ", ".join(f"{r['layer']} {r['psnr_db_vs_fp32']:.1f} dB" for r in q["most_sensitive"]) + "."]
        out += [""]
    return "\n".join(out)
