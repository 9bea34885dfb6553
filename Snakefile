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
from rifebuild.model import pins  # noqa: E402
from rifebuild.core.workflow import use_this_checkout  # noqa: E402

use_this_checkout(workflow.basedir)


configfile: os.path.join(workflow.basedir, "config.yaml")


report: "rules/captions/workflow.rst"


try:
    config.update(validate(config))
    pins.check(config)  # the pins file, and every pin when a tagged release requires them
except ConfigError as exc:
    raise WorkflowError(f"config: {exc}")


onstart:
    # A job killed between writing its temp file and renaming it (SIGTERM, OOM) leaves `.name.*.tmp`
    # behind; sweep the workflow's own folders (never the shared native build_dir) before jobs start.
    remove_stale_temps(["results", "resources", "logs"])


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


rule all:
    default_target: True
    input:
        rules.report.output,
        rules.release.output,
        expand(f"{MNN}/flownet-dynamic.check.json", model=MODELS),
        expand("results/native/{target}/rife-bench", target=NATIVE_TARGETS),
