# Checkpoint: the official download (each version's pin: rifebuild/model/pins.yaml), a local file, or
# synthetic weights, per version (an ensemble variant reads its version's checkpoint: checkpoint_of).


VERSION_NAMES = "|".join(
    re.escape(m) for m in sorted(spec.VERSIONS, key=len, reverse=True)
)


rule fetch_weights:
    output:
        "resources/weights/{model}.pkl",
    log:
        "logs/checkpoint/{model}/fetch_weights.log",
    benchmark:
        f"{BENCH}/checkpoint/{{model}}/fetch_weights.tsv"
    wildcard_constraints:
        model=VERSION_NAMES,
    conda:
        "../envs/rifebuild.yaml"
    resources:
        mem_mb=1000,
    params:
        code=action_code("checkpoint", "fetch"),
        # the model's entry in the pins file (rifebuild.model.pins, through the record's intent); "": unpinned,
        # its sha256 is printed
        url=lambda wildcards: intended_checkpoint(wildcards)["url"],
        sha256=lambda wildcards: intended_checkpoint(wildcards)["sha256_pin"] or "",
        deadline=config["download_deadline"],
    shell:
        "rifebuild checkpoint fetch --model={wildcards.model:q} --url={params.url:q} --sha256={params.sha256:q}"
        " --deadline={params.deadline:q} --out={output:q} 2>&1 | tee {log:q}"


rule prepare_checkpoint:
    input:
        source=checkpoint_source,
    output:
        checkpoint=CHECKPOINT,
        record=CHECKPOINT_RECORD,
    log:
        "logs/checkpoint/{model}/prepare.log",
    benchmark:
        f"{BENCH}/checkpoint/{{model}}/prepare.tsv"
    wildcard_constraints:
        model=VERSION_NAMES,
    conda:
        "../envs/rifebuild.yaml"
    threads: THREADS
    resources:
        mem_mb=4000,
    params:
        code=action_code("checkpoint", "prepare"),
        # what the weights are meant to be (rifebuild.checkpoint.record.intended): a change re-runs this job
        seed=lambda wildcards: intended_checkpoint(wildcards).get("seed", 0),
        url=lambda wildcards: intended_checkpoint(wildcards).get("url", ""),
        pin=lambda wildcards: intended_checkpoint(wildcards).get("sha256_pin") or "",
    shell:
        "rifebuild --threads={threads} checkpoint prepare --model={wildcards.model:q}"
        " --synthetic-seed={params.seed:q} --url={params.url:q} --sha256-pin={params.pin:q}"
        " --out={output.checkpoint:q} --record={output.record:q} -- {input.source:q} > {log:q} 2>&1"
