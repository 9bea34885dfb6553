# int8: calibration data -> calibration table (ncnn format) -> sensitivity table -> int8 model -> verification.
CAL = config["calibration"]
Q8 = config["int8"]
INT8 = f"{NCNN}-int8"
CAL_RES = f"{CAL['resolution'][0]}x{CAL['resolution'][1]}"
INT8_ALL = [f"{INT8}/verify.json", f"{INT8}/sensitivity.tsv"]


rule calibration_data:
    output:
        directory("results/calibration/data"),
    params:
        source=CAL["data"],
        resolution=CAL_RES,
        eval_res=" ".join(VERIFY_RES),
        sizes=f"--calibration-size {CAL['calibration_size']} --evaluation-size {CAL['evaluation_size']}",
        motion=f"--seed {CAL['seed']} --max-motion {CAL['max_motion']}",
    log:
        "logs/calibration_data.log",
    benchmark:
        f"{BENCH}/calibration_data.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild calibration-data --source {params.source:q} --resolution {params.resolution}"
        " --eval-resolution {params.eval_res} {params.sizes} {params.motion} --out {output:q} > {log:q} 2>&1"


rule calibrate:
    input:
        param=f"{NCNN}/flownet.param",
        bin=f"{NCNN}/flownet.bin",
        data=rules.calibration_data.output,
    output:
        table=f"{INT8}/flownet.table",
        record=f"{INT8}/calibration.json",
    params:
        method=CAL["method"],
        eq=f"--eq-frames {CAL['eq_frames']} --eq-steps {CAL['eq_steps']}",
    threads: config["verify"]["threads"]
    log:
        "logs/int8/calibrate.log",
    benchmark:
        f"{BENCH}/int8/calibrate.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild calibrate --param {input.param:q} --bin {input.bin:q} --data {input.data:q}"
        " --method {params.method} {params.eq} --threads {threads} --out-table {output.table:q}"
        " --out-json {output.record:q} > {log:q} 2>&1"


rule sensitivity:
    input:
        param=f"{NCNN}/flownet.param",
        bin=f"{NCNN}/flownet.bin",
        table=rules.calibrate.output.table,
        data=rules.calibration_data.output,
    output:
        f"{INT8}/sensitivity.tsv",
    params:
        frames=Q8["sensitivity_frames"],
        keep=Q8["sensitivity_keep_float"],
    threads: config["verify"]["threads"]
    log:
        "logs/int8/sensitivity.log",
    benchmark:
        f"{BENCH}/int8/sensitivity.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild sensitivity --param {input.param:q} --bin {input.bin:q} --table {input.table:q}"
        " --data {input.data:q} --frames {params.frames} --keep-float {params.keep} --threads {threads}"
        " --out {output:q} > {log:q} 2>&1"


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
    params:
        float_layers=" ".join(Q8["float_layers"]),
        keep=Q8["sensitivity_keep_float"],
        requantize="" if Q8["requantize"] else "--no-requantize",
    log:
        "logs/int8/quantize.log",
    benchmark:
        f"{BENCH}/int8/quantize.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild quantize --param {input.param:q} --bin {input.bin:q} --table {input.table:q}"
        " --float-layers {params.float_layers} --sensitivity {input.sensitivity:q} --keep-float {params.keep}"
        " {params.requantize} --out-param {output.param:q} --out-bin {output.bin:q}"
        " --out-json {output.summary:q} > {log:q} 2>&1"


rule verify_int8:
    input:
        param=rules.quantize_int8.output.param,
        bin=rules.quantize_int8.output.bin,
        table=rules.calibrate.output.table,
        fp32_param=f"{NCNN}/flownet.param",
        fp32_bin=f"{NCNN}/flownet.bin",
        checkpoint="results/checkpoint/flownet.pkl",
        data=rules.calibration_data.output,
    output:
        f"{INT8}/verify.json",
    params:
        bound=Q8["min_psnr_vs_fp32"],
    threads: config["verify"]["threads"]
    log:
        "logs/int8/verify.log",
    benchmark:
        f"{BENCH}/int8/verify.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild verify-int8 --model-dir $(dirname {input.param:q}) --fp32-dir $(dirname {input.fp32_param:q})"
        " --checkpoint {input.checkpoint:q} --data {input.data:q} --threads {threads} --min-psnr {params.bound}"
        " --out {output:q} > {log:q} 2>&1"
