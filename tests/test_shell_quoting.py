"""Config values reach every rule's command as one argument each, whatever they contain.

Every path-like key is set to a path holding a space, both quotes, `$(…)`, `;` and a leading `-` in a
component. Snakemake's dry run prints each job's shell command; each is then run by bash with a
stand-in `rifebuild` that records its argv. Nothing may be injected (no marker file appears) and each
value must arrive whole, as `--key=value` or after `--`.
"""
from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import yaml
from conftest import REPO

from rifebuild.cli import build_parser

NASTY = "x' \"a b\" $(touch MARKER_1); touch MARKER_2; `touch MARKER_3` -y"
SKIP_OPS = ["conv 1; touch MARKER_4", "-y", "$(touch MARKER_5)"]


def nasty_config(root: Path) -> tuple[dict, list[str]]:
    folder = root / NASTY
    for sub in ("frames", "eval", "calib", "ndk/build/cmake"):
        (folder / sub).mkdir(parents=True)
    (folder / "w.pkl").write_bytes(b"")
    (folder / "ndk/build/cmake/android.toolchain.cmake").write_text("")
    for i in range(1, 10):  # calibration.data: a folder of consecutive frames
        (folder / "frames" / f"f{i}.png").write_bytes(b"")
    config = {
        "weights": str(folder / "w.pkl"),
        "calibration": {"data": str(folder / "frames")},
        "mnn": {"eval_dir": str(folder / "eval"),
                "int8": {"calibration_dir": str(folder / "calib"), "skip_ops": SKIP_OPS}},
        "bench": {"adb_serial": f"emulator {NASTY}"},
        "native": {"targets": ["host", "linux-arm64", "android-arm64"], "build_dir": str(folder / "build"),
                   "android_ndk": str(folder / "ndk"), "ncnn_url": f"file://{folder}/ncnn.zip"},
    }
    values = [config["weights"], config["calibration"]["data"], config["mnn"]["eval_dir"],
              config["mnn"]["int8"]["calibration_dir"], *SKIP_OPS, config["native"]["android_ndk"],
              config["native"]["ncnn_url"], config["bench"]["adb_serial"]]
    return config, values


def shell_commands(dry_run_output: str) -> list[str]:
    """The rules' shell lines (one line each; jobs without a shell command print None)."""
    return [line.removeprefix("Shell command: ") for line in dry_run_output.splitlines()
            if line.startswith("Shell command: ") and line != "Shell command: None"]


def test_every_rule_passes_config_values_as_single_arguments(tmp_path):
    config, values = nasty_config(tmp_path)
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"), "-d", str(workdir),
                           "--configfile", str(workdir / "config.yaml"), "-n", "-p", "--cores", "2"],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    commands = shell_commands(proc.stdout + proc.stderr)
    assert len(commands) > 30

    stub = tmp_path / "bin" / "rifebuild"
    stub.parent.mkdir()
    calls = tmp_path / "calls.jsonl"
    stub.write_text(f"#!{sys.executable}\nimport json, sys\n"
                    f"open({str(calls)!r}, 'a').write(json.dumps(sys.argv[1:]) + '\\n')\n")
    stub.chmod(stub.stat().st_mode | stat.S_IEXEC)
    env = {**os.environ, "PATH": f"{stub.parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        for log in re.findall(r"(?:>|tee) (logs/\S+)", command):  # Snakemake makes log folders before a job
            (workdir / log).parent.mkdir(parents=True, exist_ok=True)
        run = subprocess.run(["bash", "-euo", "pipefail", "-c", command], cwd=workdir, env=env,
                             capture_output=True, text=True)
        assert run.returncode == 0, f"{command}\n{run.stderr}"

    assert list(tmp_path.rglob("MARKER_*")) == [], "a config value was run as a command"
    argv = [json.loads(line) for line in calls.read_text().splitlines()]
    assert len(argv) == len(commands)
    arguments = [a for call in argv for a in call]
    for value in values:
        whole = [a for a in arguments if a == value or a.endswith(f"={value}")]
        assert whole, f"{value!r} never reached a command as one argument"
    for call in argv:  # nothing that came from a nasty value became an argument of its own
        assert not any(a.startswith(("-y", "1;", "touch", "$(", "`")) for a in call), call
    parser = build_parser()  # every rule's call is one the CLI takes (a renamed flag fails here, not in e2e)
    for call in argv:
        parser.parse_args(call)
