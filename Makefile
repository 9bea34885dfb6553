# Two entry points (README quick start): `make run` and `make test`. Both set up first.
# Every command runs from the repository root with the project venv's bin first on PATH.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
CORES ?= 8

.PHONY: setup run test unit e2e lint clean nightly
setup:
	@bash scripts/setup.sh

run: setup
	snakemake --cores $(CORES)

# The README's test command: the fast unit suite, then the end-to-end workflow runs. Both suites
# run even when the first fails; the target fails if either did.
test: setup
	@status=0; \
	python -m pytest -q -m "not e2e" tests || status=1; \
	python -m pytest -q -m e2e tests || status=1; \
	exit $$status

unit: setup
	python -m pytest -q -m "not e2e" tests

e2e: setup
	python -m pytest -q -m e2e tests

# All three linters run; the target fails if any found something (tests/test_project.py runs them too).
lint: setup
	@status=0; \
	ruff check rifebuild tests || status=1; \
	snakefmt --check Snakefile rules/ || status=1; \
	snakemake --lint || status=1; \
	exit $$status

# CI's nightly and tagged-release build (.github/workflows/build.yml), runnable here too: official weights
# (per-version pins), Android NDK, every verification; the groups of scripts/ci/groups.py one at a time,
# merged into one bundle checked with `release verify`. `make nightly MODELS=rife-v4.6,rife-v4.7` (or all,
# lite, a group of scripts/ci/groups.py). Environment (ANDROID_NDK, MODELS, NIGHTLY_GROUP, RELEASE_TAG, CORES, NIGHTLY_DRY_RUN): the script.
nightly:
	bash scripts/ci/nightly.sh

# Outputs, logs and the native CMake build trees (native.build_dir, default build/native); keeps resources/.
clean:
	rm -rf results logs .snakemake build
