"""Project hygiene: no import cycles in rifebuild, and the dependencies have one
source (pyproject.toml's pins, requirements.lock holding them and everything they pull in, the conda
env repeating them) that covers every third-party import of the package."""
from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

from rifebuild.core.imports import import_graph, import_nodes

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "rifebuild"
LOCK = REPO / "requirements.lock"
CONDA_ENV = REPO / "envs" / "rifebuild.yaml"

# Import name -> distribution, where they differ or where the installed metadata cannot tell
# (`_tools` is MNN's compiled converter, a top-level module of the mnn wheel).
IMPORT_TO_DIST = {
    "PIL": "pillow",
    "skimage": "scikit-image",
    "yaml": "PyYAML",
    "MNN": "mnn",
    "_tools": "mnn",
    "onnxsim": "onnxsim",
    "rife_ncnn_vulkan_python": "rife-ncnn-vulkan-python-tntwise",  # TNTwise's build of the client (tests/clients.py)
    "onnxruntime": "onnxruntime",
    "snakemake": "snakemake",
    "cv2": "opencv-python",
    "sklearn": "scikit-learn",
}
# Imported but deliberately not a dependency: present wherever `pip install .` ran.
ENVIRONMENT_PROVIDED = {
    "pip": "the installer itself (venv and conda env have it); rifebuild.native.source asks it for its index",
}
# Test-extra packages requirements.lock leaves out (why: pyproject.toml, at the test extra).
NOT_IN_LOCK: set[str] = set()


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def pins(requirements: list[str]) -> dict[str, str]:
    """canonical name -> the requirement string, for `name==version` pins (anything else fails)."""
    out = {}
    for req in requirements:
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==[0-9][A-Za-z0-9.]*", req), f"not an exact pin: {req!r}"
        out[canonical(req.split("==")[0])] = req
    return out


def lock_lines() -> list[str]:
    return [line.strip() for line in LOCK.read_text().splitlines() if line.strip() and not line.startswith("#")]


# --- import graph ---------------------------------------------------------------------------------

def subpackage_of(module: str) -> str:
    """rifebuild.<sub>.* -> rifebuild.<sub> for a subpackage; top-level modules stay themselves."""
    parts = module.split(".")
    if len(parts) >= 2 and (PACKAGE / parts[1]).is_dir():
        return ".".join(parts[:2])
    return module


def subpackage_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        node = out.setdefault(subpackage_of(module), set())
        node.update(subpackage_of(t) for t in targets if subpackage_of(t) != subpackage_of(module))
    return out


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (a -> ... -> a) per strongly connected component with more than one node or a self-loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def strongconnect(v: str) -> None:  # Tarjan; the graphs here are small enough for recursion
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1 or v in graph.get(v, ()):
                components.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)

    cycles = []
    for component in components:
        inside = set(component)
        start = component[0]
        # shortest path start -> ... -> start within the component (BFS)
        previous: dict[str, str] = {}
        frontier = [start]
        found = None
        while frontier and found is None:
            nxt = []
            for v in frontier:
                for w in sorted(graph.get(v, ())):
                    if w == start:
                        found = v
                        break
                    if w in inside and w not in previous:
                        previous[w] = v
                        nxt.append(w)
                if found is not None:
                    break
            frontier = nxt
        path = [start]
        v = found
        while v != start:
            path.append(v)
            v = previous[v]
        cycles.append([start, *reversed(path[1:]), start])
    return cycles


def describe(cycles: list[list[str]]) -> str:
    return "\n".join("  " + " -> ".join(c) for c in cycles)


def test_find_cycles_names_the_cycle():
    assert find_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": {"b"}, "b": set()}) == []
    assert find_cycles({"a": {"a"}}) == [["a", "a"]]


def test_import_graph_is_read():
    graph = import_graph()
    assert "rifebuild.cli" in graph and "rifebuild.core.errors" in graph
    assert sum(map(len, graph.values())) > len(graph), "suspiciously few imports found"
    assert "rifebuild.core.errors" in graph["rifebuild.core.config"]


def test_no_import_cycle_between_modules():
    cycles = find_cycles(import_graph())
    assert not cycles, f"import cycles between rifebuild modules:\n{describe(cycles)}"


def test_no_import_cycle_between_subpackages():
    cycles = find_cycles(subpackage_graph(import_graph()))
    assert not cycles, f"import cycles between rifebuild subpackages:\n{describe(cycles)}"


# --- dependencies ---------------------------------------------------------------------------------

def test_dependencies_are_exact_pins():
    project = pyproject()["project"]
    assert project["dependencies"], "pyproject.toml declares no dependencies"
    pins(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        pins(extra)


def test_lock_holds_every_top_level_pin():
    project = pyproject()["project"]
    lock = lock_lines()
    locked = pins(lock)
    assert len(locked) == len(lock), "a package is pinned twice in requirements.lock"
    wanted = {**pins(project["dependencies"]),
              **{k: v for extra in project["optional-dependencies"].values() for k, v in pins(extra).items()}}
    wrong = [f"{req} (lock: {locked.get(name, 'missing')})" for name, req in wanted.items()
             if name not in NOT_IN_LOCK and req not in lock]
    assert not wrong, "pyproject.toml pins that requirements.lock does not hold identically:\n  " + "\n  ".join(wrong)


def test_lock_has_no_url_or_host():
    text = LOCK.read_text()
    assert not re.search(r"[A-Za-z][A-Za-z0-9+.-]*://", text), "requirements.lock holds a URL"
    assert not re.search(r"\b[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.(org|com|net|io|dev|cn|edu)\b", text), (
        "requirements.lock names a host")
    options = [line for line in lock_lines() if line.startswith("-") or "@" in line or ";" in line]
    assert not options, f"requirements.lock must hold plain pins only: {options}"


def third_party_imports(root: Path) -> dict[str, set[str]]:
    """Top-level third-party module -> files (relative to the repo) importing it (absolute imports)."""
    local = {"rifebuild", "conftest"} | {p.stem for p in root.glob("*.py")}
    found: dict[str, set[str]] = {}
    for path in sorted(root.rglob("*.py")):
        for node in import_nodes(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.ImportFrom) and node.level:
                continue
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for name in names:
                top = name.split(".")[0]
                if top and top not in sys.stdlib_module_names and top not in local and top != "__future__":
                    found.setdefault(top, set()).add(str(path.relative_to(REPO)))
    return found


def distribution_of(module: str) -> str:
    if module in IMPORT_TO_DIST:
        return canonical(IMPORT_TO_DIST[module])
    dists = importlib.metadata.packages_distributions().get(module)
    return canonical(dists[0]) if dists else canonical(module)


def uncovered(imports: dict[str, set[str]], declared: set[str]) -> list[str]:
    return [f"{module} (distribution {distribution_of(module)}; imported by {', '.join(sorted(files))})"
            for module, files in sorted(imports.items())
            if module not in ENVIRONMENT_PROVIDED and distribution_of(module) not in declared]


def test_dependencies_cover_every_import_of_the_package():
    """`pip install .` is complete: each third-party module rifebuild imports has a declared distribution."""
    declared = set(pins(pyproject()["project"]["dependencies"]))
    imports = third_party_imports(PACKAGE)
    assert {"torch", "numpy", "yaml"} <= imports.keys(), f"import scan found too little: {sorted(imports)}"
    missing = uncovered(imports, declared)
    assert not missing, "imported by rifebuild but not in pyproject.toml dependencies:\n  " + "\n  ".join(missing)


def test_dependencies_and_test_extra_cover_every_import_of_the_tests():
    project = pyproject()["project"]
    declared = set(pins(project["dependencies"])) | set(pins(project["optional-dependencies"]["test"]))
    missing = uncovered(third_party_imports(REPO / "tests"), declared)
    assert not missing, "imported by tests but not declared in pyproject.toml:\n  " + "\n  ".join(missing)


def test_conda_env_has_the_same_pins():
    """envs/rifebuild.yaml: python 3.11, pip, torch as conda-forge's CPU pytorch, every other pin via pip."""
    env = yaml.safe_load(CONDA_ENV.read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    deps = pins(pyproject()["project"]["dependencies"])
    torch_version = deps.pop("torch").split("==")[1]
    assert "python=3.11" in conda and "pip" in conda
    assert f"pytorch={torch_version}=cpu_*" in conda, conda
    assert sorted(pip) == sorted(deps.values()), "envs/rifebuild.yaml pip pins differ from pyproject.toml"
    assert not any(str(line).startswith("-") for line in pip), "envs/rifebuild.yaml may name no file outside envs/"
    assert (REPO / "envs" / "rifebuild.post-deploy.sh").is_file()


def test_missing_prerequisite_skips_here_and_fails_in_ci(monkeypatch):
    from conftest import skip_unless_ci

    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        skip_unless_ci("ncnn source unavailable")
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        skip_unless_ci("ncnn source unavailable")


def test_a_folder_this_user_cannot_write_is_one_sentence(tmp_path):
    """A results folder the user may not write: one sentence naming it, exit 2 (failed before: a
    PermissionError traceback)."""
    from conftest import as_plain_user

    results = tmp_path / "results"
    results.mkdir()
    results.chmod(0o555)
    out = results / "calibration" / "pad32"
    proc = subprocess.run([*as_plain_user(), sys.executable, "-m", "rifebuild", "calibration", "data",
                           "--source=builtin", "--resolution=32x32", "--calibration-size=1", "--evaluation-size=1",
                           f"--out={out}"], capture_output=True, text=True, cwd=REPO)
    results.chmod(0o755)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert f"permission denied for {results / 'calibration'}: this user may not access it" in proc.stderr


def test_atomic_output_into_a_read_only_folder_names_the_folder(tmp_path):
    from conftest import as_plain_user

    folder = tmp_path / "results"
    folder.mkdir()
    folder.chmod(0o555)
    code = ("import sys\nfrom rifebuild.core.files import atomic_write_json\nfrom rifebuild.core.errors import OutputError\n"
            "try:\n    atomic_write_json(sys.argv[1], {})\nexcept OutputError as exc:\n    print(exc)\n")
    proc = subprocess.run([*as_plain_user(), sys.executable, "-c", code, str(folder / "ncnn/x.json")],
                          capture_output=True, text=True, cwd=REPO)
    folder.chmod(0o755)
    assert proc.stdout.strip() == (f"cannot write {folder / 'ncnn/x.json'}: the folder {folder} is not writable by "
                                   "this user; fix its permissions or run from a working directory you own")
