"""The one config schema (config.schema.yaml), applied with defaults, plus readable errors."""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from rifebuild.core.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().with_name("config.schema.yaml")



def _with_defaults(validator_class):
    """A validator that fills in `default`s (the way snakemake.utils.validate(set_default=True) does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_class, {"properties": set_defaults})


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validate(config: dict) -> dict:
    """Return a copy of `config` with defaults filled; raise ConfigError naming the bad key."""
    config = copy.deepcopy(config)
    schema = load_schema()
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("; ".join(describe(e) for e in errors))
    data = config["calibration"]["data"]
    if data != "builtin" and not Path(data).is_dir():
        raise ConfigError(f"calibration.data: {data!r} is not an existing directory; use `builtin`, a Vimeo-90K "
                          "folder or a folder of consecutive video frames")
    return config


def describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "config"
    if error.validator == "multipleOf":
        return f"{where} = {error.instance}: must be a multiple of {error.validator_value} (RIFE needs it; pad your frames)"
    if error.validator == "additionalProperties":
        return f"{where}: {error.message} (check the spelling against config.schema.yaml)"
    return f"{where}: {error.message}"


def load(path: Path | str) -> dict:
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from None
    return validate(data)
