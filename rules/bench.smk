# Benchmark: every runtime timed in turns while no other job of the run is working, then figures and
# tables (rifebuild/bench/, README "Benchmark").
#
# Why the timed window runs alone, whatever --cores says: the bench job holds all of the run's cores
# (threads: all_cores), so Snakemake starts no other job while it runs, and none of its inputs (the
# model's artifacts, verification records, the any-size ONNX, every rife-bench) is still being built.
# The record says whether all cores were held (not when --max-threads caps the job), and
# tests/test_e2e.py checks that no other job's start-end overlaps it. A model's benchmark waits for its
# own model only: adding a model to `models:` re-runs none of the other models' jobs.


rule bench_run:
    input:
        unpack(bench_input),
    output:
        bench="results/bench/{model}/bench.json",
        phone="results/bench/{model}/phone.json",
    log:
        "logs/bench/{model}/run.log",
    benchmark:
        f"{BENCH}/bench/{{model}}/run.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: all_cores
    resources:
        mem_mb=8000,  # measured: 6.7 GB at the default config (11 processes alive at 736x1280)
    params:
        code=action_code("bench", "run"),
        roles=lambda wildcards: [
            f"--input={role}={path}"
            for role, path in bench_inputs(wildcards.model).items()
        ],
        sizes=lambda wildcards: bench_sizes(wildcards.model),
        threads=config["bench"]["threads"],
        variants=config["bench"]["variants"],
        warmup=config["bench"]["warmup"],
        rounds=config["bench"]["rounds"],
        cores=all_cores,
        serial=config["bench"]["adb_serial"],
        phone_threads=config["bench"]["phone"]["threads"],
        phone_loops=config["bench"]["phone"]["loops"],
        phone_rounds=config["bench"]["phone"]["rounds"],
        gpus=",".join(map(str, BENCH_GPUS)),
        gpu_frames=config["bench"]["gpu"]["frames"],
        gpu_jobs=config["bench"]["gpu"]["jobs"],
    shell:
        "rifebuild --threads={threads} bench run --model={wildcards.model:q} --sizes {params.sizes:q} --bench-threads {params.threads:q}"
        " --variants {params.variants:q} --warmup={params.warmup:q} --rounds={params.rounds:q}"
        " --cores={params.cores:q} --adb-serial={params.serial:q} --phone-threads {params.phone_threads:q}"
        " --phone-loops={params.phone_loops:q} --phone-rounds={params.phone_rounds:q} --gpu-devices={params.gpus:q}"
        " --gpu-frames={params.gpu_frames:q} --gpu-jobs={params.gpu_jobs:q}"
        " --out={output.bench:q} --phone-out={output.phone:q} {params.roles:q} > {log:q} 2>&1"


rule bench_plots:
    input:
        bench=rules.bench_run.output.bench,
        phone=rules.bench_run.output.phone,
    output:
        latency=report(
            "results/bench/{model}/latency.png",
            caption="captions/latency.rst",
            category="Benchmark",
            labels={"model": "{model}", "figure": "latency per variant"},
        ),
        quality=report(
            "results/bench/{model}/quality.png",
            caption="captions/quality.rst",
            category="Benchmark",
            labels={"model": "{model}", "figure": "quality vs latency"},
        ),
        size=report(
            "results/bench/{model}/size.png",
            caption="captions/size.rst",
            category="Benchmark",
            labels={"model": "{model}", "figure": "size per artifact"},
        ),
        latency_tsv=report(
            "results/bench/{model}/latency.tsv",
            caption="captions/latency_table.rst",
            category="Benchmark",
            labels={"model": "{model}", "table": "latency"},
        ),
        phone_tsv=report(
            "results/bench/{model}/phone.tsv",
            caption="captions/phone.rst",
            category="Benchmark",
            labels={"model": "{model}", "table": "phone"},
        ),
    log:
        "logs/bench/{model}/plots.log",
    benchmark:
        f"{BENCH}/bench/{{model}}/plots.tsv"
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=1000,
    params:
        code=action_code("bench", "plots"),
    shell:
        "rifebuild bench plots --bench={input.bench:q} --phone={input.phone:q} --latency-png={output.latency:q}"
        " --quality-png={output.quality:q} --size-png={output.size:q} --latency-tsv={output.latency_tsv:q}"
        " --phone-tsv={output.phone_tsv:q} > {log:q} 2>&1"
