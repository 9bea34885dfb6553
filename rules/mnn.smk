# MNN branch: dynamic-shape ONNX -> fp32 / fp16 / weight-int8 / full-int8 .mnn, each verified at
# every verify resolution. MNN's converter/quantizer run through rifebuild.mnn_tools (no telemetry).
MNN = f"results/mnn/{MODEL}"
MNN_CFG = config["mnn"]
MNN_NAMES = {"fp32": "flownet", "fp16": "flownet-fp16", "wq8": "flownet-wq8", "int8": "flownet-int8"}
MNN_VARIANT = {name: variant for variant, name in MNN_NAMES.items()}
# By default MNN calibrates and evaluates on the same splits as the ncnn int8 branch (rules/int8.smk).
CAL_SPLIT = f"{rules.calibration_data.output[0]}/calibration/{CAL_RES}"
EVAL_SPLIT = f"{rules.calibration_data.output[0]}/evaluation/{CAL_RES}"
MNN_FRAMES_INPUT = MNN_CFG["int8"]["calibration_dir"] or rules.calibration_data.output[0]
MNN_FRAMES = MNN_CFG["int8"]["calibration_dir"] or CAL_SPLIT
MNN_EVAL_INPUT = MNN_CFG["eval_dir"] or rules.calibration_data.output[0]
MNN_EVAL = MNN_CFG["eval_dir"] or EVAL_SPLIT

MNN_ALL = [
    f"{MNN}/flownet-dynamic.check.json",
    *[f"{MNN}/{MNN_NAMES[v]}.verify.json" for v in MNN_CFG["variants"]],
]
MNN_BENCH = [f"{MNN}/{MNN_NAMES[v]}.latency.json" for v in MNN_CFG["variants"]]


rule mnn_onnx:
    input:
        checkpoint="results/checkpoint/flownet.pkl",
        references=expand("results/reference/{res}.npz", res=VERIFY_RES),
    output:
        onnx=f"{MNN}/flownet-dynamic.onnx",
        check=f"{MNN}/flownet-dynamic.check.json",
    params:
        opset=config["export"]["onnx_opset"],
        bound=config["verify"]["onnx_max_abs_err"],
    log:
        "logs/mnn/onnx.log",
    benchmark:
        f"{BENCH}/mnn/onnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.mnn onnx --weights {input.checkpoint:q} --reference {input.references:q}"
        " --opset {params.opset} --max-abs-err {params.bound} --out {output.onnx:q} --check-out {output.check:q}"
        " > {log:q} 2>&1"


rule mnn_convert:
    input:
        rules.mnn_onnx.output.onnx,
    output:
        f"{MNN}/{{mnn_float}}.mnn",
    wildcard_constraints:
        mnn_float=r"flownet(-fp16|-wq8)?",
    params:
        variant=lambda wildcards: MNN_VARIANT[wildcards.mnn_float],
    log:
        "logs/mnn/{mnn_float}.log",
    benchmark:
        f"{BENCH}/mnn/{{mnn_float}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.mnn convert --onnx {input:q} --variant {params.variant} --out {output:q}"
        " --log {log:q}.tool > {log:q} 2>&1"


rule mnn_calibration:
    input:
        MNN_FRAMES_INPUT,
    output:
        directory("results/mnn/calibration"),
    params:
        frames=MNN_FRAMES,
        size=CAL_RES,
        max_samples=MNN_CFG["int8"]["max_samples"],
        timestep=config["verify"]["timestep"],
    log:
        "logs/mnn/calibration.log",
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.mnn calib --frames {params.frames:q} --out {output:q} --size {params.size}"
        " --max-samples {params.max_samples} --timestep {params.timestep} > {log:q} 2>&1"


rule mnn_int8:
    input:
        src=f"{MNN}/flownet.mnn",
        samples=rules.mnn_calibration.output,
    output:
        model=f"{MNN}/flownet-int8.mnn",
        config=f"{MNN}/flownet-int8.quant.json",
    params:
        feature=MNN_CFG["int8"]["feature_method"],
        weight=MNN_CFG["int8"]["weight_method"],
        batch=MNN_CFG["int8"]["batch_size"],
        skip=" ".join(f"--skip-op {op}" for op in MNN_CFG["int8"]["skip_ops"]),
    log:
        "logs/mnn/flownet-int8.log",
    benchmark:
        f"{BENCH}/mnn/flownet-int8.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.mnn quant --src {input.src:q} --samples {input.samples:q} --out {output.model:q}"
        " --config-out {output.config:q} --feature-method {params.feature} --weight-method {params.weight}"
        " --batch-size {params.batch} {params.skip} --log {log:q}.tool > {log:q} 2>&1"


rule mnn_verify:
    input:
        model=f"{MNN}/{{mnn_name}}.mnn",
        references=expand("results/reference/{res}.npz", res=VERIFY_RES),
        checkpoint="results/checkpoint/flownet.pkl",
        eval=MNN_EVAL_INPUT,
    output:
        f"{MNN}/{{mnn_name}}.verify.json",
    wildcard_constraints:
        mnn_name=r"flownet(-fp16|-wq8|-int8)?",
    params:
        min_psnr=lambda wildcards: MNN_CFG["min_psnr_db"][MNN_VARIANT[wildcards.mnn_name]],
        eval=MNN_EVAL,
        timestep=config["verify"]["timestep"],
    threads: config["verify"]["threads"]
    log:
        "logs/mnn/verify-{mnn_name}.log",
    benchmark:
        f"{BENCH}/mnn/verify-{{mnn_name}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.mnn verify --model {input.model:q} --reference {input.references:q}"
        " --weights {input.checkpoint:q} --eval {params.eval:q} --min-psnr {params.min_psnr} --timestep {params.timestep}"
        " --threads {threads} --out {output:q} > {log:q} 2>&1"


rule mnn_latency:
    input:
        f"{MNN}/{{mnn_name}}.mnn",
    output:
        f"{MNN}/{{mnn_name}}.latency.json",
    wildcard_constraints:
        mnn_name=r"flownet(-fp16|-wq8|-int8)?",
    params:
        size="{}x{}".format(*MNN_CFG["bench"]["size"]),
        runs=MNN_CFG["bench"]["runs"],
    threads: MNN_CFG["bench"]["threads"]
    log:
        "logs/mnn/latency-{mnn_name}.log",
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild.mnn bench --model {input:q} --size {params.size} --threads {threads}"
        " --runs {params.runs} --out {output:q} > {log:q} 2>&1"
