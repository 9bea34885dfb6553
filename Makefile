# Two entry points (README quick start): `make run` and `make test`. Both set up first.
export PATH := $(CURDIR)/.venv/bin:$(PATH)
CORES ?= 8

.PHONY: setup run test lint clean
setup:
	@bash scripts/setup.sh

run: setup
	snakemake --cores $(CORES)

test: setup
	python -m pytest -q tests

lint: setup
	snakemake --lint

clean:
	rm -rf results logs .snakemake
