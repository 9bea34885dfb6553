"""`rifebuild <stage> <action>`: the one command line; every Snakemake rule is one call of it.

Stages are named like the rule files (rules/<stage>.smk) and the subpackages (rifebuild/<stage>/);
each stage's cli module registers its actions. A RifeBuildError is printed as one sentence (exit 2), and
so is a file or folder this user may not access (PermissionError: the machine's set-up, not a bug);
any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from rifebuild.core import threads
from rifebuild.core.errors import RifeBuildError

STAGES = ("checkpoint", "export", "evaluate", "ncnn", "calibration", "int8", "mnn", "native", "bench", "report",
          "release", "docs")


def build_parser(stages: tuple[str, ...] = STAGES) -> argparse.ArgumentParser:
    """The parser for `stages` (all of them for --help): a call names one stage, and only that stage's
    cli module is imported, so an action reaches no other stage's code (rifebuild.core.imports relies
    on it to tell which modules a rule runs)."""
    parser = argparse.ArgumentParser(prog="rifebuild", description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None,
                        help="CPU threads for torch, onnxruntime, ncnn and MNN (rules pass Snakemake's threads:)")
    subparsers = parser.add_subparsers(dest="stage", required=True, metavar="STAGE")
    for name in stages:
        module = importlib.import_module(f"rifebuild.{name}.cli")
        stage = subparsers.add_parser(name, help=module.__doc__.strip().splitlines()[0])
        module.register(stage.add_subparsers(dest="action", required=True, metavar="ACTION"))
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    named = [word for word in argv if word in STAGES][:1]
    args = build_parser(tuple(named) or STAGES).parse_args(argv)
    threads.limit(args.threads)
    try:
        args.func(args)
    except RifeBuildError as exc:
        print(f"rifebuild {args.stage} {args.action}: error: {exc}", file=sys.stderr)
        return 2
    except PermissionError as exc:
        if exc.filename is None:
            raise
        print(f"rifebuild {args.stage} {args.action}: error: permission denied for {exc.filename}: this user may not "
              "access it; fix its permissions (or its folder's), or run from a working directory you own",
              file=sys.stderr)
        return 2
    return 0
