"""The build report: results/report.md + report.json from every verification and benchmark record."""
from __future__ import annotations

from rifebuild.core.args import PATH, action


def build(a) -> None:
    """Read the records (ROLE=PATH) and write the report; nothing is measured here."""
    from rifebuild.core.files import atomic_write_bytes, atomic_write_json
    from rifebuild.report.page import build_report, parse_roles, render_markdown

    report = build_report(parse_roles(a.input), a.model_name, a.out_md.parent)
    atomic_write_json(a.out_json, report)
    markdown = render_markdown(report)
    atomic_write_bytes(a.out_md, markdown.encode())
    print(markdown)


def register(actions) -> None:
    action(actions, "build", build, (["--input"], {"action": "append", "default": [], "metavar": "ROLE=PATH"}),
           (["--model-name"], {"default": "rife-v4.6"}), (["--out-md"], PATH), (["--out-json"], PATH))
