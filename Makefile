# The commands users learn. Every target that needs the environment runs `setup` first.
.PHONY: setup jars test test-fast demo bench cluster-start cluster-stop broker-start broker-stop clean

PY := .venv/bin/python
LINT_IMPORTS := .venv/bin/lint-imports

setup:
	@scripts/setup.sh

jars:
	@scripts/build-jars.sh

## The import contracts (.importlinter, docs/code-layout.md), then the whole suite: unit, spark,
## kafka, cluster and faults layers.
test: setup
	$(LINT_IMPORTS) && $(PY) -m pytest $(PYTEST_ARGS)

## The import contracts, then only the layers that need neither the broker nor the cluster
## (seconds to a minute).
test-fast: setup
	$(LINT_IMPORTS) && $(PY) -m pytest -m "unit or spark" $(PYTEST_ARGS)

## The demo; `make demo ENGINE=structured` runs the job on Structured Streaming (docs/engines.md).
demo: setup
	@scripts/demo.sh

bench: setup
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

cluster-start: setup
	@scripts/local-cluster.sh start

cluster-stop:
	@scripts/local-cluster.sh stop

broker-start: setup
	@scripts/kafka-broker.sh start

broker-stop:
	@scripts/kafka-broker.sh stop

## Build outputs and everything fetched into .local (the broker, the photos, the face model):
## `make setup` fetches them again, checked against their pins.
clean:
	rm -rf .local dist jars/target jars/*.jar
