"""The checkpoint's provenance record (results/checkpoint/<model>/flownet.json), written by the job that
placed the checkpoint: what the weights are (official download, local file or synthetic), where they
came from, and the sha256 of the file it wrote.

The report and the release take the checkpoint's provenance from this record only, never from the
config of the day: a run whose config changed after the checkpoint was built could otherwise name
weights that built nothing. The config's intent (`intended`) is what the rule passes as params, so a
changed `weights`, `weights_url`, `weights_sha256`, pins file entry or `synthetic_seed` re-runs the job;
`mismatch` is the release's last check that the two still agree. An official download records its pin
status (`pin`: the sha256 it was checked against, or `unpinned` when it was trusted on first use), which
MANIFEST.json and the notes repeat.
"""
from __future__ import annotations

import json
from pathlib import Path

from rifebuild.core.errors import CheckpointError
from rifebuild.core.files import atomic_write_json, sha256_of

KINDS = ("official", "local", "synthetic")
# what names the weights for each kind (besides the kind itself)
SOURCE_KEYS = {"official": ("url", "sha256_pin", "pin"), "local": ("path",), "synthetic": ("seed",)}


def record_path(checkpoint: Path | str) -> Path:
    """flownet.pkl -> flownet.json beside it."""
    return Path(checkpoint).with_suffix(".json")


def intended(config: dict, model: str) -> dict:
    """What the config asks the checkpoint of `model` to be built from (kind and source, no hash)."""
    weights = config["weights"]
    if weights == "synthetic":
        return {"kind": "synthetic", "seed": config["synthetic_seed"]}
    if weights == "official":
        from rifebuild.model import pins

        pin = pins.official(config, model)  # the pins file's entry, with weights_url / weights_sha256 over it
        return official(pin.url, pin.sha256)
    return {"kind": "local", "path": weights}


def official(url: str, sha256_pin: str | None) -> dict:
    """The source of an official download from `url`, checked against `sha256_pin` (None: unpinned)."""
    return {"kind": "official", "url": url, "sha256_pin": sha256_pin or None, "pin": sha256_pin or "unpinned"}


def write(out: Path | str, checkpoint: Path | str, model: str, source: dict) -> dict:
    """Record `checkpoint` (the file just written) as built from `source` (an `intended` dict)."""
    record = {"model": model, **source, "file": Path(checkpoint).name, "sha256": sha256_of(checkpoint)}
    atomic_write_json(out, record)
    return record


def read(path: Path | str, checkpoint: Path | str | None = None) -> dict:
    """The record at `path`; with `checkpoint`, also checked to describe that very file (its sha256)."""
    path = Path(path)
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint record ({exc}); re-run the checkpoint job "
                              "(snakemake --forcerun prepare_checkpoint)") from None
    kind = record.get("kind") if isinstance(record, dict) else None
    needed = ("model", "kind", "sha256", *SOURCE_KEYS.get(kind, ()))
    if kind not in KINDS or any(k not in record for k in needed):
        raise CheckpointError(f"{path}: not a checkpoint record (needs {', '.join(needed)} with kind one of "
                              f"{', '.join(KINDS)}); re-run the checkpoint job (snakemake --forcerun prepare_checkpoint)")
    if checkpoint is not None and sha256_of(checkpoint) != record["sha256"]:
        raise CheckpointError(f"{checkpoint}: its sha256 is not the one its record {path} names, so the file "
                              "changed after the checkpoint job; re-run it (snakemake --forcerun prepare_checkpoint)")
    return record


def describe(source: dict) -> str:
    """`source` (a record or an `intended` dict) in words."""
    if source["kind"] == "synthetic":
        return f"synthetic weights (seed {source['seed']})"
    if source["kind"] == "official":
        trust = "" if source.get("sha256_pin") else " (unpinned: trusted on first use, no sha256 pin)"
        return f"the official download {source['url']}{trust}"
    return f"the local file {source['path']}"


def mismatch(record: dict, config: dict) -> str | None:
    """Why `record` is not what `config` asks for now (naming the key), or None when they agree."""
    want = intended(config, record["model"])
    have = {k: record.get(k) for k in ("kind", *SOURCE_KEYS[record["kind"]])}
    if have == want:
        return None
    keys = {"synthetic": "synthetic_seed", "official": "weights_url` / `weights_sha256"}
    key = "weights" if want["kind"] != have["kind"] or want["kind"] == "local" else keys[want["kind"]]
    return (f"the {record['model']} checkpoint was built from {describe(record)}, but `{key}` now asks for "
            f"{describe(want)}; re-run the workflow so the checkpoint is rebuilt (snakemake --forcerun "
            "prepare_checkpoint), or set the config back")
