# Native runtime branch of the DAG: ncnn source -> slim static libncnn + rife-bench per target ->
# numeric checks (vs PyTorch; linux-arm64 under qemu vs host) and the latency benchmark.
# Final targets: NATIVE_BINARIES (need no model) and NATIVE_ALL (+ the checks and the benchmark).
from pathlib import Path

from rifebuild import native as _native

NATIVE = config["native"]
NATIVE_TARGETS = NATIVE["targets"] or _native.default_targets(NATIVE["android_ndk"])
NATIVE_SRC_DIR = f"{NATIVE['build_dir']}/src-{NATIVE['ncnn_sha256'][:12]}"
NATIVE_CODE = sorted(str(p) for p in (Path(workflow.basedir) / "native").rglob("*") if p.is_file() and p.suffix != ".md") + [
    str(Path(workflow.basedir) / "rifebuild" / "native.py")
]
NATIVE_BENCH_H, NATIVE_BENCH_W = NATIVE["bench"]["size"]
NATIVE_BENCH_RES = f"{NATIVE_BENCH_H}x{NATIVE_BENCH_W}"
# The ncnn-Python baseline needs a stock (GridSample) model baked at the benchmark size.
NATIVE_STOCK = f"{NCNN}-stock-{NATIVE_BENCH_RES}" if NATIVE_BENCH_RES in STOCK_RES else None
NATIVE_SOURCE_ARGS = (f"--version {NATIVE['ncnn_version']} --sha256 {NATIVE['ncnn_sha256']} --resources resources"
                      f" --build-dir '{NATIVE['build_dir']}'" + (f" --url '{NATIVE['ncnn_url']}'" if NATIVE["ncnn_url"] else ""))
NATIVE_BUILD_ARGS = (f"{NATIVE_SOURCE_ARGS} --source-dir '{NATIVE_SRC_DIR}' --host-isa {NATIVE['host_isa']}"
                     + (f" --ndk '{NATIVE['android_ndk']}'" if NATIVE["android_ndk"] else ""))
NATIVE_TIMING_ARGS = (f"--width {NATIVE_BENCH_W} --height {NATIVE_BENCH_H} --warmup {NATIVE['bench']['warmup']}"
                      f" --loops {NATIVE['bench']['loops']} --rounds {NATIVE['bench']['rounds']}"
                      " --threads " + " ".join(map(str, NATIVE["bench"]["threads"])))
NATIVE_BENCH_ARGS = NATIVE_TIMING_ARGS + (f" --stock-model {NATIVE_STOCK}" if NATIVE_STOCK else "")

NATIVE_BINARIES = [f"results/native/{t}/rife-bench" for t in NATIVE_TARGETS]
NATIVE_ALL = [
    *NATIVE_BINARIES,
    "results/native/host/verify.json",
    "results/native/host/bench.json",
    *[f"results/native/{t}/cross_check.json" for t in NATIVE_TARGETS if t == "linux-arm64"],
    # the int8 model (rules/int8.smk) through the native runtime: accuracy, arm64 vs host, int8 vs fp32 latency
    "results/native/host/verify-int8.json",
    "results/native/host/bench-int8.json",
    *[f"results/native/{t}/cross_check-int8.json" for t in NATIVE_TARGETS if t == "linux-arm64"],
]


wildcard_constraints:
    native_target="|".join(_native.TARGETS),


rule native_ncnn_source:
    output:
        f"{NATIVE_SRC_DIR}/.complete",
    params:
        args=NATIVE_SOURCE_ARGS,
    log:
        "logs/native/ncnn_source.log",
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.native source {params.args} > {log:q} 2>&1"


rule native_build:
    input:
        source=rules.native_ncnn_source.output,
        code=NATIVE_CODE,
    output:
        "results/native/{native_target}/rife-bench",
    params:
        args=NATIVE_BUILD_ARGS,
    log:
        "logs/native/{native_target}.build.log",
    benchmark:
        f"{BENCH}/native/{{native_target}}.build.tsv"
    threads: NATIVE["jobs"]
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "rm -f {log:q} && python -m rifebuild.native build --target {wildcards.native_target} --out {output:q}"
        " {params.args} --jobs {threads} --log {log:q} 2>> {log:q}"


rule native_verify:
    input:
        bin="results/native/host/rife-bench",
        param=f"{NCNN}/flownet.param",
        bin_=f"{NCNN}/flownet.bin",
        refs=expand("results/reference/{res}.npz", res=VERIFY_RES),
    output:
        "results/native/host/verify.json",
    params:
        tolerance=config["verify"]["fp32_max_abs_err"],
    log:
        "logs/native/host.verify.log",
    threads: 2
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.native verify --bin {input.bin:q} --model $(dirname {input.param:q}) --out {output:q}"
        " --tolerance {params.tolerance} {input.refs:q} > {log:q} 2>&1"


rule native_cross_check:
    input:
        host="results/native/host/rife-bench",
        bin="results/native/{native_target}/rife-bench",
        param=f"{NCNN}/flownet.param",
        bin_=f"{NCNN}/flownet.bin",
    output:
        "results/native/{native_target}/cross_check.json",
    log:
        "logs/native/{native_target}.cross_check.log",
    threads: 2
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.native cross-check --host-bin {input.host:q} --bin {input.bin:q}"
        " --target {wildcards.native_target} --model $(dirname {input.param:q}) --out {output:q} > {log:q} 2>&1"


rule native_bench:
    input:
        bin="results/native/host/rife-bench",
        param=f"{NCNN}/flownet.param",
        bin_=f"{NCNN}/flownet.bin",
        stock=multiext(f"{NATIVE_STOCK}/flownet", ".param", ".bin") if NATIVE_STOCK else [],
    output:
        "results/native/host/bench.json",
    params:
        args=NATIVE_BENCH_ARGS,
    log:
        "logs/native/host.bench.log",
    threads: max(NATIVE["bench"]["threads"])
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.native bench --bin {input.bin:q} --model $(dirname {input.param:q}) {params.args}"
        " --out {output:q} > {log:q} 2>&1"


rule native_verify_int8:
    input:
        bin="results/native/host/rife-bench",
        param=f"{INT8}/flownet.param",
        bin_=f"{INT8}/flownet.bin",
        refs=expand("results/reference/{res}.npz", res=VERIFY_RES),
    output:
        "results/native/host/verify-int8.json",
    params:
        min_psnr=config["int8"]["min_psnr_vs_fp32"],
    log:
        "logs/native/host.verify-int8.log",
    threads: 2
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.native verify --bin {input.bin:q} --model $(dirname {input.param:q}) --out {output:q}"
        " --precision int8 --min-psnr {params.min_psnr} {input.refs:q} > {log:q} 2>&1"


rule native_cross_check_int8:
    input:
        host="results/native/host/rife-bench",
        bin="results/native/{native_target}/rife-bench",
        param=f"{INT8}/flownet.param",
        bin_=f"{INT8}/flownet.bin",
    output:
        "results/native/{native_target}/cross_check-int8.json",
    params:
        min_psnr=config["int8"]["min_psnr_vs_fp32"],
    log:
        "logs/native/{native_target}.cross_check-int8.log",
    threads: 2
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.native cross-check --host-bin {input.host:q} --bin {input.bin:q} --precision int8"
        " --min-psnr {params.min_psnr} --target {wildcards.native_target} --model $(dirname {input.param:q})"
        " --out {output:q} > {log:q} 2>&1"


rule native_bench_int8:
    input:
        bin="results/native/host/rife-bench",
        param=f"{INT8}/flownet.param",
        bin_=f"{INT8}/flownet.bin",
        fp32_param=f"{NCNN}/flownet.param",
        fp32_bin=f"{NCNN}/flownet.bin",
    output:
        "results/native/host/bench-int8.json",
    params:
        args=NATIVE_TIMING_ARGS,
    log:
        "logs/native/host.bench-int8.log",
    threads: max(NATIVE["bench"]["threads"])
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.native bench --bin {input.bin:q} --model $(dirname {input.param:q}) {params.args}"
        " --precision int8 --baseline-model $(dirname {input.fp32_param:q}) --out {output:q} > {log:q} 2>&1"
