"""The docs stay true to the code: the configuration page is the schema's, config.yaml holds the schema's
defaults, every CLI flag explains itself, and every relative link in README.md and docs/ resolves."""
from __future__ import annotations

import argparse
import re

import pytest
import yaml
from conftest import REPO

from rifebuild import cli
from rifebuild.core.config import validate
from rifebuild.docs.config_reference import PAGE, missing_descriptions, render, unknown_keywords


def test_configuration_page_is_generated_from_the_schema(tmp_path):
    out = tmp_path / "configuration.md"
    assert cli.main(["docs", "config", "--out", str(out)]) == 0
    assert out.read_text() == render()
    assert (REPO / PAGE).read_text() == out.read_text(), (
        f"{PAGE} differs from rifebuild/core/config.schema.yaml: run `rifebuild docs config --out {PAGE}`")


def test_values_column_names_the_shorthands_a_string_pattern_allows():
    """`models: all` is a string the schema allows beside the list: the values column says so."""
    row = next(line for line in render().splitlines() if line.startswith("| `models` |"))
    assert "list of RIFE versions ([list](versions.md)), or `all` / `all-lite` |" in row


def test_every_schema_key_has_a_description():
    assert missing_descriptions() == []


def test_the_schema_uses_only_json_schema_keywords():
    assert unknown_keywords() == []
    broken = {"properties": {"rounds": {"type": "integer", "description": "turns of fp32", "fp16 and int8": None}}}
    assert unknown_keywords(broken) == [".properties.rounds: 'fp16 and int8'"]


def test_a_key_without_description_is_named():
    schema = {"properties": {"a": {"description": "x", "properties": {"b": {"default": 1}}}}}
    assert missing_descriptions(schema) == ["a.b"]


def test_config_yaml_holds_the_schema_defaults():
    written = yaml.safe_load((REPO / "config.yaml").read_text())
    assert validate(written) == validate({})


def _flags(parser: argparse.ArgumentParser, path: str):
    """(command, flag, help) for every argument of every action under `parser`."""
    for arg in parser._actions:
        if isinstance(arg, argparse._SubParsersAction):
            for name, sub in arg.choices.items():
                yield from _flags(sub, f"{path} {name}")
        elif not isinstance(arg, argparse._HelpAction):
            yield path, "/".join(arg.option_strings) or arg.dest, arg.help


def test_every_cli_flag_has_help_text():
    flags = list(_flags(cli.build_parser(), "rifebuild"))
    assert len(flags) > 100
    assert [f"{command} {flag}" for command, flag, text in flags if not (text or "").strip()] == []


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#+ (.+)$", text, flags=re.M)}


PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.relative_to(REPO).as_posix())
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(target)
        elif anchor and file.suffix == ".md" and anchor not in _anchors(file):
            broken.append(target)
    assert broken == []


def test_link_check_sees_a_broken_link(tmp_path):
    page = tmp_path / "p.md"
    page.write_text("# Title\n[ok](#title) [bad](#nothing)\n")
    assert _anchors(page) == {"title"}


def test_clients_page_holds_the_one_client_table():
    """docs/clients.md and the report show the same client facts (rifebuild.report.clients)."""
    from rifebuild.report import clients

    assert "\n".join(clients.table()) in (REPO / "docs" / "clients.md").read_text()
