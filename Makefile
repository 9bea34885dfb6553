# Two entry points (README quick start): `make run` and `make test`. Both set up first: `make run` only
# what the default run needs, the test and lint targets the developer layer too (scripts/setup.sh dev:
# the linux-arm64 cross toolchain, qemu, shellcheck).
# Every command runs from the repository root with the project venv's bin first on PATH.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
CORES ?= 8
# Each tier prints its slowest tests.
PYTEST = python -m pytest -q --durations=15

.PHONY: setup setup-dev run test test-all unit e2e slow lint clean nightly
setup:
	@bash scripts/setup.sh

setup-dev:
	@bash scripts/setup.sh dev

run: setup
	snakemake --cores $(CORES)

# The README's test command: the unit tier (pure Python, no native build), then the e2e tier (the real
# workflow on .test/config.yaml, rife-bench built for host and linux-arm64). Both tiers run even when
# the first fails; the target fails if either did. The slow tier is `make test-all` (CI: schedule/label).
test: setup-dev
	@status=0; \
	$(PYTEST) -m "not e2e and not slow" tests || status=1; \
	$(PYTEST) -m "e2e and not slow" tests || status=1; \
	exit $$status

# Every tier, the slow one included (all 17 architectures, the two-model run, byte-identity).
test-all: setup-dev
	@status=0; \
	$(PYTEST) -m "not e2e and not slow" tests || status=1; \
	$(PYTEST) -m "e2e or slow" tests || status=1; \
	exit $$status

unit: setup
	$(PYTEST) -m "not e2e and not slow" tests

e2e: setup-dev
	$(PYTEST) -m "e2e and not slow" tests

slow: setup-dev
	$(PYTEST) -m slow tests

# The linters, here only (CI runs this target once; the test suite does not run them again). All run;
# the target fails if any found something.
lint: setup-dev
	@status=0; \
	ruff check rifebuild tests || status=1; \
	snakefmt --check Snakefile rules/ || status=1; \
	snakemake --lint || status=1; \
	actionlint -no-color .github/workflows/*.yml || status=1; \
	shellcheck scripts/*.sh scripts/ci/*.sh .ci/run || status=1; \
	exit $$status

# CI's nightly and tagged-release build (.github/workflows/build.yml), runnable here too: official weights
# (per-version pins), Android NDK, every verification; the groups of scripts/ci/groups.py one at a time,
# merged into one bundle checked with `release verify`. `make nightly MODELS=rife-v4.6,rife-v4.7` (or all,
# lite, a group of scripts/ci/groups.py), each with its ensemble variants. Environment (ANDROID_NDK, MODELS,
# NIGHTLY_GROUP, NIGHTLY_ENSEMBLE, RELEASE_TAG, CORES, NIGHTLY_DRY_RUN): the script.
nightly:
	bash scripts/ci/nightly.sh

# Outputs, logs and the native CMake build trees (native.build_dir, default build/native); keeps resources/.
clean:
	rm -rf results logs .snakemake build
