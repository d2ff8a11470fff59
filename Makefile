# The commands users learn. Every target that needs the environment runs `setup` first.
.PHONY: setup jars test test-fast demo bench cluster-start cluster-stop broker-start broker-stop clean

PY := .venv/bin/python

setup:
	@scripts/setup.sh

jars:
	@scripts/build-jars.sh

## The whole suite: unit, spark, kafka, cluster and faults layers.
test: setup
	$(PY) -m pytest $(PYTEST_ARGS)

## Only the layers that need neither the broker nor the cluster (seconds to a minute).
test-fast: setup
	$(PY) -m pytest -m "unit or spark" $(PYTEST_ARGS)

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
