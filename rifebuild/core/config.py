"""The one config schema (config.schema.yaml), applied with defaults, plus readable errors."""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from rifebuild.core.errors import ConfigError

SCHEMA_PATH = Path(__file__).resolve().with_name("config.schema.yaml")
MAX_PIXELS = 4096 * 4096  # about 6 GB for a PyTorch reference pass (370 bytes per pixel measured at 736x1280)


def _with_defaults(validator_class):
    """A validator that fills in `default`s (the way snakemake.utils.validate(set_default=True) does)."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    # 256.0 is an integer to JSON Schema, but a float in a file name (`256.0x448.npz`) breaks the DAG.
    strict_integers = validator_class.TYPE_CHECKER.redefine(
        "integer", lambda _checker, value: isinstance(value, int) and not isinstance(value, bool))
    return jsonschema.validators.extend(validator_class, {"properties": set_defaults}, type_checker=strict_integers)


def coerce(instance, schema: dict, root: dict):
    """Give command-line values the types the schema asks for.

    `snakemake --config export='{height: 64}'` hands nested values over as strings ('64'), and a top-level
    `model_name=46` arrives as an int: read a string as YAML where the schema wants a number, boolean
    or list ('null' where it allows null; '[...]' where it takes a list or a name, as `models` does), and an
    int or float as text where it wants a string. Anything else is left for the validator to reject with its
    usual message.
    """
    while "$ref" in schema:
        schema = root["$defs"][schema["$ref"].rsplit("/", 1)[1]] | {k: v for k, v in schema.items() if k != "$ref"}
    types = schema.get("type", [])
    types = [types] if isinstance(types, str) else types
    branch_types = [b.get("type") for b in schema.get("oneOf", []) + schema.get("anyOf", [])]
    if isinstance(instance, str) and instance in ("true", "false") and "boolean" in types + branch_types:
        return instance == "true"  # e.g. native.vulkan.verify: true | false | auto
    if isinstance(instance, dict):
        properties = schema.get("properties", {})
        return {key: coerce(value, properties.get(key, {}), root) for key, value in instance.items()}
    if isinstance(instance, list):
        return [coerce(item, schema.get("items", {}), root) for item in instance]
    if isinstance(instance, str) and "null" in types and instance in ("null", "~"):
        return None
    listed = isinstance(instance, str) and instance.lstrip().startswith("[") and "array" in types
    if isinstance(instance, str) and types and ("string" not in types or listed):
        try:
            parsed = yaml.safe_load(instance)
        except yaml.YAMLError:
            return instance
        return coerce(parsed, schema, root) if isinstance(parsed, (dict, list)) else parsed
    if isinstance(instance, (int, float)) and not isinstance(instance, bool) and types == ["string"]:
        return str(instance)
    return instance


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validate(config: dict) -> dict:
    """Return a copy of `config` with defaults filled; raise ConfigError naming the bad key."""
    schema = load_schema()
    config = coerce(copy.deepcopy(config), schema, schema)
    validator = _with_defaults(jsonschema.Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise ConfigError("; ".join(describe(e) for e in errors))
    check_pixels(config, schema)
    config["models"] = expand_models(config["models"], schema) or [config["model"]]
    check_single_model_keys(config)
    data = config["calibration"]["data"]
    if data != "builtin" and not Path(data).is_dir():
        raise ConfigError(f"calibration.data: {data!r} is not an existing directory; use `builtin`, a Vimeo-90K "
                          "folder or a folder of consecutive video frames")
    return config


def expand_models(models: list[str] | str, schema: dict) -> list[str]:
    """`models: all` / `all-lite` as the versions they name: every version the schema knows, or its -lite
    ones, in the schema's order; a list as is."""
    if isinstance(models, list):
        return models
    names = schema["$defs"]["version"]["enum"]
    return list(names) if models == "all" else [n for n in names if n.endswith("-lite")]


def check_single_model_keys(config: dict) -> None:
    """A local checkpoint, a download URL and its sha256 pin each describe one version's file, so with
    several `models` they would silently be used for the wrong versions: refuse them."""
    if len(config["models"]) < 2:
        return
    single = {"weights_url": config["weights_url"], "weights_sha256": config["weights_sha256"]}
    if config["weights"] not in ("official", "synthetic"):
        single["weights"] = config["weights"]
    for key, value in single.items():
        if value:
            raise ConfigError(f"{key}: {value!r} is one version's file, but `models` lists {len(config['models'])} "
                              f"({', '.join(config['models'])}); build that version alone (models: []) or unset {key}")


def check_pixels(config: dict, schema: dict) -> None:
    """Each dimension is capped by the schema, but 8192 x 8192 would still need hundreds of GB in the
    PyTorch reference: refuse sizes whose frames are larger than MAX_PIXELS before any job starts. Every
    [H, W] the schema declares as a `resolution` is checked, so a new size key cannot be forgotten."""
    sizes = [("export.height x export.width", [config["export"]["height"], config["export"]["width"]])]
    sizes += list(_resolutions(config, schema, ""))
    for key, (height, width) in sizes:
        if height * width > MAX_PIXELS:
            raise ConfigError(f"{key} = {height} x {width}: {height * width:,} pixels is more than the {MAX_PIXELS:,} "
                              "(4096 x 4096) a frame may have; lower it")


def _resolutions(instance, schema: dict, where: str):
    """(dotted key, [H, W]) for every value of `instance` that `schema` declares as #/$defs/resolution."""
    if schema.get("$ref") == "#/$defs/resolution":
        yield where, instance
    elif isinstance(instance, dict):
        for key, value in instance.items():
            yield from _resolutions(value, schema.get("properties", {}).get(key, {}), f"{where}.{key}".lstrip("."))
    elif isinstance(instance, list):
        for i, item in enumerate(instance):
            yield from _resolutions(item, schema.get("items", {}), f"{where}.{i}")


def describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path) or "config"
    if error.validator == "multipleOf":
        return f"{where} = {error.instance}: must be a multiple of {error.validator_value} (RIFE needs it; pad your frames)"
    if error.validator == "maximum":
        return f"{where} = {error.instance}: at most {error.validator_value}; lower it"
    if error.validator == "pattern" and "x-hint" in error.schema:
        return f"{where} = {error.instance!r}: {error.schema['x-hint']}"
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
