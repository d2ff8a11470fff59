#!/usr/bin/env bash
# Submits the streaming job (`python -m stream_processor run`) to a Spark master, with the jars,
# the packaged code, the settings file, spark-defaults, the metrics configuration and the quiet
# log4j2 configuration.
# Run `./spark-submit.sh --help` for the argument convention.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")" && pwd)
ME=$(basename "$0")

usage() {
  cat <<EOF
usage: $ME [OPTIONS] [--] [JOB FLAGS]

Submits \`python -m stream_processor run\` with spark-submit.

Options for Spark (anywhere before \`--\`):
  --master URL                 local[*] (default, or \$SPARK_MASTER), local[N] or
                               spark://HOST:PORT (scripts/local-cluster.sh start prints it)
  --total-executor-cores N     cores the job takes from a standalone cluster (default: all)
  --executor-memory MEM        heap per executor, e.g. 1g (default: conf/spark-defaults.conf)
  --driver-memory MEM          heap of the driver, e.g. 1g
  --conf KEY=VALUE             any Spark property; repeatable. Values given for
                               spark.{driver,executor}.extraJavaOptions are added to the
                               log4j2 and class-archive options this script sets.
  --dry-run                    print the spark-submit command instead of running it
  -h, --help                   this text

Job flags: everything after \`--\`, and any option this script does not know (with its value,
when the next word does not start with '-'), goes to \`stream_processor run\` in order, e.g.
  $ME --master spark://127.0.0.1:7077 -- --output-dir /data/faces --exit-when-idle-s 20
  $ME --output-dir /data/faces --bootstrap-servers kafka:9092
Write a value that starts with '-' as --flag=VALUE, or put the job flags after \`--\`.
Without --config among the job flags, conf/stream_processor.toml (or \$STREAM_PROCESSOR_CONFIG) is
shipped with --files and passed as --config. On a cluster, --output-dir must be a folder that
every worker sees at the same path.

SIGTERM or Ctrl-C is forwarded to the Python driver as SIGTERM, so the job stops in its own
way; after STOP_GRACE_S seconds (default 60), or at a second signal, spark-submit is stopped.

Environment: SPARK_MASTER, STREAM_PROCESSOR_CONFIG, STREAM_PROCESSOR_JARS (folder of the jars,
default jars/), STREAM_PROCESSOR_CLASS_ARCHIVE (the JVMs' class-data archive, default
.local/cds/spark.jsa when it exists; empty for none), SPARK_SUBMIT (the spark-submit to use),
PYSPARK_PYTHON, STOP_GRACE_S.
EOF
}

bad() {
  echo "$ME: $*" >&2
  echo "Run '$ME --help' for the argument convention." >&2
  exit 2
}

MASTER=${SPARK_MASTER:-local[*]}
SPARK_OPTS=()     # forwarded to spark-submit as given
DRIVER_JAVA_OPTS=""
EXECUTOR_JAVA_OPTS=""
JOB_ARGS=()
DRY_RUN=0

check_master() {
  [[ $1 =~ ^local(\[([1-9][0-9]*|\*)(,[0-9]+)?\])?$ || $1 =~ ^spark://[^[:space:]/]+(:[0-9]+)?(,[^[:space:]/]+(:[0-9]+)?)*$ ]] \
    || bad "--master must be local[*], local[N] or spark://HOST:PORT, got '$1'"
}
check_memory() {
  [[ $2 =~ ^[0-9]+([kKmMgGtT][bB]?)?$ ]] || bad "$1 must be a size such as 512m or 2g, got '$2'"
}

while (($#)); do
  arg=$1
  # --opt=value forms of the options this script knows
  case $arg in
    --master=*|--total-executor-cores=*|--executor-memory=*|--driver-memory=*|--conf=*)
      set -- "${arg%%=*}" "${arg#*=}" "${@:2}"; arg=$1 ;;
  esac
  case $arg in
    -h|--help) usage; exit 0 ;;
    --master|--total-executor-cores|--executor-memory|--driver-memory|--conf)
      [ $# -ge 2 ] || bad "$arg needs a value"
      val=$2; shift 2
      case $arg in
        --master) check_master "$val"; MASTER=$val ;;
        --total-executor-cores)
          [[ $val =~ ^[1-9][0-9]*$ ]] || bad "--total-executor-cores must be a positive integer, got '$val'"
          SPARK_OPTS+=(--total-executor-cores "$val") ;;
        --executor-memory|--driver-memory) check_memory "$arg" "$val"; SPARK_OPTS+=("$arg" "$val") ;;
        --conf)
          [[ $val =~ ^[A-Za-z0-9_.-]+= ]] || bad "--conf takes KEY=VALUE, got '$val'"
          case ${val%%=*} in
            spark.driver.extraJavaOptions) DRIVER_JAVA_OPTS+=" ${val#*=}" ;;
            spark.executor.extraJavaOptions) EXECUTOR_JAVA_OPTS+=" ${val#*=}" ;;
            *) SPARK_OPTS+=(--conf "$val") ;;
          esac ;;
      esac ;;
    --dry-run) DRY_RUN=1; shift ;;
    --) shift; JOB_ARGS+=("$@"); break ;;
    -?*)
      # Not ours: a job flag, with its value unless it is --flag=value or the next word is a flag.
      JOB_ARGS+=("$arg"); shift
      if [[ $arg != *=* ]] && (($#)) && [[ $1 != -* ]]; then JOB_ARGS+=("$1"); shift; fi ;;
    *) bad "unexpected argument '$arg' (job flags are options, e.g. --output-dir DIR)" ;;
  esac
done
check_master "$MASTER"

# The job's settings file: the one among the job flags, else $STREAM_PROCESSOR_CONFIG, else ours.
CONFIG=""
for ((i = 0; i < ${#JOB_ARGS[@]}; i++)); do
  case ${JOB_ARGS[i]} in
    --config) CONFIG=${JOB_ARGS[i + 1]:-} ;;
    --config=*) CONFIG=${JOB_ARGS[i]#--config=} ;;
  esac
done
if [ -z "$CONFIG" ]; then
  CONFIG=${STREAM_PROCESSOR_CONFIG:-$ROOT/conf/stream_processor.toml}
  [ -f "$CONFIG" ] || { echo "$ME: settings file $CONFIG not found" >&2; exit 1; }
  CONFIG=$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")
  JOB_ARGS=(--config "$CONFIG" "${JOB_ARGS[@]}")
fi
[ -f "$CONFIG" ] || { echo "$ME: settings file $CONFIG not found" >&2; exit 1; }

# The connector, kafka-clients and our bridge: built by `make setup` (scripts/build-jars.sh).
JARS_DIR=${STREAM_PROCESSOR_JARS:-$ROOT/jars}
shopt -s nullglob
jars=("$JARS_DIR"/*.jar)
shopt -u nullglob
if [ ${#jars[@]} -eq 0 ]; then
  echo "$ME: no jars in $JARS_DIR (the Kafka connector and the bridge): run 'make setup'" >&2
  exit 1
fi
JARS=$(IFS=,; echo "${jars[*]}")

# The venv's Spark and Python when there is one (a checkout); else the environment's (the image).
if [ -x "$ROOT/.venv/bin/python" ]; then
  export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$ROOT/.venv/bin/python}
  export PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$PYSPARK_PYTHON}
  if [ -z "${SPARK_SUBMIT:-}" ] && [ -x "$ROOT/.venv/bin/spark-submit" ]; then
    SPARK_SUBMIT=$ROOT/.venv/bin/spark-submit
    # pip's spark-submit finds SPARK_HOME with whatever python3 is on PATH: name it.
    export SPARK_HOME
    SPARK_HOME=$("$ROOT/.venv/bin/python" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
  fi
fi
if [ -z "${SPARK_SUBMIT:-}" ]; then
  if [ -n "${SPARK_HOME:-}" ] && [ -x "$SPARK_HOME/bin/spark-submit" ]; then
    SPARK_SUBMIT=$SPARK_HOME/bin/spark-submit
  elif command -v spark-submit >/dev/null; then
    SPARK_SUBMIT=$(command -v spark-submit)
  else
    echo "$ME: no spark-submit (no .venv: run 'make setup', or set SPARK_HOME)" >&2
    exit 1
  fi
fi
PY=${PYSPARK_DRIVER_PYTHON:-${PYSPARK_PYTHON:-python3}}

# A local master, or one on this machine's loopback: keep the driver on 127.0.0.1 as well.
case $MASTER in
  local*|spark://127.0.0.1:*|spark://localhost:*) export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1} ;;
esac

JVM_OPTS="-Dlog4j.configurationFile=file:$ROOT/conf/log4j2.properties"
# The JVM class-data archive that `make setup` builds (scripts/class-archive.sh): the driver and
# the executors start from it in less time and CPU. STREAM_PROCESSOR_CLASS_ARCHIVE names another
# file, or none when empty. A JVM that cannot use it (another JDK or Spark) starts without it.
CLASS_ARCHIVE=${STREAM_PROCESSOR_CLASS_ARCHIVE-$ROOT/.local/cds/spark.jsa}
if [ -n "$CLASS_ARCHIVE" ] && [ -f "$CLASS_ARCHIVE" ]; then JVM_OPTS+=" -XX:SharedArchiveFile=$CLASS_ARCHIVE"; fi
ZIP=$ROOT/dist/stream_processor.zip
LAUNCHER=$ROOT/dist/run_stream_processor.py
CMD=("$SPARK_SUBMIT"
  --master "$MASTER"
  --properties-file "$ROOT/conf/spark-defaults.conf"
  --conf "spark.driver.extraJavaOptions=$JVM_OPTS$DRIVER_JAVA_OPTS"
  # Executors read the same path: the same checkout (local cluster) or the same image (compose).
  --conf "spark.executor.extraJavaOptions=$JVM_OPTS$EXECUTOR_JAVA_OPTS"
  # Prometheus endpoints on the driver's UI (docs/operating.md); executors read the same path.
  --conf "spark.metrics.conf=$ROOT/conf/metrics.properties"
  "${SPARK_OPTS[@]}"
  --jars "$JARS"
  --py-files "$ZIP"
  --files "$CONFIG"
  "$LAUNCHER" run "${JOB_ARGS[@]}")

if [ $DRY_RUN = 1 ]; then
  printf '%q ' "${CMD[@]}"; echo
  exit 0
fi

# The code travels as one zip (--py-files): the driver and every executor import the same files.
# The entry file runs `python -m stream_processor` from that zip: __main__.py runs inside its
# package, and stream_processor/ itself never lands first on sys.path (where a module named like
# a library, e.g. kafka.py, would shadow it).
mkdir -p "$ROOT/dist"
"$PY" - "$ROOT/stream_processor" "$ZIP" "$LAUNCHER" <<'PYEOF'
import os, sys, zipfile
src, zip_path, launcher = sys.argv[1:]
tmp = zip_path + f".{os.getpid()}.tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    for folder, dirs, files in os.walk(src):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith((".pyc", ".pyo")):
                path = os.path.join(folder, name)
                z.write(path, os.path.relpath(path, os.path.dirname(src)))
os.replace(tmp, zip_path)
text = ("# Generated by spark-submit.sh: `python -m stream_processor ...` from the --py-files zip.\n"
        "import runpy\n"
        "runpy.run_module('stream_processor', run_name='__main__', alter_sys=True)\n")
with open(launcher + f".{os.getpid()}.tmp", "w") as f:
    f.write(text)
os.replace(launcher + f".{os.getpid()}.tmp", launcher)
PYEOF

# spark-submit runs in its own session: a terminal's Ctrl-C reaches only this script, which asks
# the Python driver to stop (SIGTERM). A signal to the JVM would stop the SparkContext at once and
# leave the driver orphaned.
setsid "${CMD[@]}" &
SUBMIT_PID=$!
WATCHDOG=""
SIGNALS=0

driver_pid() {  # the Python driver: the spark-submit JVM's child that runs the launcher
  local c
  for c in $(pgrep -P "$SUBMIT_PID" 2>/dev/null); do
    tr '\0' ' ' < "/proc/$c/cmdline" 2>/dev/null | grep -qF "$LAUNCHER" && { echo "$c"; return 0; }
  done
  return 1
}

# SIGTERM to what is left of spark-submit's process group (the JVM, the driver, local Python
# workers), SIGKILL 10 s later.
stop_group() {
  local t
  kill -TERM -- "-$SUBMIT_PID" 2>/dev/null || return 0
  for ((t = 0; t < 100; t++)); do
    kill -0 -- "-$SUBMIT_PID" 2>/dev/null || return 0
    sleep 0.1
  done
  echo "$ME: spark-submit's processes ignored SIGTERM for 10 s; killing them" >&2
  kill -KILL -- "-$SUBMIT_PID" 2>/dev/null || true
}

on_signal() {
  SIGNALS=$((SIGNALS + 1))
  local d
  if [ $SIGNALS -eq 1 ] && d=$(driver_pid); then
    echo "$ME: asking the driver (pid $d) to stop; spark-submit is stopped in ${STOP_GRACE_S:-60}s" >&2
    kill -TERM "$d" 2>/dev/null || true
    ( sleep "${STOP_GRACE_S:-60}"; stop_group ) &
    WATCHDOG=$!
  else
    echo "$ME: stopping spark-submit (pid $SUBMIT_PID)" >&2
    stop_group
  fi
}
trap on_signal TERM INT HUP

rc=0
while :; do
  wait "$SUBMIT_PID" && rc=0 || rc=$?
  kill -0 "$SUBMIT_PID" 2>/dev/null || break  # else `wait` was interrupted by a signal
done
[ -z "$WATCHDOG" ] || kill "$WATCHDOG" 2>/dev/null || true
# The JVM is gone; a driver it left behind (the JVM was killed) has no SparkContext any more.
stop_group
exit "$rc"
