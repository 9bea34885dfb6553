"""Opening user-supplied image files: the one place that knows Pillow's decompression-bomb guard."""
from __future__ import annotations

from pathlib import Path


def too_large(path: Path | str) -> str:
    """Why Pillow refused `path` (DecompressionBombError), as the start of a one-sentence error."""
    from PIL import Image

    limit = 2 * Image.MAX_IMAGE_PIXELS
    return (f"{path}: image has more than the {limit} pixels ({limit / 1e6:.0f} megapixels) that are decoded "
            "safely (a decompression-bomb guard)")
