# Benchmark: every runtime timed in turns while no other job of the run is working, then figures and
# tables (rifebuild/bench/, README "Benchmark").
#
# Why the timed window runs alone, whatever --cores says: the bench job waits for every artifact and
# verification record of the default target (RECORDS, the any-size ONNX, every rife-bench) and holds
# all of the run's cores (threads: all_cores), so Snakemake starts no other job while it runs; only
# the figures and the report, which need its record, come after it. The record says whether all
# cores were held (not when --max-threads caps the job), and tests/test_e2e.py checks that no other
# job's start-end overlaps it.
#
# Every artifact and verification record of the default target, by role (ROLE=PATH): the benchmark
# starts after all of them, and the report reads them (rifebuild/report/page.py lists the roles).
RECORDS = {
    "checkpoint": CHECKPOINT,
    "onnx.verify": "results/export/flownet.onnx.verify.json",
    "onnx.model": "results/export/flownet.onnx",
    "ncnn-fp32.verify": f"{NCNN}/verify.json",
    "ncnn-fp32.model": f"{NCNN}/flownet.bin",
    "ncnn-fp16.verify": f"{NCNN}-fp16/verify.json",
    "ncnn-fp16.model": f"{NCNN}-fp16/flownet.bin",
    **{
        f"ncnn-stock-{res}.verify": f"{NCNN}-stock-{res}/verify.json"
        for res in STOCK_RES
    },
    **{
        f"ncnn-stock-{res}.model": f"{NCNN}-stock-{res}/flownet.bin"
        for res in STOCK_RES
    },
    "ncnn-int8.verify": f"{INT8}/verify.json",
    "ncnn-int8.model": f"{INT8}/flownet.bin",
    "ncnn-int8.quantize": f"{INT8}/quantize.json",
    "ncnn-int8.calibration": f"{INT8}/calibration.json",
    "ncnn-int8.sensitivity": f"{INT8}/sensitivity.tsv",
    **{
        f"mnn-{v}.verify": f"{MNN}/{MNN_NAMES[v]}.verify.json"
        for v in config["mnn"]["variants"]
    },
    **{
        f"mnn-{v}.model": f"{MNN}/{MNN_NAMES[v]}.mnn" for v in config["mnn"]["variants"]
    },
    "native-host.verify": "results/native/host/verify.json",
    "native-host.verify-int8": "results/native/host/verify-int8.json",
    **{
        f"native-{t}.cross_check": f"results/native/{t}/cross_check.json"
        for t in CROSS_TARGETS
    },
    **{
        f"native-{t}.cross_check-int8": f"results/native/{t}/cross_check-int8.json"
        for t in CROSS_TARGETS
    },
}
BENCH_INPUTS = {
    **RECORDS,
    "onnx-dynamic.model": f"{MNN}/flownet-dynamic.onnx",
    "onnx-dynamic.check": f"{MNN}/flownet-dynamic.check.json",
    **{f"native-{t}.binary": f"results/native/{t}/rife-bench" for t in NATIVE_TARGETS},
}
BENCH_SIZES = list(
    dict.fromkeys([f"{h}x{w}" for h, w in config["bench"]["sizes"]] + [EXPORT_RES])
)


rule bench:
    input:
        **BENCH_INPUTS,
        code=code_files("bench"),
    output:
        bench="results/bench/bench.json",
        phone="results/bench/phone.json",
    log:
        "logs/bench/run.log",
    benchmark:
        f"{BENCH}/bench/run.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: all_cores
    resources:
        mem_mb=8000,  # measured: 6.7 GB at the default config (11 processes alive at 736x1280)
    params:
        roles=[f"--input={role}={path}" for role, path in BENCH_INPUTS.items()],
        sizes=BENCH_SIZES,
        threads=config["bench"]["threads"],
        variants=config["bench"]["variants"],
        warmup=config["bench"]["warmup"],
        rounds=config["bench"]["rounds"],
        cores=all_cores,
        serial=config["bench"]["adb_serial"],
        phone_threads=config["bench"]["phone"]["threads"],
        phone_loops=config["bench"]["phone"]["loops"],
        phone_rounds=config["bench"]["phone"]["rounds"],
    shell:
        "rifebuild --threads={threads} bench run --sizes {params.sizes:q} --bench-threads {params.threads:q}"
        " --variants {params.variants:q} --warmup={params.warmup:q} --rounds={params.rounds:q}"
        " --cores={params.cores:q} --adb-serial={params.serial:q} --phone-threads {params.phone_threads:q}"
        " --phone-loops={params.phone_loops:q} --phone-rounds={params.phone_rounds:q}"
        " --out={output.bench:q} --phone-out={output.phone:q} {params.roles:q} > {log:q} 2>&1"


rule bench_plots:
    input:
        bench=rules.bench.output.bench,
        phone=rules.bench.output.phone,
        code=code_files("bench"),
    output:
        latency=report(
            "results/bench/latency.png",
            caption="captions/latency.rst",
            category="Benchmark",
            labels={"figure": "latency per variant"},
        ),
        quality=report(
            "results/bench/quality.png",
            caption="captions/quality.rst",
            category="Benchmark",
            labels={"figure": "quality vs latency"},
        ),
        size=report(
            "results/bench/size.png",
            caption="captions/size.rst",
            category="Benchmark",
            labels={"figure": "size per artifact"},
        ),
        latency_tsv=report(
            "results/bench/latency.tsv",
            caption="captions/latency_table.rst",
            category="Benchmark",
            labels={"table": "latency"},
        ),
        phone_tsv=report(
            "results/bench/phone.tsv",
            caption="captions/phone.rst",
            category="Benchmark",
            labels={"table": "phone"},
        ),
    log:
        "logs/bench/plots.log",
    benchmark:
        f"{BENCH}/bench/plots.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "rifebuild bench plots --bench={input.bench:q} --phone={input.phone:q} --latency-png={output.latency:q}"
        " --quality-png={output.quality:q} --size-png={output.size:q} --latency-tsv={output.latency_tsv:q}"
        " --phone-tsv={output.phone_tsv:q} > {log:q} 2>&1"
