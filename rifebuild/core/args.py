"""Argument types and the one way the stage CLIs declare their actions."""
from __future__ import annotations

import argparse
from pathlib import Path


def resolution(text: str) -> tuple[int, int]:
    """'256x448' -> (256, 448): height x width, positive multiples of 32."""
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"resolution {text!r}: write it as HEIGHTxWIDTH, e.g. 256x448") from None
    if h <= 0 or w <= 0 or h % 32 or w % 32:
        raise argparse.ArgumentTypeError(f"resolution {text!r}: height and width must be positive multiples of 32")
    return h, w


def optional_float(text: str) -> float | None:
    """A number, or the empty string for "not set" (rules pass every value, quoted)."""
    return None if text == "" else float(text)


def optional_int(text: str) -> int | None:
    """An integer, or the empty string for "not set"."""
    return None if text == "" else int(text)


def action(actions, name: str, func, *arguments: tuple[list[str], dict]) -> argparse.ArgumentParser:
    """Add `rifebuild <stage> <name>`, running func(args); help text is func's docstring's first line."""
    parser = actions.add_parser(name, help=(func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else None)
    for flags, kwargs in arguments:
        parser.add_argument(*flags, **kwargs)
    parser.set_defaults(func=func)
    return parser


PATH = {"type": Path, "required": True}


def out(what: str = "the file to write") -> tuple[list[str], dict]:
    return (["--out"], {**PATH, "help": what})


def model(required: bool = True) -> tuple[list[str], dict]:
    """--model: a RIFE version (rifebuild.model.spec names; config key `model`), the one meaning the flag has
    in every action, and never a default: a forgotten flag must not silently build another version. Model
    files and folders are --model-dir, --artifact, --mnn."""
    return (["--model"], {"required": required, "metavar": "VERSION",
                          "help": "RIFE version, e.g. rife-v4.6, rife-v4.13-lite (`rifebuild report family` lists them), "
                                  "or a version's ensemble variant, e.g. rife-v4.6-ensemble"})


def parse_pairs(values: list[str], flag: str, error: type[Exception], shape: str = "KEY=VALUE") -> list[tuple[str, str]]:
    """KEY=VALUE arguments (how rules hand a stage many named files) -> [(key, value)], in order.
    `error` is the stage's error class."""
    out = []
    for value in values:
        key, sep, rest = value.partition("=")
        if not sep or not key or not rest:
            raise error(f"{flag} takes {shape}, got {value!r}")
        out.append((key, rest))
    return out


def parse_roles(pairs: list[str], error: type[Exception], what: str) -> dict[str, Path]:
    """--input ROLE=PATH pairs -> {role: path}, every path existing; `what` names the inputs in the error."""
    roles = {role: Path(path) for role, path in parse_pairs(pairs, "--input", error, "ROLE=PATH")}
    missing = [f"{r} ({p})" for r, p in roles.items() if not p.exists()]
    if missing:
        raise error(f"{what} missing: {', '.join(missing)}; run the stages that write them first")
    return roles
