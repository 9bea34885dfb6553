# Names and paths shared by the rules. Values come from the validated config only.
MODEL = config["model_name"]
EXPORT_H, EXPORT_W = config["export"]["height"], config["export"]["width"]
EXPORT_RES = f"{EXPORT_H}x{EXPORT_W}"
VERIFY_RES = list(dict.fromkeys([EXPORT_RES] + [f"{h}x{w}" for h, w in config["verify"]["resolutions"]]))
STOCK_RES = list(dict.fromkeys([EXPORT_RES] + [f"{h}x{w}" for h, w in config["stock_resolutions"]]))
NCNN = f"results/ncnn/{MODEL}"
BENCH = "results/benchmarks"

wildcard_constraints:
    res=r"\d+x\d+",
    variant=r"(-fp16)?",


def checkpoint_source():
    """Input of the checkpoint rule: nothing (synthetic), the download, or the user's file."""
    weights = config["weights"]
    if weights == "synthetic":
        return []
    if weights == "official":
        return "resources/weights/flownet_v4.6.pkl"
    if not os.path.isfile(weights):
        raise WorkflowError(
            f"weights: {weights!r} is not an existing file; set `weights` to a local flownet.pkl, "
            "`official` (download) or `synthetic`")
    return weights


def checkpoint_args():
    if config["weights"] == "synthetic":
        return f"--synthetic-seed {config['synthetic_seed']}"
    return f"--source '{checkpoint_source()}'"


def verify_bound(wildcards):
    """fp16 variants get the fp16 bound, fp32 the fp32 one."""
    return config["verify"]["fp16_max_abs_err" if wildcards.variant else "fp32_max_abs_err"]
