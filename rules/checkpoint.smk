# Checkpoint: the official download (each version's pin: rifebuild/model/pins.yaml), a local file, or
# synthetic weights, per model.


rule fetch_weights:
    input:
        code=code_files("checkpoint"),
    output:
        "resources/weights/{model}.pkl",
    log:
        "logs/checkpoint/{model}/fetch_weights.log",
    benchmark:
        f"{BENCH}/checkpoint/{{model}}/fetch_weights.tsv"
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=1000,
    params:
        # the model's entry in the pins file (rifebuild.model.pins); "": unpinned, its sha256 is printed
        url=lambda wildcards: pins.official(config, wildcards.model).url,
        sha256=lambda wildcards: pins.official(config, wildcards.model).sha256 or "",
        deadline=config["download_deadline"],
    shell:
        "rifebuild checkpoint fetch --model={wildcards.model:q} --url={params.url:q} --sha256={params.sha256:q}"
        " --deadline={params.deadline:q} --out={output:q} 2>&1 | tee {log:q}"


rule prepare_checkpoint:
    input:
        source=checkpoint_source,
        code=code_files("checkpoint"),
    output:
        CHECKPOINT,
    log:
        "logs/checkpoint/{model}/prepare.log",
    benchmark:
        f"{BENCH}/checkpoint/{{model}}/prepare.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        seed=config["synthetic_seed"],
    shell:
        "rifebuild --threads={threads} checkpoint prepare --model={wildcards.model:q}"
        " --synthetic-seed={params.seed:q} --out={output:q} -- {input.source:q} > {log:q} 2>&1"
