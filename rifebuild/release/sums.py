"""SHA256SUMS in the format `sha256sum -c` reads (hash, two spaces, name), so checking a download needs
no project code; `release verify` reads the same file."""
from __future__ import annotations

import re
from pathlib import Path

from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import sha256_of

LINE = re.compile(r"([0-9a-f]{64}) [ *](.+)")


def render(paths: list[Path]) -> bytes:
    """One line per file, sorted by name; names are bare (the files lie beside SHA256SUMS)."""
    return "".join(f"{sha256_of(p)}  {p.name}\n" for p in sorted(paths, key=lambda p: p.name)).encode()


def parse(path: Path) -> dict[str, str]:
    """name -> sha256; a malformed line is an error naming the file and the line."""
    out = {}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        match = LINE.fullmatch(line.strip())
        if not match:
            raise ReleaseError(f"{path}:{number}: not a `sha256sum` line ({line[:80]!r}); download SHA256SUMS again")
        out[match.group(2)] = match.group(1)
    return out
