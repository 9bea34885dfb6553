# Report: results/report.md + report.json from the records the other stages wrote (ROLE=PATH).
REPORT_INPUTS = {
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
    **{
        f"mnn-{v}.latency": f"{MNN}/{MNN_NAMES[v]}.latency.json"
        for v in config["mnn"]["variants"]
    },
    "native-host.verify": "results/native/host/verify.json",
    "native-host.verify-int8": "results/native/host/verify-int8.json",
    "native-host.bench": "results/native/host/bench.json",
    "native-host.bench-int8": "results/native/host/bench-int8.json",
    **{
        f"native-{t}.cross_check": f"results/native/{t}/cross_check.json"
        for t in CROSS_TARGETS
    },
    **{
        f"native-{t}.cross_check-int8": f"results/native/{t}/cross_check-int8.json"
        for t in CROSS_TARGETS
    },
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
