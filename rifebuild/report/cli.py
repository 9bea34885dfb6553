"""The build report: results/report.md + report.json from every verification and benchmark record."""
from __future__ import annotations

from pathlib import Path

from rifebuild.core.args import PATH, action, out, resolution
from rifebuild.native.targets import HOST_BIN


def build(a) -> None:
    """Read every model's records (MODEL/ROLE=PATH) and write the report; nothing is measured here."""
    from rifebuild.core.files import atomic_write_bytes, atomic_write_json
    from rifebuild.report.run import build as build_report
    from rifebuild.report.run import render_markdown

    report = build_report(a.input, a.out_md.parent)
    atomic_write_json(a.out_json, report)
    markdown = render_markdown(report)
    atomic_write_bytes(a.out_md, markdown.encode())
    print(markdown)


def family(a) -> None:
    """Every RIFE v4 version (or --models) through the ncnn chain at two small sizes: a table of what converts,
    its errors vs PyTorch, parameters, FLOPs, ncnn layer counts and, with --latency, rife-bench fp32 / int8 ms
    (JSON to --out, markdown to stdout)."""
    import tempfile

    from rifebuild.core import threads
    from rifebuild.core.files import atomic_write_bytes, atomic_write_json
    from rifebuild.model import spec
    from rifebuild.report.family import describe, markdown, same_as
    from rifebuild.report.latency import Plan

    names = [spec.get(m).name for m in a.models] if a.models else list(spec.VERSIONS)
    latency = None
    if a.latency:
        latency = Plan(a.latency_bin, *a.latency_size, threads=a.latency_threads, runs=a.latency_runs)
        latency.check()
    # the timed int8 model is the table's int8 model; a bare --int8 quantizes every version
    int8 = set(names) if latency or a.int8 == [] else {spec.get(m).name for m in a.int8 or []}
    rows, done = [], {}
    with tempfile.TemporaryDirectory(prefix="rife-family-") as tmp:
        for name in names:
            key = (spec.get(name).arch, spec.get(name).ensemble, name in int8)
            if key in done:  # same architecture and seed: the very same models, so the same numbers
                rows.append(same_as(done[key], spec.get(name)))
            else:
                work = Path(tmp) / name
                work.mkdir()
                rows.append(done.setdefault(key, describe(name, work, threads.count(), int8=name in int8,
                                                          latency=latency)))
            print(markdown(rows[-1:]).splitlines()[-1], flush=True)
    atomic_write_json(a.out, rows)
    table = markdown(rows)
    if a.out_md:
        atomic_write_bytes(a.out_md, table.encode())
    print(table)


def register(actions) -> None:
    action(actions, "build", build,
           (["--input"], {"action": "append", "default": [], "metavar": "MODEL/ROLE=PATH",
                          "help": "a record of one model, as MODEL/ROLE=PATH (the report rule passes every one)"}),
           (["--out-md"], {**PATH, "help": "markdown to write"}),
           (["--out-json"], {**PATH, "help": "report.json to write"}))
    action(actions, "family", family,
           (["--models"], {"nargs": "*", "default": [],
                           "help": "RIFE versions in the table (none: all 36)"}),
           (["--int8"], {"nargs": "*", "default": None,
                         "help": "versions also calibrated and quantized to int8 (no names: every version)"}),
           (["--latency"], {"action": "store_true",
                            "help": "time fp32 and int8 (so every version is quantized) with the host rife-bench"}),
           (["--latency-size"], {"type": resolution, "default": (736, 1280),
                                 "help": "HxW, rounded up to each version's padding multiple"}),
           (["--latency-threads"], {"help": "rife-bench threads of the timed runs", "type": int, "default": 2}),
           (["--latency-runs"], {"type": int, "default": 8,
                                  "help": "timed runs of each model, after 1 warm-up (3 left ratios at 0.72-1.16)"}),
           (["--latency-bin"], {"type": Path, "default": HOST_BIN,
                                "help": "the host rife-bench (`snakemake results/native/host/rife-bench`)"}),
           out("the table as JSON"), (["--out-md"], {"help": "markdown to write", "type": Path, "default": None}))
