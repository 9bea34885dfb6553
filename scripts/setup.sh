#!/usr/bin/env bash
# Idempotent set-up of everything rife-build needs: Debian packages (only the missing ones) and the
# project venv (.venv) with pinned versions. Fast when nothing changed (a stamp holds the pin hash).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(cmake g++ make crossbuild-essential-arm64 qemu-user-static)

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

stamp=.venv/.rifebuild-setup
want=$(cat requirements.txt constraints.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  # torch first and alone, pinned to the CPU build, so no other package can pull a CUDA torch.
  .venv/bin/python -m pip install -q torch==2.13.0
  .venv/bin/python -m pip install -q -r requirements.txt -c constraints.txt
  .venv/bin/python -m pip install -q --no-deps -e .
  echo "$want" > "$stamp"
fi
echo "setup: ok (.venv ready; activate with: source .venv/bin/activate)"
