NCNN_ALL = [
    f"{NCNN}/flownet.param",
    f"{NCNN}/verify.json",
    f"{NCNN}-fp16/verify.json",
    *[f"{NCNN}-stock-{res}/verify.json" for res in STOCK_RES],
]


rule pnnx:
    input:
        "results/export/flownet.pt",
    output:
        param="results/ncnn/pnnx/flownet.param",
        bin="results/ncnn/pnnx/flownet.bin",
    params:
        height=EXPORT_H,
        width=EXPORT_W,
    log:
        "logs/pnnx.log",
    benchmark:
        f"{BENCH}/pnnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild pnnx --torchscript {input:q} --height {params.height} --width {params.width}"
        " --out-param {output.param:q} --out-bin {output.bin:q} --pnnx-log {log:q}.pnnx > {log:q} 2>&1"


rule warp_rewrite:
    input:
        param=rules.pnnx.output.param,
        bin=rules.pnnx.output.bin,
    output:
        param=f"{NCNN}/flownet.param",
        bin=f"{NCNN}/flownet.bin",
        fp16_param=f"{NCNN}-fp16/flownet.param",
        fp16_bin=f"{NCNN}-fp16/flownet.bin",
    log:
        "logs/warp_rewrite.log",
    benchmark:
        f"{BENCH}/warp_rewrite.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild warp-rewrite --param {input.param:q} --bin {input.bin:q} --out-param {output.param:q}"
        " --out-bin {output.bin:q} --fp16-param {output.fp16_param:q} --fp16-bin {output.fp16_bin:q}"
        " > {log:q} 2>&1"


rule stock_model:
    input:
        param=rules.warp_rewrite.output.param,
        bin=rules.warp_rewrite.output.bin,
    output:
        param=f"{NCNN}-stock-{{res}}/flownet.param",
        bin=f"{NCNN}-stock-{{res}}/flownet.bin",
    log:
        "logs/stock_model/{res}.log",
    benchmark:
        f"{BENCH}/stock_model/{{res}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild lower --param {input.param:q} --bin {input.bin:q} --resolution {wildcards.res}"
        " --out-param {output.param:q} --out-bin {output.bin:q} > {log:q} 2>&1"


rule verify_ncnn:
    input:
        param=f"{NCNN}{{variant}}/flownet.param",
        bin=f"{NCNN}{{variant}}/flownet.bin",
        references=expand("results/reference/{res}.npz", res=VERIFY_RES),
    output:
        f"{NCNN}{{variant}}/verify.json",
    params:
        bound=verify_bound,
        precision=lambda wildcards: "fp16" if wildcards.variant else "fp32",
    threads: config["verify"]["threads"]
    log:
        "logs/verify_ncnn{variant}.log",
    benchmark:
        f"{BENCH}/verify_ncnn{{variant}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild verify-ncnn --model-dir $(dirname {input.param:q}) --reference {input.references:q}"
        " --precision {params.precision} --max-abs-err {params.bound} --threads {threads}"
        " --out {output:q} > {log:q} 2>&1"


rule verify_stock:
    input:
        param=f"{NCNN}-stock-{{res}}/flownet.param",
        bin=f"{NCNN}-stock-{{res}}/flownet.bin",
        reference="results/reference/{res}.npz",
    output:
        f"{NCNN}-stock-{{res}}/verify.json",
    params:
        bound=config["verify"]["fp32_max_abs_err"],
    threads: config["verify"]["threads"]
    log:
        "logs/verify_stock/{res}.log",
    benchmark:
        f"{BENCH}/verify_stock/{{res}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild verify-ncnn --model-dir $(dirname {input.param:q}) --reference {input.reference:q}"
        " --precision fp32 --max-abs-err {params.bound} --threads {threads} --out {output:q} > {log:q} 2>&1"
