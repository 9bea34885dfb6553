# ncnn: pnnx conversion -> rife.Warp rewrite (fp32 + fp16 storage) -> stock GridSample models.


rule pnnx:
    input:
        torchscript="results/export/{model}/flownet.pt",
    output:
        param="results/ncnn/pnnx/{model}/flownet.param",
        bin="results/ncnn/pnnx/{model}/flownet.bin",
    log:
        job="logs/ncnn/{model}/pnnx.log",
        pnnx="logs/ncnn/{model}/pnnx.tool.log",
    benchmark:
        f"{BENCH}/ncnn/{{model}}/pnnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: 1
    resources:
        mem_mb=4000,
    params:
        code=action_code("ncnn", "pnnx"),
        height=lambda wildcards: export_dims(wildcards.model)[0],
        width=lambda wildcards: export_dims(wildcards.model)[1],
    shell:
        "rifebuild --threads={threads} ncnn pnnx --torchscript={input.torchscript:q}"
        " --height={params.height:q} --width={params.width:q} --out-param={output.param:q}"
        " --out-bin={output.bin:q} --pnnx-log={log.pnnx:q} > {log.job:q} 2>&1"


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
        "logs/ncnn/{model}/warp_rewrite.log",
    benchmark:
        f"{BENCH}/ncnn/{{model}}/warp_rewrite.tsv"
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=2000,
    params:
        code=action_code("ncnn", "warp-rewrite"),
    shell:
        "rifebuild ncnn warp-rewrite --model={wildcards.model:q} --param={input.param:q} --bin={input.bin:q}"
        " --out-param={output.param:q} --out-bin={output.bin:q} --fp16-param={output.fp16_param:q}"
        " --fp16-bin={output.fp16_bin:q} > {log:q} 2>&1"


rule stock_model:
    input:
        param=rules.warp_rewrite.output.param,
        bin=rules.warp_rewrite.output.bin,
    output:
        param=f"{NCNN}-stock-{{res}}/flownet.param",
        bin=f"{NCNN}-stock-{{res}}/flownet.bin",
    log:
        "logs/ncnn/{model}/stock-{res}.log",
    benchmark:
        f"{BENCH}/ncnn/{{model}}/stock-{{res}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=2000,
    params:
        code=action_code("ncnn", "lower"),
    shell:
        "rifebuild ncnn lower --param={input.param:q} --bin={input.bin:q} --resolution={wildcards.res:q}"
        " --out-param={output.param:q} --out-bin={output.bin:q} > {log:q} 2>&1"
