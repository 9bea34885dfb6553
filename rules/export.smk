# Export: TorchScript (pnnx's input, at the model's export resolution) and the any-size ONNX + onnxsim
# (the ONNX artifact; MNN converts it).


rule torchscript:
    input:
        checkpoint=checkpoint_of,
    output:
        "results/export/{model}/flownet.pt",
    log:
        "logs/export/{model}/torchscript.log",
    benchmark:
        f"{BENCH}/export/{{model}}/torchscript.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        code=action_code("export", "torchscript"),
        height=lambda wildcards: export_dims(wildcards.model)[0],
        width=lambda wildcards: export_dims(wildcards.model)[1],
    shell:
        "rifebuild --threads={threads} export torchscript --model={wildcards.model:q}"
        " --checkpoint={input.checkpoint:q} --height={params.height:q} --width={params.width:q} --out={output:q} > {log:q} 2>&1"


rule onnx:
    input:
        checkpoint=checkpoint_of,
    output:
        "results/export/{model}/flownet.onnx",
    log:
        "logs/export/{model}/onnx.log",
    benchmark:
        f"{BENCH}/export/{{model}}/onnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        code=action_code("export", "onnx"),
        opset=config["export"]["onnx_opset"],
    shell:
        "rifebuild --threads={threads} export onnx --model={wildcards.model:q} --checkpoint={input.checkpoint:q}"
        " --opset={params.opset:q} --out={output:q} > {log:q} 2>&1"


# On request only (name the file: snakemake results/export/rife-v4.6/flownet-256x448.onnx): an ONNX
# fixed to one size, for a runtime that cannot take dynamic H/W. Not in any named target.
rule onnx_fixed:
    input:
        checkpoint=checkpoint_of,
    output:
        "results/export/{model}/flownet-{res}.onnx",
    log:
        "logs/export/{model}/onnx-{res}.log",
    benchmark:
        f"{BENCH}/export/{{model}}/onnx-{{res}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        code=action_code("export", "onnx-fixed"),
        height=lambda wildcards: wildcards.res.split("x")[0],
        width=lambda wildcards: wildcards.res.split("x")[1],
        opset=config["export"]["onnx_opset"],
    shell:
        "rifebuild --threads={threads} export onnx-fixed --model={wildcards.model:q} --checkpoint={input.checkpoint:q}"
        " --height={params.height:q} --width={params.width:q} --opset={params.opset:q} --out={output:q} > {log:q} 2>&1"
