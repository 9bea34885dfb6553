"""Check a downloaded bundle -- its folder or one tarball -- against MANIFEST.json and SHA256SUMS,
naming every missing, extra or changed file rather than stopping at the first."""
from __future__ import annotations

from pathlib import Path

from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import sha256_of
from rifebuild.release import manifest as manifests
from rifebuild.release import sums, tarball

SUMS = "SHA256SUMS"
NOTES = "RELEASE_NOTES.md"


def compare_tarball(path: Path, entry: dict, manifest_bytes: bytes | None) -> list[str]:
    """Problems of one tarball against its manifest entry (and the bundle's manifest bytes, if any)."""
    name = path.name
    want = {f["path"]: f for f in entry["files"]}
    have = tarball.digests(path)
    inner = have.pop(manifests.NAME, None)
    problems = [f"missing: {name}: {p}" for p in sorted(set(want) - set(have))]
    problems += [f"extra: {name}: {p}" for p in sorted(set(have) - set(want))]
    for p in sorted(set(want) & set(have)):
        if have[p]["sha256"] != want[p]["sha256"] or have[p]["size"] != want[p]["size"]:
            problems.append(f"changed: {name}: {p} (sha256 {have[p]['sha256'][:12]}…, {have[p]['size']} bytes; "
                            f"manifest {want[p]['sha256'][:12]}…, {want[p]['size']} bytes)")
    if inner is None:
        problems.append(f"missing: {name}: {manifests.NAME}")
    elif manifest_bytes is not None and tarball.read_member(path, manifests.NAME) != manifest_bytes:
        problems.append(f"changed: {name}: {manifests.NAME} (differs from the bundle's {manifests.NAME})")
    return problems


def verify_tarball(path: Path) -> tuple[list[str], list[str]]:
    data = tarball.read_member(path, manifests.NAME)
    if data is None:
        raise ReleaseError(f"{path}: holds no {manifests.NAME}, so it is not a rife-build bundle tarball "
                           "(or it was repacked); download it again")
    manifest = manifests.load(data, f"{path}:{manifests.NAME}")
    entry = manifest["tarballs"].get(path.name)
    if entry is None:
        raise ReleaseError(f"{path}: its {manifests.NAME} lists no tarball of that name (it lists "
                           f"{', '.join(sorted(manifest['tarballs']))}); give the file its original name")
    problems = compare_tarball(path, entry, None)
    return ([] if problems else [f"ok: {path.name} ({len(entry['files'])} files)"]), problems


def verify_dir(folder: Path) -> tuple[list[str], list[str]]:
    manifest_path = folder / manifests.NAME
    if not manifest_path.is_file():
        raise ReleaseError(f"{folder}: has no {manifests.NAME}; point `release verify` at the bundle folder "
                           "(results/release/ or the downloaded release assets) or at one of its tarballs")
    data = manifest_path.read_bytes()
    manifest = manifests.load(data, str(manifest_path))
    ok, problems = [], []
    for name, entry in sorted(manifest["tarballs"].items()):
        path = folder / name
        if not path.is_file():
            problems.append(f"missing: {name}")
            continue
        found = compare_tarball(path, entry, data)
        problems += found
        if not found:
            ok.append(f"ok: {name} ({len(entry['files'])} files)")
    sums_path = folder / SUMS
    listed: dict[str, str] = {}
    if not sums_path.is_file():
        problems.append(f"missing: {SUMS}")
    else:
        listed = sums.parse(sums_path)
        for name in sorted(set(manifest["tarballs"]) | {manifests.NAME} - set(listed)):
            if name not in listed:
                problems.append(f"changed: {SUMS} (does not list {name})")
        for name, digest in sorted(listed.items()):
            path = folder / name
            if not path.is_file():
                if name not in manifest["tarballs"]:  # a missing tarball is already named above
                    problems.append(f"missing: {name}")
            elif sha256_of(path) != digest:
                problems.append(f"changed: {name} (sha256 differs from {SUMS})")
            elif name not in manifest["tarballs"]:
                ok.append(f"ok: {name}")
    known = set(manifest["tarballs"]) | set(listed) | {manifests.NAME, SUMS, NOTES}
    problems += [f"extra: {p.name}" for p in sorted(folder.iterdir()) if p.name not in known]
    return ok, problems


def verify(path: Path | str) -> tuple[list[str], list[str]]:
    """(lines for what matched, problems); a bundle that matches has no problems."""
    path = Path(path)
    if path.is_dir():
        return verify_dir(path)
    if path.is_file():
        return verify_tarball(path)
    raise ReleaseError(f"{path}: no such file or folder; give the bundle folder or one of its .tar.gz files")
