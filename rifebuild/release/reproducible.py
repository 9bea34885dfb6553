"""What a bundle leaves out so that two builds of the same inputs are byte-identical, and why.

Wall-clock measurements differ on every run, so the report copy in the bundle drops them; the full
report (results/report.md / .json, a CI run's `report` artifact) keeps them. MANIFEST.json lists
each omission with its reason.
"""
from __future__ import annotations

import copy

EXCLUDED = [
    {"what": "report: the benchmark (records bench and bench.phone, the latency/quality/size figures)",
     "why": "wall-clock timings of the build machine differ on every run; they are in results/report.md, "
            "report.json and results/bench/ of the run (the CI run's report artifact)"},
    {"what": "report: int8.calibration_seconds",
     "why": "the wall time int8 calibration took, different on every run"},
    {"what": "report: the latency columns of the Models table",
     "why": "they come from the benchmark (above)"},
]


def strip_measurements(report: dict) -> dict:
    """A copy of report.json (every model's page and the summary rows) without the measured timings
    listed in EXCLUDED."""
    report = copy.deepcopy(report)
    for row in report.get("summary", []):
        row["latency"] = None
    report["per_model"] = {model: _strip_page(page) for model, page in report.get("per_model", {}).items()}
    return report


def _strip_page(report: dict) -> dict:
    report["benchmark"] = None
    if report.get("int8"):
        report["int8"].pop("calibration_seconds", None)
    report["records"] = {role: path for role, path in report.get("records", {}).items()
                         if role != "bench" and not role.startswith("bench.")}
    return report
