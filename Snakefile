"""rife-build: RIFE v4 checkpoints (every version, one or several per run) -> verified mobile artifacts,
as one dependency graph."""

import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)
from rifebuild.core.errors import ConfigError  # noqa: E402
from rifebuild.core.config import validate  # noqa: E402
from rifebuild.core.stale import remove_stale_temps  # noqa: E402
from rifebuild.model import pins, spec  # noqa: E402
from rifebuild.core.workflow import unwritable_folders, use_this_checkout  # noqa: E402

use_this_checkout(workflow.basedir)


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "rules/captions/workflow.rst"


try:
    config.update(validate(config))
    # the models to build: each version of `models` in each `ensemble` mode (rife-v4.6, rife-v4.6-ensemble);
    # a version built in no mode is refused, versions left without their ensemble variant are said below
    MODELS, NO_ENSEMBLE = spec.model_ids(config["models"], config["ensemble"])
    # the pins file, and every pin when a tagged release requires them
    pins.check(config)
except ConfigError as exc:
    raise WorkflowError(f"config: {exc}")


OWN_FOLDERS = ["results", "resources", "logs"]
if unwritable_folders(OWN_FOLDERS):
    raise WorkflowError(
        f"{unwritable_folders(OWN_FOLDERS)[0]} is not writable by this user: fix its permissions, or run in "
        "a working directory you own (snakemake -d)"
    )


onstart:
    # A job killed between writing its temp file and renaming it (SIGTERM, OOM) leaves `.name.*.tmp`
    # behind; sweep the workflow's own folders (never the shared native build_dir) before jobs start.
    remove_stale_temps(OWN_FOLDERS)


include: "rules/common.smk"
include: "rules/checkpoint.smk"
include: "rules/export.smk"
include: "rules/evaluate.smk"
include: "rules/ncnn.smk"
include: "rules/calibration.smk"
include: "rules/int8.smk"
include: "rules/mnn.smk"
include: "rules/native.smk"
include: "rules/bench.smk"
include: "rules/report.smk"
include: "rules/release.smk"


# Jobs that take seconds whatever the config (measured: <1.5 s each at the tiny test config; they do
# not scale with the frame size) or that download: run by the main Snakemake process, not queued on
# a cluster (profiles/slurm). The named targets below are local too (they run no command).
localrules:
    all,
    models,
    bench,
    fetch_weights,
    native_source,
    warp_rewrite,
    stock_model,
    quantize_int8,
    mnn_convert,
    mnn_samples,
    bench_plots,
    report,
    release,


# Named targets: `snakemake models` (convert + verify every artifact of every model, the native
# builds and their checks included), `snakemake bench`, `snakemake report`, `snakemake release`;
# `snakemake` (all) = all of them.
rule models:
    input:
        [path for model in MODELS for path in model_artifacts(model)],


rule bench:
    input:
        [path for model in MODELS for path in bench_outputs(model)],


rule all:
    default_target: True
    input:
        rules.models.input,
        rules.bench.input,
        rules.report.output,
        rules.release.output,
