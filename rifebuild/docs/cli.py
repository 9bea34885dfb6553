"""Documentation generated from the code: the configuration reference from the config schema."""
from __future__ import annotations

from pathlib import Path

from rifebuild.core.args import action


def config(a) -> None:
    """Write the configuration reference (docs/configuration.md) from config.schema.yaml."""
    from rifebuild.core.errors import ConfigError
    from rifebuild.core.files import atomic_write_bytes
    from rifebuild.docs.config_reference import missing_descriptions, render

    missing = missing_descriptions()
    if missing:
        raise ConfigError(f"config.schema.yaml: {', '.join(missing)} have no description; add one to each")
    atomic_write_bytes(a.out, render().encode())
    print(f"wrote {a.out}")


def register(actions) -> None:
    action(actions, "config", config,
           (["--out"], {"type": Path, "default": Path("docs/configuration.md"), "help": "the page to write"}))
