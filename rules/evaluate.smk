# Evaluate: fixed reference inputs + PyTorch outputs, and one verification record per artifact.
# A record is written only when every check passed (a failed check fails the rule).


rule reference:
    input:
        checkpoint=checkpoint_of,
    output:
        "results/reference/{model}/{res}.npz",
    log:
        "logs/evaluate/{model}/reference-{res}.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}/reference-{{res}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        code=action_code("evaluate", "reference"),
        seed=config["verify"]["seed"],
        timestep=config["verify"]["timestep"],
    shell:
        "rifebuild --threads={threads} evaluate reference --model={wildcards.model:q}"
        " --checkpoint={input.checkpoint:q} --resolution={wildcards.res:q} --seed={params.seed:q}"
        " --timestep={params.timestep:q} --out={output:q} > {log:q} 2>&1"


rule verify_onnx:
    input:
        onnx="results/export/{model}/flownet.onnx",
        references=lambda wildcards: references(wildcards.model),
    output:
        "results/export/{model}/flownet.onnx.verify.json",
    log:
        "logs/evaluate/{model}/onnx.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}/onnx.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        code=action_code("evaluate", "onnx"),
        bound=config["verify"]["onnx_max_abs_err"],
    shell:
        "rifebuild --threads={threads} evaluate onnx --onnx={input.onnx:q}"
        " --max-abs-err={params.bound:q} --out={output:q} --reference {input.references:q} > {log:q} 2>&1"


rule verify_ncnn:
    input:
        param=f"{NCNN}{{variant}}/flownet.param",
        bin=f"{NCNN}{{variant}}/flownet.bin",
        references=lambda wildcards: references(wildcards.model),
    output:
        f"{NCNN}{{variant}}/verify.json",
    log:
        "logs/evaluate/{model}/ncnn{variant}.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}/ncnn{{variant}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        code=action_code("evaluate", "ncnn"),
        model=lambda wildcards, input: os.path.dirname(input.param),
        precision=lambda wildcards: "fp16" if wildcards.variant else "fp32",
        max_abs_err=lambda wildcards: (
            "" if wildcards.variant else config["verify"]["fp32_max_abs_err"]
        ),
        min_psnr=lambda wildcards: (
            config["verify"]["fp16_min_psnr_db"] if wildcards.variant else ""
        ),
    shell:
        "rifebuild --threads={threads} evaluate ncnn --model-dir={params.model:q}"
        " --precision={params.precision:q} --max-abs-err={params.max_abs_err:q}"
        " --min-psnr={params.min_psnr:q} --out={output:q}"
        " --reference {input.references:q} > {log:q} 2>&1"


rule verify_stock:
    input:
        param=f"{NCNN}-stock-{{res}}/flownet.param",
        bin=f"{NCNN}-stock-{{res}}/flownet.bin",
        reference="results/reference/{model}/{res}.npz",
    output:
        f"{NCNN}-stock-{{res}}/verify.json",
    log:
        "logs/evaluate/{model}/stock-{res}.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}/stock-{{res}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        code=action_code("evaluate", "ncnn"),
        model=lambda wildcards, input: os.path.dirname(input.param),
        bound=config["verify"]["fp32_max_abs_err"],
    shell:
        "rifebuild --threads={threads} evaluate ncnn --model-dir={params.model:q} --precision=fp32"
        " --max-abs-err={params.bound:q} --out={output:q} --reference {input.reference:q} > {log:q} 2>&1"


rule verify_int8:
    input:
        param=f"{INT8}/flownet.param",
        bin=f"{INT8}/flownet.bin",
        table=f"{INT8}/flownet.table",
        fp32_param=f"{NCNN}/flownet.param",
        fp32_bin=f"{NCNN}/flownet.bin",
        checkpoint=checkpoint_of,
        data=lambda wildcards: calibration_data(wildcards.model),
    output:
        f"{INT8}/verify.json",
    log:
        "logs/evaluate/{model}/int8.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}/int8.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=8000,
    params:
        code=action_code("evaluate", "int8"),
        model=lambda wildcards, input: os.path.dirname(input.param),
        fp32=lambda wildcards, input: os.path.dirname(input.fp32_param),
        bound=config["int8"]["min_psnr_vs_fp32"],
        worst=config["int8"]["min_worst_psnr_vs_pytorch"],
    shell:
        "rifebuild --threads={threads} evaluate int8 --model-dir={params.model:q} --fp32-dir={params.fp32:q}"
        " --model={wildcards.model:q} --checkpoint={input.checkpoint:q} --data={input.data:q}"
        " --min-psnr={params.bound:q} --min-worst-psnr={params.worst:q} --out={output:q} > {log:q} 2>&1"


rule verify_mnn:
    input:
        model=f"{MNN}/{{mnn_name}}.mnn",
        references=lambda wildcards: references(wildcards.model),
        checkpoint=checkpoint_of,
        eval=lambda wildcards: mnn_eval_input(wildcards.model),
    output:
        f"{MNN}/{{mnn_name}}.verify.json",
    log:
        "logs/evaluate/{model}/mnn-{mnn_name}.log",
    benchmark:
        f"{BENCH}/evaluate/{{model}}/mnn-{{mnn_name}}.tsv"
    wildcard_constraints:
        mnn_name=r"flownet(-fp16|-wq8|-int8)?",
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        code=action_code("evaluate", "mnn"),
        min_psnr=lambda wildcards: config["mnn"]["min_psnr_db"][
            MNN_VARIANT[wildcards.mnn_name]
        ],
        eval=lambda wildcards: mnn_eval(wildcards.model),
        timestep=config["verify"]["timestep"],
    shell:
        "rifebuild --threads={threads} evaluate mnn --mnn={input.model:q} --model={wildcards.model:q}"
        " --checkpoint={input.checkpoint:q} --eval={params.eval:q} --min-psnr={params.min_psnr:q}"
        " --timestep={params.timestep:q} --out={output:q} --reference {input.references:q} > {log:q} 2>&1"
