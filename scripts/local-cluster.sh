#!/usr/bin/env bash
# A local Spark standalone cluster: one master and two workers, from the Spark that the venv's
# pyspark bundles, bound to 127.0.0.1. Used by `make cluster-start|cluster-stop`, the demo and the
# cluster tests.
#
#   scripts/local-cluster.sh start    start what is not running, wait until the master shows all
#                                     workers ALIVE, print the master URL and the web UIs
#   scripts/local-cluster.sh stop     stop the workers, then the master (safe when nothing runs)
#   scripts/local-cluster.sh status   exit 0 when all run, 3 when none does, 1 when some do
#
# Environment (defaults in brackets):
#   SPARK_MASTER_PORT [7077]         SPARK_MASTER_WEBUI_PORT [8080]
#   SPARK_WORKER_WEBUI_PORT [8081]   worker i's UI is this + i - 1 (8081, 8082), as in Spark's sbin
#   SPARK_WORKER_INSTANCES [2]       number of workers
#   SPARK_WORKER_CORES [max(1, nproc/2)]   SPARK_WORKER_MEMORY [2g]   per worker
#   SPARK_DAEMON_MEMORY [512m]       heap of the master and worker daemons (not of executors)
#   SPARK_LOCAL_STATE [.local/spark] pid files, logs, work and scratch folders
#   SPARK_CLUSTER_START_TIMEOUT [90] seconds `start` waits for the master and the workers
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "local-cluster: $*" >&2; exit 1; }

PY=$ROOT/.venv/bin/python
[ -x "$PY" ] || die "no $PY: run 'make setup' first"

HOST=127.0.0.1
MASTER_PORT=${SPARK_MASTER_PORT:-7077}
MASTER_UI_PORT=${SPARK_MASTER_WEBUI_PORT:-8080}
WORKER_UI_BASE=${SPARK_WORKER_WEBUI_PORT:-8081}
WORKERS=${SPARK_WORKER_INSTANCES:-2}
NPROC=$(nproc 2>/dev/null || echo 2)
CORES=${SPARK_WORKER_CORES:-$(( NPROC / 2 > 0 ? NPROC / 2 : 1 ))}
MEMORY=${SPARK_WORKER_MEMORY:-2g}
TIMEOUT=${SPARK_CLUSTER_START_TIMEOUT:-90}
STATE=${SPARK_LOCAL_STATE:-$ROOT/.local/spark}
case $STATE in /*) ;; *) STATE=$PWD/$STATE ;; esac
MASTER_URL=spark://$HOST:$MASTER_PORT
MASTER_UI=http://$HOST:$MASTER_UI_PORT

for v in MASTER_PORT MASTER_UI_PORT WORKER_UI_BASE WORKERS CORES TIMEOUT; do
  [[ ${!v} =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive integer, got '${!v}'"
done

# Everything Spark writes stays inside $STATE, never inside site-packages.
export SPARK_HOME
SPARK_HOME=$("$PY" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
export SPARK_LOCAL_IP=$HOST
export SPARK_LOG_DIR=$STATE/logs
export SPARK_PID_DIR=$STATE/pids
export SPARK_LOCAL_DIRS=$STATE/tmp
export SPARK_DAEMON_MEMORY=${SPARK_DAEMON_MEMORY:-512m}
# Executors start Python workers with the driver's PYSPARK_PYTHON; this one covers jobs that
# leave it unset, so executors never fall back to a system Python without opencv.
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$PY}
# The master's REST submission server (port 6066) is off: nothing here uses it, it accepts
# unauthenticated submissions, and parallel test clusters would collide on its fixed port.
# conf/metrics.properties: the master and the workers publish Prometheus metrics on their web UIs.
METRICS_CONF="-Dspark.metrics.conf=$ROOT/conf/metrics.properties"
export SPARK_MASTER_OPTS="${SPARK_MASTER_OPTS:-} -Dspark.master.rest.enabled=false $METRICS_CONF"
# Old application folders (executor logs, shipped jars and zips) are removed after a day.
export SPARK_WORKER_OPTS="${SPARK_WORKER_OPTS:-} -Dspark.worker.cleanup.enabled=true -Dspark.worker.cleanup.appDataTtl=86400 $METRICS_CONF"

pid_file() { echo "$SPARK_PID_DIR/$1.pid"; }

# The pid of a daemon we started, if it still runs that daemon (a reused pid is not ours).
running_pid() {  # name class-pattern
  local f pid
  f=$(pid_file "$1")
  [ -f "$f" ] || return 1
  pid=$(cat "$f" 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "$2" || return 1
  echo "$pid"
}

daemons() {  # "name class-pattern" lines, workers first so that `stop` stops them before the master
  local i
  for ((i = 1; i <= WORKERS; i++)); do echo "worker-$i org.apache.spark.deploy.worker.Worker"; done
  echo "master org.apache.spark.deploy.master.Master"
}

port_free() {
  "$PY" - "$1" <<'PYEOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the JVM does: TIME_WAIT is no owner
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PYEOF
}

# Prints "<alive workers> <their cores>" from the master's JSON API; fails unless the master
# answers and is ALIVE itself.
master_summary() {
  "$PY" - "$MASTER_UI/json/" <<'PYEOF'
import json, sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=2) as r:
    d = json.load(r)
if d.get("status") != "ALIVE":
    sys.exit(1)
alive = [w for w in d.get("workers", []) if w.get("state") == "ALIVE"]
print(len(alive), sum(w.get("cores", 0) for w in alive))
PYEOF
}

# Exits 1 (after printing its log's end and stopping the rest) if a daemon we started is gone.
check_alive() {  # master|all
  local name pattern
  while read -r name pattern; do
    [ "$1" = all ] || [ "$name" = master ] || continue
    if ! running_pid "$name" "$pattern" >/dev/null; then
      echo "local-cluster: $name exited; the end of $SPARK_LOG_DIR/$name.out:" >&2
      tail -n 30 "$SPARK_LOG_DIR/$name.out" >&2 || true
      stop_all >&2
      exit 1
    fi
  done < <(daemons)
}

launch() {  # name, then the spark-class arguments
  local name=$1; shift
  local log=$SPARK_LOG_DIR/$name.out
  echo "== $(date -u +%FT%TZ) starting $name" >> "$log"
  # setsid: the daemons leave the caller's process group, so a Ctrl-C there does not kill them;
  # spark-class execs java, so $! is the JVM's pid.
  setsid "$SPARK_HOME/bin/spark-class" "$@" >> "$log" 2>&1 < /dev/null 9>&- &
  echo $! > "$(pid_file "$name")"
}

start() {
  mkdir -p "$SPARK_LOG_DIR" "$SPARK_PID_DIR" "$SPARK_LOCAL_DIRS" "$STATE/work"
  local i name ui p started=0 deadline=$((SECONDS + TIMEOUT)) summary="" n=""
  if ! running_pid master deploy.master.Master >/dev/null; then
    for p in "$MASTER_PORT" "$MASTER_UI_PORT"; do
      port_free "$p" || die "port $p on $HOST is taken (set SPARK_MASTER_PORT / SPARK_MASTER_WEBUI_PORT)"
    done
    launch master org.apache.spark.deploy.master.Master \
      --host "$HOST" --port "$MASTER_PORT" --webui-port "$MASTER_UI_PORT"
    started=1
  fi
  # A worker that registers while the master is still starting waits ~10 s to retry: start the
  # workers once the master is ALIVE.
  until master_summary >/dev/null 2>&1; do
    check_alive master
    if [ $SECONDS -ge $deadline ]; then
      stop_all >&2
      die "the master did not come up on $MASTER_UI within ${TIMEOUT}s; logs in $SPARK_LOG_DIR"
    fi
    sleep 0.5
  done
  for ((i = 1; i <= WORKERS; i++)); do
    name=worker-$i
    running_pid "$name" deploy.worker.Worker >/dev/null && continue
    ui=$((WORKER_UI_BASE + i - 1))
    port_free "$ui" || { stop_all >&2; die "port $ui on $HOST is taken (set SPARK_WORKER_WEBUI_PORT)"; }
    mkdir -p "$STATE/work/$name"
    SPARK_WORKER_DIR=$STATE/work/$name launch "$name" org.apache.spark.deploy.worker.Worker \
      --host "$HOST" --webui-port "$ui" --cores "$CORES" --memory "$MEMORY" \
      --work-dir "$STATE/work/$name" "$MASTER_URL"
    started=1
  done
  while :; do
    summary=$(master_summary 2>/dev/null) || summary=""
    n=${summary%% *}
    [ -n "$summary" ] && [ "$n" -ge "$WORKERS" ] && break
    check_alive all
    if [ $SECONDS -ge $deadline ]; then
      stop_all >&2
      die "after ${TIMEOUT}s the master shows ${n:-no} of $WORKERS workers ALIVE; logs in $SPARK_LOG_DIR"
    fi
    sleep 0.5
  done
  if [ $started = 1 ]; then echo "local-cluster: started"; else echo "local-cluster: already running"; fi
  print_urls "${summary#* }"
}

print_urls() {  # cores
  local i
  echo "  master:        $MASTER_URL   ($WORKERS workers ALIVE, $1 cores)"
  echo "  master UI:     $MASTER_UI"
  for ((i = 1; i <= WORKERS; i++)); do
    echo "  worker-$i UI:   http://$HOST:$((WORKER_UI_BASE + i - 1))"
  done
  echo "  logs, work:    $STATE"
  echo "  submit with:   ./spark-submit.sh --master $MASTER_URL -- [job flags]"
}

stop_one() {  # name class-pattern
  local pid t
  pid=$(running_pid "$1" "$2") || { rm -f "$(pid_file "$1")"; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((t = 0; t < 150; t++)); do  # 15 s, then SIGKILL
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "local-cluster: $1 (pid $pid) ignored SIGTERM for 15 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$(pid_file "$1")"
  echo "local-cluster: stopped $1 (pid $pid)"
}

# A worker's SIGTERM handler kills its executors (and so their Python workers) before it exits.
stop_all() {
  local f name pattern any=0
  if [ -d "$SPARK_PID_DIR" ]; then
    # Workers beyond SPARK_WORKER_INSTANCES (started earlier with a larger count) too.
    for f in "$SPARK_PID_DIR"/worker-*.pid; do
      [ -e "$f" ] || continue
      name=$(basename "$f" .pid)
      [[ ${name#worker-} =~ ^[0-9]+$ ]] && [ "${name#worker-}" -gt "$WORKERS" ] || continue
      running_pid "$name" deploy.worker.Worker >/dev/null && any=1
      stop_one "$name" deploy.worker.Worker
    done
    while read -r name pattern; do
      running_pid "$name" "$pattern" >/dev/null && any=1
      stop_one "$name" "$pattern"
    done < <(daemons)
  fi
  [ $any = 1 ] || echo "local-cluster: not running"
}

status() {
  local name pattern pid summary up=0 total=0
  while read -r name pattern; do
    total=$((total + 1))
    if pid=$(running_pid "$name" "$pattern"); then
      up=$((up + 1)); echo "  $name: running (pid $pid)"
    else
      echo "  $name: not running"
    fi
  done < <(daemons)
  if summary=$(master_summary 2>/dev/null); then
    echo "  master $MASTER_URL: ${summary%% *} workers ALIVE, ${summary#* } cores; UI $MASTER_UI"
  fi
  [ $up = "$total" ] && return 0
  [ $up = 0 ] && return 3
  return 1
}

# One start or stop at a time per state folder (the demo and a test may race on the defaults).
lock() {
  mkdir -p "$STATE"
  exec 9> "$STATE/.lock"
  flock -w 300 9 || die "another local-cluster.sh holds $STATE/.lock"
}

case ${1:-} in
  start) lock; start ;;
  stop) lock; stop_all ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
