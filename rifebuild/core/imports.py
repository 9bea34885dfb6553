"""Which rifebuild modules a `rifebuild <stage> <action>` call reaches, read from the source (nothing is
imported), and a fingerprint of their code.

Why: a rule re-runs when the code of its action changes, and only then. Listing the whole package (or
every module of a stage) as a rule's input re-ran the native builds and the benchmark after a docstring
edit in core/errors.py. Here the reach is computed per action: the stage's cli module at module level
plus the body of the action's function (its heavy imports are inside it), then every module those import,
transitively. The fingerprint hashes each module's syntax tree without docstrings, so comments,
docstrings and formatting re-run nothing; a changed statement re-runs exactly the actions that reach it.
The same import reader backs the import-cycle test (tests/test_project.py).
"""
from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]
ENTRY = "rifebuild.cli"  # the console script `rifebuild` (pyproject.toml [project.scripts])


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def module_files() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


@lru_cache(maxsize=None)
def parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def is_type_checking(node: ast.AST) -> bool:
    test = node.test if isinstance(node, ast.If) else None
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def import_nodes(tree: ast.AST):
    """Every Import/ImportFrom, at any depth (function-level imports too), except under `if TYPE_CHECKING:`."""
    todo = [tree]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        children = list(ast.iter_child_nodes(node))
        if is_type_checking(node):
            children = node.orelse
        todo.extend(children)


def imported_names(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    """Absolute dotted names an import statement refers to (for `from X import a`: X.a and X)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if node.level:
        base = module.split(".") if is_package else module.split(".")[:-1]
        base = base[:len(base) - (node.level - 1)]
        base_name = ".".join(base + ([node.module] if node.module else []))
    else:
        base_name = node.module or ""
    return [f"{base_name}.{alias.name}" for alias in node.names] + [base_name]


def imported_modules(module: str, nodes) -> set[str]:
    """The rifebuild modules that `nodes` (import statements of `module`) import: `from pkg import x`
    counts as pkg.x when that is a module, else as pkg."""
    files = module_files()
    found = set()
    for node in nodes:
        names = imported_names(module, files[module].name == "__init__.py", node)
        if isinstance(node, ast.ImportFrom):
            *members, base = names
            names = [m if m in files else base for m in members]
        for name in names:
            parts = name.split(".")
            while parts and ".".join(parts) not in files:
                parts.pop()
            target = ".".join(parts)
            if parts and parts[0] == "rifebuild" and target != module:
                found.add(target)
    return found


@lru_cache(maxsize=1)
def import_graph() -> dict[str, set[str]]:
    """rifebuild module -> the rifebuild modules it imports (at any depth of its code)."""
    return {m: imported_modules(m, import_nodes(parse(p))) for m, p in module_files().items()}


def action_roots(stage: str, action: str) -> set[str]:
    """What `rifebuild <stage> <action>` imports first: the entry module and what the stage's cli module
    imports at module level, and the imports inside the action's function, its `register` and the
    module's functions they call (the other actions' imports are never reached)."""
    module = f"rifebuild.{stage}.cli"
    tree = parse(module_files()[module])
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    registered = {call.args[1].value: call.args[2].id for call in ast.walk(functions["register"])
                  if isinstance(call, ast.Call) and len(call.args) >= 3 and isinstance(call.args[1], ast.Constant)
                  and isinstance(call.args[2], ast.Name)}
    if action not in registered:
        raise KeyError(f"rifebuild {stage} has no action {action!r} (it has {', '.join(sorted(registered))})")
    nodes = [n for n in tree.body if not isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    nodes += list(import_nodes(functions["register"]))  # runs for every action; names them all, calls none
    todo, done = [registered[action]], set()
    while todo:
        name = todo.pop()
        if name in done:
            continue
        done.add(name)
        nodes.append(functions[name])
        todo += [n.id for n in ast.walk(functions[name]) if isinstance(n, ast.Name) and n.id in functions]
    return {ENTRY} | imported_modules(module, (i for n in nodes for i in import_nodes(n)))


@lru_cache(maxsize=None)
def action_modules(stage: str, action: str) -> tuple[str, ...]:
    """Every rifebuild module `rifebuild <stage> <action>` may run: its roots, what they import
    (transitively, any depth) and the packages (`__init__`) on the way."""
    graph = import_graph()
    cli = f"rifebuild.{stage}.cli"  # read in part (action_roots), never through its whole import list
    seen: set[str] = {cli}
    todo = sorted(action_roots(stage, action) | {f"rifebuild.{stage}"})
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        parts = module.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))] + sorted(graph[module])
    return tuple(sorted(seen))


def data_files(module: str) -> list[Path]:
    """Files beside `module` that it names in a string (config.schema.yaml, verification.schema.json)."""
    path = module_files()[module]
    names = {n.value for n in ast.walk(parse(path)) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    return sorted(p for p in path.parent.iterdir() if p.suffix != ".py" and p.is_file() and p.name in names)


def without_docstrings(source: str) -> str:
    """The syntax tree as text, docstrings left out (comments and layout are not in it anyway)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(body, list) and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str)):
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


@lru_cache(maxsize=None)
def fingerprint(path: Path) -> str:
    data = without_docstrings(path.read_text()).encode() if path.suffix == ".py" else path.read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def files_code(paths) -> dict[str, str]:
    """Path (from the repository root) -> fingerprint of each file (the native C++ sources): a param,
    not an input, so a second clone or a moved checkout (other absolute paths, newer mtimes) re-builds
    nothing while an edited source re-builds."""
    return {str(Path(p).resolve().relative_to(PACKAGE.parent)): fingerprint(Path(p).resolve()) for p in sorted(paths)}


def action_code(stage: str, action: str) -> dict[str, str]:
    """Path (from the repository root) -> fingerprint of every file `rifebuild <stage> <action>` runs or
    reads from the package. A rule passes it as a param: Snakemake re-runs a job whose params changed."""
    files = module_files()
    paths = [files[m] for m in action_modules(stage, action)]
    paths += [d for m in action_modules(stage, action) for d in data_files(m)]
    return files_code(set(paths))
