#!/usr/bin/env bash
# Idempotent: builds the JVM class-data archive (AppCDS) that the job's JVMs start from:
# .local/cds/spark.jsa, the classes that Spark, its SQL engine, Arrow and the Python workers'
# plumbing load, already parsed and verified. A driver or an executor that maps it starts in
# fewer seconds and less CPU (docs/performance.md, "JVM start"). spark-submit.sh and the tests pass
# it with -XX:SharedArchiveFile when it exists; a JVM that cannot use it starts as before.
#
# It is made by one training run, `stream_processor replay` over the demo's frames, with
# -XX:ArchiveClassesAtExit, and checked with -Xshare:on (which refuses an archive that does not
# match the JVM and Spark's class path). It is rebuilt when the JDK, PySpark or its jars change
# (the key file beside it). CLASS_ARCHIVE=0 skips it.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

die() { echo "class-archive: $*" >&2; exit 1; }

[ "${CLASS_ARCHIVE:-1}" = 0 ] && { echo "class-archive: skipped (CLASS_ARCHIVE=0)"; exit 0; }
PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || die "no .venv: run 'make setup'"
DIR=$ROOT/.local/cds
ARCHIVE=$DIR/spark.jsa
SPARK_HOME=$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_HOME
# The JVM options every driver and executor gets (conf/spark-defaults.conf).
JAVA_OPTS=$(sed -n 's/^spark\.driver\.defaultJavaOptions[[:space:]]*//p' conf/spark-defaults.conf)

key=$({ java -version 2>&1; "$PY" -c 'import pyspark; print(pyspark.__version__)'; echo "$JAVA_OPTS"
        ls -l "$SPARK_HOME/jars"; } | sha256sum | cut -d' ' -f1)
if [ -f "$ARCHIVE" ] && [ "$(cat "$DIR/spark.key" 2>/dev/null)" = "$key" ]; then
  echo "class-archive: $ARCHIVE is up to date"
  exit 0
fi

echo "class-archive: building $ARCHIVE (one replay of the demo's frames, about a minute)"
mkdir -p "$DIR"
rm -f "$ARCHIVE" "$DIR/spark.key"
work=$(mktemp -d "$DIR/build.XXXXXX")
trap 'rm -rf "$work"' EXIT
"$PY" -m stream_processor.demo "$work/messages.jsonl" >/dev/null
# The JVM writes the archive as it exits, after Python has: `cat` waits for the JVM's output to end.
PYSPARK_SUBMIT_ARGS="--conf spark.ui.enabled=false --conf spark.ui.showConsoleProgress=false \
--conf 'spark.driver.defaultJavaOptions=$JAVA_OPTS -XX:ArchiveClassesAtExit=$work/spark.jsa' pyspark-shell" \
  "$PY" -m stream_processor replay --input "$work/messages.jsonl" --output-dir "$work/out" 2>&1 | cat >"$work/replay.log" \
  || die "the training replay failed:"$'\n'"$(tail -20 "$work/replay.log")"
[ -s "$work/spark.jsa" ] || die "the JVM wrote no archive:"$'\n'"$(grep -i 'cds\|error' "$work/replay.log" | tail -5)"
# -Xshare:on: the JVM stops rather than start without it, so this proves Spark's JVMs can map it.
"$SPARK_HOME/bin/spark-submit" --driver-java-options "-Xshare:on -XX:SharedArchiveFile=$work/spark.jsa" --version \
  >"$work/check.log" 2>&1 || die "Spark's JVM cannot use the archive:"$'\n'"$(tail -5 "$work/check.log")"
mv "$work/spark.jsa" "$ARCHIVE"
echo "$key" > "$DIR/spark.key"
echo "class-archive: ready ($(du -h "$ARCHIVE" | cut -f1))"
