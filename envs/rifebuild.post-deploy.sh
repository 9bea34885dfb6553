#!/usr/bin/env bash
# Snakemake runs this once, with the new env active, after creating the env of rifebuild.yaml.
# Why: the rules call the `rifebuild` console script, but the env does not install the rifebuild
# package (it comes from this checkout via PYTHONPATH, which the Snakefile sets, so jobs always run
# the checkout's code, and an env file may name nothing outside envs/). So the env gets a
# `rifebuild` command equal to the console script: the env's Python running `python -m rifebuild`.
set -euo pipefail
prefix=${CONDA_PREFIX:-$(python -c 'import sys; print(sys.prefix)')}
cat > "$prefix/bin/rifebuild" <<WRAPPER
#!/bin/sh
# Written by envs/rifebuild.post-deploy.sh: rifebuild from the checkout on PYTHONPATH.
exec "$prefix/bin/python" -m rifebuild "\$@"
WRAPPER
chmod +x "$prefix/bin/rifebuild"
