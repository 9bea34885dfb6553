"""SHA256SUMS in the format `sha256sum -c` reads (hash, two spaces, name), so checking a download needs
no project code; `release verify` reads the same file."""
from __future__ import annotations

import re
from pathlib import Path

from rifebuild.core.errors import ReleaseError
from rifebuild.core.files import sha256_of

# A bare file name (the files lie beside SHA256SUMS): no folder, no control characters.
LINE = re.compile(r"([0-9a-f]{64}) [ *]([^/\x00-\x1f\x7f]+)")
SIZE_LIMIT = 1 << 20  # one line per file of a bundle: a few kB


def render(paths: list[Path]) -> bytes:
    """One line per file, sorted by name; names are bare (the files lie beside SHA256SUMS)."""
    return "".join(f"{sha256_of(p)}  {p.name}\n" for p in sorted(paths, key=lambda p: p.name)).encode()


def parse(path: Path) -> dict[str, str]:
    """name -> sha256; a malformed line or file is an error naming the file (and the line)."""
    fix = "download SHA256SUMS again"
    if path.stat().st_size > SIZE_LIMIT:
        raise ReleaseError(f"{path}: {path.stat().st_size} bytes, too large for a SHA256SUMS; {fix}")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReleaseError(f"{path}: not UTF-8 text (byte {exc.start}: {data[exc.start:exc.start + 1]!r}); {fix}") from None
    out = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        match = LINE.fullmatch(line.strip())
        if not match or match.group(2) in (".", ".."):
            raise ReleaseError(f"{path}:{number}: not a `sha256sum` line of a file beside it ({line[:80]!r}); {fix}")
        out[match.group(2)] = match.group(1)
    return out
