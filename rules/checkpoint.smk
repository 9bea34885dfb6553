rule fetch_weights:
    output:
        "resources/weights/flownet_v4.6.pkl",
    params:
        url=config["weights_url"],
        sha256=config["weights_sha256"],
    log:
        "logs/fetch_weights.log",
    benchmark:
        f"{BENCH}/fetch_weights.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild fetch-weights --url {params.url:q} --sha256 '{params.sha256}' --out {output:q} > {log:q} 2>&1"


rule prepare_checkpoint:
    input:
        checkpoint_source(),
    output:
        "results/checkpoint/flownet.pkl",
    params:
        args=checkpoint_args(),
    log:
        "logs/prepare_checkpoint.log",
    benchmark:
        f"{BENCH}/prepare_checkpoint.tsv"
    conda:
        "../envs/rifebuild.yaml"
    shell:
        "python -m rifebuild checkpoint {params.args} --out {output:q} > {log:q} 2>&1"
