# MNN: dynamic-shape ONNX -> fp32 / fp16 / weight-int8 / full-int8 .mnn (verified in evaluate).
# MNN's converter and quantizer run through rifebuild.mnn.tools (child process, no network).


rule mnn_onnx:
    input:
        checkpoint=CHECKPOINT,
        references=REFERENCES,
        code=code_files("mnn"),
    output:
        onnx=f"{MNN}/flownet-dynamic.onnx",
        check=f"{MNN}/flownet-dynamic.check.json",
    log:
        "logs/mnn/onnx.log",
    benchmark:
        f"{BENCH}/mnn/onnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        opset=config["export"]["onnx_opset"],
        bound=config["verify"]["onnx_max_abs_err"],
    shell:
        "rifebuild --threads={threads} mnn onnx --checkpoint={input.checkpoint:q} --opset={params.opset:q}"
        " --max-abs-err={params.bound:q} --out={output.onnx:q} --check-out={output.check:q}"
        " --reference {input.references:q} > {log:q} 2>&1"


rule mnn_convert:
    input:
        onnx=rules.mnn_onnx.output.onnx,
        code=code_files("mnn"),
    output:
        f"{MNN}/{{mnn_float}}.mnn",
    log:
        job="logs/mnn/{mnn_float}.log",
        tool="logs/mnn/{mnn_float}.tool.log",
    benchmark:
        f"{BENCH}/mnn/{{mnn_float}}.tsv"
    wildcard_constraints:
        mnn_float=r"flownet(-fp16|-wq8)?",
    conda:
        "../envs/rifebuild.yaml"
    params:
        variant=lambda wildcards: MNN_VARIANT[wildcards.mnn_float],
    shell:
        "rifebuild mnn convert --onnx={input.onnx:q} --variant={params.variant:q} --out={output:q}"
        " --tool-log={log.tool:q} > {log.job:q} 2>&1"


rule mnn_samples:
    input:
        frames=MNN_FRAMES_INPUT,
        code=code_files("mnn"),
    output:
        directory("results/mnn/samples"),
    log:
        "logs/mnn/samples.log",
    benchmark:
        f"{BENCH}/mnn/samples.tsv"
    conda:
        "../envs/rifebuild.yaml"
    params:
        frames=MNN_FRAMES,
        resolution=CAL_RES,
        max_samples=config["mnn"]["int8"]["max_samples"],
        timestep=config["verify"]["timestep"],
    shell:
        "rifebuild mnn samples --frames={params.frames:q} --out={output:q} --resolution={params.resolution:q}"
        " --max-samples={params.max_samples:q} --timestep={params.timestep:q} > {log:q} 2>&1"


rule mnn_int8:
    input:
        src=f"{MNN}/flownet.mnn",
        samples=rules.mnn_samples.output,
        code=code_files("mnn"),
    output:
        model=f"{MNN}/flownet-int8.mnn",
        config=f"{MNN}/flownet-int8.quant.json",
    log:
        job="logs/mnn/flownet-int8.log",
        tool="logs/mnn/flownet-int8.tool.log",
    benchmark:
        f"{BENCH}/mnn/flownet-int8.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        feature=config["mnn"]["int8"]["feature_method"],
        weight=config["mnn"]["int8"]["weight_method"],
        batch=config["mnn"]["int8"]["batch_size"],
        skip=[f"--skip-op={op}" for op in config["mnn"]["int8"]["skip_ops"]],
    shell:
        "rifebuild --threads={threads} mnn quantize --src={input.src:q} --samples={input.samples:q}"
        " --out={output.model:q} --config-out={output.config:q} --feature-method={params.feature:q}"
        " --weight-method={params.weight:q} --batch-size={params.batch:q} --tool-log={log.tool:q}"
        " {params.skip:q} > {log.job:q} 2>&1"
