# Report: results/report.md + report.json from every model's records (MODEL/ROLE=PATH), its
# benchmark record and figures: one row per model, then a section per model.


REPORT_INPUTS = {
    f"{model}/{role}": path
    for model in MODELS
    for role, path in report_inputs(model).items()
}


rule report:
    input:
        **REPORT_INPUTS,
    output:
        md="results/report.md",
        json="results/report.json",
    log:
        "logs/report/build.log",
    benchmark:
        f"{BENCH}/report/build.tsv"
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=1000,
    params:
        code=action_code("report", "build"),
        roles=[f"--input={role}={path}" for role, path in REPORT_INPUTS.items()],
    shell:
        "rifebuild report build --out-md={output.md:q} --out-json={output.json:q} {params.roles:q}"
        " > {log:q} 2>&1"
