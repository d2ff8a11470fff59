#!/usr/bin/env bash
# `make demo`: a local Kafka broker, a local master with two workers, the job submitted with
# spark-submit.sh, demo frames produced, wait until all are processed, print a summary, stop
# everything this script started.
#   DEMO_INPUT   a JSONL file of messages or a folder of images (default: built-in frames made
#                from real faces: stream_processor/demo/__main__.py)
#   OUTPUT_DIR   the training set: one folder of crops per user (default ./training-data); the
#                manifest, status and review page go to its state location, OUTPUT_DIR-state
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=$ROOT/.venv/bin/python

OUTPUT_DIR=$(realpath -m "${OUTPUT_DIR:-./training-data}")
DEMO_INPUT=${DEMO_INPUT:-}
STATE=$ROOT/.local/demo
export KAFKA_PORT=${KAFKA_PORT:-9092} KAFKA_CONTROLLER_PORT=${KAFKA_CONTROLLER_PORT:-9093}
export KAFKA_DATA_DIR=$STATE/kafka KAFKA_LOG_DIR=$STATE/kafka-logs
BOOTSTRAP=127.0.0.1:$KAFKA_PORT
TOPIC=videoCollector
GROUP=stream-processor-demo

cleanup() {
  echo "demo: stopping the local cluster and the broker"
  scripts/local-cluster.sh stop >/dev/null 2>&1 || true
  scripts/kafka-broker.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

rm -rf "$STATE" && mkdir -p "$STATE"
echo "demo: starting a local Kafka broker on $BOOTSTRAP"
scripts/kafka-broker.sh start
echo "demo: starting a local Spark master with two workers"
scripts/local-cluster.sh start

common=(--bootstrap-servers "$BOOTSTRAP" --topic "$TOPIC")
if [ -z "$DEMO_INPUT" ]; then
  DEMO_INPUT=$STATE/frames.jsonl
  echo "demo: building demo frames from real faces (scripts/fetch-faces.sh)"
  "$PY" -m stream_processor.demo "$DEMO_INPUT"
fi
if [ -d "$DEMO_INPUT" ]; then
  "$PY" -m stream_processor produce "${common[@]}" --images "$DEMO_INPUT" --username "${DEMO_USERNAME:-demo}" --partitions 2
elif [ -f "$DEMO_INPUT" ]; then
  "$PY" -m stream_processor produce "${common[@]}" --jsonl "$DEMO_INPUT" --partitions 2
else
  echo "demo: DEMO_INPUT=$DEMO_INPUT is neither a file nor a folder" >&2; exit 2
fi

echo "demo: submitting the job to spark://127.0.0.1:${SPARK_MASTER_PORT:-7077} (exits once all is processed)"
./spark-submit.sh --master "spark://127.0.0.1:${SPARK_MASTER_PORT:-7077}" -- "${common[@]}" \
  --group-id "$GROUP" --starting-offsets earliest --output-dir "$OUTPUT_DIR" \
  --batch-interval-s 2 --exit-when-idle 10 --engine "${ENGINE:-dstream}" || { echo "demo: the job failed" >&2; exit 1; }

echo
"$PY" -m stream_processor.output.report "$OUTPUT_DIR"
"$PY" -m stream_processor.output.report "$OUTPUT_DIR" --html "$OUTPUT_DIR-state/review.html"
echo "demo: web UIs were at http://127.0.0.1:8080 (master), :8081 and :8082 (workers), :4040 (job)"
