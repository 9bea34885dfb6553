"""RELEASE_NOTES.md: what a user reads on the release page -- what each tarball holds, how good and how
big each artifact is, how to use each folder -- rendered from MANIFEST.json alone, so the notes
can never disagree with the bundle they describe."""
from __future__ import annotations

USAGE = {
    "ncnn": ("ncnn models, the folders as rife-ncnn-vulkan's `models/` expects them",
             "Extract into rife-ncnn-vulkan's (or rife-ncnn-android's) `models/` folder: `{model}/` is the fp32 "
             "model with the `rife.Warp` custom layer (any size that is a multiple of the version's padding: 32; 64 for 4.25/4.26), `{model}-fp16/` the "
             "same with fp16 weights, `{model}-int8/` int8 Convolutions (`opt.use_int8_inference = true`). "
             "`{model}-stock-<H>x<W>/` runs on stock ncnn without custom layers, at that size only."),
    "mnn": ("MNN models (fp32, fp16 weights, int8 weights, full int8)",
            "Load `{model}/flownet*.mnn` with MNN; inputs `in0`, `in1` (RGB in [0,1]) and `in2` (timestep), "
            "any size that is a multiple of the version's padding (32; 64 for 4.25/4.26, 128 for 4.25-lite)."),
    "onnx": ("ONNX model, any size (dynamic H/W)",
             "`{model}/flownet.onnx` runs at any multiple of the version's padding (onnxruntime, or a converter "
             "of your own); inputs `in0`, `in1` (RGB in [0,1]) and `in2` (timestep)."),
    "native": ("`rife-bench` per target: static ncnn benchmark/interpolation program with `rife.Warp`",
               "`<target>/rife-bench --help`; on a phone: `adb push android-arm64/rife-bench /data/local/tmp/`, "
               "with the ncnn model folder next to it."),
    "report": ("the build report (Markdown and JSON) without the wall-clock timings",
               "`report.md` compares every artifact's size and quality; `report.json` names the record "
               "behind every number."),
}


def _mb(n: int | None) -> str:
    return "–" if n is None else f"{n / 1e6:.2f} MB"


def _scores(scores: dict, key: str, fmt: str) -> str:
    """Per size, smallest first (by area: a manifest read back from JSON has its keys sorted as text)."""
    from rifebuild.report.page import pixels

    return ", ".join(f"{res}: {scores[res][key]:{fmt}}" for res in sorted(scores, key=pixels)
                     if scores[res].get(key) is not None) or "–"


def _origin(record: dict) -> str:
    from rifebuild.checkpoint.record import describe

    return describe(record) + (", not a trained model" if record["kind"] == "synthetic" else "")


def _machines(machines: list[dict]) -> str:
    return "; ".join(f"{m['cpu'] or 'an unnamed CPU'} ({m['arch']}: {', '.join(m['isa']) or 'no listed ISA extensions'})"
                     for m in machines)


def render(manifest: dict, sizes: dict[str, int]) -> str:
    """`sizes`: tarball name -> bytes (known only once the tarballs are written)."""
    models = [m["model"] for m in manifest["models"]]
    git = manifest["git"]
    commit = "an unknown commit (not a git checkout)" if not git["commit"] else (
        f"commit `{git['commit'][:12]}`" + (" with uncommitted changes" if git["dirty"] else ""))
    out = [f"# {', '.join(models)} release bundle", "",
           f"Built by rife-build from {commit}, on {_machines(manifest['build_machines'])}. Config sha256 "
           f"`{manifest['config_sha256']}` (the whole effective config is in MANIFEST.json).", "",
           "## Files", "", "| file | size | contents |", "|---|---|---|"]
    for name, entry in sorted(manifest["tarballs"].items()):
        who = f"{entry['model']}: " if entry.get("model") else ""
        out.append(f"| `{name}` | {_mb(sizes.get(name))} | {who}{USAGE[entry['kind']][0]}; "
                   f"{len(entry['files'])} files |")
    out += ["", "`MANIFEST.json` (also inside every tarball) lists every file with its size and sha256, the "
            "checkpoints, the config, the tool versions and every verification verdict. Check a download with "
            "`sha256sum -c SHA256SUMS`, or file by file with `rifebuild release verify DIR_OR_TARBALL`.", ""]
    for entry in manifest["models"]:
        out += _model_section(entry)
    out += ["## How to use", ""]
    for name, entry in sorted(manifest["tarballs"].items()):
        out.append(f"- **`{name}`**: " + USAGE[entry["kind"]][1].format(model=entry.get("model") or models[0]))
    out += ["", "## Left out for reproducibility", "",
            "Two builds of the same commit, config and checkpoints give byte-identical files; these are not part "
            "of the bundle for that reason:", ""]
    out += [f"- {e['what']}: {e['why']}." for e in manifest["not_included"]]
    return "\n".join(out) + "\n"


def _model_section(entry: dict) -> list[str]:
    ckpt = entry["checkpoint"]
    out = [f"## {entry['model']}", ""]
    if entry.get("ensemble_of"):
        out += [f"The ensemble variant of {entry['ensemble_of']}: the same checkpoint, every IFBlock also run on the "
                "swapped frame pair and the two averaged (the upstream ensemble mode), about twice the compute. Its "
                "folders are used like the version's; rife-ncnn-vulkan's TTA flags (-x, -z) do not apply to them.", ""]
    out += [f"Checkpoint: {_origin(ckpt)}, sha256 `{ckpt['sha256']}`.", "",
           "PSNR (dB) against the PyTorch model on the fixed verification inputs, per resolution; against "
           "ground-truth middle frames on the evaluation split; int8 also against fp32 ncnn.", "",
           "| artifact | size | PSNR vs PyTorch | max abs err vs PyTorch | PSNR vs ground truth | vs fp32 ncnn | "
           "verified |", "|---|---|---|---|---|---|---|"]
    for a in entry["artifacts"]:
        out.append(f"| {a['name']} | {_mb(a.get('bytes'))} | {_scores(a.get('vs_pytorch', {}), 'psnr_db', '.1f')} | "
                   f"{_scores(a.get('vs_pytorch', {}), 'max_abs_err', '.1e')} | "
                   f"{_scores(a.get('vs_ground_truth', {}), 'psnr_db', '.2f')} | "
                   f"{_scores(a.get('vs_fp32_ncnn', {}), 'psnr_db', '.1f')} | {'yes' if a['verified'] else 'NO'} |")
    if entry["native_checks"]:
        out += ["", "Native `rife-bench`: " + "; ".join(
            f"{c['target']} {c['precision']} {c['check']} at {c['size']}: max abs err {c['max_abs_err']:.1e}"
            for c in entry["native_checks"]) + "."]
    return out + [""]
