"""Release bundle: deterministic tarballs per runtime + MANIFEST.json + SHA256SUMS + notes, and their check."""
from __future__ import annotations

import json
from pathlib import Path

from rifebuild.core.args import PATH, action, parse_pairs
from rifebuild.core.errors import ReleaseError


def _pairs(values: list[str], flag: str) -> list[tuple[str, str]]:
    return parse_pairs(values, flag, ReleaseError)


def build(a) -> None:
    """Build the bundle from the finished workflow outputs; prints the manifest's tarball summary."""
    from rifebuild.core.config import validate
    from rifebuild.release.build import build_bundle
    from rifebuild.release.provenance import CHECKOUT

    files: dict[str, dict[str, Path]] = {}
    for key, source in _pairs(a.file, "--file"):
        kind, sep, inside = key.partition(":")
        if not sep or not inside:
            raise ReleaseError(f"--file takes KIND:PATH_IN_TARBALL=FILE, got {key}={source}")
        files.setdefault(kind, {})[inside] = Path(source)
    tarballs = {kind: Path(path) for kind, path in _pairs(a.tarball, "--tarball")}
    try:
        config = validate(json.loads(a.config_json))
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"--config-json is not JSON ({exc}); the release rule passes the effective config") from None
    records: dict[str, dict[str, Path]] = {}
    for key, path in _pairs(a.record, "--record"):
        model, sep, name = key.partition("/")
        if not sep or model not in a.model:
            raise ReleaseError(f"--record={key}={path}: name one of the --model values first (MODEL/KEY=RECORD)")
        records.setdefault(model, {})[name] = Path(path)
    if not a.model:
        raise ReleaseError("no --model given: pass --model=NAME for every model in the bundle")
    manifest = build_bundle(a.model, files, tarballs, a.report, config, a.repo or CHECKOUT, a.manifest, a.sums,
                            a.notes, records)
    for name, entry in sorted(manifest["tarballs"].items()):
        print(f"{name}: {len(entry['files'])} files, {sum(f['size'] for f in entry['files'])} bytes unpacked")
    print(f"commit {manifest['git']['commit']} (dirty: {manifest['git']['dirty']}), "
          f"SOURCE_DATE_EPOCH {manifest['source_date_epoch']}")


def merge(a) -> None:
    """Merge release folders built for disjoint model sets into one bundle (as one run of all of them gives)."""
    from rifebuild.release.merge import merge as merge_parts

    manifest = merge_parts(a.parts, a.out)
    print(f"{a.out}: {', '.join(m['model'] for m in manifest['models'])} ({len(manifest['tarballs'])} tarballs) "
          f"from {len(a.parts)} parts")


def verify(a) -> None:
    """Check a bundle folder or one tarball against its MANIFEST.json; name each missing/extra/changed file.

    A user downloads a bundle; sha256sum -c only says that a tarball changed, this says which file."""
    from rifebuild.release.verify import verify as check

    ok, problems = check(a.path)
    for line in ok + problems:
        print(line)
    if problems:
        counts = {kind: sum(p.startswith(f"{kind}:") for p in problems)
                  for kind in ("missing", "extra", "changed", "unsafe", "duplicate")}
        listed = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n or kind in ("missing", "extra", "changed"))
        raise ReleaseError(f"{a.path} does not match its MANIFEST.json: {listed} (listed above); download the "
                           "bundle again")
    print(f"{a.path}: matches its MANIFEST.json")


def register(actions) -> None:
    action(actions, "build", build,
           (["--model"], {"action": "append", "default": [], "metavar": "NAME",
                          "help": "a RIFE version in the bundle (repeat for each)"}),
           (["--file"], {"action": "append", "default": [], "metavar": "KIND:PATH_IN_TARBALL=FILE",
                         "help": "a file to bundle: tarball KIND, its path inside, the file"}),
           (["--tarball"], {"action": "append", "default": [], "metavar": "KIND=OUT.tar.gz",
                            "help": "a tarball to write, per KIND"}),
           (["--record"], {"action": "append", "default": [], "metavar": "MODEL/KEY=RECORD",
                           "help": "verification record of a bundled artifact the report has no row for"}),
           (["--report"], {**PATH, "help": "results/report.json (bundled without wall-clock timings)"}),
           (["--config-json"], {"help": "the effective config as JSON (recorded in the manifest)", "required": True}),
           (["--repo"], {"type": Path, "default": None,
                          "help": "the project checkout for the commit and its time (default: this code's)"}),
           (["--manifest"], {**PATH, "help": "MANIFEST.json to write"}),
           (["--sums"], {**PATH, "help": "SHA256SUMS to write"}),
           (["--notes"], {**PATH, "help": "RELEASE_NOTES.md to write"}))
    action(actions, "merge", merge,
           (["parts"], {"nargs": "+", "type": Path, "metavar": "PART",
                        "help": "a release folder built for some of the models (results/release/ of a run)"}),
           (["--out"], {**PATH, "help": "a new folder for the merged bundle"}))
    action(actions, "verify", verify,
           (["path"], {"type": Path, "metavar": "DIR_OR_TARBALL",
                       "help": "a folder of release assets or one tarball"}))
