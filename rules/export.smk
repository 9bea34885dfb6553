EXPORT_ALL = ["results/onnx/flownet.verify.json"]


rule reference:
    input:
        "results/checkpoint/flownet.pkl",
    output:
        "results/reference/{res}.npz",
    params:
        seed=config["verify"]["seed"],
        timestep=config["verify"]["timestep"],
    log:
        "logs/reference/{res}.log",
    benchmark:
        f"{BENCH}/reference/{{res}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild reference --checkpoint {input:q} --resolution {wildcards.res} --seed {params.seed}"
        " --timestep {params.timestep} --out {output:q} > {log:q} 2>&1"


rule torchscript:
    input:
        "results/checkpoint/flownet.pkl",
    output:
        "results/export/flownet.pt",
    params:
        height=EXPORT_H,
        width=EXPORT_W,
    log:
        "logs/torchscript.log",
    benchmark:
        f"{BENCH}/torchscript.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild torchscript --checkpoint {input:q} --height {params.height} --width {params.width}"
        " --out {output:q} > {log:q} 2>&1"


rule onnx:
    input:
        "results/checkpoint/flownet.pkl",
    output:
        "results/onnx/flownet.onnx",
    params:
        height=EXPORT_H,
        width=EXPORT_W,
        opset=config["export"]["onnx_opset"],
    log:
        "logs/onnx.log",
    benchmark:
        f"{BENCH}/onnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild onnx --checkpoint {input:q} --height {params.height} --width {params.width}"
        " --opset {params.opset} --out {output:q} > {log:q} 2>&1"


rule verify_onnx:
    input:
        onnx="results/onnx/flownet.onnx",
        reference=f"results/reference/{EXPORT_RES}.npz",
    output:
        "results/onnx/flownet.verify.json",
    params:
        bound=config["verify"]["onnx_max_abs_err"],
    threads: config["verify"]["threads"]
    log:
        "logs/verify_onnx.log",
    benchmark:
        f"{BENCH}/verify_onnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild verify-onnx --onnx {input.onnx:q} --reference {input.reference:q}"
        " --max-abs-err {params.bound} --threads {threads} --out {output:q} > {log:q} 2>&1"
