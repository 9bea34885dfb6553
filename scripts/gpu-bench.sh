#!/usr/bin/env bash
# Build rife-bench for host-vulkan on a machine with a GPU (all cores) and time fp32/fp16/int8 there:
# single frame and interpolate throughput at 256x448, 736x1280, 1088x1920 (rifebuild/native/gpu_bench.py).
# Needs cmake, a C++ compiler, python3 with numpy and a Vulkan loader + driver; nothing else of the project.
# usage: scripts/gpu-bench.sh NCNN_SOURCE_DIR FP32_MODEL_DIR INT8_MODEL_DIR OUT_DIR [CHECKPOINT]
#   NCNN_SOURCE_DIR: the unpacked ncnn sdist (build/native/src-*/ncnn-<version>), its glslang/ included.
#   CHECKPOINT: the models' flownet.pkl: PyTorch references at 256x448 and 736x1280 (torch needed) and
#   each precision's error on this GPU against them.
set -euo pipefail
if [ $# -ne 4 ] && [ $# -ne 5 ]; then
    echo "usage: $0 NCNN_SOURCE_DIR FP32_MODEL_DIR INT8_MODEL_DIR OUT_DIR [CHECKPOINT]" >&2
    exit 2
fi
src=$(realpath "$1") model=$(realpath "$2") int8=$(realpath "$3") out=$4
repo=$(cd "$(dirname "$0")/.." && pwd)
build=${RIFE_GPU_BUILD_DIR:-/tmp/rife-gpu-build}
mkdir -p "$out" "$build"
export PYTHONPATH=$repo${PYTHONPATH:+:$PYTHONPATH}
python3 -c 'import sys, json, os
from rifebuild.native.build import build_target
print(json.dumps(build_target("host-vulkan", sys.argv[1], os.path.basename(sys.argv[1]).split("-")[-1],
                              sys.argv[2] + "/rife-bench", sys.argv[2], jobs=os.cpu_count())))' "$src" "$build"
refs=()
if [ $# -eq 5 ]; then
    python3 -c 'import sys
from rifebuild.checkpoint.load import load_ifnet
from rifebuild.evaluate.reference import write_reference
net = load_ifnet(sys.argv[1])
for h, w in ((256, 448), (736, 1280)):
    write_reference(net, h, w, 0, 0.5, f"{sys.argv[2]}/ref-{h}x{w}.npz")' "$5" "$build"
    refs=(--references "$build/ref-256x448.npz" "$build/ref-736x1280.npz")
fi
python3 -m rifebuild.native.gpu_bench --bin "$build/rife-bench" --model-dir "$model" --int8-model-dir "$int8" \
    "${refs[@]}" --out "$out/gpu-bench.json" | tee "$out/gpu-bench.md"
