"""docs/configuration.md, rendered from config.schema.yaml: the schema is the one place a key's default and
meaning are written, so the reference cannot drift from what the workflow validates (a test compares)."""
from __future__ import annotations

import re

import yaml

from rifebuild.core.config import load_schema

PAGE = "docs/configuration.md"

INTRO = """\
# Configuration

<!-- Generated from rifebuild/core/config.schema.yaml by `rifebuild docs config --out docs/configuration.md`;
edit the schema, not this page (tests/test_docs.py fails when they differ). -->

`config.yaml` holds every key at its default; the schema (`rifebuild/core/config.schema.yaml`) validates
it before anything runs. Unknown keys, wrong types, sizes that are not multiples of 32 and frames larger
than 8192 per side or 4096 x 4096 pixels are rejected with the key named. Every size (export, verify,
stock, calibration, bench) is rounded up per model to its padding multiple: 32 for most versions, 64 for
4.25/4.26 and their -heavy forms (736x1280 becomes 768x1280), 128 for 4.25-lite (256x448 becomes 256x512).

Any key can be overridden on the command line, nested ones as YAML; the values get the schema's types,
and a nested override changes only the keys it names:

```sh
snakemake --cores 8 --config weights=official 'models=[rife-v4.6, rife-v4.26]'
snakemake --cores 8 --config threads=1 export='{height: 64, width: 96}' verify='{resolutions: [[96, 128]]}'
```
"""


def _resolve(prop: dict, defs: dict) -> dict:
    """The property with its $ref's keywords merged in (its own keywords win)."""
    if "$ref" not in prop:
        return prop
    target = defs[prop["$ref"].rsplit("/", 1)[1]]
    return _resolve(target, defs) | {k: v for k, v in prop.items() if k != "$ref"}


def _flow(value) -> str:
    """A default as it would be written in config.yaml (flow YAML)."""
    if value == "":
        return '""'
    return yaml.safe_dump(value, default_flow_style=True, width=10_000).removesuffix("...\n").strip()


def _allowed(prop: dict, defs: dict) -> str:
    """What values a key takes, in a few words."""
    ref = prop.get("$ref", "").rsplit("/", 1)[-1]
    if ref == "version":
        return "a RIFE version ([list](versions.md))"
    if ref == "dim":
        return "multiple of 32, 32-8192"
    if ref == "resolution":
        return "[H, W], multiples of 32"
    prop = _resolve(prop, defs)
    if "enum" in prop:
        return ", ".join(str(v) for v in prop["enum"])
    kinds = prop.get("type", [])
    kinds = [kinds] if isinstance(kinds, str) else list(kinds)
    if "array" in kinds:
        items = prop.get("items", {})
        plural = {"resolution": "[H, W] sizes", "version": "RIFE versions ([list](versions.md))"}
        words = "list of " + plural.get(items.get("$ref", "").rsplit("/", 1)[-1], _allowed(items, defs))
        if "string" in kinds and _named_values(prop):
            words += ", or " + " / ".join(f"`{v}`" for v in _named_values(prop))
        return words + (", or null" if "null" in kinds else "")
    if "oneOf" in prop:
        return " or ".join(_allowed(p, defs) for p in prop["oneOf"])
    if "const" in prop:
        return str(prop["const"])
    low = prop.get("minimum", prop.get("exclusiveMinimum"))
    high = prop.get("maximum")
    bounds = ""
    if low is not None and high is not None:
        bounds = f" {low}-{high}"
    elif "exclusiveMinimum" in prop:
        bounds = f" > {low}"
    elif low is not None:
        bounds = f" >= {low}"
    return " or ".join(kinds) + bounds if kinds else "any"


def _named_values(prop: dict) -> list[str]:
    """The words a string pattern of the form ^(a|b)$ allows (`models: all`): the table names them, so a
    reader of the values column does not miss the shorthand."""
    match = re.fullmatch(r"\^\(([\w|-]+)\)\$", prop.get("pattern", ""))
    return match.group(1).split("|") if match else []


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _sections(props: dict, defs: dict, prefix: str = "", title: str = "Top level", about: str = ""):
    """(title, description, rows) for this object's keys, then for each nested object, depth first."""
    rows, nested = [], []
    for name, prop in props.items():
        key = prefix + name
        if "properties" in prop:
            nested.append((key, prop))
            continue
        rows.append((key, _flow(prop["default"]), _allowed(prop, defs), prop["description"]))
    yield title, about, rows
    for key, prop in nested:
        yield from _sections(prop["properties"], defs, key + ".", f"`{key}`", prop["description"])


KEYWORDS = {"$schema", "$defs", "$ref", "description", "type", "default", "properties", "additionalProperties",
            "items", "minItems", "maxItems", "uniqueItems", "contains", "enum", "const", "oneOf", "minimum",
            "maximum", "exclusiveMinimum", "multipleOf", "pattern", "minLength"}


def unknown_keywords(schema: dict | None = None) -> list[str]:
    """Words of the schema that JSON Schema does not know, with where they are. An unquoted comma in a
    flow mapping (`{description: a, b}`) silently turns the rest of a description into such a key."""
    schema = schema or load_schema()

    def walk(node, path: str):
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, f"{path}[{i}]")
        elif isinstance(node, dict):
            for key, value in node.items():
                if path.endswith(("properties", "$defs")):
                    yield from walk(value, f"{path}.{key}")
                    continue
                if key not in KEYWORDS and not key.startswith("x-"):  # x-: our own annotations (x-hint)
                    yield f"{path}: {key!r}"
                if key != "default" and key != "enum":
                    yield from walk(value, f"{path}.{key}")

    return list(walk(schema, ""))


def missing_descriptions(schema: dict | None = None) -> list[str]:
    """Keys of the schema that have no description of their own (every key must explain itself)."""
    schema = schema or load_schema()

    def walk(props: dict, prefix: str):
        for name, prop in props.items():
            if "description" not in prop:
                yield prefix + name
            yield from walk(prop.get("properties", {}), f"{prefix}{name}.")

    return list(walk(schema["properties"], ""))


def render(schema: dict | None = None) -> str:
    """The whole page."""
    schema = schema or load_schema()
    parts = [INTRO]
    for title, about, rows in _sections(schema["properties"], schema["$defs"]):
        parts.append(f"\n## {title}\n\n")
        if about:
            parts.append(_cell(about)[0].upper() + _cell(about)[1:] + ".\n\n")
        parts.append("| key | default | values | meaning |\n| --- | --- | --- | --- |\n")
        parts.extend(f"| `{key}` | `{default}` | {_cell(allowed)} | {_cell(meaning)} |\n"
                     for key, default, allowed, meaning in rows)
    return "".join(parts)
