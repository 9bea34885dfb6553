# Export: TorchScript (pnnx's input) and ONNX + onnxsim, both at the export resolution.


rule torchscript:
    input:
        checkpoint=CHECKPOINT,
        code=code_files("export"),
    output:
        "results/export/flownet.pt",
    log:
        "logs/export/torchscript.log",
    benchmark:
        f"{BENCH}/export/torchscript.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        height=config["export"]["height"],
        width=config["export"]["width"],
    shell:
        "rifebuild --threads={threads} export torchscript --checkpoint={input.checkpoint:q}"
        " --height={params.height:q} --width={params.width:q} --out={output:q} > {log:q} 2>&1"


rule onnx:
    input:
        checkpoint=CHECKPOINT,
        code=code_files("export"),
    output:
        "results/export/flownet.onnx",
    log:
        "logs/export/onnx.log",
    benchmark:
        f"{BENCH}/export/onnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        height=config["export"]["height"],
        width=config["export"]["width"],
        opset=config["export"]["onnx_opset"],
    shell:
        "rifebuild --threads={threads} export onnx --checkpoint={input.checkpoint:q}"
        " --height={params.height:q} --width={params.width:q} --opset={params.opset:q}"
        " --out={output:q} > {log:q} 2>&1"
