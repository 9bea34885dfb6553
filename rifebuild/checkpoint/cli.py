"""Get the checkpoint: download the official one, or validate a local file, or make synthetic weights."""
from __future__ import annotations

import shutil

from rifebuild.core.args import action, model, out
from rifebuild.core.files import atomic_path


def fetch(a) -> None:
    """Download the official checkpoint (checked against --sha256, its pin) and check it loads; without a
    pin, print the download's sha256 (a GitHub Actions notice under CI) so it can be pinned."""
    from rifebuild.checkpoint.load import fetch_checkpoint
    from rifebuild.core.ci import notice
    from rifebuild.core.files import sha256_of

    fetch_checkpoint(a.url, a.out, sha256=a.sha256 or None, deadline=a.deadline, model=a.model)
    if not a.sha256:
        notice(f"unpinned {a.model}", f"{a.url} has no sha256 pin, so it was trusted on first use; its sha256 is "
               f"{sha256_of(a.out)}: pin it as {a.model}'s sha256 in rifebuild/model/pins.yaml")


def prepare(a) -> None:
    """Validate the checkpoint (strict keys of --model's version, finite weights) and place it at results/checkpoint/."""
    from rifebuild.checkpoint.load import load_ifnet, save_state_dict, synthetic_state_dict

    if not a.source:
        save_state_dict(synthetic_state_dict(a.synthetic_seed, a.model), a.out)
        load_ifnet(a.out, a.model)
        return
    source = a.source
    load_ifnet(source, a.model)
    with atomic_path(a.out) as tmp:
        shutil.copyfile(source, tmp)


def register(actions) -> None:
    action(actions, "fetch", fetch, (["--url"], {"required": True}), (["--sha256"], {"default": "", "help": "the pin; empty: unpinned"}),
           (["--deadline"], {"type": float, "default": 600.0, "help": "seconds for the whole download"}), model(), out())
    action(actions, "prepare", prepare, out(), model(),
           (["--synthetic-seed"], {"type": int, "default": 0, "help": "seed of the synthetic weights"}),
           (["source"], {"nargs": "?", "help": "a checkpoint file; none: synthetic weights"}))
