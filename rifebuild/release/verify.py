"""Check a downloaded bundle -- its folder or one tarball -- against MANIFEST.json and SHA256SUMS,
naming every missing, extra or changed file rather than stopping at the first."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import sha256_of
from rifebuild.release import manifest as manifests
from rifebuild.release import sums, tarball

SUMS = "SHA256SUMS"
NOTES = "RELEASE_NOTES.md"


def unsafe(member: tarball.Member) -> str | None:
    """Why extracting `member` could harm the machine (or None): a path out of the target folder, or a mode
    no bundle member has (set-id, sticky, writable by group or others)."""
    if member.name.startswith("/") or ".." in member.name.split("/"):
        return "a path outside the folder it is extracted to"
    if member.mode & 0o7022:
        return f"mode {member.mode & 0o7777:o}: set-id, sticky or writable by others"
    return None


def compare_tarball(path: Path, entry: dict, manifest_bytes: bytes | None) -> list[str]:
    """Problems of one tarball against its manifest entry (and the bundle's manifest bytes, if any): every
    member, folders included, is listed or named. Members are streamed and hashed in chunks, and none is
    read beyond the size the manifest declares for it."""
    name = path.name
    want = {f["path"]: f for f in entry["files"]}
    if len(want) != len(entry["files"]):
        raise ReleaseError(f"{path}: its MANIFEST.json entry lists a path twice; download the bundle again")
    folders = {"."} | {"/".join(p.split("/")[:i]) for p in want for i in range(1, p.count("/") + 1)}
    have: dict[str, tarball.Member] = {}
    inner, counts, bad, extra = None, Counter(), [], []
    for member in tarball.scan(path, {p: f["size"] for p, f in want.items()}, keep=manifests.NAME):
        shown = member.name + ("/" if member.folder else "")
        why = unsafe(member)
        if why:
            bad.append(f"unsafe: {name}: {shown} ({why})")
            continue
        counts[shown] += 1
        if member.folder:
            if member.name not in folders:
                extra.append(shown)
        elif member.name == manifests.NAME:
            inner = member
        elif member.name in want:
            have[member.name] = member  # the last one, as extracting leaves it
        else:
            extra.append(shown)
    problems = bad + [f"duplicate: {name}: {p} ({n} members of that name; extracting keeps the last)"
                      for p, n in counts.items() if n > 1]
    problems += [f"missing: {name}: {p}" for p in sorted(set(want) - set(have))]
    problems += [f"extra: {name}: {p}" for p in sorted(set(extra))]
    for p in sorted(set(want) & set(have)):
        got, declared = have[p], want[p]
        if got.sha256 is None:  # larger than declared: not read
            problems.append(f"changed: {name}: {p} ({got.size} bytes; manifest {declared['size']} bytes)")
        elif got.sha256 != declared["sha256"] or got.size != declared["size"]:
            problems.append(f"changed: {name}: {p} (sha256 {got.sha256[:12]}…, {got.size} bytes; "
                            f"manifest {declared['sha256'][:12]}…, {declared['size']} bytes)")
    if inner is None:
        problems.append(f"missing: {name}: {manifests.NAME}")
    elif manifest_bytes is not None and inner.data != manifest_bytes:
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
    if manifest_path.stat().st_size > manifests.SIZE_LIMIT:
        raise ReleaseError(f"{manifest_path}: {manifest_path.stat().st_size} bytes, too large for a "
                           f"{manifests.NAME}; download the bundle again")
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
    bom = folder / manifest["sbom"]["path"]
    if not bom.is_file():
        problems.append(f"missing: {bom.name}")
    elif bom.stat().st_size != manifest["sbom"]["size"] or sha256_of(bom) != manifest["sbom"]["sha256"]:
        problems.append(f"changed: {bom.name} (differs from {manifests.NAME})")
    known = set(manifest["tarballs"]) | set(listed) | {manifests.NAME, SUMS, NOTES, manifest["sbom"]["path"]}
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
