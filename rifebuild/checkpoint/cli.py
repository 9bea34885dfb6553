"""Get the checkpoint: download the official one, or validate a local file, or make synthetic weights."""
from __future__ import annotations

import shutil
from pathlib import Path

from rifebuild.core.args import action, model, out
from rifebuild.core.files import atomic_path


def fetch(a) -> None:
    """Download the official checkpoint (checked against --sha256, its pin) and check it loads; without a
    pin, print the download's sha256 (a GitHub Actions notice under CI) so it can be pinned."""
    from rifebuild.checkpoint.load import fetch_checkpoint
    from rifebuild.core.ci import notice
    from rifebuild.core.files import sha256_of

    fetch_checkpoint(a.url, a.out, model=a.model, sha256=a.sha256 or None, deadline=a.deadline)
    if not a.sha256:
        notice(f"unpinned {a.model}", f"{a.url} has no sha256 pin, so it was trusted on first use; its sha256 is "
               f"{sha256_of(a.out)}: pin it as {a.model}'s sha256 in rifebuild/model/pins.yaml")


def prepare(a) -> None:
    """Validate the checkpoint (strict keys of --model's version, finite weights), place it at results/checkpoint/
    and write its provenance record (--record) beside it."""
    from rifebuild.checkpoint import record
    from rifebuild.checkpoint.load import load_ifnet, save_state_dict, synthetic_state_dict

    if not a.source:
        source = {"kind": "synthetic", "seed": a.synthetic_seed}
        save_state_dict(synthetic_state_dict(a.synthetic_seed, a.model), a.out)
        load_ifnet(a.out, a.model)
    else:
        source = record.official(a.url, a.sha256_pin) if a.url else {"kind": "local", "path": a.source}
        load_ifnet(a.source, a.model)
        with atomic_path(a.out) as tmp:
            shutil.copyfile(a.source, tmp)
    record.write(a.record or record.record_path(a.out), a.out, a.model, source)


def register(actions) -> None:
    action(actions, "fetch", fetch,
           (["--url"], {"required": True,
                        "help": "the checkpoint's URL (the version's entry in the pins file, or weights_url)"}),
           (["--sha256"], {"default": "",
                           "help": "sha256 the download must have; empty: unpinned (its sha256 is printed)"}),
           (["--deadline"], {"type": float, "default": 600.0, "help": "seconds for the whole download"}), model(),
           out())
    action(actions, "prepare", prepare, out(), model(),
           (["--synthetic-seed"], {"type": int, "default": 0, "help": "seed of the synthetic weights"}),
           (["--url"], {"default": "", "help": "the URL the source was downloaded from (kind official); none: a local file"}),
           (["--sha256-pin"], {"default": "", "help": "the pin the download was checked against (recorded); empty: unpinned"}),
           (["--record"], {"type": Path, "default": None,
                           "help": "provenance record to write (default: --out with .json)"}),
           (["source"], {"nargs": "?", "help": "a checkpoint file; none: synthetic weights"}))
