"""Messages for the person reading a CI log: printed as is, and as a GitHub Actions annotation (shown on
the run's page) when GITHUB_ACTIONS=true, the variable the hosted runners set."""
from __future__ import annotations

import os
import sys


def notice(title: str, message: str) -> None:
    """One line on stdout (which a rule tees to its log); under GitHub Actions also a `::notice` annotation."""
    print(f"{title}: {message}", flush=True)
    if os.environ.get("GITHUB_ACTIONS") == "true":
        print(f"::notice title={_escape(title, ',:')}::{_escape(message, '')}", flush=True)
    sys.stdout.flush()


def _escape(text: str, extra: str) -> str:
    """The workflow-command escaping of a value (% CR LF, and , : in a property)."""
    table = {"%": "%25", "\r": "%0D", "\n": "%0A", ":": "%3A", ",": "%2C"}
    return "".join(table[c] if c in "%\r\n" + extra else c for c in text)
