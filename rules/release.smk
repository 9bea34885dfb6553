# Release bundle: per model one deterministic tarball per runtime (ncnn, mnn, onnx), plus the native
# binaries and the report, MANIFEST.json, SHA256SUMS, notes and the SBOM in results/release/, from the finished
# (verified) outputs and the report (see rifebuild/release/).
import json

from rifebuild.release.sbom import LOCK, NAME as SBOM_NAME

RELEASE = "results/release"


# tarball kind -> {path inside the tarball: workflow output}; the report tarball's files come from
# report.json (rifebuild.release.build.bundled_report).
RELEASE_FILES = {
    **{
        kind: files
        for model in MODELS
        for kind, files in model_release_files(model).items()
    },
    "native": {
        f"{t}/rife-bench": f"results/native/{t}/rife-bench" for t in NATIVE_TARGETS
    },
}
RELEASE_TARBALLS = {
    **{kind: f"{RELEASE}/{kind}.tar.gz" for kind in RELEASE_FILES if kind != "native"},
    "native": f"{RELEASE}/rife-build-native.tar.gz",
    "report": f"{RELEASE}/rife-build-report.tar.gz",
}


rule release:
    input:
        files=[path for files in RELEASE_FILES.values() for path in files.values()],
        report=rules.report.output.json,
    output:
        tarballs=list(RELEASE_TARBALLS.values()),
        manifest=f"{RELEASE}/MANIFEST.json",
        sums=f"{RELEASE}/SHA256SUMS",
        notes=f"{RELEASE}/RELEASE_NOTES.md",
        sbom=f"{RELEASE}/{SBOM_NAME}",
    log:
        "logs/release/build.log",
    benchmark:
        f"{BENCH}/release/build.tsv"
    conda:
        "../envs/rifebuild.yaml"
    threads: 1
    resources:
        mem_mb=2000,
    params:
        code=action_code("release", "build"),
        # the SBOM lists the lock's packages: its content (not its path) re-runs the release
        lock=files_code([LOCK]),
        models=[f"--model={m}" for m in MODELS],
        files=[
            f"--file={kind}:{inside}={path}"
            for kind, files in RELEASE_FILES.items()
            for inside, path in files.items()
        ],
        tarballs=[f"--tarball={kind}={path}" for kind, path in RELEASE_TARBALLS.items()],
        config=json.dumps(config, sort_keys=True),
    shell:
        "rifebuild release build {params.models:q} --report={input.report:q}"
        " --config-json={params.config:q} --manifest={output.manifest:q} --sums={output.sums:q}"
        " --notes={output.notes:q} {params.tarballs:q} {params.files:q} > {log:q} 2>&1"
