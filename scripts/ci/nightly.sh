#!/usr/bin/env bash
# The real build: official RIFE weights (sha256-pinned), every stage and verification, the release
# bundle (results/release/). .github/workflows/nightly.yml and release.yml run it; it runs the same
# way on a workstation:
#   ANDROID_NDK=/path/to/ndk WEIGHTS_SHA256=<sha256 of the rife-v4.6 release flownet_v4.6.pkl> scripts/ci/nightly.sh
#
# Environment:
#   ANDROID_NDK      required: an Android NDK folder (android-arm64 is part of the release)
#   WEIGHTS_SHA256   sha256 pin of the official weights; empty on a first run: the weights are
#                    downloaded, their sha256 printed (pin it), and the build goes on with it
#   RELEASE_TAG      set by release.yml for a tagged release (which must have the pin)
#   CORES            snakemake --cores (default 4, a hosted runner's size)
#   NIGHTLY_DRY_RUN  1: snakemake -n (plan only; no NDK needed, nothing downloaded or built)
#   SNAKEMAKE        snakemake to run (default .venv/bin/snakemake, which `make setup` installs)
#   RIFEBUILD_PYTHON the Python that runs `-m rifebuild release verify` (default .venv/bin/python)
# Any failed verification fails snakemake and so this script (exit status passed through).
set -euo pipefail
cd "$(dirname "$0")/../.."

WEIGHTS=resources/weights/rife-v4.6.pkl
CORES=${CORES:-4}
SNAKEMAKE=${SNAKEMAKE:-.venv/bin/snakemake}
RIFEBUILD_PYTHON=${RIFEBUILD_PYTHON:-.venv/bin/python}
WEIGHTS_SHA256=${WEIGHTS_SHA256:-}
RELEASE_TAG=${RELEASE_TAG:-}
DRY_RUN=${NIGHTLY_DRY_RUN:-0}

notice() {  # a line for the log; also an annotation on the run's page under GitHub Actions
  echo "nightly: $*"
  if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::notice title=rife-build nightly::$*"; fi
}
die() {  # die STATUS MESSAGE
  echo "nightly: error: $2" >&2
  if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::error title=rife-build nightly::$2"; fi
  exit "$1"
}

dry=()
if [ "$DRY_RUN" = 1 ]; then
  dry=(-n)
  notice "dry run (NIGHTLY_DRY_RUN=1): snakemake -n, the Android NDK is not required"
elif [ -z "${ANDROID_NDK:-}" ]; then
  die 2 "ANDROID_NDK is not set: point it to an Android NDK folder (one with build/cmake/android.toolchain.cmake), or set NIGHTLY_DRY_RUN=1 to only plan the build."
elif [ ! -f "$ANDROID_NDK/build/cmake/android.toolchain.cmake" ]; then
  die 2 "ANDROID_NDK=$ANDROID_NDK is not an Android NDK folder: it has no build/cmake/android.toolchain.cmake."
fi

WEIGHTS_SHA256=$(printf '%s' "$WEIGHTS_SHA256" | tr -d '[:space:]' | tr 'A-F' 'a-f')
if [ -n "$WEIGHTS_SHA256" ] && ! [[ $WEIGHTS_SHA256 =~ ^[0-9a-f]{64}$ ]]; then
  die 2 "WEIGHTS_SHA256 must be 64 hex digits (the sha256 of $WEIGHTS), but it is '$WEIGHTS_SHA256'."
fi
if [ -n "$RELEASE_TAG" ]; then
  [ -n "$WEIGHTS_SHA256" ] || die 2 "release $RELEASE_TAG needs the weights pin: set the repository variable RIFE_WEIGHTS_SHA256 (a nightly run without it prints the value)."
  notice "building release $RELEASE_TAG"
fi

make setup

if [ -z "$WEIGHTS_SHA256" ]; then
  notice "first run: no weights pin (WEIGHTS_SHA256 is empty); downloading the official weights unpinned"
  "$SNAKEMAKE" "$WEIGHTS" "${dry[@]}" --cores "$CORES" --config weights=official
  if [ -f "$WEIGHTS" ]; then
    sha256sum "$WEIGHTS"
    WEIGHTS_SHA256=$(sha256sum "$WEIGHTS" | cut -d' ' -f1)
    notice "pin these weights: set the repository variable RIFE_WEIGHTS_SHA256 to $WEIGHTS_SHA256 (Settings > Secrets and variables > Actions > Variables); this run goes on with it"
  else
    notice "dry run: $WEIGHTS not downloaded, so there is no sha256 to print"
  fi
fi

pin=()
if [ -n "$WEIGHTS_SHA256" ]; then pin=("weights_sha256=$WEIGHTS_SHA256"); fi
"$SNAKEMAKE" "${dry[@]}" --cores "$CORES" --config weights=official "${pin[@]}"

if [ "$DRY_RUN" != 1 ]; then
  [ -f results/release/SHA256SUMS ] || die 1 "the build finished without results/release/SHA256SUMS"
  [ -f results/release/RELEASE_NOTES.md ] || die 1 "the build finished without results/release/RELEASE_NOTES.md"
  (cd results/release && sha256sum --check --strict SHA256SUMS)
  # file by file against MANIFEST.json, the way a user checks a download (this checkout's code: -m)
  "$RIFEBUILD_PYTHON" -m rifebuild release verify results/release
  notice "release bundle ready: results/release/"
fi
