# Calibration: frame triplets (builtin, Vimeo-90K or video frames) for int8 and MNN, cached as PNG.
# One folder per padding multiple (pad32, pad64, pad128): every model with that multiple calibrates
# and evaluates on the same frames, at the same (rounded) sizes.


rule calibration_data:
    input:
        frames=calibration_source,
    output:
        directory("results/calibration/pad{pad}"),
    log:
        "logs/calibration/pad{pad}.log",
    benchmark:
        f"{BENCH}/calibration/pad{{pad}}.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        code=action_code("calibration", "data"),
        source=config["calibration"]["data"],
        resolution=lambda wildcards: cal_res(padded_version(wildcards)),
        eval_res=lambda wildcards: verify_res(padded_version(wildcards)),
        calibration_size=config["calibration"]["calibration_size"],
        evaluation_size=config["calibration"]["evaluation_size"],
        seed=config["calibration"]["seed"],
        max_motion=config["calibration"]["max_motion"],
    shell:
        "rifebuild --threads={threads} calibration data --source={params.source:q}"
        " --resolution={params.resolution:q} --calibration-size={params.calibration_size:q}"
        " --evaluation-size={params.evaluation_size:q} --seed={params.seed:q}"
        " --max-motion={params.max_motion:q} --out={output:q}"
        " --eval-resolution {params.eval_res:q} > {log:q} 2>&1"
