"""rife-build: the RIFE v4.6 checkpoint -> verified mobile artifacts, as one dependency graph."""
import os
import sys

from snakemake.exceptions import WorkflowError
from snakemake.utils import min_version

min_version("9.0")

sys.path.insert(0, workflow.basedir)
from rifebuild.config import ConfigError, validate  # noqa: E402
from rifebuild.workflow import import_rifebuild_from, put_this_python_first_on_path  # noqa: E402

put_this_python_first_on_path()
import_rifebuild_from(workflow.basedir)

configfile: os.path.join(workflow.basedir, "config.yaml")


try:
    config.update(validate(config))
except ConfigError as exc:
    raise WorkflowError(f"config: {exc}")


include: "rules/common.smk"
include: "rules/checkpoint.smk"
include: "rules/export.smk"
include: "rules/ncnn.smk"
include: "rules/int8.smk"
include: "rules/mnn.smk"
include: "rules/native.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        EXPORT_ALL,
        NCNN_ALL,
        INT8_ALL,
        MNN_ALL,
        NATIVE_ALL,
        REPORT_ALL,
