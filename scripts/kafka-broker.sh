#!/usr/bin/env bash
# A local single-node Apache Kafka broker (KRaft, broker+controller in one JVM) for the demo
# and the tests. The broker's jars come from Maven Central (scripts/kafka/pom.xml); no download
# of a Kafka distribution, no Docker.
#
#   scripts/kafka-broker.sh fetch    resolve the broker's jars into .local/kafka/libs (idempotent)
#   scripts/kafka-broker.sh start    format storage if new, start in the background, wait until it answers
#   scripts/kafka-broker.sh stop     SIGTERM, wait for a clean shutdown (SIGKILL after KAFKA_STOP_TIMEOUT)
#   scripts/kafka-broker.sh status   exit 0 and print the bootstrap address when running
#
# Environment (all optional):
#   KAFKA_PORT (9092)  KAFKA_CONTROLLER_PORT (9093)  KAFKA_HOST (127.0.0.1)
#   KAFKA_DATA_DIR (.local/kafka/data: storage, server.properties, pid file)
#   KAFKA_LOG_DIR (.local/kafka/logs: the broker's own log files)
#   KAFKA_NUM_PARTITIONS (2: partitions of auto-created topics)
#   KAFKA_MESSAGE_MAX_BYTES (16777216)  KAFKA_HEAP_OPTS (-Xmx512m -Xms128m)
#   KAFKA_JVM_OPTS (-XX:TieredStopAtLevel=1: C1 only; a local broker lives minutes to hours,
#     and C2 compiling its paths took ~1 ms of CPU per PNG frame from a 2-core machine's
#     pipeline during its first minutes: benchmarks/README.md, run 6)
#   KAFKA_START_TIMEOUT (90 s)  KAFKA_STOP_TIMEOUT (30 s)
#   KAFKA_SCRAM_USERS (empty: off) "name:password[,name:password]": adds a SASL_PLAINTEXT
#     listener on KAFKA_SASL_PORT (9094) with SCRAM-SHA-512 and SCRAM-SHA-256, and creates these
#     users when the storage is formatted (a new KAFKA_DATA_DIR). The PLAINTEXT listener stays.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LIBS=$ROOT/.local/kafka/libs
POM=$ROOT/scripts/kafka/pom.xml
HOST=${KAFKA_HOST:-127.0.0.1}
PORT=${KAFKA_PORT:-9092}
CPORT=${KAFKA_CONTROLLER_PORT:-9093}
DATA_DIR=${KAFKA_DATA_DIR:-$ROOT/.local/kafka/data}
LOG_DIR=${KAFKA_LOG_DIR:-$ROOT/.local/kafka/logs}
NUM_PARTITIONS=${KAFKA_NUM_PARTITIONS:-2}
MESSAGE_MAX_BYTES=${KAFKA_MESSAGE_MAX_BYTES:-16777216}
HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx512m -Xms128m}
JVM_OPTS=${KAFKA_JVM_OPTS--XX:TieredStopAtLevel=1}
START_TIMEOUT=${KAFKA_START_TIMEOUT:-90}
STOP_TIMEOUT=${KAFKA_STOP_TIMEOUT:-30}
PY=${PYTHON:-$ROOT/.venv/bin/python}
SCRAM_USERS=${KAFKA_SCRAM_USERS:-}
SASL_PORT=${KAFKA_SASL_PORT:-9094}

mkdir -p "$(dirname "$DATA_DIR")" && DATA_DIR=$(cd "$(dirname "$DATA_DIR")" && pwd)/$(basename "$DATA_DIR")
mkdir -p "$(dirname "$LOG_DIR")" && LOG_DIR=$(cd "$(dirname "$LOG_DIR")" && pwd)/$(basename "$LOG_DIR")
PID_FILE=$DATA_DIR/broker.pid
PROPS=$DATA_DIR/server.properties

say() { echo "kafka-broker: $*" >&2; }
die() { say "$*"; exit 1; }

fetch() {
  local want stamp=$LIBS/.pom.sha
  want=$(sha256sum "$POM" | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  command -v mvn >/dev/null || die "Maven is required to fetch the broker's jars"
  say "resolving the broker's jars from Maven Central into ${LIBS#"$ROOT"/}"
  rm -rf "$LIBS.tmp"
  mkdir -p "$(dirname "$LIBS")"
  local log=$(dirname "$LIBS")/fetch.log
  mvn -q -B -f "$POM" dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$LIBS.tmp" > "$log" 2>&1 \
    || { cat "$log" >&2; die "mvn could not resolve the broker (output above, also in $log)"; }
  rm -rf "$LIBS" && mv "$LIBS.tmp" "$LIBS"
  echo "$want" > "$stamp"
}

# The pid of our broker if it runs: the pid file's process, and only if it is this broker.
running_pid() {
  [ -f "$PID_FILE" ] || return 1
  local pid
  pid=$(cat "$PID_FILE")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "kafka.Kafka $PROPS" || return 1
  echo "$pid"
}

# host:port the running broker was started with (its server.properties), which may differ
# from this call's KAFKA_PORT.
running_bootstrap() { sed -n 's|^advertised.listeners=PLAINTEXT://\([^,]*\).*|\1|p' "$PROPS" 2>/dev/null; }
running_sasl_bootstrap() { sed -n 's|^advertised.listeners=.*SASL_PLAINTEXT://\([^,]*\).*|\1|p' "$PROPS" 2>/dev/null; }

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

write_config() {
  mkdir -p "$DATA_DIR" "$LOG_DIR"
  local listeners="PLAINTEXT://$HOST:$PORT" protocols="PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
  if [ -n "$SCRAM_USERS" ]; then
    listeners="$listeners,SASL_PLAINTEXT://$HOST:$SASL_PORT"
    protocols="$protocols,SASL_PLAINTEXT:SASL_PLAINTEXT"
  fi
  cat > "$PROPS" <<EOF
# Written by scripts/kafka-broker.sh start; rewritten on each start.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$CPORT
listeners=$listeners,CONTROLLER://$HOST:$CPORT
advertised.listeners=$listeners
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=$protocols
log.dirs=$DATA_DIR/kraft-combined-logs
num.partitions=$NUM_PARTITIONS
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=4
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=true
# Large frames (README.md, "Configuration"): at least 8 MiB end to end.
message.max.bytes=$MESSAGE_MAX_BYTES
replica.fetch.max.bytes=$MESSAGE_MAX_BYTES
# A modest broker for a 2-core machine.
num.network.threads=2
num.io.threads=2
num.recovery.threads.per.data.dir=1
log.retention.hours=168
EOF
  if [ -n "$SCRAM_USERS" ]; then
    cat >> "$PROPS" <<EOF
# KAFKA_SCRAM_USERS: SCRAM users (created at format time) on the SASL_PLAINTEXT listener.
sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_plaintext.sasl.enabled.mechanisms=SCRAM-SHA-512,SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
  fi
  cat > "$DATA_DIR/log4j2.properties" <<EOF
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $LOG_DIR/server.log
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
logger.kafka.name = kafka
logger.kafka.level = info
logger.controller.name = org.apache.kafka.controller
logger.controller.level = warn
logger.request.name = kafka.request.logger
logger.request.level = warn
EOF
}

java_cmd() {
  local heap opts
  read -r -a heap <<< "$HEAP_OPTS"
  read -r -a opts <<< "$JVM_OPTS"
  JAVA=(java "${heap[@]}" "${opts[@]}" -Djava.awt.headless=true -Dlog4j2.configurationFile="$DATA_DIR/log4j2.properties"
        -cp "$LIBS/*")
}

start() {
  if pid=$(running_pid); then
    local running
    running=$(running_bootstrap)
    say "already running (pid $pid) on $running"
    [ "$running" = "$HOST:$PORT" ] || die "it was started on $running, not $HOST:$PORT (stop it first, or use another KAFKA_DATA_DIR)"
    return 0
  fi
  fetch
  command -v java >/dev/null || die "a JDK 17+ is required (no 'java' on PATH)"
  local ports=("$PORT" "$CPORT")
  [ -z "$SCRAM_USERS" ] || ports+=("$SASL_PORT")
  for p in "${ports[@]}"; do
    port_open "$p" && die "port $p on $HOST is in use; set KAFKA_PORT / KAFKA_CONTROLLER_PORT"
  done
  write_config
  java_cmd
  if [ ! -f "$DATA_DIR/kraft-combined-logs/meta.properties" ]; then
    local cluster_id
    # A base64 UUID; one that starts with '-' would read as an option, so draw again.
    cluster_id=$(python3 -c 'import base64, uuid
while (cid := base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")).startswith("-"): pass
print(cid)')
    local scram=() users user mechanism
    if [ -n "$SCRAM_USERS" ]; then
      IFS=, read -r -a users <<< "$SCRAM_USERS"
      for user in "${users[@]}"; do
        [[ "$user" == *:* ]] || die "KAFKA_SCRAM_USERS: '$user' is not name:password"
        for mechanism in SCRAM-SHA-512 SCRAM-SHA-256; do
          scram+=(--add-scram "$mechanism=[name=${user%%:*},password=${user#*:}]")
        done
      done
    fi
    "${JAVA[@]}" kafka.tools.StorageTool format --ignore-formatted -t "$cluster_id" -c "$PROPS" "${scram[@]}" \
      > "$LOG_DIR/format.log" 2>&1 || { cat "$LOG_DIR/format.log" >&2; die "storage format failed"; }
  fi
  : > "$LOG_DIR/server.log"
  # setsid: the broker outlives this script and is not hit by a Ctrl-C meant for the caller.
  # The pid is written from inside, so it is the JVM's whether or not setsid forked.
  rm -f "$PID_FILE"
  setsid bash -c 'echo $$ > "$0"; exec "$@"' "$PID_FILE" "${JAVA[@]}" kafka.Kafka "$PROPS" \
    > "$LOG_DIR/kafka.out" 2>&1 < /dev/null &
  local pid="" waited=0
  while [ -z "$pid" ] && [ $waited -lt 50 ]; do
    pid=$(cat "$PID_FILE" 2>/dev/null || true); [ -n "$pid" ] || { sleep 0.1; waited=$((waited + 1)); }
  done
  [ -n "$pid" ] || die "the broker process did not start (see $LOG_DIR/kafka.out)"
  local deadline=$((SECONDS + START_TIMEOUT))
  until grep -q "Kafka Server started" "$LOG_DIR/server.log" 2>/dev/null && port_open "$PORT"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 30 "$LOG_DIR/server.log" "$LOG_DIR/kafka.out" >&2 || true
      rm -f "$PID_FILE"
      die "the broker exited during start (logs in $LOG_DIR)"
    fi
    if [ $SECONDS -ge $deadline ]; then
      stop
      die "the broker did not start within ${START_TIMEOUT}s (logs in $LOG_DIR)"
    fi
    sleep 0.3
  done
  # The listener is up; a metadata round trip proves it serves requests.
  if [ -x "$PY" ] && "$PY" -c 'import kafka' 2>/dev/null; then
    "$PY" - "$HOST:$PORT" "$((deadline - SECONDS))" <<'EOF' || { stop; die "the broker does not answer metadata requests"; }
import sys, time
from kafka import KafkaAdminClient
bootstrap, budget = sys.argv[1], max(5, int(sys.argv[2]))
deadline = time.monotonic() + budget
while True:
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
        try:
            admin.describe_cluster()
        finally:
            admin.close()
        break
    except Exception as exc:  # noqa: BLE001 - any failure means "not yet"
        if time.monotonic() > deadline:
            print(f"probe failed: {exc!r}", file=sys.stderr)
            sys.exit(1)
        time.sleep(0.5)
EOF
  fi
  say "started (pid $pid) on $HOST:$PORT${SCRAM_USERS:+ and SASL_PLAINTEXT (SCRAM) on $HOST:$SASL_PORT}, logs in $LOG_DIR"
}

stop() {
  local pid
  if ! pid=$(running_pid); then
    rm -f "$PID_FILE"
    say "not running"
    return 0
  fi
  kill -TERM "$pid"
  local deadline=$((SECONDS + STOP_TIMEOUT))
  while kill -0 "$pid" 2>/dev/null; do
    if [ $SECONDS -ge $deadline ]; then
      say "no clean shutdown within ${STOP_TIMEOUT}s; killing pid $pid"
      kill -KILL "$pid" 2>/dev/null || true
      break
    fi
    sleep 0.2
  done
  rm -f "$PID_FILE"
  say "stopped"
}

status() {
  if pid=$(running_pid); then
    local sasl
    sasl=$(running_sasl_bootstrap)
    echo "running (pid $pid) bootstrap $(running_bootstrap)${sasl:+ sasl_bootstrap $sasl}"
  else
    echo "not running"
    return 1
  fi
}

case "${1:-}" in
  fetch) fetch ;;
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 fetch|start|stop|status" >&2; exit 2 ;;
esac
