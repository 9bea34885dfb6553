"""The one verification record every artifact gets (schema: verification.schema.json).

A record lists checks, each at one resolution against one baseline (`pytorch`, `ncnn-fp32` or the
`host` binary), with the metrics of rifebuild.evaluate.metrics, its bound and whether it passed, and
ground-truth scores per split. `finish` writes it only when every bounded check passed; a check
cannot pass on a non-finite number, and the file is strict JSON, validated against the schema.
"""
from __future__ import annotations

import importlib.metadata
import json
import math
from pathlib import Path

from rifebuild.core.errors import VerificationError
from rifebuild.core.files import atomic_write_bytes, sha256_of

SCHEMA_PATH = Path(__file__).with_name("verification.schema.json")
SCHEMA_VERSION = 1
TOOLS = ("torch", "onnx", "onnxruntime", "onnxsim", "pnnx", "ncnn", "mnn", "numpy", "scikit-image")


def tool_versions() -> dict[str, str]:
    versions = {}
    for name in TOOLS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# bound key -> the metric it limits (max_abs_err from above, the PSNRs from below)
BOUND_METRIC = {"max_abs_err": "max_abs_err", "min_psnr_db": "psnr_db", "min_worst_psnr_db": "worst_psnr_db"}


def bound(max_abs_err: float | None, min_psnr: float | None) -> dict:
    """A check's bound: float models are held to max abs error, quantized ones (min_psnr given) to PSNR."""
    return {"max_abs_err": max_abs_err} if min_psnr is None else {"min_psnr_db": min_psnr}


def meets(value: float, bound: dict | None) -> bool:
    """Whether a check's metrics meet its bound; NaN/inf never do. No bound: informative, passes if finite."""
    if not bound:
        return math.isfinite(value)
    (key, limit), = bound.items()
    if not math.isfinite(value):
        return False
    return value <= limit if key == "max_abs_err" else value >= limit


def check(against: str, resolution, metrics: dict, bound: dict | None = None, inputs: str = "",
          inputs_sha256: str = "", frames: int = 1) -> dict:
    """One check. `bound` is None (informative) or one or more of {"max_abs_err": x, "min_psnr_db": y,
    "min_worst_psnr_db": z} (the worst frame's PSNR, for checks over several frames); all must hold."""
    values = [v for v in metrics.values() if isinstance(v, float)]
    finite = all(math.isfinite(v) for v in values)
    passed = finite and all(meets(metrics[BOUND_METRIC[k]], {k: v}) for k, v in (bound or {}).items())
    return {"against": against, "resolution": [int(resolution[0]), int(resolution[1])], "inputs": str(inputs),
            "inputs_sha256": inputs_sha256, "frames": int(metrics.get("frames", frames)),
            **{k: v for k, v in metrics.items() if k != "frames"}, "bound": bound, "passed": passed}


def ground_truth(subject: str, split: str, resolution, metrics: dict) -> dict:
    """Scores of `subject` (`artifact`, `pytorch`, `ncnn-fp32`) against the ground-truth middle frames."""
    return {"subject": subject, "split": split, "resolution": [int(resolution[0]), int(resolution[1])],
            **metrics}


def new(artifact, runtime: str, precision: str, files: list[Path] | None = None) -> dict:
    artifact = Path(artifact)
    files = files if files is not None else ([artifact] if artifact.is_file() else
                                             [artifact / "flownet.param", artifact / "flownet.bin"])
    return {"schema_version": SCHEMA_VERSION, "artifact": str(artifact), "runtime": runtime, "precision": precision,
            "artifact_sha256": {Path(f).name: sha256_of(f) for f in files if Path(f).exists()},
            "tool_versions": tool_versions(), "checks": [], "ground_truth": [], "details": {}, "passed": False}


def failures(record: dict) -> list[str]:
    out = []
    for c in record["checks"]:
        if not c["passed"]:
            res = f"{c['resolution'][0]}x{c['resolution'][1]}"
            missed = [k for k, v in (c["bound"] or {}).items() if not meets(c[BOUND_METRIC[k]], {k: v})]
            for key in missed:
                if key == "max_abs_err":
                    out.append(f"max abs error {c['max_abs_err']:.3g} vs {c['against']} at {res} exceeds the bound "
                               f"{c['bound']['max_abs_err']:g}")
                else:
                    what = "PSNR" if key == "min_psnr_db" else "worst-frame PSNR"
                    out.append(f"{what} {c[BOUND_METRIC[key]]:.2f} dB vs {c['against']} at {res} is below the bound "
                               f"{c['bound'][key]:g} dB")
            if not missed:
                out.append(f"non-finite output vs {c['against']} at {res}")
    return out


def finish(record: dict, out: Path | str, hint: str = "") -> dict:
    """Validate and write the record, only if every check passed; else raise with the numbers."""
    bad = failures(record)
    if bad:
        raise VerificationError(f"{record['artifact']}: " + "; ".join(bad) + (f"; {hint}" if hint else ""))
    record["passed"] = True
    validate(record)
    atomic_write_bytes(out, dumps(record))
    return record


def dumps(record: dict) -> bytes:
    try:
        return (json.dumps(record, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()
    except ValueError:
        raise VerificationError(f"{record['artifact']}: a score is NaN or infinite; the artifact's output is "
                                "not finite, so it cannot pass") from None


def validate(record: dict) -> None:
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        jsonschema.validate(record, schema)
    except jsonschema.ValidationError as exc:
        raise VerificationError(f"{record.get('artifact')}: verification record breaks {SCHEMA_PATH.name}: "
                                f"{exc.message}") from None

