"""The report of one workflow run: a Models table (one row per RIFE version built), then each version's
page (rifebuild.report.page) under its own heading.

The rule passes every record as MODEL/ROLE=PATH, so one report covers any number of versions and a
reader picks a version from one table: its verdict, errors vs PyTorch, int8 size and native latency.
"""
from __future__ import annotations

from pathlib import Path

from rifebuild.core import args
from rifebuild.core.errors import ReportError
from rifebuild.model import spec
from rifebuild.report import page

DASH = page.DASH
SUMMARY_ARTIFACTS = (("ncnn-fp32", "fp32"), ("ncnn-fp16", "fp16"), ("ncnn-int8", "int8"))
LATENCY_VARIANTS = (("rife-bench-fp32", "rife-bench fp32"), ("rife-bench-int8", "rife-bench int8"),
                    ("mnn-fp32", "MNN fp32"))


def split_roles(pairs: list[str]) -> dict[str, dict[str, Path]]:
    """MODEL/ROLE=PATH pairs -> {model: {role: path}}, models in the order first given."""
    flat = args.parse_roles(pairs, ReportError, "report inputs")
    by_model: dict[str, dict[str, Path]] = {}
    for key, path in flat.items():
        model, sep, role = key.partition("/")
        if not sep or not role:
            raise ReportError(f"--input={key}={path}: name the model first, as MODEL/ROLE=PATH "
                              "(e.g. rife-v4.6/ncnn-fp32.verify=...)")
        if model not in spec.all_model_ids():
            raise ReportError(f"--input={key}={path}: {model!r} is not a RIFE version name; use one of "
                              f"{', '.join(spec.VERSIONS)}, or a version's ensemble variant (rife-v4.6-ensemble)")
        by_model.setdefault(model, {})[role] = path
    if not by_model:
        raise ReportError("no report inputs: pass --input=MODEL/ROLE=PATH for every record")
    return by_model


def build(pairs: list[str], md_dir: Path | None = None) -> dict:
    return assemble({model: page.build_report(roles, model, md_dir) for model, roles in split_roles(pairs).items()})


def assemble(per_model: dict[str, dict]) -> dict:
    """The report of these versions' pages (model -> page, in table order). Each page depends on its own
    version's records only, so `release merge` rebuilds a several-run report from the runs' pages."""
    return {"models": list(per_model), "summary": [summary_row(r) for r in per_model.values()],
            "per_model": per_model}


def summary_row(report: dict) -> dict:
    """One version at a glance, from its page's figures (nothing new is read or measured)."""
    arts = {a["key"]: a for a in report["artifacts"]}
    row = {"model": report["model_name"], "checkpoint_sha256": report["checkpoint_sha256"],
           "checkpoint": report.get("checkpoint"),
           "verified": bool(arts) and all(a["passed"] for a in arts.values())
           and all(c["passed"] for c in report["native_checks"]),
           "vs_pytorch": {label: {res: {"max_abs_err": c["max_abs_err"], "psnr_db": c["psnr_db"]}
                                  for res, c in arts[key]["vs_pytorch"].items()}
                          for key, label in SUMMARY_ARTIFACTS if key in arts},
           "int8_size_vs_fp32": arts.get("ncnn-int8", {}).get("size_vs_ncnn_fp32")}
    row["latency"] = latency(report)
    return row


def latency(report: dict) -> dict | None:
    """Median ms of the native and MNN variants at the largest size timed, with the most host threads."""
    bench = report.get("benchmark")
    if not bench:
        return None
    results = bench["record"]["results"]
    if not results:
        return None
    size = max((r["size"] for r in results), key=page.pixels)
    threads = max(r["threads"] for r in results if r["size"] == size)
    cell = {r["variant"]: r["median_ms"] for r in results if r["size"] == size and r["threads"] == threads}
    return {"size": size, "threads": threads, "median_ms": {v: cell.get(v) for v, _ in LATENCY_VARIANTS}}


def _sizes(row: dict) -> list[str]:
    return list(dict.fromkeys(res for scores in row["vs_pytorch"].values() for res in scores))


def _errors(row: dict, size: str) -> str:
    """fp32 / fp16 max abs error, int8 PSNR (its bound is a PSNR) at one size."""
    parts = []
    for _, label in SUMMARY_ARTIFACTS:
        c = row["vs_pytorch"].get(label, {}).get(size)
        if c is None:
            parts.append(DASH)
        elif label == "int8" or c["max_abs_err"] is None:
            parts.append(f"{page._f(c['psnr_db'], '.1f')} dB")
        else:
            parts.append(f"{c['max_abs_err']:.1e}")
    return " / ".join(parts)


def checkpoint_cell(row: dict) -> str:
    """What the weights are, from the checkpoint's record: official version + sha256 + URL, local file, or
    synthetic + seed (just the sha256 for a report without a record)."""
    ckpt, sha = row.get("checkpoint"), f"sha256 `{(row['checkpoint_sha256'] or DASH)[:12]}`"
    if not ckpt:
        return sha if row["checkpoint_sha256"] else DASH
    if ckpt["kind"] == "official":
        return f"official v{spec.get(row['model']).number}, {sha}, {ckpt['url']}"
    if ckpt["kind"] == "local":
        return f"local file `{ckpt['path']}`, {sha}"
    return f"synthetic (seed {ckpt['seed']}): random weights"


def render_markdown(report: dict) -> str:
    out = ["# rife-build report", ""]
    random = [r for r in report["summary"] if page.synthetic(r)]
    if random:
        out += ["> **" + page.RANDOM_WEIGHTS + "** ("
                + ", ".join(f"{r['model']}: seed {r['checkpoint']['seed']}" for r in random) + "). These artifacts "
                "show that the conversion is faithful (the errors vs PyTorch hold); ground-truth scores and the "
                "quality plot are left out. Set `weights: official` (or a trained flownet.pkl) for a real model.", ""]
    out += ["## Models", "",
           "Max abs error vs PyTorch of the ncnn models at each verified size (int8: PSNR), the int8 model's "
           "size as a share of fp32, and native latency (median of the benchmark rounds, this build machine).",
           ""]
    # sizes differ between versions (each rounded to its padding multiple): the Nth verified size of each
    rows, columns = [], max((len(_sizes(r)) for r in report["summary"]), default=0)
    for r in report["summary"]:
        cells = [r["model"], checkpoint_cell(r)]
        sizes = _sizes(r)
        for i in range(columns):
            cells.append(DASH if i >= len(sizes) else f"{sizes[i]}: {_errors(r, sizes[i])}")
        share = r["int8_size_vs_fp32"]
        cells.append(DASH if share is None else f"{100 * share:.1f}%")
        lat = r["latency"]
        for variant, _ in LATENCY_VARIANTS:
            ms = lat and lat["median_ms"].get(variant)
            cells.append(DASH if ms is None else f"{ms:.1f}")
        cells.append(DASH if lat is None else f"{lat['size']}, {lat['threads']} thr")
        cells.append("yes" if r["verified"] else "NO")
        rows.append(cells)
    head = ["model", "checkpoint", *[f"fp32 / fp16 / int8 vs PyTorch, size {i + 1}" for i in range(columns)], "int8 size",
            *[f"{label} ms" for _, label in LATENCY_VARIANTS], "timed at", "verified"]
    out += page._table(head, rows)
    for model in report["models"]:
        body = page.render_markdown(report["per_model"][model]).splitlines()[1:]  # its own title line dropped
        out += [f"## {model}", *[("#" + line) if line.startswith("#") else line for line in body]]
    return "\n".join(out) + "\n"
