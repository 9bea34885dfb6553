"""MANIFEST.json: what a bundle holds and where it came from, assembled from the records the
workflow already wrote (report.json with its verification verdicts and figures, the verification
records' tool versions, the effective config) -- nothing is measured again here.

It lists every file of every tarball (path, size, sha256) but not the tarballs' own hashes, since
each tarball carries a copy of the manifest; SHA256SUMS covers the tarballs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import sha256_of
from rifebuild.release.reproducible import EXCLUDED

SCHEMA_PATH = Path(__file__).with_name("manifest.schema.json")
# 2: several models per bundle (`models`), tarball kinds per model; 3: checkpoint record; 4: `sbom`. The
# number lives in the schema alone (its schema_version const).
SCHEMA_VERSION = json.loads(SCHEMA_PATH.read_text())["properties"]["schema_version"]["const"]
NAME = "MANIFEST.json"


def dumps(obj) -> bytes:
    """The one serialisation of the manifest (sorted keys, fixed indent): same content, same bytes."""
    return (json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n").encode()


def config_sha256(config: dict) -> str:
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def file_entry(name: str, source: Path | bytes) -> dict:
    if isinstance(source, bytes):
        return {"path": name, "size": len(source), "sha256": hashlib.sha256(source).hexdigest()}
    return {"path": name, "size": Path(source).stat().st_size, "sha256": sha256_of(source)}


def checkpoint(page: dict, config: dict, model: str) -> dict:
    """`model`'s checkpoint as the job that built it recorded it (through the report), refused when the
    config now asks for other weights: the bundle would name weights that built none of its files."""
    from rifebuild.checkpoint.record import mismatch

    record = page.get("checkpoint")
    if not record:
        raise ReleaseError(f"the report has no checkpoint record for {model} (results/checkpoint/{model}/"
                           "flownet.json); re-run the workflow so the checkpoint job writes it")
    problem = mismatch(record, config)
    if problem:
        raise ReleaseError(problem)
    return record


def ensemble_of(model: str) -> dict:
    """{"ensemble_of": version} for an ensemble variant (rife-v4.6-ensemble: rife-v4.6, whose checkpoint it
    runs), so a reader of the manifest tells the variant from a version without parsing its name; {} else."""
    from rifebuild.model import spec

    version = spec.get(model)
    return {"ensemble_of": version.base} if version.ensemble else {}


def kind_of(tarball_kind: str, models: list[str]) -> tuple[str | None, str]:
    """`rife-v4.6-ncnn` -> ("rife-v4.6", "ncnn"); the shared `native` and `report` -> (None, kind)."""
    for model in models:
        if tarball_kind.startswith(f"{model}-") and tarball_kind[len(model) + 1:] in MODEL_KINDS:
            return model, tarball_kind[len(model) + 1:]
    if tarball_kind not in SHARED_KINDS:
        raise ReleaseError(f"--tarball {tarball_kind}: not one of MODEL-{{{','.join(MODEL_KINDS)}}} for a built "
                           f"model ({', '.join(models)}) or {', '.join(SHARED_KINDS)}")
    return None, tarball_kind


MODEL_KINDS = ("ncnn", "mnn", "onnx")
SHARED_KINDS = ("native", "report")


def read_record(path: Path, role: str) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{path} ({role}): not a readable verification record ({exc}); re-run the workflow") from None


def tool_versions(records: dict[str, Path]) -> dict[str, str]:
    """Union of the tool versions the verification records hold (they ran in one venv, so they agree;
    if two ever differ, both are kept, joined by ' | ')."""
    return union_versions(read_record(path, role).get("tool_versions", {}) for role, path in sorted(records.items())
                          if role.endswith((".verify", ".verify-int8")) or ".cross_check" in role)


def union_versions(maps) -> dict[str, str]:
    """tool -> version maps joined into one; a tool with several versions keeps them all, sorted and joined
    by ' | ' (a map that is itself such a union is split first, so merging bundles gives the same text)."""
    seen: dict[str, set[str]] = {}
    for versions in maps:
        for tool, version in versions.items():
            seen.setdefault(tool, set()).update(version.split(" | "))
    return {tool: " | ".join(sorted(versions)) for tool, versions in sorted(seen.items())}


ARTIFACT_FIGURES = ("runtime", "precision", "bytes", "size_vs_ncnn_fp32", "vs_pytorch", "vs_fp32_ncnn",
                    "vs_ground_truth")


def artifacts(report: dict) -> list[dict]:
    """Each artifact's verdict and key figures (max abs error / PSNR vs PyTorch per resolution, PSNR
    / SSIM vs ground truth, int8 vs fp32), with the record they come from. Refuses a failed one."""
    out = []
    records = report.get("records", {})
    for row in report["artifacts"]:
        record = records.get(f"{row['key']}.verify")
        if not row["passed"]:
            raise ReleaseError(f"{record or row['key']}: the artifact {row['artifact']!r} failed verification; "
                               "a release bundle holds verified artifacts only (see its log in logs/)")
        out.append({"key": row["key"], "name": row["artifact"], "verified": row["passed"], "record": record,
                    **{k: row[k] for k in ARTIFACT_FIGURES if k in row}})
    for check in report.get("native_checks", []):
        if not check["passed"]:
            raise ReleaseError(f"native {check['target']} ({check['check']}, {check['precision']}) failed its "
                               "check; a release bundle holds verified binaries only (see logs/native/)")
    return out


# Bundled artifacts whose record the report has no row for.
RECORD_NAMES = {"onnx-dynamic": "ONNX any size (dynamic H/W)"}


def record_artifacts(records: dict[str, Path]) -> list[dict]:
    """Rows like the report's, read the report's way (rifebuild.report.page.record_row)."""
    from rifebuild.report.page import record_row

    out = []
    for key, path in sorted(records.items()):
        row = record_row(RECORD_NAMES.get(key, key), read_record(path, key))
        if not row["passed"]:
            raise ReleaseError(f"{path}: the artifact {row['artifact']!r} failed verification; a release bundle "
                               "holds verified artifacts only")
        artifact = Path(read_record(path, key)["artifact"])
        out.append({"key": key, "name": row["artifact"], "verified": True, "record": str(path),
                    "bytes": artifact.stat().st_size if artifact.is_file() else None,
                    **{k: row[k] for k in ARTIFACT_FIGURES if k in row}})
    return out


def build(models: list[str], files: dict[str, dict[str, Path | bytes]], names: dict[str, str], report: dict,
          config: dict, git: dict, epoch: int, records: dict[str, dict[str, Path]] | None = None) -> dict:
    """`files`: tarball kind (rife-v4.6-ncnn, native, ...) -> {path inside -> file or content}; `names`:
    kind -> tarball file name; `report`: the full report.json (rifebuild.report.run); `records`: model ->
    {key -> verification record of an artifact the report has no row for}."""
    records = records or {}
    missing = [m for m in models if m not in report.get("per_model", {})]
    if missing:
        raise ReleaseError(f"the report has no section for {', '.join(missing)}; re-run the report rule")
    entries, every_record = [], {}
    for model in models:
        page = report["per_model"][model]
        extra = records.get(model, {})
        every_record.update({f"{model}/{r}": Path(p) for r, p in page.get("records", {}).items()})
        every_record.update({f"{model}/{k}.verify": p for k, p in extra.items()})
        entries.append({"model": model, "checkpoint": checkpoint(page, config, model),
                        "artifacts": artifacts(page) + record_artifacts(extra),
                        "native_checks": page.get("native_checks", []), **ensemble_of(model)})
    tarballs = {}
    for kind, members in sorted(files.items()):
        model, base = kind_of(kind, models)
        tarballs[names[kind]] = {"kind": base, "model": model,
                                 "files": [file_entry(p, src) for p, src in sorted(members.items())]}
    return {
        "schema_version": SCHEMA_VERSION,
        "models": entries,
        "source_date_epoch": epoch,
        "git": git,
        "config": config,
        "config_sha256": config_sha256(config),
        "tool_versions": tool_versions(every_record),
        "tarballs": tarballs,
        "not_included": EXCLUDED,
    }


# A MANIFEST.json is tens of kB; anything near this is not one, and is never read whole.
SIZE_LIMIT = 16 << 20


def check(manifest, where: str) -> dict:
    """`manifest` against manifest.schema.json: what `release verify` relies on is there, with the right
    types, before anything reads it."""
    import jsonschema

    schema = json.loads(SCHEMA_PATH.read_text())
    try:
        error = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(manifest))
    except RecursionError:
        error = "it is nested too deeply"
    if error is not None:
        if not isinstance(error, str):
            at = "/".join(str(p) for p in error.absolute_path) or "the top level"
            error = f"at {at[:200]}: {' '.join(error.message.split())[:200]}"
        raise ReleaseError(f"{where}: not a rife-build MANIFEST.json (schema_version {SCHEMA_VERSION}) -- {error}; "
                           "download the bundle again")
    return manifest


def load(data: bytes, where: str) -> dict:
    """Parse and check a MANIFEST.json; anything malformed is one sentence naming `where`."""
    if len(data) > SIZE_LIMIT:
        raise ReleaseError(f"{where}: {len(data)} bytes, too large for a MANIFEST.json (at most {SIZE_LIMIT}); "
                           "download the bundle again")
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError) as exc:  # bad JSON or UTF-8, a 5000-digit number, 200k nested '['
        reason = ("nested too deeply" if isinstance(exc, RecursionError) else
                  "a number with thousands of digits" if "int_max_str_digits" in str(exc) else
                  " ".join(str(exc).split())[:160])
        raise ReleaseError(f"{where}: not valid JSON ({reason}); download the bundle again") from None
    return check(manifest, where)
