"""Assemble results/release/ from finished outputs: manifest first (it goes inside every tarball),
then the tarballs, the notes (they quote the tarball sizes), and SHA256SUMS over all of them last.
Every file is written atomically, so a failed build leaves no bundle that looks complete."""
from __future__ import annotations

import json
from pathlib import Path

from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import atomic_write_bytes
from rifebuild.release import manifest as manifests
from rifebuild.release import notes, provenance, sbom, sums, tarball
from rifebuild.release.reproducible import strip_measurements


def bundled_report(report: dict) -> dict[str, bytes]:
    """report.json and report.md for the bundle, rendered by the report stage from the report without
    its wall-clock measurements."""
    from rifebuild.report.run import render_markdown

    data = manifests.dumps(strip_measurements(report))
    # report.md from report.json as bundled (keys sorted), as `release merge` reads it back: the same text
    return {"report.json": data, "report.md": render_markdown(json.loads(data)).encode()}


def build_bundle(models: list[str], files: dict[str, dict[str, Path]], tarballs: dict[str, Path], report_path: Path,
                 config: dict, repo: Path, manifest_out: Path, sums_out: Path, notes_out: Path,
                 records: dict[str, dict[str, Path]] | None = None) -> dict:
    """`files`: tarball kind -> {path inside the tarball -> file}; `tarballs`: kind -> output path (the
    `report` kind gets the bundled report); `records`: model -> verification records the report has no
    row for."""
    try:
        report = json.loads(Path(report_path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ReleaseError(f"{report_path}: not a readable report ({exc}); re-run the report rule") from None
    members: dict[str, dict[str, Path | bytes]] = {kind: dict(f) for kind, f in files.items()}
    if "report" in tarballs:
        members.setdefault("report", {}).update(bundled_report(report))
    unknown = sorted(set(members) - set(tarballs))
    if unknown:
        raise ReleaseError(f"files given for tarball(s) {', '.join(unknown)} without a --tarball KIND=PATH for them")
    for kind, entries in members.items():
        missing = [str(p) for p in entries.values() if isinstance(p, Path) and not p.is_file()]
        if missing:
            raise ReleaseError(f"{missing[0]}: missing, so the {kind} tarball cannot be built; run the workflow "
                               "(snakemake) to make it")
    epoch = provenance.source_date_epoch(repo)
    names = {kind: Path(path).name for kind, path in tarballs.items()}
    git = provenance.git_state(repo)
    manifest = manifests.build(models, {k: members.get(k, {}) for k in tarballs}, names, report, config, git, epoch,
                               records)
    targets = sorted({inside.split("/")[0] for inside in members.get("native", {})})
    bom = sbom.render(sbom.LOCK, config["native"], targets, git)
    manifest["sbom"] = manifests.file_entry(sbom.NAME, bom)
    manifest["build_machines"] = [provenance.build_machine()]
    write_bundle(manifest, {Path(path): members.get(kind, {}) for kind, path in tarballs.items()},
                 manifest_out, sums_out, notes_out, {sbom.NAME: bom})
    return manifest


def write_bundle(manifest: dict, tarballs: dict[Path, dict[str, Path | bytes]], manifest_out: Path, sums_out: Path,
                 notes_out: Path, beside: dict[str, bytes]) -> None:
    """The bundle's files from its manifest, each tarball's members (path inside -> file or content) and the
    files `beside` them (name -> content: the SBOM): the one writer of bundles, for `release build` and
    `release merge` alike, so both give the same bytes."""
    manifests.check(manifest, "the MANIFEST.json being built")  # what verify will require of it
    data = manifests.dumps(manifest)
    for path, members in sorted(tarballs.items()):
        tarball.write(path, {**members, manifests.NAME: data}, manifest["source_date_epoch"])
    for name, content in sorted(beside.items()):
        atomic_write_bytes(Path(manifest_out).parent / name, content)
    atomic_write_bytes(manifest_out, data)
    # the notes from MANIFEST.json as written (keys sorted), as `release merge` reads it back: the same text
    atomic_write_bytes(notes_out, notes.render(json.loads(data), {Path(p).name: Path(p).stat().st_size
                                                          for p in tarballs}).encode())
    listed = [Path(p) for p in tarballs] + [Path(manifest_out), Path(notes_out)]
    listed += [Path(manifest_out).parent / name for name in beside]
    if any(p.parent != Path(sums_out).parent for p in listed):
        raise ReleaseError(f"{sums_out}: SHA256SUMS must lie in the same folder as the tarballs, MANIFEST.json "
                           "and the release notes it lists")
    atomic_write_bytes(sums_out, sums.render(listed))
