"""Code triggers: a rule re-runs when the code its `rifebuild <stage> <action>` reaches changes, and
only then (rifebuild.core.imports; the dry-run proofs against a finished run are in tests/test_e2e.py)."""
from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from conftest import REPO

from rifebuild.core.imports import action_code, action_modules, without_docstrings


def test_report_build_reaches_the_report_code_and_no_converter():
    reached = set(action_modules("report", "build"))
    assert {"rifebuild.report.run", "rifebuild.report.page", "rifebuild.cli", "rifebuild.report.cli"} <= reached
    # report family (another action of the same stage) converts every version: never reached by build
    assert not reached & {"rifebuild.report.family", "rifebuild.ncnn.pnnx", "rifebuild.native.build",
                          "rifebuild.evaluate.verify", "rifebuild.checkpoint.load"}


def test_native_build_reaches_the_native_build_code_only():
    reached = set(action_modules("native", "build"))
    assert {"rifebuild.native.build", "rifebuild.native.source", "rifebuild.native.targets"} <= reached
    assert not {m for m in reached if (m.split(".") + [""])[1] not in ("", "cli", "core", "native")}
    assert "rifebuild.native.check" not in reached  # the verify / cross-check actions' code


def test_data_files_a_module_reads_are_part_of_its_code():
    assert "rifebuild/core/config.schema.yaml" in action_code("release", "build")
    assert "rifebuild/evaluate/verification.schema.json" in action_code("evaluate", "ncnn")
    assert "rifebuild/core/config.schema.yaml" not in action_code("ncnn", "lower")


def test_unknown_action_is_named():
    with pytest.raises(KeyError, match="warp-rewrite"):
        action_modules("ncnn", "no-such-action")


def test_docstrings_comments_and_layout_are_not_code():
    before = '"""Module."""\nimport os\n\n\ndef f(x):\n    """Why."""\n    return x + 1  # add\n'
    edited = '"""Module, reworded."""\nimport os\n\ndef f(x):\n    """Why, at length."""\n    # a comment\n    return x+1\n'
    changed = before.replace("x + 1", "x + 2")
    assert without_docstrings(before) == without_docstrings(edited)
    assert without_docstrings(before) != without_docstrings(changed)
    only_docstring = 'def g():\n    """Nothing else."""\n'
    assert without_docstrings(only_docstring) == without_docstrings("def g():\n    pass\n")


@pytest.mark.parametrize("argv", [
    ["report", "build", "--input=rife-v4.6/checkpoint=/nonexistent/flownet.pkl", "--out-md=/nonexistent/r.md",
     "--out-json=/nonexistent/r.json"],
    ["ncnn", "lower", "--param=/nonexistent/a.param", "--bin=/nonexistent/a.bin", "--resolution=64x96",
     "--out-param=/nonexistent/b.param", "--out-bin=/nonexistent/b.bin"],
])
def test_running_an_action_imports_only_what_its_trigger_lists(argv):
    """The static reach holds at run time: the rifebuild modules loaded by a real call (which fails on
    its missing input after its imports) are all in the rule's code trigger."""
    probe = textwrap.dedent(f"""
        import json, sys
        from rifebuild.cli import main
        try:
            main({argv!r})
        except BaseException:
            pass
        print(json.dumps(sorted(m for m in sys.modules if m.startswith("rifebuild"))))
    """)
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = set(__import__("json").loads(proc.stdout.strip().splitlines()[-1]))
    stage, action = argv[:2]
    assert f"rifebuild.{stage}.run" in loaded or f"rifebuild.{stage}.passes" in loaded  # the action did start
    assert loaded <= set(action_modules(stage, action)), sorted(loaded - set(action_modules(stage, action)))
