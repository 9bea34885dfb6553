# Checkpoint: the official download (sha256-pinned), a local file, or synthetic weights, per model.


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
        url=lambda wildcards: config["weights_url"]
        or spec.get(wildcards.model).official_url,
        sha256=config["weights_sha256"],
        deadline=config["download_deadline"],
    shell:
        "rifebuild checkpoint fetch --model={wildcards.model:q} --url={params.url:q} --sha256={params.sha256:q}"
        " --deadline={params.deadline:q} --out={output:q} 2>&1 | tee {log:q}"


rule prepare_checkpoint:
    input:
        source=checkpoint_source,
        code=code_files("checkpoint"),
    output:
        checkpoint=CHECKPOINT,
        record=CHECKPOINT_RECORD,
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
        # what the weights are meant to be (rifebuild.checkpoint.record.intended): a change re-runs this job
        seed=lambda wildcards: intended_checkpoint(wildcards).get("seed", 0),
        url=lambda wildcards: intended_checkpoint(wildcards).get("url", ""),
        pin=lambda wildcards: intended_checkpoint(wildcards).get("sha256_pin") or "",
    shell:
        "rifebuild --threads={threads} checkpoint prepare --model={wildcards.model:q}"
        " --synthetic-seed={params.seed:q} --url={params.url:q} --sha256-pin={params.pin:q}"
        " --out={output.checkpoint:q} --record={output.record:q} -- {input.source:q} > {log:q} 2>&1"
