"""Helpers the Snakefile calls at start-up."""
from __future__ import annotations

import os
import sys


def put_this_python_first_on_path() -> None:
    """Jobs run `python -m rifebuild`: make that the Python running snakemake (the project venv),
    even when the venv is not activated. With --sdm conda, conda's activation still puts its env first.
    """
    os.environ["PATH"] = os.pathsep.join([os.path.dirname(sys.executable), os.environ.get("PATH", "")])
