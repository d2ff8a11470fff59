#!/usr/bin/env bash
# Builds jars/: our Kafka bridge (jars/pom.xml, jars/src) plus the Kafka 0-10 connector and the
# runtime jars it needs that pyspark does not ship (kafka-clients, the token provider). The
# job and the tests give these to Spark at launch (spark.jars / --jars).
# Idempotent: does nothing when the jars are newer than the sources and pyspark is unchanged.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "build-jars: $*" >&2; exit 1; }

pyspark_jars=${PYSPARK_JARS_DIR:-}
if [ -z "$pyspark_jars" ]; then
  for d in .venv/lib/python3*/site-packages/pyspark/jars; do [ -d "$d" ] && pyspark_jars=$d; done
fi
[ -n "$pyspark_jars" ] && [ -d "$pyspark_jars" ] \
  || die "pyspark's jars not found (.venv missing?); run scripts/setup.sh or set PYSPARK_JARS_DIR"

stamp=jars/target/.built
want=$( (cat jars/pom.xml; ls "$pyspark_jars") | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(head -1 "$stamp")" = "$want" ] \
   && [ -z "$(find jars/pom.xml jars/src -newer "$stamp" -print -quit)" ] \
   && tail -n +2 "$stamp" | (cd jars && xargs -r ls >/dev/null 2>&1); then
  exit 0
fi

command -v mvn >/dev/null || die "Maven is required (apt-get install maven)"
echo "build-jars: building the Kafka bridge and collecting the connector's jars"
rm -rf jars/target/deps
mkdir -p jars/target
mvn -q -B -f jars/pom.xml package dependency:copy-dependencies > jars/target/build.log 2>&1 \
  || { cat jars/target/build.log >&2; die "mvn failed (output above, also in jars/target/build.log)"; }

# Artifact name without version: kafka-clients-3.9.2.jar -> kafka-clients
base() { basename "$1" .jar | sed -E 's/-[0-9][0-9A-Za-z.+_-]*$//'; }
declare -A shipped=()
for j in "$pyspark_jars"/*.jar; do shipped[$(base "$j")]=1; done

rm -f jars/*.jar
cp jars/target/stream-processor-bridge.jar jars/
names=(stream-processor-bridge.jar)
for j in jars/target/deps/*.jar; do
  if [ -z "${shipped[$(base "$j")]:-}" ]; then
    cp "$j" jars/
    names+=("$(basename "$j")")
  fi
done
{ echo "$want"; printf '%s\n' "${names[@]}"; } > "$stamp"
echo "build-jars: jars/ has ${names[*]}"
