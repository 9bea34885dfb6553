# Native runtime branch of the DAG: ncnn source -> slim static libncnn + rife-bench per target ->
# numeric checks (vs PyTorch; linux-arm64 under qemu vs host) and the latency benchmark.
# Uses NCNN (the rife.Warp model dir), VERIFY_RES, STOCK_RES from rules/common.smk.
# Final targets: NATIVE_BINARIES (need no model) and NATIVE_ALL (+ the checks and the benchmark).
import sys
from pathlib import Path

from rifebuild import native as _native

NATIVE = _native.merged_config(config.get("native"))
NATIVE_TARGETS = NATIVE["targets"] or _native.default_targets(NATIVE["android_ndk"])
NATIVE_SRC_DIR = f"resources/ncnn/src-{NATIVE['ncnn_sha256'][:12]}"
NATIVE_CODE = sorted(str(p) for p in Path(workflow.current_basedir, "..", "native").resolve().rglob("*") if p.is_file())
NATIVE_PY = sys.executable
NATIVE_BENCH_RES = f"{NATIVE['bench']['height']}x{NATIVE['bench']['width']}"
# The ncnn-Python baseline needs a stock (GridSample) model baked at the benchmark size.
NATIVE_STOCK = f"{NCNN}-stock-{NATIVE_BENCH_RES}" if NATIVE_BENCH_RES in STOCK_RES else None

NATIVE_BINARIES = [f"results/native/{t}/rife-bench" for t in NATIVE_TARGETS]
NATIVE_ALL = NATIVE_BINARIES + ["results/native/host/verify.json", "results/native/host/bench.json"] + [
    f"results/native/{t}/cross_check.json" for t in NATIVE_TARGETS if t == "linux-arm64"
]


wildcard_constraints:
    native_target="|".join(_native.TARGETS),


rule native_ncnn_source:
    output:
        f"{NATIVE_SRC_DIR}/.complete",
    log:
        "logs/native/ncnn_source.log",
    params:
        url=f"--url {NATIVE['ncnn_url']}" if NATIVE["ncnn_url"] else "",
    shell:
        "{NATIVE_PY} -m rifebuild.native source --version {NATIVE[ncnn_version]} "
        "--sha256 {NATIVE[ncnn_sha256]} {params.url} > {log} 2>&1"


rule native_build:
    input:
        source=rules.native_ncnn_source.output,
        code=NATIVE_CODE,
        build_logic=Path(workflow.current_basedir, "..", "rifebuild", "native.py").resolve(),
    output:
        "results/native/{native_target}/rife-bench",
    log:
        "logs/native/{native_target}.build.log",
    benchmark:
        f"{BENCH}/native/{{native_target}}.build.tsv"
    threads: NATIVE["jobs"]
    params:
        ndk=f"--ndk {NATIVE['android_ndk']}" if NATIVE["android_ndk"] else "",
        url=f"--url {NATIVE['ncnn_url']}" if NATIVE["ncnn_url"] else "",
    shell:
        "rm -f {log} && {NATIVE_PY} -m rifebuild.native build --target {wildcards.native_target} --out {output} "
        "--version {NATIVE[ncnn_version]} --sha256 {NATIVE[ncnn_sha256]} {params.url} {params.ndk} "
        "--host-isa {NATIVE[host_isa]} --build-dir {NATIVE[build_dir]} --jobs {threads} --log {log} 2>> {log}"


rule native_verify:
    input:
        bin="results/native/host/rife-bench",
        model=multiext(f"{NCNN}/flownet", ".param", ".bin"),
        refs=expand("results/reference/{res}.npz", res=VERIFY_RES),
    output:
        "results/native/host/verify.json",
    log:
        "logs/native/host.verify.log",
    threads: 2
    shell:
        "{NATIVE_PY} -m rifebuild.native verify --bin {input.bin} --model {NCNN} --out {output} "
        "--tolerance {NATIVE[verify_tolerance]} {input.refs} > {log} 2>&1"


rule native_cross_check:
    input:
        host="results/native/host/rife-bench",
        bin="results/native/{native_target}/rife-bench",
        model=multiext(f"{NCNN}/flownet", ".param", ".bin"),
    output:
        "results/native/{native_target}/cross_check.json",
    log:
        "logs/native/{native_target}.cross_check.log",
    threads: 2
    shell:
        "{NATIVE_PY} -m rifebuild.native cross-check --host-bin {input.host} --bin {input.bin} "
        "--target {wildcards.native_target} --model {NCNN} --out {output} > {log} 2>&1"


rule native_bench:
    input:
        bin="results/native/host/rife-bench",
        model=multiext(f"{NCNN}/flownet", ".param", ".bin"),
        stock=multiext(f"{NATIVE_STOCK}/flownet", ".param", ".bin") if NATIVE_STOCK else [],
    output:
        "results/native/host/bench.json",
    log:
        "logs/native/host.bench.log",
    threads: max(NATIVE["bench"]["threads"])
    params:
        threads=" ".join(str(t) for t in NATIVE["bench"]["threads"]),
        stock=f"--stock-model {NATIVE_STOCK}" if NATIVE_STOCK else "",
    shell:
        "{NATIVE_PY} -m rifebuild.native bench --bin {input.bin} --model {NCNN} {params.stock} "
        "--width {NATIVE[bench][width]} --height {NATIVE[bench][height]} --threads {params.threads} "
        "--warmup {NATIVE[bench][warmup]} --loops {NATIVE[bench][loops]} --out {output} > {log} 2>&1"
