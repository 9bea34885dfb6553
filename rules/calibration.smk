# Calibration: frame triplets (builtin, Vimeo-90K or video frames) for int8 and MNN, cached as PNG.


rule calibration_data:
    input:
        frames=calibration_source,
        code=code_files("calibration"),
    output:
        directory(CALIBRATION_DATA),
    log:
        "logs/calibration/data.log",
    benchmark:
        f"{BENCH}/calibration/data.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        source=config["calibration"]["data"],
        resolution=CAL_RES,
        eval_res=VERIFY_RES,
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
