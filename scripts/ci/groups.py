#!/usr/bin/env python3
"""The nightly's matrix: every RIFE v4 version in one of a few groups, one hosted-runner job per group.

Versions that share an architecture (rifebuild.model.spec) stay in one job: they take the same path
through every converter, so a broken architecture fails one job, not several. Groups are then joined or
split so that each job's cost is similar; the cost of a version is about fixed + its FLOPs (GFLOP at
720p below, from `rifebuild report family`), since the reference, verification, int8 sensitivity and
benchmark passes all run the network. The nightly builds every version's ensemble variant too
(nightly.sh: `ensemble=[false,true]`; versions up to 4.20 and 4.24 have one), which runs every block
twice: about the fixed cost again + twice the version's FLOPs. Projected minutes per job on a 4-core
hosted runner (set-up ~8 + per model ~3 + 0.08 x GFLOP; scripts/ci/nightly.sh's header), plain + ensemble:
v4.0-4.4 53+75, v4.5-4.6 27+31, v4.7-4.9 37+48, v4.10-4.12 42+59, v4.13-4.17 53+79, v4.18-4.24 42+59,
v4.20-4.23 55+21, lite 65+74, v4.25-4.26 42+0; the run's wall time is the longest job (lite, ~140) + the merge.

Run with the system python3 (stdlib + rifebuild.model.spec, no venv), so the workflow's planning job
needs no set-up:
  groups.py matrix           `matrix=<JSON>` for $GITHUB_OUTPUT (include: [{group, models}])
  groups.py names [MODELS]   the groups holding any of MODELS (default all), one per line
  groups.py models GROUP [MODELS]  GROUP's versions (of MODELS), as snakemake's `models=[...]` value
MODELS: versions separated by commas or spaces, `all`, or group names (`lite`: every -lite version).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from rifebuild.core.errors import ConfigError  # noqa: E402
from rifebuild.model import spec  # noqa: E402

# name -> versions; GFLOP at 720p per architecture in the comments (sum per job, plain models, at the end of
# the line; an ensemble variant counts twice its version's)
GROUPS: dict[str, list[str]] = {
    # no encoder: 4.0/4.1 (PReLU) 75.5, 4.2-4.4 75.5                             -> 5 versions, 378
    "v4.0-4.4": ["rife-v4", "rife-v4.1", "rife-v4.2", "rife-v4.3", "rife-v4.4"],
    # no encoder, PixelShuffle heads: 4.5 78.3, 4.6 79.0                           -> 2 versions, 157
    "v4.5-4.6": ["rife-v4.5", "rife-v4.6"],
    # unnamed one-conv encoder (Sequential): 4.7-4.9 82.1                          -> 3 versions, 246
    "v4.7-4.9": ["rife-v4.7", "rife-v4.8", "rife-v4.9"],
    # unnamed three-conv encoder: 4.10-4.12 104.4                                  -> 3 versions, 313
    "v4.10-4.12": ["rife-v4.10", "rife-v4.11", "rife-v4.12"],
    # the 4.13 architecture (104.4 each), seven versions: split in two jobs       -> 4 versions, 418
    "v4.13-4.17": ["rife-v4.13", "rife-v4.14", "rife-v4.15", "rife-v4.17"],
    #                                                                               -> 3 versions, 313
    "v4.18-4.24": ["rife-v4.18", "rife-v4.19", "rife-v4.24"],
    # 4.20 114.4, 4.21-4.23 108.8 (block features, no ensemble)                   -> 4 versions, 441
    "v4.20-4.23": ["rife-v4.20", "rife-v4.21", "rife-v4.22", "rife-v4.23"],
    # every -lite: 63.9 (4.12/4.13), 70.5 (4.14), 49.5 (4.15-4.17), 47.8, 21.0    -> 8 versions, 415
    "lite": ["rife-v4.12-lite", "rife-v4.13-lite", "rife-v4.14-lite", "rife-v4.15-lite", "rife-v4.16-lite",
             "rife-v4.17-lite", "rife-v4.22-lite", "rife-v4.25-lite"],
    # five blocks (no ensemble): 4.25/4.26 43.7, 4.25-heavy 138.3, 4.26-heavy 49.7 -> 4 versions, 275
    "v4.25-4.26": ["rife-v4.25", "rife-v4.26", "rife-v4.25-heavy", "rife-v4.26-heavy"],
}


def selected(models: str) -> list[str]:
    """MODELS (version names, `all`, or group names such as `lite`) as version names; an unknown one exits
    2 naming it."""
    names: list[str] = []
    for word in models.replace(",", " ").split():
        if word == "all" or word in GROUPS:
            names += [m for group, listed in GROUPS.items() for m in listed if word in ("all", group)]
            continue
        try:
            names.append(spec.get(word).name)
        except ConfigError as exc:
            print(f"groups.py: MODELS: {exc}", file=sys.stderr)
            sys.exit(2)
    return list(dict.fromkeys(names))


def main(argv: list[str]) -> int:
    command, *rest = argv or ["help"]
    if command == "matrix":
        include = [{"group": name, "models": " ".join(models)} for name, models in GROUPS.items()]
        print("matrix=" + json.dumps({"include": include}, separators=(",", ":")))
    elif command == "names":
        wanted = set(selected(rest[0] if rest else "all"))
        print("\n".join(name for name, models in GROUPS.items() if wanted & set(models)))
    elif command == "models" and rest and rest[0] in GROUPS:
        wanted = set(selected(rest[1] if len(rest) > 1 else "all"))
        print("[" + ", ".join(m for m in GROUPS[rest[0]] if m in wanted) + "]")
    else:
        sys.exit(f"usage: groups.py matrix | names [MODELS] | models GROUP [MODELS] (groups: {', '.join(GROUPS)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
