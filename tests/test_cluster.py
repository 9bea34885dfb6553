"""The SLURM profile (profiles/slurm): a dry run through the real executor plugin plans the whole
two-model DAG with every job's resources, and every rule declares what a scheduler needs."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

PROFILE = REPO / "profiles" / "slurm"


def dry_run(workdir: Path, *args: str) -> str:
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--profile", str(PROFILE), "-s", str(REPO / "Snakefile"),
                           "-d", str(workdir), "-n", *args], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def jobs(text: str) -> list[dict]:
    """Each planned job: its rule, threads and resources, as the dry run prints them."""
    out = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", text):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if not head:
            continue
        threads = re.search(r"^\s+threads: (\d+)$", block, re.M)
        resources = re.search(r"^\s+resources: (.*)$", block, re.M)
        out.append({"rule": head.group(1), "threads": int(threads.group(1)) if threads else 1,
                    "resources": dict(kv.split("=", 1) for kv in resources.group(1).split(", ")) if resources else {}})
    return out


def test_profile_uses_the_slurm_executor_and_a_whole_node_for_the_benchmark():
    profile = yaml.safe_load((PROFILE / "config.yaml").read_text())
    assert profile["executor"] == "slurm" and profile["cores"] >= 2
    assert profile["set-resources"]["bench_run"]["slurm_extra"] == "'--exclusive'"


def test_dry_run_plans_every_model_and_stage_with_their_resources(tmp_path):
    text = dry_run(tmp_path, "--config", "models=[rife-v4.6, rife-v4.17-lite]", "native={targets: [host, linux-arm64], vulkan: {verify: false}}",
                   "--default-resources", "slurm_partition=cpu", "mem_mb=4000", "runtime=60")
    planned = jobs(text)
    per_rule: dict[str, int] = {}
    for job in planned:
        per_rule[job["rule"]] = per_rule.get(job["rule"], 0) + 1
    assert per_rule["prepare_checkpoint"] == per_rule["warp_rewrite"] == per_rule["bench_run"] == 2
    # host, linux-arm64 and the reference build int8 calibration runs on
    assert per_rule["native_build"] == 3 and per_rule["report"] == per_rule["release"] == 1
    for job in planned:
        if job["rule"] == "all":
            continue
        assert job["resources"].get("slurm_partition") == "cpu", job
        assert int(job["resources"]["mem_mb"]) >= 1000 and job["resources"].get("runtime"), job
    bench = [j for j in planned if j["rule"] == "bench_run"]
    assert all(j["threads"] == 16 and j["resources"]["slurm_extra"] == "--exclusive" for j in bench)
    assert "--cores=16" in text  # the bench record can tell that it held the whole node


def test_every_rule_declares_its_memory_and_threads_it_passes_on():
    """The scheduler can only give a job what its rule declares: mem_mb everywhere, threads wherever the
    command is told a thread count."""
    missing = []
    for path in sorted((REPO / "rules").glob("*.smk")):
        text = path.read_text()
        for match in re.finditer(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", text, re.S | re.M):
            name, body = match.groups()
            if "mem_mb=" not in body:
                missing.append(f"{path.name}: {name} has no resources: mem_mb")
            if "{threads}" in body and "threads:" not in body:
                missing.append(f"{path.name}: {name} passes {{threads}} but declares no threads")
    assert missing == []


def test_seconds_long_jobs_and_downloads_are_local_rules():
    """They run in the main Snakemake process, not queued as cluster jobs (the Snakefile's localrules);
    every name there is a rule (a misspelt one would silently queue the job)."""
    snakefile = (REPO / "Snakefile").read_text()
    block = re.search(r"^localrules:\n((?:    \w+,\n)+)", snakefile, re.M).group(1)
    local = set(re.findall(r"(\w+),", block))
    defined = set(re.findall(r"^rule (\w+):", snakefile + "".join(p.read_text() for p in (REPO / "rules").glob("*.smk")),
                             re.M))
    assert local <= defined, sorted(local - defined)
    assert {"fetch_weights", "native_source", "warp_rewrite", "stock_model", "quantize_int8", "mnn_convert",
            "mnn_samples", "bench_plots", "report", "release", "all", "models", "bench"} == local
