# Names and paths shared by the rules; values come from the validated config only.
from rifebuild.calibration.triplets import source_files
from rifebuild.core.workflow import code_files
from rifebuild.native.source import archive_name
from rifebuild.native.targets import native_sources, native_targets

MODEL = config["model_name"]
THREADS = config["threads"]
EXPORT_RES = f"{config['export']['height']}x{config['export']['width']}"
VERIFY_RES = list(
    dict.fromkeys(
        [EXPORT_RES] + [f"{h}x{w}" for h, w in config["verify"]["resolutions"]]
    )
)
STOCK_RES = list(
    dict.fromkeys([EXPORT_RES] + [f"{h}x{w}" for h, w in config["stock_resolutions"]])
)
NCNN = f"results/ncnn/{MODEL}"
INT8 = f"{NCNN}-int8"
MNN = f"results/mnn/{MODEL}"
BENCH = "results/benchmarks"
CHECKPOINT = "results/checkpoint/flownet.pkl"
REFERENCES = expand("results/reference/{res}.npz", res=VERIFY_RES)
CALIBRATION_DATA = "results/calibration/data"
NATIVE_TARGETS = native_targets(config["native"])


wildcard_constraints:
    res=r"\d+x\d+",
    variant=r"(-fp16)?",


def checkpoint_source(wildcards):
    """The checkpoint rule's input: nothing (synthetic), the download, or the user's file."""
    weights = config["weights"]
    if weights == "synthetic":
        return []
    if weights == "official":
        return "resources/weights/flownet_v4.6.pkl"
    if not os.path.isfile(weights):
        raise WorkflowError(
            f"weights: {weights!r} is not an existing file; set `weights` to a local "
            "flownet.pkl, `official` (download) or `synthetic`"
        )
    return weights


CAL_RES = "{}x{}".format(*config["calibration"]["resolution"])
# MNN calibrates and evaluates on the int8 branch's splits unless its own folders are configured.
MNN_NAMES = {
    "fp32": "flownet",
    "fp16": "flownet-fp16",
    "wq8": "flownet-wq8",
    "int8": "flownet-int8",
}
MNN_VARIANT = {name: variant for variant, name in MNN_NAMES.items()}
MNN_FRAMES_INPUT = config["mnn"]["int8"]["calibration_dir"] or CALIBRATION_DATA
MNN_FRAMES = (
    config["mnn"]["int8"]["calibration_dir"]
    or f"{CALIBRATION_DATA}/calibration/{CAL_RES}"
)
MNN_EVAL_INPUT = config["mnn"]["eval_dir"] or CALIBRATION_DATA
MNN_EVAL = config["mnn"]["eval_dir"] or f"{CALIBRATION_DATA}/evaluation/{CAL_RES}"


def calibration_source(wildcards):
    """Every file of a calibration frames folder, so a changed frame re-runs what depends on it."""
    return source_files(config["calibration"]["data"])


def all_cores(wildcards):
    """Every core of the run (--cores): the bench job holds them all, so no other job runs beside it.
    1 where there is no core count (snakemake --report or --lint, which run no job)."""
    try:
        return workflow.cores
    except WorkflowError:
        return 1
