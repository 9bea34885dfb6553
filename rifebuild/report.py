"""The build report: how big, how close to PyTorch (and to ground truth), how fast -- per artifact.

It only reads the records the other stages wrote; the rule passes them as ROLE=PATH pairs (roles
below), built from the same path variables the rules use, so a branch that is switched off simply
has no row. Nothing is measured here: the numbers are the verified ones, with their provenance
next to them in the records.

Roles: `checkpoint`; `<artifact>.verify` and `<artifact>.model` (size) for onnx, ncnn-fp32,
ncnn-fp16, ncnn-stock-<H>x<W>, ncnn-int8, mnn-<variant>; `ncnn-int8.quantize|calibration|sensitivity`;
`mnn-<variant>.latency`; `native-host.bench`, `native-host.bench-int8`, `native-host.verify`,
`native-host.verify-int8`, `native-<target>.cross_check`, `native-<target>.cross_check-int8`.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rifebuild.atomic import atomic_write_bytes, atomic_write_json, sha256_of

DASH = "–"


class ReportError(ValueError):
    """A malformed ROLE=PATH argument or a record that is missing."""


def parse_roles(pairs: list[str]) -> dict[str, Path]:
    roles = {}
    for pair in pairs:
        role, sep, path = pair.partition("=")
        if not sep or not role or not path:
            raise ReportError(f"--input takes ROLE=PATH, got {pair!r}")
        roles[role] = Path(path)
    missing = [f"{r} ({p})" for r, p in roles.items() if not p.exists()]
    if missing:
        raise ReportError(f"report inputs missing: {', '.join(missing)}; run the stages that write them first")
    return roles


def _json(roles: dict[str, Path], role: str) -> dict | None:
    return json.loads(roles[role].read_text()) if role in roles else None


def _size(roles: dict[str, Path], artifact: str) -> int | None:
    path = roles.get("checkpoint" if artifact == "pytorch" else f"{artifact}.model")
    return path.stat().st_size if path else None


def _res(pair) -> str:
    return f"{pair[0]}x{pair[1]}"


# ---------------------------------------------------------------------------------------------
# Rows: one per artifact, from its verification record (the schemas of verify.py, mnn.py)


def _float_row(name: str, runtime: str, record: dict) -> dict:
    """ONNX / ncnn fp32 / fp16 / stock: max abs error and PSNR vs PyTorch per resolution."""
    return {"artifact": name, "runtime": runtime, "passed": all(c["passed"] for c in record["checks"]),
            "vs_pytorch": {_res(c["resolution"]): {"psnr_db": c["psnr_db"], "max_abs_err": c["max_abs_err"]}
                           for c in record["checks"]}}


def _int8_row(record: dict, native: dict | None) -> dict:
    """int8 is judged on the evaluation split (PSNR/SSIM vs ground truth and vs fp32 ncnn). Its PSNR
    vs PyTorch on the fixed reference inputs, like the float rows, comes from rife-bench (host)."""
    checks = record["checks"]
    vs_pytorch = {}
    if native:
        vs_pytorch = {_res(c["shape"][1:]): {"psnr_db": c["psnr_db"], "max_abs_err": c["max_abs_err"]}
                      for c in native["checks"]}
    return {"artifact": "ncnn int8", "runtime": record["runtime"], "passed": all(c["passed"] for c in checks),
            "vs_pytorch": vs_pytorch, "vs_pytorch_runtime": "rife-bench (host)" if native else None,
            "vs_ground_truth": {_res(c["resolution"]): c["int8_vs_ground_truth"] for c in checks},
            "vs_fp32_ncnn_eval": {_res(c["resolution"]): c["int8_vs_fp32_ncnn"] for c in checks},
            "fp32_vs_ground_truth": {_res(c["resolution"]): c["fp32_ncnn_vs_ground_truth"] for c in checks}}


def _mnn_row(variant: str, record: dict) -> dict:
    gt = record.get("ground_truth")
    row = {"artifact": f"MNN {variant}", "runtime": "MNN (Python package)", "passed": True,
           "vs_pytorch": {_res(r["size"]): {"psnr_db": r["vs_torch"]["psnr_db"],
                                            "max_abs_err": r["vs_torch"]["max_abs_err"]}
                          for r in record["resolutions"]}}
    if gt:
        res = Path(gt["split"]).name
        row["vs_ground_truth"] = {res: {"psnr_db": gt["psnr_db"], "ssim": gt["ssim"]}}
    return row


def _mnn_order(role: str) -> int:
    order = ["mnn-fp32", "mnn-fp16", "mnn-wq8", "mnn-int8"]
    key = role.split(".")[0]
    return order.index(key) if key in order else len(order)


def artifact_rows(roles: dict[str, Path]) -> list[dict]:
    rows = []
    fixed = [("onnx", "ONNX (onnxsim)"), ("ncnn-fp32", "ncnn fp32 (rife.Warp)"),
             ("ncnn-fp16", "ncnn fp16 storage (rife.Warp)")]
    stock = sorted(r.split(".")[0] for r in roles if r.startswith("ncnn-stock-") and r.endswith(".verify"))
    for key, name in [*fixed, *[(s, f"ncnn stock GridSample {s[len('ncnn-stock-'):]}") for s in stock]]:
        record = _json(roles, f"{key}.verify")
        if record:
            rows.append({**_float_row(name, record["runtime"], record), "key": key})
    int8 = _json(roles, "ncnn-int8.verify")
    if int8:
        rows.append({**_int8_row(int8, _json(roles, "native-host.verify-int8")), "key": "ncnn-int8"})
        # the int8 verification also scored PyTorch and fp32 ncnn on the evaluation split
        truth = {key: {_res(c["resolution"]): c[field] for c in int8["checks"]}
                 for key, field in (("pytorch", "pytorch_vs_ground_truth"), ("ncnn-fp32", "fp32_ncnn_vs_ground_truth"))}
        rows.insert(0, {"artifact": "PyTorch checkpoint", "key": "pytorch", "runtime": "torch", "passed": True,
                        "vs_pytorch": {}, "vs_ground_truth": truth["pytorch"]})
        for row in rows:
            if row["key"] == "ncnn-fp32":
                row["vs_ground_truth"] = truth["ncnn-fp32"]
    mnn = sorted((r.split(".")[0] for r in roles if r.startswith("mnn-") and r.endswith(".verify")), key=_mnn_order)
    for key in mnn:
        rows.append({**_mnn_row(key[len("mnn-"):], _json(roles, f"{key}.verify")), "key": key})
    for row in rows:
        row["bytes"] = _size(roles, row["key"])
    fp32 = next((r["bytes"] for r in rows if r["key"] == "ncnn-fp32"), None)
    for row in rows:
        row["size_vs_ncnn_fp32"] = round(row["bytes"] / fp32, 4) if row["bytes"] and fp32 else None
    return rows


# ---------------------------------------------------------------------------------------------
# Latency: rife-bench (host), the ncnn Python package, MNN -- each group measured in one run


def latency_rows(roles: dict[str, Path]) -> list[dict]:
    rows = []
    bench = _json(roles, "native-host.bench")
    if bench:
        for run in bench["rife_bench"]:
            rows.append(_lat("ncnn fp32 (rife-bench, rife.Warp)", run, "native-host.bench"))
        for run in bench.get("ncnn_python", []):
            rows.append(_lat("ncnn fp32 (Python package, stock GridSample)", run, "native-host.bench"))
    bench8 = _json(roles, "native-host.bench-int8")
    if bench8:
        for run, base, ratio in zip(bench8["rife_bench"], bench8.get("fp32_baseline", []), bench8.get("ratio_vs_fp32", [])):
            rows.append({**_lat("ncnn int8 (rife-bench, rife.Warp)", run, "native-host.bench-int8"),
                         "fp32_median_ms_same_run": base["median_ms"], "ratio_vs_fp32": ratio})
    for role in sorted((r for r in roles if r.startswith("mnn-") and r.endswith(".latency")), key=_mnn_order):
        rec = _json(roles, role)
        rows.append({"model": f"MNN {role[len('mnn-'):-len('.latency')]}", "threads": rec["threads"],
                     "size": _res(rec["size"]), "median_ms": rec["median_ms"], "min_ms": rec["min_ms"],
                     "runs": rec["runs"], "record": role})
    return rows


def _lat(name: str, run: dict, role: str) -> dict:
    return {"model": name, "threads": run["threads"], "size": f"{run['height']}x{run['width']}",
            "median_ms": run["median_ms"], "min_ms": run["min_ms"], "runs": len(run["latency_ms"]),
            "record": role}


def native_checks(roles: dict[str, Path]) -> list[dict]:
    rows = []
    for role in sorted(r for r in roles if r.startswith("native-") and (".verify" in r or ".cross_check" in r)):
        rec = _json(roles, role)
        target = role.split(".")[0][len("native-"):]
        if "checks" in rec:  # rife-bench vs PyTorch references
            for c in rec["checks"]:
                rows.append({"target": target, "check": "vs PyTorch", "precision": c["precision"],
                             "size": _res(c["shape"][1:]), "max_abs_err": c["max_abs_err"],
                             "psnr_db": c["psnr_db"], "passed": c["passed"]})
        else:  # another target's binary vs the host binary
            rows.append({"target": target, "check": "vs host binary", "precision": rec["precision"],
                         "size": _res(rec["shape"][1:]), "max_abs_err": rec["max_abs_err"],
                         "psnr_db": rec["psnr_db"], "passed": rec["passed"]})
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
        from rifebuild.int8 import parse_sensitivity

        rows = parse_sensitivity(roles["ncnn-int8.sensitivity"].read_text())
        summary["most_sensitive"] = [{"layer": r["layer"], "psnr_db_vs_fp32": r["psnr_db"]} for r in rows[:top]]
    return summary


def build_report(roles: dict[str, Path], model_name: str) -> dict:
    tools = next((_json(roles, r)["tool_versions"] for r in ("ncnn-fp32.verify", "onnx.verify") if r in roles), {})
    return {"model_name": model_name,
            "checkpoint_sha256": sha256_of(roles["checkpoint"]) if "checkpoint" in roles else None,
            "tool_versions": tools, "artifacts": artifact_rows(roles), "latency": latency_rows(roles),
            "native_checks": native_checks(roles), "int8": int8_summary(roles),
            "records": {role: str(path) for role, path in sorted(roles.items())}}


# ---------------------------------------------------------------------------------------------
# Markdown


def _f(value, fmt: str) -> str:
    return DASH if value is None else format(value, fmt)


def _table(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *["| " + " | ".join(r) + " |" for r in rows], ""]


def render_markdown(report: dict) -> str:
    out = [f"# {report['model_name']} build report", ""]
    if report["checkpoint_sha256"]:
        out += [f"Checkpoint sha256 `{report['checkpoint_sha256']}`. Tools: "
                + ", ".join(f"{k} {v}" for k, v in report["tool_versions"].items()) + ".", ""]
    arts = report["artifacts"]
    resolutions = list(dict.fromkeys(r for a in arts for r in a["vs_pytorch"]))
    gt_res = list(dict.fromkeys(r for a in arts for r in a.get("vs_ground_truth", {})))
    if arts:
        out += ["## Artifacts: size and quality", "",
                "PSNR against the PyTorch model on the fixed reference inputs (max abs error where the "
                "artifact is checked against a bound); against ground truth on the evaluation split "
                "(mean PSNR / SSIM over its triplets).", ""]
        head = ["artifact", "size (MB)", "vs ncnn fp32", *[f"vs PyTorch {r}" for r in resolutions],
                *[f"vs ground truth {r}" for r in gt_res], "verified"]
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
                cells.append(DASH if c is None else f"{c['psnr_db']:.2f} dB / {c['ssim']:.4f}")
            cells.append("yes" if a["passed"] else "NO")
            rows.append(cells)
        out += _table(head, rows)
        int8 = next((a for a in arts if a["key"] == "ncnn-int8"), None)
        if int8:
            if int8.get("vs_pytorch_runtime"):
                out += [f"¹ vs PyTorch through {int8['vs_pytorch_runtime']}, int8 inference; the other rows "
                        "through their Python runtime.", ""]
            out += ["On the evaluation split, int8 vs fp32 ncnn: "
                    + ", ".join(f"{r}: {v['psnr_db']:.2f} dB / {v['ssim']:.4f}"
                                for r, v in int8["vs_fp32_ncnn_eval"].items()) + ".", ""]
    if report["latency"]:
        out += ["## Latency (this machine)", "",
                "Median wall time per interpolated frame. Rows from one record were timed in turns in the "
                "same run (compare ratios, not absolute numbers, across records: shared machines are noisy).",
                ""]
        rows = [[r["model"], r["size"], str(r["threads"]), f"{r['median_ms']:.1f}", f"{r['min_ms']:.1f}",
                 str(r["runs"]), _f(r.get("ratio_vs_fp32"), ".3f"), r["record"]] for r in report["latency"]]
        out += _table(["model", "size", "threads", "median ms", "min ms", "runs", "vs fp32 (same run)", "record"],
                      rows)
    if report["native_checks"]:
        out += ["## Native rife-bench checks", ""]
        rows = [[c["target"], c["check"], c["precision"], c["size"], f"{c['max_abs_err']:.2e}",
                 _f(c["psnr_db"], ".1f"), "yes" if c["passed"] else "NO"] for c in report["native_checks"]]
        out += _table(["target", "check", "precision", "size", "max abs err", "PSNR dB", "passed"], rows)
    q = report["int8"]
    if q:
        out += ["## int8", "",
                f"{q['int8_layers']} Convolutions int8, float: {', '.join(q['float_layers']) or 'none'}; "
                f"{q['requantize_fused']} requantize fusions; weights {100 * q['bin_size_ratio']:.1f}% of fp32."]
        if "method" in q:
            out += [f"Calibration: {q['method']} on {q['calibration_frames']} triplets at "
                    f"{q['calibration_resolution']} in {q['calibration_seconds']:.0f} s."]
        if q.get("most_sensitive"):
            out += ["Most sensitive layers (output PSNR vs fp32 with only that layer int8): "
                    + ", ".join(f"{r['layer']} {r['psnr_db_vs_fp32']:.1f} dB" for r in q["most_sensitive"]) + "."]
        out += [""]
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m rifebuild.report", description=__doc__.splitlines()[0])
    p.add_argument("--input", action="append", default=[], metavar="ROLE=PATH", help="a record the report reads")
    p.add_argument("--model-name", default="rife-v4.6")
    p.add_argument("--out-md", type=Path, required=True)
    p.add_argument("--out-json", type=Path, required=True)
    a = p.parse_args(argv)
    try:
        report = build_report(parse_roles(a.input), a.model_name)
    except (ReportError, KeyError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    atomic_write_json(a.out_json, report)
    atomic_write_bytes(a.out_md, render_markdown(report).encode())
    print(a.out_md.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
