#!/usr/bin/env bash
# The real build: official RIFE weights (each version checked against its pin in rifebuild/model/pins.yaml),
# every stage and verification, the release bundle. .github/workflows/build.yml runs one group of versions
# per hosted runner (NIGHTLY_GROUP) and merges the parts; on a workstation it runs the same groups one at
# a time and merges them:
#   ANDROID_NDK=/path/to/ndk MODELS=rife-v4.6,rife-v4.17-lite scripts/ci/nightly.sh   (or make nightly MODELS=...)
#
# Environment:
#   ANDROID_NDK      required: an Android NDK folder (android-arm64 is part of the release)
#   MODELS           versions to build (commas or spaces), all, or groups (lite); default all. They are built
#                    in the groups of scripts/ci/groups.py, one group at a time, each group's bundle kept in
#                    results/parts/<group>/release/, then merged into results/release/ (`rifebuild release merge`)
#   NIGHTLY_GROUP    build this one group of scripts/ci/groups.py only, its bundle in results/release/ (a
#                    matrix job of the workflow)
#   NIGHTLY_PARTS    build nothing: merge the bundles PARTS/*/release (the matrix jobs' downloaded parts)
#                    into results/release/ and check it (the workflow's merge job; no NDK needed)
#   RELEASE_TAG      set by release.yml for a tagged release: every version must have a sha256 pin
#                    (require_pins); a nightly downloads unpinned versions, prints their sha256 (a notice
#                    on the run's page) and marks them `unpinned` in MANIFEST.json and the notes
#   CORES            snakemake --cores (default 4, a hosted runner's size)
#   NIGHTLY_DRY_RUN  1: snakemake -n per group (plan only; no NDK needed, nothing downloaded, built or merged)
#   SNAKEMAKE        snakemake to run (default .venv/bin/snakemake, which `make setup` installs)
#   RIFEBUILD_PYTHON the Python that runs `-m rifebuild release verify|merge` (default .venv/bin/python)
# Any failed verification fails snakemake and so this script (exit status passed through).
#
# Expected time of one group on a 4-core hosted runner (projected, not measured there): ~8 min set-up with
# warm caches (a cold native build adds ~20: linux-arm64 13 min + ncnn source 6 min, measured on a loaded
# 2-core machine) plus per version ~3 min fixed (export, conversions, MNN) + ~0.08 min per GFLOP at 720p
# (references, verification, int8 sensitivity, benchmark): 42-72 min per group of scripts/ci/groups.py.
set -euo pipefail
cd "$(dirname "$0")/../.."

CORES=${CORES:-4}
SNAKEMAKE=${SNAKEMAKE:-.venv/bin/snakemake}
RIFEBUILD_PYTHON=${RIFEBUILD_PYTHON:-.venv/bin/python}
MODELS=${MODELS:-all}
NIGHTLY_GROUP=${NIGHTLY_GROUP:-}
NIGHTLY_PARTS=${NIGHTLY_PARTS:-}
RELEASE_TAG=${RELEASE_TAG:-}
DRY_RUN=${NIGHTLY_DRY_RUN:-0}
GROUPS_PY=scripts/ci/groups.py

notice() {  # a line for the log; also an annotation on the run's page under GitHub Actions
  echo "nightly: $*"
  if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::notice title=rife-build nightly::$*"; fi
}
die() {  # die STATUS MESSAGE
  echo "nightly: error: $2" >&2
  if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::error title=rife-build nightly::$2"; fi
  exit "$1"
}

check_bundle() {  # check_bundle DIR: the bundle as a user checks a download
  [ -f "$1/SHA256SUMS" ] || die 1 "the build finished without $1/SHA256SUMS"
  [ -f "$1/RELEASE_NOTES.md" ] || die 1 "the build finished without $1/RELEASE_NOTES.md"
  (cd "$1" && sha256sum --check --strict SHA256SUMS)
  # file by file against MANIFEST.json (this checkout's code: -m)
  "$RIFEBUILD_PYTHON" -m rifebuild release verify "$1"
}
merge() {  # merge PART...: one bundle in results/release/, checked
  rm -rf results/release
  "$RIFEBUILD_PYTHON" -m rifebuild release merge --out results/release "$@"
  check_bundle results/release
  notice "release bundle ready: results/release/ (merged from $# parts)"
}

if [ -n "$NIGHTLY_PARTS" ]; then
  parts=()
  for part in "$NIGHTLY_PARTS"/*/release; do [ -d "$part" ] && parts+=("$part"); done
  [ "${#parts[@]}" -gt 0 ] || die 2 "NIGHTLY_PARTS=$NIGHTLY_PARTS holds no part (no $NIGHTLY_PARTS/*/release folder)."
  make setup
  merge "${parts[@]}"
  exit 0
fi

dry=()
if [ "$DRY_RUN" = 1 ]; then
  dry=(-n)
  notice "dry run (NIGHTLY_DRY_RUN=1): snakemake -n, the Android NDK is not required"
elif [ -z "${ANDROID_NDK:-}" ]; then
  die 2 "ANDROID_NDK is not set: point it to an Android NDK folder (one with build/cmake/android.toolchain.cmake), or set NIGHTLY_DRY_RUN=1 to only plan the build."
elif [ ! -f "$ANDROID_NDK/build/cmake/android.toolchain.cmake" ]; then
  die 2 "ANDROID_NDK=$ANDROID_NDK is not an Android NDK folder: it has no build/cmake/android.toolchain.cmake."
fi

if [ -n "$NIGHTLY_GROUP" ]; then
  groups=("$NIGHTLY_GROUP")
  python3 "$GROUPS_PY" models "$NIGHTLY_GROUP" > /dev/null || die 2 "NIGHTLY_GROUP=$NIGHTLY_GROUP is not a group of $GROUPS_PY."
else
  listed=$(python3 "$GROUPS_PY" names "$MODELS") || die 2 "MODELS=$MODELS names no RIFE v4 version (see $GROUPS_PY)."
  mapfile -t groups <<< "$listed"
fi
pins=()
if [ -n "$RELEASE_TAG" ]; then
  pins=(require_pins=true)
  notice "building release $RELEASE_TAG: every version needs its sha256 pin in rifebuild/model/pins.yaml"
fi

make setup

parts=()
for group in "${groups[@]}"; do
  models=$(python3 "$GROUPS_PY" models "$group" "$MODELS")
  notice "group $group: $models"
  # host_isa fixed: every hosted runner has AVX2, some AVX-512; `auto` would give each matrix job its
  # own host rife-bench, and the merge refuses native tarballs that differ. (The int8 files do not depend
  # on the runner: calibration runs on the reference build, tests/test_isa.py.)
  "$SNAKEMAKE" "${dry[@]}" --cores "$CORES" --config weights=official "models=$models" "${pins[@]}" \
    "native={host_isa: avx2}"
  [ "$DRY_RUN" = 1 ] && continue
  check_bundle results/release
  if [ -z "$NIGHTLY_GROUP" ] && [ "${#groups[@]}" -gt 1 ]; then
    rm -rf "results/parts/$group" && mkdir -p "results/parts/$group" && cp -a results/release "results/parts/$group/"
    parts+=("results/parts/$group/release")
  fi
done

[ "$DRY_RUN" = 1 ] && exit 0
if [ "${#parts[@]}" -gt 1 ]; then
  merge "${parts[@]}"
else
  notice "release bundle ready: results/release/"
fi
