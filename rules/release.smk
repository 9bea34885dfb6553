# Release bundle: one deterministic tarball per runtime + MANIFEST.json + SHA256SUMS + notes in
# results/release/, from the finished (verified) outputs and the report (see rifebuild/release/).
import json

RELEASE = "results/release"
RELEASE_KINDS = ["ncnn", "mnn", "onnx", "native", "report"]
NCNN_FOLDERS = [
    NCNN,
    f"{NCNN}-fp16",
    INT8,
    *[f"{NCNN}-stock-{res}" for res in STOCK_RES],
]
# tarball kind -> {path inside the tarball: workflow output}; the report tarball's files come from
# report.json (rifebuild.release.build.bundled_report).
RELEASE_FILES = {
    "ncnn": {
        f"{os.path.basename(folder)}/flownet.{ext}": f"{folder}/flownet.{ext}"
        for folder in NCNN_FOLDERS
        for ext in ("param", "bin")
    },
    "mnn": {
        f"{MODEL}/{MNN_NAMES[v]}.mnn": f"{MNN}/{MNN_NAMES[v]}.mnn"
        for v in config["mnn"]["variants"]
    },
    "onnx": {
        f"{MODEL}/flownet.onnx": "results/export/flownet.onnx",
        f"{MODEL}/flownet-dynamic.onnx": f"{MNN}/flownet-dynamic.onnx",
    },
    "native": {
        f"{t}/rife-bench": f"results/native/{t}/rife-bench" for t in NATIVE_TARGETS
    },
}


rule release:
    input:
        files=[path for files in RELEASE_FILES.values() for path in files.values()],
        dynamic_check=f"{MNN}/flownet-dynamic.check.json",
        report=rules.report.output.json,
        code=code_files("release"),
    output:
        tarballs=expand(f"{RELEASE}/{MODEL}-{{kind}}.tar.gz", kind=RELEASE_KINDS),
        manifest=f"{RELEASE}/MANIFEST.json",
        sums=f"{RELEASE}/SHA256SUMS",
        notes=f"{RELEASE}/RELEASE_NOTES.md",
    log:
        "logs/release/build.log",
    benchmark:
        f"{BENCH}/release/build.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: 1
    params:
        model=MODEL,
        files=[
            f"--file={kind}:{inside}={path}"
            for kind, files in RELEASE_FILES.items()
            for inside, path in files.items()
        ],
        tarballs=[
            f"--tarball={kind}={RELEASE}/{MODEL}-{kind}.tar.gz"
            for kind in RELEASE_KINDS
        ],
        config=json.dumps(config, sort_keys=True),
    shell:
        "rifebuild release build --model-name={params.model:q} --report={input.report:q}"
        " --record=onnx-dynamic={input.dynamic_check:q} --config-json={params.config:q}"
        " --manifest={output.manifest:q} --sums={output.sums:q} --notes={output.notes:q}"
        " {params.tarballs:q} {params.files:q} > {log:q} 2>&1"
