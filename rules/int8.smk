# int8: calibration table (ncnn's format) -> per-layer sensitivity -> int8 model (verified in evaluate).
# Activations come from rife-bench's reference build (baseline x86-64, no run-time CPU dispatch): the
# table and the int8 model are the same bytes on any x86-64 runner (tests/test_isa.py).
REFERENCE_BENCH = "results/native/reference/rife-bench"


rule calibrate:
    input:
        param=f"{NCNN}/flownet.param",
        bin=f"{NCNN}/flownet.bin",
        data=lambda wildcards: calibration_data(wildcards.model),
        bench=REFERENCE_BENCH,
    output:
        table=f"{INT8}/flownet.table",
        record=f"{INT8}/calibration.json",
    log:
        "logs/int8/{model}/calibrate.log",
    benchmark:
        f"{BENCH}/int8/{{model}}/calibrate.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        code=action_code("int8", "calibrate"),
        method=config["calibration"]["method"],
        eq_frames=config["calibration"]["eq_frames"],
        eq_steps=config["calibration"]["eq_steps"],
    shell:
        "rifebuild --threads={threads} int8 calibrate --param={input.param:q} --bin={input.bin:q}"
        " --data={input.data:q} --method={params.method:q} --eq-frames={params.eq_frames:q}"
        " --eq-steps={params.eq_steps:q} --reference-bench={input.bench:q}"
        " --out-table={output.table:q} --out-json={output.record:q} > {log:q} 2>&1"


rule sensitivity:
    input:
        param=f"{NCNN}/flownet.param",
        bin=f"{NCNN}/flownet.bin",
        table=rules.calibrate.output.table,
        data=lambda wildcards: calibration_data(wildcards.model),
        bench=REFERENCE_BENCH,
    output:
        f"{INT8}/sensitivity.tsv",
    log:
        "logs/int8/{model}/sensitivity.log",
    benchmark:
        f"{BENCH}/int8/{{model}}/sensitivity.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=6000,
    params:
        code=action_code("int8", "sensitivity"),
        frames=config["int8"]["sensitivity_frames"],
        keep=config["int8"]["sensitivity_keep_float"],
    shell:
        "rifebuild --threads={threads} int8 sensitivity --param={input.param:q} --bin={input.bin:q}"
        " --table={input.table:q} --data={input.data:q} --frames={params.frames:q}"
        " --keep-float={params.keep:q} --reference-bench={input.bench:q} --out={output:q} > {log:q} 2>&1"


rule quantize_int8:
    input:
        param=f"{NCNN}/flownet.param",
        bin=f"{NCNN}/flownet.bin",
        table=rules.calibrate.output.table,
        sensitivity=rules.sensitivity.output,
    output:
        param=f"{INT8}/flownet.param",
        bin=f"{INT8}/flownet.bin",
        summary=f"{INT8}/quantize.json",
    log:
        "logs/int8/{model}/quantize.log",
    benchmark:
        f"{BENCH}/int8/{{model}}/quantize.tsv"
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=2000,
    params:
        code=action_code("int8", "quantize"),
        float_layers=config["int8"]["float_layers"],
        keep=config["int8"]["sensitivity_keep_float"],
        requantize="--requantize" if config["int8"]["requantize"] else "--no-requantize",
    shell:
        "rifebuild int8 quantize --param={input.param:q} --bin={input.bin:q} --table={input.table:q}"
        " --sensitivity={input.sensitivity:q} --keep-float={params.keep:q} {params.requantize}"
        " --out-param={output.param:q} --out-bin={output.bin:q} --out-json={output.summary:q}"
        " --float-layers {params.float_layers:q} > {log:q} 2>&1"
