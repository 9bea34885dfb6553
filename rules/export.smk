# Export: TorchScript (pnnx's input) and ONNX + onnxsim, both at the export resolution.


rule torchscript:
    input:
        checkpoint=CHECKPOINT,
        code=code_files("export"),
    output:
        "results/export/flownet.pt",
    params:
        height=config["export"]["height"],
        width=config["export"]["width"],
    threads: THREADS
    resources:
        mem_mb=4000,
    log:
        "logs/export/torchscript.log",
    benchmark:
        f"{BENCH}/export/torchscript.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "rifebuild --threads={threads} export torchscript --checkpoint={input.checkpoint:q}"
        " --height={params.height:q} --width={params.width:q} --out={output:q} > {log:q} 2>&1"


rule onnx:
    input:
        checkpoint=CHECKPOINT,
        code=code_files("export"),
    output:
        "results/export/flownet.onnx",
    params:
        height=config["export"]["height"],
        width=config["export"]["width"],
        opset=config["export"]["onnx_opset"],
    threads: THREADS
    resources:
        mem_mb=4000,
    log:
        "logs/export/onnx.log",
    benchmark:
        f"{BENCH}/export/onnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "rifebuild --threads={threads} export onnx --checkpoint={input.checkpoint:q}"
        " --height={params.height:q} --width={params.width:q} --opset={params.opset:q}"
        " --out={output:q} > {log:q} 2>&1"
