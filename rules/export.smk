# Export: TorchScript (pnnx's input) and ONNX + onnxsim, both at the model's export resolution.


rule torchscript:
    input:
        checkpoint=CHECKPOINT,
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
        checkpoint=CHECKPOINT,
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
        height=lambda wildcards: export_dims(wildcards.model)[0],
        width=lambda wildcards: export_dims(wildcards.model)[1],
        opset=config["export"]["onnx_opset"],
    shell:
        "rifebuild --threads={threads} export onnx --model={wildcards.model:q} --checkpoint={input.checkpoint:q}"
        " --height={params.height:q} --width={params.width:q} --opset={params.opset:q} --out={output:q} > {log:q} 2>&1"
