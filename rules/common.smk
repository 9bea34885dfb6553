# Names and paths shared by the rules; values come from the validated config only.
#
# Every per-model path has a {model} wildcard (a RIFE version named like rife-ncnn-vulkan's folders:
# rife-v4.6, rife-v4.17-lite, ...; or a version's ensemble variant, rife-v4.6-ensemble, which shares the
# version's checkpoint: rifebuild.model.spec.get). Sizes are per model: the configured ones rounded up to
# the version's padding multiple (rifebuild.model.spec.fit), so the functions below take the model.
import re

from rifebuild.calibration.triplets import source_files
from rifebuild.checkpoint.record import intended
from rifebuild.core.imports import action_code, files_code
from rifebuild.model import spec
from rifebuild.native.targets import native_sources, native_targets
from rifebuild.native.vulkan import bench_devices, verify_on_vulkan

# MODELS (the Snakefile: config `models` x config `ensemble`); versions without an ensemble mode are
# built without that variant, said here at start-up
if NO_ENSEMBLE:
    print(
        f"ensemble: built without an ensemble variant: {', '.join(NO_ENSEMBLE)} "
        f"({spec.NO_ENSEMBLE.removeprefix('has ')})",
        file=sys.stderr,
    )
THREADS = config["threads"]
BENCH = "results/benchmarks"
NCNN = "results/ncnn/{model}"
INT8 = "results/ncnn/{model}-int8"
MNN = "results/mnn/{model}"
# one per version: an ensemble variant reads its version's (checkpoint_of)
CHECKPOINT = "results/checkpoint/{model}/flownet.pkl"
CHECKPOINT_RECORD = "results/checkpoint/{model}/flownet.json"  # what built it (rifebuild.checkpoint.record)
# Verify on Vulkan (native.vulkan.verify: auto = when this machine has a Vulkan device; CI=true needs one).
VULKAN_VERIFY = verify_on_vulkan(config["native"]["vulkan"]["verify"])
NATIVE_TARGETS = native_targets(config["native"])
# The Vulkan precisions checked against PyTorch: verify-vulkan{suffix}.json.
VULKAN_PRECISIONS = {"": "fp32", "-fp16": "fp16", "-int8": "int8"}
# Vulkan devices the benchmark's GPU rows run on (bench.gpu.devices; auto: those here, when host-vulkan is built).
BENCH_GPUS = bench_devices(
    config["bench"]["gpu"]["devices"],
    VULKAN_VERIFY or "host-vulkan" in NATIVE_TARGETS,
)
# Targets checked against the host binary (linux-arm64 under qemu; an Android binary needs a phone).
CROSS_TARGETS = [t for t in NATIVE_TARGETS if t == "linux-arm64"]


wildcard_constraints:
    # any known model id (longest first, so rife-v4.13-lite is never read as rife-v4.13 + "-lite")
    model="|".join(
        re.escape(m) for m in sorted(spec.all_model_ids(), key=len, reverse=True)
    ),
    res=r"\d+x\d+",
    variant=r"(-fp16)?",
    pad=r"\d+",


def sizes(model, pairs):
    """`pairs` ([H, W] from the config) as HxW names at `model`'s padding multiple, first one first."""
    return list(dict.fromkeys("{}x{}".format(*spec.fit(model, h, w)) for h, w in pairs))


def export_dims(model):
    """(height, width) of the export (trace) size: the TorchScript, ONNX and pnnx inputs."""
    return spec.fit(model, config["export"]["height"], config["export"]["width"])


def export_res(model):
    return "{}x{}".format(*export_dims(model))


def verify_res(model):
    """The export size first, then verify.resolutions: every reference and verification size."""
    return list(
        dict.fromkeys(
            [export_res(model)] + sizes(model, config["verify"]["resolutions"])
        )
    )


def stock_res(model):
    return list(
        dict.fromkeys([export_res(model)] + sizes(model, config["stock_resolutions"]))
    )


def cal_res(model):
    return sizes(model, [config["calibration"]["resolution"]])[0]


def padding(model):
    return spec.get(model).arch.padding


def padded_version(wildcards):
    """A version with the {pad} wildcard's padding multiple: shared data depends on the multiple only."""
    return next(m for m in spec.VERSIONS if padding(m) == int(wildcards.pad))


def references(model):
    return [f"results/reference/{model}/{res}.npz" for res in verify_res(model)]


def calibration_data(model):
    """Calibration frames are shared by every model with the same padding multiple (same sizes)."""
    return f"results/calibration/pad{padding(model)}"


# Checked here, not only in the rule's input function: Snakemake drops a failing producer of a file that
# exists, so a finished run would keep its checkpoint (and name the missing file in the release).
if config["weights"] not in ("synthetic", "official") and not os.path.isfile(
    config["weights"]
):
    raise WorkflowError(
        f"weights: {config['weights']!r} is not an existing file; set `weights` to a local "
        "flownet.pkl, `official` (download) or `synthetic`"
    )


def checkpoint_of(wildcards):
    """The checkpoint a model loads: its version's (rife-v4.6-ensemble runs rife-v4.6's weights)."""
    return CHECKPOINT.format(model=spec.get(wildcards.model).base)


def intended_checkpoint(wildcards):
    return intended(config, wildcards.model)


def checkpoint_source(wildcards):
    """The checkpoint rule's input: nothing (synthetic), the download, or the user's file."""
    weights = config["weights"]
    if weights == "synthetic":
        return []
    if weights == "official":
        return f"resources/weights/{wildcards.model}.pkl"
    return weights


# MNN calibrates and evaluates on the int8 branch's splits unless its own folders are configured.
MNN_NAMES = {
    "fp32": "flownet",
    "fp16": "flownet-fp16",
    "wq8": "flownet-wq8",
    "int8": "flownet-int8",
}
MNN_VARIANT = {name: variant for variant, name in MNN_NAMES.items()}


def mnn_frames_input(model):
    return config["mnn"]["int8"]["calibration_dir"] or calibration_data(model)


def mnn_frames(model):
    return (
        config["mnn"]["int8"]["calibration_dir"]
        or f"{calibration_data(model)}/calibration/{cal_res(model)}"
    )


def mnn_eval_input(model):
    return config["mnn"]["eval_dir"] or calibration_data(model)


def mnn_eval(model):
    return (
        config["mnn"]["eval_dir"]
        or f"{calibration_data(model)}/evaluation/{cal_res(model)}"
    )


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


# Per-model roles (ROLE=PATH) of the benchmark and the report, and the release's files.
def records(model):
    """Every artifact and verification record of `model`, by role (ROLE=PATH)."""
    ncnn, int8, mnn = (p.format(model=model) for p in (NCNN, INT8, MNN))
    return {
        "checkpoint": CHECKPOINT.format(model=spec.get(model).base),
        "checkpoint.record": CHECKPOINT_RECORD.format(model=spec.get(model).base),
        "onnx.verify": f"results/export/{model}/flownet.onnx.verify.json",
        "onnx.model": f"results/export/{model}/flownet.onnx",
        "ncnn-fp32.verify": f"{ncnn}/verify.json",
        "ncnn-fp32.model": f"{ncnn}/flownet.bin",
        "ncnn-fp16.verify": f"{ncnn}-fp16/verify.json",
        "ncnn-fp16.model": f"{ncnn}-fp16/flownet.bin",
        **{
            f"ncnn-stock-{res}.{kind}": f"{ncnn}-stock-{res}/{file}"
            for res in stock_res(model)
            for kind, file in (("verify", "verify.json"), ("model", "flownet.bin"))
        },
        "ncnn-int8.verify": f"{int8}/verify.json",
        "ncnn-int8.model": f"{int8}/flownet.bin",
        "ncnn-int8.quantize": f"{int8}/quantize.json",
        "ncnn-int8.calibration": f"{int8}/calibration.json",
        "ncnn-int8.sensitivity": f"{int8}/sensitivity.tsv",
        **{
            f"mnn-{v}.{kind}": f"{mnn}/{MNN_NAMES[v]}.{ext}"
            for v in config["mnn"]["variants"]
            for kind, ext in (("verify", "verify.json"), ("model", "mnn"))
        },
        "native-host.verify": f"results/native/host/{model}/verify.json",
        "native-host.verify-int8": f"results/native/host/{model}/verify-int8.json",
        **{
            f"native-{t}.cross_check{v}": f"results/native/{t}/{model}/cross_check{v}.json"
            for t in CROSS_TARGETS
            for v in ("", "-int8")
        },
        **{
            f"native-host-vulkan.verify-vulkan{v}": f"results/native/host-vulkan/{model}/verify-vulkan{v}.json"
            for v in (VULKAN_PRECISIONS if VULKAN_VERIFY else ())
        },
    }


def bench_inputs(model):
    """What the benchmark of `model` times and sizes, by role."""
    return {
        **records(model),
        **{
            f"native-{t}.binary": f"results/native/{t}/rife-bench"
            for t in NATIVE_TARGETS + (["host-vulkan"] if BENCH_GPUS else [])
        },
    }


def model_artifacts(model):
    """Every artifact file and verification record of `model`: the `models` target, so a deleted
    artifact folder is rebuilt by the default target too (not only when named)."""
    return sorted(
        {
            *records(model).values(),
            *bench_inputs(model).values(),
            *(
                p
                for files in model_release_files(model).values()
                for p in files.values()
            ),
            f"{INT8.format(model=model)}/flownet.table",
            f"{MNN.format(model=model)}/flownet-int8.quant.json",
        }
    )


def bench_outputs(model):
    """The benchmark record, phone record, figures and tables of `model` (the `bench` target)."""
    bench = f"results/bench/{model}"
    return [
        f"{bench}/{name}"
        for name in (
            "bench.json",
            "phone.json",
            "latency.png",
            "quality.png",
            "size.png",
            "latency.tsv",
            "phone.tsv",
        )
    ]


def bench_input(wildcards):
    return bench_inputs(wildcards.model)


def bench_sizes(model):
    return list(
        dict.fromkeys(sizes(model, config["bench"]["sizes"]) + [export_res(model)])
    )


def report_inputs(model):
    """The roles the report reads for `model`."""
    bench = f"results/bench/{model}"
    return {
        **records(model),
        "bench": f"{bench}/bench.json",
        "bench.phone": f"{bench}/phone.json",
        "bench.latency-figure": f"{bench}/latency.png",
        "bench.quality-figure": f"{bench}/quality.png",
        "bench.size-figure": f"{bench}/size.png",
    }


def ncnn_folders(model):
    ncnn = NCNN.format(model=model)
    return [
        ncnn,
        f"{ncnn}-fp16",
        INT8.format(model=model),
        *[f"{ncnn}-stock-{res}" for res in stock_res(model)],
    ]


def model_release_files(model):
    """tarball kind -> {path inside the tarball: workflow output} for one model."""
    mnn = MNN.format(model=model)
    return {
        f"{model}-ncnn": {
            f"{os.path.basename(folder)}/flownet.{ext}": f"{folder}/flownet.{ext}"
            for folder in ncnn_folders(model)
            for ext in ("param", "bin")
        },
        f"{model}-mnn": {
            f"{model}/{MNN_NAMES[v]}.mnn": f"{mnn}/{MNN_NAMES[v]}.mnn"
            for v in config["mnn"]["variants"]
        },
        f"{model}-onnx": {
            f"{model}/flownet.onnx": f"results/export/{model}/flownet.onnx",
        },
    }
