# Checkpoint: the official download (sha256-pinned), a local file, or synthetic weights.


rule fetch_weights:
    input:
        code=code_files("checkpoint"),
    output:
        "resources/weights/flownet_v4.6.pkl",
    log:
        "logs/checkpoint/fetch_weights.log",
    benchmark:
        f"{BENCH}/checkpoint/fetch_weights.tsv"
    conda:
        "../envs/rifebuild.yaml"
    params:
        url=config["weights_url"],
        sha256=config["weights_sha256"],
        deadline=config["download_deadline"],
    shell:
        "rifebuild checkpoint fetch --url={params.url:q} --sha256={params.sha256:q}"
        " --deadline={params.deadline:q} --out={output:q} 2>&1 | tee {log:q}"


rule prepare_checkpoint:
    input:
        source=checkpoint_source,
        code=code_files("checkpoint"),
    output:
        CHECKPOINT,
    log:
        "logs/checkpoint/prepare.log",
    benchmark:
        f"{BENCH}/checkpoint/prepare.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    params:
        seed=config["synthetic_seed"],
    shell:
        "rifebuild --threads={threads} checkpoint prepare --synthetic-seed={params.seed:q}"
        " --out={output:q} -- {input.source:q} > {log:q} 2>&1"
