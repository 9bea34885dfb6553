# Report: results/report.md + report.json from the records the other stages wrote (ROLE=PATH),
# the benchmark's record and its figures.
REPORT_INPUTS = {
    **RECORDS,
    "bench": rules.bench.output.bench,
    "bench.phone": rules.bench.output.phone,
    "bench.latency-figure": rules.bench_plots.output.latency,
    "bench.quality-figure": rules.bench_plots.output.quality,
    "bench.size-figure": rules.bench_plots.output.size,
}


rule report:
    input:
        **REPORT_INPUTS,
        code=code_files("report"),
    output:
        md="results/report.md",
        json="results/report.json",
    log:
        "logs/report/build.log",
    benchmark:
        f"{BENCH}/report/build.tsv"
    conda:
        "../envs/rifebuild.yaml"
    params:
        roles=[f"--input={role}={path}" for role, path in REPORT_INPUTS.items()],
        model=MODEL,
    shell:
        "rifebuild report build --model-name={params.model:q} --out-md={output.md:q}"
        " --out-json={output.json:q} {params.roles:q} > {log:q} 2>&1"
