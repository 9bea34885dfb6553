"""`release merge`: release folders built for disjoint model sets (one CI matrix job each) into the one
bundle that a single run building all of those models gives, byte for byte.

What a part holds for its own models (the per-model tarballs, the manifest's model entries) is taken as
it is; what a one-run bundle shares between models is checked or rebuilt: the native tarball must list
the same files in every part (one commit, one toolchain), the commit, SOURCE_DATE_EPOCH and the config
apart from `models` must agree, and the report tarball, the manifest, the notes and SHA256SUMS are
written again by the functions `release build` uses (the report from the parts' per-model pages, which
depend on their own version's records only). Models keep the order of the parts on the command line,
so merging A and B equals one run of `models: [A, B]`.
"""
from __future__ import annotations

import json
import tarfile
import tempfile
from pathlib import Path

from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import extract_tar
from rifebuild.release import manifest as manifests
from rifebuild.release import tarball
from rifebuild.release.build import bundled_report, write_bundle
from rifebuild.release.verify import NOTES, SUMS, verify_dir

# Manifest entries that a one-run bundle has once for all models: the parts must agree on them.
SHARED = ("schema_version", "source_date_epoch", "git", "not_included")
REPORT_JSON = "report.json"


def load_part(part: Path) -> dict:
    """The part's manifest, once the part matches it (a merged bundle is no better than its parts)."""
    if not part.is_dir():
        raise ReleaseError(f"{part}: not a folder; give the release folders (results/release/ of each run) to merge")
    _, problems = verify_dir(part)
    if problems:
        raise ReleaseError(f"{part}: does not match its MANIFEST.json ({problems[0]}; `rifebuild release verify "
                           f"{part}` lists all); build or download that part again")
    return manifests.load((part / manifests.NAME).read_bytes(), str(part / manifests.NAME))


def merged_config(parts: list[Path], loaded: list[dict]) -> dict:
    """The first part's config with every part's models: any other key that differs is refused."""
    first = loaded[0]["config"]
    for part, manifest in zip(parts[1:], loaded[1:]):
        config = manifest["config"]
        keys = sorted(k for k in set(first) | set(config) if k != "models" and first.get(k) != config.get(k))
        if keys:
            raise ReleaseError(f"{part}: its config differs from {parts[0]}'s in {', '.join(keys)}; merge parts "
                               "built with one config that differ in `models` only")
    return {**first, "models": [m for manifest in loaded for m in manifest["config"]["models"]]}


def check_shared(parts: list[Path], loaded: list[dict]) -> None:
    for part, manifest in zip(parts[1:], loaded[1:]):
        for key in SHARED:
            if manifest.get(key) != loaded[0].get(key):
                raise ReleaseError(f"{part}: its MANIFEST.json's {key} differs from {parts[0]}'s; merge parts built "
                                   "from one commit (and one SOURCE_DATE_EPOCH) only")
        if manifest["sbom"] != loaded[0]["sbom"]:
            raise ReleaseError(f"{manifest['sbom']['path']}: differs between {parts[0]} and {part} (another Python "
                               "environment, ncnn source or compiler); merge parts built with one toolchain only")
    seen: dict[str, Path] = {}
    for part, manifest in zip(parts, loaded):
        for entry in manifest["models"]:
            if entry["model"] in seen:
                raise ReleaseError(f"{entry['model']} is in both {seen[entry['model']]} and {part}; merge parts "
                                   "built for disjoint model sets")
            seen[entry["model"]] = part


def shared_tarball(name: str, entries: list[tuple[Path, dict]]) -> dict:
    """The entry of a tarball every part has (the native binaries): the same files in each, or refused
    naming the files that differ."""
    (first_part, first), rest = entries[0], entries[1:]
    want = {f["path"]: f for f in first["files"]}
    for part, entry in rest:
        have = {f["path"]: f for f in entry["files"]}
        differ = sorted(p for p in set(want) | set(have) if want.get(p) != have.get(p))
        if differ:
            raise ReleaseError(f"{name}: {', '.join(differ[:5])} differ(s) between {first_part} and {part}; the parts "
                               "must share one native build (one commit and toolchain) to be merged")
    return first


def machines(loaded: list[dict]) -> list[dict]:
    """Every part's build machine once, in a fixed order: parts built on one kind of runner give the one
    machine a single run on it records."""
    unique = {json.dumps(m, sort_keys=True): m for manifest in loaded for m in manifest["build_machines"]}
    return [unique[key] for key in sorted(unique)]


def extract(path: Path, folder: Path, entry: dict) -> dict[str, Path]:
    """The listed members of a part's tarball as files in `folder` (modes kept: rife-bench stays executable)."""
    with tarfile.open(path, mode="r:gz") as tar:
        extract_tar(tar, folder)
    return {f["path"]: folder / f["path"] for f in entry["files"]}


def merge(parts: list[Path], out: Path) -> dict:
    """Write the merged bundle of `parts` into `out` (a new or empty folder); returns its manifest."""
    parts = [Path(p) for p in parts]
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseError(f"{out}: exists and is not an empty folder; give --out a new folder for the merged bundle")
    loaded = [load_part(part) for part in parts]
    check_shared(parts, loaded)
    config = merged_config(parts, loaded)
    out.parent.mkdir(parents=True, exist_ok=True)
    entries: dict[str, dict] = {}
    shared: dict[str, list[tuple[Path, dict]]] = {}
    pages: dict[str, dict] = {}
    members: dict[Path, dict[str, Path | bytes]] = {}
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}.merge-") as tmp:
        for index, (part, manifest) in enumerate(zip(parts, loaded)):
            for name, entry in sorted(manifest["tarballs"].items()):
                if entry["kind"] == "report":
                    report = json.loads(report_json(part / name))
                    pages.update(report["per_model"])
                elif entry["model"] is None:
                    shared.setdefault(name, []).append((part, entry))
                    if len(shared[name]) == 1:
                        members[out / name] = extract(part / name, Path(tmp) / str(index) / name, entry)
                else:
                    entries[name] = entry
                    members[out / name] = extract(part / name, Path(tmp) / str(index) / name, entry)
        for name, found in shared.items():
            if len(found) != len(parts):
                raise ReleaseError(f"{name}: in {len(found)} of the {len(parts)} parts; every part of one config "
                                   "has the same shared tarballs")
            entries[name] = shared_tarball(name, found)
        models = [entry["model"] for manifest in loaded for entry in manifest["models"]]
        unreported = [m for m in models if m not in pages]
        if unreported:
            raise ReleaseError(f"{', '.join(unreported)}: no page in any part's report tarball, so the merged report "
                               "would leave it out; build that part again")
        report_names = [name for name, e in loaded[0]["tarballs"].items() if e["kind"] == "report"]
        if report_names:
            from rifebuild.report.run import assemble

            files = bundled_report(assemble({m: pages[m] for m in models}))
            members[out / report_names[0]] = files
            entries[report_names[0]] = {"kind": "report", "model": None,
                                        "files": [manifests.file_entry(p, d) for p, d in sorted(files.items())]}
        manifest = {**loaded[0], "models": [e for m in loaded for e in m["models"]], "config": config,
                    "config_sha256": manifests.config_sha256(config),
                    "tool_versions": manifests.union_versions(m["tool_versions"] for m in loaded),
                    "tarballs": entries, "build_machines": machines(loaded)}
        bom = loaded[0]["sbom"]["path"]
        out.mkdir(exist_ok=True)
        write_bundle(manifest, members, out / manifests.NAME, out / SUMS, out / NOTES,
                     {bom: (parts[0] / bom).read_bytes()})
    _, problems = verify_dir(out)
    if problems:  # the writer's own check: never leave a merged bundle that verify would refuse
        raise ReleaseError(f"{out}: the merged bundle does not match its MANIFEST.json ({problems[0]})")
    return manifest


def report_json(path: Path) -> bytes:
    data = tarball.read_member(path, REPORT_JSON)
    if data is None:
        raise ReleaseError(f"{path}: holds no {REPORT_JSON}, so its report cannot be merged; build that part again")
    return data
