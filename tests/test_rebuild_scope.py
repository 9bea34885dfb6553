"""Edits rebuild only what they touch, proved on a finished run of .test/config.yaml whose outputs are
placeholders recorded by `snakemake --touch` (Snakemake's own metadata: code fingerprints, params,
mtimes), so no job has to run: seconds instead of the real run's minutes.

- a code change in rifebuild/report/ plans only the report and the release;
- a docstring edit (and a plain touch) of rifebuild/core/errors.py plans nothing: no native build, no
  benchmark;
- adding a model plans no job of the first model;
- a deleted artifact folder (results/ncnn) is planned again by the default target."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO

CHECKOUT = ("Snakefile", "config.yaml", "rules", "rifebuild", "native", "envs", "profiles", ".test",
            "requirements.lock")  # the release's SBOM lists the lock: an input of the release rule


def snakemake(checkout: Path, workdir: Path, *args: str, config: str = "config.yaml") -> str:
    cmd = [sys.executable, "-m", "snakemake", "-s", str(checkout / "Snakefile"), "-d", str(workdir),
           "--configfile", str(workdir / config), "--cores", "2", *args]
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent), os.environ["PATH"]])}
    proc = subprocess.run(cmd, cwd=checkout, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout + proc.stderr


def planned(text: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job a dry run plans."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", text):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if head:
            wildcards = re.search(r"^\s+wildcards: (.*)$", block, re.M)
            jobs.append((head.group(1), wildcards.group(1) if wildcards else ""))
    return jobs


def directory_rules(checkout: Path) -> set[str]:
    """Rules whose output is a directory() (their placeholder is a folder)."""
    found = set()
    for path in (checkout / "rules").glob("*.smk"):
        for name, body in re.findall(r"^rule (\w+):\n(.*?)(?=^rule |\Z)", path.read_text(), re.S | re.M):
            if "directory(" in body.split("    log:")[0]:
                found.add(name)
    return found


def finish_with_placeholders(checkout: Path, workdir: Path, config: str = "config.yaml") -> None:
    """Every output of the default target as an empty placeholder, then `--touch` records them as made
    by their jobs (in dependency order, each with its metadata record), as a finished run would have."""
    summary = snakemake(checkout, workdir, "--summary", config=config)
    folders = directory_rules(checkout)
    for line in summary.splitlines():
        fields = line.split("\t")
        if len(fields) >= 5 and fields[4] == "missing":
            path = workdir / fields[0]
            if fields[2] in folders:
                path.mkdir(parents=True, exist_ok=True)
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.touch()
    # --forceall: every job "runs" in touch mode, so each has its metadata record (code fingerprint and
    # params included); without it, jobs whose placeholders already looked current got none and a
    # change of their code could not be seen
    snakemake(checkout, workdir, "--touch", "--forceall", config=config)
    assert "Nothing to be done" in snakemake(checkout, workdir, "-n", config=config)


@pytest.fixture(scope="module")
def finished_once(tmp_path_factory):
    """A copy of the checkout and a finished tiny run of one model (made once per module)."""
    base = tmp_path_factory.mktemp("scope")
    checkout = base / "checkout"
    checkout.mkdir()
    for name in CHECKOUT:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, checkout / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, checkout / name)
    workdir = base / "run"
    workdir.mkdir()
    config = yaml.safe_load((REPO / ".test" / "config.yaml").read_text())
    config["native"]["build_dir"] = str(base / "native-build")  # placeholders never reach the shared one
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    finish_with_placeholders(checkout, workdir)
    return base


@pytest.fixture()
def finished(finished_once, tmp_path):
    """Each test's own copy (it edits the code, deletes outputs): mtimes and Snakemake's records kept."""
    shutil.copytree(finished_once, tmp_path / "copy", symlinks=True)
    return tmp_path / "copy" / "checkout", tmp_path / "copy" / "run"


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{path}: {old!r} not found"
    path.write_text(text.replace(old, new, 1))


def test_scope_of_edits(finished):
    checkout, workdir = finished
    # a docstring edit and a plain touch of core/errors.py (every action imports it): nothing re-runs
    errors = checkout / "rifebuild" / "core" / "errors.py"
    edit(errors, '"""A failure the user can fix;', '"""A failure the user can fix (reworded);')
    errors.touch()
    assert planned(snakemake(checkout, workdir, "-n")) == []
    # a code change in report/: the report and the release, nothing else
    edit(checkout / "rifebuild" / "report" / "run.py", "\ndef ", "\nREWORDED = True\n\n\ndef ")
    jobs = planned(snakemake(checkout, workdir, "-n"))
    assert sorted({rule for rule, _ in jobs}) == ["all", "release", "report"], jobs
    # a code change in the native build code: the native source and builds, and what uses the binaries
    edit(checkout / "rifebuild" / "native" / "source.py", "\ndef ", "\nREWORDED = True\n\n\ndef ")
    rules = {rule for rule, _ in planned(snakemake(checkout, workdir, "-n"))}
    assert {"native_source", "native_build", "native_verify", "bench_run"} <= rules
    assert not rules & {"prepare_checkpoint", "onnx", "pnnx", "warp_rewrite", "verify_ncnn"}, rules


def test_adding_a_model_plans_no_job_of_the_first(finished):
    checkout, workdir = finished
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    (workdir / "two.yaml").write_text(yaml.safe_dump({**config, "models": ["rife-v4.6", "rife-v4.25"]}))
    jobs = planned(snakemake(checkout, workdir, "-n", config="two.yaml"))
    assert any("rife-v4.25" in w for _, w in jobs)
    assert [j for j in jobs if "rife-v4.6" in j[1]] == []
    assert not {"native_build", "native_source", "calibration_data"} & {r for r, w in jobs if "pad32" in w or not w}


def test_a_deleted_artifact_folder_is_rebuilt_by_the_default_target(finished):
    checkout, workdir = finished
    shutil.rmtree(workdir / "results" / "ncnn")
    rules = {rule for rule, _ in planned(snakemake(checkout, workdir, "-n"))}
    assert {"pnnx", "warp_rewrite", "stock_model", "quantize_int8", "verify_ncnn", "verify_int8"} <= rules
