"""Helpers the Snakefile calls at start-up."""
from __future__ import annotations

import os
import sys


def use_this_checkout(basedir: str) -> None:
    """Jobs run this checkout's `rifebuild` with the Python that runs snakemake."""
    put_this_python_first_on_path()
    import_rifebuild_from(basedir)


def put_this_python_first_on_path() -> None:
    """Jobs run `rifebuild`: make the venv holding it the Python running snakemake (the project venv),
    even when the venv is not activated. With --sdm conda, conda's activation still puts its env first.
    """
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])


def import_rifebuild_from(basedir: str) -> None:
    """Jobs must run this checkout's rifebuild, not whichever one the venv has installed (an
    editable install of another checkout would otherwise win when jobs run in another directory)."""
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in [basedir, os.environ.get("PYTHONPATH", "")] if p)


def unwritable_folders(folders: list[str]) -> list[str]:
    """The folders (or their subfolders) among `folders` that exist and this user may not write into:
    the workflow names them at start-up instead of a job failing later with PermissionError."""
    found = []
    for folder in folders:
        for dirpath, _dirnames, _files in os.walk(folder):
            if not os.access(dirpath, os.W_OK | os.X_OK):
                found.append(dirpath)
    return found
