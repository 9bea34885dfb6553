# Native runtime: ncnn source -> slim static libncnn + rife-bench per target -> numeric checks
# (vs PyTorch; linux-arm64 under qemu vs host); rules/bench.smk times them. CMake build trees are
# kept under native.build_dir (incremental re-runs; `make clean` removes them).
NATIVE = config["native"]


wildcard_constraints:
    native_target="host|linux-arm64|android-arm64|host-vulkan|android-arm64-vulkan|reference",


rule native_source:
    # The unpack in native.build_dir may be shared with other clones: the output is this working
    # directory's record of it, so Snakemake never deletes a file of the shared tree before a re-run.
    output:
        "results/native/ncnn-source.json",
    log:
        "logs/native/source.log",
    benchmark:
        f"{BENCH}/native/source.tsv"
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=1000,
    params:
        code=action_code("native", "source"),
        version=NATIVE["ncnn_version"],
        sha256=NATIVE["ncnn_sha256"],
        url=NATIVE["ncnn_url"] or "",
        build_dir=NATIVE["build_dir"],
    shell:
        "rifebuild native source --version={params.version:q} --sha256={params.sha256:q} --url={params.url:q}"
        " --resources=resources --build-dir={params.build_dir:q} --out={output:q} > {log:q} 2>&1"


rule native_build:
    input:
        source=rules.native_source.output[0],
    output:
        "results/native/{native_target}/rife-bench",
    log:
        "logs/native/{native_target}.build.log",
    benchmark:
        f"{BENCH}/native/{{native_target}}.build.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: NATIVE["jobs"]
    resources:
        mem_mb=4000,
    params:
        code=action_code("native", "build"),
        sources=files_code(native_sources()),
        version=NATIVE["ncnn_version"],
        sha256=NATIVE["ncnn_sha256"],
        url=NATIVE["ncnn_url"] or "",
        build_dir=NATIVE["build_dir"],
        host_isa=NATIVE["host_isa"],
        ndk=NATIVE["android_ndk"] or "",
    shell:
        "rifebuild native build --target={wildcards.native_target:q} --out={output:q}"
        " --version={params.version:q} --sha256={params.sha256:q} --url={params.url:q} --resources=resources"
        " --build-dir={params.build_dir:q} --host-isa={params.host_isa:q}"
        " --ndk={params.ndk:q} --jobs={threads} --log={log:q} 2>> {log:q}"


rule native_verify:
    input:
        bench="results/native/host/rife-bench",
        param=f"{NCNN}{{variant}}/flownet.param",
        bin=f"{NCNN}{{variant}}/flownet.bin",
        references=lambda wildcards: references(wildcards.model),
    output:
        "results/native/host/{model}/verify{variant}.json",
    log:
        "logs/native/{model}/host.verify{variant}.log",
    benchmark:
        f"{BENCH}/native/{{model}}/host.verify{{variant}}.tsv"
    wildcard_constraints:
        variant=r"(-int8)?",
    conda:
        "../envs/rifebuild.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        code=action_code("native", "verify"),
        model=lambda wildcards, input: os.path.dirname(input.param),
        precision=lambda wildcards: "int8" if wildcards.variant else "fp32",
        min_psnr=lambda wildcards: (
            config["int8"]["min_psnr_vs_fp32"] if wildcards.variant else ""
        ),
        tolerance=config["verify"]["fp32_max_abs_err"],
    shell:
        "rifebuild native verify --bin={input.bench:q} --model-dir={params.model:q} --out={output:q}"
        " --tolerance={params.tolerance:q} --precision={params.precision:q} --min-psnr={params.min_psnr:q}"
        " -- {input.references:q} > {log:q} 2>&1"


rule native_cross_check:
    input:
        host="results/native/host/rife-bench",
        bench="results/native/{native_target}/rife-bench",
        param=f"{NCNN}{{variant}}/flownet.param",
        bin=f"{NCNN}{{variant}}/flownet.bin",
    output:
        "results/native/{native_target}/{model}/cross_check{variant}.json",
    log:
        "logs/native/{model}/{native_target}.cross_check{variant}.log",
    benchmark:
        f"{BENCH}/native/{{model}}/{{native_target}}.cross_check{{variant}}.tsv"
    wildcard_constraints:
        variant=r"(-int8)?",
    conda:
        "../envs/rifebuild.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        code=action_code("native", "cross-check"),
        model=lambda wildcards, input: os.path.dirname(input.param),
        precision=lambda wildcards: "int8" if wildcards.variant else "fp32",
        min_psnr=lambda wildcards: (
            config["int8"]["min_psnr_vs_fp32"] if wildcards.variant else ""
        ),
    shell:
        "rifebuild native cross-check --host-bin={input.host:q} --bin={input.bench:q}"
        " --target={wildcards.native_target:q} --model-dir={params.model:q} --precision={params.precision:q}"
        " --min-psnr={params.min_psnr:q} --out={output:q} > {log:q} 2>&1"


rule native_verify_vulkan:
    input:
        bench="results/native/host-vulkan/rife-bench",
        param=lambda wildcards: f"{INT8 if wildcards.variant == '-int8' else NCNN}/flownet.param",
        bin=lambda wildcards: f"{INT8 if wildcards.variant == '-int8' else NCNN}/flownet.bin",
        references=lambda wildcards: references(wildcards.model),
    output:
        "results/native/host-vulkan/{model}/verify-vulkan{variant}.json",
    log:
        "logs/native/{model}/host-vulkan.verify-vulkan{variant}.log",
    benchmark:
        f"{BENCH}/native/{{model}}/host-vulkan.verify-vulkan{{variant}}.tsv"
    wildcard_constraints:
        variant=r"(-fp16|-int8)?",
    conda:
        "../envs/rifebuild.yaml"
    threads: 2
    resources:
        mem_mb=4000,
    params:
        code=action_code("native", "verify"),
        model=lambda wildcards, input: os.path.dirname(input.param),
        precision=lambda wildcards: VULKAN_PRECISIONS[wildcards.variant],
        device=NATIVE["vulkan"]["device"],
        tolerance=lambda wildcards: NATIVE["vulkan"][
            "fp16_max_abs_err" if wildcards.variant == "-fp16" else "fp32_max_abs_err"
        ],
        min_psnr=lambda wildcards: (
            NATIVE["vulkan"]["int8_min_psnr"] if wildcards.variant == "-int8" else ""
        ),
    shell:
        "rifebuild native verify --bin={input.bench:q} --model-dir={params.model:q} --out={output:q}"
        " --target=host-vulkan --gpu={params.device:q} --precision={params.precision:q}"
        " --tolerance={params.tolerance:q} --min-psnr={params.min_psnr:q}"
        " -- {input.references:q} > {log:q} 2>&1"
