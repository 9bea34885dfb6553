# Two entry points (README quick start): `make run` and `make test`. Both set up first.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
CORES ?= 8

.PHONY: setup run test unit e2e lint clean
setup:
	@bash scripts/setup.sh

run: setup
	snakemake --cores $(CORES)

# The README's test command: the fast unit suite, then the end-to-end workflow runs.
test: setup
	python -m pytest -q -m "not e2e" tests
	python -m pytest -q -m e2e tests

unit: setup
	python -m pytest -q -m "not e2e" tests

e2e: setup
	python -m pytest -q -m e2e tests

lint: setup
	snakemake --lint
	snakefmt --check Snakefile rules/

# Outputs, logs and the native CMake build trees (native.build_dir, default build/native); keeps resources/.
clean:
	rm -rf results logs .snakemake build
