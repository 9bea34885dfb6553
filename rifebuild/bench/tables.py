"""The benchmark's tables, from bench.json and phone.json: Markdown for results/report.md, TSV for
Snakemake's HTML report. One place formats them, so both show the same numbers."""
from __future__ import annotations

from rifebuild.bench.matrix import BASELINE, BY_KEY, MODES, VARIANTS

DASH = "–"
ORDER = [v.key for v in VARIANTS]
LATENCY_HEAD = ["size", "threads", "variant", "median ms", "p90 ms", "min ms", "n", "peak RSS MB",
                f"vs {BASELINE}", "GFLOP/s", "% of peak"]
PHONE_HEAD = ["precision", "on", "mode", "size", "threads", "median ms", "p90 ms", "min ms", "n", "peak RSS MB",
              "vs fp32"]
MODE_NAMES = {"single": "one frame", "interpolate": "interpolate (ms/frame)"}


def row_key(row: dict) -> tuple:
    """What tells rows of one cell apart: the variant, and for GPU rows the device and the mode."""
    return ORDER.index(row["variant"]), row.get("gpu", -1), MODES.index(row.get("mode", "single"))


def sorted_results(bench: dict) -> list[dict]:
    sizes = bench["sizes"]
    return sorted(bench["results"], key=lambda r: (sizes.index(r["size"]), r["threads"], row_key(r)))


def _percent(fraction: float | None) -> str:
    return DASH if fraction is None else f"{100 * fraction:.1f}"


def latency_cells(bench: dict) -> list[list[str]]:
    return [[r["size"], str(r["threads"]), r["label"], f"{r['median_ms']:.1f}", f"{r['p90_ms']:.1f}",
             f"{r['min_ms']:.1f}", str(r["n"]), f"{r['peak_rss_mb']:.0f}", f"{r['ratio_vs_baseline']:.3f}",
             f"{r['gflop_per_s']:.1f}", _percent(r["fraction_of_peak"])] for r in sorted_results(bench)]


def _on(row: dict) -> str:
    """'cpu', or the Vulkan device's name ('(software)' for lavapipe and the like)."""
    if row.get("on", "cpu") == "cpu":
        return "cpu"
    return row["device"].split(" (")[0] + (" (software)" if row.get("software") else "")


def phone_cells(phone: dict) -> list[list[str]]:
    return [[r["precision"], _on(r), MODE_NAMES[r.get("mode", "single")], r["size"], str(r["threads"]),
             f"{r['median_ms']:.1f}", f"{r['p90_ms']:.1f}",
             f"{r['min_ms']:.1f}", str(r["n"]), f"{r['peak_rss_mb']:.0f}",
             DASH if r["ratio_vs_fp32"] is None else f"{r['ratio_vs_fp32']:.3f}"] for r in phone["results"]]


def tsv(head: list[str], rows: list[list[str]]) -> str:
    return "\n".join("\t".join(row) for row in [head, *rows]) + "\n"


def latency_tsv(bench: dict) -> str:
    return tsv(LATENCY_HEAD, latency_cells(bench))


def phone_tsv(phone: dict) -> str:
    if not phone["results"]:
        return tsv(["phone"], [[phone.get("note", "no results")]])
    return tsv(PHONE_HEAD, phone_cells(phone))


def _md(head: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(head) + " |", "|" + "---|" * len(head), *["| " + " | ".join(r) + " |" for r in rows], ""]


def int8_vs_fp32(bench: dict) -> list[str]:
    """'0.850x at 1 thread (736x1280)' per cell: the int8 ratio people ask for first."""
    return [f"{r['ratio_vs_baseline']:.3f}x at {r['threads']} thread{'s' if r['threads'] > 1 else ''} ({r['size']})"
            for r in sorted_results(bench) if r["variant"] == "rife-bench-int8"]


def gpu_note(bench: dict) -> list[str]:
    """How to read the GPU rows, and a warning when a device is software (lavapipe: the CPU's cores)."""
    gpu = [r for r in bench["results"] if "gpu" in r]
    if not gpu:
        return []
    setting = bench.get("gpu", {})
    out = [f"GPU rows: rife-bench (host-vulkan build) on Vulkan device(s) {', '.join(map(str, setting.get('devices', [])))}, "
           "every layer on the device, in the same rounds as the CPU rows (with the first thread count). "
           "\"one frame\": upload, inference, download of one frame; \"interpolate\": ms per interpolated frame of a "
           f"{setting.get('frames')}-frame synthetic clip read from and written to PPM files, pairs pipelined over "
           f"{setting.get('jobs')} workers (what a video user sees). Their % of peak is empty: the peak is the CPU's."]
    software = sorted({r["device"] for r in gpu if r.get("software")})
    if software:
        out += [f"**{', '.join(software)} is a software Vulkan device** (it computes on this machine's CPU cores): its "
                "rows check the GPU path, they are no GPU figure."]
    return [" ".join(out), ""]


def markdown(bench: dict, phone: dict, figures: dict[str, str]) -> list[str]:
    """The report's benchmark section; `figures` maps latency/quality/size to paths relative to the report."""
    window = bench["window"]["end"] - bench["window"]["start"]
    held = bench["exclusive"]
    out = ["## Benchmark (this machine)", "",
           f"Every variant loaded and warmed up in its own process ({bench['warmup']} untimed run(s)), then timed "
           f"round-robin, {bench['rounds']} rounds of one run each; ratios divide by {BY_KEY[BASELINE].label} from "
           f"the same rounds. Timed window {window:.0f} s on {bench['machine']['cpu'] or 'this CPU'} "
           f"({bench['machine']['cpus_available']} CPUs available); "
           + ("the benchmark job held all of the run's cores, so no other job of the run was working."
              if held["all_cores_held"] else
              f"WARNING: the job held {held['job_threads']} of {held['cores']} cores (--max-threads?), so other jobs "
              "may have run beside it; re-run without capping its threads."), ""]
    out += ["FLOPs per frame (torch.utils.flop_counter, PyTorch model): "
            + ", ".join(f"{f / 1e9:.1f} GFLOP at {size}" for size, f in bench["flops"].items())
            + f". Practical fp32 peak (sgemm {bench['sgemm']['n']}, numpy BLAS, same rounds): "
            + ", ".join(f"{g:.1f} GFLOP/s with {t} thread{'s' if int(t) > 1 else ''}"
                        for t, g in bench["sgemm"]["peak_gflop_per_s"].items())
            + ". GFLOP/s = the model's FLOPs / median; % of peak = GFLOP/s / that peak (int8 variants: fp32-equivalent "
              "work per second; above 100%: the runtime computes less than the nominal count, e.g. Winograd "
              "convolutions).", ""]
    out += gpu_note(bench)
    ratios = int8_vs_fp32(bench)
    if ratios:
        out += [f"rife-bench int8 vs fp32, same rounds: {', '.join(ratios)}.", ""]
    if figures.get("latency"):
        out += [f"![latency per variant and thread count]({figures['latency']})", ""]
    out += _md(LATENCY_HEAD, latency_cells(bench))
    if bench["not_run"]:
        out += ["Not timed:"] + [f"- {n['label']} at {n['size']}: {n['reason']}." for n in bench["not_run"]] + [""]
    if figures.get("quality"):
        out += [f"![PSNR vs ground truth against latency, Pareto front]({figures['quality']})", ""]
        missing = [BY_KEY[r].label for r in dict.fromkeys(x["variant"] for x in bench["results"])
                   if r not in bench["quality"]]
        if missing:
            out += [f"No ground-truth score recorded for {', '.join(missing)} (not in the plot).", ""]
    if figures.get("size"):
        out += [f"![size per artifact]({figures['size']})", ""]
    out += ["### Phone (adb)", ""]
    if phone["results"]:
        d = phone["device"]
        out += [f"Device {d['model'] or d['serial']} ({d['abi'] or 'unknown ABI'}), rife-bench {phone['binary']}; "
                f"fp32, fp16 and int8 took turns {phone['rounds']} times, {phone['loops']} timed run(s) each."
                + (f" On its GPU (Vulkan device {phone['gpu']['device']}) too: one frame, and a "
                   f"{phone['gpu']['frames']}-frame clip interpolated over {phone['gpu']['jobs']} workers."
                   if phone.get("gpu") else ""), ""]
        out += _md(PHONE_HEAD, phone_cells(phone))
    else:
        out += [phone.get("note", "no results") + ".", ""]
    return out
