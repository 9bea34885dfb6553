# MNN: the any-size ONNX (rules/export.smk) -> fp32 / fp16 / weight-int8 / full-int8 .mnn (verified in evaluate).
# MNN's converter and quantizer run through rifebuild.mnn.tools (child process, no network).


rule mnn_convert:
    input:
        onnx="results/export/{model}/flownet.onnx",
        verified="results/export/{model}/flownet.onnx.verify.json",  # converts a verified export only
    output:
        f"{MNN}/{{mnn_float}}.mnn",
    log:
        job="logs/mnn/{model}/{mnn_float}.log",
        tool="logs/mnn/{model}/{mnn_float}.tool.log",
    benchmark:
        f"{BENCH}/mnn/{{model}}/{{mnn_float}}.tsv"
    wildcard_constraints:
        mnn_float=r"flownet(-fp16|-wq8)?",
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=4000,
    params:
        code=action_code("mnn", "convert"),
        variant=lambda wildcards: MNN_VARIANT[wildcards.mnn_float],
    shell:
        "rifebuild mnn convert --onnx={input.onnx:q} --variant={params.variant:q} --out={output:q}"
        " --tool-log={log.tool:q} > {log.job:q} 2>&1"


rule mnn_samples:
    input:
        frames=lambda wildcards: mnn_frames_input(padded_version(wildcards)),
    output:
        directory("results/mnn/samples/pad{pad}"),
    log:
        "logs/mnn/samples-pad{pad}.log",
    benchmark:
        f"{BENCH}/mnn/samples-pad{{pad}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=2000,
    params:
        code=action_code("mnn", "samples"),
        frames=lambda wildcards: mnn_frames(padded_version(wildcards)),
        resolution=lambda wildcards: cal_res(padded_version(wildcards)),
        max_samples=config["mnn"]["int8"]["max_samples"],
        timestep=config["verify"]["timestep"],
    shell:
        "rifebuild mnn samples --frames={params.frames:q} --out={output:q} --resolution={params.resolution:q}"
        " --max-samples={params.max_samples:q} --timestep={params.timestep:q} > {log:q} 2>&1"


rule mnn_int8:
    input:
        src=f"{MNN}/flownet.mnn",
        samples=lambda wildcards: f"results/mnn/samples/pad{padding(wildcards.model)}",
    output:
        model=f"{MNN}/flownet-int8.mnn",
        config=f"{MNN}/flownet-int8.quant.json",
    log:
        job="logs/mnn/{model}/flownet-int8.log",
        tool="logs/mnn/{model}/flownet-int8.tool.log",
    benchmark:
        f"{BENCH}/mnn/{{model}}/flownet-int8.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        code=action_code("mnn", "quantize"),
        feature=config["mnn"]["int8"]["feature_method"],
        weight=config["mnn"]["int8"]["weight_method"],
        batch=config["mnn"]["int8"]["batch_size"],
        skip=[f"--skip-op={op}" for op in config["mnn"]["int8"]["skip_ops"]],
    shell:
        "rifebuild --threads={threads} mnn quantize --src={input.src:q} --samples={input.samples:q}"
        " --out={output.model:q} --config-out={output.config:q} --feature-method={params.feature:q}"
        " --weight-method={params.weight:q} --batch-size={params.batch:q} --tool-log={log.tool:q}"
        " {params.skip:q} > {log.job:q} 2>&1"
